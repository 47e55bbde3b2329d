"""Training jobs: recorded in SQLite under the studio home, each run in its own process.

The web server never trains. A job is a row in `jobs.sqlite`; the runner starts it as

    python -m lorastudio train --config HOME/jobs/ID/config.json [--force] [--resume]

(or `lorastudio doctor RUN_DIR`, or `lorastudio tune ... --output HOME/tunes/NAME`: what differs
between the kinds, one object each, is in job_kinds.py) in a new session (so stopping the server,
or Ctrl-C in its terminal, leaves training running) with its output in `HOME/runs/NAME/train.log`.
One job runs per device; the others wait queued, oldest first. The runner's `tick` reconciles the
table with reality every half second: a job whose process has ended becomes done, cancelled or
failed (with its log tail), as its kind judges from the run folder (a training run: complete, and
status.json says done, means done). A new runner on the same home, after a server restart, finds
`running` rows and re-attaches by pid, checking /proc that the pid is still that job's process
(its kind's marker is in the command line) and not a reused number.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..run_folder import RunFolder
from ..serving.registry import NotFound
from .job_kinds import JobKind, kind_of
from .job_status import ACTIVE, CANCELLED, DONE, FAILED, QUEUED, RUNNING  # noqa: F401 (re-exported for the routers)

log = logging.getLogger("lorastudio.server.jobs")

TAIL_LINES = 40

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                 -- 'train', 'doctor' or 'tune'
    name TEXT NOT NULL,                 -- the run folder's name
    run_dir TEXT NOT NULL,
    config TEXT NOT NULL,               -- JSON: the TrainConfig fields
    force INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    returncode INTEGER,
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL
)
"""


@dataclass
class Job:
    id: int
    kind: str
    name: str
    run_dir: str
    config: dict
    force: bool
    resume: bool
    device: str
    status: str
    pid: int | None
    returncode: int | None
    error: str | None
    cancel_requested: bool
    created: float
    started: float | None
    finished: float | None

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.run_dir)

    @property
    def log_path(self) -> Path:
        return self.folder.log_file(self.kind)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def kind_spec(self) -> JobKind:
        """What this kind of job launches and how it is read (job_kinds.py); `kind` stays its name."""
        return kind_of(self.kind)

    def progress(self) -> dict:
        """status.json written by the job's process: state, step, total_steps (a tune: its current trial's)."""
        return self.kind_spec.progress(self)

    def phase(self, progress: dict) -> str | None:
        """Where a job is, for the page: queued; while running, what its kind says (a training
        job: starting, preparing, first_step, training, doctor); None otherwise."""
        if self.status == QUEUED:
            return "queued"
        if self.status != RUNNING:
            return None
        return self.kind_spec.phase(self, progress)

    def verdict(self) -> str | None:
        """The doctor's verdict on this run, once doctor.json exists (a tune: None, each trial has its own)."""
        return self.kind_spec.verdict(self)

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        return self.folder.log_tail(self.kind, lines)

    def to_dict(self, tail: bool = False) -> dict:
        d = asdict(self)
        d["has_checkpoint"] = bool(self.folder.checkpoints())
        d.update(self.kind_spec.summary(self))  # progress, complete (a tune: its table first)
        d["phase"] = self.phase(d["progress"])
        d["verdict"] = self.verdict()
        if tail:
            d["log_tail"] = self.log_tail()
        return d


class JobStore:
    """The jobs table. Each call opens its own connection: safe from any thread, and every
    change is committed at once, so an abrupt stop of the server loses nothing."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        d = dict(row)
        d["config"] = json.loads(d["config"])
        for key in ("force", "resume", "cancel_requested"):
            d[key] = bool(d[key])
        return Job(**d)

    def add(self, kind: str, name: str, run_dir: Path, config: dict, device: str, force: bool = False,
            resume: bool = False) -> Job:
        with self._conn() as c:
            cur = c.execute(
                "INSERT INTO jobs (kind, name, run_dir, config, force, resume, device, status, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, name, str(run_dir), json.dumps(config, ensure_ascii=False), int(force), int(resume), device,
                 QUEUED, time.time()))
            job_id = cur.lastrowid
        return self.get(job_id)

    def get(self, job_id: int) -> Job:
        with self._conn() as c:
            row = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id}", fix="list the jobs with GET /api/jobs", key="not_found.job",
                           params={"id": job_id})
        return self._job(row)

    def list(self, statuses: tuple[str, ...] | None = None, name: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs", []
        where = []
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args += list(statuses)
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._conn() as c:
            return [self._job(r) for r in c.execute(sql + " ORDER BY id", args).fetchall()]

    def update(self, job_id: int, **fields) -> Job:
        fields = {k: (int(v) if isinstance(v, bool) else v) for k, v in fields.items()}
        with self._conn() as c:
            c.execute(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?", (*fields.values(), job_id))
        return self.get(job_id)

    def rename_run(self, old_dir: Path, new_name: str, new_dir: Path) -> None:
        with self._conn() as c:
            c.execute("UPDATE jobs SET name = ?, run_dir = ? WHERE run_dir = ?", (new_name, str(new_dir), str(old_dir)))


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _pid_is(pid: int, marker: str) -> bool:
    """Is `pid` alive and still the job's process (its command line names the job's file)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no /proc (macOS): the signal check is all there is
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().decode("utf-8", errors="replace")
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and marker in cmdline


