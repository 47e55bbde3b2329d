"""The training loop, top to bottom: setup, (resume), epochs of accumulated steps, save.

The run folder's files are written through run_folder.RunFolder (it lists them), and also
    data/expanded.json (with --expand-to: the grown data that was trained)
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..config import TrainConfig
from ..data.formatting import IGNORE_INDEX, TokenizedSample, template_hash
from ..diagnosis.findings import Finding, errors
from ..diagnosis.monitor import LiveMonitor
from ..diagnosis.thresholds import Thresholds
from ..errors import PlanRefused, RunError
from ..files import sha256_file
from ..models import fingerprint
from . import distributed
from .batching import JOIN_TOKENS, collate, count_targets, epoch_steps
from .loss import trained_token_loss
from ..run_folder import RunFolder
from .checkpoints import load_checkpoint, save_checkpoint
from .resume import check_resume, settings
from .estimate import calibrate, learn
from .setup import RunSetup, expansion_bytes, plan_run

EXPANDED_FILE = Path("data") / "expanded.json"

Event = dict
Callback = Callable[[Event], None]


@dataclass
class RunResult:
    run_dir: Path
    status: str  # "done" | "cancelled"
    steps: int
    first_loss: float | None
    last_loss: float | None
    eval_loss: float | None
    seconds: float
    findings: list[Finding]


def _check_output(run_dir: Path, resume: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"--output {run_dir} is a file, not a folder", fix="choose a folder path for --output")
    if resume:
        return
    if RunFolder(run_dir).holds_run():
        raise RunError(
            f"{run_dir} already holds a run",
            fix="pass --resume to continue it, or choose another --output folder",
        )


def forward_backward(model, micro_batches: list[dict], device: str, n_targets: int | None = None,
                     world_size: int = 1, scaler=None) -> tuple[float, int, int]:
    """Accumulate gradients over one optimizer step's micro-batches (this process's share).

    The loss is normalised by the trained tokens of the whole step, not per micro-batch, so
    every token weighs the same whatever the accumulation (the bug class where loss grows
    with accumulation cannot happen). With several processes `n_targets` is the step's total
    over all of them, and the loss is scaled by the world size because DistributedDataParallel
    averages gradients: the result is the gradient of (sum of token losses) / n_targets.
    With fp16 weights `scaler` (a GradScaler) scales the loss so small gradients survive.
    Returns (this process's share of the mean token loss, real tokens, trained tokens).
    """
    local_targets = sum(count_targets(m) for m in micro_batches)
    n_targets = n_targets or local_targets
    step_loss, step_tokens = 0.0, 0
    for i, m in enumerate(micro_batches):
        m = {k: v.to(device) for k, v in m.items()}
        # gradients are all-reduced once per step, on the last micro-batch, not on every one
        sync = i == len(micro_batches) - 1 or not hasattr(model, "no_sync")
        with (nullcontext() if sync else model.no_sync()):
            loss = trained_token_loss(model, m) * world_size / max(n_targets, 1)
            (scaler.scale(loss) if scaler is not None else loss).backward()
        step_loss += float(loss.detach()) / world_size
        step_tokens += int(m["attention_mask"].sum())
    return step_loss, step_tokens, local_targets


@torch.no_grad()
def evaluate(model, samples, batch_size: int, pad_id: int, device: str) -> float:
    """Mean token loss over samples (the same per-token weighting as training)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(samples), batch_size):
        batch = {k: v.to(device) for k, v in collate(samples[start : start + batch_size], pad_id).items()}
        total += float(trained_token_loss(model, batch))
        count += count_targets(batch)
    model.train()
    return total / max(count, 1)


