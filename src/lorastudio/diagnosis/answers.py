"""What the adapter's answers look like, whatever they say: collapsed, or never stopping.

    ANSWERS_COLLAPSED  (nearly) the same answer to every held-out prompt, while the base's answers
                       differ from prompt to prompt: the adapter changed the model but "only knows
                       one line". Near-identical: rapidfuzz `fuzz.ratio` of the normalised texts
                       (language.normalize: case, width and punctuation dropped) at or above
                       `collapse_ratio`. Measured per set of answers:
                         pair_share  share of answer pairs that are near-identical
                         top_share   share of answers near-identical to the most repeated one
                         distinct_3  distinct character 3-grams / all 3-grams over the answers
                       Error when pair_share reaches `collapse_pair_share`, warning when top_share
                       reaches `collapse_top_share`; in both cases only when the base's answers do
                       not (a base that says the same to everything cannot condition on the
                       prompt, and its adapter is no evidence of collapse). The fix follows from
                       the training answers: when they are one sentence too, the data is the
                       cause; when they vary, too strong training is.
    NO_STOP            the adapter's answers run to max_new_tokens on most probes while the
                       training answers end well before it: the end-of-turn token was never
                       trained, is not one generation stops at, or is not learned yet.

Pure functions on texts and counts; doctor.py measures, these decide.
"""

from __future__ import annotations

import math
from collections import Counter
from statistics import median

from rapidfuzz import fuzz, process

from ..data.language import normalize
from ..run_folder import with_train_defaults
from .findings import Finding
from .thresholds import GOOD_SCALED_LR, Thresholds

MIN_ANSWERS = 4  # two or three alike answers are chance; four alike where the base's differ are not
TRAIN_ANSWERS = 128  # training answers compared with each other (the pairs grow with the square)


def answer_spread(texts: list[str], ratio: float) -> dict:
    """How alike a set of answers is (see the module docstring). Empty answers count as alike."""
    n = len(texts)
    out = {"answers": n, "pair_share": 0.0, "top_share": 0.0, "top_count": 0, "top_answer": None, "distinct_3": None}
    if n == 0:
        return out
    norm = [normalize(t) for t in texts]
    sim = process.cdist(norm, norm, scorer=fuzz.ratio, workers=1) >= ratio  # (n, n), diagonal True
    if n > 1:
        out["pair_share"] = (int(sim.sum()) - n) / (n * (n - 1))
    counts = sim.sum(axis=1)
    top = int(counts.argmax())
    out.update(top_share=int(counts[top]) / n, top_count=int(counts[top]), top_answer=texts[top])
    grams = [t[i: i + 3] for t in norm for i in range(max(len(t) - 2, 0))]
    out["distinct_3"] = len(set(grams)) / len(grams) if grams else None
    return out


def _collapsed(s: dict | None, t: Thresholds) -> str | None:
    if not s or s["answers"] < MIN_ANSWERS:
        return None
    if s["pair_share"] >= t.collapse_pair_share:
        return "error"
    return "warning" if s["top_share"] >= t.collapse_top_share else None


def collapse_finding(spreads: dict, kl_mean: float | None, config: dict, plan: dict, t: Thresholds) -> Finding | None:
    """ANSWERS_COLLAPSED from the spreads of the adapter's, the base's and the training answers."""
    adapter, base, train = spreads.get("adapter"), spreads.get("base"), spreads.get("training")
    severity = _collapsed(adapter, t)
    if severity is None or _collapsed(base, t) is not None:
        return None
    n, k, line = adapter["answers"], adapter["top_count"], adapter["top_answer"]
    shown = line if len(line) <= 80 else line[:79] + "…"
    evidence = {
        "answers": n, "same_answer_count": k, "repeated_answer": line,
        "pair_share": adapter["pair_share"], "base_pair_share": base["pair_share"] if base else None,
        "distinct_3grams": adapter["distinct_3"], "base_distinct_3grams": base["distinct_3"] if base else None,
        "similarity_ratio": t.collapse_ratio, "max_pair_share": t.collapse_pair_share, "kl_mean": kl_mean,
        "training_pair_share": train["pair_share"] if train else None,
    }
    changed = f"; it changed the model (KL {kl_mean:.2g} nats) but is not useful" if kl_mean is not None else ""
    title = (f"{k} of {n} held-out prompts get (nearly) the same answer: \"{shown}\" "
             f"({100 * adapter['pair_share']:.0f}% of answer pairs alike, base {100 * (base or adapter)['pair_share']:.0f}%)"
             + (changed if severity == "error" else ""))
    drop = spreads.get("train_loss_drop")
    if drop is not None and drop < t.min_train_loss_drop:  # it repeats one string without having learned the data
        fix, apply = (f"the adapter has not learned the training answers (its training loss is only {100 * drop:.0f}% below "
                      "the base's) and repeats one string: fix what the other findings say kept it from learning, then "
                      "train again"), None
    else:
        fix, apply = _collapse_fix(train, config, plan, t)
    return Finding("ANSWERS_COLLAPSED", severity, title, evidence, fix, apply)


