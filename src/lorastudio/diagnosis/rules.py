"""The doctor's rules: findings and the verdict from what was measured, as plain dicts and
numbers. Pure: no model is loaded here, so every rule can be tested on a dict (tests/test_rules.py).

    curve_findings   LOSS_DIVERGED, LOSS_NOT_DECREASING, OVERFITTING from the loss and eval curves
    effect_findings  ADAPTER_IS_IDENTITY, LOSS_DIVERGED, ADAPTER_NO_EFFECT from the weights, losses, KL
    after_findings   PROBES_LEAK (leak.py), ANSWERS_COLLAPSED and NO_STOP (answers.py), the serving
                     check (served.py)
    decide           the verdict, and the numbers and findings it rests on
"""

from __future__ import annotations

import math

from ..run_folder import with_train_defaults
from .answers import answer_findings
from .findings import CODES, Finding
from .leak import leak_finding
from .served import serving_findings
from .thresholds import GOOD_SCALED_LR, Thresholds

# error-level findings that decide not_learned; ANSWERS_COLLAPSED among them: the adapter changed the
# model, but one answer to every prompt is no use
NOT_LEARNED_CODES = ("ADAPTER_IS_IDENTITY", "ADAPTER_NO_EFFECT", "ADAPTER_NOT_APPLIED", "LOSS_DIVERGED", "ANSWERS_COLLAPSED")


class Findings:
    def __init__(self):
        self.items: list[Finding] = []
        self.stages: list[str] = []

    def add(self, finding: Finding, stage: str) -> None:
        if any(f.code == finding.code and f.title == finding.title for f in self.items):
            return  # the manifest repeats plan.json's findings
        self.items.append(finding)
        self.stages.append(stage)

    def get(self, code: str, severity: str | None = None) -> Finding | None:
        return next((f for f in self.items if f.code == code and (severity is None or f.severity == severity)), None)

    def remove(self, finding: Finding) -> None:
        i = self.items.index(finding)
        del self.items[i], self.stages[i]


def finding_from_dict(d: dict) -> Finding | None:
    if d.get("code") not in CODES:
        return None  # a code from a newer version: skipped, the rest of the report still reads
    return Finding(d["code"], d.get("severity", "warning"), d.get("title", ""), d.get("evidence") or {}, d.get("fix", ""),
                   d.get("apply"))


def curve_findings(found: Findings, curve: dict, plan: dict, config: dict, t: Thresholds) -> None:
    config = with_train_defaults(config)
    n, lr = curve["steps"], config["lr"]
    if curve["non_finite_steps"] and not found.get("LOSS_DIVERGED"):
        s = curve["non_finite_steps"][0]
        found.add(Finding("LOSS_DIVERGED", "error", f"the loss became NaN/inf at step {s}",
                          {"step": s, "non_finite_steps": len(curve["non_finite_steps"]), "lr": lr},
                          f"lower --lr (now {lr:g}) by 10x; check the data for empty or huge samples"), "after")
    if "first_window_mean" not in curve:
        return
    first, last, w = curve["first_window_mean"], curve["last_window_mean"], curve["window"]
    peak = curve.get("peak_after_first_window")
    if peak is not None and peak > t.diverge_factor * first and not found.get("LOSS_DIVERGED"):
        found.add(Finding("LOSS_DIVERGED", "error",
                          f"the loss rose to {peak:.3f} at step {curve['peak_step']}, {peak / first:.1f}x its start",
                          {"peak_loss": peak, "step": curve["peak_step"], "first_window_mean": first, "factor": t.diverge_factor},
                          f"lower --lr (now {lr:g}) by 5-10x"), "after")
    live = found.get("LOSS_NOT_DECREASING")
    if n >= 2 and last > first * (1 - t.min_loss_drop):
        scale = config["lora_alpha"] / max(config["lora_r"], 1)
        good = GOOD_SCALED_LR / scale
        fix = (f"raise --lr from {lr:g} to {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})" if lr * scale < GOOD_SCALED_LR / 2
               else f"check that the answers are trained (label coverage {plan.get('label_coverage', 'n/a')}) "
                    f"and train longer than {n} steps")
        if live:
            found.remove(live)  # the whole curve replaces the early look
        found.add(Finding("LOSS_NOT_DECREASING", "warning",
                          f"over all {n} steps the loss did not fall ({first:.3f} → {last:.3f}, mean of {w}-step windows)",
                          {"steps": n, "window": w, "first_window_mean": first, "last_window_mean": last,
                           "drop": curve["drop"], "min_drop": t.min_loss_drop, "lr": lr}, fix), "after")
    elif live:
        live.severity = "info"
        live.title += f"; it fell later ({first:.3f} → {last:.3f} over {n} steps)"
    if len(curve["eval"]) >= 2 and "best_eval" in curve:
        best, final = curve["best_eval"], curve["last_eval"]
        at_best = curve.get("train_at_best_eval", math.inf)
        if final > best * (1 + t.overfit_rise) and last < at_best:
            spe = max(plan.get("steps_per_epoch", 1), 1)
            epochs = math.ceil(curve["best_eval_step"] / spe)
            found.add(Finding(
                "OVERFITTING", "warning",
                f"eval loss rose from its best {best:.3f} (step {curve['best_eval_step']}) to {final:.3f} "
                f"while the training loss kept falling ({at_best:.3f} → {last:.3f})",
                {"best_eval": best, "best_eval_step": curve["best_eval_step"], "last_eval": final,
                 "last_eval_step": curve["last_eval_step"], "rise": final / best - 1, "max_rise": t.overfit_rise,
                 "train_at_best_eval": at_best, "train_last": last},
                f"stop near step {curve['best_eval_step']}: --epochs {epochs} ({spe} steps per epoch), or keep a checkpoint "
                f"there (--save-steps {curve['best_eval_step']}); more varied data or a lower --lr (now {lr:g}) delays it"), "after")