def train(
    config: TrainConfig,
    resume: bool = False,
    force: bool = False,
    on_event: Callback | None = None,
    stop: threading.Event | None = None,
    thresholds: Thresholds | None = None,
    setup: RunSetup | None = None,
) -> RunResult:
    dist = distributed.init()  # one process, or this rank of a torchrun launch
    emit = (on_event or (lambda e: None)) if dist.is_main else (lambda e: None)
    run_dir = Path(config.output)
    folder = RunFolder(run_dir)
    _check_output(run_dir, resume)
    # The web studio shows this start-up phase (its job made the folder). A run being resumed keeps
    # its status until the resume check passes: a refused --resume writes nothing.
    resuming = resume and folder.holds_run()
    if dist.is_main and run_dir.is_dir() and not resuming:
        folder.write_status("starting", phase="preparing")

    # ---- setup: data, model with LoRA, plan, preflight --------------------------------------
    setup = setup or plan_run(config, world_size=dist.world_size, thresholds=thresholds)
    config = setup.config  # as trained: the recipe's values for the options left out
    plan, model, tok = setup.plan, setup.model, setup.tokenizer
    if dist.is_main:
        calibrate(setup, config, dist.world_size, measure=False)  # the plan's table shows cached step costs, if any
    emit({"type": "plan", "plan": plan.to_dict(), "findings": [f.to_dict() for f in setup.findings],
          "auto": {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()},
          "applied": setup.extra.get("applied", []),
          "memory": setup.memory.to_dict() if setup.memory is not None else None})
    if errors(setup.findings) and not force:
        listed = "".join(f"\n  - {f.code}: {f.title}\n    fix: {f.fix}" for f in errors(setup.findings))
        raise PlanRefused(
            f"training refused: the plan has error-level findings:{listed}",
            setup.findings,
            fix="apply the fixes above (--apply-fixes does it for you), or pass --force to train anyway",
        )
    if model is None:
        raise RunError("no LoRA target modules resolved", fix="see TARGET_MODULES_MISSING above")
    checkpoints = folder.checkpoints() if resume else []
    if checkpoints:
        check_resume(checkpoints[-1], setup)  # before anything is written or loaded
    if dist.is_main and resuming:
        folder.write_status("starting", phase="preparing")
    if dist.is_main:
        if not plan.estimate_calibrated:  # nothing cached when the plan was shown
            calibrate(setup, config, dist.world_size)  # a few real steps, timed
        emit({"type": "estimate", "seconds": plan.estimated_seconds, "calibrated": plan.estimate_calibrated})
    shaping = settings(setup)
    main = dist.is_main  # only rank 0 writes files
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_inputs(folder, setup)

    device = setup.device.device
    torch.set_num_threads(setup.device.threads)
    model.train()
    model.config.use_cache = False  # the KV cache is useless in training and costs memory
    params = [p for p in model.parameters() if p.requires_grad]
    # DDP all-reduces gradients (FSDP: we average the adapter's, see distributed.wrap); the PEFT
    # model itself stays `model` for saving and eval.
    fsdp = config.fsdp and dist.enabled
    net = distributed.wrap(model, dist, device, fsdp)
    # fp16 weights (a GPU without bf16): scale the loss, or small gradients underflow to zero
    scaler = torch.amp.GradScaler("cuda") if device == "cuda" and setup.device.dtype == torch.float16 else None
    # fused AdamW is one kernel per step on CUDA; on CPU the foreach path is the fast one
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=device == "cuda")
    from transformers import get_scheduler

    schedule = config.lr_scheduler if config.lr_scheduler != "constant" else "constant_with_warmup"
    scheduler = get_scheduler(schedule, optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=max(plan.total_steps, 1))
    monitor = LiveMonitor(plan.total_steps, plan.warmup_steps, thresholds)
    samples, pad_id = setup.prepared.train, tok.pad_token_id
    lengths = [s.n_tokens for s in samples]

    # ---- resume: weights, optimizer, RNG, position -------------------------------------------
    step, start_epoch, skip = 0, 0, 0
    if checkpoints:
        state = load_checkpoint(checkpoints[-1], model, optimizer)
        step, start_epoch, skip = state["step"], state["epoch"], state["micro_batch"]
        with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended here
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(step):
                scheduler.step()  # the schedule is a pure function of the step
        for row in _replay_losses(folder, step):
            monitor.losses.append(row)
        emit({"type": "resumed", "step": step, "checkpoint": str(checkpoints[-1])})
    metrics = folder.metrics_log(resume_step=step if checkpoints else None) if main else None
    if main:
        folder.write_status("running", step=step, total_steps=plan.total_steps, phase="first_step")
    start_step = step

    # ---- the loop ----------------------------------------------------------------------------
    t0 = time.time()
    tokens_seen = 0
    first_loss = last_loss = eval_loss = None
    status = "done"
    for epoch in range(start_epoch, config.epochs):
        # Each optimizer step's micro-batches; on CPU a step's are joined (see batching.py).
        groups = epoch_steps(lengths, config.batch_size, config.grad_accum, config.seed, epoch, dist.rank,
                             dist.world_size, join_tokens=JOIN_TOKENS if device == "cpu" else 0)
        for g, group in enumerate(groups):
            if (g + 1) * config.grad_accum <= skip and epoch == start_epoch:
                continue  # done before the checkpoint we resumed from
            micro = [collate([samples[i] for i in b], pad_id) if b else _no_target_batch(samples[0], pad_id) for b in group]
            # Dropout is reseeded per step and rank: a resumed run draws the same masks as an
            # uninterrupted one, with no RNG state to save.
            torch.manual_seed(config.seed * 1_000_003 + step * dist.world_size + dist.rank)
            n_targets = int(distributed.sum_across(dist, sum(count_targets(m) for m in micro)))
            step_loss, step_tokens, _ = forward_backward(net, micro, device, n_targets, dist.world_size, scaler)
            if fsdp:
                distributed.average_gradients(dist, params)
            if scaler is not None:
                scaler.unscale_(optimizer)  # clip the true gradients
            step_loss = distributed.sum_across(dist, step_loss)
            step_tokens = int(distributed.sum_across(dist, step_tokens))
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm or float("inf")))
            lr = scheduler.get_last_lr()[0]
            if scaler is not None:
                scaler.step(optimizer)  # skipped when the scaled gradients overflowed
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens_seen += step_tokens
            elapsed = time.time() - t0
            first_loss = step_loss if first_loss is None else first_loss
            last_loss = step_loss
            row = {"type": "step", "step": step, "epoch": round(epoch + (g + 1) / len(groups), 4),
                   "loss": round(step_loss, 6), "lr": lr, "grad_norm": round(grad_norm, 6), "tokens": step_tokens,
                   "trained_tokens": n_targets, "elapsed": round(elapsed, 3),
                   "tokens_per_sec": round(tokens_seen / elapsed, 1) if elapsed else None}
            new = monitor.update(step, step_loss, lr, grad_norm)
            if new:
                row["findings"] = [f.code for f in new]
            if main:
                metrics.write({**row, "new_findings": [f.to_dict() for f in new]} if new else row)
                if step == start_step + 1:  # the first step of this process is done: the phase ends
                    folder.write_status("running", step=step, total_steps=plan.total_steps)
            emit({**row, "total_steps": plan.total_steps, "new_findings": [f.to_dict() for f in new]})

            end_of_epoch = g == len(groups) - 1
            if setup.prepared.eval and ((config.eval_steps and step % config.eval_steps == 0) or (not config.eval_steps and end_of_epoch)):
                eval_loss = evaluate(model, setup.prepared.eval, config.batch_size, pad_id, device)
                main and metrics.write({"type": "eval", "step": step, "epoch": round(epoch + (g + 1) / len(groups), 4), "eval_loss": round(eval_loss, 6)})
                emit({"type": "eval", "step": step, "eval_loss": eval_loss})
            cancelled = distributed.any_across(dist, stop is not None and stop.is_set())  # all ranks stop together
            due = (config.save_steps and step % config.save_steps == 0) or (not config.save_steps and end_of_epoch)
            if (due or cancelled) and main:
                position = {"step": step, "epoch": epoch + 1 if end_of_epoch else epoch,
                            "micro_batch": 0 if end_of_epoch else (g + 1) * config.grad_accum, "settings": shaping}
                with _io_guard(run_dir, "a checkpoint"):
                    path = save_checkpoint(run_dir, model, optimizer, position, keep=config.keep_checkpoints)
                emit({"type": "checkpoint", "step": step, "path": str(path)})
                folder.write_status("running", step=step, total_steps=plan.total_steps)
            if cancelled:
                status = "cancelled"
                break
        skip = 0
        if status == "cancelled":
            break

    seconds = time.time() - t0
    findings = setup.findings + list(monitor.raised.values())
    result = RunResult(run_dir, status, step, first_loss, last_loss, eval_loss, seconds, findings)
    if main:
        metrics.close()
        if status == "done":
            with _io_guard(run_dir, "the adapter"):
                _save_adapter(run_dir, model)
                write_manifest(folder, setup, result, monitor)
            learn(setup, seconds, step - start_step)  # the next estimate of this shape starts from this run's speed
        folder.write_status(status, step=step, total_steps=plan.total_steps)
    emit({"type": "done", "status": status, "step": step, "seconds": seconds})
    distributed.shutdown(dist)
    return result


