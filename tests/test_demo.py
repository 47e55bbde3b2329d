"""The demo's recipe plans clean, and its side-by-side comes from the doctor's own answers."""

from lorastudio.config import make_config
from lorastudio.demo import demo_config, shown_answers
from lorastudio.training.setup import plan_run


def test_the_demos_recipe_plans_without_warnings(tiny_model_dir, tmp_path):
    options = demo_config(tmp_path / "run", epochs=1, model=str(tiny_model_dir))
    setup = plan_run(make_config(**options), load_weights=False)
    assert setup.plan.total_steps == 39  # 155 samples, 4 per step, one epoch
    assert [f.code for f in setup.findings if f.severity in ("error", "warning")] == []
    at_usual_rate = plan_run(make_config(**{**options, "lr": 1e-4}), load_weights=False)
    assert "TOO_FEW_STEPS" in [f.code for f in at_usual_rate.findings]  # the same steps at 1e-4 would not do


def test_the_side_by_side_shows_held_out_answers_facts_first():
    rows = [{"prompt": f"q{i}", "base": f"b{i}", "adapter": f"a{i}", **({"expect_any": ["x"]} if i % 5 == 0 else {})}
            for i in range(12)]
    shown = shown_answers({"effect": {"generations": rows}}, n=4)
    assert len(shown) == 4
    assert shown[0] == ("q0\n(held out)", "b0", "a0")
    assert [s[0].split("\n")[0] for s in shown] == ["q0", "q5", "q10", "q1"]  # the rows with facts, then others
    assert [s[0].split("\n")[0] for s in shown_answers({"effect": {"generations": rows}}, n=2)] == ["q0", "q5"]  # facts fill it
    assert shown_answers({"effect": {}}) == []
