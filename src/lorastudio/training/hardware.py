"""What a run needs from the machine: its memory plan before step 1 (from the meta-device
model: no weights), and the base model loaded the way that plan says (quantised, checkpointed).

The arithmetic is in memory.py; this module reads its inputs off the model, the data and the
config, decides gradient checkpointing when the user left it to us, and loads accordingly.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..config import TrainConfig
from ..data.formatting import IGNORE_INDEX
from ..data.prepare import Prepared
from ..errors import ConfigError, ModelError
from ..memory import MemoryPlan, ModelShape, Settings, estimate, fit, gib
from ..models import DevicePlan, ModelSource, decoder_layers, load_model, resolve_target_modules
from ..models.fused_mlp import fusable_mlp
from ..models.loading import enable_checkpointing, prepare_quantized, use_bf16_matmuls
from .batching import JOIN_TOKENS


def model_shape(base) -> ModelShape | None:
    """The shape memory.py needs, with exact counts from the (meta-device) model itself;
    None for a layout it cannot read (no hidden size, layers or heads in the config)."""
    try:
        shape = ModelShape.from_config(base.config)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    layers = decoder_layers(base)
    linears, linear_params = shape.linears, shape.linear_params
    if layers is not None:
        first = [(n.rsplit(".", 1)[-1], m.in_features, m.out_features) for n, m in layers[0].named_modules()
                 if isinstance(m, torch.nn.Linear)]
        linears = tuple(first) or linears
        linear_params = sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))
    names = {n for n, _, _ in linears}
    llama_like = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} <= names
    fused_mlp = layers is not None and any(fusable_mlp(m) for m in layers[0].modules())  # what apply_lora fuses
    return replace(shape, n_params=sum(p.numel() for p in base.parameters()), linear_params=linear_params,
                   linears=linears, llama_like=llama_like, fused_mlp=fused_mlp)


def gpu_budget(config: TrainConfig) -> tuple[int | None, str]:
    """Bytes a GPU has for this run: --gpu-memory, else the detected GPU's free memory."""
    if config.gpu_memory is not None:
        return config.gpu_memory_bytes, f"--gpu-memory {config.gpu_memory}"
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return free, f"{torch.cuda.get_device_name()} ({gib(free)} free of {gib(total)})"
    return None, ""


def plan_memory(config: TrainConfig, base, prepared: Prepared, device: DevicePlan, world_size: int = 1) -> MemoryPlan | None:
    """The memory plan of this run, per process. On a GPU (or with --gpu-memory) it is checked
    against the GPU's memory; on CPU it is what the process will add to its RSS."""
    if config.fsdp and config.quantize != "none":
        raise ConfigError("--fsdp with --quantize is not supported: FSDP cannot shard bitsandbytes' 4-bit weights here",
                          fix="a 4-bit base of up to ~14B parameters fits one 24 GB GPU: use --nproc N without --fsdp",
                          option="--fsdp")
    shape = model_shape(base)
    if shape is None:
        return None
    budget, source = gpu_budget(config)
    on_gpu = device.device == "cuda" or budget is not None
    seq = max((t.n_tokens for t in prepared.train), default=config.max_seq_len)
    # On CPU a step's micro-batches are joined up to JOIN_TOKENS padded tokens (batching.py).
    rows = config.batch_size if on_gpu else max(1, min(config.batch_size * config.grad_accum, JOIN_TOKENS // seq))
    logit_positions = _trained_positions(prepared, rows) or seq
    try:
        targets = resolve_target_modules(base, config.target_modules)
    except ModelError:
        targets = []  # TARGET_MODULES_MISSING says so; the plan counts no adapter
    if on_gpu:
        dtype = "fp32" if config.dtype == "fp32" else ("fp16" if device.dtype == torch.float16 or config.dtype == "fp16" else "bf16")
    else:
        dtype = "bf16" if device.dtype == torch.bfloat16 else "fp32"
    settings = Settings(
        device="cuda" if on_gpu else "cpu", dtype=dtype, quantize=config.quantize, batch_size=rows, seq_len=seq,
        logit_positions=logit_positions, gradient_checkpointing=bool(config.gradient_checkpointing),
        world_size=world_size, fsdp=config.fsdp and world_size > 1, lora_r=config.lora_r, targets=tuple(targets),
        lora_dropout=config.lora_dropout, cpu_bf16_matmuls=not on_gpu and device.matmul_dtype == torch.bfloat16,
    )
    auto, notes = {}, []
    if config.gradient_checkpointing is None and budget is not None:
        without = estimate(shape, settings)
        if without.total > budget:
            settings = replace(settings, gradient_checkpointing=True)
            auto["gradient_checkpointing"] = f"on: without it the peak would be {gib(without.total)} of {gib(budget)}"
    if config.fsdp and world_size == 1:
        notes.append("--fsdp has no effect on one process: add --nproc N (one per GPU)")
    breakdown = estimate(shape, settings)
    fitted = None
    if budget is not None and breakdown.total > budget:
        fitted = fit(shape, settings, budget, config.grad_accum)
    return MemoryPlan(breakdown, budget, source, fitted, auto, notes)


def _trained_positions(prepared: Prepared, rows: int) -> int:
    """Positions the loop computes logits at (any row's label trained there) in the micro-batch of
    the longest samples, which length grouping puts together: the logits' share of the peak."""
    longest = sorted(prepared.train, key=lambda t: t.n_tokens, reverse=True)[:rows]
    positions = set()
    for sample in longest:
        positions.update(i for i, label in enumerate(sample.labels[1:]) if label != IGNORE_INDEX)
    return len(positions)


def load_base(source: ModelSource, config: TrainConfig, device: DevicePlan, memory: MemoryPlan | None, world_size: int = 1):
    """The base model as the memory plan has it: quantised or not, checkpointed or not.
    With FSDP it is loaded on the CPU: each process then moves only its shard to its GPU."""
    checkpointing = memory.gradient_checkpointing if memory is not None else bool(config.gradient_checkpointing)
    where = "cpu" if config.fsdp and world_size > 1 else device.device
    if config.quantize != "none":
        base = load_model(source, device.dtype, where, config.trust_remote_code, quantize=config.quantize)
        base = prepare_quantized(base, device.dtype)
    else:
        base = load_model(source, device.dtype, where, config.trust_remote_code)
        if device.matmul_dtype == torch.bfloat16:
            use_bf16_matmuls(base)  # before LoRA: only the frozen base layers change
    if checkpointing:
        enable_checkpointing(base)
    return base
