"""The doctor's mixed decode (base and adapter rows in one batch) answers as the two sides alone do."""

import torch

from lorastudio.diagnosis import effect
from lorastudio.diagnosis.knowledge import retention
from lorastudio.diagnosis.effect import Probe, Reference, greedy, greedy_both, reference_answerer
from lorastudio.models import apply_lora, load_tokenizer, resolve_model


def _reference(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    model = apply_lora(base, 8, 64, 0.0, ["q_proj", "v_proj", "gate_proj"], init_identity=False)  # B != 0: answers differ
    model.eval()
    return Reference(model, "default", load_tokenizer(resolve_model(str(tiny_model_dir))))


CONVERSATIONS = [[{"role": "user", "content": q}] for q in ("你是谁？", "你会什么本领？", "你住在哪里？", "hello", "2+2=?")]


def test_both_sides_in_one_batch_equal_each_side_alone(tiny_model_dir, monkeypatch):
    ref = _reference(tiny_model_dir)
    alone = (greedy(ref, CONVERSATIONS, False, 12), greedy(ref, CONVERSATIONS, True, 12))
    assert alone[0] != alone[1]  # the adapter changes the answers: the comparison below can fail
    stopped: dict = {}
    assert greedy_both(ref, CONVERSATIONS, 12, stopped) == alone
    assert len(stopped[False]) == len(stopped[True]) == len(CONVERSATIONS)
    monkeypatch.setattr(effect, "GENERATE_BATCH", 3)  # batches that cut across the two sides
    assert greedy_both(ref, CONVERSATIONS, 12) == alone


def test_retention_uses_one_batch_unless_base_answers_are_cached(tiny_model_dir):
    ref = _reference(tiny_model_dir)
    answer = reference_answerer(ref, 8)
    calls = []
    answer.both = (lambda original: lambda convs: calls.append("both") or original(convs))(answer.both)
    probes = [Probe(messages=c, expect_any=["a"]) for c in CONVERSATIONS]
    fresh = retention(answer, probes, "test")
    assert calls == ["both"]
    cached = retention(answer, probes, "test", base_cache={p.prompt: "a" for p in probes})
    assert calls == ["both"] and cached["base_right"] == len(probes)  # the cached base answers, the adapter asked alone
    assert fresh["probes"] == len(probes)


def test_first_step_log_probs_give_the_kl_of_a_separate_forward(tiny_model_dir, monkeypatch):
    from lorastudio.diagnosis.likelihood import kl_summary, next_token_kl

    ref = _reference(tiny_model_dir)
    probes = [Probe(messages=c) for c in CONVERSATIONS]
    separate = next_token_kl(ref, probes)
    assert separate["mean"] > 0.01  # the adapter moves the distribution: equality below can fail
    for batch in (64, 3):  # one batch, and batches that cut across the two sides
        monkeypatch.setattr(effect, "GENERATE_BATCH", batch)
        first: dict = {}
        greedy_both(ref, CONVERSATIONS, 4, first=first)
        got = kl_summary(torch.cat(first[False]), torch.cat(first[True]))
        assert got["probes"] == len(probes) and got["same_top_token"] == separate["same_top_token"]
        assert abs(got["mean"] - separate["mean"]) <= 1e-4 * max(1.0, separate["mean"])
        assert abs(got["max"] - separate["max"]) <= 1e-4 * max(1.0, separate["max"])


def test_loss_at_trained_positions_equals_each_sample_alone(tiny_model_dir):
    import torch.nn.functional as F

    from lorastudio.data.formatting import IGNORE_INDEX, tokenize_sample
    from lorastudio.diagnosis.likelihood import mean_token_loss

    ref = _reference(tiny_model_dir)
    answers = ["俺老孙", "七十二变，嘿嘿，什么都会", "花果山水帘洞", "hi there, friend", "4"]
    samples = [tokenize_sample(ref.tokenizer, c + [{"role": "assistant", "content": a}], 256)
               for c, a in zip(CONVERSATIONS, answers, strict=True)]
    means = []
    for adapter_on in (False, True):
        total = count = 0.0
        with ref.side(adapter_on):
            for s in samples:  # each sample unpadded, logits at every position
                logits = ref.model(input_ids=torch.tensor([s.input_ids])).logits[0, :-1]
                target = torch.tensor(s.labels[1:])
                total += float(F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum"))
                count += int((target != IGNORE_INDEX).sum())
        means.append(total / count)
        assert abs(mean_token_loss(ref, samples, adapter_on) - total / count) < 1e-5
    assert abs(means[0] - means[1]) > 1e-3  # the adapter changes the loss: each side is checked for itself


def test_loss_is_measured_on_half_the_samples_only_when_that_decides(tiny_model_dir):
    from lorastudio.data.formatting import tokenize_sample
    from lorastudio.diagnosis.likelihood import compare_loss

    ref = _reference(tiny_model_dir)
    answers = ["俺老孙", "七十二变，嘿嘿，什么都会", "花果山水帘洞", "hi there, friend", "4"]
    samples = [tokenize_sample(ref.tokenizer, c + [{"role": "assistant", "content": a}], 256)
               for c, a in zip(CONVERSATIONS, answers, strict=True)]
    whole = compare_loss(ref, samples, "s")
    asked = []
    undecided = compare_loss(ref, samples, "s", enough=lambda r: asked.append(r["samples"]) or False)
    assert asked == [3] and undecided["samples"] == 5 and "of_samples" not in undecided  # every other sample first
    assert abs(undecided["drop"] - whole["drop"]) < 1e-6 and abs(undecided["base"] - whole["base"]) < 1e-6
    half = compare_loss(ref, samples, "s", enough=lambda r: True)
    assert half["samples"] == 3 and half["of_samples"] == 5
    assert half["tokens"] == sum(s.n_trainable for s in samples[0::2])


def test_the_serving_check_stops_only_when_the_first_answers_leave_nothing_to_decide():
    from lorastudio.diagnosis.served import settled
    from lorastudio.diagnosis.thresholds import Thresholds

    t = Thresholds()
    gens = [{"prompt": f"q{i}", "base": f"plain answer number {i}", "adapter": f"嘿嘿 俺老孙 answer {i}",
             "adapter_stopped": True} for i in range(4)]
    good = [{"prompt": f"q{i}", "adapter": f"嘿嘿 俺老孙 answer {i}", "adapter_finished": True,
             "base": f"plain answer number {i}"} for i in range(4)]
    assert settled(good[:2], gens, t, 2) and not settled(good[:1], gens, t, 2)
    as_base = [good[0], {**good[1], "adapter": "plain answer number 1"}]
    assert not settled(as_base, gens, t, 2)  # the adapter not applied on one probe: ask them all
    ran_on = [good[0], {**good[1], "adapter_finished": False}]
    assert not settled(ran_on, gens, t, 2)  # ran to the limit where the doctor's answer stopped
    wrong_base = [good[0], {**good[1], "base": "嘿嘿 俺老孙 answer 1"}]
    assert not settled(wrong_base, gens, t, 2)


SYSTEM = {"role": "system", "content": "你是齐天大圣孙悟空，说话带着猴王的口气，回答简短。You are the Monkey King; answer briefly."}


def test_a_shared_system_prompt_is_computed_once_and_answers_are_unchanged(tiny_model_dir, monkeypatch):
    ref = _reference(tiny_model_dir)
    conversations = [[SYSTEM, *c] for c in CONVERSATIONS]
    prompts = [effect.encode_prompt(ref.tokenizer, c) for c in conversations]
    shared, _ = effect._shared_prefix_cache(ref, prompts, None)
    assert shared >= 20  # the system prompt is taken once, not per row
    calls = []
    original = effect._shared_prefix_cache
    monkeypatch.setattr(effect, "_shared_prefix_cache", lambda *a: calls.append(1) or original(*a))
    first: dict = {}
    with_prefix = (greedy_both(ref, conversations, 12, first=first), greedy(ref, conversations, True, 12))
    assert calls == [1, 1]
    monkeypatch.setattr(effect, "MIN_SHARED_PREFIX", 10_000)  # every row's whole prompt through generate
    plain_first: dict = {}
    without = (greedy_both(ref, conversations, 12, first=plain_first), greedy(ref, conversations, True, 12))
    assert with_prefix == without and with_prefix[0][0] != with_prefix[0][1]  # base and adapter differ: a real check
    for side in (False, True):
        torch.testing.assert_close(torch.cat(first[side]), torch.cat(plain_first[side]), rtol=1e-4, atol=1e-4)
