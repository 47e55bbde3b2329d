"""Recommended settings from the data and the model: pure arithmetic, like plan.py.

What the numbers rest on (persona runs on SmolLM2-135M with 140-155 samples):
    voice   175 steps at lr 1e-4, r16/alpha32 on q,k,v,o gave the persona's markers on 20/20
            held-out prompts, but the right fact on 2/20 and general questions fell 4/5 → 2/5.
    facts   LoRA on every linear layer (the MLP holds most of a transformer's stored facts) at
            lr 2e-4 for 280 steps learned the trained answers and kept general questions at 4/5.
So the recipe:
    steps          at least TARGET_STEPS_VOICE, or TARGET_STEPS_FACTS when the probes carry facts
                   (`expect_any`), reached by epochs = ceil(target / steps per epoch), capped at
                   MAX_EPOCHS (more passes over a small set memorise it; grow the data instead)
    learning rate  lr x alpha/r (the factor that scales LoRA's update) at SCALED_LR by model size:
                   small models take larger steps before they diverge
    targets        all-linear (attention and MLP) when facts must be learned, else the attention
                   projections (the style lives there, and half the parameters train faster)
    replay         at least MIX_GENERAL general samples per task sample: replaying ordinary
                   answers keeps the persona from bleeding into every question
    time           plan.estimate_seconds on the recommended steps and tokens
and, from the data itself (`resolve`, which fills the options a user left out):
    max length     long enough for the longest sample when that is within 1.25x of the 99th
                   percentile, else the 99th percentile (outliers are left out, not cut
                   mid-answer), in steps of 64, capped by the model's context and MAX_AUTO_LEN
    held out       with HOLDOUT_MIN_SAMPLES+ samples and no probes or eval data: 5% of the
                   samples (8 to 32) kept out of training, for eval loss and held-out answers
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import TrainConfig
from .plan import CPU_FP32_FLOPS, GPU_BF16_FLOPS, STEP_EFFICIENCY, steps_per_epoch

TARGET_STEPS_VOICE = 150  # 175 measured steps gave 20/20 voice; 150 leaves the doctor's 100-step floor well behind
TARGET_STEPS_FACTS = 250  # the 280-step all-linear run learned its training answers; 250 with replay mixed in
MAX_EPOCHS = 10  # past ~10 passes over a 150-sample set the eval loss rises (OVERFITTING)
MIX_GENERAL = 0.2  # 31 general answers per 155 persona answers: a sixth of the steps keep general ability
# lr x alpha/r by base-model size (parameters): (upper bound, scaled lr). Common LoRA recipes use
# lr 1e-4..3e-4 at alpha/r = 2 for 7B models; sub-billion models train well (and diverge later) at 2x that.
SCALED_LR = ((1e9, 4e-4), (1e10, 2e-4), (math.inf, 1e-4))
# Memory budget for the automatic max length: a 4096-token sample of a 7B model at batch 2 is
# ~10 GB of activations in bf16; longer samples should be a deliberate --max-seq-len.
MAX_AUTO_LEN = 4096
LEN_STEP = 64
OUTLIER_FACTOR = 1.25
HOLDOUT_MIN_SAMPLES = 100  # below this, every sample is needed for training; reworded probes only
HOLDOUT_SHARE, HOLDOUT_RANGE = 0.05, (8, 32)


@dataclass
class RecipeInput:
    """What the recipe reads: counts from the plan and the run's current settings."""

    n_task: int  # task samples trained (without general replay)
    tokens_per_task_sample: float
    tokens_per_general_sample: float
    effective_batch: int
    world_size: int
    batch_size: int
    grad_accum: int
    n_params: int
    lora_r: int
    lora_alpha: float
    target_modules: list[str] | None
    mix_general: float
    facts: bool  # the probes carry facts (`expect_any`): knowledge must be learned, not only voice
    device: str = "cpu"
    keep_mix: bool = False  # mix_general was given: use it as it is


@dataclass
class Recipe:
    epochs: int
    lr: float
    target_modules: list[str]
    mix_general: float
    n_general: int
    n_train: int
    steps_per_epoch: int
    total_steps: int
    target_steps: int
    estimated_seconds: float
    reasons: list[str] = field(default_factory=list)

    def flags(self) -> str:
        targets = f" --target-modules {','.join(self.target_modules)}" if self.target_modules else ""
        return f"--epochs {self.epochs} --lr {self.lr:.0e}{targets} --mix-general {self.mix_general:g}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = self.flags()
        return d


