"""What a checkpoint must agree with before a run resumes from it.

Every checkpoint's state.json records the settings that shape training (the data's hash, the
base model's, and the options below, as trained: after the recipe filled the ones left out).
`--resume` with other data or other options would continue a different run under the old
one's name, and a different LoRA rank cannot even load; so resume compares first and refuses,
naming each difference, before anything is written or loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import TrainConfig, flag_name
from ..errors import RunError
from ..models import fingerprint
from ..run_folder import CHECKPOINT_STATE as STATE
from ..run_folder import RunFolder

# Options that change what is trained or how: a resumed run must have the same.
SHAPING = ("max_seq_len", "long_samples", "drop_duplicates", "lora_r", "lora_alpha", "lora_dropout", "batch_size",
           "grad_accum", "epochs", "lr", "lr_scheduler", "warmup_steps", "warmup_ratio", "weight_decay",
           "max_grad_norm", "seed", "mix_general", "eval_split", "vars", "chat_template", "expand_to")


def settings(setup) -> dict:
    """The shaping settings of a planned run, as a checkpoint records them."""
    config: TrainConfig = setup.config
    out = {name: config.model_dump()[name] for name in SHAPING}
    out["target_modules"] = sorted(setup.plan.target_modules)
    out["data_sha256"] = setup.dataset.sha256
    out["model"] = setup.source.spec
    out["model_content_hash"] = fingerprint(setup.source).get("content_hash")
    out["world_size"] = setup.plan.world_size
    return out


def _label(name: str) -> str:
    return {"data_sha256": "--data (its content)", "model": "--model", "model_content_hash": "--model (its weights)",
            "world_size": "--nproc", "target_modules": "--target-modules"}.get(name, flag_name(name))


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text[:12] + "…" if isinstance(value, str) and len(value) == 64 else text  # a sha256


def differences(saved: dict, now: dict) -> list[str]:
    return [f"{_label(k)}: checkpoint {_shown(saved[k])}, now {_shown(now.get(k))}"
            for k in saved if k in now and saved[k] != now[k] and not (k == "model_content_hash" and None in (saved[k], now[k]))]


def check_resume(checkpoint: Path, setup) -> None:
    """Raise RunError naming every shaping setting that differs from the checkpoint's."""
    try:
        state = json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunError(f"checkpoint {checkpoint} is damaged: {e}", fix=f"delete {checkpoint} to resume from the one before it") from e
    saved = state.get("settings")
    if not saved:
        return  # written before checkpoints recorded their settings: nothing to compare
    diff = differences(saved, settings(setup))
    if diff:
        run_dir = RunFolder(checkpoint.parent.parent)
        raise RunError(
            f"--resume refused: {run_dir.path} was trained with other settings than these; resuming would mix two runs:\n  "
            + "\n  ".join(diff),
            fix=f"resume with the checkpoint's settings (they are in {run_dir.config_file}), "
                "or train into a new --output folder")
