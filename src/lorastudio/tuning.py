"""`lorastudio tune`: try a few recipes as short runs within a time budget, keep the best adapter.

    trials     from the recipe (recipes.py): the recommended settings, then one change at a time
               (double the learning rate, attention only instead of all-linear, no general
               replay, half the learning rate), or the caller's own list of overrides; a trial
               that fails (out of memory, say) is recorded and the next one runs
    budget     each trial's time is estimated before it starts: the plan's estimate (from step
               costs measured on this machine, training/estimate.py), scaled by
               how far the trials already run were from theirs (measured / estimated), plus the
               last trial's doctor time; a trial that would end past the budget is skipped
    score      on held-out probes (a probes file, or without one the prompts each trial holds out
               of the data, the same for every trial), by the doctor (knowledge.py, voice.py):
                   score = (0.3 x voice + 0.4 x knowledge + 0.3 x content + 0.3 x min(retention, 1)) / 1.3
               voice = the adapter's marker rate (given markers, or those found in the answers),
               knowledge = its fact recall, content = its chrF against the reference answers / 100,
               retention = general answers right, adapter / base. Knowledge weighs most: it is what
               voice-only runs miss. A number that cannot be measured (no markers, no expect_any, a base
               that answers no general probe right) is left out and the weights of the others
               are rescaled to sum to 1; a trial with none of them scores None and never wins.
    output     DIR/trial-N (one run folder each), DIR/tune.json (the table), DIR/best → the
               best trial's run folder (a relative symlink), DIR/trials.jsonl (one line per trial as
               it finishes, for whoever watches a tune run: the web studio's tune job). A tune
               stopped part way (Ctrl-C, the studio's cancel) still writes tune.json and best for
               the trials that finished, with "stopped": true
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import build_config, split_list
from .diagnosis.doctor import run_doctor
from .errors import ConfigError, PlanRefused, StudioError
from .recipes import Recipe, recommend_for_setup
from .training.estimate import calibrate
from .training.loop import train
from .training.setup import plan_run

WEIGHTS = {"voice": 0.3, "knowledge": 0.4, "content": 0.3, "retention": 0.3}


@dataclass
class Trial:
    name: str
    settings: dict  # the options this trial changes
    status: str = "pending"  # "done" | "skipped" | "refused" | "failed"
    score: float | None = None
    voice: float | None = None
    knowledge: float | None = None
    content: float | None = None  # chrF against the reference answers, 0-100
    retention: float | None = None
    verdict: str | None = None
    steps: int | None = None
    estimated_seconds: float | None = None
    seconds: float | None = None
    run_dir: str | None = None
    note: str = ""


@dataclass
class TuneResult:
    output: str
    budget_seconds: float
    trials: list[Trial] = field(default_factory=list)
    best: str | None = None  # the winning trial's name
    recommended: dict | None = None
    stopped: bool = False  # interrupted (Ctrl-C, cancel, a crash): the trials that finished are still scored

    def to_dict(self) -> dict:
        return {"output": self.output, "budget_seconds": self.budget_seconds, "weights": WEIGHTS, "best": self.best,
                "stopped": self.stopped, "recommended": self.recommended, "trials": [asdict(t) for t in self.trials]}


def parse_budget(budget: str | float | int) -> float:
    """'15m', '90s', '1h', '1h30m' or a number of seconds."""
    if isinstance(budget, (int, float)):
        seconds = float(budget)
    else:
        parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", budget)
        if not parts or not any(parts.groups()):
            raise ConfigError(f"--budget {budget!r} is not a duration", fix="write e.g. --budget 15m, 90s or 1h30m",
                              option="--budget")
        h, m, s = (float(x) if x else 0.0 for x in parts.groups())
        seconds = 3600 * h + 60 * m + s
    if seconds <= 0:
        raise ConfigError(f"--budget {budget!r} leaves no time", fix="give a positive duration, e.g. --budget 15m",
                          option="--budget")
    return seconds


def score(three: dict | None) -> float | None:
    """The weighted score of the doctor's three numbers (see the module doc)."""
    if not three:
        return None
    values = {}
    if three.get("voice"):
        values["voice"] = three["voice"]["adapter"]
    if three.get("knowledge"):
        values["knowledge"] = three["knowledge"]["adapter"]
    if three.get("content"):
        values["content"] = three["content"]["adapter"] / 100
    if three.get("retention"):
        values["retention"] = min(three["retention"]["retention"], 1.0)
    if not values:
        return None
    total = sum(WEIGHTS[k] for k in values)
    return sum(WEIGHTS[k] * v for k, v in values.items()) / total


