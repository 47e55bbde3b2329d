"""Load a base model and tokenizer, pick the device and dtype, and apply LoRA by module name."""

from __future__ import annotations

import functools
import inspect
import os
import types
import warnings
from dataclasses import dataclass

import torch
from transformers.utils import logging as hf_logging

from ..errors import ModelError
from .catalog import no_weights_error
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
# overhead outweighs the split work, and fp32 is exact at no cost (measured on 2 CPU cores).
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
    if source.kind == "config":
        return _plan_only_tokenizer(source.path)
    return _load_tokenizer(source, trust_remote_code)


@functools.lru_cache(maxsize=4)
def _plan_only_tokenizer(path: str):
    """A bundled config's tokenizer, parsed once per process: its 151k merges take seconds, and
    `plan` is asked again and again with the same model (the web form, tests)."""
    return _load_tokenizer(ModelSource(path, "local", path))


def _load_tokenizer(source: ModelSource, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source.path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise _load_error(source, e) from e
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token  # padding positions are masked out of attention and loss anyway
    return tok


def load_model(source: ModelSource, dtype: torch.dtype = torch.float32, device: str = "cpu", trust_remote_code: bool = False,
               quantize: str = "none"):
    """`quantize` "4bit" (NF4, double quantisation, `dtype` as compute dtype) or "8bit": the
    linear layers are quantised by bitsandbytes as they are loaded, on `device`."""
    from transformers import AutoModelForCausalLM

    if source.kind == "config":
        raise no_weights_error(source.spec)
    extra = {}
    if quantize != "none":
        extra = {"quantization_config": _bnb_config(quantize, dtype),
                 "device_map": {"": torch.cuda.current_device() if device == "cuda" else device}}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source.path, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code, **extra
        )
    except (OSError, ValueError) as e:
        raise _load_error(source, e) from e
    return model if quantize != "none" else model.to(device)


def _bnb_config(quantize: str, compute_dtype: torch.dtype):
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        raise ModelError(f"--quantize {quantize} needs a CUDA GPU and bitsandbytes, which is not installed",
                         fix="pip install bitsandbytes (on a machine with a CUDA GPU), or leave --quantize out") from None
    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def prepare_quantized(model, compute_dtype: torch.dtype):
    """PEFT's k-bit preparation (freeze the base, let gradients reach the inputs), then the
    weights that stay unquantised go back to the compute dtype.

    Why undo PEFT's upcast: it casts every weight that is not quantised (embeddings, norms, output
    layer) to fp32, for fp16 training on old cards. That makes the residual stream, and so every
    activation, fp32 (twice the activation memory) and, for Qwen2.5-7B's untied 152k x 3,584
    embeddings, adds 2.2 GB of weights. The norms compute in fp32 inside anyway, and the LoRA
    weights stay fp32 (PEFT's default), which is what the loss scaler needs with fp16."""
    from peft import prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    if compute_dtype != torch.float32:
        for p in model.parameters():
            if p.dtype == torch.float32:
                p.data = p.data.to(compute_dtype)
    return model


def enable_checkpointing(model) -> None:
    """Keep only each decoder layer's input and recompute the rest in the backward pass
    (non-reentrant: works with frozen inputs and needs no input-grad hack)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable({"use_reentrant": False})
    model.config.use_cache = False


def _load_error(source: ModelSource, e: Exception) -> ModelError:
    if source.kind == "hub":
        return ModelError(
            f"could not load '{source.spec}' from the hub: {e}",
            fix="check the id and the network, or download it once and pass the local folder to --model",
        )
    return ModelError(f"could not load the model in {source.path}: {e}", fix="check that the folder holds a complete model")


def decoder_layers(model) -> torch.nn.ModuleList | None:
    """The stack of decoder layers (Llama's model.layers, GPT-2's transformer.h): the
    ModuleList holding the most parameters."""
    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) > 0]
    if not lists:
        return None
    return max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))


def accepts_logits_to_keep(model) -> bool:
    """Whether the causal LM's forward computes the output layer only at `logits_to_keep`
    positions (transformers' current architectures); through PEFT and DistributedDataParallel."""
    inner = getattr(model, "module", model)  # DistributedDataParallel keeps the model in .module
    base = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def logits_at(model, input_ids: torch.Tensor, positions: torch.Tensor, attention_mask: torch.Tensor | None = None):
    """The causal LM's logits (B, K, V) at the K given positions only: computed there where the
    architecture takes `logits_to_keep`, else selected from the full logits."""
    mask = {} if attention_mask is None else {"attention_mask": attention_mask}
    if accepts_logits_to_keep(model):
        return model(input_ids=input_ids, logits_to_keep=positions, use_cache=False, **mask).logits
    return model(input_ids=input_ids, use_cache=False, **mask).logits[:, positions]


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


def apply_lora(model, r: int, alpha: float, dropout: float, target_modules: list[str], init_identity: bool = True,
               fused: bool = True):
    """Wrap the model with a fresh LoRA adapter named 'default'.

    `init_identity=False` starts B non-zero (tests that compare base and adapter need that,
    or they would pass without testing anything). `fused`: the LoRA linear layers and the SwiGLU
    MLPs' activation run as one autograd node each where they can (fused_lora.py, fused_mlp.py);
    False keeps PEFT's and the model's own forward.
    """
    from peft import LoraConfig, get_peft_model

    from .fused_lora import fuse_lora_layers
    from .fused_mlp import fuse_mlps

    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        init_lora_weights=True if init_identity else False,
    )
    peft_model = get_peft_model(model, config)
    if fused:
        fuse_lora_layers(peft_model)
        fuse_mlps(peft_model)
    return peft_model


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
