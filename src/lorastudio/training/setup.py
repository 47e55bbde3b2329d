"""Everything before step 1: read the data, load the tokenizer and model, apply LoRA, plan, check.

`plan_run(..., load_weights=False)` builds the model on the meta device (no weights read), so
`lorastudio plan` is fast even for a 7B model; training calls it with the real weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import TrainConfig
from ..data.prepare import Prepared, load_general, prepare
from ..data.readers import load_dataset
from ..data.records import Dataset
from ..diagnosis.findings import Finding
from ..diagnosis.preflight import check_memory, preflight, source_findings, target_modules_missing
from ..diagnosis.thresholds import Thresholds
from ..errors import ConfigError, ModelError
from ..models import (
    DevicePlan, ModelSource, apply_lora, count_parameters, linear_module_names, load_tokenizer,
    pick_device, resolve_model, resolve_target_modules,
)
from ..memory import MemoryPlan
from ..plan import Plan, estimate_seconds, make_plan
from .hardware import load_base, plan_memory


@dataclass
class RunSetup:
    config: TrainConfig
    source: ModelSource
    tokenizer: object
    dataset: Dataset
    prepared: Prepared
    plan: Plan
    findings: list[Finding]
    device: DevicePlan
    model: object = None  # the PEFT model; None for a plan-only setup
    extra: dict = field(default_factory=dict)
    memory: MemoryPlan | None = None  # peak memory per process (memory.py); None for an unknown layout


def _meta_model(source: ModelSource, trust_remote_code: bool):
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(source.path, trust_remote_code=trust_remote_code)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=trust_remote_code)
    model.tie_weights()  # so tied embeddings count once, as in the loaded model
    return model


def plan_run(
    config: TrainConfig,
    world_size: int = 1,
    load_weights: bool = True,
    thresholds: Thresholds | None = None,
    tokenizer=None,
) -> RunSetup:
    """`tokenizer`: one already loaded for `config.model` (the web studio caches it across plans)."""
    if config.probes and not Path(config.probes).is_file():  # found now, not by the doctor after training
        raise ConfigError(f"probes file not found: {config.probes}", fix="check the --probes path", option="--probes")
    source = resolve_model(config.model)
    tokenizer = load_tokenizer(source, config.trust_remote_code) if tokenizer is None else tokenizer
    dataset = load_dataset(config.data)
    eval_ds = load_dataset(config.eval_data) if config.eval_data else None
    general = load_general(config.general_data) if config.mix_general else None
    prepared = prepare(dataset, tokenizer, config.max_seq_len, config.eval_split, eval_ds, config.seed,
                       general, config.mix_general)

    base = _meta_model(source, config.trust_remote_code)
    n_base = sum(p.numel() for p in base.parameters())
    device = pick_device(config.dtype, config.threads, n_base)
    memory = plan_memory(config, base, prepared, device, world_size)  # from the meta model: no weights
    if load_weights:
        base = load_base(source, config, device, memory, world_size)
    findings: list[Finding] = []
    available = linear_module_names(base)
    try:
        targets = resolve_target_modules(base, config.target_modules)
    except ModelError:
        findings.append(target_modules_missing(config.target_modules or [], available))
        targets = []
    torch.manual_seed(config.seed)  # LoRA's A is random: the same seed gives the same adapter init
    model = apply_lora(base, config.lora_r, config.lora_alpha, config.lora_dropout, targets, config.init_identity) if targets else None
    trainable, total = count_parameters(model) if model is not None else (0, n_base)

    plan = make_plan(
        config,
        n_records=prepared.n_records,
        lengths=[t.n_tokens for t in prepared.train],
        trainable=[t.n_trainable for t in prepared.train],
        n_eval=len(prepared.eval),
        world_size=world_size,
        dropped_no_labels=len(prepared.dropped_no_labels),
        truncated=len(prepared.truncated),
        response_truncated=len(prepared.response_truncated),
        no_end_of_turn=prepared.no_end_of_turn,
        duplicates=len(prepared.duplicates),
        eval_source=prepared.eval_source,
        n_general=prepared.n_general,
        has_probes=bool(config.probes),
        target_modules=targets,
        available_modules=available,
        trainable_params=trainable,
        total_params=total,
    )
    planned_on = memory.breakdown.device if memory is not None else device.device  # --gpu-memory: a GPU's time
    plan.estimated_seconds = round(estimate_seconds(plan, planned_on, n_base), 1)
    findings = preflight(plan, thresholds) + check_memory(memory) + source_findings(source) + findings
    return RunSetup(config, source, tokenizer, dataset, prepared, plan, findings, device, model if load_weights else None,
                    memory=memory)
