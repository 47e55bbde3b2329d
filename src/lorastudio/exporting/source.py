"""What an export reads from a finished run folder, and the models it loads from it.

    RUN/manifest.json   config (the base model as typed), chat template, base fingerprint, data hash
    RUN/adapter/        the PEFT adapter (safetensors)
    RUN/doctor.json     the doctor's verdict and numbers, when it ran
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError, RunError
from ..models import ModelSource, load_model, load_tokenizer, resolve_model
from ..models.sources import gguf_origin
from ..run_folder import ADAPTER_WEIGHTS, MANIFEST, RunFolder


@dataclass
class ExportSource:
    run_dir: Path
    manifest: dict
    doctor: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def adapter_dir(self) -> Path:
        return RunFolder(self.run_dir).adapter_dir

    @property
    def config(self) -> dict:
        return self.manifest.get("config") or {}

    @property
    def chat_template(self) -> str | None:
        return self.manifest.get("chat_template")

    @property
    def trust_remote_code(self) -> bool:
        return bool(self.config.get("trust_remote_code"))

    def base(self) -> ModelSource:
        return resolve_model(self.config.get("model"))

    def base_config(self, source: ModelSource):
        """The base's transformers config, read without its weights."""
        from transformers import AutoConfig

        try:
            return AutoConfig.from_pretrained(source.path, trust_remote_code=self.trust_remote_code)
        except (OSError, ValueError) as e:
            raise ModelError(f"could not read the config of the base model {source.spec!r}: {e}",
                             fix="the run's base model must be available here (see its manifest.json)") from e

    @staticmethod
    def base_gguf(source: ModelSource) -> Path | None:
        """The GGUF file the base was converted from, when it was (the embedded SmolLM2)."""
        return gguf_origin(source)


def open_run(run_dir: str | Path) -> ExportSource:
    folder = RunFolder(run_dir)
    run = folder.path
    if not run.is_dir():
        raise RunError(f"run folder not found: {run}", fix="pass the folder `lorastudio train --output` wrote")
    if not folder.manifest_file.is_file():
        raise RunError(f"{run} has no {MANIFEST}, so training did not finish there",
                       fix="export a finished run (train to the end, or --resume it)")
    if not folder.has_adapter():
        raise RunError(f"{folder.adapter_dir} has no {ADAPTER_WEIGHTS}", fix="export a finished run folder")
    manifest = folder.manifest(quiet=True)
    if not manifest:
        raise RunError(f"{folder.manifest_file} is not a JSON object", fix="export a run folder written by lorastudio train")
    return ExportSource(run, manifest, folder.doctor_report(quiet=True) or {})


def load_for_export(src: ExportSource, source: ModelSource):
    """(tokenizer with the training template, base model fp32 on CPU with the adapter on)."""
    import torch
    from peft import PeftModel

    tokenizer = load_tokenizer(source, src.trust_remote_code)
    if src.chat_template:
        tokenizer.chat_template = src.chat_template
    base = load_model(source, torch.float32, "cpu", src.trust_remote_code)
    try:
        model = PeftModel.from_pretrained(base, str(src.adapter_dir), is_trainable=False)
    except (ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"the adapter in {src.adapter_dir} does not fit the base model {source.spec!r}: {e}",
                         fix="the run's base model must be the one it was trained on (see its manifest.json)") from e
    return tokenizer, model.eval()
