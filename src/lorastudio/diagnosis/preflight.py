"""Checks on the plan, before step 1. Each finding carries a fix computed from the numbers."""

from __future__ import annotations

import math

from ..plan import Plan, steps_per_epoch
from .findings import Finding
from .thresholds import Thresholds


def _epochs_for(target_steps: int, spe: int) -> int:
    return math.ceil(target_steps / max(spe, 1))


def check_samples(plan: Plan, t: Thresholds) -> list[Finding]:
    n = plan.n_train
    if n >= t.min_samples_warn:
        return []
    severity = "error" if n < t.min_samples_error else "warning"
    target = max(t.min_samples_warn, 150)
    return [Finding(
        "TOO_FEW_SAMPLES", severity,
        f"{n} training samples: too few for the adapter to generalise beyond the exact prompts",
        {"samples": n, "recommended_min": t.min_samples_warn},
        f"grow the data to {target}+ varied samples: `lorastudio data expand DATA -o more.json --target {target}`, "
        "and keep paraphrased questions out of training as probes (--holdout)",
    )]


def check_steps(plan: Plan, t: Thresholds) -> list[Finding]:
    total, spe = plan.total_steps, plan.steps_per_epoch
    if total >= t.min_steps_warn:
        return []
    severity = "error" if total < t.min_steps_error else "warning"
    goal = t.min_steps_warn
    epochs = _epochs_for(goal, spe)
    fix = f"{plan.n_train} samples at effective batch {plan.effective_batch} give {spe} step(s) per epoch; " \
          f"raise --epochs to {epochs} to reach {epochs * spe} steps"
    if plan.effective_batch > 4 and plan.n_train:
        spe4 = steps_per_epoch(plan.n_train, 2, 2, plan.world_size)
        e4 = _epochs_for(goal, spe4)
        fix += f", or use --batch-size 2 --grad-accum 2 ({spe4} steps per epoch; {e4} epochs give {e4 * spe4})"
    return [Finding(
        "TOO_FEW_STEPS", severity,
        f"only {total} optimizer steps: LoRA's B starts at zero and will barely move",
        {"total_steps": total, "steps_per_epoch": spe, "epochs": plan.epochs,
         "effective_batch": plan.effective_batch, "samples": plan.n_train, "recommended_min": goal},
        fix,
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
        f"use --warmup-steps {suggested} (5% of {total}) or --warmup-ratio 0.05",
    )]


def check_lr(plan: Plan, t: Thresholds) -> list[Finding]:
    scale = plan.lora_alpha / plan.lora_r
    scaled = plan.lr * scale
    ev = {"lr": plan.lr, "lora_alpha": plan.lora_alpha, "lora_r": plan.lora_r, "scaled_lr": scaled}
    good = 2e-4 / scale  # the middle of the usual range, in this run's alpha/r
    if scaled < t.scaled_lr_low:
        sev = "error" if plan.lr == 0 else "warning"
        return [Finding("LR_TOO_LOW", sev, f"learning rate {plan.lr:g} is too low for LoRA at alpha/r = {scale:g}",
                        ev, f"use --lr {good:.0e} (lr x alpha/r ≈ 2e-4)")]
    if scaled > t.scaled_lr_high:
        sev = "error" if scaled > t.scaled_lr_error else "warning"
        return [Finding("LR_TOO_HIGH", sev, f"learning rate {plan.lr:g} at alpha/r = {scale:g} risks a collapsing or diverging loss",
                        ev, f"use --lr {good:.0e} (lr x alpha/r ≈ 2e-4)")]
    return []


def check_labels(plan: Plan, t: Thresholds) -> list[Finding]:
    out = []
    if plan.dropped_no_labels:
        sev = "error" if plan.n_train == 0 else "warning"
        out.append(Finding(
            "LABELS_MASKED", sev,
            f"{plan.dropped_no_labels} of {plan.n_records} samples have no trainable token and are dropped",
            {"dropped": plan.dropped_no_labels, "records": plan.n_records, "max_seq_len": plan.max_seq_len,
             "label_coverage": round(plan.label_coverage, 4)},
            f"the answer starts after token {plan.max_seq_len} or is empty: raise --max-seq-len "
            f"(longest sample: {plan.max_tokens} tokens) or shorten the prompts/system message",
        ))
    if plan.response_truncated:
        share = plan.response_truncated / max(plan.n_records, 1)
        sev = "error" if share > t.truncated_error_share else "warning"
        out.append(Finding(
            "RESPONSES_TRUNCATED", sev,
            f"{plan.response_truncated} answers are cut by --max-seq-len {plan.max_seq_len}: the model learns to stop mid-answer",
            {"truncated_answers": plan.response_truncated, "share": round(share, 3),
             "max_seq_len": plan.max_seq_len, "longest_sample_tokens": plan.max_tokens},
            f"raise --max-seq-len to {plan.max_tokens} (the longest sample) or shorten those answers",
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
    if not plan.duplicates:
        return []
    share = plan.duplicates / max(plan.n_records, 1)
    return [Finding(
        "DUPLICATE_SAMPLES", "warning" if share > t.duplicate_warn_share else "info",
        f"{plan.duplicates} samples repeat an earlier one exactly",
        {"duplicates": plan.duplicates, "share": round(share, 3)},
        "remove repeats (`lorastudio data expand` de-duplicates) or vary them; repeats weight some answers without adding data",
    )]


def check_heldout(plan: Plan, t: Thresholds) -> list[Finding]:
    if plan.n_eval or plan.has_probes:
        return []
    return [Finding(
        "NO_HELDOUT", "warning",
        "no held-out data: the doctor can only test the adapter on prompts it was trained on",
        {"eval_samples": 0, "probes": 0},
        "add --probes FILE with reworded questions (or --eval-split 0.1) so generalisation is measured",
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
        f"use names the model has: {', '.join(available)} (or 'all-linear')",
    )