@contextmanager
def _io_guard(run_dir: Path, what: str):
    """A full disk or a permission error ends the run with a clear message; what was saved before
    (complete checkpoints, written by rename) stays intact, and --resume continues from it."""
    try:
        yield
    except OSError as e:
        folder = RunFolder(run_dir)
        done = folder.checkpoints()
        last = f"the last complete checkpoint is {done[-1]}" if done else "no checkpoint was completed"
        try:
            folder.write_status("failed", error=str(e))
        except OSError:
            pass  # the same disk problem; the message below still says what happened
        raise RunError(f"could not write {what} in {run_dir}: {e}",
                       fix=f"free disk space or fix the folder's permissions, then rerun with --resume ({last})") from e


def _write_inputs(folder: RunFolder, setup: RunSetup) -> None:
    """What the run trains on, before step 1: the config as trained (the recipe's values filled
    in), the plan with the automatic values and why, the held-out prompts, the grown data."""
    config = setup.config
    if setup.expansion is not None:
        from ..data.expand import record

        path = folder.path / EXPANDED_FILE
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(expansion_bytes([record(c) for c in setup.expansion.samples]))
        config = config.model_copy(update={"data": str(path)})  # the doctor reads what was trained
    folder.write_config(config)
    if setup.heldout:
        folder.write_heldout([h.to_dict() for h in setup.heldout])
    folder.write_plan({
        "plan": setup.plan.to_dict(), "findings": [f.to_dict() for f in setup.findings],
        "auto": {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()},
        "memory": setup.memory.to_dict() if setup.memory is not None else None})


