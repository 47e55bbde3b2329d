"""Growing a dataset from the web: preview the expansion, then save the samples the user kept.

    POST /api/datasets/{name}/expand        the candidates, probes and report; nothing is written
    POST /api/datasets/{name}/expand/save   the kept samples as a new upload, the probes beside it

The preview is `grow_dataset` (what `lorastudio data expand` writes, held in memory). The save
is stateless: the page sends back the samples it keeps and the probes, and they are checked as
an upload is (the readers' validation) plus one check an upload does not need: no kept sample
may be close to a probe, or the probes would test what was trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from ...data.expand import ExpandOptions, Expansion, grow_dataset, read_prompts, record
from ...data.filters import leaks
from ...errors import ModelError
from ..deps import DatasetsDep
from ..errors import ApiError
from .datasets import describe, load_named

router = APIRouter(prefix="/datasets", tags=["datasets"])

MAX_TARGET = 2000  # the templates run out well before this on a small seed set (20 seeds: ~800)
MAX_TEXT = 20_000  # characters per prompt or answer sent back for saving
MAX_SAMPLES = 5000
Marker = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Said = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]  # a prompt or answer: not empty


class ExpandRequest(BaseModel):
    target: int = Field(150, ge=1, le=MAX_TARGET, description="samples wanted, seeds included")
    method: Literal["templates", "model"] = Field("templates", description="offline rewording, or ask a model")
    endpoint: str | None = Field(None, max_length=2000, description="model method: an OpenAI-compatible server URL")
    model: str | None = Field(None, max_length=200, description="model method: the model name that server knows")
    markers: list[Marker] = Field(default_factory=list, max_length=20, description="persona words; answers need one")
    holdout: int = Field(0, ge=0, le=200, description="held-out probes, kept out of the samples")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    answers: Literal["keep", "rotate"] = "keep"
    lang: Literal["zh", "en"] | None = None
    keep_out: str | None = Field(None, max_length=200, description="a probes file held out already (its name): "
                                 "no sample close to one of its prompts is kept")


class Sample(BaseModel):
    """A sample the user keeps, as the preview gave it (other keys, e.g. its id, are ignored)."""

    prompt: Said
    response: Said
    category: str | None = Field(None, max_length=200)
    system: Text | None = None
    history: list[tuple[Text, Text]] | None = Field(None, max_length=50)


class ProbeIn(BaseModel):
    prompt: Said
    expect_any: list[Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=list, max_length=50)
    category: str | None = Field(None, max_length=200)
    source_index: int | None = Field(None, ge=0)


class SaveRequest(BaseModel):
    name: str = Field(..., max_length=200, description="the new dataset's name (.json added if missing)")
    samples: list[Sample] = Field(..., min_length=1, max_length=MAX_SAMPLES)
    probes: list[ProbeIn] = Field(default_factory=list, max_length=500)


# ---------------------------------------------------------------- preview


def _check_endpoint(req: ExpandRequest) -> None:
    """The web asks a model only over HTTP: loading our own engine for it takes minutes."""
    if req.method != "model":
        return
    if not req.endpoint or not req.model:
        raise ApiError(422, "invalid_request",
                       "the model method needs an OpenAI-compatible server: its URL (endpoint) and a model name",
                       fix_en="e.g. endpoint http://127.0.0.1:11434 and model qwen2.5:7b (Ollama); to use a model loaded "
                       "by LoRA Studio itself, run `lorastudio data expand --method model --model NAME` in a terminal",
                       details={"option": "endpoint" if not req.endpoint else "model"}, key="endpoint_missing")
    url = urlsplit(req.endpoint.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        shown = req.endpoint[:100]
        raise ApiError(422, "invalid_request", f"endpoint {shown!r} is not an http(s) URL",
                       fix_en="give the server's base URL, e.g. http://127.0.0.1:8000", details={"option": "endpoint"},
                       key="endpoint_not_http", params={"endpoint": shown})


def _grow(path: Path, req: ExpandRequest, keep_out: list[str] | None) -> Expansion:
    try:
        options = ExpandOptions(target=req.target, method=req.method, endpoint=req.endpoint and req.endpoint.strip(),
                                model=req.model, markers=req.markers, holdout=req.holdout, seed=req.seed, lang=req.lang,
                                answers=req.answers, keep_out=keep_out)
        return grow_dataset(path, options)
    except ModelError as e:  # the server named in the request failed, not this one: 502, naming its URL
        raise ApiError(502, "endpoint_failed", e.message, fix_en=e.fix, details={"endpoint": req.endpoint},
                       key="endpoint_failed", params={"detail": e.message}) from None


def sample_id(category: str | None, prompt: str, response: str) -> str:
    """The same sample always has the same id (the filters drop exact duplicates, so it is unique)."""
    return hashlib.sha256(f"{category}\n{prompt}\n{response}".encode()).hexdigest()[:12]


def _candidate(c) -> dict:
    rec = record(c)
    return {"id": sample_id(c.category, c.instruction, c.output), "category": c.category, "prompt": c.instruction,
            "response": c.output, "origin": c.origin, "source_index": c.source,
            "system": rec.get("system"), "history": rec.get("history")}


@router.post("/{name}/expand")
def preview_expand(name: str, req: ExpandRequest, datasets: DatasetsDep) -> dict:
    """Grow the dataset and show the result; nothing is saved. `candidates` are grouped by
    category, seeds first (`origin` "seed"; generated ones "template" or "model"); `probes`
    are the held-out questions no candidate is close to. The same request gives the same answer."""
    path = datasets.path(name)
    load_named(path, name)  # a broken dataset: its problems named by the dataset's name
    _check_endpoint(req)
    keep_out = read_prompts(datasets.path(req.keep_out)) if req.keep_out else None  # unknown name: 404
    grown = _grow(path, req, keep_out)
    report = grown.report.to_dict()
    for key in ("prompts", "out", "files"):  # the model's prompt log stays server-side; no file was written
        report.pop(key)
    report["source"] = name
    return {"name": name, "suggested_name": f"{Path(name).stem}_expanded.json",
            "candidates": [_candidate(c) for c in grown.samples],
            "probes": [{"prompt": p.prompt, "expect_any": p.expect_any, "category": p.category,
                        "source_index": p.source_index} for p in grown.probes],
            "report": report}


# ---------------------------------------------------------------- save


def _target_name(raw: str, datasets) -> str:
    name = raw.strip()
    if name.lower().endswith(".jsonl"):
        name = name[:-1]  # saved as one JSON array
    elif not name.lower().endswith(".json"):
        name += ".json"
    name = datasets.check_upload_name(name)
    if "probes" in name.lower():
        raise ApiError(422, "invalid_request", details={"option": "name"}, key="name_has_probes", params={"name": repr(name)})
    return name


def _check_no_leak(req: SaveRequest) -> None:
    found = leaks([p.prompt for p in req.probes], [s.prompt for s in req.samples])
    if found:
        shown = [{"probe": p, "sample": s, "score": round(score, 1)} for p, s, score in found[:5]]
        raise ApiError(422, "probe_leak", details={"leaks": shown}, key="probe_leak",
                       params={"count": len(found), "sample": repr(found[0][1]), "probe": repr(found[0][0])})


def _store(datasets, name: str, data: bytes, validate) -> tuple[str, object]:
    """Write `data` as a new upload under `name` (or NAME-2 etc.: nothing saved is replaced)
    after `validate(tmp_path)` passes; an identical file already there is kept as it is."""
    datasets.root.mkdir(parents=True, exist_ok=True)
    tmp = datasets.root / f".expand-{secrets.token_hex(6)}{Path(name).suffix}"
    try:
        tmp.write_bytes(data)
        checked = validate(tmp)
        final, same = datasets.free_name(name, hashlib.sha256(data).hexdigest())
        if not same:
            os.replace(tmp, datasets.root / final)
    finally:
        tmp.unlink(missing_ok=True)
    return final, checked


def _alpaca(s: Sample) -> dict:
    rec = {"instruction": s.prompt, "input": "", "output": s.response, "category": s.category}
    if s.system:
        rec["system"] = s.system
    if s.history:
        rec["history"] = [list(turn) for turn in s.history]
    return rec


@router.post("/{name}/expand/save", status_code=201)
def save_expansion(name: str, req: SaveRequest, datasets: DatasetsDep) -> dict:
    """Save the kept samples as a new dataset (Alpaca JSON, like the CLI writes) and the probes
    as NEW_probes.jsonl beside it, which the train page offers as held-out probes. A taken
    name gets NAME-2.json; nothing already saved is replaced."""
    datasets.path(name)  # the dataset grown from must exist: 404 otherwise
    target = _target_name(req.name, datasets)
    _check_no_leak(req)
    data = (json.dumps([_alpaca(s) for s in req.samples], ensure_ascii=False, indent=2) + "\n").encode()
    final, ds = _store(datasets, target, data, lambda tmp: load_named(tmp, target))
    probes_name = None
    if req.probes:
        lines = "".join(json.dumps(p.model_dump(), ensure_ascii=False) + "\n" for p in req.probes).encode()
        probes_name, _ = _store(datasets, f"{Path(final).stem}_probes.jsonl", lines, lambda tmp: None)
    result = describe(datasets.root / final, "upload", ds)
    result.update(name=final, renamed_from=target if final != target else None, probes=probes_name,
                  n_probes=len(req.probes), expanded_from=name)
    return result


__all__ = ["router", "sample_id"]
