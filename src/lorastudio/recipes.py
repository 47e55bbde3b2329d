"""Recommended settings from the data and the model: pure arithmetic, like plan.py.

What the numbers rest on (the persona runs of issue 8, SmolLM2-135M, 140-155 samples):
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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .plan import CPU_FP32_FLOPS, GPU_BF16_FLOPS, STEP_EFFICIENCY, steps_per_epoch

TARGET_STEPS_VOICE = 150  # 175 measured steps gave 20/20 voice; 150 leaves the doctor's 100-step floor well behind
TARGET_STEPS_FACTS = 250  # the 280-step all-linear run learned its training answers; 250 with replay mixed in
MAX_EPOCHS = 10  # past ~10 passes over a 150-sample set the eval loss rises (OVERFITTING)
MIX_GENERAL = 0.2  # 31 general answers per 155 persona answers: a sixth of the steps keep general ability
# lr x alpha/r by base-model size (parameters): (upper bound, scaled lr). Common LoRA recipes use
# lr 1e-4..3e-4 at alpha/r = 2 for 7B models; sub-billion models train well (and diverge later) at 2x that.
SCALED_LR = ((1e9, 4e-4), (1e10, 2e-4), (math.inf, 1e-4))


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


def scaled_lr_for(n_params: int) -> float:
    return next(lr for bound, lr in SCALED_LR if n_params < bound)


def recommend(x: RecipeInput) -> Recipe:
    reasons = []
    mix = max(x.mix_general, MIX_GENERAL)
    n_general = round(x.n_task * mix)
    n_train = x.n_task + n_general
    spe = steps_per_epoch(n_train, x.batch_size, x.grad_accum, x.world_size)
    target = TARGET_STEPS_FACTS if x.facts else TARGET_STEPS_VOICE
    epochs = min(MAX_EPOCHS, max(1, math.ceil(target / spe)))
    reasons.append(f"{n_train} samples ({x.n_task} task + {n_general} general) at effective batch {x.effective_batch} "
                   f"give {spe} steps per epoch; {epochs} epochs give {spe * epochs} ≥ {target} "
                   f"({'facts to learn' if x.facts else 'voice only'})" if spe * epochs >= target else
                   f"{n_train} samples give {spe} steps per epoch; {MAX_EPOCHS} epochs (the cap) give only "
                   f"{spe * epochs} < {target}: more samples would help more than more passes")
    scaled = scaled_lr_for(x.n_params)
    scale = x.lora_alpha / max(x.lora_r, 1)
    lr = float(f"{scaled / scale:.1e}")
    reasons.append(f"{x.n_params / 1e6:.0f}M parameters: lr x alpha/r ≈ {scaled:g}; alpha/r = {scale:g} → lr {lr:g}")
    if x.facts:
        targets = ["all-linear"]
        reasons.append("the probes carry facts (expect_any): adapt the MLP too (all-linear), where a model stores facts")
    else:
        targets = list(x.target_modules or [])  # empty: the model's attention projections (the default)
        reasons.append("voice only (no expect_any in the probes): the attention projections suffice")
    reasons.append(f"--mix-general {mix:g}: {n_general} general replay samples keep ordinary answers (retention)")
    tokens = (x.n_task * x.tokens_per_task_sample + n_general * x.tokens_per_general_sample) * epochs
    peak = GPU_BF16_FLOPS if x.device == "cuda" else CPU_FP32_FLOPS
    seconds = 4 * x.n_params * tokens / (peak * STEP_EFFICIENCY)
    return Recipe(epochs, lr, targets, mix, n_general, n_train, spe, spe * epochs, target,
                  round(seconds, 1), reasons)


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
