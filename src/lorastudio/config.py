"""The typed run configuration, saved as config.json next to every run's artifacts.

Field names are the CLI flags with '-' replaced by '_' (`--grad-accum` → `grad_accum`), so a
validation error can name the flag. Config files may also use other tools' key names
(`num_epochs`, `gradient_accumulation_steps`, `learning_rate`, `lora_rank`, `max_seq_length`;
KEY_ALIASES lists them all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import ConfigError

# Other tools' names for our fields, accepted in --config files as they are.
KEY_ALIASES = {
    "num_epochs": "epochs",
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "learning_rate": "lr",
    "lora_rank": "lora_r",
    "max_seq_length": "max_seq_len",
    "max_length": "max_seq_len",
    "cutoff_len": "max_seq_len",
    "lora_target": "target_modules",
    "output_dir": "output",
    "model_name_or_path": "model",
    "dataset": "data",
}


# Bounds that only refuse the absurd: a step count past any real run (1000 epochs of a million
# steps), and a seed torch.manual_seed can take (an int64).
MAX_STEPS = 10**9
MAX_SEED = 2**63 - 1
PATH_FIELDS = ("model", "data", "output", "eval_data", "probes", "general_data")
# Filled from the recommended recipe (recipes.py) when the user leaves them out and `auto` is on;
# the values below are then only what `--no-auto` trains with.
AUTO_FIELDS = ("epochs", "lr", "target_modules", "mix_general", "max_seq_len", "long_samples", "eval_split")


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)

    model: str = "smollm2-135m"
    data: str
    output: str
    # epochs x steps per epoch = total optimizer steps; see plan.py for the arithmetic.
    epochs: int = Field(3, ge=1, le=1000)
    batch_size: int = Field(2, ge=1, le=4096)  # samples per micro-batch per process
    grad_accum: int = Field(2, ge=1, le=4096)  # micro-batches per optimizer step
    lr: float = Field(1e-4, ge=0, le=1.0)  # 0 is allowed so the doctor can explain it
    warmup_steps: int | None = Field(None, ge=0, le=MAX_STEPS)  # overrides warmup_ratio when set
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = Field(0.0, ge=0, le=1)
    max_grad_norm: float = Field(1.0, ge=0, le=1e6)  # 0: no clipping
    max_seq_len: int = Field(512, ge=8, le=131072)
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: float = Field(32, gt=0, le=100000)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: the attention projections the model has
    eval_data: str | None = None
    eval_split: float = Field(0.0, ge=0, lt=1)  # share of the data held out for eval loss
    eval_steps: int = Field(0, ge=0, le=MAX_STEPS)  # 0: evaluate at the end of each epoch
    probes: str | None = None  # held-out prompts for the doctor
    # General replay: mix_general general samples per task sample into training (0.2 with 155
    # persona samples adds 31), drawn by seed from general_data (None: the bundled
    # examples/general_replay.json), so the adapter keeps answering ordinary questions.
    mix_general: float = Field(0.0, ge=0, le=1)
    general_data: str | None = None
    markers: list[str] | None = None  # style markers the doctor counts in answers
    seed: int = Field(42, ge=0, le=MAX_SEED)
    save_steps: int = Field(0, ge=0, le=MAX_STEPS)  # 0: a checkpoint at the end of each epoch
    keep_checkpoints: int = Field(2, ge=1, le=MAX_STEPS)
    threads: int | None = Field(None, ge=1, le=1024)
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    trust_remote_code: bool = False
    init_identity: bool = True  # LoRA B starts at zero; tests set False
    doctor: bool = True  # run the doctor after training
    # Options left out take the recommended recipe for this data and model (AUTO_FIELDS);
    # False keeps the fixed defaults above.
    auto: bool = True
    # Samples longer than max_seq_len: cut (the cut is counted) or left out of training.
    long_samples: Literal["truncate", "drop"] = "truncate"
    drop_duplicates: bool = False  # leave exact repeats of a conversation out
    # {{name}} placeholders in the data (an identity set's {{name}}, {{author}}) → their values.
    vars: dict[str, str] = Field(default_factory=dict)
    # A chat template to train (and later serve) with instead of the tokenizer's own: a .jinja
    # file or a bundled name (`qwen2.5`, which renders tool calls).
    chat_template: str | None = None
    # Held-out prompts made automatically when no --probes are given: reworded training
    # questions (None: up to 16; 0: none).
    holdout: int | None = Field(None, ge=0, le=256)
    # Grow the data to this many samples with reworded questions before training (data expand).
    expand_to: int | None = Field(None, ge=1, le=100_000)
    # GPU memory (memory.py). quantize: the frozen base in 4-bit NF4 (QLoRA) or 8-bit, through
    # bitsandbytes. gradient_checkpointing None: on when the memory plan says the run needs it.
    # gpu_memory: plan for a GPU of this size ("24GB"; default: the detected GPU's free memory).
    # fsdp: shard the base weights over --nproc GPUs (for a model that does not fit one).
    quantize: Literal["none", "4bit", "8bit"] = "none"
    gradient_checkpointing: bool | None = None
    gpu_memory: str | None = None
    fsdp: bool = False

    @field_validator("target_modules", "markers", mode="before")
    @classmethod
    def _split_commas(cls, v):
        return split_list(v) if isinstance(v, str) else (v or None)

    @field_validator(*PATH_FIELDS)
    @classmethod
    def _a_real_path(cls, v):
        if isinstance(v, str) and not v.strip():
            raise ValueError("is empty; give a file or folder (or leave the option out)")
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("contains a NUL byte, which no file name can hold")
        return v

    @field_validator("vars", mode="before")
    @classmethod
    def _name_value_pairs(cls, v):
        """--var name=VALUE (repeated), a list of such strings, or a mapping."""
        if isinstance(v, str):
            v = [v]
        if isinstance(v, (list, tuple)):
            out = {}
            for item in v:
                name, sep, value = str(item).partition("=")
                if not sep or not name.strip():
                    raise ValueError(f"{item!r} is not NAME=VALUE; write e.g. --var name=小助手")
                out[name.strip()] = value
            return out
        return v

    @field_validator("general_data")
    @classmethod
    def _general_data_needs_a_share(cls, v, info: ValidationInfo):
        if v and not info.data.get("mix_general"):
            raise ValueError("is only read with --mix-general RATIO > 0; add e.g. --mix-general 0.2")
        return v

    @field_validator("gpu_memory")
    @classmethod
    def _a_size(cls, v):
        if v is not None:
            parse_size(v)  # raises ValueError with the accepted forms
        return v

    @property
    def gpu_memory_bytes(self) -> int | None:
        return parse_size(self.gpu_memory) if self.gpu_memory is not None else None

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")

    def given(self, field: str) -> bool:
        """Whether the user set this option (a flag, a config file key, a keyword)."""
        return field in self.model_fields_set


def saved_config(values: dict) -> TrainConfig:
    """A config read back from a run folder: keys this version does not know are dropped, so a
    folder written by a newer version stays readable. Every value counts as given."""
    known = {k: v for k, v in values.items() if k in TrainConfig.model_fields}
    return TrainConfig.model_validate(known)


def split_list(value) -> list[str] | None:
    """"a, b,,c" or ["a", " b", ""] → ["a", "b", "c"]; nothing left → None. Every comma-separated
    option (markers, target modules) is read by this one rule."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return [str(x).strip() for x in items if x is not None and str(x).strip()] or None


