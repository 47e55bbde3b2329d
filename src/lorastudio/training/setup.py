"""Everything before step 1: read the data, load the tokenizer and model, apply LoRA, plan, check.

`plan_run(..., load_weights=False)` builds the model on the meta device (no weights read), so
`lorastudio plan` is fast even for a 7B model; training calls it with the real weights.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import TrainConfig
from ..data.formatting import chat_template_text
from ..data.heldout import HeldOut
from ..data.prepare import Prepared, check_tool_support, load_general, prepare, tokenize_all
from ..data.readers import load_dataset
from ..data.records import Dataset
from ..diagnosis.findings import Finding
from ..diagnosis.preflight import check_memory, data_findings, preflight, source_findings, target_modules_missing
from ..diagnosis.thresholds import Thresholds
from ..errors import ConfigError, ModelError, ProblemList
from ..models import (
    DevicePlan, ModelSource, apply_lora, count_parameters, linear_module_names, load_tokenizer,
    pick_device, resolve_model, resolve_target_modules,
)
from ..memory import MemoryPlan
from ..plan import Plan, estimate_seconds, make_plan
from ..recipes import AutoValue, DataShape, probes_have_facts, resolve
from .hardware import load_base, plan_memory


@dataclass
class RunSetup:
    config: TrainConfig  # as trained: the options given, and the recipe's for those left out
    source: ModelSource
    tokenizer: object
    dataset: Dataset
    prepared: Prepared
    plan: Plan
    findings: list[Finding]
    device: DevicePlan
    model: object = None  # the PEFT model; None for a plan-only setup
    auto: dict[str, AutoValue] = field(default_factory=dict)  # option → the recipe's value and why
    heldout: list[HeldOut] = field(default_factory=list)  # automatic held-out prompts (no --probes)
    expansion: object = None  # data.expand.Expansion when --expand-to grew the data
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


def context_length(model_config) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(model_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def with_template(tokenizer, config: TrainConfig):
    """The tokenizer with --chat-template's template (a copy: the web studio shares tokenizers)."""
    if not config.chat_template:
        return tokenizer
    text = chat_template_text(config.chat_template)
    tok = copy.copy(tokenizer)
    tok.chat_template = text
    return tok


def _read_data(config: TrainConfig) -> tuple[Dataset, object]:
    """The training data, grown to --expand-to samples first when asked (in memory)."""
    if not config.expand_to:
        return load_dataset(config.data, config.vars), None
    from ..data.expand import ExpandOptions, grow_dataset
    from ..data.heldout import DEFAULT_REWORDED

    holdout = 0 if config.probes or config.holdout == 0 else (config.holdout or DEFAULT_REWORDED)
    grown = grow_dataset(config.data, ExpandOptions(target=config.expand_to, holdout=holdout, seed=config.seed))
    return expansion_dataset(grown, config.data, config.vars), grown


def expansion_dataset(grown, source: str, variables: dict[str, str] | None = None) -> Dataset:
    """A grown dataset as a Dataset, hashed by the bytes it is written as; its {{placeholders}}
    filled from `variables` and the unfilled ones warned about, as when the file is read."""
    from ..data.conversations import Notes, to_sample
    from ..data.expand import record

    records = [record(c) for c in grown.samples]
    problems = ProblemList(f"{source} (expanded)")
    notes = Notes(variables)
    samples = [to_sample(r, i, "alpaca", problems, notes) for i, r in enumerate(records)]
    problems.raise_if_any("the expanded data is broken; report this")
    raw = expansion_bytes(records)
    return Dataset(path=f"{source} (expanded to {len(records)})", format="alpaca", samples=samples,
                   sha256=hashlib.sha256(raw).hexdigest(), placeholders=notes.placeholders,
                   warnings=sorted(notes.warnings.values(), key=lambda w: (w.code, -w.count)))


def expansion_bytes(records: list[dict]) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


def _heldout(config: TrainConfig, dataset: Dataset, prepared: Prepared, expansion) -> list[HeldOut]:
    from ..data.heldout import DEFAULT_REWORDED, HeldOut, make_heldout

    if config.probes or config.holdout == 0:
        return []
    if expansion is not None:  # the expander's own probes: far rewordings with the facts to check
        answers = {c.source: c.output for c in expansion.samples if c.origin == "seed"}
        return [HeldOut(p.prompt, answers.get(p.source_index, ""), "reworded", p.source_index, None, list(p.expect_any))
                for p in expansion.probes]
    trained = {t.index for t in prepared.task}
    held = {t.index for t in prepared.eval} if prepared.eval_source == "split" else set()
    return make_heldout(dataset, trained, held, config.holdout or DEFAULT_REWORDED, config.seed)


def _check_context(config: TrainConfig, context: int | None) -> None:
    if context and config.max_seq_len > context:
        raise ConfigError(f"--max-seq-len {config.max_seq_len} is longer than the model's context of {context} tokens "
                          "(max_position_embeddings): positions past it were never trained",
                          fix=f"use --max-seq-len {context} or less", option="--max-seq-len")


