"""A merged model as one GGUF file that llama.cpp, Ollama and LM Studio load.

    write_gguf_model(model, tokenizer, "out.gguf", quant="q8_0", chat_template=..., base_gguf=None)

Tensors keep llama.cpp's conventions: norms, biases and rope factors stay f32; matrices take
the requested type. Quantisation is the `gguf` package's own (Q8_0, Q4_0: blocks of 32 along
each row). In q4_0 the token embedding and the output layer are kept at Q8_0: they are the
layers 4-bit rounding hurts most (llama.cpp's quantizer keeps them higher too), and with tied
embeddings the one matrix is both. A matrix whose rows are not a multiple of 32 falls back to
f16, as llama.cpp's converter does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .arch import TensorNames, add_hparams, arch_for, permute_qk, rope_factors
from .gguf_vocab import add_tokenizer

QUANTS = ("f32", "f16", "bf16", "q8_0", "q4_0")
BLOCK = 32  # Q8_0 and Q4_0 quantise blocks of 32 values along a row


def _file_type(quant: str) -> int:
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
            "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[quant]


def tensor_type(gguf_name: str, shape: tuple[int, ...], quant: str):
    """The GGML type one tensor is stored as, for a file of type `quant`."""
    from gguf import GGMLQuantizationType as T

    if len(shape) < 2 or quant == "f32":
        return T.F32
    wide = {"f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q4_0": T.Q4_0}[quant]
    if quant == "q4_0" and gguf_name.split(".")[0] in ("token_embd", "output"):
        wide = T.Q8_0
    if wide in (T.Q8_0, T.Q4_0) and shape[-1] % BLOCK:
        return T.F16
    return wide


def encode(array: np.ndarray, qtype) -> tuple[np.ndarray, object | None]:
    """(data, raw_dtype) for GGUFWriter.add_tensor: plain numpy for f32/f16, packed bytes otherwise."""
    from gguf import GGMLQuantizationType as T, quants

    if qtype == T.F32:
        return array.astype(np.float32), None
    if qtype == T.F16:
        return array.astype(np.float16), None
    return quants.quantize(array.astype(np.float32), qtype), qtype


def model_tensors(model, config) -> list[tuple[str, np.ndarray]]:
    """(GGUF name, fp32 array in llama.cpp's layout) for every tensor the file needs."""
    spec = arch_for(config)
    names = TensorNames(spec, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    out = []
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp uses token_embd when there is no output.weight
        name = names.gguf_name(hf_name)
        array = tensor.detach().float().cpu().numpy()
        if spec.permute_qk:
            array = permute_qk(array, name, config)
        out.append((name, array))
    factors = rope_factors(config) if spec.gguf_arch == "llama" else None
    if factors is not None:
        out.append(("rope_freqs.weight", factors))
    return out


def write_gguf_model(model, tokenizer, path: str | Path, quant: str = "f16", chat_template: str | None = None,
                     base_gguf: Path | None = None, name: str = "model",
                     on_progress: Callable[[float], None] | None = None) -> dict:
    """Write the model (already merged: plain transformers, no PEFT) to `path`. Returns a
    summary: architecture, tensor count per type, tokenizer source."""
    import gguf

    config = model.config
    spec = arch_for(config)
    writer = gguf.GGUFWriter(str(path), spec.gguf_arch)
    try:
        writer.add_type("model")
        writer.add_name(name)
        add_hparams(writer, config, spec)
        writer.add_file_type(_file_type(quant))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        source = add_tokenizer(writer, tokenizer, config.vocab_size, chat_template, base_gguf)
        tensors = model_tensors(model, config)
        counts: dict[str, int] = {}
        for i, (tname, array) in enumerate(tensors):
            qtype = tensor_type(tname, array.shape, quant)
            data, raw = encode(array, qtype)
            writer.add_tensor(tname, data, raw_dtype=raw)
            counts[qtype.name] = counts.get(qtype.name, 0) + 1
            if on_progress:
                on_progress((i + 1) / len(tensors))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return {"architecture": spec.gguf_arch, "quant": quant, "tensor_types": counts, "tokenizer_from": source}