FLAGS = {"vars": "--var", "auto": "--no-auto"}  # fields whose flag is not their name


SIZE_UNITS = {"": 1024**3, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
              "t": 1024**4, "tb": 1024**4, "tib": 1024**4}


def parse_size(text: str | int | float) -> int:
    """'24GB' → bytes. GPU memory is sold in GiB under the name GB (an "8 GB" card has 8 GiB),
    so GB and GiB both mean 2^30 bytes here; a bare number is GB."""
    raw = str(text).strip().lower().replace(" ", "")
    number = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in SIZE_UNITS or not (0 < value < 1e6) or value != value or value * SIZE_UNITS[unit] < 2**20:
        raise ValueError("is not a memory size; write it like 24GB, 8GiB or 11000MB")
    return int(value * SIZE_UNITS[unit])


def flag_name(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def _describe(errors: list[dict]) -> str:
    parts = []
    for e in errors:
        field = ".".join(str(x) for x in e["loc"]) or "config"
        value = e.get("input")
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown option '{field}'")
        elif e["type"] == "missing":
            parts.append(f"{flag_name(field)} is required")
        else:
            shown = repr(value[0] if field == "vars" and isinstance(value, list) and len(value) == 1 else value)
            shown = shown if len(shown) <= 80 else f"{shown[:60]}... ({len(shown):,} characters)"
            parts.append(f"{flag_name(field)}={shown}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def make_config(**values) -> TrainConfig:
    """Build a validated config; every bad field is reported at once, by its flag name."""
    values = {k: v for k, v in values.items() if v is not None}
    try:
        return TrainConfig(**values)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]["loc"][0] if errors and errors[0]["loc"] else None
        raise ConfigError(
            f"invalid training options: {_describe(errors)}",
            fix="see `lorastudio train --help` for each option's range",
            option=flag_name(str(first)) if first else None,
        ) from None


def build_config(config_file: str | Path | None = None, **options) -> TrainConfig:
    """Options from a --config file, overridden by explicit keyword options (None = not given)."""
    values = read_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in options.items() if v is not None})
    return make_config(**values)


def read_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config, mapping other tools' key names onto ours."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}", fix="check the --config path", option="--config")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p} could not be read: {e}", fix="save it as UTF-8 text you can read (JSON or YAML)",
                          option="--config") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as e:  # json and yaml raise different types; both are the user's file
        raise ConfigError(f"{p} could not be parsed: {e}", fix="fix the syntax (JSON or YAML)", option="--config") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p} must hold a mapping of option names to values", option="--config",
                          fix="write one option per key, e.g. {\"epochs\": 5, \"lr\": 1e-4}")
    out = {}
    for key, value in raw.items():
        key = str(key)  # YAML allows numbers and other scalars as keys
        name = KEY_ALIASES.get(key, key).replace("-", "_")
        if name not in TrainConfig.model_fields:
            known = ", ".join(sorted(TrainConfig.model_fields))
            raise ConfigError(f"{p}: unknown key '{key}'", fix=f"known keys: {known}", option="--config")
        out[name] = value
    return out
