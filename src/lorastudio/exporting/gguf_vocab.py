"""The tokenizer as GGUF metadata: vocabulary, token types, merges, special ids, chat template.

Two sources. A base that came from a GGUF file (the embedded SmolLM2) has its tokenizer
metadata copied over key by key, so llama.cpp tokenises exactly as it did for the original
file. Any other base is described from its Hugging Face tokenizer, the way llama.cpp's own
converter does: every id in order (ids the tokenizer lacks become unused `[PADn]` entries up
to the model's vocab size), added tokens marked control (special) or user-defined, and the
pre-tokenizer named by the split rule it uses. Only byte-level BPE tokenizers (Llama 3,
Qwen, SmolLM2, GPT-2 style) are described; others are refused with the reason.

The chat template written is always the one the run trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ExportError

# llama.cpp's pre-tokenizer names for the split rules of the tokenizers we describe. The
# regexes are those of the tokenizers' own tokenizer.json files.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPLIT_NAMES = {LLAMA3_SPLIT: "llama-bpe", QWEN2_SPLIT: "qwen2"}

TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5  # gguf.TokenType


def add_tokenizer(writer, tokenizer, vocab_size: int, chat_template: str | None, base_gguf: Path | None) -> str:
    """Write the tokenizer keys; returns where they came from ("gguf" or "hf")."""
    if base_gguf is not None:
        copy_from_gguf(writer, base_gguf, vocab_size)
        source = "gguf"
    else:
        describe_hf(writer, tokenizer, vocab_size)
        source = "hf"
    if chat_template:
        writer.add_chat_template(chat_template)
    return source


def copy_from_gguf(writer, path: Path, vocab_size: int) -> None:
    """Every tokenizer.* key of the original file but its chat template, with its own type."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    n_tokens = len(reader.fields["tokenizer.ggml.tokens"].data) if "tokenizer.ggml.tokens" in reader.fields else 0
    if n_tokens != vocab_size:
        raise ExportError(f"the base's GGUF file {path} lists {n_tokens} tokens but the model has {vocab_size} embeddings",
                          fix="export from the same GGUF file the run's base model was converted from")
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") or key == "tokenizer.chat_template":
            continue
        main = field.types[0]
        if main == GGUFValueType.ARRAY:
            writer.add_key_value(key, field.contents(), main, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, field.contents(), main)


def pre_tokenizer_name(backend: dict) -> str:
    """llama.cpp's name for the way this byte-level tokenizer splits text before merging."""
    pre = backend.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        regex = (steps[0].get("pattern") or {}).get("Regex")
        if regex in SPLIT_NAMES:
            return SPLIT_NAMES[regex]
    raise ExportError(
        f"the tokenizer's pre-tokenizer ({' + '.join(map(str, kinds)) or 'none'}) is not one llama.cpp is known to match",
        fix="supported: the GPT-2, SmolLM, Llama 3 and Qwen2 byte-level splits; `--format merged` has no such limit",
    )


def describe_hf(writer, tokenizer, vocab_size: int) -> None:
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    model = backend.get("model") or {}
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(backend.get("decoder") or {}):
        raise ExportError(f"GGUF export describes byte-level BPE tokenizers only; this one is {model.get('type')!r}",
                          fix="use a Llama 3, Qwen or SmolLM2 base, or `--format merged`")
    pre = pre_tokenizer_name(backend)
    vocab = tokenizer.get_vocab()
    if vocab and max(vocab.values()) >= vocab_size:
        raise ExportError(f"the tokenizer has ids up to {max(vocab.values())} but the model only {vocab_size} embeddings",
                          fix="export with the tokenizer the run was trained with")
    by_id = {i: t for t, i in vocab.items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(TOKEN_UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(TOKEN_CONTROL if added[i].special else TOKEN_USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(TOKEN_NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for kind in ("bos", "eos", "unk", "pad"):
        token_id = getattr(tokenizer, f"{kind}_token_id", None)
        if token_id is not None:
            getattr(writer, f"add_{kind}_token_id")(int(token_id))
    bos, eos = _tokenizer_adds(tokenizer)
    writer.add_add_bos_token(bos)
    writer.add_add_eos_token(eos)


def _tokenizer_adds(tokenizer) -> tuple[bool, bool]:
    """Whether the tokenizer itself adds a start / end token, read from what it does rather
    than from flags that differ between tokenizer versions: llama.cpp adds them when told so."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    bos = tokenizer.bos_token_id is not None and ids[:1] == [tokenizer.bos_token_id]
    eos = tokenizer.eos_token_id is not None and ids[-1:] == [tokenizer.eos_token_id]
    return bool(bos), bool(eos)


def adds_bos(tokenizer, base_gguf: Path | None) -> bool:
    """Whether llama.cpp will put a start token before the prompt of the exported model."""
    if base_gguf is not None:
        from gguf import GGUFReader

        field = GGUFReader(base_gguf).fields.get("tokenizer.ggml.add_bos_token")
        return bool(field.contents()) if field is not None else False
    return _tokenizer_adds(tokenizer)[0]
