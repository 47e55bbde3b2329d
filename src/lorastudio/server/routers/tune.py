"""Tune from the train page: `lorastudio tune` as a job. Its trials come back with the job
(GET /api/jobs/ID, its events): see tune_jobs.py."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...diagnosis.findings import errors as error_findings
from ...errors import ConfigError, PlanRefused
from ...recipes import recommend_for_setup
from ...serving.registry import validate_name
from ...tuning import candidate_trials, parse_budget
from ..deps import DatasetsDep, JobsDep, RunnerDep, SettingsDep, TokenizersDep
from ..errors import ApiError
from ..jobs import ACTIVE
from ..state import plan_without_weights
from ..storage import config_from_form

router = APIRouter(tags=["jobs"])
TUNE_FIELDS = ("data", "model", "probes", "markers")  # the rest of a trial's settings is the tune's to choose
MAX_TRIALS = 100  # as `lorastudio tune --max-trials`


class TuneRequest(BaseModel):
    name: str | None = Field(None, description="the tune's name, and its best adapter's; default tune-YYYYmmdd-HHMMSS")
    config: dict[str, Any] = Field(default_factory=dict, description="data and probes (dataset names), model, markers")
    budget: str = Field("15m", max_length=32, description="time for all trials: 15m, 90s, 1h30m")
    max_trials: int = Field(3, ge=1, le=MAX_TRIALS, description="configurations to try at most")
    force: bool = Field(False, description="train trials despite error-level findings of their plan")


def _free_name(settings) -> str:
    base = time.strftime("tune-%Y%m%d-%H%M%S")
    name, n = base, 1
    while (settings.runs / name).exists() or (settings.tunes / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _check_fields(fields: dict) -> None:
    extra = sorted(k for k in fields if k not in TUNE_FIELDS)
    if extra:
        raise ConfigError(f"tune does not take {', '.join(map(repr, extra))}: each trial's epochs, learning rate, "
                          "target modules and general replay are what it tries",
                          fix=f"send only {', '.join(TUNE_FIELDS)}; or train with those settings instead",
                          option=f"--{extra[0].replace('_', '-')}", key="tune_fields", params={"fields": extra})


@router.post("/tune", status_code=201)
def submit_tune(req: TuneRequest, runner: RunnerDep, jobs: JobsDep, datasets: DatasetsDep,
                tokenizers: TokenizersDep, settings: SettingsDep) -> dict:
    """Queue `lorastudio tune`: up to `max_trials` short runs within `budget`, each scored on the
    probes (or, without a probes file, on prompts held out of the data); the best is registered
    as adapter NAME. Refused (422, with the findings) when the
    first trial's plan (the recommended recipe) has error-level findings and `force` is false."""
    name = validate_name(req.name, "tune name") if req.name else _free_name(settings)
    if (settings.runs / name).exists() or (settings.tunes / name).exists() or jobs.list(ACTIVE, name=name):
        raise ApiError(409, "conflict", key="conflict.tune_exists", params={"name": name})
    budget_s = parse_budget(req.budget)
    _check_fields(req.config)
    tune_dir = settings.tunes / name
    config = config_from_form(req.config, datasets, tune_dir / "trial-1", settings.model)
    tokenizer = tokenizers.get(config.model, config.trust_remote_code)
    first = candidate_trials(recommend_for_setup(plan_without_weights(config, tokenizer)))[0]
    setup = plan_without_weights(config_from_form({**req.config, **first}, datasets, tune_dir / "trial-1", settings.model),
                                 tokenizer)
    if error_findings(setup.findings) and not req.force:
        raise PlanRefused("tuning refused: the first trial's plan has error-level findings", setup.findings,
                          fix="apply the fixes shown, or tick 'force' to tune anyway", key="plan_refused.tune")
    job_config = {"data": config.data, "probes": config.probes, "model": config.model, "markers": config.markers,
                  "budget": req.budget, "budget_seconds": budget_s, "max_trials": req.max_trials,
                  "first_trial": first, "adapter_dir": str(settings.runs / name)}
    return runner.submit("tune", name, tune_dir, job_config, force=req.force).to_dict()