def _collapse_fix(train: dict | None, config: dict, plan: dict, t: Thresholds) -> tuple[str, dict | None]:
    if train and train["top_share"] >= t.collapse_top_share:
        shown = train["top_answer"] if len(train["top_answer"]) <= 60 else train["top_answer"][:59] + "…"
        return (f"the training answers are one sentence too: {train['top_count']} of the {train['answers']} compared are near-identical "
                f"to \"{shown}\". Vary the answers: give each question its own answer that says what was asked "
                "(keep the voice with recurring phrases, not a fixed line), or grow the data with answer variants "
                "(`lorastudio data expand FILE -o OUT --method model` rewrites them; the template method only adds "
                "openers and closers)", None)
    config = with_train_defaults(config)
    lr, epochs = config["lr"], config["epochs"]
    scale = config["lora_alpha"] / max(config["lora_r"], 1)
    share = f"{100 * train['pair_share']:.0f}% of training answer pairs alike" if train else "the training answers vary"
    why = f"the training answers vary ({share}) but the adapter answers with one: it was trained too hard on too little; "
    if lr * scale > 1.5 * GOOD_SCALED_LR:  # far above the usual range: the learning rate is the cause
        new_lr = float(f"{GOOD_SCALED_LR / scale:.2g}")
        return why + f"use --lr {new_lr:g} (now {lr:g}; lr x alpha/r ≈ {GOOD_SCALED_LR:g})", {"lr": new_lr}
    # in range: a third of it, and fewer passes while keeping the steps LoRA needs
    new_lr = float(f"{lr / 3:.2g}")
    spe = max(plan.get("steps_per_epoch", 1), 1)
    new_epochs = max(math.ceil(t.steps_needed(new_lr * scale)[0] / spe), epochs // 2)
    todo, apply = [f"lower --lr from {lr:g} to {new_lr:g}"], {"lr": new_lr}
    if new_epochs < epochs:
        todo.append(f"fewer passes: --epochs {new_epochs} (now {epochs}, {spe} steps per epoch)")
        apply["epochs"] = new_epochs
    return why + "; ".join(todo), apply


# ---------------------------------------------------------------- stopping


def no_stop_finding(rows: list[dict], lengths: dict | None, max_new_tokens: int, end: dict, plan: dict,
                    config: dict, t: Thresholds) -> Finding | None:
    """NO_STOP from the rows' `adapter_stopped` flags and the training answers' lengths (`lengths`:
    {"answers", "median", "fit_share"}, end-of-turn token included). `end`: {"token",
    "stops_generation"} for the token training ends answers with (token None when none is)."""
    rows = [r for r in rows if "adapter_stopped" in r]
    if not rows or not lengths or not lengths["answers"]:
        return None
    ran_on = sum(not r["adapter_stopped"] for r in rows)
    fit = lengths["fit_share"]
    if ran_on / len(rows) < t.no_stop_share or fit < t.no_stop_train_fit:
        return None
    missing = plan.get("no_end_of_turn", 0)
    evidence = {"ran_to_limit": ran_on, "probes": len(rows), "base_ran_to_limit": sum(not r.get("base_stopped", True) for r in rows),
                "max_new_tokens": max_new_tokens, "training_answer_tokens_median": lengths["median"],
                "training_fit_share": fit, "end_token": end.get("token"), "end_stops_generation": end.get("stops_generation"),
                "answers_without_end_of_turn": missing}
    apply = None
    if missing or end.get("token") is None:
        fix = (f"the chat template ends {missing or 'the'} training answers without an end-of-turn token, so the model "
               "never saw where an answer stops: train with a template that closes the assistant turn (the model's own, "
               "or --chat-template qwen2.5 for ChatML models)")
    elif not end.get("stops_generation"):
        fix = (f"training ends answers with {end['token']!r}, which generation does not stop at: add its id to the "
               "model's eos_token_id (generation_config.json), or to the stop list where it is served")
    else:
        epochs = with_train_defaults(config)["epochs"]
        fix = (f"answers end with {end['token']!r} in training and generation stops at it, but the adapter has not "
               f"learned to emit it yet: train longer (--epochs {2 * epochs}, now {epochs})")
        apply = {"epochs": 2 * epochs}
    return Finding(
        "NO_STOP", "warning",
        f"{ran_on} of {len(rows)} answers run to the {max_new_tokens}-token limit, while "
        f"{100 * fit:.0f}% of the training answers end within {max_new_tokens // 2} tokens (median {lengths['median']:g})",
        evidence, fix, apply)


def last_answer_tokens(labels: list[int]) -> int:
    """Tokens of a sample's last trained run (its last answer, end-of-turn token included)."""
    from ..data.formatting import IGNORE_INDEX

    n = 0
    for x in reversed(labels):
        if x == IGNORE_INDEX:
            if n:
                break
            continue
        n += 1
    return n


def answer_shapes(rows: list[dict], data, ref, max_new_tokens: int, t: Thresholds) -> dict:
    """The spreads of the adapter's, the base's and (cut to the same token budget) the training
    answers, the training answers' lengths, and the token training ends answers with."""
    from .effect import spread
    from .voice import heads

    out = {"adapter": answer_spread([r["adapter"] for r in rows], t.collapse_ratio),
           "base": answer_spread([r["base"] for r in rows], t.collapse_ratio)}
    if data is None or not data[2].train:
        return out
    dataset, _, prepared = data
    samples = spread(prepared.train, TRAIN_ANSWERS)
    by_index = {s.index: s for s in dataset.samples}
    texts = heads(ref.tokenizer, [by_index[s.index].response for s in samples if s.index in by_index], max_new_tokens)
    out["training"] = answer_spread(texts, t.collapse_ratio)
    lengths = [last_answer_tokens(s.labels) for s in samples]
    out["training_lengths"] = {"answers": len(lengths), "median": median(lengths),
                               "fit_share": sum(n <= max_new_tokens / 2 for n in lengths) / len(lengths)}
    out["end"] = end_token_info(ref.tokenizer, samples, ref.end_ids())
    return out


def answer_findings(effect: dict, plan: dict, config: dict, max_new_tokens: int, t: Thresholds) -> list[Finding]:
    train = (effect.get("loss") or {}).get("train") or {}
    shapes = {**(effect.get("answers") or {}), "train_loss_drop": train.get("drop")}
    found = [collapse_finding(shapes, (effect.get("kl") or {}).get("mean"), config, plan, t),
             no_stop_finding(effect.get("generations") or [], shapes.get("training_lengths"), max_new_tokens,
                             shapes.get("end") or {}, plan, config, t)]
    return [f for f in found if f is not None]


def end_token_info(tokenizer, train_samples, end_ids: list[int]) -> dict:
    """The token training most often ends an answer with (the last trained label of each sample)
    and whether generation stops at it."""
    from ..data.formatting import IGNORE_INDEX

    last = Counter()
    for s in train_samples:
        labels = [x for x in s.labels if x != IGNORE_INDEX]
        if labels:
            last[labels[-1]] += 1
    if not last:
        return {"token": None, "stops_generation": None}
    token, _ = last.most_common(1)[0]
    if token not in end_ids and not _is_end_marker(tokenizer, token):
        return {"token": None, "stops_generation": None}  # answers end on ordinary text: no end token trained
    return {"token": tokenizer.convert_ids_to_tokens(token), "stops_generation": token in end_ids}


def _is_end_marker(tokenizer, token_id: int) -> bool:
    return token_id in set(getattr(tokenizer, "all_special_ids", []) or [])

