"""metrics.jsonl (one line per optimizer step and per evaluation) and status.json."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..files import read_jsonl as read_metrics  # noqa: F401 (re-exported for the server)
from ..files import write_json_atomic


class MetricsLog:
    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.exists():
            # Lines past the checkpoint belong to the interrupted tail; the resumed run rewrites them.
            kept = [line for line in read_metrics(path) if line.get("step", 0) <= resume_step]
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        elif resume_step is None:
            path.write_text("", encoding="utf-8")
        self._fh = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()  # readers (the web studio, `tail -f`) see each step as it happens

    def close(self) -> None:
        self._fh.close()


def write_status(run_dir: Path, state: str, **extra) -> None:
    write_json_atomic(run_dir / "status.json", {"state": state, "pid": os.getpid(), "updated": time.time(), **extra})
