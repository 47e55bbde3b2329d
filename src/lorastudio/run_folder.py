"""The run folder: the one place that knows its file names, when a run is complete, and how each
file is read and written. Training writes it; the doctor, the registry, export and the server read
it, all through `RunFolder`.

    RUN_DIR/
      config.json      the TrainConfig as trained (the recipe's values filled in)
      plan.json        {"plan", "findings", "auto", "memory"}: the plan before step 1
      heldout.jsonl    prompts made from the data and never trained on (when no --probes were given)
      metrics.jsonl    one line per optimizer step and per evaluation, appended as training goes
      status.json      {"state", "pid", "updated", ...}: where the training process is
      checkpoints/step-N/   adapter/   manifest.json (written last: with adapter/ it means complete)
      doctor.json  doctor.md   the doctor's report
      train.log  doctor.log  tune.log   a job's output, when the web studio ran it

Readers are tolerant as PEFT's configs are: every key is kept, known or not, so a folder written
by another version stays readable. A missing file reads as None; a damaged one (not JSON, or not
an object) raises a RunError naming the file, unless the caller asks `quiet=True` (a page that
polls a run being written, a listing that must show the other runs).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .config import TrainConfig
from .errors import RunError
from .files import read_jsonl, write_json_atomic, write_text_atomic

CONFIG = "config.json"
PLAN = "plan.json"
HELDOUT = "heldout.jsonl"
METRICS = "metrics.jsonl"
STATUS = "status.json"
MANIFEST = "manifest.json"
ADAPTER = "adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
CHECKPOINTS = "checkpoints"
CHECKPOINT_STATE = "state.json"  # written last into a checkpoint: only folders with one count
DOCTOR = "doctor.json"
DOCTOR_MD = "doctor.md"
LOGS = {"train": "train.log", "doctor": "doctor.log", "tune": "tune.log"}
# What describes a run beside its adapter (a shared zip carries these)
DESCRIPTION_FILES = (MANIFEST, CONFIG, PLAN, METRICS, DOCTOR, STATUS)


class RunFile(dict):
    """A JSON object file of the run folder, as read: every key kept, the known ones also as
    typed properties."""

    def _dict(self, key: str) -> dict:
        value = self.get(key)
        return value if isinstance(value, dict) else {}

    def _list(self, key: str) -> list:
        value = self.get(key)
        return value if isinstance(value, list) else []


class Manifest(RunFile):
    """manifest.json: the self-description of a finished run."""

    @property
    def config(self) -> dict:
        return self._dict("config")

    @property
    def plan(self) -> dict:
        return self._dict("plan")

    @property
    def metrics(self) -> dict:
        return self._dict("metrics")

    @property
    def findings(self) -> list[dict]:
        return self._list("findings")

    @property
    def base_model(self) -> dict:
        return self._dict("base_model")

    @property
    def dataset(self) -> dict:
        return self._dict("dataset")

    @property
    def created(self) -> str | None:
        return self.get("created")

    @property
    def chat_template(self) -> str | None:
        return self.get("chat_template")

    @property
    def chat_template_sha256(self) -> str | None:
        return self.get("chat_template_sha256")


class PlanFile(RunFile):
    """plan.json: the plan's numbers, its findings, the automatic values and why, the memory plan."""

    @property
    def plan(self) -> dict:
        return self._dict("plan")

    @property
    def findings(self) -> list[dict]:
        return self._list("findings")


class Status(RunFile):
    """status.json: the training process's state (starting, training, done, cancelled, failed)."""

    @property
    def state(self) -> str | None:
        return self.get("state")

    @property
    def step(self) -> int | None:
        return self.get("step")

    @property
    def total_steps(self) -> int | None:
        return self.get("total_steps")

    @property
    def updated(self) -> float:
        return self.get("updated") or 0


class DoctorFile(RunFile):
    """doctor.json: the doctor's report (diagnosis/doctor.py writes it)."""

    @property
    def verdict(self) -> str | None:
        verdict = self.get("verdict")
        if isinstance(verdict, dict):  # tolerate {"verdict": {"code": ...}} as well as a plain string
            verdict = verdict.get("code") or verdict.get("label")
        return verdict if isinstance(verdict, str) else None

    @property
    def markers(self) -> list[str]:
        """The markers the doctor measured (given, or found in the training answers)."""
        return list((self._dict("effect").get("markers") or {}).get("markers") or [])


def with_train_defaults(config: dict) -> dict:
    """A run's config with TrainConfig's own defaults for the keys it lacks (a folder written by
    another version, a config given in part): the defaults stay in one place, config.py."""
    defaults = {k: f.get_default(call_default_factory=True) for k, f in TrainConfig.model_fields.items()
                if not f.is_required()}
    return {**defaults, **config}


