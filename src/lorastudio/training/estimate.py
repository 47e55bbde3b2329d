"""How long training will take, measured on this machine rather than guessed from peak FLOPs.

A micro-batch of `rows` samples padded to `width` tokens costs, forward and backward,

    seconds = a + b x rows x width + c x rows x width²

(b: the matmuls, linear in tokens; c: attention, quadratic in the width; a: per-call overhead),
and an optimizer step costs `opt`. These are fitted from a few real micro-batches of the run's
own data (the shortest, a middling and the longest of the plan's first epoch, after one untimed
warm-up), and cached per model, device, dtype, threads, LoRA shape, quantisation and gradient
checkpointing (recomputing activations costs ~30%) in the studio home, so the
next run of the same model is estimated without measuring. The estimate then walks the run's
exact batching: every optimizer step of every epoch, as the loop will form them. After each
finished run the cached costs are rescaled to the time it really took (`learn`).

The model's LoRA weights and gradients are put back as they were after measuring.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import fingerprint, studio_home
from .batching import JOIN_TOKENS, collate, epoch_steps
from .loss import trained_token_loss

CACHE_FILE = "step-costs.json"
EVAL_SHARE = 1 / 3  # a forward pass without backward costs about a third of both


@dataclass
class StepCost:
    a: float  # seconds per micro-batch call
    b: float  # seconds per padded token
    c: float  # seconds per padded token x width (attention)
    opt: float  # seconds per optimizer step
    measured: str = ""

    def micro_batch(self, rows: int, width: int) -> float:
        return self.a + self.b * rows * width + self.c * rows * width * width


def cost_key(setup) -> str:
    d, c = setup.device, setup.config
    model = fingerprint(setup.source).get("content_hash") or setup.source.path
    checkpointing = setup.memory.gradient_checkpointing if setup.memory is not None else bool(c.gradient_checkpointing)
    return json.dumps([model, d.device, str(d.dtype), str(d.matmul_dtype), d.threads, sorted(setup.plan.target_modules),
                       c.lora_r, c.quantize, checkpointing, torch.__version__])


def _cache() -> Path:
    return studio_home() / CACHE_FILE


def cached_cost(setup) -> StepCost | None:
    try:
        entry = json.loads(_cache().read_text(encoding="utf-8")).get(cost_key(setup))
        return StepCost(**entry) if entry else None
    except (OSError, ValueError, TypeError):
        return None  # no cache, or one from another version: measure again


def _store(setup, cost: StepCost) -> None:
    path = _cache()
    try:
        table = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        table = {}
    table[cost_key(setup)] = asdict(cost)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(table, indent=1), encoding="utf-8")
    tmp.replace(path)


def _groups(setup, epoch: int) -> list[list[list[int]]]:
    c = setup.config
    lengths = [s.n_tokens for s in setup.prepared.train]
    join = JOIN_TOKENS if setup.device.device == "cpu" else 0
    return epoch_steps(lengths, c.batch_size, c.grad_accum, c.seed, epoch, 0, setup.plan.world_size, join_tokens=join)


def _shape(setup, micro: list[int]) -> tuple[int, int]:
    train = setup.prepared.train
    return len(micro), max((train[i].n_tokens for i in micro), default=0)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(setup) -> StepCost:
    """Time real micro-batches of this run on its loaded model (setup.model); see the module doc."""
    model, device, train = setup.model, setup.device.device, setup.prepared.train
    pad = setup.tokenizer.pad_token_id
    micros = sorted({tuple(m) for g in _groups(setup, 0) for m in g if m}, key=lambda m: _shape(setup, list(m))[0] *
                    _shape(setup, list(m))[1])
    picks = [micros[0], micros[len(micros) // 2], micros[-1]] if len(micros) >= 3 else micros
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    optimizer = torch.optim.AdamW(params, lr=0.0)
    torch.set_num_threads(setup.device.threads)
    model.train()
    rows, times = [], []
    try:
        for k, micro in enumerate([picks[0], *picks]):
            batch = {key: v.to(device) for key, v in collate([train[i] for i in micro], pad).items()}
            _sync(device)
            t0 = time.perf_counter()
            trained_token_loss(model, batch).backward()
            _sync(device)
            if k:  # the first call warms up allocators and kernels
                rows.append(_shape(setup, list(micro)))
                times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        optimizer.step()
        _sync(device)
        opt = time.perf_counter() - t0
    finally:
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for p, old in zip(params, saved, strict=True):
                p.copy_(old)
    return StepCost(*_fit(rows, times), opt=opt, measured=time.strftime("%Y-%m-%dT%H:%M:%S"))


def _fit(shapes: list[tuple[int, int]], times: list[float]) -> tuple[float, float, float]:
    """Non-negative (a, b, c) through the measured points; with too few distinct shapes for the
    quadratic term, a line through the origin in tokens."""
    x = np.array([[1.0, r * w, r * w * w] for r, w in shapes])
    y = np.array(times)
    if len({w for _, w in shapes}) >= 3:
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        if (coef >= 0).all():
            return tuple(float(v) for v in coef)
    tokens = x[:, 1]
    return 0.0, float((tokens @ y) / max(tokens @ tokens, 1e-9)), 0.0


def predict(setup, cost: StepCost) -> float:
    """Seconds for every optimizer step of every epoch as the loop forms them, and the evals."""
    total, steps = 0.0, 0
    for epoch in range(setup.config.epochs):
        for group in _groups(setup, epoch):
            steps += 1
            total += sum(cost.micro_batch(*_shape(setup, m)) for m in group if m)
    evals = setup.prepared.eval
    if evals:
        per_eval = sum(cost.micro_batch(1, s.n_tokens) for s in evals) * EVAL_SHARE
        n_evals = setup.plan.total_steps // setup.config.eval_steps if setup.config.eval_steps else setup.config.epochs
        total += per_eval * n_evals
    return total + steps * cost.opt


def calibrated_seconds(setup, measure_if_needed: bool = True) -> float | None:
    """The run's training time from this machine's measured step costs; None when there are none
    cached and measuring is not possible (no model loaded) or not asked for."""
    cost = cached_cost(setup)
    if cost is None and measure_if_needed and setup.model is not None and setup.prepared.train:
        cost = measure(setup)
        _store(setup, cost)
    return round(predict(setup, cost), 1) if cost else None


LEARN_MIN_STEPS = 5  # a run shorter than this says too little about the machine's speed


def learn(setup, seconds: float, steps: int) -> StepCost | None:
    """After a run of one process: rescale the cached step costs so that they predict the time
    this run took. The first measurement is three micro-batches, and a machine busy at that moment
    would be remembered as slow forever (the demo once printed "8 min 4 s" and trained in 3 min
    24 s); a whole run is a better measurement. Returns the stored costs, or None."""
    cost = cached_cost(setup)
    total = setup.plan.total_steps
    if cost is None or steps < LEARN_MIN_STEPS or not total or seconds <= 0 or setup.plan.world_size > 1:
        return None
    predicted = predict(setup, cost) * steps / total
    if predicted <= 0:
        return None
    k = seconds / predicted
    learned = StepCost(cost.a * k, cost.b * k, cost.c * k, cost.opt * k,
                       measured=time.strftime("%Y-%m-%dT%H:%M:%S") + f" (a run of {steps} steps)")
    _store(setup, learned)
    return learned


# `plan` measures step costs itself (loading the weights) only for models this small; bigger
# ones are measured when they first train, and planned from that measurement afterwards.
CALIBRATE_MAX_PARAMS = 2_000_000_000


def calibrate(setup, config, world_size: int = 1, thresholds=None,
              measure: bool = True) -> None:
    """Replace the plan's rough time estimate by one from step costs measured on this machine
    (cached; measured now, loading the weights, when `measure` and the model is small enough)."""
    seconds = calibrated_seconds(setup, measure_if_needed=setup.model is not None and measure)
    n_params = setup.plan.total_params - setup.plan.trainable_params
    if seconds is None and measure and setup.model is None and n_params <= CALIBRATE_MAX_PARAMS:
        from .setup import plan_run  # loads the weights: only when nothing was cached

        seconds = calibrated_seconds(plan_run(config, world_size, load_weights=True, thresholds=thresholds))
    if seconds is not None:
        setup.plan.estimated_seconds, setup.plan.estimate_calibrated = seconds, True
