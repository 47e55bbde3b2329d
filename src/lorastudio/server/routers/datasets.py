"""Datasets: upload (size-limited, validated before it is kept), list, preview, token statistics."""

from __future__ import annotations

import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Query, UploadFile

from ...data.readers import load_dataset, read_records
from ...data.records import Dataset
from ...data.stats import inspect_dataset
from ...diagnosis.effect import is_probe_file, read_probes
from ...errors import DataError, DataProblem, StudioError
from ..deps import DatasetsDep, SettingsDep, TokenizersDep
from ..errors import ApiError

router = APIRouter(prefix="/datasets", tags=["datasets"])
PREVIEW = 50


@lru_cache(maxsize=256)
def _kind(path: Path, mtime: float) -> str:
    """"probes" for a file of held-out prompts ({"prompt", "expect_any"?} records, .json or
    .jsonl), else "data" (training data, or a file the readers will explain the problems of)."""
    try:
        return "probes" if is_probe_file(read_records(path)) else "data"
    except StudioError:
        return "data"


def _entry(path: Path, source: str) -> dict:
    st = path.stat()
    return {"name": path.name, "source": source, "size_bytes": st.st_size, "kind": _kind(path, st.st_mtime)}


def load_named(path: Path, name: str) -> Dataset:
    """Read and validate; problems name the dataset by its name, never by a server path."""
    try:
        ds = load_dataset(path)
    except DataError as e:
        problems = [DataProblem(name, p.index, p.field, p.message, p.code) for p in e.problems]
        raise DataError(problems, fix=e.fix, total=e.total, counts=e.counts) from None  # counts: past the cap too
    ds.path = name
    return ds


def _describe_probes(path: Path, source: str) -> dict:
    probes = read_probes(path)
    return {**_entry(path, source), "format": "probes", "n_samples": len(probes),
            "preview": [{"index": i, "prompt": p.prompt, "expect_any": p.expect_any} for i, p in enumerate(probes[:PREVIEW])]}


def _preview(ds: Dataset, offset: int = 0, limit: int = PREVIEW) -> list[dict]:
    return [{"index": s.index, "category": s.category, "prompt": s.prompt, "response": s.response,
             "turns": sum(m["role"] == "assistant" for m in s.messages),
             "system": next((m["content"] for m in s.messages if m["role"] == "system"), None)}
            for s in ds.samples[offset: offset + limit]]


def describe(path: Path, source: str, ds: Dataset) -> dict:
    """What the page shows of a dataset, and what belongs to it: its probes file when one was saved
    beside it (NAME_probes.jsonl, as expand writes it), its {{placeholders}}, keys not read."""
    probes = path.with_name(path.stem + "_probes.jsonl")
    return {**_entry(path, source), "format": ds.format, "n_samples": len(ds), "sha256": ds.sha256,
            "stats": inspect_dataset(ds), "preview": _preview(ds), "probes": probes.name if probes.is_file() else None,
            "placeholders": ds.placeholders, "tool_calls": ds.uses_tools,
            "warnings": [{"code": w.code, "name": w.name, "count": w.count, "records": w.records} for w in ds.warnings]}


@router.get("")
def list_datasets(datasets: DatasetsDep) -> dict:
    return {"uploads": [_entry(p, "upload") for p in datasets.uploads()],
            "examples": [_entry(p, "example") for p in datasets.examples()]}


@router.post("", status_code=201)
def upload_dataset(file: UploadFile, datasets: DatasetsDep, settings: SettingsDep) -> dict:
    """Save an Alpaca / ShareGPT / messages file (.json or .jsonl) after it validates, or a
    probes file ({"prompt", "expect_any"?} records, .json or .jsonl: `kind` "probes").

    A file with problems is not kept: the answer lists every problem with its record index and
    field. A name already taken by different content is saved as NAME-2.json, so nothing
    already uploaded is replaced.
    """
    name = datasets.check_upload_name(file.filename)
    datasets.root.mkdir(parents=True, exist_ok=True)
    tmp = datasets.root / f".upload-{secrets.token_hex(6)}{Path(name).suffix}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            while chunk := file.file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise ApiError(413, "too_large", key="too_large.file", params={"name": name, "mb": settings.max_upload_mb},
                                   details={"limit_bytes": settings.max_upload_bytes})
                digest.update(chunk)
                out.write(chunk)
        probes = _kind(tmp, tmp.stat().st_mtime) == "probes"
        ds = None if probes else load_named(tmp, name)
        final, same = datasets.free_name(name, digest.hexdigest())
        if same:
            tmp.unlink()
        else:
            os.replace(tmp, datasets.root / final)
    finally:
        if tmp.exists():
            tmp.unlink()
    result = _describe_probes(datasets.root / final, "upload") if probes else describe(datasets.root / final, "upload", ds)
    result["name"] = final
    result["renamed_from"] = name if final != name else None
    return result


@router.get("/{name}")
def get_dataset(name: str, datasets: DatasetsDep) -> dict:
    path = datasets.path(name)
    source = "upload" if datasets.is_upload(path) else "example"
    if _kind(path, path.stat().st_mtime) == "probes":
        return _describe_probes(path, source)
    return describe(path, source, load_named(path, name))


@router.get("/{name}/records")
def dataset_records(name: str, datasets: DatasetsDep, offset: int = Query(0, ge=0),
                    limit: int = Query(PREVIEW, ge=1, le=500)) -> dict:
    ds = load_named(datasets.path(name), name)
    return {"name": name, "total": len(ds), "offset": offset, "records": _preview(ds, offset, limit)}


@router.get("/{name}/stats")
def dataset_stats(name: str, datasets: DatasetsDep, tokenizers: TokenizersDep, settings: SettingsDep,
                  model: str | None = None, max_seq_len: int | None = Query(None, ge=8, le=131072)) -> dict:
    """Counts and lengths; token lengths (and truncation at max_seq_len) with the model's tokenizer."""
    ds = load_named(datasets.path(name), name)
    tok = tokenizers.get(model or settings.model)
    return {"name": name, "model": model or settings.model, **inspect_dataset(ds, tok, max_seq_len)}


@router.delete("/{name}")
def delete_dataset(name: str, datasets: DatasetsDep) -> dict:
    path = datasets.path(name)
    if not datasets.is_upload(path):
        raise ApiError(409, "read_only", key="read_only", params={"name": name})
    path.unlink()
    return {"deleted": name}


__all__ = ["router"]
