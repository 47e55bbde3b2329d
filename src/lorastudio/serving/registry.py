"""The adapter registry on disk: every finished run folder under the runs root is an adapter.

A run counts once it is complete (`RunFolder.is_complete`: manifest.json, written last by
training, and the adapter's weights, in a folder whose name does not end in `.tmp`).
Names are folder names, so they are validated before any path is built from them: a name
can never point outside the runs root.

    registry = Registry(studio_home() / "runs")
    registry.scan()                 # [AdapterEntry, ...], newest first
    registry.rename("run-1", "wukong")
    registry.zip("wukong", out)     # adapter + manifest + config + metrics, for sharing
    registry.merge("wukong", dest)  # base + LoRA folded into one safetensors HF folder
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, ModelError, RunError
from ..run_folder import DESCRIPTION_FILES, Manifest, RunFolder

RESERVED = {"base", "default"}  # "base" selects the base model in chat and /v1
MAX_NAME = 100


class NotFound(RunError):
    """A named run or adapter that does not exist (the server answers 404)."""


class NameTaken(RunError):
    """A new name that another run already has (the server answers 409)."""


def validate_name(name: str, what: str = "name") -> str:
    """A single folder name: no separators, no '..', nothing unprintable (NUL, control), not absolute."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{what} is empty", fix="give a name such as wukong-v1", option=what, key="name.empty")
    bad = reason = None  # reason: the catalogue's key (error.name.<reason>)
    if len(name) > MAX_NAME:
        bad, reason = f"is longer than {MAX_NAME} characters", "too_long"
    elif not name.isprintable():  # NUL, control and format characters, and lone surrogates (not text)
        bad, reason = "contains a NUL, control or other unprintable character", "unprintable"
    elif "/" in name or "\\" in name:
        bad, reason = "contains a path separator ('/' or '\\')", "separator"
    elif ".." in name:
        bad, reason = "contains '..'", "dotdot"
    elif name.startswith(".") or name != name.strip():
        bad, reason = "starts with '.' or has leading/trailing spaces", "edge"
    elif os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        bad, reason = "is an absolute path", "absolute"
    elif name.endswith(".tmp"):
        bad, reason = "ends in '.tmp' (reserved for folders being written)", "tmp"
    elif name.lower() in RESERVED:
        bad, reason = f"is reserved ({', '.join(sorted(RESERVED))} select the base model)", "reserved"
    if bad:
        shown = repr(name) if len(name) <= MAX_NAME else f"{name[:40]!r}... ({len(name):,} characters)"
        raise ConfigError(f"{what} {shown} {bad}", fix="use letters, digits, '-', '_' or '.', e.g. wukong-v1", option=what,
                          key=f"name.{reason}", params={"name": shown, "max": MAX_NAME})
    return name


@dataclass
class AdapterEntry:
    name: str
    run_dir: str
    adapter_dir: str
    base_model: str  # the --model the run was trained on
    base_fingerprint: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    created: str | None = None
    steps: int | None = None
    final_loss: float | None = None
    eval_loss: float | None = None
    verdict: str | None = None  # the doctor's verdict, when doctor.json exists
    template_sha256: str | None = None
    size_bytes: int = 0
    has_probes: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _finite(x) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def read_entry(run_dir: Path) -> AdapterEntry:
    """A complete run as an adapter; a damaged manifest or report reads as empty (the list shows the others)."""
    folder = RunFolder(run_dir)
    manifest = folder.manifest(quiet=True) or Manifest()
    config, metrics, adapter = manifest.config, manifest.metrics, folder.adapter_dir
    report = folder.doctor_report(quiet=True)
    return AdapterEntry(
        name=run_dir.name,
        run_dir=str(run_dir),
        adapter_dir=str(adapter),
        base_model=str(config.get("model") or manifest.base_model.get("spec") or "?"),
        base_fingerprint=manifest.base_model,
        config=config,
        created=manifest.created,
        steps=metrics.get("steps"),
        final_loss=_finite(metrics.get("last_loss")),
        eval_loss=_finite(metrics.get("eval_loss")),
        verdict=report.verdict if report is not None else None,
        template_sha256=manifest.chat_template_sha256,
        size_bytes=sum(f.stat().st_size for f in adapter.iterdir() if f.is_file()),
        has_probes=bool(config.get("probes")) or folder.heldout() is not None,
    )


