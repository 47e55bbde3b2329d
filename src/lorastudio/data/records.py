"""The in-memory shape every dataset format is read into: a list of chat conversations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FORMATS = ("alpaca", "sharegpt", "messages")


@dataclass
class Sample:
    """One training conversation. `messages` are OpenAI-style dicts: {"role", "content"}.

    Roles are normalised to system/user/assistant; an optional system message comes first,
    then user and assistant alternate, and the last message is the assistant's.
    """

    messages: list[dict[str, str]]
    index: int  # record index (0-based) in the source file, for error messages
    category: str | None = None

    @property
    def prompt(self) -> str:
        """The last user message: what a probe or a side-by-side comparison asks."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def response(self) -> str:
        return self.messages[-1]["content"]


@dataclass
class Dataset:
    path: str
    format: str  # one of FORMATS
    samples: list[Sample] = field(default_factory=list)
    sha256: str = ""  # hash of the file's bytes, recorded in run manifests

    def __len__(self) -> int:
        return len(self.samples)
