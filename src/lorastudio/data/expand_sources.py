"""Where the candidates of an expansion come from: the seed samples read, their rewordings, the
held-out probes chosen among them, and the sources that offer candidates to the filters one
category at a time."""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from .clustering import cluster
from .facts import fact_keywords
from .filters import LEAK_RATIO, Candidate, SampleFilter, leak_score
from .generate import ModelGenerator
from .language import detect_lang, question_key
from .paraphrase import answer_variants, is_question, question_variants, sentence_kind
from .readers import load_dataset, read_records

MAX_TRIES = 4  # answer variants tried for one reworded question before moving to the next
PAIRS_PER_REQUEST = 5
MAX_PAIR_REQUESTS = 4  # per category
PARAPHRASES_PER_REQUEST = 8
MAX_SHOTS = 4  # seed samples shown to the model per request
MAX_AVOID = 10  # questions already taken, listed in later requests


@dataclass
class ProbeDraft:
    prompt: str
    expect_any: list[str]
    category: str
    source_index: int  # the seed record (0-based) whose answer the facts come from


@dataclass
class Seed:
    index: int
    instruction: str
    output: str
    category: str
    lang: str | None
    extra: dict  # system / history, carried into every variant
    expect_any: list[str] | None  # given in the seed record, if any


# ---------------------------------------------------------------- reading seeds


def _split_messages(messages: list[dict]) -> tuple[str, str, dict]:
    extra = {}
    if messages[0]["role"] == "system":
        extra["system"] = messages[0]["content"]
    chat = [m for m in messages if m["role"] != "system"]
    if len(chat) > 2:
        extra["history"] = [[chat[i]["content"], chat[i + 1]["content"]] for i in range(0, len(chat) - 2, 2)]
    return chat[-2]["content"], chat[-1]["content"], extra


def read_seeds(path: Path, lang: str | None) -> tuple[list[Seed], bool]:
    ds = load_dataset(path)
    raw = read_records(path)
    seeds = []
    for s in ds.samples:
        instruction, output, extra = _split_messages(s.messages)
        rec = raw[s.index] if isinstance(raw[s.index], dict) else {}
        given = rec.get("expect_any")
        expect = [k for k in given if isinstance(k, str) and k] if isinstance(given, list) else None
        answer_lang = lang or detect_lang(output) or detect_lang(instruction)
        seeds.append(Seed(s.index, instruction, output, s.category, answer_lang, extra, expect))
    missing = [s for s in seeds if s.category is None]
    if missing:
        labels, names = cluster([f"{s.instruction}\n{s.output}" for s in missing])
        for s, label in zip(missing, labels, strict=True):
            s.category = names[label]
    return seeds, bool(missing)

# ---------------------------------------------------------------- candidate sources


class PairSource:
    """Reworded questions of one seed × answer variants: each question used at most once, the
    answers taken in turn so they spread over the questions."""

    def __init__(self, seed: Seed, questions: list[str], answers: list[str], origin: str):
        self.seed, self.questions, self.answers, self.origin = seed, questions, answers, origin
        self.qi = self.ai = 0

    def next(self, filt: SampleFilter) -> bool:
        """Offer candidates until one is kept (True) or the questions run out (False)."""
        s = self.seed
        while self.qi < len(self.questions) and self.answers:
            q = self.questions[self.qi]
            self.qi += 1
            for _ in range(min(MAX_TRIES, len(self.answers))):
                a = self.answers[self.ai % len(self.answers)]
                self.ai += 1
                if filt.offer(Candidate(q, a, s.category, s.lang, s.index, self.origin, s.extra)):
                    return True
                if filt.last in ("probe_leak", "empty", "too_long") or filt.asked(q):
                    break  # no other answer can save this question
        return False


class ModelPairSource:
    """New pairs the model writes for one category, requested a few at a time."""

    def __init__(self, category: str, seeds: list[Seed], gen: ModelGenerator, markers):
        self.category, self.seeds, self.gen, self.markers = category, seeds, gen, markers
        self.lang = Counter(s.lang for s in seeds).most_common(1)[0][0]
        self.buffer: deque = deque()
        self.requests = 0

    def next(self, filt: SampleFilter) -> bool:
        while True:
            while self.buffer:
                pair = self.buffer.popleft()
                if filt.offer(Candidate(pair["instruction"], pair["output"], self.category, self.lang, None, "model",
                                        self.seeds[0].extra)):
                    return True
            if self.requests >= MAX_PAIR_REQUESTS:
                return False
            self.requests += 1
            shots = [(s.instruction, s.output) for s in self.seeds[:MAX_SHOTS]]
            # Later requests list what this category already has, so a greedy model asks anew.
            taken = [c.instruction for c in filt.kept if c.category == self.category and c.origin == "model"]
            self.buffer.extend(self.gen.new_pairs(self.category, shots, PAIRS_PER_REQUEST, self.lang or "en",
                                                  self.markers, taken[-MAX_AVOID:]))


