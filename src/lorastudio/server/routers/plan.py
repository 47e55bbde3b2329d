"""The plan as the user types: steps, effective batch, tokens and preflight findings, no weights loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...config import PATH_FIELDS
from ..state import plan_without_weights
from ..deps import DatasetsDep, SettingsDep, TokenizersDep
from ..storage import config_from_form

router = APIRouter(tags=["plan"])


class PlanRequest(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict, description="TrainConfig fields; data/eval_data/probes are dataset names")
    apply_fixes: bool = Field(False, description="apply every finding's fix and plan again (what --apply-fixes does)")


@router.post("/plan")
def make_plan(req: PlanRequest, datasets: DatasetsDep, tokenizers: TokenizersDep, settings: SettingsDep) -> dict:
    """`lorastudio plan` for the form: runs `plan_run(config, load_weights=False)` with a cached tokenizer.

    Fields left empty take the recipe's value for this data and model: `auto` gives each with its
    reason, `config` the whole config as it would train (for the form's placeholders)."""
    config = config_from_form(req.config, datasets, settings.runs / "(plan)", settings.model)
    setup = plan_without_weights(config, tokenizers.get(config.model, config.trust_remote_code), req.apply_fixes)
    resolved = setup.config.model_dump(exclude={"output"})
    for key in PATH_FIELDS:  # the form speaks dataset names, never server paths
        if resolved.get(key) and key != "model":
            resolved[key] = Path(resolved[key]).name
    return {"plan": setup.plan.to_dict(), "findings": [f.to_dict() for f in setup.findings],
            "device": setup.device.device, "model": setup.source.describe(),
            "auto": {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()},
            "config": resolved, "applied": setup.extra["applied"],
            "heldout": [h.to_dict() for h in setup.heldout[:8]],
            "placeholders": setup.dataset.placeholders,
            "memory": setup.memory.to_dict() if setup.memory is not None else None,
            "errors": sum(f.severity == "error" for f in setup.findings)}
