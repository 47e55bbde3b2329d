"""The server's long-lived objects, created once per app and reached through `deps.py`."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

from ..serving.engine import BASE
from ..serving.registry import NotFound, Registry
from .jobs import JobRunner, JobStore
from .settings import Settings
from .storage import DatasetStore, TokenizerCache


# `plan_run(load_weights=False)` builds its model under accelerate's `init_empty_weights`, which
# patches torch.nn.Module for the whole process while it runs: a model or adapter built in
# another thread meanwhile would get weights on the meta device. Everything in the server that
# builds modules (planning, loading the engine or an adapter, merging) holds this lock.
BUILD_LOCK = threading.RLock()


def plan_without_weights(config, tokenizer, apply_fixes: bool = False):
    """The plan for the form (no weights; the time from cached step costs when there are some);
    with `apply_fixes`, every finding's fix applied first (`setup.extra["applied"]`)."""
    from ..training.estimate import calibrate
    from ..training.setup import plan_run, plan_with_fixes

    with BUILD_LOCK:
        applied = []
        if apply_fixes:
            config, applied = plan_with_fixes(config, tokenizer=tokenizer)
        setup = plan_run(config, load_weights=False, tokenizer=tokenizer)
        calibrate(setup, config, measure=False)
        setup.extra["applied"] = applied
        return setup


def short_model_id(model: str) -> str:
    """A base model's id as clients show it: its name, not where it lives on this machine
    ("/home/u/.cache/lorastudio/models/smollm2-135m" -> "smollm2-135m"); a hub id stays "org/name"."""
    return Path(model).name if Path(model).is_absolute() or model.startswith((".", "~")) else model


class EngineHolder:
    """The chat engine: given (tests pass a scripted one), or loaded on first use.

    Loading the base model takes seconds to minutes, so `serve` starts at once and the first
    chat, activation or /v1 call waits for it. An adapter named in a call is loaded from the
    registry the first time it is used, then kept: switching is a pointer change.
    """

    def __init__(self, settings: Settings, registry: Registry, engine=None, loader: Callable | None = None):
        self.settings = settings
        self.registry = registry
        self._engine = engine
        self._loader = loader
        self._lock = threading.Lock()
        self.model = settings.model  # the base chat loads; the chat page's picker changes it (switch)

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def get(self):
        if self._engine is None:
            with self._lock, BUILD_LOCK:
                if self._engine is None:
                    self._engine = self._load(self.model)
        return self._engine

    def _load(self, model: str):
        if self._loader is not None:
            return self._loader(model)
        from ..serving.engine import ChatEngine

        return ChatEngine.load(model)

    def switch(self, model: str):
        """Load another base model for chat in place of the current one (its adapters are
        dropped; they are loaded again from the registry when named). The model is resolved
        first, so an unknown name fails before anything is unloaded."""
        from ..models import resolve_model

        if self._engine is not None and model == self._engine.model_name:
            return self._engine
        with self._lock, BUILD_LOCK:
            resolve_model(model)
            self._engine = self._load(model)
            self.model = model
        return self._engine

    def base_names(self) -> set[str]:
        names = {BASE, self.settings.model, self.model, short_model_id(self.settings.model), short_model_id(self.model)}
        if self._engine is not None:
            names |= {self._engine.model_name, short_model_id(self._engine.model_name)}
        return names

    def resolve(self, name: str | None) -> str | None:
        """A model/adapter name as a caller gives it → BASE, a loaded adapter's name, or None (the active one)."""
        if name is None or name == "":
            return None
        if name in self.base_names():
            return BASE
        engine = self.get()
        if name not in engine.adapters:
            entry = self.registry.get(name)  # NotFound → 404 naming the adapters there are
            with BUILD_LOCK:
                engine.add_adapter(name, entry.run_dir)
        return name

    def forget(self, name: str) -> None:
        """Unload an adapter whose folder is renamed or deleted."""
        if self._engine is not None and name in self._engine.adapters:
            was_active = self._engine.active == name
            self._engine.remove_adapter(name)
            if was_active:
                self._engine.activate(BASE)

    def describe(self) -> dict:
        if self._engine is None:
            return {"loaded": False, "model": self.model, "adapters": [], "active": BASE}
        e = self._engine
        return {"loaded": True, "model": e.model_name, "device": getattr(e, "device", "cpu"),
                "adapters": sorted(e.adapters), "active": e.active}


@dataclass
class Studio:
    settings: Settings
    registry: Registry
    datasets: DatasetStore
    tokenizers: TokenizerCache
    jobs: JobStore
    runner: JobRunner
    engine: EngineHolder


def make_studio(settings: Settings, engine=None, loader: Callable | None = None, device: str | None = None) -> Studio:
    settings.home.mkdir(parents=True, exist_ok=True)
    registry = Registry(settings.runs)
    store = JobStore(settings.jobs_db)
    return Studio(settings, registry, DatasetStore(settings.datasets), TokenizerCache(), store,
                  JobRunner(store, settings.home, device=device), EngineHolder(settings, registry, engine, loader))


_END = object()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


async def iterate_in_thread(make: Callable[[], Iterator]) -> AsyncIterator:
    """Run a blocking generator in one thread of its own and yield its items here.

    The engine's generators hold its lock from first item to last; Starlette would step a
    sync generator from whichever pool thread is free, and a lock cannot be released from
    another thread than the one that took it.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone: the client left and the app stopped
            pass

    def work() -> None:
        try:
            for item in make():
                put(item)
        except BaseException as e:  # handed to the async side, re-raised there
            put(_Raised(e))
        finally:
            put(_END)

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = await queue.get()
        if item is _END:
            return
        if isinstance(item, _Raised):
            raise item.error
        yield item


__all__ = ["EngineHolder", "NotFound", "Studio", "iterate_in_thread", "make_studio"]
