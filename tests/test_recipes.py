"""General replay (--mix-general) and the recommended recipe the plan prints."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from lorastudio import api
from lorastudio.cli import app
from lorastudio.data.prepare import GENERAL_INDEX_OFFSET
from lorastudio.errors import ConfigError
from lorastudio.recipes import RecipeInput, recommend

runner = CliRunner()


def general_indices(setup) -> list[int]:
    return [t.index - GENERAL_INDEX_OFFSET for t in setup.prepared.train if t.index >= GENERAL_INDEX_OFFSET]


def test_mix_general_adds_ratio_x_task_samples_by_seed_and_the_plan_counts_them(tiny_model_dir, persona_train):
    opts = dict(model=str(tiny_model_dir), data=str(persona_train), output="(plan only)", max_seq_len=256, auto=False)
    plain = api.plan(**opts)
    mixed = api.plan(**opts, mix_general=0.2)
    assert plain.plan.n_train == 155 and plain.plan.n_general == 0
    # 155 persona samples x 0.2 = 31 of the bundled 40 general samples, after the task samples
    assert mixed.plan.n_general == 31 and mixed.plan.n_train == 186
    assert [t.index for t in mixed.prepared.train[:155]] == [t.index for t in plain.prepared.train]
    picked = general_indices(mixed)
    assert len(picked) == len(set(picked)) == 31 and all(0 <= i < 40 for i in picked)
    assert mixed.plan.steps_per_epoch == 47  # ceil(ceil(186 / 2) / 2): the steps see the replay
    assert general_indices(api.plan(**opts, mix_general=0.2)) == picked  # same seed, same samples
    assert general_indices(api.plan(**opts, mix_general=0.2, seed=7)) != picked


def test_a_small_general_file_is_repeated_in_one_shuffled_order(tiny_model_dir, persona_train, write_json):
    own = write_json([{"instruction": f"question {i}?", "output": f"answer {i}."} for i in range(3)], "general.json")
    setup = api.plan(model=str(tiny_model_dir), data=str(persona_train), output="(plan only)", max_seq_len=256,
                     mix_general=0.1, general_data=str(own), auto=False)
    picked = general_indices(setup)
    assert len(picked) == 16  # round(155 x 0.1)
    assert sorted(Counter(picked).values()) == [5, 5, 6]
    assert picked[:3] == picked[3:6]  # one order, repeated


def test_general_data_without_a_share_is_refused_naming_the_flag(tiny_model_dir, persona_train):
    with pytest.raises(ConfigError) as e:
        api.plan(model=str(tiny_model_dir), data=str(persona_train), output="x", general_data="g.json")
    assert "--general-data" in e.value.message and "--mix-general" in e.value.message
    with pytest.raises(ConfigError, match="--mix-general=1.5"):
        api.plan(model=str(tiny_model_dir), data=str(persona_train), output="x", mix_general=1.5)


def recipe_input(**kw) -> RecipeInput:
    base = dict(n_task=155, tokens_per_task_sample=80, tokens_per_general_sample=60, effective_batch=4, world_size=1,
                batch_size=2, grad_accum=2, n_params=134_515_008, lora_r=16, lora_alpha=32, target_modules=None,
                mix_general=0.0, facts=True)
    base.update(kw)
    return RecipeInput(**base)


def test_recipe_arithmetic_for_facts_and_for_voice_only():
    r = recommend(recipe_input())
    # 155 + 31 replay = 186 samples, 47 steps per epoch; 250 steps for facts → 6 epochs = 282
    assert (r.n_general, r.n_train, r.steps_per_epoch, r.epochs, r.total_steps) == (31, 186, 47, 6, 282)
    assert r.lr == 2e-4  # lr x alpha/r = 4e-4 for a sub-1B model, alpha/r = 2
    assert r.target_modules == ["all-linear"] and r.flags() == "--epochs 6 --lr 2e-04 --target-modules all-linear --mix-general 0.2"
    # 4 FLOPs x params x tokens (155 x 80 + 31 x 60) x 6 epochs at 35% of 400 GFLOP/s
    assert r.estimated_seconds == pytest.approx(4 * 134_515_008 * (155 * 80 + 31 * 60) * 6 / (400e9 * 0.35), abs=0.1)
    v = recommend(recipe_input(facts=False, lora_alpha=16, n_params=7_000_000_000))
    assert v.target_modules == ["all-linear"] and v.epochs == 4 and v.total_steps == 188  # 150 steps for voice
    given = recommend(recipe_input(facts=False, target_modules=["q_proj", "v_proj"], mix_general=0.0, keep_mix=True))
    assert given.target_modules == ["q_proj", "v_proj"] and given.n_general == 0 and given.steps_per_epoch == 39
    assert v.lr == 2e-4  # 2e-4 for 1-10B at alpha/r = 1
    tiny = recommend(recipe_input(n_task=20))  # 24 samples: 6 steps per epoch, the 10-epoch cap
    assert tiny.epochs == 10 and tiny.total_steps == 60 and "more samples" in tiny.reasons[0]


def test_plan_prints_and_returns_the_recipe(tiny_model_dir, persona_train, persona_probes):
    args = ["plan", "--model", str(tiny_model_dir), "--data", str(persona_train), "--probes", str(persona_probes),
            "--max-seq-len", "256", "--mix-general", "0.2"]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["plan"]["n_general"] == 31
    rec = out["recommended"]
    assert rec["target_modules"] == ["all-linear"] and rec["mix_general"] == 0.2 and rec["estimated_seconds"] > 0
    # the options left out are the recipe's: its epochs (facts in the probes: 250 steps), lr and targets
    assert set(out["auto"]) == {"epochs", "lr", "target_modules"}
    assert out["plan"]["epochs"] == rec["epochs"] == 6 and out["plan"]["total_steps"] == 282
    assert out["plan"]["lr"] == rec["lr"] == 2e-4 and out["config"]["target_modules"] == ["all-linear"]
    assert "282 ≥ 250" in out["auto"]["epochs"]["reason"]
    text = runner.invoke(app, args).output
    assert "Chosen for this data" in text and "--target-modules" in text and "of which 31 general replay" in text


def test_each_option_given_wins_over_the_recipe(tiny_model_dir, persona_train):
    setup = api.plan(model=str(tiny_model_dir), data=str(persona_train), output="(plan only)", epochs=2, lr=5e-5,
                     target_modules="q_proj,v_proj", mix_general=0.0, max_seq_len=96, eval_split=0.0)
    assert setup.auto == {}
    c = setup.config
    assert (c.epochs, c.lr, c.target_modules, c.mix_general, c.max_seq_len, c.eval_split) == (2, 5e-5, ["q_proj", "v_proj"], 0.0, 96, 0.0)
    assert setup.plan.n_general == 0 and setup.plan.total_steps == 2 * 39


def test_the_server_takes_general_data_as_a_dataset_name_not_a_path(tmp_path):
    from lorastudio.server.storage import DatasetStore, config_from_form

    store = DatasetStore(tmp_path)
    with pytest.raises(ConfigError) as e:
        config_from_form({"data": "wukong_train.json", "mix_general": 0.2, "general_data": "/etc/passwd"}, store, tmp_path / "o")
    assert "path separator" in e.value.message
    config = config_from_form({"data": "wukong_train.json", "mix_general": 0.2, "general_data": "general_replay.json"},
                          store, tmp_path / "o")
    assert config.general_data.endswith("examples/general_replay.json")
