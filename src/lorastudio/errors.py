"""Errors a user can cause, each with a message that names the thing and says how to fix it.

The CLI and the server catch `StudioError` and print/return its text; anything else is a bug
and is allowed to surface as a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class StudioError(Exception):
    """Base class: a problem the user can fix. `fix` says how.

    `key` and `params`, when given, name the message in the catalogue (locales/*.json, key
    `error.<key>`, its fix `error.<key>.fix`), so the web studio and `LORASTUDIO_LANG=zh` can
    say it in the user's language; `message` and `fix` stay the English text."""

    def __init__(self, message: str, fix: str | None = None, key: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.key = key
        self.params = params or {}

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, "message": self.message, "fix": self.fix}


@dataclass
class DataProblem:
    """One problem in one record of a dataset file."""

    file: str
    index: int | None  # record index (0-based) or None for the file as a whole
    field: str | None  # dotted path inside the record, e.g. "conversations[2].value"
    message: str
    code: str | None = None  # the kind of problem ("unknown_role", "empty"...): repeats are summarised by it

    def __str__(self) -> str:
        where = self.file
        if self.index is not None:
            where += f": record {self.index}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"

    @property
    def kind(self) -> tuple:
        """What makes two problems "the same": their code and field with the turn numbers left
        out (conversations[3].from and conversations[7].from are one kind)."""
        return (self.code or self.message, re.sub(r"\[\d+\]", "[]", self.field or ""))


class DataError(StudioError, ValueError):
    """A dataset that cannot be used. Carries every problem found (capped), not just the first.

    The same kind of problem in many records is summarised: its first SAME_SHOWN occurrences,
    then "... and N more of the same (records ...)", so one mistake repeated in 400 records
    reads as one mistake.
    """

    MAX_SHOWN = 20
    SAME_SHOWN = 3

    def __init__(self, problems: list[DataProblem], fix: str | None = None, total: int | None = None,
                 counts: dict | None = None):
        self.problems = problems
        self.total = total if total is not None else len(problems)
        self.counts = counts or _count_kinds(problems)  # kind -> (count, first record indices)
        head = f"{self.total} problem(s) in the dataset:" if self.total != 1 else "1 problem in the dataset:"
        super().__init__(f"{head}\n{self._summary()}", fix)

    def _summary(self) -> str:
        lines, accounted, per_kind = [], 0, {}
        for p in self.problems:
            n = per_kind[p.kind] = per_kind.get(p.kind, 0) + 1
            if n <= self.SAME_SHOWN and len(lines) < self.MAX_SHOWN:
                lines.append(f"  - {p}")
                accounted += 1
            elif n == self.SAME_SHOWN + 1 and len(lines) < self.MAX_SHOWN + 5:
                count, records = self.counts.get(p.kind, (n, []))
                rest = count - self.SAME_SHOWN
                more = [r for r in records[self.SAME_SHOWN:] if r is not None][:8]
                at = f" (records {', '.join(map(str, more))}{', ...' if rest > len(more) else ''})" if more else ""
                lines.append(f"    ... and {rest} more of the same{at}")
                accounted += rest
        if self.total > accounted:
            lines.append(f"  ... and {self.total - accounted} more")
        return "\n".join(lines)

    def groups(self) -> list[dict]:
        """Each kind of problem once: its first occurrence, how many records have it, which."""
        firsts: dict[tuple, DataProblem] = {}
        for p in self.problems:
            firsts.setdefault(p.kind, p)
        return [{"code": first.code, "field": first.field, "message": first.message, "count": self.counts[kind][0],
                 "records": self.counts[kind][1][:20]} for kind, first in firsts.items() if kind in self.counts]

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["problems"] = [p.__dict__ for p in self.problems[: self.MAX_SHOWN]]
        d["groups"] = self.groups()
        d["total"] = self.total
        return d


def _count_kinds(problems: list[DataProblem]) -> dict:
    counts: dict[tuple, tuple[int, list]] = {}
    for p in problems:
        n, records = counts.get(p.kind, (0, []))
        counts[p.kind] = (n + 1, records + [p.index] if len(records) < 50 else records)
    return counts


class ConfigError(StudioError, ValueError):
    """A bad option value or config file. `option` names the flag or key."""

    def __init__(self, message: str, fix: str | None = None, option: str | None = None, key: str | None = None,
                 params: dict | None = None):
        super().__init__(message, fix, key, params)
        self.option = option


class ModelError(StudioError):
    """A model that cannot be found or loaded, or target modules it does not have."""


class RunError(StudioError):
    """A run folder that is missing, incomplete or would be overwritten."""


class PlanRefused(StudioError):
    """Training refused because the plan has error-level findings (use --force to override)."""

    def __init__(self, message: str, findings: list, fix: str | None = None, key: str | None = None):
        super().__init__(message, fix, key)
        self.findings = findings


@dataclass
class ProblemList:
    """Collects problems so validation can report all of them at once; counts every kind even
    past the cap on stored problems."""

    file: str
    problems: list[DataProblem] = field(default_factory=list)
    cap: int = 200
    total: int = 0
    counts: dict = field(default_factory=dict)

    def add(self, index: int | None, field_: str | None, message: str, code: str | None = None) -> None:
        self.total += 1
        problem = DataProblem(self.file, index, field_, message, code)
        n, records = self.counts.get(problem.kind, (0, []))
        self.counts[problem.kind] = (n + 1, records + [index] if len(records) < 50 else records)
        if len(self.problems) < self.cap:
            self.problems.append(problem)

    def raise_if_any(self, fix: str | None = None) -> None:
        if self.total:
            raise DataError(self.problems, fix=fix, total=self.total, counts=self.counts)


class ExportError(StudioError):
    """An export that cannot be written (unsupported architecture, tokenizer or template), or
    whose written files do not reproduce the adapter (the verification failed)."""