def read_object(path: Path, kind: type[RunFile] = RunFile, quiet: bool = False) -> RunFile | None:
    """A JSON object file: None when missing; a damaged one raises a RunError naming it (None if quiet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        if quiet:
            return None
        raise RunError(f"{path} is not valid JSON: {e}", fix="the run folder is damaged; re-run training (or the doctor)",
                       key="run_file_broken", params={"path": str(path)}) from e
    if not isinstance(data, dict):
        if quiet:
            return None
        raise RunError(f"{path} holds a JSON {type(data).__name__}, not an object",
                       fix="the run folder is damaged; re-run training (or the doctor)",
                       key="run_file_broken", params={"path": str(path)})
    return kind(data)


def tail_text(path: Path, max_bytes: int = 64 * 1024) -> str:
    """The end of a growing text file (a log, metrics.jsonl), or "" when there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ---- where things are -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def plan_file(self) -> Path:
        return self.path / PLAN

    @property
    def heldout_file(self) -> Path:
        return self.path / HELDOUT

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def status_file(self) -> Path:
        return self.path / STATUS

    @property
    def manifest_file(self) -> Path:
        return self.path / MANIFEST

    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER

    @property
    def doctor_file(self) -> Path:
        return self.path / DOCTOR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS

    def log_file(self, kind: str = "train") -> Path:
        return self.path / LOGS.get(kind, LOGS["train"])

    # ---- what state it is in ----------------------------------------------------------------
    def has_adapter(self) -> bool:
        return (self.adapter_dir / ADAPTER_WEIGHTS).is_file()

    def is_complete(self) -> bool:
        """Training finished here: manifest.json (written last) and the adapter's weights, in a
        folder whose name does not end in .tmp (one being written or deleted)."""
        return not self.name.endswith(".tmp") and self.manifest_file.is_file() and self.has_adapter()

    def holds_run(self) -> bool:
        """Training finished or started here (a manifest or a checkpoint): a new run must not overwrite it."""
        return self.manifest_file.exists() or bool(self.checkpoints())

    def checkpoints(self) -> list[Path]:
        """The complete checkpoints (step-N/ with its state.json), oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        done = [p for p in self.checkpoints_dir.glob("step-*")
                if not p.name.endswith(".tmp") and (p / CHECKPOINT_STATE).is_file()]
        return sorted(done, key=lambda p: int(p.name.split("-")[1]))

    def heldout(self) -> Path | None:
        return self.heldout_file if self.heldout_file.is_file() else None

    # ---- readers ----------------------------------------------------------------------------
    def manifest(self, quiet: bool = False) -> Manifest | None:
        return read_object(self.manifest_file, Manifest, quiet)

    def plan(self, quiet: bool = False) -> PlanFile | None:
        return read_object(self.plan_file, PlanFile, quiet)

    def config(self, quiet: bool = False) -> RunFile | None:
        """config.json as written (every TrainConfig field); `config.saved_config` makes a TrainConfig of it."""
        return read_object(self.config_file, RunFile, quiet)

    def status(self, quiet: bool = False) -> Status | None:
        return read_object(self.status_file, Status, quiet)

    def doctor_report(self, quiet: bool = False) -> DoctorFile | None:
        return read_object(self.doctor_file, DoctorFile, quiet)

    def metrics(self) -> list[dict]:
        """Every whole line of metrics.jsonl (a line cut by a crash ends it)."""
        return read_jsonl(self.metrics_file)

    def last_step(self) -> int | None:
        """The last optimizer step in metrics.jsonl, read from its end (the file grows as training goes)."""
        for line in reversed(tail_text(self.metrics_file, 8192).splitlines()):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and row.get("type") == "step":
                return row.get("step")
        return None

    def log_tail(self, kind: str = "train", lines: int = 40) -> str:
        """The last lines of a job's log; a progress bar redrawn with \\r shows its last state."""
        text = tail_text(self.log_file(kind))
        return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])

    # ---- writers (training and the doctor) --------------------------------------------------
    def write_config(self, config) -> None:
        """A TrainConfig (pydantic), saved as JSON."""
        write_text_atomic(self.config_file, config.model_dump_json(indent=2))

    def write_plan(self, data: dict) -> None:
        write_json_atomic(self.plan_file, data)

    def write_heldout(self, rows: list[dict]) -> None:
        write_text_atomic(self.heldout_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def write_status(self, state: str, **extra) -> None:
        write_json_atomic(self.status_file, {"state": state, "pid": os.getpid(), "updated": time.time(), **extra})

    def write_manifest(self, data: dict) -> None:
        """Written last by training: its presence (with the adapter) means complete."""
        write_json_atomic(self.manifest_file, data)

    def write_doctor_report(self, data: dict, markdown: str) -> None:
        write_text_atomic(self.doctor_file, json.dumps(data, indent=2, ensure_ascii=False))
        write_text_atomic(self.path / DOCTOR_MD, markdown)

    def metrics_log(self, resume_step: int | None = None) -> MetricsLog:
        return MetricsLog(self.metrics_file, resume_step)

    def follow_metrics(self) -> MetricsFollower:
        return MetricsFollower(self.metrics_file)


class MetricsFollower:
    """metrics.jsonl followed as it grows (the live curve): each `read` gives the whole lines
    written since the last one, and whether the file was cut back meanwhile (a resume rewrites
    it from its checkpoint: the reader starts over)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset, self.pending = 0, b""

    def read(self) -> tuple[bool, list]:
        size = self.path.stat().st_size if self.path.exists() else 0
        reset = size < self.offset
        if reset:
            self.offset, self.pending = 0, b""
        rows = []
        if size > self.offset:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                self.pending += f.read(size - self.offset)
            self.offset = size
            *lines, self.pending = self.pending.split(b"\n")
            for line in lines:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        return reset, rows


class MetricsLog:
    """metrics.jsonl, appended one line per optimizer step and per evaluation, flushed each time."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None and path.exists():
            # Lines past the checkpoint belong to the interrupted tail; the resumed run rewrites them.
            kept = [line for line in read_jsonl(path) if line.get("step", 0) <= resume_step]
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        elif resume_step is None:
            path.write_text("", encoding="utf-8")
        self._fh = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()  # readers (the web studio, `tail -f`) see each step as it happens

    def close(self) -> None:
        self._fh.close()
