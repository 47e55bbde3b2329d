"""Datasets: upload (size-limited, validated before it is kept), list, preview, token statistics."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from fastapi import APIRouter, Query, UploadFile

from ...data.readers import load_dataset
from ...data.records import Dataset
from ...data.stats import inspect_dataset
from ...errors import DataError, DataProblem
from ..deps import DatasetsDep, SettingsDep, TokenizersDep
from ..errors import ApiError

router = APIRouter(prefix="/datasets", tags=["datasets"])
PREVIEW = 50


def _entry(path: Path, source: str) -> dict:
    return {"name": path.name, "source": source, "size_bytes": path.stat().st_size}


def load_named(path: Path, name: str) -> Dataset:
    """Read and validate; problems name the dataset by its name, never by a server path."""
    try:
        ds = load_dataset(path)
    except DataError as e:
        problems = [DataProblem(name, p.index, p.field, p.message) for p in e.problems]
        raise DataError(problems, fix=e.fix, total=e.total) from None
    ds.path = name
    return ds


def _preview(ds: Dataset, offset: int = 0, limit: int = PREVIEW) -> list[dict]:
    return [{"index": s.index, "category": s.category, "prompt": s.prompt, "response": s.response,
             "turns": sum(m["role"] == "assistant" for m in s.messages),
             "system": next((m["content"] for m in s.messages if m["role"] == "system"), None)}
            for s in ds.samples[offset: offset + limit]]


def describe(path: Path, source: str, ds: Dataset) -> dict:
    return {**_entry(path, source), "format": ds.format, "n_samples": len(ds), "sha256": ds.sha256,
            "stats": inspect_dataset(ds), "preview": _preview(ds)}


@router.get("")
def list_datasets(datasets: DatasetsDep) -> dict:
    return {"uploads": [_entry(p, "upload") for p in datasets.uploads()],
            "examples": [_entry(p, "example") for p in datasets.examples()]}


@router.post("", status_code=201)
def upload_dataset(file: UploadFile, datasets: DatasetsDep, settings: SettingsDep) -> dict:
    """Save an Alpaca / ShareGPT / messages file (.json or .jsonl) after it validates.

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
        ds = load_named(tmp, name)
        final, same = datasets.free_name(name, digest.hexdigest())
        if same:
            tmp.unlink()
        else:
            os.replace(tmp, datasets.root / final)
    finally:
        if tmp.exists():
            tmp.unlink()
    result = describe(datasets.root / final, "upload", ds)
    result["name"] = final
    result["renamed_from"] = name if final != name else None
    return result


@router.get("/{name}")
def get_dataset(name: str, datasets: DatasetsDep) -> dict:
    path = datasets.path(name)
    return describe(path, "upload" if datasets.is_upload(path) else "example", load_named(path, name))


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