class JobRunner:
    def __init__(self, store: JobStore, home: Path, device: str | None = None, poll_seconds: float = 0.5):
        self.store = store
        self.home = home
        self.device = device or default_device()
        self.poll_seconds = poll_seconds
        self.procs: dict[int, subprocess.Popen] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.tick()  # re-attach or fail what was running before, at once
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lorastudio-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching. Training processes go on; the next runner re-attaches to them."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.tick()
            except Exception:  # a bug here must not stop the watching
                log.exception("job runner tick failed")

    # ---- the reconciliation -----------------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            for job in self.store.list((RUNNING,)):
                proc = self.procs.get(job.id)
                if proc is not None:
                    rc = proc.poll()
                    if rc is not None:
                        self._finish(job, rc)
                elif not (job.pid and _pid_is(job.pid, self.marker(job))):
                    self._finish(job, None)  # died while no server was watching
            busy = {j.device for j in self.store.list((RUNNING,))}
            for job in self.store.list((QUEUED,)):
                if job.device not in busy:
                    self._launch(job)
                    busy.add(job.device)

    def marker(self, job: Job) -> str:
        """A string only this job's command line holds: its config file, or the doctor's or tune's folder."""
        return job.kind_spec.marker(job, self.config_file(job.id))

    def job_dir(self, job_id: int) -> Path:
        return self.home / "jobs" / str(job_id)

    def config_file(self, job_id: int) -> Path:
        """The job's config, written before each launch (a training job's command reads it)."""
        return self.job_dir(job_id) / "config.json"

    def command(self, job: Job) -> list[str]:
        return job.kind_spec.command(job, self.config_file(job.id))

    def _launch(self, job: Job) -> None:
        folder = self.job_dir(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        self.config_file(job.id).write_text(json.dumps(job.config, indent=2, ensure_ascii=False), encoding="utf-8")
        Path(job.run_dir).mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LORASTUDIO_HOME": str(self.home), "PYTHONUNBUFFERED": "1",
               "TOKENIZERS_PARALLELISM": "false", "LORASTUDIO_JOB": str(job.id)}
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        env.setdefault("COLUMNS", "120")
        cmd = self.command(job)
        with open(job.log_path, "ab") as logf:
            logf.write(f"$ {' '.join(cmd)}\n".encode())
            logf.flush()
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=str(folder), start_new_session=True)
        self.procs[job.id] = proc
        self.store.update(job.id, status=RUNNING, pid=proc.pid, started=time.time(), returncode=None, error=None)

    def _finish(self, job: Job, rc: int | None) -> None:
        self.procs.pop(job.id, None)
        status, error = job.kind_spec.finish(job, rc)
        if status == FAILED:
            tail = [line for line in job.log_tail().splitlines() if line.strip()]
            why = "the process ended without finishing" if rc is None else f"the process exited with code {rc}"
            error = f"{why}: {tail[-1].strip()}" if tail else why
        self.store.update(job.id, status=status, returncode=rc, finished=time.time(), error=error)

    # ---- what the routers call --------------------------------------------------------------
    def submit(self, kind: str, name: str, run_dir: Path, config: dict, force: bool = False, resume: bool = False) -> Job:
        kind_of(kind)  # an unknown kind is refused before it is recorded
        job = self.store.add(kind, name, run_dir, config, self.device, force=force, resume=resume)
        self.tick()  # start now when the device is free
        return self.store.get(job.id)

    def cancel(self, job_id: int) -> Job:
        """Queued: dropped. Running: SIGINT (the trainer checkpoints and exits); asked twice: SIGKILL."""
        with self._lock:
            job = self.store.get(job_id)
            if job.status == QUEUED:
                return self.store.update(job_id, status=CANCELLED, finished=time.time(), cancel_requested=True)
            if job.status == RUNNING and job.pid:
                sig = signal.SIGKILL if job.cancel_requested else signal.SIGINT
                if job.id in self.procs or _pid_is(job.pid, self.marker(job)):
                    try:
                        os.kill(job.pid, sig)
                    except ProcessLookupError:
                        pass
                return self.store.update(job_id, cancel_requested=True)
            return job

    def requeue(self, job_id: int, resume: bool = True) -> Job:
        with self._lock:
            job = self.store.get(job_id)
            self.store.update(job_id, status=QUEUED, resume=resume, pid=None, returncode=None, error=None,
                              cancel_requested=False, started=None, finished=None)
            self.tick()
            return self.store.get(job.id)
