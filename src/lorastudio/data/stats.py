"""What is in a dataset: counts, duplicates, and prompt/response lengths in characters and tokens.

`inspect_dataset` returns a plain JSON-serialisable dict (the server returns it as is);
`format_inspect_report` turns it into a short text table for the CLI.

Lengths: the prompt is everything the model reads but is not trained on (system and user
messages, all turns); the response is everything it is trained on (all assistant messages).
In tokens that is exactly `n_tokens - n_trainable` and `n_trainable` of the tokenized sample,
so the character and token columns measure the same parts. Percentiles are nearest-rank:
p50 of [1, 2, 3, 10] is 2 (the 2nd smallest), so every number shown is a real sample's length.
"""

from __future__ import annotations

import math
from collections import Counter

from lorastudio.data.records import Dataset, Sample, message_text

MAX_LISTED = 20  # index lists in the stats are capped at this many
SHORT_RESPONSE = 2  # responses with fewer non-blank characters than this are counted as "short"


def percentiles(values: list[int]) -> dict:
    """Nearest-rank p50 / p95 and the max; zeros for an empty list."""
    if not values:
        return {"p50": 0, "p95": 0, "max": 0}
    ordered = sorted(values)

    def rank(p: float) -> int:
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]

    return {"p50": rank(50), "p95": rank(95), "max": ordered[-1]}


def _chars(sample: Sample, trained: bool) -> int:
    return sum(len(message_text(m)) for m in sample.messages if (m["role"] == "assistant") == trained)


def _duplicates(samples: list[Sample]) -> dict:
    """Samples whose (prompt, response) equals an earlier sample's, as (earlier, later) index pairs."""
    first: dict[tuple[str, str], int] = {}
    pairs = []
    for s in samples:
        key = (s.prompt, s.response)
        if key in first:
            pairs.append([first[key], s.index])
        else:
            first[key] = s.index
    return {"count": len(pairs), "pairs": pairs[:MAX_LISTED]}


def _listed(indices: list[int]) -> dict:
    return {"count": len(indices), "indices": indices[:MAX_LISTED]}


def _categories(samples: list[Sample]) -> dict:
    counts = Counter(s.category for s in samples)
    if set(counts) == {None}:
        return {}
    named = {k: v for k, v in counts.most_common() if k is not None}
    return named | ({"(none)": counts[None]} if counts[None] else {})


def _token_stats(ds: Dataset, tokenizer, max_seq_len: int | None) -> dict:
    """Token lengths via the training path's own `tokenize_sample`, so the numbers are what trains."""
    from lorastudio.data.formatting import tokenize_sample, truncate

    prompt, response, total = [], [], []
    truncated, zero_trainable, no_end = [], [], []
    for s in ds.samples:
        full = tokenize_sample(tokenizer, s.messages, None, tools=s.tools)
        prompt.append(full.n_tokens - full.n_trainable)
        response.append(full.n_trainable)
        total.append(full.n_tokens)
        cut = truncate(full, max_seq_len)
        if cut.truncated:
            truncated.append(s.index)
        if cut.n_trainable == 0:
            zero_trainable.append(s.index)
        if not getattr(full, "has_end_of_turn", True):
            no_end.append(s.index)
    return {
        "prompt": percentiles(prompt),
        "response": percentiles(response),
        "total": percentiles(total),
        "sum": sum(total),
        "max_seq_len": max_seq_len,
        "truncated": _listed(truncated),
        "zero_trainable": _listed(zero_trainable),
        "no_end_of_turn": _listed(no_end),
    }


