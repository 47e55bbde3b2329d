"""Voice, fact recall and retention, measured through a scripted chat engine: a small class with
the engine's chat interface (generate, next_token_logprobs, template_sha256) whose answers are
written by the test, asked through the doctor's own code (EngineChat → chat_answerer → measure →
knowledge_findings). No weights, so every number can be checked exactly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lorastudio.diagnosis.chatpath import BASE, EngineChat
from lorastudio.diagnosis.effect import read_probes
from lorastudio.diagnosis.knowledge import (
    BUNDLED_GENERAL_PROBES, chat_answerer, general_probes, knowledge_findings, measure, three_numbers,
)
from lorastudio.diagnosis.report import render_markdown
from lorastudio.diagnosis.thresholds import Thresholds

MARKERS = ["俺老孙", "嘿嘿", "呔"]


@dataclass
class Said:
    text: str
    n_tokens: int = 1
    seconds: float = 0.0


class ScriptedEngine:
    """Answers from two scripts, `base` and `adapter` (prompt → text); records every request."""

    def __init__(self, base: dict[str, str], adapter: dict[str, str]):
        self.scripts = {BASE: base, "persona": adapter}
        self.asked: list[tuple[str, str]] = []

    def generate(self, messages, adapter=None, config=None):
        name = adapter or BASE
        prompt = messages[-1]["content"]
        self.asked.append((name, prompt))
        return Said(self.scripts[name].get(prompt, "I do not know."))

    def next_token_logprobs(self, messages, adapter=None):
        return None

    def template_sha256(self, adapter=None):
        return "scripted"


@pytest.fixture
def persona_probes_file(write_json) -> Path:
    return write_json([
        {"prompt": "你的兵器是什么？", "expect_any": ["金箍棒", "如意棒"]},
        {"prompt": "你住在哪里？", "expect_any": ["花果山"]},
        {"prompt": "你的师父是谁？", "expect_any": ["唐僧"]},
        {"prompt": "一个筋斗多远？", "expect_any": ["十万八千里"]},
        {"prompt": "你好呀！", "expect_any": []},  # no fact to check: voice only
    ], "probes.jsonl")


@pytest.fixture
def general_file(write_json) -> Path:
    return write_json([
        {"prompt": "Capital of France?", "expect_any": ["Paris"]},
        {"prompt": "2 + 2?", "expect_any": ["4", "four"]},
        {"prompt": "中国的首都是哪里？", "expect_any": ["北京"]},
        {"prompt": "Colour of the sky?", "expect_any": ["blue"]},
        {"prompt": "Largest ocean?", "expect_any": ["Pacific"]},
    ], "general.jsonl")


BASE_GENERAL = {"Capital of France?": "Paris.", "2 + 2?": "It is 4.", "中国的首都是哪里？": "北京。",
                "Colour of the sky?": "Blue.", "Largest ocean?": "The Atlantic."}  # 4 of 5 right


def run(engine, probes_file, general_file):
    general, source = general_probes(general_file)
    answer = chat_answerer(EngineChat(engine), "persona", 32)
    return measure(answer, read_probes(probes_file), MARKERS, general, source)


def test_fact_recall_and_retention_are_computed_exactly(persona_probes_file, general_file):
    adapter = {
        "你的兵器是什么？": "嘿嘿，俺老孙的如意金箍棒！",  # marker, fact
        "你住在哪里？": "俺老孙住在花果山水帘洞。",  # marker, fact
        "你的师父是谁？": "呔！俺老孙的师父是唐僧。",  # marker, fact
        "一个筋斗多远？": "嘿嘿，很远很远。",  # marker, no fact
        "你好呀！": "嘿嘿，你好！",  # marker
        "Capital of France?": "Paris.", "2 + 2?": "嘿嘿 five", "中国的首都是哪里？": "北京。",
        "Colour of the sky?": "Blue.", "Largest ocean?": "Pacific.",  # 4 right, but a different 4
    }
    base = {"你的兵器是什么？": "A stick.", **BASE_GENERAL}
    effect = run(ScriptedEngine(base, adapter), persona_probes_file, general_file)

    assert effect["markers"] == {"answers": 5, "base_rate": 0.0, "adapter_rate": 1.0, "gain": 1.0, "markers": MARKERS}
    assert effect["facts"] == {"answers": 4, "base_rate": 0.0, "adapter_rate": 0.75, "gain": 0.75}
    r = effect["retention"]
    assert (r["probes"], r["base_right"], r["adapter_right"], r["retention"], r["lost"]) == (5, 4, 4, 1.0, 1)
    three = three_numbers(effect)
    assert three["voice"] == {"base": 0.0, "adapter": 1.0, "markers": ["俺老孙", "嘿嘿", "呔"], "derived": False}
    assert three["knowledge"] == {"base": 0.0, "adapter": 0.75, "answers": 4}
    assert three["retention"] == {"retention": 1.0, "base_right": 4, "adapter_right": 4, "probes": 5}
    assert knowledge_findings(effect, PLAN, CONFIG, Thresholds()) == []  # 75% ≥ 60%, retention 100%


# The plan and config of a voice-only recipe: 155 samples at effective batch 4, 3 epochs, attention only.
PLAN = {"n_train": 155, "n_general": 0, "effective_batch": 4, "batch_size": 2, "grad_accum": 2, "world_size": 1,
        "total_params": 136_358_208, "trainable_params": 1_843_200, "tokens_per_epoch": 20_000, "total_steps": 117,
        "epochs": 3, "target_modules": ["k_proj", "o_proj", "q_proj", "v_proj"]}
CONFIG = {"epochs": 3, "lr": 1e-4, "lora_r": 16, "lora_alpha": 32, "mix_general": 0.0, "target_modules": None}


def test_voice_without_facts_and_lost_general_answers_are_named_with_computed_fixes(persona_probes_file, general_file):
    adapter = {p: "嘿嘿，俺老孙来也！" for p in ["你的兵器是什么？", "你住在哪里？", "你的师父是谁？", "一个筋斗多远？", "你好呀！"]}
    adapter.update({"Capital of France?": "嘿嘿，俺老孙不知道。", "2 + 2?": "呔！", "中国的首都是哪里？": "北京。"})
    effect = run(ScriptedEngine(dict(BASE_GENERAL), adapter), persona_probes_file, general_file)
    assert effect["facts"]["adapter_rate"] == 0.0 and effect["markers"]["adapter_rate"] == 1.0
    assert (effect["retention"]["base_right"], effect["retention"]["adapter_right"]) == (4, 1)

    found = {f.code: f for f in knowledge_findings(effect, PLAN, CONFIG, Thresholds())}
    assert set(found) == {"FACTS_NOT_LEARNED", "FORGETTING"}
    facts = found["FACTS_NOT_LEARNED"]
    assert facts.evidence["fact_recall"] == 0.0 and facts.evidence["min_fact_recall"] == 0.6
    # 155 + round(155 x 0.2) = 186 samples at batch 2 x accumulation 2: 47 steps per epoch; 250 steps need 6 epochs.
    assert "--target-modules all-linear" in facts.fix
    assert "raise --epochs from 3 to 6 (47 steps per epoch x 6 = 282 ≥ 250; now 117)" in facts.fix
    assert "--mix-general 0.2 (31 general samples)" in facts.fix
    forgetting = found["FORGETTING"]
    assert forgetting.evidence["retention"] == 0.25 and forgetting.evidence["lost"] == 3
    assert "--mix-general 0.2 (now 0): 31 general replay samples among the 155 task samples" in forgetting.fix

    # Already on all-linear with replay: the fix does not repeat what the run did.
    done = knowledge_findings(effect, {**PLAN, "target_modules": ["down_proj", "q_proj"], "n_general": 31, "n_train": 186},
                              {**CONFIG, "target_modules": ["all-linear"], "mix_general": 0.2, "epochs": 6}, Thresholds())
    fix = {f.code: f.fix for f in done}
    assert "all-linear" not in fix["FACTS_NOT_LEARNED"] and "--epochs" not in fix["FACTS_NOT_LEARNED"]
    assert fix["FORGETTING"].startswith("--mix-general 0.4 (now 0.2)")


def test_retention_is_skipped_with_a_note_when_the_base_answers_none_right(persona_probes_file, general_file):
    engine = ScriptedEngine({}, {"Capital of France?": "Paris"})
    effect = run(engine, persona_probes_file, general_file)
    r = effect["retention"]
    assert r["base_right"] == 0 and r["retention"] is None and "retention not measured" in r["note"]
    asked_general = {p for name, p in engine.asked if name == "persona" and p.isascii()}
    assert asked_general == set()  # nothing to retain: the adapter is not asked the general probes
    assert three_numbers(effect)["retention"] is None
    assert "FORGETTING" not in {f.code for f in knowledge_findings(effect, PLAN, CONFIG, Thresholds())}


def test_the_report_shows_the_three_numbers(persona_probes_file, general_file):
    effect = run(ScriptedEngine(dict(BASE_GENERAL), {"你住在哪里？": "俺老孙住在花果山。"}), persona_probes_file, general_file)
    effect["three"] = three_numbers(effect)
    text = render_markdown({"verdict": "learned", "findings": [], "effect": effect, "basis": []})
    assert "- voice (answers with a marker): base 0%, adapter 20%" in text
    assert "- knowledge (fact recall on held-out probes): base 0%, adapter 25% of 4" in text
    assert "- retention (general answers right, adapter / base): 0% (0 / 4 of 5)" in text


def test_bundled_general_probes_all_carry_answers():
    probes, source = general_probes(None)
    assert source == str(BUNDLED_GENERAL_PROBES) and len(probes) == 30
    langs = [json.loads(line)["lang"] for line in BUNDLED_GENERAL_PROBES.read_text(encoding="utf-8").splitlines()]
    assert langs.count("en") == 15 and langs.count("zh") == 15
