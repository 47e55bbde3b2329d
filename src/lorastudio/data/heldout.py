"""Held-out prompts made from the data itself, when the user gives no probes file.

Two kinds, both never trained on:
    reworded  a training question asked in other words (paraphrase.question_variants), far
              enough from every training prompt that the expander's leak rule does not join
              them (filters.LEAK_RATIO); its reference answer is the training answer, and a
              question (what / who / where / yes-no) carries the facts that answer names
              (facts.fact_keywords) for fact recall. Does the adapter carry what it learned
              to a wording it never saw?
    unseen    whole samples held out of training (the eval split): their prompt and answer.
              Does it carry the voice and the kind of answer to questions it never saw?

The prompts are spread over the data (categories in turn, when the file has them), so one
topic does not fill the set. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from .facts import fact_keywords
from .filters import leaks
from .language import detect_lang, question_key
from .paraphrase import question_variants, sentence_kind
from .records import Dataset, Sample

DEFAULT_REWORDED = 16  # one decoding batch of the doctor; a rate over 16 answers moves 6 points per answer
MAX_UNSEEN = 32
FACT_CORPUS = 150  # answers compared when picking a fact's keywords (the check is quadratic in them)


@dataclass
class HeldOut:
    prompt: str
    answer: str
    kind: str  # "reworded" | "unseen"
    index: int  # the record it comes from
    system: str | None = None
    expect_any: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in (None, [])}


def _system(sample: Sample) -> str | None:
    return sample.messages[0]["content"] if sample.messages[0]["role"] == "system" else None


def _answer(sample: Sample) -> str:
    return sample.messages[-1].get("content") or ""


def _spread(samples: list[Sample], seed: int) -> list[Sample]:
    """Samples ordered so that the first k cover the categories (or the file) evenly."""
    rng = random.Random(seed)
    groups: dict[str | None, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.category, []).append(s)
    for group in groups.values():
        rng.shuffle(group)
    out, queues = [], [g for g in groups.values() if g]
    while queues:
        out += [q.pop() for q in queues]
        queues = [q for q in queues if q]
    return out


def reworded(samples: list[Sample], k: int, seed: int, forbidden: list[str] | None = None) -> list[HeldOut]:
    """Up to k training questions in other words; none close to a training prompt (or to
    `forbidden`), none two alike."""
    single = [s for s in samples if not s.tools and sum(m["role"] == "user" for m in s.messages) == 1]
    prompts = [s.prompt for s in samples] + list(forbidden or [])
    keys = {question_key(p) for p in prompts}
    rng = random.Random(seed)
    corpus = [_answer(s) for s in rng.sample(single, min(len(single), FACT_CORPUS))]
    out: list[HeldOut] = []
    for s in _spread(single, seed):
        if len(out) >= k:
            break
        lang = detect_lang(s.prompt)
        variants = [q for q in question_variants(s.prompt, lang) if question_key(q) not in keys]
        rng.shuffle(variants)
        close = {q for q, _, _ in leaks(variants, prompts + [h.prompt for h in out])}
        q = next((v for v in variants if v not in close), None)
        if q is None:
            continue
        asks = sentence_kind(s.prompt, lang or "zh") in ("whq", "ynq")
        facts = [f for f in fact_keywords(_answer(s), corpus + [_answer(s)], (), q) if f not in q] if asks else []
        out.append(HeldOut(q, _answer(s), "reworded", s.index, _system(s), facts))
    return out


def unseen(samples: list[Sample], trained_prompts: list[str] | None = None) -> list[HeldOut]:
    """Held-out samples (the eval split) as prompts with their reference answers. A held-out
    prompt that is a near-copy of a trained one (data with repeated templates) is left out:
    it would measure memorisation, and the doctor would rightly call it a leak."""
    usable = [s for s in samples if not s.tools and not any(m["role"] == "tool" for m in s.messages)]
    usable = usable[:4 * MAX_UNSEEN]  # enough to fill the set after leaks; bounds the comparison on big data
    close = {q for q, _, _ in leaks([s.prompt for s in usable], trained_prompts or [])}
    return [HeldOut(s.prompt, _answer(s), "unseen", s.index, _system(s))
            for s in usable if s.prompt not in close][:MAX_UNSEEN]


def make_heldout(dataset: Dataset, train_indices: set[int], eval_indices: set[int], k: int, seed: int) -> list[HeldOut]:
    """The reworded questions of the trained samples and the unseen eval samples."""
    trained = [s for s in dataset.samples if s.index in train_indices]
    held = [s for s in dataset.samples if s.index in eval_indices]
    return reworded(trained, k, seed, forbidden=[s.prompt for s in held]) + unseen(held, [s.prompt for s in trained])