def effect_findings(found: Findings, effect: dict, plan: dict, config: dict, t: Thresholds) -> None:
    config = with_train_defaults(config)
    w, lr, steps = effect["weights"], config["lr"], effect["curve"]["steps"]
    scale = config["lora_alpha"] / max(config["lora_r"], 1)
    good = GOOD_SCALED_LR / scale
    identity = w["modules"] == 0 or w["zero_b_modules"] == w["modules"]
    if identity:
        if steps == 0:
            why = (f"no optimizer step ran ({plan.get('n_train', 0)} trainable samples): fix the findings above "
                   "(LABELS_MASKED, TOO_FEW_SAMPLES), then train again")
        elif effect["curve"].get("max_lr", lr) == 0:
            why = f"the learning rate was 0 for all {steps} steps: use --lr {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})"
        else:
            why = ("no gradient reached lora_B: check GRAD_NORM_ZERO above and that the targeted modules "
                   f"({', '.join(plan.get('target_modules') or []) or 'none'}) are on the loss path")
        if w["modules"] == 0:
            why = "the adapter file holds no LoRA weights (an empty save): re-save it with save_pretrained"
        found.add(Finding("ADAPTER_IS_IDENTITY", "error",
                          f"every lora_B of the {w['modules']} adapted modules is zero: the adapter is the identity",
                          {"modules": w["modules"], "zero_b_modules": w["zero_b_modules"], "b_norm_max": w["b_norm_max"],
                           "identity_b_norm": t.identity_b_norm, "steps": steps, "lr": lr, "file_bytes": w["file_bytes"]},
                          why), "after")
    if w["non_finite_modules"] and not found.get("LOSS_DIVERGED"):
        found.add(Finding("LOSS_DIVERGED", "error", f"{len(w['non_finite_modules'])} adapter modules hold NaN/inf weights",
                          {"modules": w["non_finite_modules"][:8], "lr": lr}, f"lower --lr (now {lr:g}) by 10x and train again"), "after")
    train = (effect.get("loss") or {}).get("train")
    if train and not found.get("LOSS_DIVERGED"):
        base, adapter = train["base"], train["adapter"]
        if not math.isfinite(adapter) or (math.isfinite(base) and adapter >= t.diverge_factor * base):
            found.add(Finding("LOSS_DIVERGED", "error",
                              f"with the adapter the training loss is {adapter:.3f}, "
                              f"{adapter / base if base and math.isfinite(adapter) else math.inf:.1f}x the base model's {base:.3f}: "
                              "training made the model worse",
                              {"base_train_loss": base, "adapter_train_loss": adapter, "factor": t.diverge_factor, "lr": lr,
                               "scaled_lr": lr * scale},
                              f"use --lr {good:.0e} (now {lr:g}; lr x alpha/r ≈ {GOOD_SCALED_LR:g})"), "after")
    kl = effect.get("kl")
    if not identity and kl and kl["mean"] < t.no_effect_kl:
        spe = max(plan.get("steps_per_epoch", 1), 1)
        needed = t.steps_needed(lr * scale)[0]
        epochs = math.ceil(needed / spe)
        todo = []
        if lr * scale < GOOD_SCALED_LR / 2:
            todo.append(f"raise the learning rate: --lr {good:.0e} (lr x alpha/r ≈ {GOOD_SCALED_LR:g})")
        if steps < needed:
            todo.append(f"train at least {needed} steps (--epochs {epochs} gives {epochs * spe})")
        if not todo:
            todo.append("adapt more of the model (--target-modules all-linear) or a higher --lora-r, and check that the "
                        "answers differ from what the base already says")
        found.add(Finding(
            "ADAPTER_NO_EFFECT", "error",
            f"the adapter barely changes the model: mean KL(base || adapter) {kl['mean']:.2e} nats on {kl['probes']} probes",
            {"kl_mean": kl["mean"], "no_effect_kl": t.no_effect_kl, "delta_rel_mean": w["delta_rel_mean"],
             "steps": steps, "lr": lr, "scaled_lr": lr * scale, "train_loss_drop": train["drop"] if train else None},
            f"{steps} steps at lr {lr:g} moved the weights by {w['delta_rel_mean'] or 0:.1e} of their norm: " + "; ".join(todo)),
            "after")


