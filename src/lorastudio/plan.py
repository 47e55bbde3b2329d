"""What a training run will do, computed before step 1: pure arithmetic on counts.

Both training (for the scheduler and the progress bar) and the doctor (for its checks and
fixes) read this, so the numbers a user is shown are the numbers the loop runs.

    effective batch   = batch_size x grad_accum x world_size       (samples per optimizer step)
    micro-batches     = ceil(samples / (batch_size x world_size))  (per process, per epoch)
    steps per epoch   = ceil(micro-batches / grad_accum)           (a last partial group still steps)
    total steps       = steps per epoch x epochs

e.g. 20 samples, batch 16, accumulation 1, 3 epochs: ceil(20/16) = 2 steps per epoch, 6 in all
(drop-last, as some tools do, would give 1 per epoch and 3 in all).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .config import TrainConfig

# Sustained fraction of peak matmul throughput a LoRA step reaches, for the time estimate
# (measured: 39% of the fp32 peak on 2 CPU cores for an 83M model).
STEP_EFFICIENCY = 0.35
CPU_FP32_FLOPS = 400e9  # a 2-core AVX-512 machine's fp32 matmul rate, measured
GPU_BF16_FLOPS = 300e12  # conservative for an A100/H100-class card


def micro_batches_per_epoch(n_samples: int, batch_size: int, world_size: int = 1) -> int:
    per_process = math.ceil(n_samples / world_size)
    return math.ceil(per_process / batch_size)


def steps_per_epoch(n_samples: int, batch_size: int, grad_accum: int, world_size: int = 1, drop_last: bool = False) -> int:
    if drop_last:
        return (n_samples // (batch_size * world_size)) // grad_accum
    return math.ceil(micro_batches_per_epoch(n_samples, batch_size, world_size) / grad_accum)


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    if config.warmup_steps is not None:
        return config.warmup_steps
    return math.ceil(config.warmup_ratio * total_steps)


@dataclass
class Plan:
    n_records: int
    n_train: int
    n_eval: int
    world_size: int
    batch_size: int
    grad_accum: int
    effective_batch: int
    micro_batches_per_epoch: int
    steps_per_epoch: int
    steps_per_epoch_drop_last: int
    epochs: int
    total_steps: int
    warmup_steps: int
    lr: float
    lora_r: int
    lora_alpha: float
    tokens_per_epoch: int = 0
    trainable_tokens_per_epoch: int = 0
    max_tokens: int = 0  # the longest training sample as trained (after any cut)
    p95_tokens: int = 0
    max_full_tokens: int = 0  # the longest task sample before any cut: what a fix must make room for
    context_length: int | None = None  # the model's max positions
    dropped_no_labels: int = 0
    masked: int = 0  # samples whose every answer has loss_weight 0 (left out)
    truncated: int = 0
    response_truncated: int = 0
    dropped_too_long: int = 0  # longer than max_seq_len and left out (long_samples "drop")
    dropped_duplicates: int = 0
    long_samples: str = "truncate"
    heldout: dict = field(default_factory=dict)  # automatic held-out prompts by kind: {"reworded": 16, "unseen": 8}
    no_end_of_turn: int = 0
    duplicates: int = 0
    eval_source: str = "none"
    n_general: int = 0  # general replay samples inside n_train (--mix-general)
    has_probes: bool = False
    max_seq_len: int = 0
    target_modules: list[str] = field(default_factory=list)
    available_modules: list[str] = field(default_factory=list)
    trainable_params: int = 0
    total_params: int = 0
    estimated_seconds: float | None = None
    estimate_calibrated: bool = False  # from step costs measured on this machine (training/estimate.py)

    @property
    def label_coverage(self) -> float:
        """Share of tokens that carry a loss: near 0 means the answers were masked away."""
        return self.trainable_tokens_per_epoch / self.tokens_per_epoch if self.tokens_per_epoch else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["label_coverage"] = round(self.label_coverage, 4)
        return d


def make_plan(
    config: TrainConfig,
    n_records: int,
    lengths: list[int],
    trainable: list[int],
    n_eval: int = 0,
    world_size: int = 1,
    **extra,
) -> Plan:
    """`lengths`/`trainable`: tokens and trained tokens of each training sample (after truncation)."""
    n_train = len(lengths)
    spe = steps_per_epoch(n_train, config.batch_size, config.grad_accum, world_size)
    total = spe * config.epochs
    ordered = sorted(lengths)
    plan = Plan(
        n_records=n_records,
        n_train=n_train,
        n_eval=n_eval,
        world_size=world_size,
        batch_size=config.batch_size,
        grad_accum=config.grad_accum,
        effective_batch=config.batch_size * config.grad_accum * world_size,
        micro_batches_per_epoch=micro_batches_per_epoch(n_train, config.batch_size, world_size),
        steps_per_epoch=spe,
        steps_per_epoch_drop_last=steps_per_epoch(n_train, config.batch_size, config.grad_accum, world_size, drop_last=True),
        epochs=config.epochs,
        total_steps=total,
        warmup_steps=warmup_steps(config, total),
        lr=config.lr,
        lora_r=config.lora_r,
        lora_alpha=config.lora_alpha,
        tokens_per_epoch=sum(lengths),
        trainable_tokens_per_epoch=sum(trainable),
        max_tokens=ordered[-1] if ordered else 0,
        p95_tokens=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0,
        max_seq_len=config.max_seq_len,
        **extra,
    )
    return plan


def estimate_seconds(plan: Plan, device: str, n_params: int) -> float:
    """Rough wall time: ~4 FLOPs per parameter per token (forward 2N plus input gradients 2N;
    frozen weights need no weight gradients), at STEP_EFFICIENCY of the device's peak."""
    flops = 4 * n_params * plan.tokens_per_epoch * plan.epochs
    peak = GPU_BF16_FLOPS if device == "cuda" else CPU_FP32_FLOPS
    return flops / (peak * STEP_EFFICIENCY)
