"""Held-out that is not held out: probes that are training prompts, or close rewordings of them.

When the probes are what the adapter was trained on, the "held-out" voice, knowledge, content and
KL measure memorisation and look excellent. Each probe is compared with every trained prompt by
the expander's own leak rule (data/filters.py: rapidfuzz `fuzz.ratio` of the canonical cores and
of the normalised texts, the larger, at or above LEAK_RATIO), so a probe the expander or training
held out (data/heldout.py chooses them by this rule) never counts as a leak here; "exact" marks a
probe whose normalised text equals a training prompt's.

The doctor then measures the held-out numbers on the clean probes only (`split`), and says so.
"""

from __future__ import annotations

from ..data.filters import LEAK_RATIO, leaks
from ..data.language import normalize
from .effect import Probe
from .findings import Finding
from .thresholds import Thresholds

SHOWN = 5  # leaking probes quoted in the finding's evidence (all are in effect["leaks"])
CHUNK = 256  # probes compared at once: a dataset given as probes against 10k prompts stays ~20 MB


def trained_prompts(data) -> list[str]:
    """The prompts of the samples training used (the eval split excluded): `data` is the
    doctor's (dataset, eval dataset, prepared) triple."""
    dataset, _, prepared = data
    used = {t.index for t in prepared.train}
    return [s.prompt for s in dataset.samples if s.index in used]


def find_leaks(probes: list[Probe], prompts: list[str], ratio: float = LEAK_RATIO) -> list[dict]:
    """One row per leaking probe: {index, prompt, closest, score, exact}, closest training prompt first."""
    if not probes or not prompts:
        return []
    texts = [p.prompt for p in probes]
    unique = sorted(set(texts))
    best: dict[str, tuple[str, float]] = {}
    for start in range(0, len(unique), CHUNK):
        for probe, instruction, score in leaks(unique[start: start + CHUNK], prompts, ratio):
            if probe not in best or score > best[probe][1]:
                best[probe] = (instruction, score)
    rows = []
    for i, text in enumerate(texts):
        if text in best:
            closest, score = best[text]
            rows.append({"index": i, "prompt": text, "closest": closest, "score": round(score, 1),
                         "exact": normalize(text) == normalize(closest)})
    return rows


def split(probes: list[Probe], rows: list[dict]) -> tuple[list[Probe], list[Probe]]:
    """(clean, leaking) probes."""
    bad = {r["index"] for r in rows}
    return [p for i, p in enumerate(probes) if i not in bad], [p for i, p in enumerate(probes) if i in bad]


def leak_finding(report: dict, t: Thresholds) -> Finding | None:
    """PROBES_LEAK from effect["leaks"]: {probes, leaking, exact, rows, measured_on, source}."""
    k, n = report["leaking"], report["probes"]
    if not k:
        return None
    share = k / n
    severity = "error" if share > t.leak_error_share else "warning"
    examples = [f"{r['prompt']} → {r['closest']} ({r['score']:g}{', exact' if r['exact'] else ''})"
                for r in report["rows"][:SHOWN]]
    evidence = {"leaking": k, "probes": n, "share": round(share, 3), "exact": report["exact"], "leak_ratio": LEAK_RATIO,
                "examples": examples, "measured_on": report["measured_on"], "probes_file": report["source"]}
    return Finding(
        "PROBES_LEAK", severity,
        f"{k} of {n} probes are training prompts or close rewordings of them ({report['exact']} exact): "
        f"the held-out numbers are measured on {report['measured_on']}",
        evidence,
        f"keep probes far from every training prompt: remove or reword the {k} listed in doctor.json "
        f"(effect.leaks; a probe leaks at a similarity of {LEAK_RATIO:g} or more after politeness and synonyms "
        "are dropped), or let training hold out its own (`lorastudio data expand --holdout K` writes probes checked "
        "against the training questions, and training without --probes writes RUN_DIR/heldout.jsonl)")


def clean_probes(probes: list[Probe], source: str, prompts: list[str], later) -> tuple[list[Probe], str, dict]:
    """(probes to measure on, their source, the leak report: effect["leaks"]).

    The probes of `source` that leak no training prompt; when every one leaks, the first of the
    `later` (probes, source) pairs that has clean probes (the run's own held-out prompts, say);
    when none has, the leaking probes themselves, said so in the source."""
    rows = find_leaks(probes, prompts)
    report = {"source": source, "probes": len(probes), "leaking": len(rows), "exact": sum(r["exact"] for r in rows),
              "training_prompts": len(prompts), "rows": rows, "measured_on": "all probes", "clean": True}
    if not rows:
        return probes, source, report
    clean, _ = split(probes, rows)
    if clean:
        used, used_source = clean, f"{source}, the {len(clean)} probes that are not training prompts"
        report["measured_on"] = f"the {len(clean)} clean probes only"
    else:
        for other, other_source in later:
            used, _ = split(other, find_leaks(other, prompts))
            if used:
                used_source = f"{other_source} (every probe in {source} is a training prompt)"
                report["measured_on"] = f"{other_source} instead ({len(used)} clean probes)"
                break
        else:
            used, used_source = probes, f"{source} (all training prompts: memorisation, not held out)"
            report["measured_on"] = "the leaking probes (no clean probes anywhere): the numbers show memorisation"
    report["clean"] = bool(clean) or used is not probes
    return used, used_source, report
