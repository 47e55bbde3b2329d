"""Ollama's model store, read from disk (Ollama itself need not run).

    $OLLAMA_MODELS (default ~/.ollama/models)/
      manifests/registry.ollama.ai/library/qwen2.5/0.5b     JSON: {"layers": [{"mediaType", "digest", "size"}, ...]}
      blobs/sha256-<hex>                                   each layer's content, named by its sha256

The layer of media type `application/vnd.ollama.image.model` is the GGUF file; the
`...image.template` layer is the chat template as a Go template, which Ollama uses when the
GGUF has none of its own. A name is `[host/][namespace/]model[:tag]`: the host
registry.ollama.ai, the namespace library and the tag latest are left out when they are the
defaults, as `ollama list` shows them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG = "registry.ollama.ai", "library", "latest"
MODEL_LAYER = "application/vnd.ollama.image.model"
TEMPLATE_LAYER = "application/vnd.ollama.image.template"
SYSTEM_LAYER = "application/vnd.ollama.image.system"


def ollama_root() -> Path:
    """Where Ollama keeps models: $OLLAMA_MODELS, as Ollama reads it, else ~/.ollama/models."""
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models").expanduser()


@dataclass
class OllamaModel:
    name: str  # as `ollama list` shows it: qwen2.5:0.5b
    manifest: Path
    gguf: Path  # the model layer's blob
    digest: str  # sha256:<hex> of the GGUF blob, which Ollama checked when it pulled it
    size: int  # every layer's bytes
    template: str | None = None  # the Go template layer's text
    system: str | None = None  # the default system prompt layer's text


def display_name(host: str, namespace: str, model: str, tag: str) -> str:
    parts = ([host] if host != DEFAULT_HOST else []) + ([namespace] if (namespace, host) != (DEFAULT_NAMESPACE, DEFAULT_HOST) else [])
    return "/".join(parts + [model]) + f":{tag}"


def normalize_name(name: str) -> str:
    """`qwen2.5` → `qwen2.5:latest`; `registry.ollama.ai/library/qwen2.5:0.5b` → `qwen2.5:0.5b`."""
    name = name.strip()
    path, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", DEFAULT_TAG)
    parts = path.split("/")
    host = parts.pop(0) if len(parts) == 3 or (len(parts) == 2 and "." in parts[0]) else DEFAULT_HOST
    namespace = parts.pop(0) if len(parts) == 2 else DEFAULT_NAMESPACE
    return display_name(host, namespace, "/".join(parts), tag or DEFAULT_TAG).lower()


def blob_path(root: Path, digest: str) -> Path:
    """Blobs are named sha256-<hex>; Ollama before 0.1.33 wrote sha256:<hex>."""
    dashed = root / "blobs" / digest.replace(":", "-")
    if not dashed.exists() and (root / "blobs" / digest).exists():
        return root / "blobs" / digest
    return dashed


def list_ollama(root: Path | None = None) -> tuple[list[OllamaModel], list[str]]:
    """Every manifest under the root with a model layer whose blob is present, and warnings
    (one line each) for the manifests that could not be used."""
    root = root or ollama_root()
    manifests = root / "manifests"
    found, warnings = [], []
    if not manifests.is_dir():
        return found, warnings
    for host in sorted(p for p in manifests.iterdir() if p.is_dir()):
        for namespace in sorted(p for p in host.iterdir() if p.is_dir()):
            for model in sorted(p for p in namespace.iterdir() if p.is_dir()):
                for tag in sorted(p for p in model.iterdir() if p.is_file() and not p.name.startswith(".")):
                    name = display_name(host.name, namespace.name, model.name, tag.name)
                    try:
                        found.append(read_manifest(root, tag, name))
                    except (OSError, ValueError, KeyError, TypeError) as e:
                        warnings.append(f"ollama {name}: {e}")
    return found, warnings


def read_manifest(root: Path, manifest: Path, name: str) -> OllamaModel:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    layers = data["layers"]
    model = next((layer for layer in layers if layer.get("mediaType") == MODEL_LAYER), None)
    if model is None:
        raise ValueError("the manifest has no model layer (an adapter or a projector only?)")
    gguf = blob_path(root, model["digest"])
    if not gguf.is_file():
        raise ValueError(f"its model blob {gguf} is missing (a pull that did not finish?)")

    def text(media_type: str) -> str | None:
        layer = next((x for x in layers if x.get("mediaType") == media_type), None)
        if layer is None:
            return None
        path = blob_path(root, layer["digest"])
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    size = sum(int(x.get("size") or 0) for x in layers)
    return OllamaModel(name, manifest, gguf, model["digest"], size, text(TEMPLATE_LAYER), text(SYSTEM_LAYER))


# ---- Go templates --------------------------------------------------------------------------
# Ollama's templates are Go text/template programs; Jinja cannot run them. The two layouts most
# Ollama templates produce are recognised by their special tokens and replaced by the standard
# Jinja template of that layout; any other is refused (see discovery.template_for).
CHATML_JINJA = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3_JINJA = (  # Meta's template for Llama 3 Instruct
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
GO_LAYOUTS = (
    ("chatml", ("<|im_start|>", "<|im_end|>"), CHATML_JINJA),
    ("llama3", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"), LLAMA3_JINJA),
)


def go_template_to_jinja(go: str | None) -> tuple[str | None, str | None]:
    """(Jinja template, layout name) for a ChatML or Llama-3 Go template; (None, None) otherwise."""
    if not go:
        return None, None
    for layout, markers, jinja in GO_LAYOUTS:
        if all(m in go for m in markers):
            return jinja, layout
    return None, None
