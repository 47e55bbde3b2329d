"""Peak memory of a LoRA training step, from the model's shape alone (no weights, no torch).

    peak = weights + LoRA state + activations + logits (+ CUDA context and allocator slack on a GPU)

weights      every parameter at its stored size: bf16/fp16 2 bytes, fp32 4; 4-bit NF4 with double
             quantisation 0.516 bytes for the decoder's linear layers (4 bits plus 0.127 bits of
             block scales, as in the QLoRA paper), the rest (embeddings, norms) in the compute dtype.
             With FSDP each process holds 1/N of them plus two decoder layers gathered at a time.
LoRA state   r x (in + out) per target module per layer; PEFT keeps adapter weights in fp32 even on
             a bf16 base, so 4 (weight) + 4 (gradient) + 8 (AdamW's two moments) = 16 bytes each.
activations  what autograd keeps for the backward pass, per token per decoder layer, counted tensor
             by tensor (see `layer_bytes_per_token`; measured exactly against a real model's saved
             tensors in tests/test_memory_measured.py), plus one layer's gradients while the backward
             pass computes them. With gradient checkpointing only each layer's input is kept, plus
             one layer's full set while it is recomputed.
logits       the loop computes logits only at trained positions (B x K x vocab): at the start of the
             backward pass the fp32 log-softmax kept for it, its gradient and the gradient of the
             logits are alive together, 12 bytes per element. Where the output layer is fused
             with the loss (one process on a GPU, a plain output layer: training/loss.py), only one slice
             of FUSED_SLICE_ELEMENTS logits and its log-softmax (8 bytes each) are alive, plus the
             gradient of the B x K hidden states.

`fit` searches the settings a user can change (gradient checkpointing, a smaller micro-batch with
more accumulation, FSDP, a 4-bit base, a shorter max length) for the cheapest change that fits a
budget, and returns the config changes as a dict that can be applied as they are.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, Mapping

GiB = 1024**3
NF4_BYTES = 4.127 / 8  # 4 bits + double-quantised absmax (8 bits per 64 weights, fp32 per 256 blocks)
INT8_BYTES = 1.0 + 1 / 64  # LLM.int8: one byte per weight plus per-row scales (rounded up)
LORA_STATE_BYTES = 16  # fp32 weight + gradient + AdamW exp_avg + exp_avg_sq
LOGIT_BYTES = 12  # fp32 log-softmax kept + its gradient + the logits' gradient, alive together
# The fused output-layer loss (training/loss.py): on a GPU, for one process, logits computed this
# many at a time (32 MB in fp32) whatever the vocabulary, for causal LMs whose logits are exactly
# lm_head(final hidden state): no soft-capping (Gemma 2/3), no logit scale (Cohere, Granite), no
# router loss (MoE). Not on a CPU, where it bought nothing measurable: SmolLM2's 49k vocabulary at
# 4 x 136 trained positions, 5.9 s and 2.82 GB a step in one slice against 5.7-6.0 s and 2.79-2.96
# GB unfused (thinner slices were slower: 6.2 s in 170 rows, 6.7 s in 42); a 4-layer model's peak
# RSS 508 against 528 MB, and the same 294 MB with gradient checkpointing, whose peak is in the
# backward pass (2-core AVX2 EPYC).
FUSED_DEVICES = frozenset({"cuda"})
FUSED_SLICE_ELEMENTS = 8 * 1024 * 1024
FUSED_HEAD_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "smollm3", "olmo2"})
FUSED_LOGIT_BYTES = 8  # the slice's fp32 logits and log-softmax
# On the card but not in torch's max_memory_allocated: the CUDA context and cuBLAS workspaces
# (~0.5 GiB), and the caching allocator's fragmentation, which grows when every step has a
# different sequence length, as length-grouped steps do (10% of the rest). Estimates, not yet
# measured here: bench/gpu_check.py reports reserved and device-used memory beside the plan.
CUDA_CONTEXT_BYTES = GiB // 2
CUDA_SLACK = 0.10

Device = Literal["cuda", "cpu"]
Quantize = Literal["none", "4bit", "8bit"]

# Leaf names of a Llama-family decoder layer (Llama, Qwen2, Mistral, SmolLM): which tensor each
# one's input is, so that LoRA inputs already kept for another reason are not counted twice.
ATTN_IN = ("q_proj", "k_proj", "v_proj")  # the attention norm's output
MLP_IN = ("gate_proj", "up_proj")  # the MLP norm's output


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    n_params: int  # every parameter, tied embeddings once
    linear_params: int  # weights of the decoder layers' linear layers: what 4-bit quantises
    linears: tuple[tuple[str, int, int], ...]  # one decoder layer's linear layers: (leaf name, in, out)
    llama_like: bool = True  # the activation count knows this layer layout
    fused_head: bool = False  # the loss can fuse the output layer (FUSED_HEAD_TYPES)
    fused_mlp: bool = False  # the MLP's silu(gate) * up is one autograd node (models/fused_mlp.py)

    @property
    def layer_params(self) -> int:
        return (self.n_params - self.vocab * self.hidden * (1 if self.tied else 2)) // max(self.layers, 1)

    @classmethod
    def from_config(cls, cfg: Mapping | object) -> ModelShape:
        """From a Hugging Face config (the object or its config.json as a dict), Llama-family layout."""
        get = (lambda k, d=None: cfg.get(k, d)) if isinstance(cfg, Mapping) else (lambda k, d=None: getattr(cfg, k, d))

        def first(*names, default=None):
            for n in names:
                if get(n) is not None:
                    return get(n)
            return default

        h = int(first("hidden_size", "n_embd", "d_model"))
        layers = int(first("num_hidden_layers", "n_layer", "num_layers"))
        heads = int(first("num_attention_heads", "n_head"))
        kv = int(first("num_key_value_heads", default=heads))
        hd = int(first("head_dim", default=h // heads))
        inter = int(first("intermediate_size", "n_inner", "ffn_dim", default=4 * h))
        vocab = int(get("vocab_size"))
        tied = bool(first("tie_word_embeddings", default=True))
        q, k = heads * hd, kv * hd
        linears = (("q_proj", h, q), ("k_proj", h, k), ("v_proj", h, k), ("o_proj", q, h),
                   ("gate_proj", h, inter), ("up_proj", h, inter), ("down_proj", inter, h))
        linear_w = sum(i * o for _, i, o in linears)
        bias = (q + 2 * k) if (get("model_type") == "qwen2" or get("attention_bias")) else 0
        per_layer = linear_w + bias + 2 * h  # + the two RMSNorm weights
        n = vocab * h * (1 if tied else 2) + layers * per_layer + h  # + the final norm
        return cls(h, layers, heads, kv, hd, inter, vocab, tied, n, layers * linear_w, linears,
                   fused_head=get("model_type") in FUSED_HEAD_TYPES,
                   fused_mlp=get("hidden_act", "silu") in ("silu", "swish"))  # the Llama MLP: models/fused_mlp.py


@dataclass(frozen=True)
class Settings:
    """What the run does, as far as memory goes. Sizes are per process and per micro-batch."""

    device: Device = "cuda"
    dtype: Literal["bf16", "fp16", "fp32"] = "bf16"  # weights and activations
    quantize: Quantize = "none"
    batch_size: int = 1  # rows per micro-batch
    seq_len: int = 512  # padded tokens per row: the longest sample, at most max_seq_len
    logit_positions: int | None = None  # positions with a trained token per micro-batch (None: seq_len)
    gradient_checkpointing: bool = False
    world_size: int = 1
    fsdp: bool = False
    lora_r: int = 16
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_dropout: float = 0.0
    cpu_bf16_matmuls: bool = False  # CPU: frozen linear weights stored in bf16 (use_bf16_matmuls)


@dataclass
class MemoryBreakdown:
    """Peak bytes per process. `detail` keeps the intermediate numbers the fix text quotes."""

    device: str
    weights: int
    lora: int
    activations: int
    logits: int
    overhead: int
    lora_params: int
    settings: dict = field(default_factory=dict)
    detail: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.weights + self.lora + self.activations + self.logits + self.overhead

    @property
    def allocated(self) -> int:
        """What torch.cuda.max_memory_allocated should read (no context, no allocator slack)."""
        return self.total - self.overhead

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total"] = self.total
        d["allocated"] = self.allocated
        d["gib"] = {k: round(d[k] / GiB, 2) for k in ("weights", "lora", "activations", "logits", "overhead", "total")}
        return d


def act_bytes(s: Settings) -> int:
    if s.dtype == "fp32" or (s.device == "cpu" and s.dtype != "bf16"):
        return 4
    return 2


def layer_bytes_per_token(shape: ModelShape, s: Settings) -> float:
    """Bytes autograd keeps per token for one decoder layer (frozen base, LoRA on `s.targets`).

    Counted tensor by tensor for the Llama-family layer (checked against a real Qwen2 layer's
    saved tensors, exactly, in tests/test_memory_measured.py):
      two RMSNorms   each keeps its input upcast to fp32 and the fp32 rsqrt: 4h + 4 bytes
      attention      SDPA keeps q, k, v and its output, and the fp32 log-sum-exp per head
      MLP            the gate and up outputs (fused, models/fused_mlp.py; unfused, SiLU's output too)
      frozen linear  nothing: the input gradient needs only the weight
      LoRA target    lora_B's fp32 input (r); lora_A's fp32 input, which with dropout is the
                     dropout output plus its mask (a bool on CUDA, the fp32 noise on CPU), and
                     without dropout in fp32 is a tensor kept anyway (the norm output is shared)
    """
    a = act_bytes(s)
    h, q, kv, i = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim, shape.intermediate
    norms = 2 * (4 * h + 4)
    attention = (2 * q + 2 * kv) * a + 4 * shape.heads
    mlp = (2 if shape.fused_mlp else 3) * i * a
    dims = {name: n_in for name, n_in, _ in shape.linears}
    targets = [t for t in s.targets if t in dims]
    lora = 4 * s.lora_r * len(targets)
    if s.lora_dropout > 0:
        mask = 1 if s.device == "cuda" else 4
        lora += sum((4 + mask) * dims[t] for t in targets)
    elif a == 4 and shape.llama_like:  # fp32 inputs are the tensors the layer keeps anyway, or shared
        lora += 4 * h * (any(t in ATTN_IN for t in targets) + any(t in MLP_IN for t in targets))
        lora += sum(4 * dims[t] for t in targets if t not in ATTN_IN + MLP_IN + ("o_proj",))
    else:  # each target casts its input to fp32 for the fp32 adapter: its own copy
        lora += sum(4 * dims[t] for t in targets)
    return norms + attention + mlp + lora


def lora_params(shape: ModelShape, s: Settings) -> int:
    return shape.layers * sum(s.lora_r * (n_in + n_out) for name, n_in, n_out in shape.linears if name in s.targets)


def weight_bytes(shape: ModelShape, s: Settings) -> float:
    a = act_bytes(s) if s.device == "cuda" else (2 if s.dtype == "bf16" else 4)
    if s.quantize == "4bit":
        return shape.linear_params * NF4_BYTES + (shape.n_params - shape.linear_params) * a
    if s.quantize == "8bit":
        return shape.linear_params * INT8_BYTES + (shape.n_params - shape.linear_params) * a
    if s.device == "cpu" and s.cpu_bf16_matmuls:
        return shape.linear_params * 2 + (shape.n_params - shape.linear_params) * 4
    return shape.n_params * a


def estimate(shape: ModelShape, s: Settings) -> MemoryBreakdown:
    """The peak bytes of one process for these settings (see the module docstring)."""
    a = act_bytes(s)
    tokens = s.batch_size * s.seq_len
    per_layer = layer_bytes_per_token(shape, s)
    weights = weight_bytes(shape, s)
    n_lora = lora_params(shape, s)
    lora = n_lora * LORA_STATE_BYTES
    if s.fsdp and s.world_size > 1:
        gathered = 2 * shape.layer_params * (NF4_BYTES if s.quantize == "4bit" else a)  # this layer and the next, prefetched
        weights = weights / s.world_size + gathered
        lora = n_lora * LORA_STATE_BYTES  # the adapter stays whole on every process (a few MB)
    elif s.world_size > 1:
        lora += n_lora * 4  # DDP's gradient buckets: a second copy of the gradients
    rope = 2 * shape.head_dim * a  # cos and sin, shared by all layers
    # The backward pass's working set: while a layer's gradients are computed, up to four
    # MLP-sized and four hidden-sized gradients are alive at once (measured on CPU: without
    # this term a 4-layer model's peak RSS ran 17% over the plan).
    working = 4 * (shape.intermediate + shape.hidden) * a
    if s.gradient_checkpointing:  # each layer's input, plus one layer recomputed during backward
        activations = tokens * (shape.layers * shape.hidden * a + per_layer + rope + working)
    else:
        activations = tokens * (shape.layers * per_layer + rope + working)
    k = s.seq_len if s.logit_positions is None else min(s.logit_positions, s.seq_len)
    fused = shape.fused_head and s.world_size == 1 and s.device in FUSED_DEVICES  # DDP and FSDP run the model's own forward
    if fused:
        rows = s.batch_size * k
        logits = min(rows, max(1, FUSED_SLICE_ELEMENTS // shape.vocab)) * shape.vocab * FUSED_LOGIT_BYTES + rows * shape.hidden * a
    else:
        logits = s.batch_size * k * shape.vocab * LOGIT_BYTES
    used = weights + lora + activations + logits
    overhead = CUDA_CONTEXT_BYTES + CUDA_SLACK * used if s.device == "cuda" else 0
    return MemoryBreakdown(
        device=s.device, weights=int(weights), lora=int(lora), activations=int(activations), logits=int(logits),
        overhead=int(overhead), lora_params=n_lora, settings=asdict(s),
        detail={"layer_bytes_per_token": round(per_layer, 1), "tokens_per_micro_batch": tokens, "logit_positions": k, "fused_head": fused,
                "n_params": shape.n_params, "quantized_params": shape.linear_params if s.quantize != "none" else 0},
    )


# ---- which settings fit a budget --------------------------------------------------------------
# What each change costs the user, lowest first: checkpointing is ~30% slower and changes nothing
# else; a smaller micro-batch with more accumulation keeps the effective batch (slower on a GPU);
# FSDP needs several GPUs; a 4-bit base perturbs the frozen weights; a shorter max length cuts
# samples, so it comes last and costs more the more it cuts.
COST = {"gradient_checkpointing": 1.0, "batch_size": 1.5, "fsdp": 2.0, "quantize": 3.0, "max_seq_len": 6.0}


@dataclass
class Fit:
    changes: dict  # TrainConfig fields → new values: apply as they are, re-plan, and it fits
    breakdown: MemoryBreakdown
    cost: float

    def flags(self) -> str:
        out = []
        for k, v in self.changes.items():
            flag = "--" + k.replace("_", "-")
            out.append(flag if v is True else f"{flag} {v}")
        return " ".join(out)


def _divisors_desc(n: int) -> list[int]:
    return [d for d in range(n, 0, -1) if n % d == 0]


def fit(shape: ModelShape, s: Settings, budget: int, grad_accum: int, allow_quantize: bool = True) -> Fit | None:
    """The cheapest change of settings whose peak fits `budget` bytes; None when nothing does.
    A shorter max length is tried as halvings of the padded length `s.seq_len` (the longest sample)."""
    ckpts = [s.gradient_checkpointing] + ([True] if not s.gradient_checkpointing else [])
    batches = _divisors_desc(s.batch_size)
    fsdps = [s.fsdp] + ([True] if s.world_size > 1 and not s.fsdp else [])
    quants = [s.quantize] + (["4bit"] if allow_quantize and s.device == "cuda" and s.quantize == "none" else [])
    lengths = [s.seq_len] + [n for n in (s.seq_len // 2, s.seq_len // 4, s.seq_len // 8) if n >= 64]
    best: Fit | None = None
    for ckpt, b, fs, quant, length in itertools.product(ckpts, batches, fsdps, quants, lengths):
        k = None if s.logit_positions is None else min(s.logit_positions, length)
        trial = replace(s, gradient_checkpointing=ckpt, batch_size=b, fsdp=fs, quantize=quant, seq_len=length, logit_positions=k)
        est = estimate(shape, trial)
        if est.total > budget:
            continue
        changes: dict = {}
        cost = 0.0
        if ckpt != s.gradient_checkpointing:
            changes["gradient_checkpointing"], cost = True, cost + COST["gradient_checkpointing"]
        if b != s.batch_size:
            changes["batch_size"] = b
            changes["grad_accum"] = grad_accum * s.batch_size // b  # the same samples per optimizer step
            cost += COST["batch_size"] + 0.1 * math.log2(s.batch_size / b)
        if fs != s.fsdp:
            changes["fsdp"], cost = True, cost + COST["fsdp"]
        if quant != s.quantize:
            changes["quantize"], cost = quant, cost + COST["quantize"]
        if length != s.seq_len:
            changes["max_seq_len"] = length
            cost += COST["max_seq_len"] * math.log2(s.seq_len / length)
        if best is None or cost < best.cost or (cost == best.cost and est.total < best.breakdown.total):
            best = Fit(changes, est, cost)
    return best


@dataclass
class MemoryPlan:
    """The breakdown the run will have, the budget it is checked against, and what fits."""

    breakdown: MemoryBreakdown
    budget: int | None = None  # bytes per GPU; None: not checked (CPU, nothing given)
    budget_source: str = ""  # "--gpu-memory 8GB", or the detected device
    fit: Fit | None = None  # the cheapest change that fits, when the run as set does not
    auto: dict = field(default_factory=dict)  # settings chosen for the user: {"gradient_checkpointing": "why"}
    notes: list[str] = field(default_factory=list)

    @property
    def gradient_checkpointing(self) -> bool:
        return bool(self.breakdown.settings.get("gradient_checkpointing"))

    @property
    def fits(self) -> bool:
        return self.budget is None or self.breakdown.total <= self.budget

    def to_dict(self) -> dict:
        return {**self.breakdown.to_dict(), "budget": self.budget, "budget_source": self.budget_source,
                "fits": self.fits, "auto": self.auto, "notes": self.notes,
                "fix": None if self.fit is None else {"changes": self.fit.changes, "flags": self.fit.flags(),
                                                      "total": self.fit.breakdown.total}}


def gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB"
