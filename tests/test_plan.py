"""Plan arithmetic, and the preflight findings it feeds."""

from lorastudio.config import make_config
from lorastudio.diagnosis.preflight import preflight
from lorastudio.plan import make_plan, steps_per_epoch


def plan_for(n, **options):
    cfg = make_config(data="d.json", output="o", **options)
    return make_plan(cfg, n_records=n, lengths=[100] * n, trainable=[60] * n)


def test_seed_scenario_20_samples_batch_16_three_epochs():
    p = plan_for(20, batch_size=16, grad_accum=1, epochs=3)
    assert (p.micro_batches_per_epoch, p.steps_per_epoch, p.total_steps) == (2, 2, 6)
    assert p.steps_per_epoch_drop_last == 1  # what drop-last tools would run: 3 steps in all
    assert p.effective_batch == 16
    assert p.tokens_per_epoch == 2000 and p.trainable_tokens_per_epoch == 1200
    assert abs(p.label_coverage - 0.6) < 1e-9


def test_accumulation_and_world_size_count_in_the_effective_batch():
    p = make_plan(make_config(data="d", output="o", batch_size=2, grad_accum=2, epochs=5), 136, [10] * 136, [5] * 136)
    assert (p.steps_per_epoch, p.total_steps, p.effective_batch) == (34, 170, 4)
    assert steps_per_epoch(136, 2, 2, world_size=2) == 17
    p2 = make_plan(make_config(data="d", output="o", batch_size=2, grad_accum=2), 136, [10] * 136, [5] * 136, world_size=2)
    assert p2.effective_batch == 8 and p2.steps_per_epoch == 17


def test_a_last_partial_accumulation_group_still_steps():
    assert steps_per_epoch(10, batch_size=2, grad_accum=2) == 3  # 5 micro-batches → 2 full groups + 1
    assert steps_per_epoch(10, batch_size=2, grad_accum=2, drop_last=True) == 2


def test_warmup_from_ratio_rounds_up_and_steps_override():
    assert plan_for(136, batch_size=2, grad_accum=2, epochs=5, warmup_ratio=0.03).warmup_steps == 6  # ceil(5.1)
    assert plan_for(136, warmup_steps=7).warmup_steps == 7


def test_seed_scenario_is_refused_with_computed_fixes():
    findings = {f.code: f for f in preflight(plan_for(20, batch_size=16, grad_accum=1, epochs=3))}
    assert findings["TOO_FEW_STEPS"].severity == "error"
    assert findings["TOO_FEW_SAMPLES"].severity == "error"
    fix = findings["TOO_FEW_STEPS"].fix
    assert "2 step(s) per epoch" in fix and "train 50 epochs (--epochs 50) to reach 100 steps" in fix
    assert "--batch-size 2 --grad-accum 2 (5 steps per epoch; 20 epochs give 100)" in fix


def test_healthy_plan_has_no_errors():
    findings = preflight(plan_for(155, batch_size=2, grad_accum=2, epochs=5, eval_split=0.1) )
    assert [f for f in findings if f.severity == "error"] == []


def test_lr_and_warmup_findings():
    codes = lambda **o: {f.code: f.severity for f in preflight(plan_for(155, epochs=5, **o))}  # noqa: E731
    assert codes(lr=0)["LR_TOO_LOW"] == "error"
    assert codes(lr=1e-6)["LR_TOO_LOW"] == "warning"
    assert codes(lr=0.05)["LR_TOO_HIGH"] == "error"
    assert codes(warmup_steps=1000)["WARMUP_EXCEEDS_TRAINING"] == "error"
    assert "LR_TOO_LOW" not in codes(lr=1e-4) and "LR_TOO_HIGH" not in codes(lr=2e-4)


def test_the_step_minimum_shrinks_with_a_higher_learning_rate_down_to_a_floor():
    from lorastudio.diagnosis.thresholds import Thresholds

    t = Thresholds()
    assert t.steps_needed(2e-4) == (100, 50) == t.steps_needed(1e-5)  # the usual rate and below: unchanged
    assert t.steps_needed(8e-4) == (30, 15)  # 4x the rate: 25 steps would do, the floor says 30
    assert t.steps_needed(4e-4) == (50, 25)
    steps = lambda **o: {f.code: f for f in preflight(plan_for(155, batch_size=2, grad_accum=2, **o))}  # noqa: E731
    assert steps(epochs=1, lr=1e-4)["TOO_FEW_STEPS"].severity == "error"  # 39 steps at the usual rate
    assert "TOO_FEW_STEPS" not in steps(epochs=1, lr=4e-4)  # 39 steps at 4x: B can move as far as in ~156
    at2x = steps(epochs=1, lr=2e-4)["TOO_FEW_STEPS"]  # 39 of the 50 needed at 2x: a warning, with a fix that reaches 50
    assert at2x.severity == "warning" and at2x.apply == {"epochs": 2} and "to reach 78 steps" in at2x.fix
    assert "TOO_FEW_STEPS" not in steps(epochs=2, lr=2e-4)