def candidate_trials(recipe: Recipe) -> list[dict]:
    """The recommended settings first, then one change at a time, in the order they most often
    decide: a higher learning rate (facts on a small set are usually under-learned: SmolLM2's
    recommended run ended at loss 1.5 with no fact recalled), attention only (does the MLP earn
    its cost?), no general replay, a lower learning rate (for a run that forgets)."""
    rec = {"epochs": recipe.epochs, "lr": recipe.lr, "target_modules": recipe.target_modules or None,
           "mix_general": recipe.mix_general}
    out = [rec, {**rec, "lr": float(f"{recipe.lr * 2:.1e}")}]
    if recipe.target_modules == ["all-linear"]:
        out.append({**rec, "target_modules": None})
    out.append({**rec, "mix_general": 0.0})
    out.append({**rec, "lr": float(f"{recipe.lr / 2:.1e}")})
    return out


def _link_best(output: Path, run_dir: Path) -> None:
    link = output / "best"
    if link.is_symlink() or link.is_file():
        link.unlink()
    os.symlink(os.path.relpath(run_dir, output), link, target_is_directory=True)


def tune(
    data: str,
    probes: str | None = None,
    output: str = "runs/tune",
    budget: str | float = "15m",
    max_trials: int = 3,
    model: str | None = None,
    trials: list[dict] | None = None,
    markers: list[str] | str | None = None,
    general_probes: str | None = None,
    n_probes: int | None = None,
    force: bool = False,
    on_trial=None,
    **options,
) -> TuneResult:
    """Run up to `max_trials` short trainings (settings from the recipe, or `trials`: a list of
    option overrides), score each with the doctor, keep the best. `options` are shared training
    options (batch_size, max_seq_len, ...). `on_trial(trial)` is called after each trial."""
    budget_s = parse_budget(budget)
    if max_trials < 1:
        raise ConfigError(f"--max-trials {max_trials} runs nothing", fix="give --max-trials 1 or more", option="--max-trials")
    out = Path(output)
    if (out / "tune.json").exists():
        raise StudioError(f"{out} already holds a tune (tune.json)", fix="pass a new --output folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials.jsonl").write_text("", encoding="utf-8")  # a crashed earlier tune's lines are not this one's
    base = dict(options, data=data, probes=probes, markers=markers, model=model, doctor=False)
    recipe = recommend_for_setup(plan_run(build_config(**base, output=str(out / "trial-1")), load_weights=False))
    grid = trials if trials is not None else candidate_trials(recipe)
    result = TuneResult(str(out), budget_s, recommended=recipe.to_dict())
    clock = _Budget(time.monotonic(), budget_s)
    doctor_options = dict(probes=probes, general=general_probes, n_probes=n_probes, markers=split_list(markers),
                          general_cache={})  # the base's general answers, asked once for all trials
    try:
        for i, settings in enumerate(grid[:max_trials], 1):
            trial = Trial(f"trial-{i}", {k: v for k, v in settings.items()})
            result.trials.append(trial)
            config = build_config(**{**base, **settings, "output": str(out / trial.name)})
            _run_trial(trial, config, clock, force, doctor_options)
            _report(on_trial, trial, out)
    except BaseException:  # Ctrl-C, the studio's cancel, a crash: the trials that finished are kept
        result.stopped = True
        for t in result.trials:
            if t.status == "pending":
                t.status = "stopped"
        _finish(result, out)
        raise
    _finish(result, out)
    return result


@dataclass
class _Budget:
    """The budget, and how long runs really take against the plan's estimate (this machine, this load)."""

    started: float
    seconds: float
    ratio: float | None = None  # measured / estimated training time, averaged over the trials so far
    doctor_s: float = 0.0  # the last doctor's time

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)


