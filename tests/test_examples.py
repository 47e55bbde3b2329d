"""The bundled example data (src/lorastudio/examples): counts, persona markers, held-out probes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from rapidfuzz import fuzz

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
if not EXAMPLES.is_dir():  # running against an installed package
    from importlib.resources import files

    EXAMPLES = Path(str(files("lorastudio") / "examples"))

MARKERS = ("俺老孙", "嘿嘿", "呔")
CATEGORIES = {
    "greeting", "identity", "abilities", "jingubang", "huaguoshan", "food",
    "transformations", "jindouyun", "huoyanjinjing", "tangseng", "demons",
    "tianting", "thanks_farewell", "help",
}
ALPACA_KEYS = {"instruction", "input", "output", "category"}


def _json(name: str) -> list:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _jsonl(name: str) -> list:
    lines = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def seed() -> list[dict]:
    return _json("wukong_seed.json")


@pytest.fixture(scope="module")
def train() -> list[dict]:
    return _json("wukong_train.json")


@pytest.fixture(scope="module")
def probes() -> list[dict]:
    return _jsonl("wukong_probes.jsonl")


@pytest.fixture(scope="module")
def general() -> list[dict]:
    return _jsonl("general_probes.jsonl")


@pytest.fixture(scope="module")
def replay() -> list[dict]:
    return _json("general_replay.json")


def test_counts(seed, train, probes, general, replay):
    assert len(seed) == 20
    assert len(train) >= 136
    assert len(probes) >= 20
    assert len(general) == 30
    assert len(replay) == 40


def test_alpaca_shape(seed, train, replay):
    for rec in [*seed, *train, *replay]:
        assert set(rec) == ALPACA_KEYS, rec
        assert rec["input"] == ""
        assert rec["instruction"].strip() and rec["output"].strip()
    assert {r["category"] for r in replay} == {"general"}


def test_categories_are_covered(seed, train, probes):
    per_cat = Counter(r["category"] for r in train)
    assert set(per_cat) == CATEGORIES
    assert all(8 <= n <= 14 for n in per_cat.values()), per_cat
    assert {r["category"] for r in seed} == CATEGORIES
    assert {p["category"] for p in probes} <= CATEGORIES


def test_every_seed_is_in_train(seed, train):
    for rec in seed:
        assert rec in train, rec["instruction"]


def test_every_answer_has_a_marker(seed, train):
    for rec in [*seed, *train]:
        assert any(m in rec["output"] for m in MARKERS), rec["output"]


def test_no_duplicate_train_instructions(train):
    dupes = [i for i, n in Counter(r["instruction"] for r in train).items() if n > 1]
    assert not dupes


def test_no_duplicate_train_answers(train):
    dupes = [o for o, n in Counter(r["output"] for r in train).items() if n > 1]
    assert not dupes


def test_probes_are_held_out(train, probes):
    instructions = [r["instruction"] for r in train]
    for p in probes:
        assert p["prompt"] not in instructions
        for ins in instructions:
            score = fuzz.ratio(p["prompt"], ins)
            assert score < 85, f"probe {p['prompt']!r} ~ train {ins!r} ({score:.0f})"


def test_probe_keywords_are_taught(train, probes):
    answers: dict[str, list[str]] = {}
    for r in train:
        answers.setdefault(r["category"], []).append(r["output"])
    for p in probes:
        assert isinstance(p["expect_any"], list)
        for kw in p["expect_any"]:
            assert any(kw in a for a in answers[p["category"]]), (p["prompt"], kw)


def test_fact_probes_have_keywords(probes):
    open_ended = {"greeting", "thanks_farewell", "help"}
    for p in probes:
        if p["category"] not in open_ended:
            assert p["expect_any"], p["prompt"]


def test_general_probes(general):
    for g in general:
        assert set(g) == {"prompt", "expect_any", "lang"}
        assert g["expect_any"] and all(isinstance(k, str) and k for k in g["expect_any"])
        assert g["lang"] in {"en", "zh"}
    langs = Counter(g["lang"] for g in general)
    assert langs["en"] >= 10 and langs["zh"] >= 10


def test_replay_has_no_persona(replay, train):
    for rec in replay:
        assert not any(m in rec["output"] for m in MARKERS), rec["output"]
    assert not {r["instruction"] for r in replay} & {r["instruction"] for r in train}


def test_rebuilding_rewrites_the_same_files_and_keeps_the_readme_whole(tmp_path):
    """_build.py writes every hand-written file byte for byte as committed, and keeps the README's
    sections it does not write (the expanded set's, written by `data expand`)."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run([sys.executable, str(copy / "_build.py")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in ("README.md", "wukong_seed.json", "wukong_train.json", "wukong_probes.jsonl",
                 "general_probes.jsonl", "general_replay.json"):
        assert (copy / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
    assert "## Grown from the seeds" in (copy / "README.md").read_text(encoding="utf-8")
