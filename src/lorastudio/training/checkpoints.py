"""Checkpoints: adapter, optimizer and data position, written so a crash never leaves a
half-written one that looks complete. (No RNG state: the loop reseeds dropout every step.)

Everything is stored as safetensors or JSON: resuming never unpickles a file. A checkpoint is
written to `step-N.tmp/`, its `state.json` last, then renamed to `step-N/`; only folders with a
`state.json` count (`RunFolder.checkpoints` lists them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import RunError
from ..run_folder import CHECKPOINT_STATE as STATE
from ..run_folder import RunFolder


def _optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_files(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: Path, model, optimizer, state: dict, keep: int = 2) -> Path:
    folder = RunFolder(run_dir)
    root = folder.checkpoints_dir
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state['step']}"
    tmp = root / f"step-{state['step']}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(tmp / "adapter", safe_serialization=True)
    tensors, meta = _optimizer_to_files(optimizer)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp / STATE).write_text(json.dumps(state, indent=2), encoding="utf-8")  # last: marks it complete
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in folder.checkpoints()[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer) -> dict:
    """Restore adapter weights and optimizer in place; return the saved loop state."""
    from peft import set_peft_model_state_dict

    try:
        weights = load_file(str(path / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(model, weights)
        meta = json.loads((path / "optimizer.json").read_text(encoding="utf-8"))
        optimizer.load_state_dict(_optimizer_from_files(load_file(str(path / "optimizer.safetensors")), meta))
        return json.loads((path / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, RuntimeError) as e:  # RuntimeError: tensors of another shape
        raise RunError(f"checkpoint {path} is damaged: {e}", fix=f"delete {path} to resume from the one before it") from e
