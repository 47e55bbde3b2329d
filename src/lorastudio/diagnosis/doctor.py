"""The LoRA doctor: prove that a run's adapter works, or name why it does not.

`run_doctor(RUN_DIR)` gathers three moments of findings and decides a verdict:
    preflight  re-read from plan.json (what the plan said before step 1)
    live       re-read from manifest.json / metrics.jsonl (what the monitor raised during training)
    after      measured now (effect.py): the whole loss/eval curve, the adapter's weights, base
               versus adapter loss, KL and greedy answers on probes, marker rates, and the
               serving check (chatpath.py) on the in-process engine or a server (--server URL),
               and the three numbers (knowledge.py): voice, fact recall, retention of general
               answers, with FACTS_NOT_LEARNED and FORGETTING (warnings: they do not change the
               verdict, which is about whether the adapter does anything at all)
It writes RUN_DIR/doctor.json and RUN_DIR/doctor.md and returns a `DoctorReport`.

Verdict rules (every number from diagnosis/thresholds.py; the report lists the ones it used):
    not_learned   any error-level ADAPTER_IS_IDENTITY, ADAPTER_NO_EFFECT, ADAPTER_NOT_APPLIED or
                  LOSS_DIVERGED; or TOO_FEW_STEPS, or LOSS_NOT_DECREASING over the whole curve,
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

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import saved_config
from ..data.formatting import tokenize_sample
from ..data.prepare import load_general, prepare
from ..data.readers import load_dataset
from ..errors import RunError, StudioError
from ..files import HELDOUT_FILE, write_text_atomic
from ..models import fingerprint, load_model, load_tokenizer, pick_device, resolve_model
from .chatpath import EngineChat, ServerChat, check_chat_path
from .effect import (
    DEFAULT_N_PROBES, MAX_TRAIN_SAMPLES, Probe, Reference, adapter_weight_stats, compare_loss, has_any, next_token_kl,
    probe_from_sample, rates, read_curve, read_probes, reference_answerer, spread,
)
from .findings import CODES, Finding
from .knowledge import (
    GENERAL_MAX_NEW_TOKENS, general_probes, knowledge_findings, measure, retention, three_numbers,
)
from .thresholds import Thresholds
from .voice import content_scores, derive_markers, heads

VERDICTS = ("learned", "not_learned", "inconclusive")
NOT_LEARNED_CODES = ("ADAPTER_IS_IDENTITY", "ADAPTER_NO_EFFECT", "ADAPTER_NOT_APPLIED", "LOSS_DIVERGED")
SERVING_PROBES = 4  # prompts asked twice (adapter, base) through the chat path
GOOD_SCALED_LR = 2e-4  # lr x alpha/r in the middle of the usual LoRA range (see thresholds.py)


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


class _Findings:
    def __init__(self):
        self.items: list[Finding] = []
        self.stages: list[str] = []

    def add(self, finding: Finding, stage: str) -> None:
        if any(f.code == finding.code and f.title == finding.title for f in self.items):
            return  # the manifest repeats plan.json's findings
        self.items.append(finding)
        self.stages.append(stage)

    def get(self, code: str, severity: str | None = None) -> Finding | None:
        return next((f for f in self.items if f.code == code and (severity is None or f.severity == severity)), None)

    def remove(self, finding: Finding) -> None:
        i = self.items.index(finding)
        del self.items[i], self.stages[i]


def _finding(d: dict) -> Finding | None:
    if d.get("code") not in CODES:
        return None  # a code from a newer version: skipped, the rest of the report still reads
    return Finding(d["code"], d.get("severity", "warning"), d.get("title", ""), d.get("evidence") or {}, d.get("fix", ""))


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RunError(f"{path} is not valid JSON: {e}", fix="the run folder is damaged; re-run training") from e


# ---------------------------------------------------------------- checks on the curve


def _curve_findings(found: _Findings, curve: dict, plan: dict, config: dict, t: Thresholds) -> None:
    n, lr = curve["steps"], config.get("lr", 0.0)
    if curve["non_finite_steps"] and not found.get("LOSS_DIVERGED"):
        s = curve["non_finite_steps"][0]
        found.add(Finding("LOSS_DIVERGED", "error", f"the loss became NaN/inf at step {s}",
                          {"step": s, "non_finite_steps": len(curve["non_finite_steps"]), "lr": lr},
                          f"lower --lr (now {lr:g}) by 10x; check the data for empty or huge samples"), "after")
    if "first_window_mean" not in curve:
        return
    first, last, w = curve["first_window_mean"], curve["last_window_mean"], curve["window"]
    peak = curve.get("peak_after_first_window")
    if peak is not None and peak > t.diverge_factor * first and not found.get("LOSS_DIVERGED"):
        found.add(Finding("LOSS_DIVERGED", "error",
                          f"the loss rose to {peak:.3f} at step {curve['peak_step']}, {peak / first:.1f}x its start",
                          {"peak_loss": peak, "step": curve["peak_step"], "first_window_mean": first, "factor": t.diverge_factor},
                          f"lower --lr (now {lr:g}) by 5-10x"), "after")
    live = found.get("LOSS_NOT_DECREASING")
    if n >= 2 and last > first * (1 - t.min_loss_drop):
        scale = config.get("lora_alpha", 1) / max(config.get("lora_r", 1), 1)
        good = GOOD_SCALED_LR / scale
        fix = (f"raise --lr from {lr:g} to {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})" if lr * scale < GOOD_SCALED_LR / 2
               else f"check that the answers are trained (label coverage {plan.get('label_coverage', 'n/a')}) "
                    f"and train longer than {n} steps")
        if live:
            found.remove(live)  # the whole curve replaces the early look
        found.add(Finding("LOSS_NOT_DECREASING", "warning",
                          f"over all {n} steps the loss did not fall ({first:.3f} → {last:.3f}, mean of {w}-step windows)",
                          {"steps": n, "window": w, "first_window_mean": first, "last_window_mean": last,
                           "drop": curve["drop"], "min_drop": t.min_loss_drop, "lr": lr}, fix), "after")
    elif live:
        live.severity = "info"
        live.title += f"; it fell later ({first:.3f} → {last:.3f} over {n} steps)"
    if len(curve["eval"]) >= 2 and "best_eval" in curve:
        best, final = curve["best_eval"], curve["last_eval"]
        at_best = curve.get("train_at_best_eval", math.inf)
        if final > best * (1 + t.overfit_rise) and last < at_best:
            spe = max(plan.get("steps_per_epoch", 1), 1)
            epochs = math.ceil(curve["best_eval_step"] / spe)
            found.add(Finding(
                "OVERFITTING", "warning",
                f"eval loss rose from its best {best:.3f} (step {curve['best_eval_step']}) to {final:.3f} "
                f"while the training loss kept falling ({at_best:.3f} → {last:.3f})",
                {"best_eval": best, "best_eval_step": curve["best_eval_step"], "last_eval": final,
                 "last_eval_step": curve["last_eval_step"], "rise": final / best - 1, "max_rise": t.overfit_rise,
                 "train_at_best_eval": at_best, "train_last": last},
                f"stop near step {curve['best_eval_step']}: --epochs {epochs} ({spe} steps per epoch), or keep a checkpoint "
                f"there (--save-steps {curve['best_eval_step']}); more varied data or a lower --lr (now {lr:g}) delays it"), "after")


# ---------------------------------------------------------------- checks on the measured effect


def _effect_findings(found: _Findings, effect: dict, plan: dict, config: dict, t: Thresholds) -> None:
    w, lr, steps = effect["weights"], config.get("lr", 0.0), effect["curve"]["steps"]
    scale = config.get("lora_alpha", 1) / max(config.get("lora_r", 1), 1)
    good = GOOD_SCALED_LR / scale
    identity = w["modules"] == 0 or w["zero_b_modules"] == w["modules"]
    if identity:
        if steps == 0:
            why = (f"no optimizer step ran ({plan.get('n_train', 0)} trainable samples): fix the findings above "
                   "(LABELS_MASKED, TOO_FEW_SAMPLES), then train again")
        elif effect["curve"].get("max_lr", lr) == 0:
            why = f"the learning rate was 0 for all {steps} steps: use --lr {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})"
        else:
            why = ("no gradient reached lora_B: check GRAD_NORM_ZERO above and that the targeted modules "
                   f"({', '.join(plan.get('target_modules') or []) or 'none'}) are on the loss path")
        if w["modules"] == 0:
            why = "the adapter file holds no LoRA weights (an empty save): re-save it with save_pretrained"
        found.add(Finding("ADAPTER_IS_IDENTITY", "error",
                          f"every lora_B of the {w['modules']} adapted modules is zero: the adapter is the identity",
                          {"modules": w["modules"], "zero_b_modules": w["zero_b_modules"], "b_norm_max": w["b_norm_max"],
                           "identity_b_norm": t.identity_b_norm, "steps": steps, "lr": lr, "file_bytes": w["file_bytes"]},
                          why), "after")
    if w["non_finite_modules"] and not found.get("LOSS_DIVERGED"):
        found.add(Finding("LOSS_DIVERGED", "error", f"{len(w['non_finite_modules'])} adapter modules hold NaN/inf weights",
                          {"modules": w["non_finite_modules"][:8], "lr": lr}, f"lower --lr (now {lr:g}) by 10x and train again"), "after")
    train = (effect.get("loss") or {}).get("train")
    if train and not found.get("LOSS_DIVERGED"):
        base, adapter = train["base"], train["adapter"]
        if not math.isfinite(adapter) or (math.isfinite(base) and adapter >= t.diverge_factor * base):
            found.add(Finding("LOSS_DIVERGED", "error",
                              f"with the adapter the training loss is {adapter:.3f}, "
                              f"{adapter / base if base and math.isfinite(adapter) else math.inf:.1f}x the base model's {base:.3f}: "
                              "training made the model worse",
                              {"base_train_loss": base, "adapter_train_loss": adapter, "factor": t.diverge_factor, "lr": lr,
                               "scaled_lr": lr * scale},
                              f"use --lr {good:.0e} (now {lr:g}; lr x alpha/r ≈ {GOOD_SCALED_LR:g})"), "after")
    kl = effect.get("kl")
    if not identity and kl and kl["mean"] < t.no_effect_kl:
        spe = max(plan.get("steps_per_epoch", 1), 1)
        epochs = math.ceil(t.min_steps_warn / spe)
        todo = []
        if lr * scale < GOOD_SCALED_LR / 2:
            todo.append(f"raise the learning rate: --lr {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})")
        if steps < t.min_steps_warn:
            todo.append(f"train at least {t.min_steps_warn} steps (--epochs {epochs} gives {epochs * spe})")
        if not todo:
            todo.append("adapt more of the model (--target-modules all-linear) or a higher --lora-r, and check that the "
                        "answers differ from what the base already says")
        found.add(Finding(
            "ADAPTER_NO_EFFECT", "error",
            f"the adapter barely changes the model: mean KL(base || adapter) {kl['mean']:.2e} nats on {kl['probes']} probes",
            {"kl_mean": kl["mean"], "no_effect_kl": t.no_effect_kl, "delta_rel_mean": w["delta_rel_mean"],
             "steps": steps, "lr": lr, "scaled_lr": lr * scale, "train_loss_drop": train["drop"] if train else None},
            f"{steps} steps at lr {lr:g} moved the weights by {w['delta_rel_mean'] or 0:.1e} of their norm: " + "; ".join(todo)),
            "after")


def _serving_findings(found: _Findings, effect: dict, manifest: dict, t: Thresholds, server: str | None) -> None:
    s = effect.get("serving")
    if not s:
        return
    gens = {g["prompt"]: g for g in effect.get("generations", [])}
    ref_differs = any(gens[r["prompt"]]["base"] != gens[r["prompt"]]["adapter"] for r in s["answers"] if r["prompt"] in gens)
    kl = (effect.get("kl") or {}).get("mean", 0.0)
    identity = found.get("ADAPTER_IS_IDENTITY") is not None
    all_same = s["probes"] > 0 and s["same_answers"] == s["probes"]
    gap = s["max_logprob_gap"]
    same_logprobs = gap is not None and gap <= t.same_logprob_tol
    # With log-probs: identical answers and distributions although the adapter measurably moves
    # them. Without: identical answers where the adapter, applied directly, changes them.
    if not identity and all_same and ((same_logprobs and kl >= t.no_effect_kl) or (gap is None and ref_differs)):
        where = f"the server {server}" if server else "the chat engine"
        found.add(Finding(
            "ADAPTER_NOT_APPLIED", "error",
            f"{where} answers with the base model when asked for adapter '{s['adapter']}'",
            {"target": s["target"], "adapter": s["adapter"], "probes": s["probes"], "same_answers": s["same_answers"],
             "max_logprob_gap": gap, "same_logprob_tol": t.same_logprob_tol, "kl_when_applied": kl},
            (f"check that {server} loads the adapter and routes model='{s['adapter']}' to it (a request the server "
             "does not map to the adapter silently falls back to the base, as vLLM does for a LoRA id of 0)") if server else
            "the chat path disables or never activates the adapter: make sure it calls set_adapter(name) for the request "
            "and does not run it inside disable_adapter()"), "after")
    elif all_same and gap is None and not ref_differs:
        effect["serving"]["note"] = "answers identical and no log-probabilities returned: cannot tell whether the adapter is applied"
    expected, got = manifest.get("chat_template_sha256"), s.get("template_sha256")
    if expected and got and got != expected:
        found.add(Finding(
            "TEMPLATE_MISMATCH", "error",
            f"{s['target']} renders adapter '{s['adapter']}' with a different chat template than training used",
            {"training_sha256": expected, "serving_sha256": got, "target": s["target"], "adapter": s["adapter"]},
            "serve the adapter from its run folder (manifest.json holds the training template), or set the serving "
            f"tokenizer's chat_template to the one in manifest.json (sha256 {expected[:12]}…)"), "after")


# ---------------------------------------------------------------- the verdict


def _decide(found: _Findings, effect: dict, t: Thresholds) -> tuple[str, list[dict]]:
    basis: list[dict] = []
    train = (effect.get("loss") or {}).get("train")
    drop = train["drop"] if train and math.isfinite(train["drop"]) else effect["curve"].get("drop")
    kl = (effect.get("kl") or {}).get("mean")
    markers = effect.get("markers")
    checks = [("train_loss_drop", drop, t.min_train_loss_drop, "adapter's training loss below the base's (relative)"),
              ("kl_mean", kl, t.no_effect_kl, "mean KL(base || adapter), nats per next token on the probes")]
    if markers and not markers.get("derived"):  # markers found by the doctor itself inform, they do not decide
        checks.append(("marker_gain", markers["gain"], t.min_marker_gain, "rise in the share of answers with a marker"))
    ok = {}
    for name, value, threshold, what in checks:
        ok[name] = value is not None and math.isfinite(value) and value >= threshold
        basis.append({"name": name, "value": value, "threshold": threshold, "ok": ok[name], "what": what})
    blocking = [c for c in NOT_LEARNED_CODES if found.get(c, "error")]
    low_drop = not ok["train_loss_drop"]
    for code in ("TOO_FEW_STEPS", "LOSS_NOT_DECREASING"):
        f = found.get(code)
        if f and f.severity != "info" and low_drop:
            blocking.append(code)
    for code in blocking:
        basis.append({"name": "finding", "code": code, "value": code, "threshold": None, "ok": False,
                      "what": found.get(code).title})
    if blocking:
        return "not_learned", basis
    if all(ok.values()) and not found.get("TEMPLATE_MISMATCH"):
        return "learned", basis
    if found.get("TEMPLATE_MISMATCH"):
        basis.append({"name": "finding", "code": "TEMPLATE_MISMATCH", "value": "TEMPLATE_MISMATCH", "threshold": None,
                      "ok": False, "what": found.get("TEMPLATE_MISMATCH").title})
    return "inconclusive", basis


# ---------------------------------------------------------------- measuring


def _reference_tokenizer(source, manifest: dict):
    """A tokenizer of its own, with the chat template the run trained with."""
    tok = load_tokenizer(source, manifest["config"].get("trust_remote_code", False))
    if manifest.get("chat_template"):
        tok.chat_template = manifest["chat_template"]
    return tok


def _load_reference(source, manifest: dict, adapter_dir: Path) -> Reference:
    from peft import PeftModel

    config = manifest["config"]
    device = pick_device(config.get("dtype", "auto"))
    base = load_model(source, device.dtype, device.device, config.get("trust_remote_code", False))
    model = PeftModel.from_pretrained(base, str(adapter_dir), adapter_name="doctor", is_trainable=False)
    model.eval()
    return Reference(model, "doctor", _reference_tokenizer(source, manifest), device.device)


def _find_adapter(engine, adapter_dir: Path) -> str | None:
    for name, info in getattr(engine, "adapters", {}).items():
        if Path(info.path).resolve() == adapter_dir.resolve():
            return name
    return None


def _training_data(config: dict, manifest: dict, tok, notes: list[str]):
    try:
        trained = saved_config(config)
        dataset = load_dataset(trained.data, trained.vars)
        eval_ds = load_dataset(trained.eval_data, trained.vars) if trained.eval_data else None
        prepared = prepare(dataset, tok, trained.model_copy(update={"mix_general": 0.0}), eval_ds)
    except StudioError as e:
        notes.append(f"training data not readable ({e.message}): training-sample loss not measured")
        return None
    if dataset.sha256 != (manifest.get("dataset") or {}).get("sha256"):
        notes.append(f"{config['data']} changed since training: losses are measured on its current content")
    return dataset, eval_ds, prepared


def _choose_probes(probes: str | None, config: dict, data, n: int, run_dir: Path) -> tuple[list[Probe], str]:
    path = probes or config.get("probes")
    if path:
        return spread(read_probes(path), n), str(path)
    made = run_dir / HELDOUT_FILE
    if made.is_file():  # made from the data before training (data/heldout.py), never trained on
        return _spread_kinds(read_probes(made), n), "held-out prompts made from the data"
    if data is None:
        return [], "none"
    dataset, eval_ds, prepared = data
    if prepared.eval:
        source_ds = eval_ds if prepared.eval_source == "file" else dataset
        by_index = {s.index: s for s in source_ds.samples}
        return spread([probe_from_sample(by_index[t.index]) for t in prepared.eval], n), f"eval {prepared.eval_source}"
    by_index = {s.index: s for s in dataset.samples}
    return spread([probe_from_sample(by_index[t.index]) for t in prepared.train], n), "training prompts (no held-out data)"


def _spread_kinds(probes: list[Probe], n: int) -> list[Probe]:
    """n probes, each kind getting its share, so the unseen ones are not crowded out."""
    kinds = sorted({p.kind for p in probes})
    out = []
    for i, kind in enumerate(kinds):
        part = [p for p in probes if p.kind == kind]
        out += spread(part, max(1, (n - len(out)) // (len(kinds) - i)))
    return out


def _heldout_samples(data, probes: list[Probe], probe_source: str, tok, max_seq_len: int) -> tuple[list, str]:
    if data is not None and data[2].eval:
        return spread(data[2].eval, MAX_TRAIN_SAMPLES), f"eval {data[2].eval_source}"
    if probe_source.startswith("training prompts"):
        return [], "none"  # trained-on prompts are no held-out set
    with_answers = [p for p in probes if p.answer]
    samples = [tokenize_sample(tok, p.messages + [{"role": "assistant", "content": p.answer}], max_seq_len) for p in with_answers]
    return [s for s in samples if s.n_trainable], "probes with answers"


def _measure(run_dir: Path, manifest: dict, ref: Reference, chat, adapter_name: str, probes_arg: str | None,
             markers: list[str] | None, max_new_tokens: int, n_probes: int, t: Thresholds, notes: list[str],
             general_arg: str | None = None, general_cache: dict | None = None) -> dict:
    config = manifest["config"]
    effect: dict = {}
    effect["weights"] = adapter_weight_stats(run_dir / "adapter", _base_weight_lookup(ref.model), t)
    data = _training_data(config, manifest, ref.tokenizer, notes)
    probes, source = _choose_probes(probes_arg, config, data, n_probes, run_dir)
    effect["probes"] = {"source": source, "count": len(probes)}
    loss = {}
    if data is not None:
        loss["train"] = compare_loss(ref, spread(data[2].train, MAX_TRAIN_SAMPLES), "training samples")
        held, held_source = _heldout_samples(data, probes, source, ref.tokenizer, config["max_seq_len"])
        loss["heldout"] = compare_loss(ref, held, held_source)
    effect["loss"] = loss
    effect["kl"] = next_token_kl(ref, probes)
    general, general_source = general_probes(general_arg) if general_arg != "none" else ([], "none")
    effect.update(measure(reference_answerer(ref, max_new_tokens), probes, markers, None))
    _voice_and_content(effect, probes, markers, data, ref.tokenizer, max_new_tokens)
    if general:  # short answers: their own, smaller token budget
        answer = reference_answerer(ref, min(max_new_tokens, GENERAL_MAX_NEW_TOKENS))
        effect["retention"] = retention(answer, general, general_source, general_cache)
        if effect["retention"].get("note"):
            notes.append(effect["retention"]["note"])
    if chat is not None and probes:
        effect["serving"] = check_chat_path(chat, adapter_name, [p.messages for p in probes[:SERVING_PROBES]], max_new_tokens)
        effect["serving"]["training_template_sha256"] = manifest.get("chat_template_sha256")
    return effect


def _voice_and_content(effect: dict, probes: list[Probe], markers: list[str] | None, data, tok, max_new_tokens: int) -> None:
    """Content (chrF against the reference answers), and, when no markers were given, voice with
    markers found in the training answers (voice.py). Everything is compared at the answers'
    token budget: a reference or training answer is cut to its first max_new_tokens tokens."""
    rows = effect.get("generations") or []
    refs = heads(tok, [p.answer or "" for p in probes], max_new_tokens)
    for row, probe, ref in zip(rows, probes, refs, strict=True):
        if probe.answer:
            row["reference"] = ref
    effect["content"] = content_scores(rows)
    if markers or data is None or not rows:
        return
    general = load_general(None)
    train = heads(tok, [s.response for s in data[0].samples], max_new_tokens)
    background = [r["base"] for r in rows] + [s.response for s in general.samples]
    found = derive_markers(train, background)
    if not found:
        effect["markers_note"] = "no phrase recurs in the training answers that ordinary answers lack: voice not measured"
        return
    words = [m["marker"] for m in found]
    for row in rows:
        row["base_marker"], row["adapter_marker"] = has_any(row["base"], words), has_any(row["adapter"], words)
    effect["markers"] = {**rates(rows, "marker"), "markers": words, "derived": True, "candidates": found}


def _base_weight_lookup(model):
    def lookup(prefix: str):
        try:
            module = model.get_submodule(prefix)
        except AttributeError:
            return None
        layer = module.get_base_layer() if hasattr(module, "get_base_layer") else module
        return getattr(layer, "weight", None)

    return lookup


def _paths(run_dir: Path, manifest: dict, source, server: str | None, engine, adapter: str | None):
    """(reference, chat path, adapter name on that path, whether the adapter was loaded into the
    caller's engine for the check)."""
    from ..serving.engine import ChatEngine

    config = manifest["config"]
    if server is not None:
        chat, adapter = ServerChat(server), adapter or run_dir.name
        chat.template_sha256(adapter)  # fails fast, before any model is loaded, if the server is not there
        return _load_reference(source, manifest, run_dir / "adapter"), chat, adapter, False
    if engine is None:  # the doctor's own engine: its model serves the measurements too
        engine = ChatEngine.load(config.get("model"), dtype=config.get("dtype", "auto"),
                                 trust_remote_code=config.get("trust_remote_code", False))
        adapter = adapter or run_dir.name
        engine.add_adapter(adapter, run_dir)
        ref = Reference(engine.model, adapter, _reference_tokenizer(source, manifest), engine.device,
                        getattr(engine, "_lock", None))
        return ref, EngineChat(engine), adapter, False
    ref = _load_reference(source, manifest, run_dir / "adapter")
    adapter = adapter or _find_adapter(engine, run_dir / "adapter")
    if adapter is not None:
        return ref, EngineChat(engine), adapter, False
    adapter = f"doctor:{run_dir.name}"
    engine.add_adapter(adapter, run_dir)
    return ref, EngineChat(engine), adapter, True


# ---------------------------------------------------------------- entry point


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
) -> DoctorReport:
    """Diagnose the run in `run_dir`; write doctor.json and doctor.md there (unless write=False).

    Base and adapter are measured on one PEFT model switched by PEFT's own API. The serving check
    asks the same probes through a chat path: the server at `server` (adapter name `adapter`,
    default the run folder's name), else `engine` (the adapter it holds from this run, or one
    loaded into it for the check), else a `ChatEngine` the doctor loads, whose model then also
    serves the measurements (one copy of the weights).

    `general`: general-ability probes for retention (default the bundled set; "none" skips them).
    `general_cache`: prompt → base answer, to share across runs of one base (tune).
    """
    t = thresholds or Thresholds()
    run_dir = Path(run_dir)
    manifest = _read_json(run_dir / "manifest.json")
    plan_file = _read_json(run_dir / "plan.json")
    if manifest is None and plan_file is None:
        raise RunError(f"{run_dir} holds no run (no manifest.json or plan.json)",
                       fix="pass the --output folder of a `lorastudio train` run")
    plan = (manifest or {}).get("plan") or (plan_file or {}).get("plan") or {}
    config = (manifest or {}).get("config") or _read_json(run_dir / "config.json") or {}
    found, notes = _Findings(), []
    for d in (plan_file or {}).get("findings", []):
        if (f := _finding(d)) is not None:
            found.add(f, "preflight")
    for d in (manifest or {}).get("findings", []):
        if (f := _finding(d)) is not None:
            found.add(f, "live")
    curve = read_curve(run_dir / "metrics.jsonl", t)
    if manifest is None:  # the monitor's findings reach the manifest only at the end; before, only their codes
        for code, step in curve["live_findings"].items():
            if code in CODES and not found.get(code):
                found.add(Finding(code, "warning", f"raised during training at step {step}", {"step": step}), "live")
    _curve_findings(found, curve, plan, config, t)
    effect: dict = {"curve": curve}
    markers = markers or config.get("markers")

    adapter_dir = run_dir / "adapter"
    if manifest is None or not (adapter_dir / "adapter_model.safetensors").is_file():
        status = (_read_json(run_dir / "status.json") or {}).get("state", "unknown")
        notes.append(f"no finished adapter in {run_dir} (run state: {status}): only the plan and the curve were checked")
        verdict, basis = "inconclusive", [{"name": "adapter", "value": None, "ok": False, "what": "no finished adapter to measure"}]
        return _finish(run_dir, DoctorReport(str(run_dir), verdict, found.items, found.stages, effect, basis, notes, t), write)

    source = resolve_model(config.get("model"))
    ref, chat, adapter, loaded_for_check = _paths(run_dir, manifest, source, server, engine, adapter)
    try:
        effect.update(_measure(run_dir, manifest, ref, chat, adapter, probes, markers, max_new_tokens,
                               n_probes or DEFAULT_N_PROBES, t, notes, general, general_cache))
    finally:
        if loaded_for_check:
            engine.remove_adapter(adapter)  # leave the caller's engine as it was
    expected_hash = (manifest.get("base_model") or {}).get("content_hash")
    now = fingerprint(source).get("content_hash")
    effect["base_model"] = {**(manifest.get("base_model") or {}), "matches": expected_hash == now if expected_hash else None}
    if expected_hash and now != expected_hash:
        notes.append(f"the base model at {source.path} is not the one the adapter was trained on (content hash differs)")
    _effect_findings(found, effect, plan, config, t)
    _serving_findings(found, effect, manifest, t, server)
    for f in knowledge_findings(effect, plan, config, t):
        found.add(f, "after")
    effect["three"] = three_numbers(effect)
    verdict, basis = _decide(found, effect, t)
    return _finish(run_dir, DoctorReport(str(run_dir), verdict, found.items, found.stages, effect, basis, notes, t), write)


def _finish(run_dir: Path, report: DoctorReport, write: bool) -> DoctorReport:
    if write:
        from .report import render_markdown

        data = report.to_dict()
        write_text_atomic(run_dir / "doctor.json", json.dumps(data, indent=2, ensure_ascii=False))
        write_text_atomic(run_dir / "doctor.md", render_markdown(data))
    return report
