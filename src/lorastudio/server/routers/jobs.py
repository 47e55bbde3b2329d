"""Training jobs and their runs: submit, list, follow the curve live (SSE), cancel, resume."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ...diagnosis.findings import errors as error_findings
from ...errors import PlanRefused
from ...run_folder import RunFolder
from ...serving.registry import NotFound, validate_name
from ..state import plan_without_weights
from ..deps import DatasetsDep, JobsDep, RunnerDep, SettingsDep, TokenizersDep
from ..errors import ApiError
from ..jobs import ACTIVE, CANCELLED, FAILED

router = APIRouter(tags=["jobs"])
POLL_SECONDS = 0.5
JobId = Annotated[int, PathParam(ge=1, le=2**62, description="the job's id")]


class JobRequest(BaseModel):
    name: str | None = Field(None, description="run folder name; default run-YYYYmmdd-HHMMSS")
    config: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields; data is a dataset name")
    force: bool = Field(False, description="train despite error-level preflight findings")


def sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _free_name(runs: Path) -> str:
    base = time.strftime("run-%Y%m%d-%H%M%S")
    name, n = base, 1
    while (runs / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@router.post("/jobs", status_code=201)
def submit_job(req: JobRequest, runner: RunnerDep, jobs: JobsDep, datasets: DatasetsDep,
               tokenizers: TokenizersDep, settings: SettingsDep) -> dict:
    """Queue a training run. Refused (422, with the findings) when the plan has error-level
    findings and `force` is false, as `lorastudio train` refuses without --force."""
    from ..storage import config_from_form

    name = validate_name(req.name, "run name") if req.name else _free_name(settings.runs)
    run_dir = settings.runs / name
    if run_dir.exists() or jobs.list(ACTIVE, name=name):
        raise ApiError(409, "conflict", key="conflict.run_exists", params={"name": name})
    config = config_from_form(req.config, datasets, run_dir, settings.model)
    setup = plan_without_weights(config, tokenizers.get(config.model, config.trust_remote_code))
    if error_findings(setup.findings) and not req.force:
        raise PlanRefused("training refused: the plan has error-level findings", setup.findings,
                          fix="apply the fixes shown, or tick 'force' to train anyway", key="plan_refused")
    # the options given (the training process fills the rest from the recipe, as the plan did), and
    # trust_remote_code written out: off unless the request set it
    given = {**config.model_dump(exclude_unset=True), "trust_remote_code": config.trust_remote_code}
    job = runner.submit("train", name, run_dir, given, force=req.force)
    return job.to_dict()


@router.get("/jobs")
def list_jobs(jobs: JobsDep) -> dict:
    return {"jobs": [j.to_dict() for j in reversed(jobs.list())]}


@router.get("/jobs/{job_id}")
def get_job(job_id: JobId, jobs: JobsDep) -> dict:
    job = jobs.get(job_id)
    out = job.to_dict(tail=True)
    plan = job.folder.plan(quiet=True)
    out["plan"] = dict(plan) if plan is not None else None
    return out


@router.get("/jobs/{job_id}/metrics")
def job_metrics(job_id: JobId, jobs: JobsDep) -> dict:
    job = jobs.get(job_id)
    return {"job": job.id, "rows": job.folder.metrics()}


@router.get("/jobs/{job_id}/log")
def job_log(job_id: JobId, jobs: JobsDep, lines: int = Query(200, ge=1, le=5000)) -> dict:
    return {"job": job_id, "log": jobs.get(job_id).log_tail(lines)}


@router.get("/jobs/{job_id}/events")
async def job_events(job_id: JobId, request: Request, jobs: JobsDep, follow: bool = True) -> StreamingResponse:
    """Server-sent events: every metrics.jsonl row so far (`metric`), then new ones as they are
    written; `checkpoint` for each step a checkpoint was saved at (a training job); `status`
    when the job changes; `reset` when a resume rewrites the log; `end` last. A page that
    reloads, or a server that restarted, gets the whole curve back this way."""
    metrics = jobs.get(job_id).folder.follow_metrics()

    async def stream():
        last, last_step, marked = None, 0, set()
        yield "retry: 2000\n\n"
        while True:
            reset, rows = metrics.read()
            if reset:  # a resume cut the log back to its checkpoint
                last_step, marked = 0, set()
                yield sse("reset", {})
            for row in rows:
                if isinstance(row, dict) and row.get("type") == "step":
                    last_step = max(last_step, int(row.get("step") or 0))
                yield sse("metric", row)
            current = jobs.get(job_id)
            for step in current.kind_spec.checkpoint_steps(current, last_step):  # a training job's; others have none
                if step not in marked:
                    marked.add(step)
                    yield sse("checkpoint", {"step": step})
            progress = current.progress()
            snapshot = (current.status, progress, current.cancel_requested)  # a tune's progress counts its trials too
            if snapshot != last:
                last = snapshot
                yield sse("status", current.to_dict(tail=current.status == FAILED))
            if not current.active or not follow:
                yield sse("end", {"status": current.status})
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: JobId, runner: RunnerDep) -> dict:
    """Queued: dropped. Running: the trainer saves a checkpoint at the end of its step and exits
    (resume continues from there). Cancelling again kills it at once."""
    return runner.cancel(job_id).to_dict()


@router.post("/jobs/{job_id}/resume")
def resume_job(job_id: JobId, runner: RunnerDep, jobs: JobsDep) -> dict:
    """Queue a cancelled or failed run again; it continues from its latest checkpoint."""
    job = jobs.get(job_id)
    if job.status not in (CANCELLED, FAILED) or not job.kind_spec.resumable:
        raise ApiError(409, "conflict", key="conflict.not_resumable", params={"id": job_id})
    if job.folder.is_complete():
        raise ApiError(409, "conflict", key="conflict.complete", params={"name": job.name})
    return runner.requeue(job_id, resume=True).to_dict()


@router.get("/runs")
def list_runs(settings: SettingsDep, jobs: JobsDep) -> dict:
    """Every run folder, finished or not, with its state and latest job."""
    latest = {j.run_dir: j for j in jobs.list()}
    runs = []
    if settings.runs.is_dir():
        for p in sorted(settings.runs.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if not p.is_dir() or p.name.endswith(".tmp"):
                continue
            folder = RunFolder(p)
            state = folder.status(quiet=True) or {}
            job = latest.get(str(p))
            runs.append({"name": p.name, "complete": folder.is_complete(), "state": state.get("state"),
                         "step": state.get("step"), "total_steps": state.get("total_steps"),
                         "has_doctor": folder.doctor_file.is_file(),
                         "job": job.id if job else None, "job_status": job.status if job else None})
    return {"runs": runs}


def run_dir_of(settings, name: str) -> Path:
    run_dir = settings.runs / validate_name(name, "run name")
    if not run_dir.is_dir():
        raise NotFound(f"no run named {name!r}", fix="see GET /api/runs for the runs there are", key="not_found.run",
                       params={"name": name})
    return run_dir
