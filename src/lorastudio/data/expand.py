"""Grow a small dataset: reworded questions and varied answers, filtered, with held-out probes.

    report = expand_dataset("seed.json", "grown.json", target=150, holdout=20,
                            markers=["俺老孙", "嘿嘿", "呔"], seed=0)
    print(format_expand_report(report))  # from data.expand_report

The options travel as one ExpandOptions, checked once (ExpandOptions.check) before any work.
The steps live beside this module: expand_sources.py (seeds, rewordings, probes, candidate
sources), facts.py (the facts a probe's answer names), expand_report.py (the report).

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
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import split_list
from ..errors import ConfigError
from .expand_report import ExpandReport
from .expand_sources import (
    ModelPairSource, PairSource, ProbeDraft, Seed, answers_for, choose_probes, fill, read_seeds, rewordings,
)
from .filters import MAX_ANSWER_CHARS, Candidate, SampleFilter
from .generate import LoadedEngineChat, ModelGenerator, OpenAIChat
from .readers import load_dataset, read_records

METHODS = ("templates", "model")
ANSWER_MODES = ("keep", "rotate")


@dataclass
class ExpandOptions:
    """How to grow a dataset.

    method      "templates" (offline rewording) or "model" (endpoint+model, or engine)
    markers     persona words (list or "a,b,c"): answers without any are rejected
    holdout     held-out probes to choose, kept out of training
    seed        shuffling seed: the same seed gives the same bytes
    lang        "zh" / "en": the answers' language; default: each seed answer's own
    answers     "keep" (a seed's rewordings get that seed's answer variants) or "rotate" (also
                those of the other seeds of its category)
    engine      a loaded ChatEngine to ask (model method without an endpoint)
    generation_config, transport: passed to the engine / the HTTP client (tests use
                httpx.MockTransport)
    keep_out    prompts already held out elsewhere (an existing probes file): no sample close
                to one is kept (counted as probe_leak), so those probes stay a fair test
    """

    target: int = 150
    method: str = "templates"
    endpoint: str | None = None
    model: str | None = None
    markers: list[str] | str | None = None
    holdout: int = 0
    seed: int = 0
    lang: str | None = None
    answers: str = "keep"
    max_answer_chars: int = MAX_ANSWER_CHARS
    keep_out: list[str] | None = None
    engine: object = None
    generation_config: object = None
    transport: object = None

    def __post_init__(self) -> None:
        self.markers = split_list(self.markers) or []
        self.keep_out = list(self.keep_out or [])

    def check(self, engine_coming: bool = False) -> None:
        """Raise ConfigError naming every bad option at once. `engine_coming`: an engine will be
        loaded for the model method (the API checks before it spends minutes loading one)."""
        has_engine = self.engine is not None or engine_coming
        problems = []
        if self.method not in METHODS:
            problems.append(f"--method {self.method!r} is not one of {', '.join(METHODS)}")
        if not isinstance(self.target, int) or self.target < 1:
            problems.append(f"--target {self.target!r} must be a whole number of samples, at least 1")
        if not isinstance(self.holdout, int) or self.holdout < 0:
            problems.append(f"--holdout {self.holdout!r} must be 0 or more probes")
        if self.answers not in ANSWER_MODES:
            problems.append(f"answers {self.answers!r} is not one of {', '.join(ANSWER_MODES)}")
        if self.method == "model" and not has_engine and not self.endpoint:
            problems.append("--method model needs a model to ask: --endpoint URL (an OpenAI-compatible server such as "
                            "Ollama or vLLM, with --model NAME) or, from Python, engine= (a loaded ChatEngine; the CLI "
                            "loads one for --model)")
        if self.method == "model" and self.endpoint and not has_engine and not self.model:
            problems.append(f"--endpoint {self.endpoint} needs --model: the model name the server knows (e.g. qwen2.5:7b)")
        if problems:
            raise ConfigError("; ".join(problems), fix="correct the option(s) named above and run again",
                              option=problems[0].split()[0])


@dataclass
class Expansion:
    """A grown dataset in memory: the samples kept (grouped by category, seeds first), the
    probes, and the report (its `out` and `files` empty: nothing is written)."""

    samples: list[Candidate]
    probes: list[ProbeDraft]
    report: ExpandReport


def default_paths(out: str | Path) -> tuple[Path, Path]:
    """(probes file, prompts file) next to the output: OUT_probes.jsonl and OUT.prompts.jsonl."""
    out = Path(out)
    return out.with_name(out.stem + "_probes.jsonl"), out.with_name(out.stem + ".prompts.jsonl")


def expand_dataset(path: str | Path, out: str | Path, *, overwrite: bool = False,
                   probes_out: str | Path | None = None, **options) -> ExpandReport:
    """Grow the dataset at `path` to `target` samples and write it to `out` (Alpaca JSON).

    options     ExpandOptions' fields, by name (target=150, method="templates", markers, holdout,
                seed, lang, answers, engine, keep_out, ...)
    probes_out  where the `holdout` probes go (default OUT_probes.jsonl)
    overwrite   replace existing output files; without it an existing one is an error (a
                grown set may have been hand-edited since)

    Raises ConfigError for bad options, DataError for an unreadable dataset, ModelError when the
    model server cannot be reached.
    """
    opts = ExpandOptions(**options)
    check_request(path, out, opts, overwrite=overwrite, probes_out=probes_out)
    return write_expansion(path, out, opts, probes_out)


def check_request(path, out, options: ExpandOptions, overwrite: bool = False, probes_out=None,
                  engine_coming: bool = False) -> None:
    """Every check expand_dataset makes before it works: bad options, the output being the input,
    output files that exist. `engine_coming`: see ExpandOptions.check."""
    options.check(engine_coming)
    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise ConfigError(f"the output {out} is the input file", fix="write the grown dataset to a new file (-o)",
                          option="-o")
    default_probes, prompts_path = default_paths(out)
    if not overwrite:
        _refuse_existing([out, (Path(probes_out) if probes_out else default_probes) if options.holdout else None,
                          prompts_path if options.method == "model" else None])


def write_expansion(path, out, options: ExpandOptions, probes_out=None) -> ExpandReport:
    """Grow and write, once check_request has passed: the dataset, the probes (with `holdout`)
    and, for the model method, every prompt and reply (OUT.prompts.jsonl)."""
    out = Path(out)
    default_probes, prompts_path = default_paths(out)
    grown = _grow(Path(path), options)
    report = grown.report
    report.out = str(out)
    report.files = _write(out, grown.samples, grown.probes if options.holdout else None,
                          Path(probes_out) if probes_out else default_probes,
                          report.prompts if options.method == "model" else None, prompts_path)
    return report


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


def grow_dataset(path: str | Path, options: ExpandOptions) -> Expansion:
    """What `expand_dataset` writes, without writing it (the web studio previews it first).
    The options and errors are expand_dataset's."""
    options.check()
    return _grow(Path(path), options)