class Registry:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / validate_name(name)

    def scan(self) -> list[AdapterEntry]:
        """Every complete run under the root, newest first. Incomplete and `.tmp` folders are skipped."""
        if not self.root.is_dir():
            return []
        entries = [read_entry(p) for p in self.root.iterdir() if p.is_dir() and RunFolder(p).is_complete()]
        return sorted(entries, key=lambda e: (e.created or "", e.name), reverse=True)

    def get(self, name: str) -> AdapterEntry:
        run_dir = self.path(name)
        if not RunFolder(run_dir).is_complete():
            known = ", ".join(e.name for e in self.scan()) or "none yet"
            raise NotFound(f"no finished adapter named {name!r}", fix=f"adapters: {known}; train one first, or scan again",
                           key="not_found.adapter", params={"name": name})
        return read_entry(run_dir)

    def rename(self, name: str, new_name: str) -> AdapterEntry:
        src = self.get(name).run_dir
        dest = self.path(new_name)
        if dest.exists():
            raise NameTaken(f"a run named {new_name!r} already exists", fix="choose another name, or delete that run first",
                            key="conflict.rename", params={"name": new_name})
        os.replace(src, dest)
        return read_entry(dest)

    def delete(self, name: str) -> None:
        run_dir = Path(self.get(name).run_dir)
        # Rename first so a half-deleted folder is never listed as an adapter.
        doomed = run_dir.with_name(run_dir.name + ".deleting.tmp")
        os.replace(run_dir, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def zip(self, name: str, dest: Path) -> Path:
        """Write `dest` (a .zip): adapter/ plus the run's self-description, under NAME/."""
        entry = self.get(name)
        run_dir = Path(entry.run_dir)
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(Path(entry.adapter_dir).iterdir()):
                if f.is_file():
                    zf.write(f, f"{name}/adapter/{f.name}")
            for fname in DESCRIPTION_FILES:
                if (run_dir / fname).is_file():
                    zf.write(run_dir / fname, f"{name}/{fname}")
        return dest

    def merge(self, name: str, dest: Path, base_model: str | None = None) -> Path:
        """Fold the adapter into its base weights and save a plain HF folder (safetensors) at `dest`.

        The tokenizer is saved with the chat template the adapter was trained with, so the
        merged model renders prompts exactly as training did.
        """
        import torch
        from peft import PeftModel

        from ..models import load_model, load_tokenizer, resolve_model

        entry = self.get(name)
        if dest.exists():
            raise NameTaken(f"{dest} already exists", fix="choose another output name, or delete that folder first",
                            key="conflict.merge", params={"name": dest.name})
        manifest = RunFolder(entry.run_dir).manifest(quiet=True) or Manifest()
        source = resolve_model(base_model or entry.base_model)
        tokenizer = load_tokenizer(source, bool(entry.config.get("trust_remote_code")))
        if manifest.chat_template:
            tokenizer.chat_template = manifest.chat_template
        base = load_model(source, torch.float32, "cpu", bool(entry.config.get("trust_remote_code")))
        try:
            model = PeftModel.from_pretrained(base, entry.adapter_dir, is_trainable=False)
        except (ValueError, KeyError, RuntimeError) as e:
            raise ModelError(f"adapter {name!r} does not fit base model {source.spec!r}: {e}",
                             fix="merge into the base model the adapter was trained on (see its manifest)") from e
        merged = model.merge_and_unload(safe_merge=True)  # safe_merge raises on NaN weights
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent))
        try:
            merged.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            (tmp / "MERGED_FROM.json").write_text(json.dumps(
                {"adapter": name, "run_dir": entry.run_dir, "base_model": entry.base_fingerprint}, indent=2,
                ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest
