"""The adapter folded into its base: a plain Hugging Face folder that needs no PEFT.

Saved with the tokenizer, the chat template the run trained with (so the folder renders
prompts exactly as training did), and a README model card that says where it came from:
base model, data hash, recipe, and the doctor's verdict and numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..diagnosis.report import three_lines
from ..errors import ExportError
from .source import ExportSource


def merge(peft_model):
    """W + (alpha/r) B A into every adapted layer; refuses a result with NaN or inf weights."""
    merged = peft_model.merge_and_unload(safe_merge=True)  # safe_merge checks each merged layer
    for name, p in merged.named_parameters():
        if not torch.isfinite(p).all():
            raise ExportError(f"the merged weight {name} holds NaN or inf values",
                              fix="the adapter is broken (diverged training?): check `lorastudio doctor RUN`")
    return merged


def save_merged(model, tokenizer, chat_template: str | None, out: Path, card: str) -> list[str]:
    """Write the folder's files into `out` (which exists and is empty); returns their names."""
    if chat_template:
        tokenizer.chat_template = chat_template
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(card, encoding="utf-8")
    return sorted(p.name for p in out.iterdir())


def _fmt(x, digits: int = 2) -> str:
    return "n/a" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))


def model_card(src: ExportSource, fmt: str, extra: dict | None = None) -> str:
    """A README for the export: provenance, recipe and the doctor's evidence."""
    m, c, d = src.manifest, src.config, src.doctor
    base = m.get("base_model") or {}
    data = m.get("dataset") or {}
    metrics = m.get("metrics") or {}
    recipe = {k: c.get(k) for k in ("epochs", "batch_size", "grad_accum", "lr", "lora_r", "lora_alpha", "lora_dropout",
                                    "target_modules", "max_seq_len", "mix_general", "seed") if k in c}
    lines = [
        f"# {src.name} ({fmt})", "",
        f"A LoRA fine-tune of `{c.get('model') or base.get('spec')}` exported by LoRA Studio.", "",
        "## Provenance", "",
        f"- base model: `{base.get('spec')}` ({base.get('kind')}), content hash `{base.get('content_hash', 'n/a')}`",
        f"- data: `{data.get('path')}`, sha256 `{data.get('sha256')}`, {data.get('records')} records ({data.get('format')})",
        f"- chat template sha256: `{m.get('chat_template_sha256')}`",
        f"- trained: {m.get('created')}, {metrics.get('steps')} steps, loss {_fmt(metrics.get('first_loss'), 4)} → "
        f"{_fmt(metrics.get('last_loss'), 4)}, eval loss {_fmt(metrics.get('eval_loss'), 4)}",
        "", "## Recipe", "", "```json", json.dumps(recipe, indent=2, ensure_ascii=False), "```", "",
        "## The doctor's verdict", "",
    ]
    if d:
        lines.append(f"- verdict: **{d.get('verdict')}**")
        if (d.get("effect") or {}).get("three"):
            lines += three_lines(d["effect"])
    else:
        lines.append("- not run (no doctor.json in the run folder)")
    if extra:
        lines += ["", "## Export check", "", "```json", json.dumps(extra, indent=2, ensure_ascii=False), "```"]
    return "\n".join(lines) + "\n"
