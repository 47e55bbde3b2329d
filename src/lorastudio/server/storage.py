"""What the server keeps under the studio home besides runs: uploaded datasets, and the
tokenizers it has loaded (so the plan can update as the user types).

Every path the API takes is a *name*, validated with `validate_name` and joined to a folder
the server owns; a request can never read or write outside the studio home (the bundled
example data is the one read-only exception).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from pathlib import Path

from pydantic import ValidationError

from ..config import TrainConfig, make_config
from ..errors import ConfigError, StudioError
from ..models import DEFAULT_MODEL, EMBEDDED, load_tokenizer, resolve_model
from ..serving.registry import NotFound, validate_name

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DATA_SUFFIXES = (".json", ".jsonl")
PATH_FIELDS = ("data", "eval_data", "probes", "general_data")  # config fields that name a dataset, not a path


class DatasetStore:
    def __init__(self, root: Path):
        self.root = root

    def examples(self) -> list[Path]:
        return sorted(p for p in EXAMPLES.iterdir() if p.suffix in DATA_SUFFIXES)

    def uploads(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES
                      and not p.name.startswith("."))

    def path(self, name: str) -> Path:
        """An uploaded dataset, else a bundled example of that name."""
        validate_name(name, "dataset")
        for p in (self.root / name, EXAMPLES / name):
            if p.is_file() and p.suffix in DATA_SUFFIXES:
                return p
        known = ", ".join(p.name for p in self.uploads() + self.examples())
        raise NotFound(f"no dataset named {name!r}", fix=f"upload it first; datasets: {known}", key="not_found.dataset",
                       params={"name": name})

    def is_upload(self, path: Path) -> bool:
        return path.parent == self.root

    def check_upload_name(self, filename: str | None) -> str:
        name = validate_name(filename or "", "file name")
        if Path(name).suffix.lower() not in DATA_SUFFIXES:
            raise ConfigError(f"file name {name!r} must end in .json or .jsonl",
                              fix="save the data as a JSON array (.json) or one JSON object per line (.jsonl)",
                              option="file", key="file_type", params={"name": name})
        return name

    def free_name(self, name: str, digest: str) -> tuple[str, bool]:
        """`name`, or `stem-2.json` etc. when another file holds that name; True if identical exists."""
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = name, 1
        while (self.root / candidate).exists():
            if hashlib.sha256((self.root / candidate).read_bytes()).hexdigest() == digest:
                return candidate, True
            n += 1
            candidate = f"{stem}-{n}{suffix}"
        return candidate, False


class TokenizerCache:
    """The last few tokenizers by model spec: loading one takes longer than planning with it."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._failed: dict[tuple, tuple[float, Exception]] = {}
        self._lock = threading.Lock()

    FAILURE_SECONDS = 30.0  # a model that failed to load is not retried (a hub lookup can take a minute) for this long

    def get(self, model: str, trust_remote_code: bool = False):
        key = (model, trust_remote_code)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            failed = self._failed.get(key)
            if failed and time.monotonic() - failed[0] < self.FAILURE_SECONDS:
                raise failed[1]
        try:
            tok = load_tokenizer(resolve_model(model), trust_remote_code)
        except StudioError as e:
            with self._lock:
                self._failed[key] = (time.monotonic(), e)
            raise
        with self._lock:
            self._items[key] = tok
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return tok


def config_from_form(fields: dict, datasets: DatasetStore, output: Path, default_model: str | None = None) -> TrainConfig:
    """A TrainConfig from the form's fields: dataset fields are names, `output` is the server's."""
    values = {k: v for k, v in fields.items() if v not in (None, "")}
    if "output" in values:
        raise ConfigError("'output' cannot be set through the API", fix="name the run instead; it is saved under the studio home",
                          option="output", key="output_not_settable")
    if "data" not in values:
        raise ConfigError("no training data chosen", fix="choose or upload a dataset", option="--data", key="no_data")
    for key in PATH_FIELDS:
        if key in values:
            if not isinstance(values[key], str):
                raise ConfigError(f"{key} must be a dataset name", option=f"--{key.replace('_', '-')}",
                                  key="dataset_name_type", params={"field": key})
            values[key] = str(datasets.path(values[key]))
    values.setdefault("model", default_model or DEFAULT_MODEL)
    try:
        return make_config(output=str(output), **values)
    except ConfigError as e:
        e.key, e.params = "invalid_fields", {"where": e.message.split(": ", 1)[-1]}
        e.fields = field_errors({**values, "output": str(output)})  # each bad field, for the form to mark
        raise


# pydantic's error types -> the catalogue's validation.<why>, with the bound as a parameter
_WHY = {"greater_than_equal": ("min", "ge", "min"), "greater_than": ("gt", "gt", "min"), "less_than_equal": ("max", "le", "max"),
        "less_than": ("lt", "lt", "max"), "int_parsing": ("integer", None, None), "int_from_float": ("integer", None, None),
        "int_type": ("integer", None, None), "float_parsing": ("number", None, None), "float_type": ("number", None, None),
        "finite_number": ("number", None, None), "missing": ("required", None, None), "extra_forbidden": ("unknown", None, None),
        "literal_error": ("choice", "expected", "choices"), "list_type": ("list", None, None), "string_type": ("text", None, None),
        "bool_parsing": ("bool", None, None), "bool_type": ("bool", None, None)}


def field_errors(values: dict) -> list[dict]:
    """[{"field", "why", "params"}] for each field TrainConfig refuses, in the catalogue's terms."""
    try:
        TrainConfig(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as e:
        out = []
        for err in e.errors():
            why, ctx_key, param = _WHY.get(err["type"], ("other", None, None))
            ctx = err.get("ctx") or {}
            params = {param: ctx[ctx_key]} if ctx_key and ctx_key in ctx else {}
            out.append({"field": str(err["loc"][0]) if err["loc"] else "config", "why": why,
                        "params": {k: v if isinstance(v, (int, float, str)) else str(v) for k, v in params.items()}})
        return out
    return []


def model_choices(home: Path, configured: str | None) -> dict:
    cached = []
    folder = home / "models"
    if folder.is_dir():
        cached = sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file() and p.name not in EMBEDDED)
    from ..models.catalog import CATALOG

    return {"default": configured or DEFAULT_MODEL, "embedded": sorted(EMBEDDED),
            "cached": [str(folder / c) for c in cached],
            "plan_only": sorted(CATALOG)}  # bundled configs: plan their memory, no weights to train
