"""A PEFT LoRA adapter as a llama.cpp LoRA GGUF: what `llama-cli --lora` and Ollama's
`ADAPTER` line load, beside a GGUF of the base model.

For each adapted matrix W (out x in) the file holds `NAME.weight.lora_a` = A (r x in) and
`NAME.weight.lora_b` = B (out x r) under W's GGUF name, and `adapter.lora.alpha`; llama.cpp
adds (alpha / r) * B @ A @ x, PEFT's scaling. The rows of B on Llama q/k projections are
reordered like the base weights (arch.permute_qk), since they are rows of W.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import ExportError
from .arch import TensorNames, arch_for, permute_qk

PEFT_PREFIX = "base_model.model."


def read_lora(adapter_dir: Path) -> tuple[dict, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(adapter_config, {HF weight name: (A, B)}) from a PEFT folder, refusing what llama.cpp
    cannot apply: DoRA, per-module ranks or alphas, trained biases or whole modules."""
    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    refused = [k for k in ("use_dora", "rank_pattern", "alpha_pattern", "modules_to_save") if config.get(k)]
    if config.get("bias", "none") != "none":
        refused.append(f"bias={config['bias']}")
    if refused:
        raise ExportError(f"the adapter in {adapter_dir} uses {', '.join(refused)}, which a llama.cpp LoRA cannot express",
                          fix="export with `--format gguf` (merged into the base) instead")
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in load_file(str(adapter_dir / "adapter_model.safetensors")).items():
        for part in ("lora_A", "lora_B"):
            marker = f".{part}.weight"
            if key.endswith(marker):
                base = key[: -len(marker)].removeprefix(PEFT_PREFIX) + ".weight"
                pairs.setdefault(base, {})[part] = value.astype(np.float32)
                break
        else:
            raise ExportError(f"the adapter holds {key!r}, which is not a LoRA A or B matrix",
                              fix="export with `--format gguf` (merged into the base) instead")
    incomplete = [k for k, v in pairs.items() if len(v) != 2]
    if incomplete:
        raise ExportError(f"the adapter lacks A or B for {incomplete[0]}", fix="re-save the adapter from training")
    return config, {k: (v["lora_A"], v["lora_B"]) for k, v in pairs.items()}


def gguf_alpha(config: dict) -> float:
    """llama.cpp scales by alpha / r; rank-stabilised LoRA scales by alpha / sqrt(r)."""
    alpha = float(config.get("lora_alpha", config.get("r", 8)))
    return alpha * math.sqrt(config["r"]) if config.get("use_rslora") else alpha


def write_gguf_lora(adapter_dir: str | Path, base_config, path: str | Path, dtype: str = "f32", name: str = "adapter") -> dict:
    """Write the adapter in `adapter_dir` for a base with transformers config `base_config`."""
    import gguf

    if dtype not in ("f32", "f16"):
        raise ExportError(f"a LoRA GGUF is written as f32 or f16, not {dtype!r}", fix="pass --quant f32 or --quant f16")
    spec = arch_for(base_config)
    names = TensorNames(spec, base_config.num_hidden_layers)
    config, pairs = read_lora(Path(adapter_dir))
    writer = gguf.GGUFWriter(str(path), spec.gguf_arch)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, gguf_alpha(config))
        writer.add_name(name)
        np_type = np.float32 if dtype == "f32" else np.float16
        for hf_name, (a, b) in sorted(pairs.items()):
            target = names.gguf_name(hf_name)
            if spec.permute_qk:
                b = permute_qk(b, target, base_config)
            writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(a, dtype=np_type))
            writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(b, dtype=np_type))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return {"architecture": spec.gguf_arch, "matrices": len(pairs), "rank": config.get("r"),
            "alpha": gguf_alpha(config), "dtype": dtype}
