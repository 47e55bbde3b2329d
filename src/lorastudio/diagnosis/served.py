"""Is the adapter applied where it is served, with the run's template? Rules on the answers the
serving check collected (chatpath.py) and the doctor's own in-process answers; no model here.

Each served answer (asked under the adapter's name) is compared with the doctor's greedy answers
to the same prompt with the adapter off and on. Two texts "match" when rapidfuzz's ratio of their
whitespace-collapsed forms reaches `served_match_ratio` (a server in f16 or a quantised format can
flip a late token of a greedy answer). A probe whose in-process answers match each other cannot
tell base from adapter and only counts when log-probabilities can.

    ADAPTER_NOT_APPLIED  every served answer is the in-process base's (at least one probe where the
                         adapter changes the answer); or, where the path also serves the base, the
                         two served answers are the same text on every probe, with log-probabilities
                         equal within `same_logprob_tol` while the adapter measurably moves them
                         (KL >= no_effect_kl), or, without log-probabilities, where the adapter
                         changes the in-process answers.
    TEMPLATE_MISMATCH    a LoRA Studio server renders the adapter with another template than
                         training's (its template hash); or the served answers match neither of
                         the doctor's while the doctor's own answers under another template a
                         server might use (chatpath.template_candidates) match the served ones:
                         the served base's when the server serves the base, else the served
                         adapter's.
    NO_STOP              the served answers run to max_tokens (finish_reason "length") on most
                         probes where the in-process adapter stopped: the server's stop token is
                         not the one training ended answers with.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from .findings import Finding
from .thresholds import Thresholds


def match(a: str | None, b: str | None, t: Thresholds) -> bool:
    if a is None or b is None:
        return False
    a, b = " ".join(a.split()), " ".join(b.split())
    return a == b or fuzz.ratio(a, b) >= t.served_match_ratio


def settled(rows: list[dict], gens: list[dict], t: Thresholds, first: int) -> bool:
    """Whether the serving check can stop: at least `first` probes asked, and every served answer
    is the doctor's own adapter answer and not its base answer (so the adapter is applied), the
    served base answers (where asked) are the doctor's base answers, and none ran on where the
    doctor's stopped. Any other outcome asks the remaining probes, to describe the failure."""
    ours = {g["prompt"]: g for g in gens}
    if len(rows) < first:
        return False
    for row in rows:
        g = ours.get(row["prompt"])
        if g is None or not match(row["adapter"], g["adapter"], t) or match(row["adapter"], g["base"], t):
            return False
        if row.get("base") is not None and not match(row["base"], g["base"], t):
            return False
        if g.get("adapter_stopped") and row.get("adapter_finished") is False:
            return False
    return True


def compare(s: dict, gens: list[dict], t: Thresholds) -> dict:
    """Per-probe classification of the served answers against the in-process ones; stored as
    effect["serving"]["compared"]."""
    ours = {g["prompt"]: g for g in gens}
    out = {"as_adapter": 0, "as_base": 0, "neither": 0, "undecided": 0, "base_as_ours": 0, "base_compared": 0,
           "ran_on": 0, "ours_stopped": 0}
    for row in s["answers"]:
        g = ours.get(row["prompt"])
        if g is None:
            continue
        is_a, is_b = match(row["adapter"], g["adapter"], t), match(row["adapter"], g["base"], t)
        key = "undecided" if is_a and is_b else "as_adapter" if is_a else "as_base" if is_b else "neither"
        row["served_as"] = key
        out[key] += 1
        if row.get("base") is not None:
            out["base_compared"] += 1
            out["base_as_ours"] += match(row["base"], g["base"], t)
        if g.get("adapter_stopped") and key != "as_base":  # an answer the base gives stops as the base does
            out["ours_stopped"] += 1
            out["ran_on"] += row.get("adapter_finished") is False
    out["compared"] = sum(out[k] for k in ("as_adapter", "as_base", "neither", "undecided"))
    return out


def unexplained_side(s: dict, gens: list[dict], t: Thresholds) -> str | None:
    """Which served answers to explain with other templates ("base" or "adapter"), or None when
    there is nothing to explain: the path reports its template (a LoRA Studio server, the engine),
    or the served answers are the doctor's own."""
    if s.get("template_sha256") is not None:
        return None
    c = compare(s, gens, t)
    if c["base_compared"]:
        return "base" if 2 * c["base_as_ours"] < c["base_compared"] else None
    return "adapter" if 2 * c["neither"] >= max(c["compared"], 1) else None


