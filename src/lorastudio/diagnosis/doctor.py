"""The LoRA doctor: prove that a run's adapter works, or name why it does not.

`run_doctor(RUN_DIR)` gathers three moments of findings and decides a verdict:
    preflight  re-read from plan.json (what the plan said before step 1)
    live       re-read from manifest.json / metrics.jsonl (what the monitor raised during training)
    after      measured now (effect.py): the whole loss/eval curve, the adapter's weights, base
               versus adapter loss, KL and greedy answers on probes, marker rates, and the
               serving check (chatpath.py) on the in-process engine or a server (--server URL),
               and the three numbers (knowledge.py): voice, fact recall, retention of general
               answers, with FACTS_NOT_LEARNED and FORGETTING (warnings: they do not change the
               verdict, which is about whether the adapter does anything at all); probes that are
               training prompts set aside (leak.py: PROBES_LEAK), the answers' shape (answers.py:
               ANSWERS_COLLAPSED, NO_STOP), the served answers against the doctor's own (served.py)
It writes RUN_DIR/doctor.json and RUN_DIR/doctor.md and returns a `DoctorReport`.

Verdict rules (every number from diagnosis/thresholds.py; the report lists the ones it used):
    not_learned   any error-level ADAPTER_IS_IDENTITY, ADAPTER_NO_EFFECT, ADAPTER_NOT_APPLIED,
                  LOSS_DIVERGED or ANSWERS_COLLAPSED (it changed the model, but one answer to every
                  prompt is of no use: the report says "not useful"); or TOO_FEW_STEPS, or LOSS_NOT_DECREASING over the whole curve,
                  while the adapter's training loss sits less than `min_train_loss_drop` below
                  the base's (the too-short run that did not move).
    learned       the adapter's mean token loss on training samples is at least
                  `min_train_loss_drop` (relative) below the base's, mean KL(base || adapter) on
                  the probes is at least `no_effect_kl`, when markers are given the adapter's
                  marker rate is at least `min_marker_gain` above the base's, and the chat
                  template of the serving path is the training one (no TEMPLATE_MISMATCH: an
                  adapter served in a format it never saw is not shown to work).
    inconclusive  otherwise, and when there is no finished adapter to measure.
Exit codes (`exit_code`): 0 learned, 1 not_learned, 3 inconclusive; the CLI exits 2 when the doctor
could not run (a missing run folder, a bad option), as every command does for a user's mistake.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import RunError
from ..models import fingerprint, resolve_model
from ..run_folder import MANIFEST, PLAN, Manifest, PlanFile, RunFolder
from .effect import DEFAULT_N_PROBES, read_curve
from .findings import CODES, Finding
from .knowledge import knowledge_findings, three_numbers
from .measure import measure_effect, open_paths
from .rules import Findings, after_findings, curve_findings, decide, effect_findings, finding_from_dict
from .thresholds import Thresholds


@dataclass
class DoctorReport:
    run_dir: str
    verdict: str
    findings: list[Finding]
    stages: list[str]  # "preflight" | "live" | "after", one per finding
    effect: dict
    basis: list[dict]  # the numbers and findings the verdict was decided on
    notes: list[str] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def exit_code(self) -> int:
        return exit_code(self)

    def to_dict(self) -> dict:
        findings = [{**f.to_dict(), "stage": s} for f, s in zip(self.findings, self.stages, strict=True)]
        return _plain({
            "verdict": self.verdict, "exit_code": self.exit_code, "findings": findings, "effect": self.effect,
            "basis": self.basis, "notes": self.notes, "run_dir": self.run_dir,
            "thresholds": asdict(self.thresholds), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })


def exit_code(report: DoctorReport) -> int:
    """0 learned, 1 not_learned, 3 inconclusive (2 is the CLI's code for a user's mistake)."""
    return {"learned": 0, "not_learned": 1}.get(report.verdict, 3)


def _plain(value):
    """JSON-safe: NaN/inf as strings (strict JSON has no such numbers), floats rounded for reading."""
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class _Recorded:
    """What the run folder says before the doctor measures anything."""
    manifest: Manifest | None  # None until training finished
    plan_file: PlanFile | None
    plan: dict
    config: dict


def _read_run(folder: RunFolder) -> _Recorded:
    manifest, plan_file = folder.manifest(), folder.plan()
    if manifest is None and plan_file is None:
        raise RunError(f"{folder.path} holds no run (no {MANIFEST} or {PLAN})",
                       fix="pass the --output folder of a `lorastudio train` run")
    plan = (manifest.plan if manifest else {}) or (plan_file.plan if plan_file else {})
    config = (manifest.config if manifest else {}) or folder.config() or {}
    return _Recorded(manifest, plan_file, plan, config)


def _recorded_findings(folder: RunFolder, run: _Recorded, found: Findings, t: Thresholds) -> dict:
    """The preflight and live findings the run recorded, and the curve's; returns the curve."""
    for d in run.plan_file.findings if run.plan_file else []:
        if (f := finding_from_dict(d)) is not None:
            found.add(f, "preflight")
    for d in run.manifest.findings if run.manifest else []:
        if (f := finding_from_dict(d)) is not None:
            found.add(f, "live")
    curve = read_curve(folder.metrics(), t)
    if run.manifest is None:  # the monitor's findings reach the manifest only at the end; before, only their codes
        for code, step in curve["live_findings"].items():
            if code in CODES and not found.get(code):
                found.add(Finding(code, "warning", f"raised during training at step {step}", {"step": step}), "live")
    curve_findings(found, curve, run.plan, run.config, t)
    return curve


