"""What differs between the kinds of job the runner runs: train, doctor, tune. One object each,
in `KINDS`; the runner (jobs.py) and the routers ask a job's kind instead of testing its name.

Each kind says
  command(job, config_file)   the command line to launch (config_file: HOME/jobs/ID/config.json,
                              written for every job; only a training job reads it)
  marker(job, config_file)    a string only this job's command line holds, so that a server
                              restarted later knows the pid is still this job's process
  summary(job)                progress and complete, for the job's JSON (a tune adds its table)
  progress(job)               what the live status shows (status.json; a tune: its current trial)
  phase(job, progress)        where a running job is, for the page (a training job only)
  verdict(job)                the doctor's verdict on the run, once doctor.json exists
  finish(job, rc)             (status, error) once its process has ended; the runner adds the
                              log's last line to a failure that has no error of its own
  checkpoint_steps(job, upto) steps a checkpoint was saved at (a training job only)
  resumable                   whether a cancelled or failed job may be queued again to resume

`job` is a jobs.Job (not imported: jobs.py imports this module).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..run_folder import RunFolder
from . import tune_jobs
from .job_status import CANCELLED, DONE, FAILED


def _lorastudio(*args: str) -> list[str]:
    return [sys.executable, "-m", "lorastudio", *args]


class JobKind:
    """The common ground: a job with one run folder, its status.json and its doctor's verdict."""

    name = ""
    resumable = False

    def command(self, job, config_file: Path) -> list[str]:
        raise NotImplementedError

    def marker(self, job, config_file: Path) -> str:
        raise NotImplementedError

    def finish(self, job, rc: int | None) -> tuple[str, str | None]:
        raise NotImplementedError

    def progress(self, job) -> dict:
        """status.json written by the job's process: state, step, total_steps."""
        return dict(job.folder.status(quiet=True) or {})

    def summary(self, job) -> dict:
        return {"progress": self.progress(job), "complete": job.folder.is_complete()}

    def phase(self, job, progress: dict) -> str | None:
        return None

    def verdict(self, job) -> str | None:
        return doctor_verdict(job.folder)

    def checkpoint_steps(self, job, upto: int) -> list[int]:
        return []

    def __repr__(self) -> str:
        return f"<job kind {self.name}>"


class TrainKind(JobKind):
    """`lorastudio train --config HOME/jobs/ID/config.json [--force] [--resume]`."""

    name = "train"
    resumable = True

    def command(self, job, config_file: Path) -> list[str]:
        cmd = _lorastudio("train", "--config", str(config_file))
        return cmd + (["--force"] if job.force else []) + (["--resume"] if job.resume else [])

    def marker(self, job, config_file: Path) -> str:
        return str(config_file)

    def finish(self, job, rc: int | None) -> tuple[str, str | None]:
        """Done once the run folder is complete and status.json says so; cancelled if asked (or
        the trainer says it was); failed otherwise."""
        state = self.progress(job).get("state")
        if job.folder.is_complete() and state == "done":
            return DONE, None
        if job.cancel_requested or state == "cancelled":
            return CANCELLED, None
        return FAILED, None

    def phase(self, job, progress: dict) -> str | None:
        """starting (the process is importing its libraries: no status.json of its own yet),
        preparing (tokenising the data and loading the model), first_step, training, doctor
        (training done, the doctor runs)."""
        if not progress or (progress.get("updated") or 0) < (job.started or 0) - 1:
            return "starting"  # nothing written yet, or status.json left by an earlier attempt
        state = progress.get("state")
        if state == "done":
            return "doctor"
        if state == "starting":
            return progress.get("phase") or "preparing"
        return progress.get("phase") or "training"

    def checkpoint_steps(self, job, upto: int) -> list[int]:
        """Steps up to `upto` at which the run saved a checkpoint: by the trainer's rule (every
        save_steps, else at each epoch's end: plan.json's steps per epoch), and those on disk (a
        cancel saves one at any step). Older ones are deleted as training goes (keep_checkpoints);
        the rule still places them, so a reloaded page marks them all."""
        steps = {int(p.name.split("-")[1]) for p in job.folder.checkpoints()}
        plan_file = job.folder.plan(quiet=True)
        plan = plan_file.plan if plan_file is not None else {}
        every = job.config.get("save_steps") or plan.get("steps_per_epoch") or 0
        if every:
            steps |= set(range(every, min(upto, plan.get("total_steps") or upto) + 1, every))
        return sorted(s for s in steps if s <= upto)


class DoctorKind(JobKind):
    """`lorastudio doctor RUN_DIR` on a finished run."""

    name = "doctor"

    def command(self, job, config_file: Path) -> list[str]:
        return _lorastudio("doctor", job.run_dir)

    def marker(self, job, config_file: Path) -> str:
        return job.run_dir

    def finish(self, job, rc: int | None) -> tuple[str, str | None]:
        """Done when this job wrote doctor.json. The exit code says the verdict (0 learned,
        1 not learned, 3 inconclusive); 2 is "could not run"."""
        path = job.folder.doctor_file
        wrote = path.is_file() and path.stat().st_mtime >= (job.started or 0) - 1
        return (DONE if wrote and rc in (0, 1, 3, None) else FAILED), None


class TuneKind(JobKind):
    """`lorastudio tune ... --output HOME/tunes/NAME`; its trials are read by tune_jobs.py."""

    name = "tune"

    def command(self, job, config_file: Path) -> list[str]:
        c = job.config
        cmd = _lorastudio("tune", "--data", c["data"], "--model", c["model"], "--budget", c["budget"],
                          "--max-trials", str(c["max_trials"]))
        if c.get("probes"):  # without, each trial holds prompts out of the data
            cmd += ["--probes", c["probes"]]
        if c.get("markers"):
            cmd += ["--markers", ",".join(c["markers"])]
        # --output last: its value then ends the command line, which the marker relies on
        return cmd + (["--force"] if job.force else []) + ["--output", job.run_dir]

    def marker(self, job, config_file: Path) -> str:
        """The output folder as a whole argument (NUL-terminated in /proc/PID/cmdline): tunes/a is not tunes/a-2."""
        return job.run_dir + "\0"

    def finish(self, job, rc: int | None) -> tuple[str, str | None]:
        return tune_jobs.finish(job)

    def progress(self, job) -> dict:
        return tune_jobs.progress(job)

    def summary(self, job) -> dict:
        table = tune_jobs.table(job)  # one read of the tune's files serves the table and the progress
        return {"tune": table, "progress": tune_jobs.progress(job, table), "complete": table["adapter"] is not None}

    def verdict(self, job) -> str | None:
        return None  # each trial has its own, in the table


KINDS: dict[str, JobKind] = {k.name: k for k in (TrainKind(), DoctorKind(), TuneKind())}


class UnknownJobKind(ValueError):
    """A job kind the runner does not know: a bug in the caller, not the user's doing."""


def kind_of(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownJobKind(f"no job kind {name!r}; the runner knows {', '.join(sorted(KINDS))}") from None


_VERDICTS: dict[str, tuple[float, str | None]] = {}  # doctor.json path -> (mtime, verdict): read once per change


def doctor_verdict(folder: RunFolder) -> str | None:
    path = folder.doctor_file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _VERDICTS.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    report = folder.doctor_report(quiet=True)
    _VERDICTS[str(path)] = (mtime, report.verdict if report is not None else None)
    return _VERDICTS[str(path)][1]
