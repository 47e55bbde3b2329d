"""Adapters: scan the runs folder, activate, rename, delete, download as a zip, merge into the base."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ...serving.engine import BASE
from ...serving.registry import validate_name
from ..deps import EngineDep, JobsDep, RegistryDep, SettingsDep
from ..errors import ApiError
from ..jobs import ACTIVE
from ..state import BUILD_LOCK

router = APIRouter(prefix="/adapters", tags=["adapters"])


class RenameRequest(BaseModel):
    new_name: str = Field(..., description="the new run folder name")


class MergeRequest(BaseModel):
    name: str | None = Field(None, description="output folder name under HOME/merged (default NAME-merged)")


def _listing(registry, engine) -> dict:
    info = engine.describe()
    entries = []
    for e in registry.scan():
        d = e.to_dict()
        d["loaded"] = e.name in info["adapters"]
        d["active"] = info["active"] == e.name
        entries.append(d)
    return {"adapters": entries, "active": info["active"], "engine": info}


def _not_busy(jobs, name: str) -> None:
    if jobs.list(ACTIVE, name=name):
        raise ApiError(409, "busy", key="busy", params={"name": name})


@router.get("")
def list_adapters(registry: RegistryDep, engine: EngineDep) -> dict:
    """Every finished run (manifest.json + adapter/) with its base model, config, final loss and
    the doctor's verdict; re-read from disk on every call."""
    return _listing(registry, engine)


@router.post("/scan")
def scan_adapters(registry: RegistryDep, engine: EngineDep) -> dict:
    return _listing(registry, engine)


@router.post("/{name}/activate")
def activate(name: str, engine: EngineDep) -> dict:
    """Load the adapter on the base in memory (once) and make it the default for chat and /v1;
    'base' turns every adapter off."""
    resolved = engine.resolve(name) or BASE
    engine.get().activate(resolved)
    return engine.describe()


@router.post("/{name}/rename")
def rename(name: str, req: RenameRequest, registry: RegistryDep, engine: EngineDep, jobs: JobsDep) -> dict:
    validate_name(req.new_name, "new name")
    _not_busy(jobs, name)
    old_dir = registry.get(name).run_dir
    was_active = engine.describe()["active"] == name
    engine.forget(name)
    entry = registry.rename(name, req.new_name)
    jobs.rename_run(Path(old_dir), entry.name, Path(entry.run_dir))
    if was_active:
        engine.resolve(entry.name)
        engine.get().activate(entry.name)
    return entry.to_dict()


@router.delete("/{name}")
def delete(name: str, registry: RegistryDep, engine: EngineDep, jobs: JobsDep,
           confirm: str = Query(..., description="the adapter's name again, to confirm")) -> dict:
    if confirm != name:
        raise ApiError(422, "confirm_mismatch", key="confirm_mismatch", params={"name": name})
    _not_busy(jobs, name)
    registry.get(name)
    engine.forget(name)
    registry.delete(name)
    return {"deleted": name}


@router.get("/{name}/download")
def download(name: str, registry: RegistryDep, settings: SettingsDep) -> FileResponse:
    """A zip of the adapter folder with the run's manifest, config, plan, metrics and doctor report."""
    registry.get(name)
    tmp_dir = settings.home / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="adapter-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    Path(tmp).unlink()
    path = registry.zip(name, Path(tmp))
    return FileResponse(path, media_type="application/zip", filename=f"{name}.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.post("/{name}/merge")
def merge(name: str, registry: RegistryDep, settings: SettingsDep, req: MergeRequest | None = None) -> dict:
    """Fold the adapter into its base model and save a standalone HF folder (safetensors)
    under HOME/merged; it loads with plain transformers, no PEFT needed."""
    out_name = validate_name((req.name if req and req.name else f"{name}-merged"), "output name")
    with BUILD_LOCK:
        path = registry.merge(name, settings.merged / out_name)
    files = sorted(p.name for p in path.iterdir())
    return {"adapter": name, "path": str(path), "name": out_name, "files": files}