def inspect_dataset(ds: Dataset, tokenizer=None, max_seq_len: int | None = None) -> dict:
    """Counts, categories, duplicates, short responses and length percentiles of a loaded dataset.

    Token numbers (`tokens`) need a tokenizer with a chat template; without one `tokens` is None.
    """
    samples = ds.samples
    assistant_turns = [sum(m["role"] == "assistant" for m in s.messages) for s in samples]
    return {
        "path": ds.path,
        "format": ds.format,
        "sha256": ds.sha256,
        "n_samples": len(samples),
        "n_turns": sum(assistant_turns),
        "multi_turn": sum(n > 1 for n in assistant_turns),
        "categories": _categories(samples),
        "duplicates": _duplicates(samples),
        "short_responses": _listed([s.index for s in samples if len(s.response.strip()) < SHORT_RESPONSE]),
        "chars": {
            "prompt": percentiles([_chars(s, trained=False) for s in samples]),
            "response": percentiles([_chars(s, trained=True) for s in samples]),
        },
        "tokens": _token_stats(ds, tokenizer, max_seq_len) if tokenizer is not None else None,
        "tool_calls": ds.uses_tools,
        "placeholders": ds.placeholders,
        "warnings": [{"code": w.code, "name": w.name, "count": w.count, "records": w.records} for w in ds.warnings],
    }


# ---------------------------------------------------------------- text report


def _records(listed: dict) -> str:
    shown = ", ".join(str(i) for i in listed["indices"])
    more = ", ..." if listed["count"] > len(listed["indices"]) else ""
    return f" (records {shown}{more})" if shown else ""


def format_inspect_report(stats: dict) -> str:
    """A compact plain-text summary of `inspect_dataset`'s dict, for the terminal."""
    lines = [
        f"dataset     {stats['path']}",
        f"format      {stats['format']}: {stats['n_samples']} samples, {stats['n_turns']} assistant turns "
        f"({stats['multi_turn']} multi-turn)",
    ]
    if stats["categories"]:
        lines.append("categories  " + ", ".join(f"{k} {v}" for k, v in stats["categories"].items()))
    rows = [("prompt chars", stats["chars"]["prompt"]), ("response chars", stats["chars"]["response"])]
    tokens = stats.get("tokens")
    if tokens:
        rows += [("prompt tokens", tokens["prompt"]), ("response tokens", tokens["response"]),
                 ("total tokens", tokens["total"])]
    lines += ["", f"{'length':<16}{'p50':>8}{'p95':>8}{'max':>8}"]
    lines += [f"{name:<16}{r['p50']:>8}{r['p95']:>8}{r['max']:>8}" for name, r in rows]
    lines.append("")
    if tokens:
        lines.append(f"tokens in all samples: {tokens['sum']:,}")
        where = f" at max_seq_len {tokens['max_seq_len']}" if tokens["max_seq_len"] else ""
        if tokens["max_seq_len"]:
            lines.append(f"truncated{where}: {tokens['truncated']['count']}{_records(tokens['truncated'])}")
        zero = tokens["zero_trainable"]
        lines.append(f"no trainable tokens{where}: {zero['count']}{_records(zero)}")
        if tokens["no_end_of_turn"]["count"]:
            lines.append(f"answers without an end-of-turn marker: {tokens['no_end_of_turn']['count']}"
                         f"{_records(tokens['no_end_of_turn'])}")
    dup = stats["duplicates"]
    pairs = ", ".join(f"{b} = {a}" for a, b in dup["pairs"]) + (", ..." if dup["count"] > len(dup["pairs"]) else "")
    shown = f" (records {pairs})" if pairs else ""
    lines.append(f"exact duplicates (same prompt and response): {dup['count']}{shown}")
    short = stats["short_responses"]
    lines.append(f"short responses (< {SHORT_RESPONSE} chars): {short['count']}{_records(short)}")
    if stats.get("tool_calls"):
        lines.append(f"samples with tool calls or tool schemas: {stats['tool_calls']}")
    for w in stats.get("warnings") or []:
        shown = ", ".join(map(str, w["records"])) + (", ..." if w["count"] > len(w["records"]) else "")
        what = ("key not read" if w["code"] == "unknown_key" else "placeholder not filled (--var NAME=VALUE)")
        name = w["name"] if w["code"] == "unknown_key" else "{{" + w["name"] + "}}"
        lines.append(f"warning: {what}: {name} in {w['count']} records ({shown})")
    return "\n".join(lines)
