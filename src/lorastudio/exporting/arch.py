"""What llama.cpp calls each supported architecture, its tensors and its hyperparameters.

Tensor names come from the `gguf` package's own map (`gguf.get_tensor_name_map`), the one
llama.cpp's converter uses, so a name we write is a name llama.cpp reads. Two things the map
does not say are written here: llama.cpp's Llama graph applies rotary embeddings to
interleaved pairs of each head's q/k rows while Hugging Face's rotates halves, so the q and k
rows of Llama-family weights (and of a LoRA's B on them) are reordered; and Llama 3.1+'s
"llama3" rope scaling travels as a `rope_freqs` tensor of per-frequency divisors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExportError


@dataclass(frozen=True)
class ArchSpec:
    model_type: str  # config.model_type in transformers
    gguf_arch: str  # general.architecture in the GGUF file
    permute_qk: bool  # llama.cpp's graph rotates interleaved pairs: reorder q/k rows
    examples: str


SUPPORTED = {
    "llama": ArchSpec("llama", "llama", True, "SmolLM2, Llama 3.x"),
    "qwen2": ArchSpec("qwen2", "qwen2", False, "Qwen2, Qwen2.5"),
    "qwen3": ArchSpec("qwen3", "qwen3", False, "Qwen3"),
}
ROPE_TYPES = ("default", "llama3")


def supported_list() -> str:
    return ", ".join(f"{k} ({v.examples})" for k, v in SUPPORTED.items())


def arch_for(config) -> ArchSpec:
    """The spec for a transformers config, or an error that lists what is supported."""
    model_type = getattr(config, "model_type", None)
    spec = SUPPORTED.get(model_type)
    if spec is None:
        raise ExportError(
            f"GGUF export does not support the architecture {model_type!r}",
            fix=f"supported: {supported_list()}; `--format merged` writes any model as a Hugging Face folder",
        )
    rope = rope_parameters(config)
    if rope.get("rope_type", "default") not in ROPE_TYPES:
        raise ExportError(f"GGUF export does not support rope scaling {rope.get('rope_type')!r} of this {model_type} model",
                          fix=f"supported rope types: {', '.join(ROPE_TYPES)}; `--format merged` has no such limit")
    return spec


def rope_parameters(config) -> dict:
    """transformers 5 keeps rope_theta and the scaling in `rope_parameters`; older configs in
    `rope_theta` and `rope_scaling`."""
    params = dict(getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
    params.setdefault("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    return params


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


class TensorNames:
    """Hugging Face parameter names → GGUF tensor names, for one architecture and depth."""

    def __init__(self, spec: ArchSpec, n_layers: int):
        import gguf

        arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == spec.gguf_arch)
        self.map = gguf.get_tensor_name_map(arch, n_layers)
        self.spec = spec

    def gguf_name(self, hf_name: str) -> str:
        """`model.layers.0.self_attn.q_proj.weight` → `blk.0.attn_q.weight`."""
        stem, dot, suffix = hf_name.rpartition(".")
        name = self.map.get_name(stem) if suffix in ("weight", "bias") else None
        if name is None:
            raise ExportError(f"the tensor {hf_name!r} has no GGUF name for the {self.spec.gguf_arch} architecture",
                              fix=f"only the standard layers of {supported_list()} can be exported to GGUF")
        return f"{name}.{suffix}"


def permute_qk(rows: np.ndarray, gguf_name: str, config) -> np.ndarray:
    """Reorder the rows of a q or k projection (weight, bias, or a LoRA B: the output rows)
    from Hugging Face's half-split rotary layout to llama.cpp's interleaved pairs."""
    if ".attn_q." in gguf_name:
        n_head = config.num_attention_heads
    elif ".attn_k." in gguf_name:
        n_head = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    else:
        return rows
    # (n_head, 2, head_dim/2, ...) → (n_head, head_dim/2, 2, ...): row i of each half becomes pair i
    return rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def rope_factors(config) -> np.ndarray | None:
    """Llama 3.1+ scale each rotary frequency by its own factor; llama.cpp reads the divisors
    from a `rope_freqs` tensor. Computed from transformers' own llama3 rope, as the ratio of
    the unscaled to the scaled inverse frequencies. None for unscaled rope."""
    rope = rope_parameters(config)
    if rope.get("rope_type", "default") != "llama3":
        return None
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    dim = head_dim(config)
    base = 1.0 / (rope["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    return (base / scaled.double().numpy()).astype(np.float32)


def add_hparams(writer, config, spec: ArchSpec) -> None:
    """The architecture's hyperparameters, under llama.cpp's key names."""
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads))
    writer.add_rope_freq_base(float(rope_parameters(config)["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(int(config.vocab_size))
    if spec.gguf_arch == "llama":
        writer.add_rope_dimension_count(head_dim(config))
    elif getattr(config, "head_dim", None):
        # Qwen3's head_dim is not hidden/heads (128 against 1024/16 = 64): say it
        writer.add_key_length(int(config.head_dim))
        writer.add_value_length(int(config.head_dim))
