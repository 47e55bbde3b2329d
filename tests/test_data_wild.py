"""Datasets in the shapes found in the wild: tool calls, text parts, per-turn loss weights,
placeholders, keys nobody reads, and the same mistake in hundreds of records."""

from __future__ import annotations

import json

import pytest
from wild_data import identity, messages_parts, sharegpt_tools

from lorastudio import api
from lorastudio.data.formatting import IGNORE_INDEX, chat_template_text, supports_tools, tokenize_sample
from lorastudio.data.readers import load_dataset
from lorastudio.errors import ConfigError, DataError


def _tok(tiny_model_dir, template: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    if template:
        tok.chat_template = chat_template_text(template)
    return tok


def trained_text(tok, sample) -> str:
    t = tokenize_sample(tok, sample.messages, tools=sample.tools)
    return tok.decode([i for i, label in zip(t.input_ids, t.labels) if label != IGNORE_INDEX])


# ---------------------------------------------------------------- tool calls


def test_sharegpt_tool_calls_become_calls_and_results(write_json):
    ds = load_dataset(write_json(sharegpt_tools(6)))
    s = ds.samples[0]
    assert [m["role"] for m in s.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = s.messages[2]["tool_calls"][0]["function"]
    assert call == {"name": "get_weather", "arguments": {"city": "北京"}}
    assert json.loads(s.messages[3]["content"])["city"] == "北京"
    assert [t["function"]["name"] for t in s.tools] == ["get_weather", "calculate"]
    assert ds.uses_tools == 6 and ds.warnings == []


def test_a_template_with_tool_support_trains_the_call_and_masks_the_result(tiny_model_dir, write_json):
    tok = _tok(tiny_model_dir, "qwen2.5")
    assert supports_tools(tok) and not supports_tools(_tok(tiny_model_dir))
    s = load_dataset(write_json(sharegpt_tools(3))).samples[0]
    full = tok.decode(tokenize_sample(tok, s.messages, tools=s.tools).input_ids)
    assert '"name": "get_weather"' in full and "<tools>" in full and "<tool_response>" in full
    trained = trained_text(tok, s)
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>' in trained
    assert "北京今天晴" in trained  # the answer after the result is trained too
    assert '"temp"' not in trained and "<tool_response>" not in trained  # the tool's result is context
    assert "查询城市的天气" not in trained  # so are the schemas


def test_tool_data_on_a_template_without_tool_support_is_refused_once(tiny_model_dir, write_json):
    data = write_json(sharegpt_tools(120))
    with pytest.raises(DataError) as e:
        api.plan(model=str(tiny_model_dir), data=str(data), output="-")
    assert e.value.total == 1 and "120 record(s) hold tool calls" in str(e.value)
    assert "--chat-template qwen2.5" in e.value.fix
    setup = api.plan(model=str(tiny_model_dir), data=str(data), output="-", chat_template="qwen2.5")
    assert setup.plan.n_train > 100 and not [f for f in setup.findings if f.severity == "error"]


def test_messages_with_openai_tool_calls(write_json):
    record = {"messages": [
        {"role": "user", "content": "2+3?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "calculate", "arguments": "{\"expression\": \"2+3\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "assistant", "content": "5"}], "tools": [{"type": "function", "function": {"name": "calculate"}}]}
    s = load_dataset(write_json([record])).samples[0]
    assert s.messages[1]["tool_calls"][0]["function"]["arguments"] == {"expression": "2+3"}
    assert s.messages[1]["content"] == "" and s.tools[0]["function"]["name"] == "calculate"


@pytest.mark.parametrize("turns, field, says", [
    ([{"from": "human", "value": "q"}, {"from": "observation", "value": "r"}, {"from": "gpt", "value": "a"}],
     "conversations[1]", "must follow the assistant's tool call"),
    ([{"from": "human", "value": "q"}, {"from": "function_call", "value": "{\"name\": \"f\"}"}, {"from": "gpt", "value": "a"}],
     "conversations[2]", "not followed by its result"),
    ([{"from": "human", "value": "q"}, {"from": "function_call", "value": "not json"}, {"from": "observation", "value": "r"},
      {"from": "gpt", "value": "a"}], "conversations[1].value", "is not valid JSON"),
])
def test_tool_turns_out_of_place_are_named(write_json, turns, field, says):
    with pytest.raises(DataError) as e:
        load_dataset(write_json([{"conversations": turns}]))
    assert f"record 0, field '{field}'" in str(e.value) and says in str(e.value)


# ---------------------------------------------------------------- parts and loss weights


def test_text_parts_are_joined_and_loss_weight_zero_is_context(tiny_model_dir, write_json):
    ds = load_dataset(write_json(messages_parts(3)))
    s = ds.samples[0]
    assert s.messages[0] == {"role": "system", "content": "你是一个简洁的助手。"}
    assert s.messages[3]["content"].startswith("再问一个（0）：\n")
    assert s.messages[2]["train"] is False and "train" not in s.messages[4]
    tok = _tok(tiny_model_dir)
    trained = trained_text(tok, s)
    assert s.messages[4]["content"] in trained and s.messages[2]["content"] not in trained
    assert [(w.code, w.name, w.count) for w in ds.warnings] == [("unknown_key", "source", 3)]


def test_every_answer_at_loss_weight_zero_is_reported_not_trained(tiny_model_dir, write_json):
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}", "loss_weight": 0}]}
            for i in range(3)] + messages_parts(40)
    setup = api.plan(model=str(tiny_model_dir), data=str(write_json(rows)), output="-")
    masked = [f for f in setup.findings if f.code == "LABELS_MASKED"]
    assert setup.plan.masked == 3 and "loss_weight 0 on every answer" in masked[0].title and masked[0].apply is None


def test_images_are_refused_with_a_clear_message_summarised_over_records(write_json):
    rec = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "a.png"}},
                                                     {"type": "text", "text": "what is this?"}]},
                        {"role": "assistant", "content": "a cat"}]}
    with pytest.raises(DataError) as e:
        load_dataset(write_json([rec] * 50))
    text = str(e.value)
    assert e.value.total == 50 and "field 'messages[0].content[0]'" in text and "read text only" in text
    assert "... and 47 more of the same (records 3, 4, 5, 6, 7, 8, 9, 10, ...)" in text
    assert len(text.splitlines()) < 8


