"""Chat-template rendering and label masking: the one path both training and inference use.

Training and chat must render a conversation with the same template, or the adapter learns
a format that inference never shows it (a classic "LoRA has no effect" cause). So inference
calls `encode_prompt`, and training calls `tokenize_sample`, whose prompt segments are built
by the very same `render_chat(..., add_generation_prompt=True)` call.

Masking: a conversation is cut into text segments at the boundaries the template itself
produces. For each assistant turn i, `render(messages[:i], add_generation_prompt=True)` is
the prompt and the text that `render(messages[:i+1])` adds after it is the answer. The answer
is trained up to and including its end-of-turn marker (so the model learns to stop); what the
template prints after that marker (a newline) is context. Each segment is tokenised on its
own, so the prompt tokens are exactly those inference feeds the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModelError
from .readers import unpaired_surrogate

IGNORE_INDEX = -100  # label value that CrossEntropyLoss (and transformers) skip

# End-of-turn markers of common chat templates, tried after the tokenizer's own eos token.
END_OF_TURN_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>")


@dataclass
class TokenizedSample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where the token is context, the token id where it is trained
    truncated: bool = False  # the sample was longer than max_seq_len and was cut
    response_truncated: bool = False  # the cut removed trainable (answer) tokens
    has_end_of_turn: bool = True  # every answer ends with a trained end-of-turn marker
    index: int = -1  # record index in the source file
    full_tokens: int = 0  # length before truncation
    first_label: int = -1  # position of the first trained token before truncation; -1: none

    def __post_init__(self) -> None:
        if not self.full_tokens:
            self.full_tokens = len(self.input_ids)

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def n_trainable(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


def render_chat(tokenizer, messages: list[dict], add_generation_prompt: bool, chat_template: str | None = None,
                tools: list[dict] | None = None) -> str:
    """Render with the tokenizer's own chat template (or the one a run was trained with), with
    the function schemas a tool-calling conversation may use. The only place a template is applied."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if not template:
        raise ModelError(
            "this tokenizer has no chat template, so chat data cannot be rendered the way the model expects",
            fix="use an instruct/chat model (e.g. Qwen2.5-0.5B-Instruct, SmolLM2-135M-Instruct), "
            "or set tokenizer.chat_template before training",
        )
    return tokenizer.apply_chat_template(
        messages, tools=tools or None, tokenize=False, add_generation_prompt=add_generation_prompt, chat_template=template
    )


TOOL_PROBE_NAME, TOOL_PROBE_RESULT = "lorastudio_probe_tool", "lorastudio_probe_result"


