"""The on-disk layouts other tools keep models in, built in a temporary folder for the tests:
a tiny GGUF written with the `gguf` package from the conftest tiny Qwen2, an Ollama store
(manifest + blobs), a Hugging Face cache snapshot, a ModelScope cache folder and an LM Studio
models folder. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

OLLAMA_CHATML = (  # the Go template Ollama ships with ChatML models (qwen2 and the like)
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n"
    "{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"
)
OLLAMA_OTHER = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"  # a layout not translated


def write_tiny_gguf(hf_dir: Path, path: Path, chat_template: bool = True, name: str = "Tiny Qwen2") -> Path:
    """The tiny HF Qwen2 folder as an F32 GGUF file, tensors named as llama.cpp names them."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((hf_dir / "config.json").read_text())
    tok_json = json.loads((hf_dir / "tokenizer.json").read_text())
    tok_config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    vocab = {**tok_json["model"]["vocab"], **{t["content"]: t["id"] for t in tok_json["added_tokens"]}}
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    specials = {t["content"] for t in tok_json["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_name(name)
    w.add_block_count(config["num_hidden_layers"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_rope_freq_base(float(config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges(merges)
    w.add_eos_token_id(vocab[tok_config.get("eos_token") or "<|im_end|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    if chat_template:
        w.add_chat_template((hf_dir / "chat_template.jinja").read_text() if (hf_dir / "chat_template.jinja").is_file()
                            else tok_config["chat_template"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, config["num_hidden_layers"])
    for key, array in load_file(hf_dir / "model.safetensors").items():
        if key == "lm_head.weight" and config.get("tie_word_embeddings"):
            continue
        w.add_tensor(names.get_name(key, try_suffixes=(".weight", ".bias")), array.astype("float32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ollama_model(root: Path, name: str, gguf_file: Path, template: str | None = None, link: bool = False) -> Path:
    """An Ollama store entry: the GGUF as blobs/sha256-<hex> (copied, or linked), an optional
    template layer, and the manifest under manifests/registry.ollama.ai/library/MODEL/TAG."""
    model, _, tag = name.partition(":")
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data_path: Path | None, text: str | None = None) -> dict:
        digest = sha256(data_path) if data_path else hashlib.sha256(text.encode()).hexdigest()
        target = blobs / f"sha256-{digest}"
        if not target.exists():
            if text is not None:
                target.write_text(text)
            elif link:
                target.symlink_to(data_path.resolve())
            else:
                shutil.copyfile(data_path, target)
        return {"digest": f"sha256:{digest}", "size": target.stat().st_size}

    layers = [{"mediaType": "application/vnd.ollama.image.model", **blob(gguf_file)}]
    if template is not None:
        layers.append({"mediaType": "application/vnd.ollama.image.template", **blob(None, template)})
    layers.append({"mediaType": "application/vnd.ollama.image.params", **blob(None, '{"stop": ["<|im_end|>"]}')})
    manifest = root / "manifests" / "registry.ollama.ai" / "library" / model / (tag or "latest")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", **blob(None, "{}")}
    manifest.write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                    "config": config, "layers": layers}))
    return manifest


def hf_snapshot(root: Path, repo_id: str, folder: Path, commit: str = "a" * 40) -> Path:
    """A Hugging Face cache entry: blobs named by hash, a snapshot of symlinks, refs/main."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for f in sorted(folder.iterdir()):
        if f.is_file():
            digest = sha256(f)
            blob = repo / "blobs" / digest
            if not blob.exists():
                shutil.copyfile(f, blob)
            (snapshot / f.name).symlink_to(Path("../../blobs") / digest)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def modelscope_folder(root: Path, model_id: str, folder: Path) -> Path:
    """ModelScope's layout: ROOT/models/ORG/NAME with each '.' of the name written '___'."""
    org, name = model_id.split("/")
    target = root / "models" / org / name.replace(".", "___")
    shutil.copytree(folder, target)
    return target


def lmstudio_file(root: Path, publisher: str, repo: str, gguf_file: Path) -> Path:
    target = root / publisher / repo / gguf_file.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gguf_file, target)
    return target


# ---- fixtures (import them into a test module to use them) ----------------------------------
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir, tmp_path_factory) -> Path:
    return write_tiny_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-qwen2-f32.gguf")


@pytest.fixture(scope="session")
def tiny_gguf_bare(tiny_model_dir, tmp_path_factory) -> Path:
    """The same weights without a chat template in the GGUF, as older Ollama models ship."""
    return write_tiny_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny-bare.gguf", chat_template=False)


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    """Every root pointed into tmp_path (HOME too, so no default under the real home is read)."""
    paths = {k: tmp_path / k for k in ("ollama", "hf", "modelscope", "lmstudio", "home")}
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(paths["home"]))
    monkeypatch.setenv("OLLAMA_MODELS", str(paths["ollama"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(paths["hf"]))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(paths["modelscope"]))
    monkeypatch.setenv("LMSTUDIO_MODELS", str(paths["lmstudio"]))
    return paths


@pytest.fixture
def laid_out(places, tiny_model_dir, tiny_gguf) -> dict[str, Path]:
    """One model in each place, as each tool lays it out."""
    ollama_model(places["ollama"], "tiny:latest", tiny_gguf)
    hf_snapshot(places["hf"], "Org/Tiny-Instruct", tiny_model_dir, COMMIT)
    modelscope_folder(places["modelscope"], "Qwen/Tiny2.5-0.5B-Instruct", tiny_model_dir)
    lmstudio_file(places["lmstudio"], "pub", "Tiny-GGUF", tiny_gguf)
    return places
