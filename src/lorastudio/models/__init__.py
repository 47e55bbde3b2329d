"""Base models: where they come from and how they are loaded with LoRA applied."""

from .loading import (
    DevicePlan,
    apply_lora,
    count_parameters,
    decoder_layers,
    linear_module_names,
    logits_at,
    load_model,
    load_tokenizer,
    pick_device,
    resolve_target_modules,
)
from .sources import DEFAULT_MODEL, EMBEDDED, ModelSource, fingerprint, resolve_model, studio_home

__all__ = [
    "DEFAULT_MODEL", "EMBEDDED", "DevicePlan", "ModelSource", "apply_lora", "count_parameters", "decoder_layers", "fingerprint",
    "linear_module_names", "logits_at", "load_model", "load_tokenizer", "pick_device", "resolve_model",
    "resolve_target_modules", "studio_home",
]