def run_doctor(
    run_dir: str | Path,
    probes: str | None = None,
    markers: list[str] | None = None,
    server: str | None = None,
    engine=None,
    thresholds: Thresholds | None = None,
    max_new_tokens: int = 48,
    n_probes: int | None = None,
    adapter: str | None = None,
    write: bool = True,
    general: str | None = None,
    general_cache: dict | None = None,
    server_model: str | None = None,
    server_base: str | None = None,
) -> DoctorReport:
    """Diagnose the run in `run_dir`; write doctor.json and doctor.md there (unless write=False).

    Base and adapter are measured on one PEFT model switched by PEFT's own API. The serving check
    asks the same probes through a chat path: the OpenAI-compatible server at `server` (the
    adapter served as `server_model`, default the run folder's name; the base as `server_base`
    where the server has one, "base" on a LoRA Studio server), else `engine` (the adapter it
    holds from this run, or one loaded into it for the check), else a `ChatEngine` the doctor
    loads, whose model then also serves the measurements (one copy of the weights). `adapter`
    names the adapter on the engine (or, like `server_model`, on the server).

    `general`: general-ability probes for retention (default the bundled set; "none" skips them).
    `general_cache`: prompt → base answer, to share across runs of one base (tune).
    """
    t = thresholds or Thresholds()
    folder = RunFolder(run_dir)
    run = _read_run(folder)
    found, notes = Findings(), []
    effect: dict = {"curve": _recorded_findings(folder, run, found, t)}
    if run.manifest is None or not folder.has_adapter():
        status = getattr(folder.status(), "state", None) or "unknown"
        notes.append(f"no finished adapter in {folder.path} (run state: {status}): only the plan and the curve were checked")
        basis = [{"name": "adapter", "value": None, "ok": False, "what": "no finished adapter to measure"}]
        return _finish(folder, DoctorReport(str(folder.path), "inconclusive", found.items, found.stages, effect, basis,
                                            notes, t), write)
    source = resolve_model(run.config.get("model"))
    ref, chat, adapter, loaded_for_check = open_paths(folder.path, run.manifest, source, server, engine,
                                                      server_model or adapter, server_base)
    try:
        effect.update(measure_effect(folder.path, run.manifest, ref, chat, adapter, probes,
                                     markers or run.config.get("markers"), max_new_tokens,
                                     n_probes or DEFAULT_N_PROBES, t, notes, general, general_cache))
    finally:
        if loaded_for_check:
            engine.remove_adapter(adapter)  # leave the caller's engine as it was
    _check_base_model(effect, run.manifest, source, notes)
    effect_findings(found, effect, run.plan, run.config, t)
    for f in after_findings(effect, run.plan, run.config, run.manifest, found, max_new_tokens, t, server):
        found.add(f, "after")
    for f in knowledge_findings(effect, run.plan, run.config, t):
        found.add(f, "after")
    effect["three"] = three_numbers(effect)
    verdict, basis = decide(found, effect, t)
    return _finish(folder, DoctorReport(str(folder.path), verdict, found.items, found.stages, effect, basis, notes, t),
                   write)


def _check_base_model(effect: dict, manifest: Manifest, source, notes: list[str]) -> None:
    """Is the base model here the one the adapter was trained on (its content hash)?"""
    expected_hash = manifest.base_model.get("content_hash")
    now = fingerprint(source).get("content_hash")
    effect["base_model"] = {**manifest.base_model, "matches": expected_hash == now if expected_hash else None}
    if expected_hash and now != expected_hash:
        notes.append(f"the base model at {source.path} is not the one the adapter was trained on (content hash differs)")


def _finish(folder: RunFolder, report: DoctorReport, write: bool) -> DoctorReport:
    if write:
        from .report import render_markdown

        data = report.to_dict()
        folder.write_doctor_report(data, render_markdown(data))
    return report
