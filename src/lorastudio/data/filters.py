"""Quality filters for grown datasets, each rejection counted by name.

A candidate sample is checked in this order, and the first failure is what it is counted as:

  empty            instruction or answer blank
  too_long         instruction or answer longer than `max_answer_chars`
  wrong_language   the answer is not in the expected language (zh vs en by CJK share)
  no_marker        markers were given and the answer contains none of them (the voice dropped)
  exact_duplicate  same instruction and answer as a kept sample (after stripping whitespace)
  probe_leak       the instruction is a held-out probe in other words (see below)
  near_duplicate   a kept sample asks the same question, or is nearly the same sample (below)

Near duplicate, for short Chinese or English questions: two samples are near duplicates when

  * their questions have the same key (punctuation, case and sentence-final particles
    dropped: 你是谁？ = 你是谁呀), or
  * rapidfuzz `fuzz.ratio` of the normalised "instruction answer" texts is >= NEAR_RATIO (90),
    i.e. fewer than 1 character in 10 differs, e.g. the same answer under a question that
    only gained a 请问.

Probe leak: a training instruction leaks a held-out probe when, after dropping politeness
framing (请问, 能不能告诉我 ...) and mapping synonyms to one word (哪位 → 谁, 啥 → 什么),
`fuzz.ratio` of the two is >= LEAK_RATIO (80), or the plain normalised texts are that close.
So "请问哪位是你的师父" leaks the probe "谁是你的师父？", while "你的师父是谁" does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from .language import detect_lang, normalize, question_key
from .leak_keys import canonical

FILTERS = ("empty", "too_long", "wrong_language", "no_marker", "exact_duplicate", "probe_leak", "near_duplicate")
NEAR_RATIO = 90.0
LEAK_RATIO = 80.0
MAX_ANSWER_CHARS = 800


@dataclass
class Candidate:
    """One sample on its way into a grown dataset."""

    instruction: str
    output: str
    category: str | None = None
    lang: str | None = None  # the language the answer should be in; None: not checked
    source: int | None = None  # index of the seed record it was made from
    origin: str = "seed"  # "seed" | "template" | "model"
    extra: dict = field(default_factory=dict)  # system / history carried over from the seed

    def text(self) -> str:
        """What the near-duplicate ratio compares."""
        return normalize(self.instruction) + " " + normalize(self.output)


def has_marker(text: str, markers) -> bool:
    return any(m in text for m in markers)


def near_duplicate_pairs(candidates: list[Candidate], ratio: float = NEAR_RATIO) -> list[tuple[int, int, float]]:
    """Every pair (i, j, score), i < j, that the near-duplicate rule joins; one `cdist` call.

    Same question key scores 100. Used to check a finished dataset as a whole.
    """
    texts = [c.text() for c in candidates]
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=ratio, workers=1)
    pairs = {}
    for i, j in zip(*scores.nonzero(), strict=True):
        if i < j:
            pairs[(int(i), int(j))] = float(scores[i, j])
    keys: dict[str, int] = {}
    for j, c in enumerate(candidates):
        k = question_key(c.instruction)
        if k in keys:
            pairs[(keys[k], j)] = 100.0
        else:
            keys[k] = j
    return sorted((i, j, s) for (i, j), s in pairs.items())


def leak_score(prompt: str, instruction: str) -> float:
    """How close a training instruction is to a probe: the larger of the ratio of their
    canonical cores and of their normalised texts (0-100)."""
    return max(fuzz.ratio(canonical(prompt), canonical(instruction)),
               fuzz.ratio(normalize(prompt), normalize(instruction)))


def leaks(prompts: list[str], instructions: list[str], ratio: float = LEAK_RATIO) -> list[tuple[str, str, float]]:
    """(probe, instruction, score) for every training instruction too close to a probe."""
    if not prompts or not instructions:
        return []
    a = process.cdist([canonical(p) for p in prompts], [canonical(i) for i in instructions],
                      scorer=fuzz.ratio, workers=1)
    b = process.cdist([normalize(p) for p in prompts], [normalize(i) for i in instructions],
                      scorer=fuzz.ratio, workers=1)
    best = np.maximum(a, b)
    return [(prompts[i], instructions[j], float(best[i, j])) for i, j in zip(*(best >= ratio).nonzero(), strict=True)]


class SampleFilter:
    """Keeps candidates that pass every filter; counts each rejection under its filter's name.

    `offer` checks one candidate against everything kept so far, so the kept set never holds
    two near duplicates and the order of offering decides which of two look-alikes stays.
    """

    def __init__(self, markers=(), max_answer_chars: int = MAX_ANSWER_CHARS,
                 near_ratio: float = NEAR_RATIO, leak_ratio: float = LEAK_RATIO):
        self.markers = tuple(markers or ())
        self.max_chars = max_answer_chars
        self.near_ratio = near_ratio
        self.leak_ratio = leak_ratio
        self.counts = {name: 0 for name in FILTERS}
        self.kept: list[Candidate] = []
        self._texts: list[str] = []
        self._keys: set[str] = set()
        self._exact: set[tuple[str, str]] = set()
        self._probes: list[str] = []  # canonical cores of held-out prompts
        self._probe_texts: list[str] = []
        self.offered = 0  # candidates seen, kept or not
        self.last: str | None = None  # why the last offered candidate was rejected (None: kept)

    def hold_out(self, prompts: list[str]) -> None:
        """Training instructions close to any of these are rejected as `probe_leak`."""
        self._probes += [canonical(p) for p in prompts]
        self._probe_texts += [normalize(p) for p in prompts]

    def check(self, c: Candidate) -> str | None:
        """The name of the first filter this candidate fails, or None if it passes all."""
        instruction, output = c.instruction.strip(), c.output.strip()
        if not instruction or not output:
            return "empty"
        if len(output) > self.max_chars or len(instruction) > self.max_chars:
            return "too_long"
        if c.lang and detect_lang(output) not in (None, c.lang):
            return "wrong_language"
        if self.markers and not has_marker(output, self.markers):
            return "no_marker"
        if (instruction, output) in self._exact:
            return "exact_duplicate"
        if self._probes and self._leaks(instruction):
            return "probe_leak"
        if question_key(instruction) in self._keys:
            return "near_duplicate"
        if self._texts and process.extractOne(c.text(), self._texts, scorer=fuzz.ratio,
                                              score_cutoff=self.near_ratio) is not None:
            return "near_duplicate"
        return None

    def _leaks(self, instruction: str) -> bool:
        cut = self.leak_ratio
        return (process.extractOne(canonical(instruction), self._probes, scorer=fuzz.ratio, score_cutoff=cut)
                is not None or process.extractOne(normalize(instruction), self._probe_texts, scorer=fuzz.ratio,
                                                  score_cutoff=cut) is not None)

    def asked(self, instruction: str) -> bool:
        """Whether a kept sample already asks this question (same question key)."""
        return question_key(instruction) in self._keys

    def offer(self, c: Candidate) -> bool:
        """Keep the candidate if it passes; otherwise count why not (also in `last`). Returns
        whether it was kept."""
        self.offered += 1
        reason = self.last = self.check(c)
        if reason is not None:
            self.counts[reason] += 1
            return False
        self.kept.append(c)
        self._texts.append(c.text())
        self._keys.add(question_key(c.instruction))
        self._exact.add((c.instruction.strip(), c.output.strip()))
        return True


def filter_samples(candidates: list[Candidate], markers=(), max_answer_chars: int = MAX_ANSWER_CHARS,
                   held_out: list[str] | None = None) -> tuple[list[Candidate], dict[str, int]]:
    """Run a whole list through the filters in order: (kept, counts per filter)."""
    f = SampleFilter(markers, max_answer_chars)
    f.hold_out(held_out or [])
    for c in candidates:
        f.offer(c)
    return f.kept, f.counts
