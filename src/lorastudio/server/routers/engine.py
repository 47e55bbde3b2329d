"""The chat engine's state: which base is loaded, which adapters, which is active, and the
chat-template hash the doctor's serving check compares with the run's manifest."""

from __future__ import annotations

from fastapi import APIRouter

from ...serving.engine import BASE
from ..deps import EngineDep

router = APIRouter(prefix="/engine", tags=["engine"])


@router.get("")
def describe(engine: EngineDep) -> dict:
    return engine.describe()


@router.post("/load")
def load(engine: EngineDep) -> dict:
    """Load the base model now (otherwise the first chat does)."""
    engine.get()
    return engine.describe()


@router.get("/template")
def template(engine: EngineDep, adapter: str | None = None) -> dict:
    """sha256 of the chat template the engine renders prompts with for `adapter` (the active one
    when omitted; 'base' for the base). The adapter is loaded first if it is not yet."""
    name = engine.resolve(adapter)
    e = engine.get()
    name = e.active if name is None else name
    return {"adapter": name, "base": name == BASE, "sha256": e.template_sha256(name)}
