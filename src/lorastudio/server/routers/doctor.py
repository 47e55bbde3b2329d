"""The doctor's report per run (RUN_DIR/doctor.json), and running the doctor again as a job."""

from __future__ import annotations

from fastapi import APIRouter

from ...run_folder import RunFolder
from ...serving.registry import NotFound
from ..deps import JobsDep, RunnerDep, SettingsDep
from ..errors import ApiError
from ..jobs import ACTIVE
from .jobs import run_dir_of

router = APIRouter(tags=["doctor"])


@router.get("/runs/{name}/doctor")
def get_report(name: str, settings: SettingsDep) -> dict:
    """The verdict, the findings with evidence and fix, the effect numbers, base versus adapter answers."""
    report = RunFolder(run_dir_of(settings, name)).doctor_report()
    if report is None:
        raise NotFound(f"run {name!r} has no doctor report yet",
                       fix="run the doctor on it (the Doctor page's button, or `lorastudio doctor RUN_DIR`)",
                       key="not_found.doctor", params={"name": name})
    return {"run": name, "report": dict(report)}


@router.post("/runs/{name}/doctor", status_code=201)
def run_doctor(name: str, settings: SettingsDep, runner: RunnerDep, jobs: JobsDep) -> dict:
    """Queue `lorastudio doctor RUN_DIR` as a job (one at a time per device, like training)."""
    run_dir = run_dir_of(settings, name)
    if not RunFolder(run_dir).is_complete():
        raise ApiError(409, "run_incomplete", key="run_incomplete", params={"name": name})
    if jobs.list(ACTIVE, name=name):
        raise ApiError(409, "busy", key="busy", params={"name": name})
    return runner.submit("doctor", name, run_dir, {}).to_dict()
