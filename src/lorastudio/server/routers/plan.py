"""The plan as the user types: steps, effective batch, tokens and preflight findings, no weights loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..state import plan_without_weights
from ..deps import DatasetsDep, SettingsDep, TokenizersDep
from ..storage import build_config, model_choices

router = APIRouter(tags=["plan"])


class PlanRequest(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields; data/eval_data/probes are dataset names")


@router.post("/plan")
def make_plan(req: PlanRequest, datasets: DatasetsDep, tokenizers: TokenizersDep, settings: SettingsDep) -> dict:
    """`lorastudio plan` for the form: runs `plan_run(config, load_weights=False)` with a cached tokenizer."""
    config = build_config(req.config, datasets, settings.runs / "(plan)", settings.model)
    setup = plan_without_weights(config, tokenizers.get(config.model, config.trust_remote_code))
    return {"plan": setup.plan.to_dict(), "findings": [f.to_dict() for f in setup.findings],
            "device": setup.device.device, "model": setup.source.describe(),
            "memory": setup.memory.to_dict() if setup.memory is not None else None,
            "errors": sum(f.severity == "error" for f in setup.findings)}


@router.get("/models")
def list_models(settings: SettingsDep) -> dict:
    """Base models to offer: the embedded default, models converted/cached under the studio home,
    and the one the server was started with. A local folder or hub id can be typed as well."""
    return model_choices(settings.home, settings.model)
