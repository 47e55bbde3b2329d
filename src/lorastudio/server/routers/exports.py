"""Export an adapter from the studio: one background task per export, its progress, a download.

    POST /api/adapters/{name}/export  {"format": "gguf", "quant": "q8_0"}  → 202 {"id": 3, "state": "queued", ...}
    GET  /api/exports/{id}            → state, stage, fraction, and when done the files and checks
    GET  /api/exports/{id}/download   → the .gguf file, or a zip of the folder (merged, ollama)

Exports run one at a time in a thread of the server (loading, merging and writing a model is
seconds to minutes), under the lock that every model-building path of the server holds. The
files are kept under HOME/exports/, one place per adapter, format and quantisation, replaced
by the next export of the same kind. Tasks live in memory: a restarted server forgets them,
not the files.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from ...errors import StudioError
from ...exporting import check_request
from ..deps import RegistryDep, SettingsDep
from ..errors import ApiError
from ..state import BUILD_LOCK

log = logging.getLogger("lorastudio.server.exports")
router = APIRouter(tags=["adapters"])


class ExportRequest(BaseModel):
    format: Literal["merged", "gguf", "gguf-lora", "ollama"] = Field("gguf", description="what to write")
    quant: str | None = Field(None, description="gguf/ollama: f16 (default), f32, bf16, q8_0, q4_0; gguf-lora: f32, f16")
    adapter_only: bool = Field(False, description="ollama: base GGUF + LoRA GGUF with an ADAPTER line")
    llama_cpp: bool | None = Field(None, description="also check GGUF files in llama.cpp (default: when installed)")


@dataclass
class ExportTask:
    id: int
    adapter: str
    format: str
    quant: str | None
    adapter_only: bool
    out: str
    llama_cpp: bool | None = None
    state: str = "queued"  # queued, running, done, failed
    stage: str = ""
    fraction: float = 0.0
    created: float = field(default_factory=time.time)
    error: dict | None = None
    result: dict | None = None  # ExportResult.to_dict(), answers left out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("out")  # a server path: the download link is what the page needs
        d["download"] = f"/api/exports/{self.id}/download" if self.state == "done" else None
        return d


class ExportTasks:
    def __init__(self, root: Path):
        self.root = root
        self.tasks: dict[int, ExportTask] = {}
        self._ids = itertools.count(1)
        self._one_at_a_time = threading.Lock()

    def submit(self, name: str, run_dir: Path, req: ExportRequest) -> ExportTask:
        quant = check_request(req.format, req.quant)  # a bad format or quant is refused now, not in the thread
        suffix = ".gguf" if req.format in ("gguf", "gguf-lora") else ""
        label = "-".join(x for x in (name, req.format, quant, "adapter" if req.adapter_only else None) if x)
        task = ExportTask(next(self._ids), name, req.format, quant, req.adapter_only, str(self.root / (label + suffix)),
                          req.llama_cpp)
        self.tasks[task.id] = task
        threading.Thread(target=self._run, args=(task, run_dir), daemon=True, name=f"export-{task.id}").start()
        return task

    def _run(self, task: ExportTask, run_dir: Path) -> None:
        from ...exporting import export

        def progress(stage: str, fraction: float) -> None:
            task.stage, task.fraction = stage, round(fraction, 3)

        with self._one_at_a_time, BUILD_LOCK:
            task.state = "running"
            try:
                result = export(run_dir, task.format, Path(task.out), task.quant, adapter_only=task.adapter_only,
                                llama_cpp=task.llama_cpp, overwrite=True, on_progress=progress).to_dict()
                result.pop("out")
                for check in result["checks"]:
                    check.pop("answers", None)
                task.result, task.state = result, "done"
            except StudioError as e:  # with its catalogue key, so the page says it in its own language
                task.error, task.state = {**e.to_dict(), "key": e.key, "params": e.params}, "failed"
            except Exception as e:  # a bug: reported on the page, logged with its traceback here
                log.exception("export %s failed", task.id)
                task.error, task.state = {"type": type(e).__name__, "message": str(e), "fix": None}, "failed"

    def get(self, task_id: int) -> ExportTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise ApiError(404, "not_found", key="not_found.export", params={"id": task_id})
        return task


_CREATE = threading.Lock()


def get_exports(request: Request, settings) -> ExportTasks:
    """The app's export tasks, made on first use (kept on app.state beside the studio)."""
    with _CREATE:
        tasks = getattr(request.app.state, "exports", None)
        if tasks is None:
            tasks = request.app.state.exports = ExportTasks(settings.home / "exports")
    return tasks


@router.post("/adapters/{name}/export", status_code=202)
def start_export(name: str, request: Request, registry: RegistryDep, settings: SettingsDep,
                 req: ExportRequest | None = None) -> dict:
    """Write the adapter as a merged folder, a GGUF, a llama.cpp LoRA GGUF or an Ollama folder, then
    check it against the adapter; poll GET /api/exports/{id} for progress."""
    entry = registry.get(name)
    return get_exports(request, settings).submit(name, Path(entry.run_dir), req or ExportRequest()).to_dict()


@router.get("/exports/{task_id}")
def export_status(task_id: int, request: Request, settings: SettingsDep) -> dict:
    return get_exports(request, settings).get(task_id).to_dict()


@router.get("/exports/{task_id}/download")
def export_download(task_id: int, request: Request, settings: SettingsDep) -> FileResponse:
    task = get_exports(request, settings).get(task_id)
    out = Path(task.out)
    if task.state != "done" or not out.exists():
        raise ApiError(409, "not_ready", key="not_ready.export", params={"id": task_id, "state": task.state})
    if out.is_file():
        return FileResponse(out, media_type="application/octet-stream", filename=out.name)
    tmp_dir = settings.home / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="export-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:  # weights barely compress
        for f in sorted(out.rglob("*")):
            if f.is_file():
                zf.write(f, f"{out.name}/{f.relative_to(out)}")
    return FileResponse(tmp, media_type="application/zip", filename=f"{out.name}.zip",
                        background=BackgroundTask(Path(tmp).unlink, missing_ok=True))
