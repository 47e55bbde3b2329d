"""Tune jobs: `lorastudio tune` run by the job runner (its command line: job_kinds.py), its trials
read back as they finish, and its best adapter registered.

    HOME/tunes/NAME/   the tune's output folder: trial-N/ (a run folder each), trials.jsonl (a
                       line per trial as it finishes), tune.json (the table, written last),
                       best → trial-K, tune.log
    HOME/runs/NAME/    the best trial's run folder, copied there when the tune ends well: the
                       adapter registry lists it, chat and the doctor page use it, like a trained run

A copy, not a link: the registry looks one level into the runs folder, and its rename and delete
move and remove that folder (rmtree refuses a symlink, so deleting a linked adapter would leave
its weights behind; deleting the tune's folder would break the adapter). A LoRA adapter is a few
MB; the trial's optimizer checkpoints are not copied.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..run_folder import RunFolder, read_object
from .job_status import CANCELLED, DONE, FAILED

TRIAL_FILES_LEFT_OUT = ("checkpoints",)  # optimizer state for resuming: a finished adapter needs none


def read_trials(tune_dir: Path) -> list[dict]:
    """The finished trials, in order (a half-written last line is skipped until it is whole)."""
    try:
        text = (tune_dir / "trials.jsonl").read_text(encoding="utf-8")
    except OSError:
        return []
    trials = []
    for line in text.splitlines():
        try:
            trials.append(json.loads(line))
        except ValueError:
            continue
    return trials


def current_trial(tune_dir: Path, finished: set[str]) -> dict | None:
    """The trial being trained or scored now: the newest trial-N folder not yet in trials.jsonl."""
    numbered = []
    for p in tune_dir.glob("trial-*"):
        if p.is_dir() and p.name[6:].isdigit() and p.name not in finished:
            numbered.append((int(p.name[6:]), p))
    if not numbered:
        return None
    run = RunFolder(max(numbered)[1])
    status = run.status(quiet=True) or {}
    # training ends with status 'done'; the doctor then scores the trial before it is written down
    phase = "scoring" if status.get("state") == "done" else "training"
    return {"trial": run.name, "phase": phase, "step": run.last_step() or status.get("step"),
            "total_steps": status.get("total_steps")}


def table(job) -> dict:
    """The trials so far, each marked best or not, the trial running now, and the adapter once registered.
    While the tune runs, `best` is the best score so far; tune.json's choice once it has ended."""
    tune_dir = Path(job.run_dir)
    trials = read_trials(tune_dir)
    final = read_object(tune_dir / "tune.json", quiet=True)
    if final is not None:
        best = final.get("best")
    else:
        scored = [t for t in trials if t.get("score") is not None]
        best = max(scored, key=lambda t: t["score"])["name"] if scored else None  # the first of equal scores, as tune does
    rows = [{"name": t.get("name"), "settings": t.get("settings") or {}, "status": t.get("status"),
             "voice": t.get("voice"), "facts": t.get("knowledge"), "retention": t.get("retention"),
             "score": t.get("score"), "steps": t.get("steps"), "seconds": t.get("seconds"),
             "estimated_seconds": t.get("estimated_seconds"),
             "verdict": t.get("verdict"), "note": t.get("note") or "", "best": t.get("name") == best} for t in trials]
    adapter_dir = Path(job.config.get("adapter_dir", ""))
    current = None if final is not None or not job.active else current_trial(tune_dir, {t["name"] for t in rows})
    return {"trials": rows, "best": best, "final": final is not None, "current": current,
            "budget": job.config.get("budget"), "max_trials": job.config.get("max_trials"),
            "adapter": adapter_dir.name if job.config.get("adapter_dir") and RunFolder(adapter_dir).is_complete() else None}


def progress(job, t: dict | None = None) -> dict:
    """What the job list and the live status show: the current trial's steps, and the trials done
    (from `t`, the job's table, when the caller has it already)."""
    t = t or table(job)
    out = {"trials_done": len(t["trials"])}
    if t["current"]:
        out.update(t["current"])
    return out


def register_best(tune_dir: Path, adapter_dir: Path) -> str | None:
    """Copy the best trial's run folder to `adapter_dir` (atomically: written as .tmp, then renamed).
    Returns why it could not, or None."""
    best = tune_dir / "best"
    if not RunFolder(best.resolve()).is_complete():
        return f"the best trial's adapter is missing under {best}"
    if adapter_dir.exists():
        return f"{adapter_dir} already exists; the best adapter stays in {best.resolve()}"
    tmp = adapter_dir.with_name(adapter_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by a server stopped while copying
    shutil.copytree(best.resolve(), tmp, ignore=shutil.ignore_patterns(*TRIAL_FILES_LEFT_OUT))
    shutil.copy2(tune_dir / "tune.json", tmp / "tune.json")  # the adapter says which trial it was, and why
    os.replace(tmp, adapter_dir)
    return None


def finish(job) -> tuple[str, str | None]:
    """(status, error) for a tune whose process has ended: done (or cancelled, if asked) once
    tune.json names a best trial and its adapter is registered, so a tune cancelled after some
    trials keeps the best of them; cancelled if asked; failed otherwise (the runner adds the log's last line)."""
    tune_dir = Path(job.run_dir)
    path = tune_dir / "tune.json"
    final = read_object(path, quiet=True) if path.is_file() and path.stat().st_mtime >= (job.started or 0) - 1 else None
    ended = CANCELLED if job.cancel_requested else DONE
    if final and final.get("best"):
        adapter_dir = Path(job.config["adapter_dir"])
        if RunFolder(adapter_dir).is_complete() and (adapter_dir / "tune.json").is_file():
            return ended, None  # registered before a restart
        try:
            return ended, register_best(tune_dir, adapter_dir)
        except OSError as e:  # disk full, say: the tune itself did finish, its best stays in tune_dir/best
            return ended, f"could not copy the best adapter to {adapter_dir}: {e}"
    if job.cancel_requested:
        return CANCELLED, None
    return FAILED, None
