"""Masking: prompt tokens are -100, every assistant token including end-of-turn is trained."""

import pytest

from lorastudio.data.formatting import IGNORE_INDEX, encode_prompt, tokenize_sample
from lorastudio.data.readers import load_dataset
from lorastudio.models import load_tokenizer, resolve_model


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return load_tokenizer(resolve_model(str(tiny_model_dir)))


def trained_text(tok, sample) -> list[str]:
    """The trained spans, decoded, one string per contiguous run of trained tokens."""
    spans, current = [], []
    for i, label in zip(sample.input_ids, sample.labels):
        if label != IGNORE_INDEX:
            assert label == i  # a trained position predicts its own token (the shift happens in the loss)
            current.append(i)
        elif current:
            spans.append(tok.decode(current))
            current = []
    if current:
        spans.append(tok.decode(current))
    return spans


ALPACA = {"instruction": "你是谁？", "input": "", "output": "俺老孙是齐天大圣！"}
SHAREGPT = {"conversations": [{"from": "human", "value": "你是谁？"}, {"from": "gpt", "value": "俺老孙是齐天大圣！"}]}
MESSAGES = {"messages": [{"role": "user", "content": "你是谁？"}, {"role": "assistant", "content": "俺老孙是齐天大圣！"}]}


@pytest.mark.parametrize("record", [ALPACA, SHAREGPT, MESSAGES], ids=["alpaca", "sharegpt", "messages"])
def test_only_the_answer_and_end_of_turn_are_trained(tok, write_json, record):
    ds = load_dataset(write_json([record], "d.jsonl"))
    s = tokenize_sample(tok, ds.samples[0].messages)
    assert trained_text(tok, s) == ["俺老孙是齐天大圣！<|im_end|>"]
    # the untrained prefix is exactly what inference feeds the model
    prompt = encode_prompt(tok, ds.samples[0].messages[:-1])
    assert s.input_ids[: len(prompt)] == prompt
    assert all(x == IGNORE_INDEX for x in s.labels[: len(prompt)])
    assert s.has_end_of_turn


def test_every_assistant_turn_is_trained_in_multi_turn(tok, write_json):
    record = {"messages": [
        {"role": "system", "content": "你是孙悟空。"},
        {"role": "user", "content": "你好"}, {"role": "assistant", "content": "嘿嘿，你好！"},
        {"role": "user", "content": "你的兵器？"}, {"role": "assistant", "content": "俺老孙的金箍棒！"},
    ]}
    ds = load_dataset(write_json([record]))
    s = tokenize_sample(tok, ds.samples[0].messages)
    assert trained_text(tok, s) == ["嘿嘿，你好！<|im_end|>", "俺老孙的金箍棒！<|im_end|>"]
    assert tok.decode(s.input_ids).count("你的兵器？") == 1


def test_alpaca_history_turns_are_trained(tok, write_json):
    record = {"instruction": "第二问", "output": "第二答", "history": [["第一问", "第一答"]], "system": "系统"}
    s = tokenize_sample(tok, load_dataset(write_json([record])).samples[0].messages)
    assert trained_text(tok, s) == ["第一答<|im_end|>", "第二答<|im_end|>"]


def test_truncation_is_counted_and_can_remove_the_whole_answer(tok):
    msgs = [{"role": "user", "content": "问" * 50}, {"role": "assistant", "content": "答" * 20}]
    full = tokenize_sample(tok, msgs)
    cut = tokenize_sample(tok, msgs, max_seq_len=full.n_tokens - 3)
    assert cut.truncated and cut.response_truncated and cut.n_trainable == full.n_trainable - 3
    prompt_len = len(encode_prompt(tok, msgs[:1]))
    gone = tokenize_sample(tok, msgs, max_seq_len=prompt_len)
    assert gone.n_trainable == 0 and gone.response_truncated
    fits = tokenize_sample(tok, msgs, max_seq_len=full.n_tokens)
    assert not fits.truncated and fits.n_trainable == full.n_trainable
