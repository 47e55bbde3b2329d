"""One function per format: write into a staging path, then check what was written.

Each takes the export job (the run, the loaded base with its adapter, the probe references)
and the staging path; `export()` moves the result into place afterwards.
"""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..models import ModelSource, load_model
from .gguf_lora import write_gguf_lora
from .gguf_model import write_gguf_model
from .gguf_vocab import adds_bos
from .merged import merge, model_card, save_merged
from .ollama import modelfile, stop_tokens, template_parts
from .source import ExportSource
from .verify import (ProbeRef, apply_gguf_lora, check_hf_model, check_llama_cpp, load_gguf_transformers,
                     probe_messages, reference)


@dataclass
class Job:
    src: ExportSource
    source: ModelSource
    tokenizer: object
    model: object  # the PeftModel: base + adapter, fp32, eval
    quant: str | None
    target: Path
    probes: str | None
    n_probes: int
    max_new_tokens: int
    verify: bool
    progress: Callable[[str, float], None]
    llama_cpp: bool = False  # also check GGUF files in llama.cpp
    ollama_parts: object = None  # the Modelfile's template pieces (ollama.TemplateParts)
    refs: list[ProbeRef] = field(default_factory=list)
    _merged: object = None

    @property
    def base_gguf(self) -> Path | None:
        return self.src.base_gguf(self.source)

    def make_references(self) -> None:
        if self.verify:
            conversations = probe_messages(self.probes or self.src.config.get("probes"), self.n_probes)
            self.refs = reference(self.model, self.tokenizer, self.src.chat_template, conversations, self.max_new_tokens)

    def merged_model(self):
        if self._merged is None:
            self.progress("merging the adapter into the base", 0.3)
            self._merged = merge(self.model)
        return self._merged

    def add(self, result, check) -> None:
        if check is not None:
            result.checks.append(check)
            self.progress(check.summary(), 0.9)

    def check_gguf(self, path: Path, result, kind: str, label: str) -> None:
        if not self.verify:
            return
        self.progress(f"reloading {path.name} in transformers", 0.7)
        model, tok = load_gguf_transformers(path)
        self.add(result, check_hf_model(model, self.refs, self.tokenizer, label, kind, tok, tok.chat_template,
                                        self.max_new_tokens))
        del model
        gc.collect()
        if self.llama_cpp:
            self.progress(f"loading {path.name} in llama.cpp", 0.85)
            self.add(result, check_llama_cpp(path, self.refs, self.tokenizer, label, kind, None, self.max_new_tokens))


def merged(job: Job, out: Path, result, adapter_only: bool = False) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = job.merged_model()
    job.progress("saving the merged folder", 0.5)
    result.details["files"] = save_merged(model, job.tokenizer, job.src.chat_template, out, model_card(job.src, "merged"))
    if job.verify:
        job.progress("reloading the merged folder in transformers", 0.7)
        reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        tok = AutoTokenizer.from_pretrained(out)
        job.add(result, check_hf_model(reloaded, job.refs, job.tokenizer, "merged folder", "merged", tok,
                                       tok.chat_template, job.max_new_tokens))
    _write_card(job, out, "merged", result)


def gguf(job: Job, out: Path, result, adapter_only: bool = False) -> None:
    model = job.merged_model()
    job.progress(f"writing {out.name} ({job.quant})", 0.4)
    result.details["gguf"] = write_gguf_model(
        model, job.tokenizer, out, job.quant, job.src.chat_template, job.base_gguf, job.src.name,
        on_progress=lambda f: job.progress(f"writing {out.name} ({job.quant})", 0.4 + 0.25 * f))
    job.check_gguf(out, result, job.quant, f"gguf {job.quant}")


