"""Take a trained adapter home: merged folder, GGUF, llama.cpp LoRA GGUF, or an Ollama folder.

    import lorastudio as ls
    result = ls.export("runs/a", "gguf", "out/a.gguf", quant="q8_0")
    result.ok, result.files, [c.summary() for c in result.checks]

Every export is checked after writing: what was written is reloaded and compared with the
adapter applied in PEFT on the run's first probes (verify.py). `result.ok` is False, and the
CLI exits 1, when the numbers are off.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ExportError
from .gguf_model import QUANTS
from .source import ExportSource, load_for_export, open_run
from .verify import Check

FORMATS = ("merged", "gguf", "gguf-lora", "ollama")
Progress = Callable[[str, float], None]


@dataclass
class ExportResult:
    format: str
    out: Path
    quant: str | None
    files: dict[str, int] = field(default_factory=dict)  # path relative to out's folder → bytes
    checks: list[Check] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    run_command: str | None = None  # what to type next (ollama create ...)

    @property
    def ok(self) -> bool:
        """Every check passed (True, vacuously, when verification was turned off)."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {"format": self.format, "out": str(self.out), "quant": self.quant, "files": self.files, "ok": self.ok,
                "checks": [c.to_dict() for c in self.checks], "details": self.details, "run_command": self.run_command}


def check_request(fmt: str, quant: str | None) -> str | None:
    """The format and quantisation, validated before any model is loaded."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}", fix=f"use one of: {', '.join(FORMATS)}",
                          key="export.format", params={"format": fmt, "allowed": list(FORMATS)})
    if fmt == "merged":
        if quant not in (None, "f32"):
            raise ExportError("a merged folder is saved in fp32 safetensors; --quant applies to GGUF formats",
                              fix="drop --quant, or use --format gguf", key="export.merged_quant", params={"quant": quant})
        return None
    allowed = ("f32", "f16") if fmt == "gguf-lora" else QUANTS
    quant = quant or ("f32" if fmt == "gguf-lora" else "f16")
    if quant not in allowed:
        hint = " (q4_k_m needs llama.cpp's own quantizer: quantize our f16 file with llama-quantize)" if quant == "q4_k_m" else ""
        raise ExportError(f"--quant {quant} is not available for --format {fmt}{hint}", fix=f"use one of: {', '.join(allowed)}",
                          key="export.quant", params={"quant": quant, "format": fmt, "allowed": list(allowed)})
    return quant


def export(run_dir: str | Path, fmt: str, out: str | Path, quant: str | None = None, *, probes: str | None = None,
           n_probes: int = 5, max_new_tokens: int = 48, adapter_only: bool = False, overwrite: bool = False,
           verify: bool = True, llama_cpp: bool | None = None, on_progress: Progress | None = None) -> ExportResult:
    """Write the run's adapter in format `fmt` at `out` and check it (see the module docstring).
    `adapter_only` (ollama): base GGUF plus the LoRA GGUF and an ADAPTER line, not one merged file.
    `llama_cpp`: also check GGUF files in llama.cpp (None: when llama-cpp-python is installed)."""
    quant = check_request(fmt, quant)
    installed = importlib.util.find_spec("llama_cpp") is not None
    if llama_cpp and not installed:
        raise ExportError("checking in llama.cpp needs llama-cpp-python, which is not installed",
                          fix='pip install llama-cpp-python (it compiles llama.cpp: minutes), or drop --llama-cpp',
                          key="export.llama_cpp")
    llama_cpp = installed if llama_cpp is None else llama_cpp
    src = open_run(run_dir)
    out = Path(out)
    target = _target(out, fmt, src.name, quant)
    if target.exists() and not overwrite:
        raise ExportError(f"{target} already exists", fix="choose another output, or pass --overwrite")
    progress = on_progress or (lambda stage, fraction: None)
    from . import writers

    progress("loading the base model and the adapter", 0.02)
    source = src.base()
    if fmt != "merged":  # refuse an architecture llama.cpp's graph would not match before loading weights
        from .arch import arch_for

        arch_for(src.base_config(source))
    tokenizer, model = load_for_export(src, source)
    job = writers.Job(src, source, tokenizer, model, quant, target, probes, n_probes, max_new_tokens, verify, progress,
                      llama_cpp=verify and llama_cpp)
    if fmt == "ollama":
        job.ollama_parts = writers.ollama_template(job)
    progress("answering the probes with the adapter (the reference)", 0.1)
    job.make_references()
    result = ExportResult(fmt, target, quant)
    write = {"merged": writers.merged, "gguf": writers.gguf, "gguf-lora": writers.gguf_lora, "ollama": writers.ollama}[fmt]
    _write_staged(target, overwrite, lambda staged: write(job, staged, result, adapter_only))
    result.files = _sizes(target)
    progress("done", 1.0)
    return result


def _write_staged(target: Path, overwrite: bool, write: Callable[[Path], None]) -> None:
    """Write into a temporary sibling, then rename into place: a half-written or interrupted
    export is never seen under the final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
    staged = tmp / target.name if target.suffix == ".gguf" else tmp
    try:
        write(staged)
        if target.exists() and overwrite:
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def format_result(result: ExportResult) -> str:
    """What the CLI prints: the files with their sizes, each check's numbers, what to run next."""
    lines = [f"{result.format} export: {result.out}"]
    lines += [f"  {name}  {_human(size)}" for name, size in result.files.items()]
    lines += [("  ok      " if c.ok else "  FAILED  ") + c.summary() for c in result.checks]
    if not result.checks:
        lines.append("  not verified (--no-verify)")
    if result.run_command:
        lines.append(f"run it: {result.run_command}")
    if not result.ok:
        lines.append("the export does not reproduce the adapter: do not ship it (the numbers above say where)")
    return "\n".join(lines)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _target(out: Path, fmt: str, name: str, quant: str | None) -> Path:
    """A GGUF format given a folder writes NAME-QUANT.gguf (NAME-lora-QUANT.gguf) into it."""
    if fmt in ("gguf", "gguf-lora") and out.suffix != ".gguf":
        return out / (f"{name}-lora-{quant}.gguf" if fmt == "gguf-lora" else f"{name}-{quant}.gguf")
    return out


def _sizes(target: Path) -> dict[str, int]:
    if target.is_file():
        return {target.name: target.stat().st_size}
    return {str(p.relative_to(target)): p.stat().st_size for p in sorted(target.rglob("*")) if p.is_file()}


__all__ = ["FORMATS", "ExportResult", "ExportSource", "check_request", "export", "format_result"]
