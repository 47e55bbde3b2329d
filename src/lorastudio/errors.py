"""Errors a user can cause, each with a message that names the thing and says how to fix it.

The CLI and the server catch `StudioError` and print/return its text; anything else is a bug
and is allowed to surface as a traceback.
"""

from __future__ import annotations

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

    def __str__(self) -> str:
        where = self.file
        if self.index is not None:
            where += f": record {self.index}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class DataError(StudioError, ValueError):
    """A dataset that cannot be used. Carries every problem found (capped), not just the first."""

    MAX_SHOWN = 20

    def __init__(self, problems: list[DataProblem], fix: str | None = None, total: int | None = None):
        self.problems = problems
        self.total = total if total is not None else len(problems)
        shown = "\n".join(f"  - {p}" for p in problems[: self.MAX_SHOWN])
        more = self.total - min(len(problems), self.MAX_SHOWN)
        head = f"{self.total} problem(s) in the dataset:" if self.total != 1 else "1 problem in the dataset:"
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{head}\n{shown}{tail}", fix)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["problems"] = [p.__dict__ for p in self.problems[: self.MAX_SHOWN]]
        d["total"] = self.total
        return d


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
    """Collects problems so validation can report all of them at once."""

    file: str
    problems: list[DataProblem] = field(default_factory=list)
    cap: int = 200
    total: int = 0

    def add(self, index: int | None, field_: str | None, message: str) -> None:
        self.total += 1
        if len(self.problems) < self.cap:
            self.problems.append(DataProblem(self.file, index, field_, message))

    def raise_if_any(self, fix: str | None = None) -> None:
        if self.total:
            raise DataError(self.problems, fix=fix, total=self.total)
