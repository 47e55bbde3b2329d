"""OpenAI-compatible API: `GET /v1/models` and `POST /v1/chat/completions` (streamed and not).

`model` names an adapter (a run's name) or the base (its model name, or "base"); the
official `openai` client and tools built on it work unchanged with
`OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=TOKEN or "none")`.
Sampling follows OpenAI's defaults (temperature 1); pass temperature 0 for greedy answers.
"""

from __future__ import annotations

import inspect
import json
import time
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...data.formatting import check_messages
from ...serving.engine import BASE, GenerationConfig
from ..deps import EngineDep, RegistryDep
from ..errors import ApiError, keyed_body
from ..state import iterate_in_thread, short_model_id
from .chat import MAX_MESSAGE_CHARS

router = APIRouter(tags=["openai"])


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI options are accepted and ignored
    model: str
    messages: list[OpenAIMessage] = Field(..., min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    n: int | None = Field(None, ge=1, le=1)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)


def _text(content, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
    if not all(isinstance(p, str) for p in parts):
        raise ApiError(422, "invalid_request", key="bad_content_part", params={"index": i})
    return "".join(parts)


def _messages(req: CompletionRequest) -> list[dict]:
    roles = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
    out = []
    for i, m in enumerate(req.messages):
        if m.role not in roles:
            raise ApiError(422, "invalid_request", key="bad_role", params={"index": i, "role": repr(m.role)})
        text = _text(m.content, i)
        if len(text) > MAX_MESSAGE_CHARS:
            raise ApiError(422, "invalid_request", key="message_too_long",
                           params={"index": i, "chars": f"{len(text):,}", "limit": f"{MAX_MESSAGE_CHARS:,}"})
        out.append({"role": roles[m.role], "content": text})
    check_messages(out)
    return out


def _config(req: CompletionRequest) -> GenerationConfig:
    return GenerationConfig(max_new_tokens=req.max_completion_tokens or req.max_tokens or 256,
                            temperature=1.0 if req.temperature is None else req.temperature,
                            top_p=req.top_p or 1.0, seed=req.seed)


def _prompt_tokens(engine, messages: list[dict], adapter: str) -> int:
    try:
        return int(engine.encode(messages, adapter).shape[-1])
    except Exception:  # a scripted engine without a tokenizer: usage is best effort
        return 0


def _generate_with_logprobs(engine, messages: list[dict], adapter: str, cfg: GenerationConfig):
    """(text, n_tokens, [{"token", "logprob"}] | None): the chosen tokens' log-probabilities, which
    the doctor's serving check compares between base and adapter. Engines without the
    transformers internals (a scripted one) answer without them."""
    if not all(hasattr(engine, a) for a in ("model", "encode", "using", "_generate_kwargs", "tokenizer")):
        g = engine.generate(messages, adapter=adapter, config=cfg)
        return g.text, g.n_tokens, None
    import torch

    with engine.using(adapter) as name:
        ids = engine.encode(messages, name)
        if cfg.seed is not None:
            torch.manual_seed(cfg.seed)
        with torch.inference_mode():
            out = engine.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), output_scores=True,
                                        return_dict_in_generate=True, **engine._generate_kwargs(cfg))
    new = out.sequences[0, ids.shape[1]:].tolist()
    content = []
    for token, scores in zip(new, out.scores):
        logprob = float(torch.log_softmax(scores[0].float(), dim=-1)[token])
        content.append({"token": engine.tokenizer.decode([token]), "logprob": logprob, "bytes": None, "top_logprobs": []})
    text = engine.tokenizer.decode(new, skip_special_tokens=True).strip()
    return text, len(new), content


def finish_reason(n_tokens: int, cfg: GenerationConfig) -> str:
    """"length" when max_tokens cut the answer, else "stop" (an end-of-turn token ended it)."""
    return "length" if n_tokens >= cfg.max_new_tokens else "stop"


@router.get("/models")
def models(holder: EngineDep, registry: RegistryDep) -> dict:
    """The base model and every finished adapter, as OpenAI model objects."""
    now = int(time.time())
    base = short_model_id(holder.get().model_name if holder.loaded else holder.model)
    data = [{"id": base, "object": "model", "created": now, "owned_by": "lorastudio", "root": base}]
    for e in registry.scan():
        data.append({"id": e.name, "object": "model", "created": now, "owned_by": "lorastudio", "root": short_model_id(e.base_model),
                     "parent": short_model_id(e.base_model)})
    return {"object": "list", "data": data}


@router.post("/chat/completions")
def chat_completions(req: CompletionRequest, holder: EngineDep):
    messages = _messages(req)
    adapter = holder.resolve(req.model) or BASE
    engine = holder.get()
    cfg = _config(req)
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    if not req.stream:
        if req.logprobs:
            text, n_tokens, content = _generate_with_logprobs(engine, messages, adapter, cfg)
        else:
            g = engine.generate(messages, adapter=adapter, config=cfg)
            text, n_tokens, content = g.text, g.n_tokens, None
        prompt = _prompt_tokens(engine, messages, adapter)
        # a stop token that came exactly at the limit is a stop, not a cut
        finish = "stop" if not req.logprobs and getattr(g, "stopped", None) else finish_reason(n_tokens, cfg)
        return {"id": cid, "object": "chat.completion", "created": created, "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                             "logprobs": {"content": content} if content is not None else None}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": n_tokens, "total_tokens": prompt + n_tokens}}

    def chunk(delta: dict, finish: str | None = None) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    # The engine counts the tokens it generates (pieces are not tokens); an engine that cannot
    # (a scripted one) is counted by its pieces.
    stats: dict = {}
    counts = "stats" in inspect.signature(engine.stream).parameters

    def pieces():
        if counts:
            return engine.stream(messages, adapter=adapter, config=cfg, stats=stats)
        return engine.stream(messages, adapter=adapter, config=cfg)

    async def events():
        yield chunk({"role": "assistant", "content": ""})
        n_pieces = 0
        try:
            async for piece in iterate_in_thread(pieces):
                if piece:
                    n_pieces += 1
                    yield chunk({"content": piece})
        except Exception as e:  # headers are sent: the error goes in-band, in the common shape
            failed = keyed_body("generation_failed", "generation_failed", "en", {"detail": f"{type(e).__name__}: {e}"})
            yield f"data: {json.dumps(failed, ensure_ascii=False)}\n\n"
            return
        n_tokens = stats.get("n_tokens", n_pieces)
        yield chunk({}, finish_reason(n_tokens, cfg))  # as the non-streamed answer says it
        if req.stream_options and req.stream_options.include_usage:
            prompt = _prompt_tokens(engine, messages, adapter)
            usage = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model, "choices": [],
                     "usage": {"prompt_tokens": prompt, "completion_tokens": n_tokens, "total_tokens": prompt + n_tokens}}
            yield f"data: {json.dumps(usage)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
