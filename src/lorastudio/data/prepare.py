"""From a read dataset to tokenised training and eval samples, with every drop counted."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import TrainConfig
from ..errors import ProblemList
from .formatting import TokenizedSample, supports_tools, tokenize_sample, truncate
from .records import Dataset, message_text


@dataclass
class Prepared:
    train: list[TokenizedSample]
    eval: list[TokenizedSample]
    n_records: int  # samples read from the file(s)
    dropped_no_labels: list[int] = field(default_factory=list)  # record indices whose answer the cut removed
    masked: list[int] = field(default_factory=list)  # record indices whose every answer has loss_weight 0
    truncated: list[int] = field(default_factory=list)  # record indices cut to max_seq_len
    response_truncated: list[int] = field(default_factory=list)  # ... whose answer lost tokens
    dropped_too_long: list[int] = field(default_factory=list)  # longer than max_seq_len, dropped (long_samples="drop")
    no_end_of_turn: int = 0  # answers that end without an end-of-turn marker
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (first, repeat) record pairs
    dropped_duplicates: int = 0  # repeats left out (drop_duplicates)
    full_lengths: list[int] = field(default_factory=list)  # every task sample's tokens before any cut
    eval_source: str = "none"  # "none" | "split" | "file"
    n_general: int = 0  # general replay samples mixed into train (after the task samples)
    general_source: str | None = None

    @property
    def task(self) -> list[TokenizedSample]:
        """The training samples without the general replay (which comes last)."""
        return self.train[: len(self.train) - self.n_general]


def tokenize_all(dataset: Dataset, tokenizer, max_seq_len: int | None) -> list[TokenizedSample]:
    return [tokenize_sample(tokenizer, s.messages, max_seq_len, index=s.index, tools=s.tools) for s in dataset.samples]


def check_tool_support(dataset: Dataset, tokenizer) -> None:
    """Tool-call data needs a template that renders tools: refuse once per file, not per record."""
    if dataset.uses_tools and not supports_tools(tokenizer):
        problems = ProblemList(dataset.path)
        problems.add(None, None, f"{dataset.uses_tools} record(s) hold tool calls (function_call / observation turns "
                                 "or a tools field), but the model's chat template has no tool support: it would drop "
                                 "the tool schemas and calls, and the model would learn calls it never sees the tools for",
                     "template_without_tools")
        problems.raise_if_any("use a model whose template renders tools (Qwen2.5-Instruct, Llama-3.1-Instruct, Qwen3), "
                              "or --chat-template qwen2.5 with a ChatML model, or remove the tool-call records")


def find_duplicates(dataset: Dataset) -> list[tuple[int, int]]:
    """Exact repeats of a whole conversation: they weight some answers more without adding data."""
    seen: dict[tuple, int] = {}
    pairs = []
    for s in dataset.samples:
        key = tuple((m["role"], message_text(m).strip()) for m in s.messages)
        if key in seen:
            pairs.append((seen[key], s.index))
        else:
            seen[key] = s.index
    return pairs


def prepare(dataset: Dataset, tokenizer, config: TrainConfig, eval_dataset: Dataset | None = None,
            general: Dataset | None = None, tokenized: list[TokenizedSample] | None = None) -> Prepared:
    """Tokenise, count every drop, hold out eval samples; then append round(mix_general x task
    samples) general replay samples from `general` (train only, never eval; see mix_in_general).
    Reads max_seq_len, long_samples, drop_duplicates, eval_split, seed and mix_general.
    `tokenized`: the dataset's samples already tokenised without a cut (the plan has them)."""
    if tokenized is None:
        check_tool_support(dataset, tokenizer)
        tokenized = tokenize_all(dataset, tokenizer, None)
    out = Prepared(train=[], eval=[], n_records=len(dataset))
    out.duplicates = find_duplicates(dataset)
    repeats = {b for _, b in out.duplicates} if config.drop_duplicates else set()
    out.dropped_duplicates = len(repeats)
    kept = []
    for full in tokenized:
        if full.index in repeats:
            continue
        out.full_lengths.append(full.full_tokens)
        if config.long_samples == "drop" and full.full_tokens > config.max_seq_len:
            out.dropped_too_long.append(full.index)
            continue
        t = truncate(full, config.max_seq_len)
        if t.truncated:
            out.truncated.append(t.index)
        if t.response_truncated:
            out.response_truncated.append(t.index)
        if not t.has_end_of_turn:
            out.no_end_of_turn += 1
        if t.n_trainable:
            kept.append(t)
        elif full.n_trainable == 0:  # every answer has loss_weight 0
            out.masked.append(t.index)
        else:
            out.dropped_no_labels.append(t.index)  # never trained silently: counted and reported
    if eval_dataset is not None:
        out.eval = [t for t in tokenize_all(eval_dataset, tokenizer, config.max_seq_len) if t.n_trainable]
        out.eval_source = "file"
        out.train = kept
    elif config.eval_split > 0 and len(kept) >= 2:
        order = list(range(len(kept)))
        random.Random(config.seed).shuffle(order)
        n_eval = min(len(kept) - 1, max(1, round(len(kept) * config.eval_split)))
        held = set(order[:n_eval])
        out.eval = [kept[i] for i in sorted(held)]
        out.train = [t for i, t in enumerate(kept) if i not in held]
        out.eval_source = "split"
    else:
        out.train = kept
    if general is not None and config.mix_general > 0:
        replay = mix_in_general(general, len(out.train), config.mix_general, config.seed, tokenizer, config.max_seq_len)
        out.train = out.train + replay
        out.n_general, out.general_source = len(replay), str(general.path)
    return out


BUNDLED_GENERAL = Path(__file__).resolve().parents[1] / "examples" / "general_replay.json"


def load_general(path: str | None) -> Dataset:
    """The user's general replay file, or the bundled one (40 neutral zh/en samples)."""
    from .readers import load_dataset

    return load_dataset(path or BUNDLED_GENERAL)


def general_count(n_task: int, ratio: float) -> int:
    """General samples per task sample: 155 persona samples at 0.2 → 31."""
    return round(n_task * ratio)


def mix_in_general(general: Dataset, n_task: int, ratio: float, seed: int, tokenizer, max_seq_len: int
                   ) -> list[TokenizedSample]:
    """general_count(n_task, ratio) samples of `general`, in an order fixed by `seed`; past the
    file's end the same shuffled order repeats (each sample used at most ceil(n / file) times).
    Their indices follow the general file's own, offset by 1,000,000 so they never clash with the
    task records' (progress and doctor read task indices only)."""
    pool = [t for t in tokenize_all(general, tokenizer, max_seq_len) if t.n_trainable]
    n = general_count(n_task, ratio)
    if not pool or n == 0:
        return []
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    return [replace(pool[order[i % len(order)]], index=GENERAL_INDEX_OFFSET + pool[order[i % len(order)]].index)
            for i in range(n)]


GENERAL_INDEX_OFFSET = 1_000_000
