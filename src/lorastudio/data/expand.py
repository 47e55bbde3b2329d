"""Grow a small dataset: reworded questions and varied answers, filtered, with held-out probes.

    report = expand_dataset("seed.json", "grown.json", target=150, holdout=20,
                            markers=["俺老孙", "嘿嘿", "呔"], seed=0)
    print(format_expand_report(report))

What happens, in order:

1. Read the seed file (Alpaca, ShareGPT or messages). Each sample's category is its `category`
   field; samples without one are clustered from their text (clustering.cluster).
2. Reword every seed question (templates: paraphrase.question_variants; model: also ask the
   model) and shuffle the rewordings with `random.Random(seed)`.
3. Held-out probes (holdout K): K rewordings, spread over the categories, each far from every
   seed question (filters.leak_score < LEAK_RATIO). They are written to the probes file with
   the facts a right answer names (`expect_any`, from the seed's answer) and are never trained
   on: every training candidate is checked against them (`probe_leak`).
4. The seed samples go through the filters first, then new candidates are taken one category
   at a time in turn (so categories grow evenly) until `target` samples are kept:
   templates: a rewording of a seed question + a variant of the seed's answer (the answer
   with an opener or closer, or without its last sentence; "rotate" also uses the answers of
   the other seeds of the category); model: new pairs the model writes for the category,
   then the model's rewordings of each seed question with the seed's answer variants.
   Every candidate passes the quality filters (filters.py) or is counted as rejected.
5. Write the dataset (Alpaca JSON with `category`, grouped by category, seeds first), the
   probes (JSONL) and, for the model method, every prompt and reply (OUT.prompts.jsonl).
   `grow_dataset` stops before this step and returns the samples, probes and report in memory
   (the web studio shows them for review before anything is saved).

The same inputs and seed give byte-identical files (for the model method: when the model's
replies repeat, which servers honouring the request's `seed` do).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import split_list
from ..errors import ConfigError
from .clustering import cluster
from .filters import LEAK_RATIO, MAX_ANSWER_CHARS, Candidate, SampleFilter, leak_score
from .generate import EngineChat, ModelGenerator, OpenAIChat
from .language import detect_lang, question_key
from .paraphrase import answer_variants, is_question, question_variants, sentence_kind
from .readers import load_dataset, read_records

METHODS = ("templates", "model")
ANSWER_MODES = ("keep", "rotate")
MAX_TRIES = 4  # answer variants tried for one reworded question before moving to the next
PAIRS_PER_REQUEST = 5
MAX_PAIR_REQUESTS = 4  # per category
PARAPHRASES_PER_REQUEST = 8
MAX_SHOTS = 4  # seed samples shown to the model per request
MAX_AVOID = 10  # questions already taken, listed in later requests
MAX_KEYWORDS = 5


@dataclass
class Probe:
    prompt: str
    expect_any: list[str]
    category: str
    source_index: int  # the seed record (0-based) whose answer the facts come from


@dataclass
class ExpandReport:
    source: str
    out: str
    method: str
    seed: int
    target: int
    n_source: int  # samples read
    n_out: int  # samples written
    categories_before: dict[str, int]
    categories_after: dict[str, int]
    probes_per_category: dict[str, int]
    holdout: int  # probes asked for
    filters: dict[str, int]  # rejections per filter, seeds included
    candidates: int  # candidates offered to the filters, seeds included
    files: list[str]
    markers: list[str] = field(default_factory=list)
    clustered: bool = False  # categories came from clustering, not from a `category` field
    prompts: list[dict] = field(default_factory=list)  # model method: every prompt and its reply
    requests: int = 0
    replies_malformed: int = 0
    items_malformed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_probes(self) -> int:
        return sum(self.probes_per_category.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_probes"] = self.n_probes
        return d


@dataclass
class _Seed:
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


def _read_seeds(path: Path, lang: str | None) -> tuple[list[_Seed], bool]:
    ds = load_dataset(path)
    raw = read_records(path)
    seeds = []
    for s in ds.samples:
        instruction, output, extra = _split_messages(s.messages)
        rec = raw[s.index] if isinstance(raw[s.index], dict) else {}
        given = rec.get("expect_any")
        expect = [k for k in given if isinstance(k, str) and k] if isinstance(given, list) else None
        answer_lang = lang or detect_lang(output) or detect_lang(instruction)
        seeds.append(_Seed(s.index, instruction, output, s.category, answer_lang, extra, expect))
    missing = [s for s in seeds if s.category is None]
    if missing:
        labels, names = cluster([f"{s.instruction}\n{s.output}" for s in missing])
        for s, label in zip(missing, labels, strict=True):
            s.category = names[label]
    return seeds, bool(missing)


# ---------------------------------------------------------------- facts for probes

_EDGE = set("的了是在我你他她它俺们这那就都也还很得着过么吗呢吧啊呀把被给和与及又再才要会能可有个上下里来去说让从到对向为"
            "而但却并之其所于以者乃连一不没双根只条位件座")
_GENERIC = {"当年", "如今", "后来", "现在", "时候", "这个", "那个", "知道", "东西", "事情", "时间", "今天", "一下", "可以",
            "没有", "不是", "就是", "还是", "什么", "怎么", "为什么", "那还用说"}
_NUMERAL = re.compile(r"[零一二两三四五六七八九十百千万亿]{2,}[斤里年天变岁次回个难]?")
_NUMERAL_CHARS = set("零一二两三四五六七八九十百千万亿")
_EN_FACT = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*|\b\d[\d,.]*\b")


def fact_keywords(answer: str, corpus: list[str], markers=(), prompt: str = "", limit: int = MAX_KEYWORDS) -> list[str]:
    """Words in `answer` that a right answer to the same question should contain; a heuristic.

    Chinese: numerals with their unit (一万三千五百斤, 十万八千里, 七十二变), items of an
    enumeration (白骨精、牛魔王), and stretches of two to eight characters that other answers in
    `corpus` also use (花果山, 菩提祖师): the facts a persona repeats. English: capitalised names
    and numbers. Dropped: persona markers, words already in the prompt, stretches that start or
    end on a function character, generic words, and any keyword that contains a shorter one
    (any-of matching: 金箍棒 already matches 如意金箍棒), and stretches that only occur inside a
    longer one (花果 of 花果山). At most `limit`, in answer order.
    """
    if detect_lang(answer) == "en":
        found = [m.group(0) for m in _EN_FACT.finditer(answer)]
    else:
        text = answer
        for m in markers:
            text = text.replace(m, "|")
        others = [a for a in corpus if a != answer]
        common = max(2, len(corpus) // 4)  # in more answers than this: a word of the persona, not a fact
        seen: dict[str, int] = {}  # candidate → occurrences in the whole corpus
        for run in re.findall(r"[\u4e00-\u9fff]+", text):
            for size in range(2, 9):
                for i in range(len(run) - size + 1):
                    sub = run[i: i + size]
                    if (sub in seen or sub[0] in _EDGE or sub[-1] in _EDGE or sub in _GENERIC
                            or _NUMERAL_CHARS.issuperset(sub)):  # numbers come whole, below
                        continue
                    if 1 <= sum(sub in o for o in others) <= common:
                        seen[sub] = sum(a.count(sub) for a in {answer, *others})
        # A stretch that only ever occurs inside a longer one (花果 inside 花果山) is not a word.
        found = [k for k, n in seen.items() if not any(k != o and k in o and seen[o] == n for o in seen)]
        found += _NUMERAL.findall(text)
        found += re.findall(r"([\u4e00-\u9fff]{2,6})(?=、)", text)  # items of an enumeration: 白骨精、牛魔王……
        found += re.findall(r"、([\u4e00-\u9fff]{2,6})(?=[、，。！？…；：,.!?;:]|$)", text)
    asked = {prompt[i: i + 3] for i in range(len(prompt) - 2)}
    found = [k for k in dict.fromkeys(found) if k not in prompt and not any(m in k for m in markers)
             and not any(k[i: i + 3] in asked for i in range(len(k) - 2))]  # 双火眼金睛 when 火眼金睛 was asked
    found = [k for k in found if not any(o != k and o in k for o in found)]
    found.sort(key=answer.find)
    return found[:limit]


# ---------------------------------------------------------------- candidate sources


class _PairSource:
    """Reworded questions of one seed × answer variants: each question used at most once, the
    answers taken in turn so they spread over the questions."""

    def __init__(self, seed: _Seed, questions: list[str], answers: list[str], origin: str):
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


class _ModelPairSource:
    """New pairs the model writes for one category, requested a few at a time."""

    def __init__(self, category: str, seeds: list[_Seed], gen: ModelGenerator, markers):
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


def _answers_for(seed: _Seed, siblings: list[_Seed], mode: str, rng: random.Random) -> list[str]:
    """The seed's answer variants, shuffled, its own answer last (the seed sample already has
    it); with "rotate", interleaved with the variants of the other seeds of the category."""
    def variants(s: _Seed) -> list[str]:
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


def _choose_probes(seeds: list[_Seed], by_cat: dict[str, list[_Seed]], k: int,
                   pools: dict[int, list[str]], markers) -> list[Probe]:
    """K rewordings, categories in turn, each far from every seed question and every other probe."""
    if k <= 0:
        return []
    instructions = [s.instruction for s in seeds]
    answers = [s.output for s in seeds]
    chosen: list[Probe] = []
    turn = {cat: 0 for cat in by_cat}

    def pick(s: _Seed) -> Probe | None:
        pool = pools[s.index]
        for i, q in enumerate(pool):
            taken = instructions + [p.prompt for p in chosen]
            if all(leak_score(q, t) < LEAK_RATIO for t in taken):
                del pool[i]
                facts = s.expect_any if s.expect_any is not None else (
                    fact_keywords(s.output, answers, markers, q) if _asks_for_facts(s) else [])
                return Probe(q, [f for f in facts if f not in q], s.category, s.index)
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


def _asks_for_facts(s: _Seed) -> bool:
    """Questions (what, who, where, yes/no) have facts to check; greetings, thanks, requests
    and requests for advice have open answers, so their probes carry no keywords."""
    return sentence_kind(s.instruction, s.lang or "zh") in ("whq", "ynq")


# ---------------------------------------------------------------- filling to the target


def _fill(sources: dict[str, list], filt: SampleFilter, target: int) -> None:
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


# ---------------------------------------------------------------- entry point


def _check_options(method, target, holdout, answers, endpoint, model, engine) -> None:
    problems = []
    if method not in METHODS:
        problems.append(f"--method {method!r} is not one of {', '.join(METHODS)}")
    if not isinstance(target, int) or target < 1:
        problems.append(f"--target {target!r} must be a whole number of samples, at least 1")
    if not isinstance(holdout, int) or holdout < 0:
        problems.append(f"--holdout {holdout!r} must be 0 or more probes")
    if answers not in ANSWER_MODES:
        problems.append(f"answers {answers!r} is not one of {', '.join(ANSWER_MODES)}")
    if method == "model" and engine is None and not endpoint:
        problems.append("--method model needs a model to ask: --endpoint URL (an OpenAI-compatible server such as "
                        "Ollama or vLLM, with --model NAME) or, from Python, engine= (a loaded ChatEngine; the CLI "
                        "loads one for --model)")
    if method == "model" and endpoint and engine is None and not model:
        problems.append(f"--endpoint {endpoint} needs --model: the model name the server knows (e.g. qwen2.5:7b)")
    if problems:
        raise ConfigError("; ".join(problems), fix="correct the option(s) named above and run again",
                          option=problems[0].split()[0])


def _markers(markers) -> list[str]:
    return split_list(markers) or []


def default_paths(out: str | Path) -> tuple[Path, Path]:
    """(probes file, prompts file) next to the output: OUT_probes.jsonl and OUT.prompts.jsonl."""
    out = Path(out)
    return out.with_name(out.stem + "_probes.jsonl"), out.with_name(out.stem + ".prompts.jsonl")


@dataclass
class Expansion:
    """A grown dataset in memory: the samples kept (grouped by category, seeds first), the
    probes, and the report (its `out` and `files` empty: nothing is written)."""

    samples: list[Candidate]
    probes: list[Probe]
    report: ExpandReport


def expand_dataset(path: str | Path, out: str | Path, target: int = 150, method: str = "templates",
                   endpoint: str | None = None, model: str | None = None, markers=None, holdout: int = 0,
                   seed: int = 0, engine=None, probes_out: str | Path | None = None,
                   max_answer_chars: int = MAX_ANSWER_CHARS, lang: str | None = None, answers: str = "keep",
                   generation_config=None, transport=None, overwrite: bool = False,
                   keep_out: list[str] | None = None) -> ExpandReport:
    """Grow the dataset at `path` to `target` samples and write it to `out` (Alpaca JSON).

    method      "templates" (offline rewording) or "model" (endpoint+model, or engine)
    markers     persona words (list or "a,b,c"): answers without any are rejected
    holdout     probes to write to `probes_out` (default OUT_probes.jsonl), kept out of training
    seed        shuffling seed: the same seed gives the same bytes
    lang        "zh" / "en": the answers' language; default: each seed answer's own
    answers     "keep" (a seed's rewordings get that seed's answer variants) or "rotate" (also
                those of the other seeds of its category)
    generation_config, transport: passed to the engine / the HTTP client (tests use
                httpx.MockTransport)
    overwrite   replace existing output files; without it an existing one is an error (a
                grown set may have been hand-edited since)
    keep_out    prompts already held out elsewhere (an existing probes file): no sample close
                to one is kept (counted as probe_leak), so those probes stay a fair test

    Raises ConfigError for bad options, DataError for an unreadable dataset, ModelError when the
    model server cannot be reached.
    """
    check_request(path, out, method, target, holdout, answers, endpoint, model, engine, overwrite, probes_out)
    path, out = Path(path), Path(out)
    default_probes, prompts_path = default_paths(out)
    probes_path = Path(probes_out) if probes_out else default_probes
    grown = grow_dataset(path, target, method, endpoint, model, markers, holdout, seed, engine, max_answer_chars,
                         lang, answers, generation_config, transport, keep_out)
    report = grown.report
    report.out = str(out)
    report.files = _write(out, grown.samples, grown.probes if holdout else None,
                          probes_path,
                          report.prompts if method == "model" else None, prompts_path)
    return report


def check_request(path, out, method="templates", target=150, holdout=0, answers="keep", endpoint=None, model=None,
                  engine=None, overwrite=False, probes_out=None) -> None:
    """Every check expand_dataset makes before it works: bad options, the output being the input,
    output files that exist. `engine`: the engine, or any true value for one that will be loaded
    (the API checks before it spends minutes loading a model)."""
    _check_options(method, target, holdout, answers, endpoint, model, engine)
    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise ConfigError(f"the output {out} is the input file", fix="write the grown dataset to a new file (-o)",
                          option="-o")
    default_probes, prompts_path = default_paths(out)
    if not overwrite:
        _refuse_existing([out, (Path(probes_out) if probes_out else default_probes) if holdout else None,
                          prompts_path if method == "model" else None])


def read_prompts(path: str | Path) -> list[str]:
    """The prompts of a probes file ({"prompt": ...} per record) or of any dataset we read (its
    questions), for `keep_out`."""
    records = read_records(path)
    if all(isinstance(r, dict) and isinstance(r.get("prompt"), str) for r in records):
        return [r["prompt"] for r in records]
    return [s.prompt for s in load_dataset(path).samples]


def _refuse_existing(paths: list[Path | None]) -> None:
    taken = [p for p in paths if p is not None and p.exists()]
    if taken:
        raise ConfigError(f"{', '.join(map(str, taken))} already exist{'s' if len(taken) == 1 else ''}: not replaced",
                          fix="write to a new -o file, or pass --overwrite to replace it", option="-o")


def grow_dataset(path: str | Path, target: int = 150, method: str = "templates", endpoint: str | None = None,
                 model: str | None = None, markers=None, holdout: int = 0, seed: int = 0, engine=None,
                 max_answer_chars: int = MAX_ANSWER_CHARS, lang: str | None = None, answers: str = "keep",
                 generation_config=None, transport=None, keep_out: list[str] | None = None) -> Expansion:
    """What `expand_dataset` writes, without writing it (the web studio previews it first).
    The options and errors are expand_dataset's."""
    _check_options(method, target, holdout, answers, endpoint, model, engine)
    path = Path(path)
    markers = _markers(markers)
    seeds, clustered = _read_seeds(path, lang)
    by_cat: dict[str, list[_Seed]] = {}
    for s in seeds:
        by_cat.setdefault(s.category, []).append(s)
    rng = random.Random(seed)  # every shuffle below draws from it, in a fixed order
    gen = None
    if method == "model":
        chat = EngineChat(engine, generation_config) if engine is not None else OpenAIChat(endpoint, model,
                                                                                           transport=transport)
        gen = ModelGenerator(chat, seed=seed)
    try:
        pools = _rewordings(seeds, gen, rng)
        probes = _choose_probes(seeds, by_cat, holdout, pools, markers)

        filt = SampleFilter(markers, max_answer_chars)
        filt.hold_out([p.prompt for p in probes] + list(keep_out or []))
        for s in seeds:
            filt.offer(Candidate(s.instruction, s.output, s.category, s.lang, s.index, "seed", s.extra))
        sources: dict[str, list] = {}
        for cat, group in by_cat.items():
            sources[cat] = [_ModelPairSource(cat, group, gen, markers)] if gen else []
            sources[cat] += [_PairSource(s, pools[s.index], _answers_for(s, group, answers, rng),
                                         "model" if gen else "template") for s in group]
        _fill(sources, filt, target)
    finally:
        if gen:
            gen.chat.close()

    order = {cat: i for i, cat in enumerate(by_cat)}
    kept = sorted(filt.kept, key=lambda c: order[c.category])  # stable: seeds stay first in their category
    report = ExpandReport(
        source=str(path), out="", method=method, seed=seed, target=target,
        n_source=len(seeds), n_out=len(kept),
        categories_before=dict(Counter(s.category for s in seeds)),
        categories_after={cat: n for cat in by_cat if (n := sum(c.category == cat for c in kept))},
        probes_per_category={cat: n for cat in by_cat if (n := sum(p.category == cat for p in probes))},
        holdout=holdout, filters=dict(filt.counts), candidates=filt.offered, files=[], markers=markers,
        clustered=clustered, prompts=gen.log if gen else [], requests=gen.requests if gen else 0,
        replies_malformed=gen.replies_malformed if gen else 0, items_malformed=gen.items_malformed if gen else 0,
    )
    if len(kept) < target:
        report.notes.append(f"target {target} not reached: {len(kept)} samples; the rewordings ran out. Add seed "
                            "samples (more questions per category), or use --method model")
    if len(probes) < holdout:
        report.notes.append(f"{len(probes)} of {holdout} probes: no other rewording was far enough from every "
                            "training question")
    return Expansion(kept, probes, report)