def _grow(path: Path, options: ExpandOptions) -> Expansion:
    seeds, clustered = read_seeds(path, options.lang)
    by_cat: dict[str, list[Seed]] = {}
    for s in seeds:
        by_cat.setdefault(s.category, []).append(s)
    rng = random.Random(options.seed)  # every shuffle below draws from it, in a fixed order
    gen = _generator(options)
    try:
        pools = rewordings(seeds, gen, rng)
        probes = choose_probes(seeds, by_cat, options.holdout, pools, options.markers)
        filt = SampleFilter(options.markers, options.max_answer_chars)
        filt.hold_out([p.prompt for p in probes] + options.keep_out)
        for s in seeds:
            filt.offer(Candidate(s.instruction, s.output, s.category, s.lang, s.index, "seed", s.extra))
        sources: dict[str, list] = {}
        for cat, group in by_cat.items():
            sources[cat] = [ModelPairSource(cat, group, gen, options.markers)] if gen else []
            sources[cat] += [PairSource(s, pools[s.index], answers_for(s, group, options.answers, rng),
                                        "model" if gen else "template") for s in group]
        fill(sources, filt, options.target)
    finally:
        if gen:
            gen.chat.close()
    order = {cat: i for i, cat in enumerate(by_cat)}
    kept = sorted(filt.kept, key=lambda c: order[c.category])  # stable: seeds stay first in their category
    report = _report(path, options, seeds, by_cat, kept, probes, filt, gen)
    report.clustered = clustered
    return Expansion(kept, probes, report)


def _generator(options: ExpandOptions) -> ModelGenerator | None:
    """The model to ask (model method): the engine given, else the endpoint's server."""
    if options.method != "model":
        return None
    if options.engine is not None:
        chat = LoadedEngineChat(options.engine, options.generation_config)
    else:
        chat = OpenAIChat(options.endpoint, options.model, transport=options.transport)
    return ModelGenerator(chat, seed=options.seed)


def _report(path: Path, options: ExpandOptions, seeds: list[Seed], by_cat: dict[str, list[Seed]],
            kept: list[Candidate], probes: list[ProbeDraft], filt: SampleFilter, gen: ModelGenerator | None) -> ExpandReport:
    target, holdout = options.target, options.holdout
    report = ExpandReport(
        source=str(path), out="", method=options.method, seed=options.seed, target=target,
        n_source=len(seeds), n_out=len(kept),
        categories_before=dict(Counter(s.category for s in seeds)),
        categories_after={cat: n for cat in by_cat if (n := sum(c.category == cat for c in kept))},
        probes_per_category={cat: n for cat in by_cat if (n := sum(p.category == cat for p in probes))},
        holdout=holdout, filters=dict(filt.counts), candidates=filt.offered, files=[], markers=options.markers,
        prompts=gen.log if gen else [], requests=gen.requests if gen else 0,
        replies_malformed=gen.replies_malformed if gen else 0, items_malformed=gen.items_malformed if gen else 0,
    )
    if len(kept) < target:
        report.notes.append(f"target {target} not reached: {len(kept)} samples; the rewordings ran out. Add seed "
                            "samples (more questions per category), or use --method model")
    if len(probes) < holdout:
        report.notes.append(f"{len(probes)} of {holdout} probes: no other rewording was far enough from every "
                            "training question")
    return report


def _write(out: Path, kept: list[Candidate], probes: list[ProbeDraft] | None, probes_path: Path,
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


__all__ = ["ExpandOptions", "Expansion", "check_request", "default_paths", "expand_dataset", "grow_dataset",
           "read_prompts", "record", "write_expansion"]