def after_findings(effect: dict, plan: dict, config: dict, manifest: dict, found: Findings, max_new_tokens: int,
                    t: Thresholds, server: str | None) -> list[Finding]:
    """The findings of leak.py, answers.py and served.py on what was measured."""
    out = [f for f in [leak_finding(effect["leaks"], t)] if f] if effect.get("leaks") else []
    out += answer_findings(effect, plan, config, max_new_tokens, t)
    if effect.get("serving"):
        identity = found.get("ADAPTER_IS_IDENTITY") is not None
        kl = (effect.get("kl") or {}).get("mean", 0.0)
        out += serving_findings(effect["serving"], effect.get("generations", []), manifest.get("chat_template_sha256"),
                                kl, identity, t, server)
    return out


def decide(found: Findings, effect: dict, t: Thresholds) -> tuple[str, list[dict]]:
    basis: list[dict] = []
    train = (effect.get("loss") or {}).get("train")
    drop = train["drop"] if train and math.isfinite(train["drop"]) else effect["curve"].get("drop")
    kl = (effect.get("kl") or {}).get("mean")
    markers = effect.get("markers")
    checks = [("train_loss_drop", drop, t.min_train_loss_drop, "adapter's training loss below the base's (relative)"),
              ("kl_mean", kl, t.no_effect_kl, "mean KL(base || adapter), nats per next token on the probes")]
    if markers and not markers.get("derived"):  # markers found by the doctor itself inform, they do not decide
        checks.append(("marker_gain", markers["gain"], t.min_marker_gain, "rise in the share of answers with a marker"))
    ok = {}
    for name, value, threshold, what in checks:
        ok[name] = value is not None and math.isfinite(value) and value >= threshold
        basis.append({"name": name, "value": value, "threshold": threshold, "ok": ok[name], "what": what})
    blocking = [c for c in NOT_LEARNED_CODES if found.get(c, "error")]
    low_drop = not ok["train_loss_drop"]
    for code in ("TOO_FEW_STEPS", "LOSS_NOT_DECREASING"):
        f = found.get(code)
        if f and f.severity != "info" and low_drop:
            blocking.append(code)
    for code in blocking:
        basis.append({"name": "finding", "code": code, "value": code, "threshold": None, "ok": False,
                      "what": found.get(code).title})
    if blocking:
        return "not_learned", basis
    if all(ok.values()) and not found.get("TEMPLATE_MISMATCH"):
        return "learned", basis
    if found.get("TEMPLATE_MISMATCH"):
        basis.append({"name": "finding", "code": "TEMPLATE_MISMATCH", "value": "TEMPLATE_MISMATCH", "threshold": None,
                      "ok": False, "what": found.get("TEMPLATE_MISMATCH").title})
    return "inconclusive", basis
