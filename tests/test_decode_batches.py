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