def _rewordings(seeds: list[_Seed], gen: ModelGenerator | None, rng: random.Random) -> dict[int, list[str]]:
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


def _write(out: Path, kept: list[Candidate], probes: list[Probe] | None, probes_path: Path,
           prompts: list[dict] | None, prompts_path: Path) -> list[str]:
    """The dataset (Alpaca JSON), the probes (JSONL) and the model's prompts (JSONL)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([record(c) for c in kept], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    files = [str(out)]
    if probes is not None:
        _write_jsonl(probes_path, [asdict(p) for p in probes])
        files.append(str(probes_path))
    if prompts is not None:
        _write_jsonl(prompts_path, prompts)
        files.append(str(prompts_path))
    return files


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def record(c: Candidate) -> dict:
    """A kept sample as the Alpaca record written for it."""
    rec = {"instruction": c.instruction, "input": "", "output": c.output, "category": c.category}
    if "system" in c.extra:
        rec["system"] = c.extra["system"]
    if "history" in c.extra:
        rec["history"] = c.extra["history"]
    return rec


# ---------------------------------------------------------------- text report


def format_expand_report(report: ExpandReport) -> str:
    """A plain-text table for the terminal: samples per category before and after, probes, and
    what each filter rejected."""
    r = report
    lines = [
        f"expanded    {r.source} -> {r.out}",
        f"method      {r.method}, seed {r.seed}" + (f", markers {', '.join(r.markers)}" if r.markers else ""),
        f"samples     {r.n_source} -> {r.n_out} (target {r.target})"
        + (f"; {r.n_probes} held-out probes (asked {r.holdout})" if r.holdout else ""),
    ]
    if r.clustered:
        lines.append("categories  clustered from the text (no 'category' field)")
    cats = list(dict.fromkeys([*r.categories_before, *r.categories_after]))
    width = max([len("category"), len("total"), *map(len, cats)]) + 2
    lines += ["", f"{'category':<{width}}{'before':>8}{'after':>8}{'probes':>8}"]
    for cat in cats:
        lines.append(f"{cat:<{width}}{r.categories_before.get(cat, 0):>8}{r.categories_after.get(cat, 0):>8}"
                     f"{r.probes_per_category.get(cat, 0):>8}")
    lines.append(f"{'total':<{width}}{r.n_source:>8}{r.n_out:>8}{r.n_probes:>8}")
    rejected = sum(r.filters.values())
    lines += ["", f"filters     {r.candidates} candidates tried, {r.n_out} kept, {rejected} rejected:"]
    lines += [f"  {name:<18}{n:>6}" for name, n in r.filters.items()]
    if r.method == "model":
        lines += ["", f"model       {r.requests} requests, {r.replies_malformed} malformed replies, "
                      f"{r.items_malformed} malformed lines"]
    lines += ["", "files       " + "\n            ".join(r.files)]
    lines += [f"note        {n}" for n in r.notes]
    return "\n".join(lines)


__all__ = ["ExpandReport", "Expansion", "Probe", "default_paths", "expand_dataset", "fact_keywords",
           "format_expand_report", "grow_dataset", "record"]
