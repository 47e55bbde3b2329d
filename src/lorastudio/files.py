"""Small file helpers shared by training, diagnosis and the server (the bottom layer)."""

from __future__ import annotations

import json
import os
from pathlib import Path

# In a run folder: the held-out prompts training made from the data (no --probes given), which
# the doctor and the web studio ask.
HELDOUT_FILE = "heldout.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    """The readable lines of a JSONL log; a line cut by a crash ends it."""
    rows: list[dict] = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))
