"""Load a base model and tokenizer, pick the device and dtype, and apply LoRA by module name."""

from __future__ import annotations

import os
import types
import warnings
from dataclasses import dataclass

import torch
from transformers.utils import logging as hf_logging

from ..errors import ModelError
from .sources import ModelSource

# Per-file "Loading weights" bars would bury our own progress output; errors still print.
hf_logging.disable_progress_bar()
# PEFT calls a transformers property that warns of its own rename on every wrap; not ours to fix.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)

# Attention projections by naming family; the first family the model has is the default target.
ATTENTION_FAMILIES = (
    ("q_proj", "k_proj", "v_proj", "o_proj"),  # Llama, Qwen2, Mistral, SmolLM, Gemma
    ("query_key_value", "dense"),  # Falcon, GPT-NeoX
    ("c_attn", "c_proj"),  # GPT-2
    ("Wqkv", "out_proj"),  # MPT, Phi
)


@dataclass
class DevicePlan:
    device: str  # "cuda" or "cpu"
    dtype: torch.dtype  # of the weights as loaded, and so of the activations
    threads: int
    matmul_dtype: torch.dtype | None = None  # bf16: frozen linear layers multiply in bf16 (see use_bf16_matmuls)


# Below this many parameters a model is too small to keep two cores busy: the per-op threading
# overhead outweighs the split work, and fp32 is exact at no cost (measured in shared PERF_NOTES).
SMALL_MODEL_PARAMS = 20_000_000


def cpu_has_fast_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls run 2-6x faster than fp32 (measured 2.4x on a 2-core
    AVX512-BF16 EPYC, 5-7x with AMX). Without them bf16 is emulated and slower than fp32."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(p is not None and p() for p in probes)


def pick_device(dtype: str = "auto", threads: int | None = None, n_params: int | None = None) -> DevicePlan:
    """CUDA with bf16 where it is supported. On CPU, "auto" means fp32 weights and activations, and:

    - for a model of SMALL_MODEL_PARAMS or more on a CPU with native bf16, bf16 matmuls in the
      frozen linear layers (`use_bf16_matmuls`): 1.4-1.5x faster on the bench models, with the
      loss curve of fp32. Plain bf16 weights were as fast but trained a real model (SmolLM2)
      visibly worse: the residual stream in bf16 rounds away the adapter's still-small effect;
    - one thread for a small model (two threads lose to one there).
    Without `n_params` (serving, the doctor) "auto" stays plain fp32: those paths compare outputs.
    """
    if torch.cuda.is_available():
        want = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        chosen = {"auto": want, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
        return DevicePlan("cuda", chosen, threads or torch.get_num_threads())
    small = n_params is not None and n_params < SMALL_MODEL_PARAMS
    fast_bf16 = n_params is not None and not small and dtype == "auto" and cpu_has_fast_bf16()
    chosen = {"auto": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float32, "fp32": torch.float32}[dtype]
    if threads is None:
        threads = 1 if small else (os.cpu_count() or 1)
    return DevicePlan("cpu", chosen, threads, matmul_dtype=torch.bfloat16 if fast_bf16 else None)


def use_bf16_matmuls(model) -> int:
    """Make the model's linear layers (lm_head aside) multiply in bf16 while everything else
    stays fp32: the weight is stored in bf16 (half the memory), the input is rounded to bf16 for
    the matmul, and the output comes back as fp32, bias added in fp32.

    Why not simply bf16 weights: then the activations and the residual stream are bf16 too,
    and a LoRA adapter's effect, small while B grows from zero, is rounded away (SmolLM2, 20
    steps: eval loss 3.298 against 3.275 in fp32, 6x the seed-to-seed spread). Here the
    rounding only perturbs the frozen base's matmuls, a fixed perturbation (SmolLM2's base
    loss: 3.4703 against 3.4705), and the adapter's output is added in fp32.
    Call it before LoRA is applied; returns the number of layers changed."""
    n = 0
    for name, module in model.named_modules():
        if type(module) is torch.nn.Linear and not name.endswith("lm_head"):
            module.weight.data = module.weight.data.to(torch.bfloat16)
            module.forward = types.MethodType(_bf16_linear_forward, module)
            n += 1
    # Loaded weights are views of the memory-mapped safetensors file. The fp32 tensors left
    # (embeddings, norms, biases) would keep the whole mapping, and every page the conversion
    # read, resident: copying them out lets it go (SmolLM2: 1,027 → 730 MB after loading).
    for t in list(model.parameters()) + list(model.buffers()):
        if t.dtype != torch.bfloat16 and t.device.type == "cpu":
            t.data = t.data.clone()
    return n


def _bf16_linear_forward(self, x: torch.Tensor) -> torch.Tensor:
    out = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)
    return out if self.bias is None else out + self.bias


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source.path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise _load_error(source, e) from e
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token  # padding positions are masked out of attention and loss anyway
    return tok


def load_model(source: ModelSource, dtype: torch.dtype = torch.float32, device: str = "cpu", trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            source.path, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as e:
        raise _load_error(source, e) from e
    return model.to(device)


def _load_error(source: ModelSource, e: Exception) -> ModelError:
    if source.kind == "hub":
        return ModelError(
            f"could not load '{source.spec}' from the hub: {e}",
            fix="check the id and the network, or download it once and pass the local folder to --model",
        )
    return ModelError(f"could not load the model in {source.path}: {e}", fix="check that the folder holds a complete model")


def linear_module_names(model) -> list[str]:
    """Leaf names (last dotted part) of the linear layers LoRA can wrap, lm_head excluded."""
    names = set()
    for full, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not full.endswith("lm_head"):
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def resolve_target_modules(model, requested: list[str] | None) -> list[str]:
    """Default: the attention projections the model has. 'all-linear' adds the MLP."""
    available = linear_module_names(model)
    if not requested:
        for family in ATTENTION_FAMILIES:
            found = [n for n in family if n in available]
            if found:
                return found
        raise ModelError(
            "could not find attention projections to put LoRA on",
            fix=f"pass --target-modules with names from: {', '.join(available)}",
        )
    if requested in (["all-linear"], ["all"]):
        return available
    missing = [n for n in requested if n not in available]
    if missing:
        raise ModelError(
            f"target modules {missing} not found in the model",
            fix=f"the model's linear layers are: {', '.join(available)} (or use 'all-linear')",
        )
    return list(requested)


def apply_lora(model, r: int, alpha: float, dropout: float, target_modules: list[str], init_identity: bool = True):
    """Wrap the model with a fresh LoRA adapter named 'default'.

    `init_identity=False` starts B non-zero (tests that compare base and adapter need that,
    or they would pass without testing anything).
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        init_lora_weights=True if init_identity else False,
    )
    return get_peft_model(model, config)


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