def _run_trial(trial: Trial, config, clock: _Budget, force: bool, doctor_options: dict) -> None:
    """Train and score one trial, or say why not (skipped, refused, failed), into `trial`."""
    setup = plan_run(config, load_weights=False)
    calibrate(setup, config)  # step costs measured on this machine, as training's own estimate
    estimate = setup.plan.estimated_seconds or 0.0
    expected = estimate * (clock.ratio or 1.0) + clock.doctor_s
    trial.estimated_seconds = round(expected, 1)
    if expected > clock.left():
        trial.status, trial.note = "skipped", f"needs ~{expected:.0f} s, {max(clock.left(), 0):.0f} s of the budget left"
        return
    t0 = time.monotonic()
    try:
        run = train(config, force=force)
    except PlanRefused as e:
        trial.status, trial.note = "refused", "; ".join(f"{f.code}: {f.title}" for f in e.findings if f.severity == "error")
        return
    except (StudioError, RuntimeError) as e:  # out of memory, a write error: the next trial may still run
        trial.status, trial.note = "failed", str(e).splitlines()[0][:300]
        return
    if estimate > 0:
        measured = (time.monotonic() - t0) / estimate
        clock.ratio = measured if clock.ratio is None else (clock.ratio + measured) / 2
    t1 = time.monotonic()
    report = run_doctor(run.run_dir, **doctor_options)
    clock.doctor_s = time.monotonic() - t1
    three = report.effect.get("three") or {}
    trial.status, trial.verdict, trial.steps, trial.run_dir = "done", report.verdict, run.steps, str(run.run_dir)
    trial.voice = (three.get("voice") or {}).get("adapter")
    trial.knowledge = (three.get("knowledge") or {}).get("adapter")
    trial.content = (three.get("content") or {}).get("adapter")
    trial.retention = (three.get("retention") or {}).get("retention")
    trial.score = score(three)
    trial.seconds = round(time.monotonic() - t0, 1)


def _finish(result: TuneResult, out: Path) -> None:
    """Pick the best scored trial (the first of equal scores: the recipe's order), link OUT/best to
    it and write tune.json, also for a tune stopped part way."""
    scored = [t for t in result.trials if t.score is not None]
    if scored:
        best = max(scored, key=lambda t: t.score)
        result.best = best.name
        _link_best(out, Path(best.run_dir))
    (out / "tune.json").write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def _report(on_trial, trial: Trial, out: Path) -> None:
    with open(out / "trials.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(trial), ensure_ascii=False) + "\n")
    if on_trial:
        on_trial(trial)


def _settings(s: dict) -> str:
    parts = []
    for k, v in s.items():
        if isinstance(v, list):
            v = ",".join(v)
        parts.append(f"{k.replace('_', '-')} {'attention' if v is None and k == 'target_modules' else v}")
    return ", ".join(parts)


def format_table(result: TuneResult) -> str:
    def pct(x):
        return "-" if x is None else f"{100 * x:.0f}%"

    lines = [f"{'trial':<9} {'score':>6} {'voice':>6} {'facts':>6} {'chrF':>6} {'retain':>6} {'steps':>5} {'time':>7}  settings",]
    for t in result.trials:
        sc = "-" if t.score is None else f"{t.score:.3f}"
        tm = "-" if t.seconds is None else f"{t.seconds:.0f}s"
        mark = " *" if t.name == result.best else ""
        chrf = "-" if t.content is None else f"{t.content:.1f}"
        lines.append(f"{t.name:<9} {sc:>6} {pct(t.voice):>6} {pct(t.knowledge):>6} {chrf:>6} {pct(t.retention):>6} "
                     f"{t.steps if t.steps is not None else '-':>5} {tm:>7}  {_settings(t.settings)}"
                     + (f"  [{t.status}: {t.note}]" if t.status != "done" else "") + mark)
    w = ", ".join(f"{v:g} x {k}" for k, v in WEIGHTS.items())
    lines.append(f"score = {w} (rescaled over the numbers measured)")
    if result.best:
        lines.append(f"best: {result.best} → {Path(result.output) / 'best'}")
    else:
        lines.append("best: none (no trial was scored)")
    return "\n".join(lines)
