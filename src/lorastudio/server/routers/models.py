"""Base models to offer in the pickers: the embedded default, models converted before under the
studio home, the one the server was started with, and every chat model found on this machine
(Ollama, the Hugging Face and ModelScope caches, LM Studio; see models/discovery.py)."""

from __future__ import annotations

from fastapi import APIRouter

from ...models.discovery import find_models, roots
from ..deps import SettingsDep
from ..storage import model_choices

router = APIRouter(tags=["models"])


@router.get("/models")
def list_models(settings: SettingsDep) -> dict:
    """`default`, `embedded` and `cached` (names to type in the model field), and `found`: one
    entry per model found, as `lorastudio models --json` prints it (`spec` is the name to use;
    `problem` says why one cannot be trained). A local folder or hub id can be typed as well."""
    found, warnings = find_models()
    return {**model_choices(settings.home, settings.model), "found": [m.to_dict() for m in found],
            "warnings": warnings, "roots": roots()}
