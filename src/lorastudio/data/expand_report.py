"""What an expansion did: the ExpandReport (as data, for JSON and the web studio) and a
plain-text table of it for the terminal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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