def _not_applied(s: dict, c: dict, kl: float, t: Thresholds, where: str, server: str | None) -> Finding | None:
    gap = s["max_logprob_gap"]
    by_text = c["as_base"] > 0 and c["as_base"] + c["undecided"] == c["compared"]
    all_same = s.get("same_answers") is not None and s["probes"] > 0 and s["same_answers"] == s["probes"]
    same_logprobs = gap is not None and gap <= t.same_logprob_tol
    ref_differs = c["as_base"] + c["as_adapter"] + c["neither"] > 0  # the adapter changes an in-process answer
    by_base = all_same and ((same_logprobs and kl >= t.no_effect_kl) or (gap is None and ref_differs))
    if not (by_text or by_base):
        return None
    how = (f"{c['as_base']} of {c['compared']} served answers are the base model's, word for word, where the adapter "
           "changes them" if by_text else
           f"the answers for '{s['adapter']}' and for the base are the same on all {s['probes']} probes")
    return Finding(
        "ADAPTER_NOT_APPLIED", "error", f"{where} answers with the base model when asked for adapter '{s['adapter']}': {how}",
        {"target": s["target"], "adapter": s["adapter"], "probes": s["probes"], "served_as_base": c["as_base"],
         "served_as_adapter": c["as_adapter"], "same_answers": s.get("same_answers"), "max_logprob_gap": gap,
         "same_logprob_tol": t.same_logprob_tol, "kl_when_applied": kl},
        (f"make {server} serve the adapter under model='{s['adapter']}' (--server-model): vLLM needs --enable-lora and "
         "--lora-modules NAME=PATH, and silently serves the base for a LoRA request with id 0; Ollama needs an "
         "ADAPTER line in the Modelfile; llama.cpp's server needs --lora FILE and a non-zero scale; LM Studio loads "
         "merged models only (export the merged model)") if server else
        "the chat path disables or never activates the adapter: make sure it calls set_adapter(name) for the request "
        "and does not run it inside disable_adapter()")


def _template_by_hash(s: dict, expected: str | None) -> Finding | None:
    got = s.get("template_sha256")
    if not (expected and got and got != expected):
        return None
    return Finding(
        "TEMPLATE_MISMATCH", "error",
        f"{s['target']} renders adapter '{s['adapter']}' with a different chat template than training used",
        {"training_sha256": expected, "serving_sha256": got, "target": s["target"], "adapter": s["adapter"]},
        "serve the adapter from its run folder (manifest.json holds the training template), or set the serving "
        f"tokenizer's chat_template to the one in manifest.json (sha256 {expected[:12]}…)")


def _template_by_answers(s: dict, c: dict, expected: str | None, t: Thresholds) -> Finding | None:
    alternatives = s.get("alternatives") or []
    side = s.get("alternatives_side")
    if not alternatives or not c["compared"]:
        return None
    served = [r.get(side) for r in s["answers"]]
    best, best_k = None, 0
    for alt in alternatives:
        k = sum(match(a, b, t) for a, b in zip(served, alt.get("answers") or [], strict=False))
        alt["matches"] = k
        if k > best_k:
            best, best_k = alt, k
    if best is None or 2 * best_k < len(served):
        return None
    return Finding(
        "TEMPLATE_MISMATCH", "error",
        f"{s['target']} answers as the doctor's own model does under {best['name']}, not under the training template: "
        f"{best_k} of {len(served)} served {'base' if side == 'base' else 'adapter'} answers match that rendering, "
        f"{c['as_adapter']} match training's",
        {"target": s["target"], "adapter": s["adapter"], "matched_template": best["name"], "matches": best_k,
         "probes": len(served), "served_as_adapter": c["as_adapter"], "training_sha256": expected,
         "matched_sha256": best["sha256"]},
        "serve with the training template (manifest.json's chat_template): llama.cpp --chat-template-file FILE or "
        "--jinja with the GGUF's tokenizer.chat_template set to it; Ollama: a TEMPLATE in the Modelfile that renders "
        "it; vLLM --chat-template FILE")


def _no_stop(s: dict, c: dict, t: Thresholds, server: str | None) -> Finding | None:
    if not c["ours_stopped"] or c["ran_on"] / c["ours_stopped"] < t.no_stop_share:
        return None
    return Finding(
        "NO_STOP", "warning",
        f"{s['target']} runs {c['ran_on']} of {c['ours_stopped']} answers to the token limit where the adapter, in "
        "process, ends them: the server does not stop on the run's end-of-turn token",
        {"target": s["target"], "ran_to_limit": c["ran_on"], "probes": c["ours_stopped"]},
        "give the server the run's end-of-turn token as a stop token (the tokenizer's eos in the exported files; "
        "Ollama: PARAMETER stop in the Modelfile; vLLM and llama.cpp: the model's generation config or the "
        "request's stop)" if server else "add the end-of-turn token to the engine's stop ids")


def serving_findings(s: dict, gens: list[dict], expected_template: str | None, kl: float, identity: bool,
                     t: Thresholds, server: str | None) -> list[Finding]:
    """The serving check's findings; notes what cannot be told in s["note"]."""
    c = s["compared"] = compare(s, gens, t)
    where = f"the server {server}" if server else "the chat engine"
    out = []
    if not identity and (f := _not_applied(s, c, kl, t, where, server)):
        out.append(f)
    template = _template_by_hash(s, expected_template) or (
        None if out else _template_by_answers(s, c, expected_template, t))
    if template:
        out.append(template)
    if not out and (f := _no_stop(s, c, t, server)):
        out.append(f)
    if not out and c["neither"] * 2 >= max(c["compared"], 1):
        s["note"] = (f"{c['neither']} of {c['compared']} served answers match the doctor's neither with nor without the "
                     "adapter, and no other template explains them: another base model or file (quantised?), other "
                     "decoding settings, or a template the doctor did not try")
    elif not out and c["compared"] and c["undecided"] == c["compared"] and s["max_logprob_gap"] is None:
        s["note"] = "the adapter does not change these answers and no log-probabilities came back: cannot tell whether it is applied"
    return out
