"""From a read dataset to tokenised training and eval samples, with every drop counted."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from .formatting import TokenizedSample, tokenize_sample
from .records import Dataset


@dataclass
class Prepared:
    train: list[TokenizedSample]
    eval: list[TokenizedSample]
    n_records: int  # samples read from the file(s)
    dropped_no_labels: list[int] = field(default_factory=list)  # record indices with nothing to train
    truncated: list[int] = field(default_factory=list)  # record indices cut to max_seq_len
    response_truncated: list[int] = field(default_factory=list)  # ... whose answer lost tokens
    no_end_of_turn: int = 0  # answers that end without an end-of-turn marker
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (first, repeat) record pairs
    eval_source: str = "none"  # "none" | "split" | "file"
    n_general: int = 0  # general replay samples mixed into train (after the task samples)
    general_source: str | None = None


def tokenize_all(dataset: Dataset, tokenizer, max_seq_len: int) -> list[TokenizedSample]:
    return [tokenize_sample(tokenizer, s.messages, max_seq_len, index=s.index) for s in dataset.samples]


def find_duplicates(dataset: Dataset) -> list[tuple[int, int]]:
    """Exact repeats of a whole conversation: they weight some answers more without adding data."""
    seen: dict[tuple, int] = {}
    pairs = []
    for s in dataset.samples:
        key = tuple((m["role"], m["content"].strip()) for m in s.messages)
        if key in seen:
            pairs.append((seen[key], s.index))
        else:
            seen[key] = s.index
    return pairs


def prepare(
    dataset: Dataset,
    tokenizer,
    max_seq_len: int,
    eval_split: float = 0.0,
    eval_dataset: Dataset | None = None,
    seed: int = 42,
    general: Dataset | None = None,
    mix_general: float = 0.0,
) -> Prepared:
    """Tokenise, count every drop, hold out eval samples; then append round(mix_general x task
    samples) general replay samples from `general` (train only, never eval; see mix_in_general)."""
    tokenized = tokenize_all(dataset, tokenizer, max_seq_len)
    out = Prepared(train=[], eval=[], n_records=len(dataset))
    out.duplicates = find_duplicates(dataset)
    kept = []
    for t in tokenized:
        if t.truncated:
            out.truncated.append(t.index)
        if t.response_truncated:
            out.response_truncated.append(t.index)
        if not t.has_end_of_turn:
            out.no_end_of_turn += 1
        if t.n_trainable == 0:
            out.dropped_no_labels.append(t.index)  # never trained silently: counted and reported
        else:
            kept.append(t)
    if eval_dataset is not None:
        out.eval = [t for t in tokenize_all(eval_dataset, tokenizer, max_seq_len) if t.n_trainable]
        out.eval_source = "file"
        out.train = kept
    elif eval_split > 0 and len(kept) >= 2:
        order = list(range(len(kept)))
        random.Random(seed).shuffle(order)
        n_eval = min(len(kept) - 1, max(1, round(len(kept) * eval_split)))
        held = set(order[:n_eval])
        out.eval = [kept[i] for i in sorted(held)]
        out.train = [t for i, t in enumerate(kept) if i not in held]
        out.eval_source = "split"
    else:
        out.train = kept
    if general is not None and mix_general > 0:
        replay = mix_in_general(general, len(out.train), mix_general, seed, tokenizer, max_seq_len)
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