def params(n: int) -> str:
    """5.0M, 135M, 1.5B: a parameter count as people write it."""
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e7 else f"{n / 1e6:.1f}M"


def scaled_lr_for(n_params: int) -> float:
    return next(lr for bound, lr in SCALED_LR if n_params < bound)


def recommend(x: RecipeInput) -> Recipe:
    reasons = []
    mix = x.mix_general if x.keep_mix else max(x.mix_general, MIX_GENERAL)
    n_general = round(x.n_task * mix)
    n_train = x.n_task + n_general
    spe = max(1, steps_per_epoch(n_train, x.batch_size, x.grad_accum, x.world_size))  # no samples: one empty step
    target = TARGET_STEPS_FACTS if x.facts else TARGET_STEPS_VOICE
    epochs = min(MAX_EPOCHS, max(1, math.ceil(target / spe)))
    reasons.append(f"{n_train} samples ({x.n_task} task + {n_general} general) at effective batch {x.effective_batch} "
                   f"give {spe} steps per epoch; {epochs} epochs give {spe * epochs} ≥ {target} "
                   f"({'the probes carry facts to learn' if x.facts else 'no facts to check in the probes'})" if spe * epochs >= target else
                   f"{n_train} samples give {spe} steps per epoch; {MAX_EPOCHS} epochs (the cap) give only "
                   f"{spe * epochs} < {target}: more samples would help more than more passes")
    scaled = scaled_lr_for(x.n_params)
    scale = x.lora_alpha / max(x.lora_r, 1)
    lr = float(f"{scaled / scale:.1e}")
    reasons.append(f"{params(x.n_params)} parameters: lr x alpha/r ≈ {scaled:g}; alpha/r = {scale:g} → lr {lr:g}")
    if x.target_modules:
        targets = list(x.target_modules)
        reasons.append(f"target modules as given: {', '.join(targets)}")
    else:
        targets = ["all-linear"]
        reasons.append("all-linear: attention and MLP (the MLP holds most of what a model knows; attention alone "
                       "learned a persona's voice but not its facts, and lost more general answers)")
    reasons.append(f"{n_general} general replay samples among {x.n_task} task samples keep ordinary answers (retention)"
                   if n_general else "no general replay")
    tokens = (x.n_task * x.tokens_per_task_sample + n_general * x.tokens_per_general_sample) * epochs
    peak = GPU_BF16_FLOPS if x.device == "cuda" else CPU_FP32_FLOPS
    seconds = 4 * x.n_params * tokens / (peak * STEP_EFFICIENCY)
    return Recipe(epochs, lr, targets, mix, n_general, n_train, spe, spe * epochs, target,
                  round(seconds, 1), reasons)


@dataclass
class DataShape:
    """What `resolve` reads from the data and the model, all known before any weight is loaded."""

    full_lengths: list[int]  # tokens of each task sample before any cut
    general_lengths: list[int]  # tokens of each general replay sample (bundled or --general-data)
    n_params: int
    context_length: int | None  # the model's max positions
    facts: bool  # the probes carry facts (expect_any)
    device: str = "cpu"
    world_size: int = 1


