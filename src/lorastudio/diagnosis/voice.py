"""Voice and content without hand-written files: markers found in the training answers, and how
close the answers to held-out prompts come to their reference answers. Pure functions on text.

Markers. A persona's voice is phrases its answers keep using ("俺老孙", "嘿嘿", "Arr, matey"):
n-grams (2-4 CJK characters, or 1-3 Latin words) in at least MARKER_MIN_SHARE of the training
answers and in at most MARKER_MAX_BACKGROUND of the base model's answers and of ordinary
answers (the bundled general replay): common words ("的", "the") are frequent in both and
drop out. Overlapping ones keep the higher-scoring, then the longer; at most MAX_MARKERS.
Data with no voice (varied instructions) yields none, and voice is then not measured.

Content. chrF (sacrebleu's character n-gram F-score, 0-100; character-level, so Chinese works
without word segmentation) of each answer against the reference answer's first tokens, as many
as the answer was allowed: a 48-token answer is compared with the first 48 tokens of a long
reference, not penalised for the rest of it.
"""

from __future__ import annotations

import re
from collections import Counter
from statistics import fmean

MARKER_MIN_SHARE = 0.3  # the persona runs' markers were in 60-90% of the answers
MARKER_MAX_BACKGROUND = 0.05
MAX_MARKERS = 5
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")


def _ngrams(text: str) -> set[str]:
    grams = set()
    for run in _CJK_RUN.findall(text):
        for n in range(2, 5):
            grams.update(run[i: i + n] for i in range(len(run) - n + 1))
    words = [w.lower() for w in _WORD.findall(text)]
    for n in range(1, 4):
        for i in range(len(words) - n + 1):
            gram = " ".join(words[i: i + n])
            if len(gram) >= 4:  # "ok", "hi": too short to be a voice
                grams.add(gram)
    return grams


def _shares(texts: list[str]) -> Counter:
    counts: Counter = Counter()
    for t in texts:
        counts.update(_ngrams(t))
    return counts


def derive_markers(train_answers: list[str], background: list[str]) -> list[dict]:
    """[{marker, train_share, background_share}] best first; see the module docstring."""
    if len(train_answers) < 5:
        return []
    train, back = _shares(train_answers), _shares(background)
    n, m = len(train_answers), max(len(background), 1)
    scored = []
    for gram, count in train.items():
        share, bg = count / n, back.get(gram, 0) / m
        if share >= MARKER_MIN_SHARE and bg <= MARKER_MAX_BACKGROUND:
            scored.append((share - bg, len(gram), gram, share, bg))
    scored.sort(reverse=True)
    chosen: list[dict] = []
    for _, _, gram, share, bg in scored:
        if any(gram in c["marker"] or c["marker"] in gram for c in chosen):
            continue
        chosen.append({"marker": gram, "train_share": round(share, 3), "background_share": round(bg, 3)})
        if len(chosen) == MAX_MARKERS:
            break
    return chosen


def chrf(answer: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(answer, [reference]).score


def content_scores(rows: list[dict]) -> dict | None:
    """Mean chrF of base and adapter answers against each row's `reference` (rows without one
    are skipped), overall and by the probe's kind."""
    scored = [r for r in rows if r.get("reference")]
    if not scored:
        return None
    for r in scored:
        r["base_chrf"], r["adapter_chrf"] = round(chrf(r["base"], r["reference"]), 2), round(chrf(r["adapter"], r["reference"]), 2)

    def summary(part: list[dict]) -> dict:
        base, adapter = fmean(r["base_chrf"] for r in part), fmean(r["adapter_chrf"] for r in part)
        return {"answers": len(part), "base": round(base, 2), "adapter": round(adapter, 2), "gain": round(adapter - base, 2)}

    out = summary(scored)
    kinds = sorted({r.get("kind") for r in scored if r.get("kind")})
    if len(kinds) > 1 or kinds:
        out["by_kind"] = {k: summary([r for r in scored if r.get("kind") == k]) for k in kinds}
    return out


def heads(tokenizer, texts: list[str], max_tokens: int) -> list[str]:
    """Each text cut to its first max_tokens tokens: what an answer of that budget can say."""
    out = []
    for t in texts:
        ids = tokenizer(t, add_special_tokens=False)["input_ids"]
        out.append(t if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens], skip_special_tokens=True).rstrip("\ufffd"))
    return out