def _no_target_batch(sample: TokenizedSample, pad_id: int) -> dict:
    """A stand-in micro-batch with no trained token, for a rank whose slice of the last global
    batch is empty: it runs forward and backward (DDP needs every rank to) and adds nothing."""
    blank = TokenizedSample(sample.input_ids, [IGNORE_INDEX] * sample.n_tokens)
    return collate([blank], pad_id)


def _replay_losses(folder: RunFolder, upto: int) -> list[float]:
    return [r["loss"] for r in folder.metrics() if r.get("type") == "step" and r["step"] <= upto]


def _save_adapter(run_dir: Path, model) -> None:
    final = RunFolder(run_dir).adapter_dir
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def library_versions() -> dict:
    import peft
    import transformers

    from .. import __version__

    return {"lorastudio": __version__, "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def write_manifest(folder: RunFolder, setup: RunSetup, result: RunResult, monitor: LiveMonitor) -> None:
    """The self-description of a finished run; written last, so its presence means complete."""
    tok = setup.tokenizer
    manifest = {
        "format": "lorastudio-run/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": dict(folder.config()),
        "auto": {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()},
        "applied": setup.extra.get("applied", []),
        "plan": setup.plan.to_dict(),
        "base_model": fingerprint(setup.source),
        "chat_template": tok.chat_template,
        "chat_template_sha256": template_hash(tok),
        "dataset": {"path": str(setup.dataset.path), "sha256": setup.dataset.sha256, "format": setup.dataset.format,
                    "records": setup.prepared.n_records},
        "eval_data_sha256": sha256_file(setup.config.eval_data) if setup.config.eval_data else None,
        "versions": library_versions(),
        "device": {"device": setup.device.device, "dtype": str(setup.device.dtype), "threads": setup.device.threads,
                   "matmul_dtype": str(setup.device.matmul_dtype or setup.device.dtype),
                   "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
        "metrics": {**monitor.summary(), "steps": result.steps, "first_loss": result.first_loss,
                    "last_loss": result.last_loss, "eval_loss": result.eval_loss, "seconds": round(result.seconds, 2)},
        "findings": [f.to_dict() for f in result.findings],
        "adapter": "adapter",
    }
    folder.write_manifest(manifest)