def supports_tools(tokenizer, chat_template: str | None = None) -> bool:
    """Whether the chat template renders tool schemas, an assistant's tool call and the tool's
    result: a template without tool support drops them (or fails), and a model trained on what
    it renders would learn calls it was never shown the tools for."""
    tools = [{"type": "function", "function": {"name": TOOL_PROBE_NAME, "description": "d",
                                               "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": "q"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": TOOL_PROBE_NAME, "arguments": {"x": 7}}}]},
                {"role": "tool", "content": TOOL_PROBE_RESULT},
                {"role": "assistant", "content": "done"}]
    try:
        text = render_chat(tokenizer, messages, False, chat_template, tools)
    except Exception:  # a template without tool support may fail on content-less turns: no support
        return False
    return text.count(TOOL_PROBE_NAME) >= 2 and TOOL_PROBE_RESULT in text and '"x": 7' in text.replace('"x":7', '"x": 7')


BUNDLED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def chat_template_text(spec: str) -> str:
    """The Jinja text of `--chat-template`: a bundled name (templates/NAME.jinja) or a file."""
    bundled = BUNDLED_TEMPLATES / f"{spec}.jinja"
    path = bundled if bundled.is_file() else Path(spec).expanduser()
    names = ", ".join(sorted(p.stem for p in BUNDLED_TEMPLATES.glob("*.jinja")))
    if not path.is_file():
        raise ConfigError(f"chat template '{spec}' is neither a bundled template ({names}) nor a file",
                          fix=f"pass --chat-template {names.split(', ')[0]} or the path of a .jinja file", option="--chat-template")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"chat template {path} could not be read: {e}", fix="save it as UTF-8 text",
                          option="--chat-template") from None
    if "messages" not in text:
        raise ConfigError(f"{path} does not look like a chat template (it never reads `messages`)",
                          fix="give a Jinja chat template like the ones in tokenizer_config.json's chat_template",
                          option="--chat-template")
    return text


def template_hash(tokenizer_or_text) -> str:
    """sha256 of the chat template text: recorded with every run, compared at serving time."""
    text = tokenizer_or_text if isinstance(tokenizer_or_text, str) else (tokenizer_or_text.chat_template or "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_messages(messages: list[dict]) -> None:
    """Refuse chat input that is not text (a lone surrogate: from a broken JSON escape, or bytes
    that were not UTF-8 in a terminal), which the tokenizer would fail on with a TypeError."""
    for i, m in enumerate(messages):
        content = m.get("content")
        at = unpaired_surrogate(content) if isinstance(content, str) else None
        if at is not None:
            raise ConfigError(f"messages[{i}].content holds an unpaired surrogate ({content[at]!r} at character {at}), "
                              "which is not text", fix="send UTF-8 text (a \\uD83D\\uDE00 pair is one emoji, half of it is not)",
                              option=f"messages[{i}].content")


def encode_prompt(tokenizer, messages: list[dict], chat_template: str | None = None) -> list[int]:
    """Token ids that ask the model for the next assistant turn (inference)."""
    check_messages(messages)
    text = render_chat(tokenizer, messages, add_generation_prompt=True, chat_template=chat_template)
    # The template already writes any start token; the tokenizer adding one more is the
    # "doubled BOS" bug users see after export, so special tokens are never added here.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def end_of_turn_markers(tokenizer) -> tuple[str, ...]:
    eos = getattr(tokenizer, "eos_token", None)
    return ((eos,) if eos else ()) + END_OF_TURN_MARKERS


def _answer_end(answer: str, markers: tuple[str, ...]) -> tuple[int, bool]:
    """Where the trained part of a rendered answer ends: just after its end-of-turn marker."""
    for marker in markers:
        pos = answer.rfind(marker)
        if pos >= 0:
            return pos + len(marker), True
    return len(answer.rstrip()), False


def split_segments(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> tuple[list[tuple[str, bool]], bool]:
    """The rendered conversation as (text, trainable) segments, in order, and whether every
    answer ended with an end-of-turn marker. An assistant turn marked `"train": False` (a
    loss_weight of 0 in the file) is context like the prompt."""
    markers = end_of_turn_markers(tokenizer)
    segments: list[tuple[str, bool]] = []
    all_found = True
    done = ""  # text already assigned to segments
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render_chat(tokenizer, messages[:i], add_generation_prompt=True, tools=tools)
        full = render_chat(tokenizer, messages[: i + 1], add_generation_prompt=False, tools=tools)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise ModelError(
                "the chat template does not render a conversation's turns as prefixes of each other, "
                "so the assistant's part cannot be located for loss masking",
                fix="use single-turn samples with this model, or a model whose template is prefix-stable "
                "(ChatML / Qwen2.5 / Llama-3 / SmolLM2 templates are)",
            )
        answer = full[len(prompt):]
        end, found = _answer_end(answer, markers)
        segments.append((prompt[len(done):], False))
        segments.append((answer[:end], message.get("train", True)))
        all_found = all_found and found
        done = prompt + answer[:end]
    return segments, all_found


def tokenize_sample(tokenizer, messages: list[dict], max_seq_len: int | None = None, index: int = -1,
                    tools: list[dict] | None = None) -> TokenizedSample:
    """input_ids and labels for one conversation; every assistant turn is trained (but those
    marked `"train": False`). Lengths before the cut are kept, so fixes can quote them."""
    input_ids: list[int] = []
    labels: list[int] = []
    segments, has_eot = split_segments(tokenizer, messages, tools)
    first_label = -1
    for text, trainable in segments:
        if not text:
            continue
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if trainable and ids and first_label < 0:
            first_label = len(input_ids)
        input_ids.extend(ids)
        labels.extend(ids if trainable else [IGNORE_INDEX] * len(ids))
    sample = TokenizedSample(input_ids, labels, has_end_of_turn=has_eot, index=index, first_label=first_label)
    return truncate(sample, max_seq_len)


def truncate(sample: TokenizedSample, max_seq_len: int | None) -> TokenizedSample:
    """The sample cut to max_seq_len tokens (a new one; the full one is left as it was)."""
    if max_seq_len is None or sample.full_tokens <= max_seq_len:
        return sample
    labels = sample.labels[:max_seq_len]
    kept = sum(1 for x in labels if x != IGNORE_INDEX)
    return TokenizedSample(sample.input_ids[:max_seq_len], labels, truncated=True,
                           response_truncated=kept < sample.n_trainable, has_end_of_turn=sample.has_end_of_turn,
                           index=sample.index, full_tokens=sample.full_tokens, first_label=sample.first_label)
