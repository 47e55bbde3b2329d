"""The chat engine's state: which base is loaded, which adapters, which is active, and the
chat-template hash the doctor's serving check compares with the run's manifest."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...serving.engine import BASE
from ..deps import EngineDep

router = APIRouter(prefix="/engine", tags=["engine"])


@router.get("")
def describe(engine: EngineDep) -> dict:
    return engine.describe()


class LoadRequest(BaseModel):
    model: str | None = Field(None, max_length=4096, description="another base model to chat with (a name from "
                              "GET /api/models, a folder, a .gguf file or a hub id); omitted: the current one")


@router.post("/load")
def load(engine: EngineDep, req: LoadRequest | None = None) -> dict:
    """Load the base model now (otherwise the first chat does), or switch to another one."""
    if req is not None and req.model and req.model.strip():
        engine.switch(req.model.strip())
    else:
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