# ---------------------------------------------------------------- placeholders and unknown keys


def test_placeholders_are_found_filled_by_var_and_warned_when_not(tiny_model_dir, write_json):
    data = write_json(identity(120))
    plain = load_dataset(data)
    assert plain.placeholders == {"name": 120, "author": 120}
    assert {(w.code, w.name) for w in plain.warnings} == {("unfilled_placeholder", "name"), ("unfilled_placeholder", "author")}
    setup = api.plan(model=str(tiny_model_dir), data=str(data), output="-")
    (f,) = [f for f in setup.findings if f.code == "UNFILLED_PLACEHOLDERS"]
    assert "--var name=VALUE --var author=VALUE" in f.fix
    filled = api.plan(model=str(tiny_model_dir), data=str(data), output="-", vars=["name=小星", "author=星河团队"])
    assert "UNFILLED_PLACEHOLDERS" not in [f.code for f in filled.findings]
    answers = [s.response for s in filled.dataset.samples]
    assert "您好，我是 小星，由 星河团队 开发的人工智能助手，很高兴为您服务。" in answers
    assert not any("{{" in a for a in answers)


def test_placeholders_are_filled_and_warned_in_data_grown_before_training(tiny_model_dir, write_json):
    """--expand-to rewrites the data in memory: its answers keep the {{placeholders}}, which are
    filled by --var there too, or warned about (they would otherwise train as literal text)."""
    data = write_json(identity(120))
    grown = api.plan(model=str(tiny_model_dir), data=str(data), output="-", expand_to=150)
    assert "UNFILLED_PLACEHOLDERS" in [f.code for f in grown.findings] and set(grown.dataset.placeholders) == {"name", "author"}
    filled = api.plan(model=str(tiny_model_dir), data=str(data), output="-", expand_to=150, vars=["name=小星", "author=星河团队"])
    assert "UNFILLED_PLACEHOLDERS" not in [f.code for f in filled.findings]
    answers = [s.response for s in filled.dataset.samples]
    assert any("小星" in a for a in answers) and not any("{{" in a for a in answers)


def test_var_needs_name_equals_value():
    with pytest.raises(ConfigError, match="is not NAME=VALUE"):
        api.build_config(data="d.json", output="o", vars=["name"])


def test_unknown_keys_are_one_warning_each_with_a_count(tiny_model_dir, write_json):
    rows = [{"instruction": f"q{i}", "output": f"a{i}", "id": i, **({"lang": "zh"} if i % 2 else {})} for i in range(40)]
    ds = load_dataset(write_json(rows))
    assert {w.name: w.count for w in ds.warnings} == {"id": 40, "lang": 20}
    setup = api.plan(model=str(tiny_model_dir), data=str(write_json(rows)), output="-")
    (f,) = [f for f in setup.findings if f.code == "UNKNOWN_FIELDS"]
    assert f.evidence["keys"] == {"id": 40, "lang": 20} and "'id' (40 records)" in f.title


def test_434_bad_speakers_read_as_one_mistake(write_json):
    rows = [{"conversations": [{"from": "human", "value": "q"}, {"from": "tool_use", "value": "x"},
                               {"from": "gpt", "value": "a"}]}] * 434
    with pytest.raises(DataError) as e:
        load_dataset(write_json(rows))
    text = str(e.value)
    assert e.value.total == 434 and "... and 431 more of the same" in text
    assert "function_call (the assistant calling a tool)" in text and len(text.splitlines()) == 6  # with the fix
