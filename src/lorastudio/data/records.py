"""The in-memory shape every dataset format is read into: a list of chat conversations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant", "tool"]
FORMATS = ("alpaca", "sharegpt", "messages")


def message_text(message: dict) -> str:
    """What a message says, as text: its content, or its tool calls as JSON (an assistant turn
    that only calls a tool has empty content)."""
    text = message.get("content") or ""
    calls = message.get("tool_calls")
    if calls:
        text += ("\n" if text else "") + json.dumps([c.get("function", c) for c in calls], ensure_ascii=False)
    return text


@dataclass
class Sample:
    """One training conversation. `messages` are OpenAI-style dicts: {"role", "content"}, plus
    `tool_calls` on an assistant turn that calls a tool, and `"train": False` on an assistant turn
    whose tokens are context only (a loss_weight of 0 in the file).

    Roles are normalised to system/user/assistant/tool; an optional system message comes first,
    then user (or tool results) and assistant alternate, and the last message is the assistant's.
    `tools` holds the function schemas the conversation may call (OpenAI format).
    """

    messages: list[dict]
    index: int  # record index (0-based) in the source file, for error messages
    category: str | None = None
    tools: list[dict] | None = None

    @property
    def prompt(self) -> str:
        """The last user message: what a probe or a side-by-side comparison asks."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def response(self) -> str:
        return message_text(self.messages[-1])


@dataclass
class DataWarning:
    """Something in a file that is read past, not refused: reported once per kind with a count."""

    code: str  # "unknown_key" | "unfilled_placeholder"
    name: str  # the key or placeholder name
    count: int = 0  # records it occurs in
    records: list[int] = field(default_factory=list)  # the first few

    def add(self, index: int) -> None:
        self.count += 1
        if len(self.records) < 10:
            self.records.append(index)


@dataclass
class Dataset:
    path: str
    format: str  # one of FORMATS
    samples: list[Sample] = field(default_factory=list)
    sha256: str = ""  # hash of the file's bytes, recorded in run manifests
    warnings: list[DataWarning] = field(default_factory=list)
    placeholders: dict[str, int] = field(default_factory=dict)  # {{name}} found → records, filled or not

    def __len__(self) -> int:
        return len(self.samples)

    def warned(self, code: str) -> list[DataWarning]:
        return [w for w in self.warnings if w.code == code]

    @property
    def uses_tools(self) -> int:
        """Samples with tool calls or tool schemas."""
        return sum(1 for s in self.samples if s.tools or any(m["role"] == "tool" or m.get("tool_calls") for m in s.messages))
