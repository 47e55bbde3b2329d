"""Voice, knowledge, retention: the three numbers that say whether an adapter is worth using.

    voice      share of answers to the held-out probes holding a style marker (effect["markers"])
    knowledge  fact recall: share of answers to held-out probes with `expect_any` that contain
               any of those facts (effect["facts"])
    retention  general probes (bundled examples/general_probes.jsonl, or --general-probes FILE)
               answered right by the adapter / by the base; not computed when the base answers
               none right (there is nothing to keep)

Each is measured for base and adapter through an `Answerer` (effect.py): the doctor's PEFT
reference, or any chat path (`chat_answerer`), so a scripted engine exercises the same code.
`knowledge_findings` turns the numbers into FACTS_NOT_LEARNED and FORGETTING, with fixes
computed by recipes.py from the run's own plan.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..recipes import MIX_GENERAL, RecipeInput, recommend, scaled_lr_for
from ..run_folder import with_train_defaults
from .chatpath import BASE, ChatPath
from .effect import Answerer, Probe, answer_rows, both_sides, has_any, rates, read_probes
from .findings import Finding
from .thresholds import Thresholds

BUNDLED_GENERAL_PROBES = Path(__file__).resolve().parents[1] / "examples" / "general_probes.jsonl"
GENERAL_MAX_NEW_TOKENS = 32  # general answers are a word or a sentence ("Paris", "巴黎")


def chat_answerer(chat: ChatPath, adapter: str, max_new_tokens: int) -> Answerer:
    return lambda conversations, adapter_on: [chat.answer(m, adapter if adapter_on else BASE, max_new_tokens).text
                                              for m in conversations]


def general_probes(path: str | Path | None) -> tuple[list[Probe], str]:
    p = Path(path) if path else BUNDLED_GENERAL_PROBES
    probes = [q for q in read_probes(p) if q.expect_any]
    return probes, str(p)


def retention(answer: Answerer, probes: list[Probe], source: str, base_cache: dict | None = None) -> dict:
    """Right answers (any expected word present) of base and adapter on general probes. When none
    of the base's is right there is nothing to retain; the adapter is then not asked, unless the
    answerer decodes both sides in one batch anyway (the reference does, when nothing is cached).
    `base_cache` maps prompt → base answer, shared across runs on the same base (tune)."""
    missing = [p for p in probes if base_cache is None or p.prompt not in base_cache]
    adapter_answers = None
    if len(missing) == len(probes) and probes and hasattr(answer, "both"):  # nothing cached: both sides in one batch
        base_fresh, adapter_answers = both_sides(answer, [p.messages for p in probes])
    else:
        base_fresh = answer([p.messages for p in missing], False) if missing else []
    fresh = dict(zip((p.prompt for p in missing), base_fresh, strict=True))
    if base_cache is not None:
        base_cache.update(fresh)
    base_answers = [fresh[p.prompt] if p.prompt in fresh else base_cache[p.prompt] for p in probes]
    base_right = [has_any(a, p.expect_any) for a, p in zip(base_answers, probes, strict=True)]
    out = {"source": source, "probes": len(probes), "base_right": sum(base_right)}
    if not any(base_right):
        out.update(adapter_right=None, retention=None, lost=None,
                   note=f"the base answers none of the {len(probes)} general probes right: retention not measured")
        return out
    rows = []
    if adapter_answers is None:
        adapter_answers = answer([p.messages for p in probes], True)
    for p, text, ok, adapter in zip(probes, base_answers, base_right, adapter_answers, strict=True):
        rows.append({"prompt": p.prompt, "base": text, "adapter": adapter, "base_right": ok,
                     "adapter_right": has_any(adapter, p.expect_any)})
    adapter_right = sum(r["adapter_right"] for r in rows)
    out.update(adapter_right=adapter_right, retention=adapter_right / out["base_right"],
               lost=sum(r["base_right"] and not r["adapter_right"] for r in rows), answers=rows)
    return out


def measure(answer: Answerer, probes: list[Probe], markers: list[str] | None, general: list[Probe] | None,
            general_source: str = "", base_cache: dict | None = None) -> dict:
    """generations, markers, facts and retention, as the doctor stores them in effect."""
    rows = answer_rows(answer, probes, markers)
    out = {"generations": rows, "markers": rates(rows, "marker"), "facts": rates(rows, "fact")}
    if out["markers"]:
        out["markers"]["markers"] = markers
    out["retention"] = retention(answer, general, general_source, base_cache) if general else None
    return out


def three_numbers(effect: dict) -> dict:
    """{"voice", "knowledge", "content", "retention"}: each {"base", "adapter"} rates (content:
    mean chrF against the reference answers; retention: the ratio)."""
    m, f, r, c = effect.get("markers"), effect.get("facts"), effect.get("retention"), effect.get("content")
    return {
        "voice": {"base": m["base_rate"], "adapter": m["adapter_rate"], "markers": m.get("markers"),
                  "derived": bool(m.get("derived"))} if m else None,
        "content": {"base": c["base"], "adapter": c["adapter"], "answers": c["answers"]} if c else None,
        "knowledge": {"base": f["base_rate"], "adapter": f["adapter_rate"], "answers": f["answers"]} if f else None,
        "retention": ({"retention": r["retention"], "base_right": r["base_right"], "adapter_right": r["adapter_right"],
                       "probes": r["probes"]} if r and r.get("retention") is not None else None),
    }


# ---------------------------------------------------------------- findings


def _recipe_for(plan: dict, config: dict, facts: bool):
    config = with_train_defaults(config)
    n_general = plan.get("n_general", 0)
    n_task = max(plan.get("n_train", 0) - n_general, 1)
    tokens = plan.get("tokens_per_epoch", 0) / max(plan.get("n_train", 1), 1)
    return recommend(RecipeInput(
        n_task=n_task, tokens_per_task_sample=tokens, tokens_per_general_sample=tokens,
        effective_batch=plan.get("effective_batch", 4), world_size=plan.get("world_size", 1),
        batch_size=plan.get("batch_size", config["batch_size"]), grad_accum=plan.get("grad_accum", 1),
        n_params=max(plan.get("total_params", 0) - plan.get("trainable_params", 0), 1),
        lora_r=config["lora_r"], lora_alpha=config["lora_alpha"],
        target_modules=config.get("target_modules"), mix_general=config["mix_general"] or 0.0, facts=facts,
    ))


def _mlp_adapted(plan: dict, config: dict) -> bool:
    asked = config.get("target_modules") or []
    if "all-linear" in asked:
        return True
    mlp = {"gate_proj", "up_proj", "down_proj", "fc1", "fc2", "c_fc", "mlp", "w1", "w2", "w3"}
    return any(name.split(".")[-1] in mlp for name in plan.get("target_modules") or [])


def knowledge_findings(effect: dict, plan: dict, config: dict, t: Thresholds) -> list[Finding]:
    out = []
    markers, facts, ret = effect.get("markers"), effect.get("facts"), effect.get("retention")
    config = with_train_defaults(config)
    epochs, lr = config["epochs"], config["lr"]
    scale = config["lora_alpha"] / max(config["lora_r"], 1)
    voice_ok = markers is not None and markers["gain"] >= t.min_marker_gain
    if voice_ok and facts and facts["adapter_rate"] < t.min_fact_recall:
        recipe = _recipe_for(plan, config, facts=True)
        todo = []
        if not _mlp_adapted(plan, config):
            todo.append(f"adapt the MLP too: --target-modules all-linear (now {', '.join(plan.get('target_modules') or []) or 'default'})")
        if recipe.epochs > epochs:
            todo.append(f"raise --epochs from {epochs} to {recipe.epochs} ({recipe.steps_per_epoch} steps per epoch x "
                        f"{recipe.epochs} = {recipe.total_steps} ≥ {recipe.target_steps}; now {plan.get('total_steps')})")
        if lr * scale < scaled_lr_for(recipe_params(plan)) / 2:
            todo.append(f"raise --lr from {lr:g} to {recipe.lr:g} (lr x alpha/r ≈ {recipe.lr * scale:g})")
        if (config.get("mix_general") or 0) < MIX_GENERAL:
            todo.append(f"--mix-general {MIX_GENERAL:g} ({recipe.n_general} general samples) to keep general ability meanwhile")
        todo.append("give each fact in several phrasings (`lorastudio data expand`): a fact seen in one wording "
                    "is recalled for that wording only")
        out.append(Finding(
            "FACTS_NOT_LEARNED", "warning",
            f"the voice was learned (markers {facts_pct(markers['base_rate'])} → {facts_pct(markers['adapter_rate'])}) "
            f"but the facts were not: {facts_pct(facts['adapter_rate'])} of {facts['answers']} held-out answers hold an "
            f"expected fact (base {facts_pct(facts['base_rate'])})",
            {"fact_recall": facts["adapter_rate"], "base_fact_recall": facts["base_rate"], "answers": facts["answers"],
             "min_fact_recall": t.min_fact_recall, "marker_rate": markers["adapter_rate"], "epochs": epochs,
             "total_steps": plan.get("total_steps"), "lr": lr, "target_modules": plan.get("target_modules")},
            "; ".join(todo)))
    if ret and ret.get("retention") is not None and ret["retention"] < t.min_retention:
        recipe = _recipe_for(plan, config, facts=bool(facts))
        mix = config.get("mix_general") or 0.0
        todo = []
        new_mix = MIX_GENERAL if mix < MIX_GENERAL else min(1.0, 2 * mix)
        n_task = max(plan.get("n_train", 0) - plan.get("n_general", 0), 1)
        todo.append(f"--mix-general {new_mix:g} (now {mix:g}): {round(n_task * new_mix)} general replay samples "
                    f"among the {n_task} task samples")
        if lr * scale > 1.5 * recipe.lr * scale:
            todo.append(f"lower --lr from {lr:g} to {recipe.lr:g}")
        if epochs > recipe.epochs:
            todo.append(f"fewer passes: --epochs {recipe.epochs} (now {epochs})")
        out.append(Finding(
            "FORGETTING", "warning",
            f"the adapter answers {ret['adapter_right']} of the {ret['base_right']} general questions the base answers "
            f"right ({facts_pct(ret['retention'])} retained, {ret['lost']} lost)",
            {"retention": ret["retention"], "base_right": ret["base_right"], "adapter_right": ret["adapter_right"],
             "lost": ret["lost"], "probes": ret["probes"], "min_retention": t.min_retention, "mix_general": mix,
             "lr": lr, "epochs": epochs},
            "; ".join(todo)))
    return out


def recipe_params(plan: dict) -> int:
    return max(plan.get("total_params", 0) - plan.get("trainable_params", 0), 1)


def facts_pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"