def _round_up(n: int, step: int = LEN_STEP) -> int:
    return -(-n // step) * step


def auto_max_len(lengths: list[int], context: int | None, what: str = "sample") -> tuple[int, str]:
    """(max_seq_len, why) from the samples' full lengths; see the module docstring."""
    ordered = sorted(lengths) or [0]
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    longest = ordered[-1]
    cap = min(MAX_AUTO_LEN, context or MAX_AUTO_LEN)
    if longest <= OUTLIER_FACTOR * p99:
        value, why = _round_up(longest), f"the longest {what} has {longest} tokens"
    else:
        value, why = _round_up(p99), f"99% of {what}s have ≤ {p99} tokens (the longest {longest} is an outlier)"
    if value > cap:
        limit = "the model's context" if context and context <= MAX_AUTO_LEN else f"the {MAX_AUTO_LEN}-token memory budget"
        value, why = cap, f"{why}, capped at {cap} ({limit})"
    return max(value, LEN_STEP), why


def auto_holdout(n_task: int) -> int:
    if n_task < HOLDOUT_MIN_SAMPLES:
        return 0
    low, high = HOLDOUT_RANGE
    return min(high, max(low, round(HOLDOUT_SHARE * n_task)))


@dataclass
class AutoValue:
    value: Any
    reason: str


def resolve(config: TrainConfig, shape: DataShape, heldout_given: bool) -> tuple[TrainConfig, dict[str, AutoValue]]:
    """The config with every option the user left out filled from the recipe, and each filled
    value's reason. Options given (flags, a config file, keywords) are never changed."""
    if not config.auto:
        return config, {}
    auto: dict[str, AutoValue] = {}
    values = config.model_dump()

    def take(name: str, value, reason: str) -> None:
        if not config.given(name):
            values[name] = value
            auto[name] = AutoValue(value, reason)

    lengths = shape.full_lengths
    replay = config.mix_general > 0 or not config.given("mix_general")
    if not config.given("max_seq_len"):  # room for the replay samples too: a cut one teaches stopping mid-answer
        length, why = auto_max_len(lengths + (shape.general_lengths if replay else []), shape.context_length,
                                   "sample (general replay included)" if replay else "sample")
        take("max_seq_len", length, why)
        longer = sum(1 for n in lengths if n > length)
        if longer:
            take("long_samples", "drop", f"the {longer} sample(s) longer than {length} tokens are left out, "
                                         "not cut mid-answer (a cut answer teaches the model to stop mid-sentence)")
    kept = sum(1 for n in lengths if n <= values["max_seq_len"]) if values["long_samples"] == "drop" else len(lengths)
    held = 0 if heldout_given or config.given("eval_split") else auto_holdout(kept)
    if held:
        take("eval_split", round(held / kept, 4), f"{held} of {kept} samples held out (never trained on) for eval loss "
                                                  "and held-out answers")
    n_task = kept - round(kept * values["eval_split"]) if values["eval_split"] else kept
    recipe = recommend(RecipeInput(
        n_task=n_task, tokens_per_task_sample=sum(lengths) / max(len(lengths), 1),
        tokens_per_general_sample=sum(shape.general_lengths) / max(len(shape.general_lengths), 1),
        effective_batch=config.batch_size * config.grad_accum * shape.world_size, world_size=shape.world_size,
        batch_size=config.batch_size, grad_accum=config.grad_accum, n_params=shape.n_params, lora_r=config.lora_r,
        lora_alpha=config.lora_alpha, target_modules=config.target_modules if config.given("target_modules") else None,
        mix_general=config.mix_general, keep_mix=config.given("mix_general"), facts=shape.facts, device=shape.device))
    take("mix_general", recipe.mix_general, recipe.reasons[3])
    take("epochs", recipe.epochs, recipe.reasons[0])
    take("lr", recipe.lr, recipe.reasons[1])
    take("target_modules", recipe.target_modules, recipe.reasons[2])
    return TrainConfig.model_validate({**values, "auto": True}), auto


def probes_have_facts(path) -> bool:
    """True when a probe file gives, for any prompt, the facts a right answer holds."""
    if not path:
        return False
    from .data.readers import read_records

    try:
        records = read_records(path)
    except Exception:  # an unreadable probe file is reported where it is used; here it just carries no facts
        return False
    return any(isinstance(r, dict) and r.get("expect_any") for r in records)


def recommend_for_setup(setup, probes: str | None = None) -> Recipe:
    """The recipe for a planned run (training.setup.RunSetup)."""
    from .data.prepare import load_general, tokenize_all

    plan, config = setup.plan, setup.config
    task = setup.prepared.train[: len(setup.prepared.train) - setup.prepared.n_general]
    general = tokenize_all(load_general(config.general_data), setup.tokenizer, config.max_seq_len)
    return recommend(RecipeInput(
        n_task=len(task),
        tokens_per_task_sample=sum(t.n_tokens for t in task) / max(len(task), 1),
        tokens_per_general_sample=sum(t.n_tokens for t in general) / max(len(general), 1),
        effective_batch=plan.effective_batch, world_size=plan.world_size, batch_size=plan.batch_size,
        grad_accum=plan.grad_accum, n_params=plan.total_params - plan.trainable_params, lora_r=config.lora_r,
        lora_alpha=config.lora_alpha, target_modules=config.target_modules, mix_general=config.mix_general,
        facts=probes_have_facts(probes or config.probes), device=setup.device.device,
    ))


def format_recipe(r: Recipe) -> str:
    lines = ["Recommended recipe", f"  {r.flags()}",
             f"  {r.total_steps} steps ({r.steps_per_epoch} per epoch x {r.epochs}), {r.n_train} samples "
             f"of which {r.n_general} general; estimated {_duration(r.estimated_seconds)}"]
    lines += [f"  - {why}" for why in r.reasons]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