def plan_run(
    config: TrainConfig,
    world_size: int = 1,
    load_weights: bool = True,
    thresholds: Thresholds | None = None,
    tokenizer=None,
) -> RunSetup:
    """`tokenizer`: one already loaded for `config.model` (the web studio caches it across plans).
    Options left out are filled from the recipe (recipes.resolve) before anything is planned."""
    if config.probes and not Path(config.probes).is_file():  # found now, not by the doctor after training
        raise ConfigError(f"probes file not found: {config.probes}", fix="check the --probes path", option="--probes")
    source = resolve_model(config.model)
    tokenizer = load_tokenizer(source, config.trust_remote_code) if tokenizer is None else tokenizer
    tokenizer = with_template(tokenizer, config)
    dataset, expansion = _read_data(config)
    eval_ds = load_dataset(config.eval_data, config.vars) if config.eval_data else None
    general = load_general(config.general_data)
    check_tool_support(dataset, tokenizer)
    full = tokenize_all(dataset, tokenizer, None)

    base = _meta_model(source, config.trust_remote_code)
    n_base = sum(p.numel() for p in base.parameters())
    context = context_length(base.config)
    device = pick_device(config.dtype, config.threads, n_base)
    general_tokens = [t.n_tokens for t in tokenize_all(general, tokenizer, None)]
    shape = DataShape([t.full_tokens for t in full], general_tokens, n_base, context,
                      probes_have_facts(config.probes) or bool(expansion and any(p.expect_any for p in expansion.probes)),
                      device.device, world_size)
    config, auto = resolve(config, shape, heldout_given=bool(config.probes or config.eval_data))
    _check_context(config, context)
    prepared = prepare(dataset, tokenizer, config, eval_ds, general if config.mix_general else None, full)
    heldout = _heldout(config, dataset, prepared, expansion)

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
    plan = _make_plan(config, prepared, heldout, world_size, context, targets, available, trainable, total)
    planned_on = memory.breakdown.device if memory is not None else device.device  # --gpu-memory: a GPU's time
    plan.estimated_seconds = round(estimate_seconds(plan, planned_on, n_base), 1)
    findings = (preflight(plan, thresholds) + check_memory(memory) + source_findings(source) + findings
                + data_findings(dataset))
    return RunSetup(config, source, tokenizer, dataset, prepared, plan, findings, device,
                    model if load_weights else None, auto, heldout, expansion, memory=memory)


def _make_plan(config: TrainConfig, prepared: Prepared, heldout: list[HeldOut], world_size: int, context: int | None,
               targets: list[str], available: list[str], trainable: int, total: int) -> Plan:
    """The plan's arithmetic from the prepared data and the adapter applied."""
    return make_plan(
        config,
        n_records=prepared.n_records,
        lengths=[t.n_tokens for t in prepared.train],
        trainable=[t.n_trainable for t in prepared.train],
        n_eval=len(prepared.eval),
        world_size=world_size,
        max_full_tokens=max(prepared.full_lengths, default=0),
        context_length=context,
        dropped_no_labels=len(prepared.dropped_no_labels),
        masked=len(prepared.masked),
        truncated=len(prepared.truncated),
        response_truncated=len(prepared.response_truncated),
        dropped_too_long=len(prepared.dropped_too_long),
        dropped_duplicates=prepared.dropped_duplicates,
        long_samples=config.long_samples,
        no_end_of_turn=prepared.no_end_of_turn,
        duplicates=len(prepared.duplicates),
        eval_source=prepared.eval_source,
        n_general=prepared.n_general,
        has_probes=bool(config.probes or heldout),
        heldout=dict(Counter(h.kind for h in heldout)),
        target_modules=targets,
        available_modules=available,
        trainable_params=trainable,
        total_params=total,
    )


MAX_FIX_ROUNDS = 6


def plan_with_fixes(config: TrainConfig, world_size: int = 1, thresholds: Thresholds | None = None,
                    tokenizer=None) -> tuple[TrainConfig, list[dict]]:
    """The config with the fixes of the plan's error and warning findings applied, one finding
    at a time (errors first, in the plan's order) and planned again after each: one fix often
    settles another (grown data needs no more epochs), and two applied together could overshoot.
    Weights are not loaded. Returns the config and what was applied, in order."""
    applied: list[dict] = []
    for _ in range(MAX_FIX_ROUNDS):
        setup = plan_run(config, world_size, load_weights=False, thresholds=thresholds, tokenizer=tokenizer)
        fixes = sorted((f for f in setup.findings if f.apply and f.severity != "info"), key=lambda f: f.severity != "error")
        fix = next((f for f in fixes if any(getattr(config, k) != v or not config.given(k) for k, v in f.apply.items())), None)
        if fix is None:
            break
        applied.append({"code": fix.code, "apply": fix.apply})
        config = TrainConfig.model_validate({**config.model_dump(exclude_unset=True), **fix.apply})
    return config, applied
