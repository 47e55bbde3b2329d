"""Chat: streaming answers from the base or an adapter, and the run's held-out probes in one click."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ...data.formatting import check_messages
from ...diagnosis.effect import read_probes
from ...run_folder import RunFolder
from ...serving.engine import BASE, GenerationConfig
from ..deps import EngineDep, RegistryDep
from ..errors import ApiError, keyed_body
from ..state import iterate_in_thread
from .jobs import sse

router = APIRouter(prefix="/chat", tags=["chat"])
MAX_PROBES = 100
MAX_MESSAGE_CHARS = 200_000  # per message, here and on /v1: past any context the engine can hold


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(..., max_length=MAX_MESSAGE_CHARS)


class Sampling(BaseModel):
    max_new_tokens: int = Field(256, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0, le=5, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    top_k: int = Field(0, ge=0, le=10_000)
    repetition_penalty: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    def config(self) -> GenerationConfig:
        return GenerationConfig(**self.model_dump())


class ChatRequest(BaseModel):
    messages: list[Message] = Field(..., min_length=1, max_length=500)
    system: str | None = Field(None, max_length=100_000, description="system prompt, put first")
    adapter: str | None = Field(None, description="an adapter's name, 'base', or null for the active one")
    stream: bool = True
    sampling: Sampling = Field(default_factory=Sampling)


class ProbeRequest(BaseModel):
    adapter: str = Field(..., description="the adapter (run) whose held-out probes to run")
    limit: int = Field(20, ge=1, le=MAX_PROBES)
    sampling: Sampling = Field(default_factory=lambda: Sampling(max_new_tokens=96))


def chat_messages(req: ChatRequest) -> list[dict]:
    messages = [m.model_dump() for m in req.messages]
    if req.system and req.system.strip():
        messages = [{"role": "system", "content": req.system}] + [m for m in messages if m["role"] != "system"]
    if not any(m["role"] == "user" for m in messages):
        raise ApiError(422, "invalid_request", key="no_user_message")
    check_messages(messages)
    return messages


def stream_events(engine, messages: list[dict], adapter: str | None, cfg: GenerationConfig):
    """SSE: `delta` pieces, then `done` (or `error` in the common shape if generation fails)."""
    name = engine.active if adapter is None else adapter

    async def events():
        t0, chars = time.perf_counter(), 0
        try:
            async for piece in iterate_in_thread(lambda: engine.stream(messages, adapter=adapter, config=cfg)):
                chars += len(piece)
                yield sse("delta", {"text": piece})
        except Exception as e:  # the status line is sent already: report in-band
            yield sse("error", keyed_body("generation_failed", "generation_failed", "en", {"detail": f"{type(e).__name__}: {e}"}))
            return
        yield sse("done", {"adapter": name, "chars": chars, "seconds": round(time.perf_counter() - t0, 3)})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("")
def chat(req: ChatRequest, holder: EngineDep):
    """One answer, streamed as server-sent events (`stream: true`) or as one JSON object.
    Base and adapter run on the same loaded weights: `adapter: "base"` switches adapters off."""
    messages = chat_messages(req)
    adapter = holder.resolve(req.adapter)
    engine = holder.get()
    if req.stream:
        return stream_events(engine, messages, adapter, req.sampling.config())
    g = engine.generate(messages, adapter=adapter, config=req.sampling.config())
    return {"text": g.text, "adapter": g.adapter, "n_tokens": g.n_tokens, "seconds": round(g.seconds, 3)}


def run_probe_file(entry) -> Path | None:
    """The probes a run was checked on: the file it was given, else the held-out prompts training
    made from its data."""
    given = entry.config.get("probes")
    if given and Path(given).is_file():
        return Path(given)
    return RunFolder(entry.run_dir).heldout()


def run_markers(entry) -> list[str]:
    """The markers given to the run, else those the doctor found in its training answers."""
    if entry.config.get("markers"):
        return list(entry.config["markers"])
    report = RunFolder(entry.run_dir).doctor_report(quiet=True)
    return report.markers if report is not None else []


@router.post("/probes")
def run_probes(req: ProbeRequest, holder: EngineDep, registry: RegistryDep):
    """The run's held-out probes, each answered by the base and by the adapter (greedy by
    default), streamed one `probe` event at a time: prompt, both answers, keyword and marker hits."""
    entry = registry.get(req.adapter)
    probes_file = run_probe_file(entry)
    if probes_file is None:
        raise ApiError(409, "no_probes", key="no_probes", params={"name": req.adapter})
    probes = [{"prompt": p.prompt, "expect_any": p.expect_any, "kind": p.kind, "messages": p.messages}
              for p in read_probes(probes_file)][: req.limit]
    markers = run_markers(entry)
    adapter = holder.resolve(req.adapter)
    engine = holder.get()
    cfg = req.sampling.config()

    def results():
        for i, p in enumerate(probes):
            messages = p["messages"]
            row = {"index": i, "total": len(probes), "prompt": p["prompt"], "expect_any": p["expect_any"], "kind": p["kind"]}
            for side, name in (("base", BASE), ("adapter", adapter)):
                text = engine.generate(messages, adapter=name, config=cfg).text
                row[side] = text
                row[f"{side}_hit"] = any(k in text for k in row["expect_any"]) if row["expect_any"] else None
                row[f"{side}_markers"] = sum(m in text for m in markers)
            yield row

    async def events():
        try:
            async for row in iterate_in_thread(results):
                yield sse("probe", row)
        except Exception as e:
            yield sse("error", keyed_body("generation_failed", "generation_failed", "en", {"detail": f"{type(e).__name__}: {e}"}))
            return
        yield sse("done", {"adapter": adapter, "probes": len(probes), "markers": markers})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
