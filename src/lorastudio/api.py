"""The Python API: the same verbs as the CLI, as functions. The CLI and the server call these.

    import lorastudio as ls
    setup = ls.plan(model="smollm2-135m", data="data.json", output="runs/a", epochs=5)
    result = ls.train(model="smollm2-135m", data="data.json", output="runs/a", epochs=5)
    report = ls.doctor("runs/a")
    best = ls.tune(data="data.json", probes="probes.jsonl", output="runs/tune", budget="15m", max_trials=3)
    report = ls.expand("seed.json", "grown.json", target=150, holdout=20, markers=["俺老孙", "嘿嘿"])
    result = ls.export("runs/a", "gguf", "out/", quant="q8_0")   # merged, gguf, gguf-lora, ollama
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .config import TrainConfig, build_config
from .diagnosis.thresholds import Thresholds
from .training.loop import Callback, RunResult
from .training.loop import train as _train_loop
from .training.estimate import calibrate
from .training.setup import RunSetup, plan_run, plan_with_fixes


def plan(config: TrainConfig | None = None, thresholds: Thresholds | None = None, world_size: int = 1,
         apply_fixes: bool = False, measure: bool = False, **options) -> RunSetup:
    """The plan and its preflight findings, without loading the weights (fast for any model size).
    Options left out take the recommended recipe (`setup.auto` says which, and why);
    `apply_fixes` applies every finding's fix and plans again (`setup.extra["applied"]`).
    The time estimate comes from step costs measured on this machine when they are cached, or
    when `measure` (loads the weights of a model up to 2B parameters and times a few steps).
    `setup.extra["recommended"]` holds the recipe (recipes.py) for this data and model."""
    from .recipes import recommend_for_setup

    config = config or build_config(**options)
    applied = []
    if apply_fixes:
        config, applied = plan_with_fixes(config, world_size, thresholds)
    setup = plan_run(config, world_size=world_size, load_weights=False, thresholds=thresholds)
    calibrate(setup, config, world_size, thresholds, measure=measure)
    setup.extra["recommended"] = recommend_for_setup(setup)
    setup.extra["applied"] = applied
    return setup


def train(
    config: TrainConfig | None = None,
    resume: bool = False,
    force: bool = False,
    on_event: Callback | None = None,
    stop: threading.Event | None = None,
    thresholds: Thresholds | None = None,
    apply_fixes: bool = False,
    **options,
) -> RunResult:
    """Train a LoRA adapter; then, unless config.doctor is False, run the doctor on the result.
    `apply_fixes`: apply the plan's fixes first (as `plan(apply_fixes=True)` shows them)."""
    config = config or build_config(**options)
    setup = None
    if apply_fixes:
        config, applied = plan_with_fixes(config, int(os.environ.get("WORLD_SIZE", "1")), thresholds)
        setup = plan_run(config, world_size=int(os.environ.get("WORLD_SIZE", "1")), thresholds=thresholds)
        setup.extra["applied"] = applied
    result = _train_loop(config, resume=resume, force=force, on_event=on_event, stop=stop, thresholds=thresholds,
                         setup=setup)
    if result.status == "done" and config.doctor and int(os.environ.get("RANK", "0")) == 0:
        report = doctor(result.run_dir, thresholds=thresholds)
        if on_event:
            on_event({"type": "doctor", "report": report.to_dict()})
    return result


def doctor(run_dir: str | Path, **kwargs):
    """Verify a finished run: did the adapter learn, and if not, why. See diagnosis/doctor.py."""
    from .diagnosis.doctor import run_doctor

    return run_doctor(str(run_dir), **kwargs)


def expand(data: str | Path, output: str | Path, target: int = 150, method: str = "templates",
           model: str | None = None, endpoint: str | None = None, keep_out=None, seed: int = 0, **kwargs):
    """Grow a small dataset to `target` samples (templates offline, or a model: an OpenAI-compatible
    `endpoint`, else the local `model` loaded through our engine), filtered, with `holdout` probes;
    `keep_out` is a probes file (or a list of prompts) already held out. Returns the ExpandReport.
    Other options (markers, holdout, lang, answers, overwrite): see data/expand.py."""
    from .data.expand import ExpandOptions, check_request, read_prompts, write_expansion

    overwrite, probes_out = kwargs.pop("overwrite", False), kwargs.pop("probes_out", None)
    options = ExpandOptions(target=target, method=method, endpoint=endpoint, model=model, seed=seed, **kwargs)
    local = method == "model" and not endpoint and options.engine is None
    check_request(data, output, options, overwrite=overwrite, probes_out=probes_out, engine_coming=local)
    if local:  # checked first: loading the model takes minutes
        from .serving.engine import ChatEngine, GenerationConfig

        options.engine = ChatEngine.load(model)
        # JSON-lines replies are long, and a little sampling gives varied pairs.
        if options.generation_config is None:
            options.generation_config = GenerationConfig(max_new_tokens=1024, temperature=0.7, seed=seed)
    if isinstance(keep_out, (str, Path)):
        keep_out = read_prompts(keep_out)
    options.keep_out = list(keep_out or [])
    return write_expansion(data, output, options, probes_out)


def tune(data: str, probes: str | None = None, output: str = "runs/tune", budget: str | float = "15m", max_trials: int = 3,
         **kwargs):
    """Try up to `max_trials` recipes as short runs within `budget`, score each on voice, facts and
    retention, keep the best (OUTPUT/best, OUTPUT/tune.json). See tuning.py."""
    from .tuning import tune as _tune

    return _tune(data=data, probes=probes, output=output, budget=budget, max_trials=max_trials, **kwargs)


def export(run_dir: str | Path, fmt: str = "gguf", out: str | Path = "exports", quant: str | None = None, **kwargs):
    """Write a run's adapter as a merged folder, a GGUF, a llama.cpp LoRA GGUF or an Ollama folder,
    then reload it and compare with the adapter in PEFT (`result.ok`, `result.checks`). See exporting/."""
    from .exporting import export as _export

    return _export(run_dir, fmt, out, quant=quant, **kwargs)