def gguf_lora(job: Job, out: Path, result, adapter_only: bool = False, base_file: Path | None = None) -> None:
    job.progress(f"writing {out.name}", 0.4)
    result.details["gguf_lora"] = write_gguf_lora(job.src.adapter_dir, job.model.config, out, job.quant, job.src.name)
    if not job.verify:
        return
    job.progress("applying the LoRA GGUF to the base in transformers", 0.6)
    base = load_model(job.source, torch.float32, "cpu", job.src.trust_remote_code).eval()
    apply_gguf_lora(base, out)
    job.add(result, check_hf_model(base, job.refs, job.tokenizer, "gguf-lora on the base", job.quant,
                                   max_new_tokens=job.max_new_tokens))
    del base
    if job.llama_cpp:
        _lora_in_llama_cpp(job, out, result, base_file)


def _lora_in_llama_cpp(job: Job, lora: Path, result, base_file: Path | None) -> None:
    """llama.cpp needs the base as GGUF too: the file the base came from, else one we write in
    the LoRA's precision."""
    tmp = None
    base_file = base_file or job.base_gguf
    kind = "gguf base"  # a quantised base file: llama.cpp also rounds the activations it multiplies
    if base_file is None:
        tmp = Path(tempfile.mkdtemp(prefix="lora-base-"))
        kind = job.quant
        base_file = tmp / f"base-{kind}.gguf"
        base = load_model(job.source, torch.float32, "cpu", job.src.trust_remote_code)
        write_gguf_model(base, job.tokenizer, base_file, kind, job.src.chat_template, None, "base")
        del base
    try:
        job.progress("loading the base and the LoRA GGUF in llama.cpp", 0.85)
        job.add(result, check_llama_cpp(base_file, job.refs, job.tokenizer, f"gguf-lora on {base_file.name}", kind,
                                        lora, job.max_new_tokens))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def ollama_template(job: Job):
    """The Modelfile's pieces; called before the references are made, so a template Ollama
    cannot reproduce is refused in seconds."""
    return template_parts(job.tokenizer, job.src.chat_template or job.tokenizer.chat_template,
                          adds_bos(job.tokenizer, job.base_gguf))


def ollama(job: Job, out: Path, result, adapter_only: bool = False) -> None:
    parts = job.ollama_parts or ollama_template(job)
    out.mkdir(parents=True, exist_ok=True)
    if adapter_only:
        base_file = out / "base.gguf"
        if job.base_gguf is not None:
            shutil.copyfile(job.base_gguf, base_file)
        else:
            job.progress("writing base.gguf", 0.2)
            base = load_model(job.source, torch.float32, "cpu", job.src.trust_remote_code)
            write_gguf_model(base, job.tokenizer, base_file, job.quant if job.quant != "f32" else "f16",
                             job.src.chat_template, None, "base")
            del base
        job.quant = "f32"  # the LoRA file itself: small either way, exact in f32
        gguf_lora(job, out / "adapter.gguf", result, base_file=base_file)
        text = modelfile(parts, job.tokenizer, "./base.gguf", adapter="./adapter.gguf")
    else:
        gguf(job, out / "model.gguf", result)
        text = modelfile(parts, job.tokenizer, "./model.gguf")
    (out / "Modelfile").write_text(text, encoding="utf-8")
    name = re.sub(r"[^a-z0-9._-]+", "-", job.src.name.lower()).strip("-._") or "lorastudio"
    result.run_command = f"cd {job.target} && ollama create {name} -f Modelfile && ollama run {name}"
    result.details["ollama"] = {"system": parts.default_system, "stop": stop_tokens(parts, job.tokenizer),
                                "template": "reproduces the training template on 4 conversations"}
    _write_card(job, out, "ollama", result)


def _write_card(job: Job, out: Path, fmt: str, result) -> None:
    checks = [c.summary() for c in result.checks] or ["not verified (--no-verify)"]
    extra = {"checks": checks}
    if result.run_command:
        extra["run"] = result.run_command
    (out / "README.md").write_text(model_card(job.src, fmt, extra), encoding="utf-8")
