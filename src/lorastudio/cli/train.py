"""`lorastudio plan` and `lorastudio train`: one set of options, two verbs."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import PlanRefused, StudioError
from .common import Opt, app, print_json


def _train_command(
    ctx: typer.Context,
    model: Annotated[Optional[str], Opt(help="smollm2-135m (embedded), a local folder, a .gguf file, a hub id, or "
                                             "ollama:NAME, hf:ORG/NAME, modelscope:ORG/NAME, lmstudio:NAME (see `lorastudio models`)")] = None,
    data: Annotated[Optional[str], Opt(help="training data (.json/.jsonl): Alpaca, ShareGPT (tool calls too) or messages")] = None,
    output: Annotated[Optional[str], Opt("--output", "-o", help="run folder")] = None,
    config: Annotated[Optional[Path], Opt(help="JSON/YAML file of options (other tools' key names accepted, e.g. learning_rate)")] = None,
    epochs: Annotated[Optional[int], Opt(help="passes over the data (default: enough for 150 steps, at most 10)")] = None,
    batch_size: Annotated[Optional[int], Opt(help="samples per micro-batch")] = None,
    grad_accum: Annotated[Optional[int], Opt(help="micro-batches per optimizer step")] = None,
    lr: Annotated[Optional[float], Opt(help="peak learning rate (default: from the model's size and alpha/r)")] = None,
    warmup_steps: Annotated[Optional[int], Opt()] = None,
    warmup_ratio: Annotated[Optional[float], Opt()] = None,
    max_seq_len: Annotated[Optional[int], Opt(help="tokens per sample; longer ones are cut and counted "
                                                   "(default: from the data, capped by the model's context)")] = None,
    long_samples: Annotated[Optional[str], Opt(help="samples longer than --max-seq-len: truncate or drop")] = None,
    drop_duplicates: Annotated[Optional[bool], Opt("--drop-duplicates", help="leave exact repeats out")] = None,
    lora_r: Annotated[Optional[int], Opt()] = None,
    lora_alpha: Annotated[Optional[float], Opt()] = None,
    lora_dropout: Annotated[Optional[float], Opt()] = None,
    target_modules: Annotated[Optional[str], Opt(help="comma-separated module names, or all-linear (the default)")] = None,
    eval_data: Annotated[Optional[str], Opt(help="held-out data for eval loss")] = None,
    eval_split: Annotated[Optional[float], Opt(help="share of the data held out for eval loss")] = None,
    probes: Annotated[Optional[str], Opt(help="held-out prompts the doctor checks after training")] = None,
    markers: Annotated[Optional[str], Opt(help="comma-separated style markers the doctor counts "
                                               "(default: found in your answers after training)")] = None,
    holdout: Annotated[Optional[int], Opt(min=0, max=256, help="without --probes: training questions reworded "
                                          "and held out for the doctor (default 16; 0: none)")] = None,
    var: Annotated[Optional[list[str]], Opt("--var", help="fill {{NAME}} placeholders in the data: --var name=小助手 "
                                            "(repeat for each)")] = None,
    chat_template: Annotated[Optional[str], Opt(help="train with this chat template instead of the model's: "
                                                "qwen2.5 (renders tool calls) or a .jinja file")] = None,
    expand_to: Annotated[Optional[int], Opt(min=1, max=100000, help="grow the data to N samples with reworded "
                                            "questions before training")] = None,
    mix_general: Annotated[Optional[float], Opt(help="general replay samples per task sample mixed in (0.2 adds 20 per 100)")] = None,
    general_data: Annotated[Optional[str], Opt(help="your own general replay file (default: the bundled 40 samples)")] = None,
    seed: Annotated[Optional[int], Opt()] = None,
    save_steps: Annotated[Optional[int], Opt(help="checkpoint every N steps (0: each epoch)")] = None,
    threads: Annotated[Optional[int], Opt(help="CPU threads (default: 1 for tiny models, all cores otherwise)")] = None,
    dtype: Annotated[Optional[str], Opt(help="auto, fp32, bf16 or fp16")] = None,
    trust_remote_code: Annotated[Optional[bool], Opt("--trust-remote-code", help="run the model repo's own code")] = None,
    no_doctor: Annotated[bool, Opt("--no-doctor", help="skip the doctor after training")] = False,
    no_auto: Annotated[bool, Opt("--no-auto", help="options left out keep fixed defaults (3 epochs, lr 1e-4, "
                                 "attention only, 512 tokens, no replay) instead of the recipe for this data")] = False,
    apply_fixes: Annotated[bool, Opt("--apply-fixes", help="apply every finding's fix (the plan shows them) "
                                     "and plan again before training")] = False,
    resume: Annotated[bool, Opt(help="continue from the run folder's latest checkpoint")] = False,
    force: Annotated[bool, Opt(help="train despite error-level findings of the plan")] = False,
    nproc: Annotated[int, Opt(min=1, max=1024, help="data-parallel processes (torchrun; NCCL on GPUs, gloo on CPU)")] = 1,
    quantize: Annotated[Optional[str], Opt(help="none, 4bit (QLoRA: NF4, double quantisation, bitsandbytes) or 8bit")] = None,
    gradient_checkpointing: Annotated[Optional[bool], Opt("--gradient-checkpointing/--no-gradient-checkpointing",
                                                          help="recompute activations in backward (default: on when the memory plan needs it)")] = None,
    gpu_memory: Annotated[Optional[str], Opt(help="plan for a GPU of this size, e.g. 8GB or 24GB (default: the detected GPU)")] = None,
    fsdp: Annotated[Optional[bool], Opt("--fsdp", help="with --nproc N: shard the base weights over the GPUs (FSDP2)")] = None,
    as_json: Annotated[bool, Opt("--json", help="plan: print the plan and findings as JSON")] = False,
):
    flags = dict(locals())  # every option by its parameter name, as Typer parsed it
    return _run(flags.pop("ctx"), flags)


# Flags that steer the command rather than the run's config.
_COMMAND_FLAGS = ("config", "resume", "force", "nproc", "as_json", "apply_fixes")


def _run(ctx: typer.Context, flags: dict) -> None:
    """Plan or train with the parsed flags: a bad option is refused before torch is imported."""
    from ..config import build_config

    command = {name: flags.pop(name) for name in _COMMAND_FLAGS}
    flags["doctor"] = False if flags.pop("no_doctor") else None
    flags["auto"] = False if flags.pop("no_auto") else None
    flags["vars"] = flags.pop("var") or None
    if ctx.info_name == "plan" and not flags["output"]:
        flags["output"] = "(plan only)"
    cfg = build_config(command["config"], **flags)
    _check_data_early(cfg)
    if ctx.info_name == "plan":
        return _plan(cfg, command["as_json"], command["nproc"], command["apply_fixes"])
    if command["nproc"] > 1 and "WORLD_SIZE" not in os.environ:
        _launch(command["nproc"])
    return _train(cfg, command["resume"], command["force"], command["apply_fixes"])


def _launch(nproc: int) -> None:
    """Start `nproc` processes with this command line (less --nproc) and exit with their status."""
    from ..training.distributed import launch

    argv = sys.argv[1:]
    i = next(k for k, a in enumerate(argv) if a == "--nproc" or a.startswith("--nproc="))
    del argv[i : i + (1 if "=" in argv[i] else 2)]
    raise typer.Exit(launch(nproc, argv))


def _check_data_early(cfg) -> None:
    """Read the data files before torch and the model load (seconds): a missing file or a broken
    record is reported at once. The plan reads them again; parsing JSON is cheap beside that."""
    from ..data.readers import load_dataset

    if not cfg.expand_to:
        load_dataset(cfg.data, cfg.vars)
    if cfg.eval_data:
        load_dataset(cfg.eval_data, cfg.vars)


def _plan(cfg, as_json: bool, nproc: int = 1, apply_fixes: bool = False) -> None:
    from .. import api
    from ..console import print_applied, print_auto, print_findings, print_memory, print_plan

    setup = api.plan(cfg, world_size=nproc, apply_fixes=apply_fixes)
    findings = [f.to_dict() for f in setup.findings]
    auto = {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()}
    memory = setup.memory.to_dict() if setup.memory is not None else None
    if as_json:
        print_json({"plan": setup.plan.to_dict(), "findings": findings, "auto": auto, "applied": setup.extra["applied"],
               "config": setup.config.model_dump(), "recommended": setup.extra["recommended"].to_dict(), "memory": memory})
    else:
        print_applied(setup.extra["applied"])
        print_plan(setup.plan.to_dict())
        print_auto(auto)
        print_memory(memory)
        print_findings(findings, "Preflight")
    if any(f["severity"] == "error" for f in findings):
        raise typer.Exit(1)


def _train(cfg, resume: bool, force: bool, apply_fixes: bool = False) -> None:
    from rich.markup import escape

    from .. import api
    from ..console import TrainingProgress, console, print_doctor

    stop = threading.Event()

    def on_signal(signum, frame):  # Ctrl-C / SIGTERM: checkpoint at the end of this step, then exit
        console.print("[yellow]stopping after this step; a checkpoint will be saved (resume with --resume)[/yellow]")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    progress = TrainingProgress()

    def on_event(event: dict) -> None:
        if event["type"] == "doctor":
            print_doctor(event["report"])
        else:
            progress(event)

    try:
        result = api.train(cfg, resume=resume, force=force, on_event=on_event, stop=stop, apply_fixes=apply_fixes)
    except PlanRefused as e:
        progress.close()
        raise StudioError(e.message, e.fix) from None
    finally:
        progress.close()
    if os.environ.get("RANK", "0") != "0":
        return  # rank 0 reports for all
    if result.first_loss is not None:
        console.print(f"loss {result.first_loss:.4f} → {result.last_loss:.4f}"
                      + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""))
    console.print(f"run folder: {escape(str(result.run_dir))}" + ("" if result.status == "done" else f" ({result.status})"))
    if result.status == "cancelled":
        raise typer.Exit(130)


app.command("plan", help="Compute the plan (steps, tokens, truncation, label coverage) and its preflight findings. "
            "Takes the same options as `train`; exits 1 when a finding is an error.")(_train_command)
app.command("train", help="Train a LoRA adapter: plan, refuse on error findings (unless --force), train with "
            "checkpoints, save RUN_DIR/adapter and manifest.json, then run the doctor.")(_train_command)