def answers_for(seed: Seed, siblings: list[Seed], mode: str, rng: random.Random) -> list[str]:
    """The seed's answer variants, shuffled, its own answer last (the seed sample already has
    it); with "rotate", interleaved with the variants of the other seeds of the category."""
    def variants(s: Seed) -> list[str]:
        v = answer_variants(s.output, s.lang, question=is_question(seed.instruction, seed.lang or "zh"))
        rest = v[1:]
        rng.shuffle(rest)
        return rest + v[:1]

    lists = [variants(seed)] + ([variants(s) for s in siblings if s is not seed] if mode == "rotate" else [])
    out = []
    for i in range(max(len(x) for x in lists)):
        out += [x[i] for x in lists if i < len(x)]
    return out


# ---------------------------------------------------------------- probes


def choose_probes(seeds: list[Seed], by_cat: dict[str, list[Seed]], k: int,
                   pools: dict[int, list[str]], markers) -> list[ProbeDraft]:
    """K rewordings, categories in turn, each far from every seed question and every other probe."""
    if k <= 0:
        return []
    instructions = [s.instruction for s in seeds]
    answers = [s.output for s in seeds]
    chosen: list[ProbeDraft] = []
    turn = {cat: 0 for cat in by_cat}

    def pick(s: Seed) -> ProbeDraft | None:
        pool = pools[s.index]
        for i, q in enumerate(pool):
            taken = instructions + [p.prompt for p in chosen]
            if all(leak_score(q, t) < LEAK_RATIO for t in taken):
                del pool[i]
                facts = s.expect_any if s.expect_any is not None else (
                    fact_keywords(s.output, answers, markers, q) if _asks_for_facts(s) else [])
                return ProbeDraft(q, [f for f in facts if f not in q], s.category, s.index)
        return None

    while len(chosen) < k:
        before = len(chosen)
        for cat, group in by_cat.items():
            for _ in range(len(group)):
                s = group[turn[cat] % len(group)]
                turn[cat] += 1
                probe = pick(s)
                if probe:
                    chosen.append(probe)
                    break
            if len(chosen) >= k:
                break
        if len(chosen) == before:
            break
    return chosen


def _asks_for_facts(s: Seed) -> bool:
    """Questions (what, who, where, yes/no) have facts to check; greetings, thanks, requests
    and requests for advice have open answers, so their probes carry no keywords."""
    return sentence_kind(s.instruction, s.lang or "zh") in ("whq", "ynq")


# ---------------------------------------------------------------- filling to the target


def fill(sources: dict[str, list], filt: SampleFilter, target: int) -> None:
    """One new sample per category in turn (within a category, its sources in turn) until
    `target` samples are kept or every source is spent."""
    queues = {cat: deque(srcs) for cat, srcs in sources.items() if srcs}
    while len(filt.kept) < target and queues:
        for cat in list(queues):
            q = queues[cat]
            while q:
                src = q.popleft()
                if src.next(filt):
                    q.append(src)
                    break
            if not q:
                del queues[cat]
            if len(filt.kept) >= target:
                return



def rewordings(seeds: list[Seed], gen: ModelGenerator | None, rng: random.Random) -> dict[int, list[str]]:
    """Per seed record, its question reworded, shuffled: the model's rewordings first (model
    method), then the templates'. The pool both probes and training samples draw from."""
    pools = {}
    for s in seeds:
        asked = gen.paraphrases(s.instruction, PARAPHRASES_PER_REQUEST, s.lang or "en", s.category) if gen else []
        asked = [q for q in dict.fromkeys(asked) if question_key(q) != question_key(s.instruction)]
        templated = question_variants(s.instruction, s.lang)
        rng.shuffle(asked)
        rng.shuffle(templated)
        pools[s.index] = asked + templated
    return pools

