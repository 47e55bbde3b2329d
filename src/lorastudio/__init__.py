"""LoRA Studio: fine-tune chat models with LoRA, and prove the adapter works.

The public Python API; the CLI (`lorastudio`) and the web studio call the same functions.
Names are imported on first use: `import lorastudio` (and the CLI's start, its --help, its
error messages) does not pay for torch, transformers and PEFT until a command needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name → the module that defines it
_EXPORTS = {
    "doctor": "api", "expand": "api", "export": "api", "plan": "api", "train": "api", "tune": "api",
    "TrainConfig": "config", "make_config": "config", "build_config": "config",
    "load_dataset": "data.readers", "inspect_dataset": "data.stats",
    "ConfigError": "errors", "DataError": "errors", "ModelError": "errors", "PlanRefused": "errors", "RunError": "errors",
    "StudioError": "errors",
    "ChatEngine": "serving.engine", "GenerationConfig": "serving.engine",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lorastudio' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
