"""Dataset readers: each format in .json and .jsonl, and one bad-input case per validation rule.

Each rule's test asserts the message names the file, the record and the field, so a user can
find the mistake; `fix` on the error says what to do.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from lorastudio.data.readers import detect_format, load_dataset, read_records
from lorastudio.errors import DataError


def write(tmp_path, records, suffix=".jsonl", name="train"):
    """Records as a JSONL file (one per line) or a JSON array, UTF-8, non-ASCII kept as is."""
    path = tmp_path / f"{name}{suffix}"
    if suffix == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        text = json.dumps(records, ensure_ascii=False, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


def problem_of(tmp_path, records, suffix=".jsonl") -> DataError:
    path = write(tmp_path, records, suffix)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    err = info.value
    assert path.name in str(err)
    assert err.fix  # every error says what to do
    return err


def u(text):
    return {"role": "user", "content": text}


def a(text):
    return {"role": "assistant", "content": text}


def s(text):
    return {"role": "system", "content": text}


OK_ALPACA = {"instruction": "Say hi", "output": "hi"}
OK_SHAREGPT = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "r"}]}
OK_MESSAGES = {"messages": [u("q"), a("r")]}

# ---------------------------------------------------------------- round trips

ALPACA = [
    {"instruction": "Translate", "input": "cat", "output": "chat", "category": "translate"},
    {"instruction": "Say hi", "input": "  ", "output": "hi", "system": "Be brief."},
    {"instruction": "And now?", "output": "bye", "history": [["hello", "hello!"], ["how are you", "fine"]]},
]
ALPACA_EXPECTED = [
    [u("Translate\n\ncat"), a("chat")],
    [s("Be brief."), u("Say hi"), a("hi")],
    [u("hello"), a("hello!"), u("how are you"), a("fine"), u("And now?"), a("bye")],
]
SHAREGPT = [
    {"conversations": [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "r1"}], "category": "qa"},
    {"system": "Be kind.", "conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "r"}]},
    {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q1"},
                       {"from": "model", "value": "r1"}, {"from": "human", "value": "q2"},
                       {"from": "gpt", "value": "r2"}]},
]
SHAREGPT_EXPECTED = [
    [u("q1"), a("r1")],
    [s("Be kind."), u("q"), a("r")],
    [s("S"), u("q1"), a("r1"), u("q2"), a("r2")],
]
MESSAGES = [
    {"messages": [u("q"), a("r")], "category": "chat"},
    {"messages": [s("sys"), u("q1"), a("r1"), u("q2"), a("r2")], "id": "extra keys are ignored"},
]
MESSAGES_EXPECTED = [[u("q"), a("r")], [s("sys"), u("q1"), a("r1"), u("q2"), a("r2")]]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
@pytest.mark.parametrize(
    "fmt, records, expected",
    [("alpaca", ALPACA, ALPACA_EXPECTED), ("sharegpt", SHAREGPT, SHAREGPT_EXPECTED),
     ("messages", MESSAGES, MESSAGES_EXPECTED)],
)
def test_each_format_round_trips(tmp_path, suffix, fmt, records, expected):
    path = write(tmp_path, records, suffix)
    ds = load_dataset(path)
    assert ds.format == fmt
    assert ds.path == str(path)
    assert [x.messages for x in ds.samples] == expected
    assert [x.index for x in ds.samples] == list(range(len(records)))
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_categories_are_kept(tmp_path):
    ds = load_dataset(write(tmp_path, ALPACA))
    assert [x.category for x in ds.samples] == ["translate", None, None]


def test_chinese_content_is_intact(tmp_path):
    records = [{"instruction": "把这句话翻译成英文：你好，世界", "output": "Hello, world 🌍"}]
    ds = load_dataset(write(tmp_path, records, ".json"))
    assert ds.samples[0].prompt == "把这句话翻译成英文：你好，世界"
    assert ds.samples[0].response == "Hello, world 🌍"


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_utf8_bom_is_accepted(tmp_path, suffix):
    path = write(tmp_path, [OK_ALPACA, {"instruction": "你好", "output": "嗨"}], suffix)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    ds = load_dataset(path)
    assert len(ds) == 2 and ds.samples[1].response == "嗨"
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()  # of the bytes as stored


def test_json_file_holding_jsonl_lines(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(OK_ALPACA) + "\n\n" + json.dumps(OK_ALPACA) + "\n", encoding="utf-8")
    assert len(load_dataset(path)) == 2


def test_blank_lines_do_not_count_as_records(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n" + json.dumps(OK_ALPACA) + "\n\n" + json.dumps({"instruction": "x"}) + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert "record 1, field 'output'" in str(info.value)


def test_object_with_one_list_key_is_accepted(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"data": [OK_MESSAGES, OK_MESSAGES]}))
    assert len(load_dataset(path)) == 2


def test_single_record_file(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(OK_MESSAGES))  # one list-valued key, but it is a record
    ds = load_dataset(path)
    assert ds.format == "messages" and len(ds) == 1


def test_roles_are_case_insensitive(tmp_path):
    records = [{"conversations": [{"from": "Human", "value": "q"}, {"from": "GPT", "value": "r"}]}]
    assert load_dataset(write(tmp_path, records)).samples[0].messages == [u("q"), a("r")]


def test_read_records_and_detect_format(tmp_path):
    records = read_records(write(tmp_path, SHAREGPT, ".json"))
    assert records == SHAREGPT
    assert detect_format(records) == "sharegpt"
    assert detect_format(ALPACA) == "alpaca"
    assert detect_format(MESSAGES) == "messages"
    with pytest.raises(DataError, match="mixed formats"):
        detect_format([OK_ALPACA, OK_MESSAGES], file="x.jsonl")


# ---------------------------------------------------------------- file-level problems


def test_file_not_found(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path / "missing.jsonl")
    assert "missing.jsonl" in str(info.value) and "not found" in str(info.value)
    assert "check the path" in info.value.fix


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        load_dataset(tmp_path)


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("instruction,output\nhi,hello\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert "train.csv" in str(info.value) and "JSONL" in info.value.fix


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(json.dumps(OK_ALPACA).encode() + b'\n{"instruction": "caf\xe9", "output": "x"}\n')
    with pytest.raises(DataError) as info:
        load_dataset(path)
    offset = path.read_bytes().index(b"\xe9")
    assert f"byte offset {offset}" in str(info.value)
    assert "line 2" in str(info.value)
    assert "re-save the file as UTF-8" in str(info.value)


def test_malformed_json_array_gives_line_and_column(tmp_path):
    path = tmp_path / "train.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "a" "output": "b"}\n]\n')
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert "line 3, column 23" in str(info.value)
    assert "Expecting ',' delimiter" in str(info.value)


def test_malformed_jsonl_names_the_record_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    good = json.dumps(OK_ALPACA)
    path.write_text(f"{good}\n{good}\n{{\"instruction\": \"a\", \"output\": }}\n{good}\n{{broken\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    err = info.value
    assert err.total == 2
    assert "record 2: invalid JSON at line 3" in str(err)
    assert "record 4: invalid JSON at line 5" in str(err)


@pytest.mark.parametrize("text, expected", [("", "is empty"), ("  \n\n", "is empty"), ("[]", "zero records")])
def test_empty_file_or_zero_records(tmp_path, text, expected):
    path = tmp_path / "train.json"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert "train.json" in str(info.value) and expected in str(info.value)


# ---------------------------------------------------------------- record-level problems


def test_record_not_an_object(tmp_path):
    err = problem_of(tmp_path, [OK_ALPACA, ["Say hi", "hi"]], ".json")
    assert "record 1" in str(err) and "not an object" in str(err) and "JSON array" in str(err)


def test_format_not_recognised_lists_keys_and_needs(tmp_path):
    err = problem_of(tmp_path, [{"prompt": "q", "completion": "r"}])
    text = str(err)
    assert "record 0" in text and "'prompt', 'completion'" in text
    assert "alpaca needs 'instruction' and 'output'" in text
    assert "sharegpt needs 'conversations'" in text
    assert "messages needs 'messages'" in text


def test_mixed_formats_names_first_differing_record(tmp_path):
    err = problem_of(tmp_path, [OK_ALPACA, OK_ALPACA, OK_SHAREGPT, OK_MESSAGES])
    assert err.total == 1
    assert "record 2" in str(err) and "sharegpt" in str(err) and "record 0 is alpaca" in str(err)
    assert "2 record(s) differ" in str(err)


@pytest.mark.parametrize(
    "record, field, says",
    [
        ({"instruction": "q"}, "output", "is missing"),
        ({"instruction": "q", "output": 42}, "output", "must be a string"),
        ({"instruction": "q", "output": " \n\t"}, "output", "is empty"),
        ({"instruction": "", "output": "r"}, "instruction", "is empty"),
        ({"output": "r"}, "instruction", "is missing"),
        ({"instruction": "q", "input": ["x"], "output": "r"}, "input", "must be a string"),
        ({"instruction": "q", "output": "r", "system": 1}, "system", "must be a string"),
        ({"instruction": "q", "output": "r", "category": 3}, "category", "must be a string"),
        ({"instruction": "q", "output": "r", "history": "hi"}, "history", "list of [user, assistant] pairs"),
        ({"instruction": "q", "output": "r", "history": [["a", "b", "c"]]}, "history[0]", "pair"),
        ({"instruction": "q", "output": "r", "history": [["a", ""]]}, "history[0][1]", "is empty"),
    ],
)
def test_alpaca_field_problems(tmp_path, record, field, says):
    err = problem_of(tmp_path, [OK_ALPACA, OK_ALPACA, OK_ALPACA, record])
    assert err.total == 1
    assert f"record 3, field '{field}'" in str(err)
    assert says in str(err)
    assert (err.problems[0].index, err.problems[0].field) == (3, field)


@pytest.mark.parametrize(
    "record, field, says",
    [
        ({"conversations": []}, "conversations", "is empty"),
        ({"conversations": "hi"}, "conversations", "non-empty list"),
        ({"conversations": [{"from": "human", "value": "q"}, "r"]}, "conversations[1]", "must be an object"),
        ({"conversations": [{"from": "human"}, {"from": "gpt", "value": "r"}]}, "conversations[0].value", "is missing"),
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "  "}]},
         "conversations[1].value", "is empty"),
        ({"conversations": [{"value": "q"}, {"from": "gpt", "value": "r"}]}, "conversations[0].from", "is missing"),
        ({"system": "S", "conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q"},
                                           {"from": "gpt", "value": "r"}]}, "system", "keep only one"),
    ],
)
def test_sharegpt_field_problems(tmp_path, record, field, says):
    err = problem_of(tmp_path, [OK_SHAREGPT, OK_SHAREGPT, OK_SHAREGPT, record])
    assert err.total == 1
    assert f"record 3, field '{field}'" in str(err)
    assert says in str(err)


@pytest.mark.parametrize(
    "record, field, says",
    [
        ({"messages": None}, "messages", "is missing"),
        ({"messages": [u("q"), {"role": "assistant", "content": None}]}, "messages[1].content", "is missing"),
        ({"messages": [u("q"), {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[1].content[0]", "read text only"),
        ({"messages": [u("q"), {"role": "assistant", "content": "r", "loss_weight": 0.5}]},
         "messages[1].loss_weight", "use 1 to train this turn or 0"),
        ({"messages": [{"content": "q"}, a("r")]}, "messages[0].role", "is missing"),
    ],
)
def test_messages_field_problems(tmp_path, record, field, says):
    err = problem_of(tmp_path, [OK_MESSAGES, OK_MESSAGES, OK_MESSAGES, record])
    assert err.total == 1
    assert f"record 3, field '{field}'" in str(err)
    assert says in str(err)


def test_unknown_sharegpt_speaker_lists_allowed(tmp_path):
    record = {"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "r"}]}
    err = problem_of(tmp_path, [OK_SHAREGPT, record])
    assert "record 1, field 'conversations[1].from'" in str(err)
    assert "'bot'" in str(err) and "gpt/assistant/model (the answer)" in str(err)
    assert "function_call (the assistant calling a tool)" in str(err)


def test_unknown_message_role_lists_allowed(tmp_path):
    err = problem_of(tmp_path, [OK_MESSAGES, {"messages": [u("q"), {"role": "bot", "content": "r"}, a("r")]}])
    assert "record 1, field 'messages[1].role'" in str(err)
    assert "'bot'" in str(err) and "system, user, assistant, tool" in str(err)


# ---------------------------------------------------------------- conversation shape


def sharegpt(*speakers):
    return {"conversations": [{"from": who, "value": f"turn {i}"} for i, who in enumerate(speakers)]}


def test_two_consecutive_user_messages(tmp_path):
    bad = sharegpt("human", "gpt", "human", "human", "gpt")
    err = problem_of(tmp_path, [OK_SHAREGPT, OK_SHAREGPT, OK_SHAREGPT, bad])
    assert "record 3, field 'conversations[3]'" in str(err)
    assert "two consecutive user messages at conversations[2] and conversations[3]" in str(err)


def test_two_consecutive_assistant_messages(tmp_path):
    err = problem_of(tmp_path, [{"messages": [s("S"), u("q"), a("r"), a("r2")]}])
    assert "record 0, field 'messages[3]'" in str(err)
    assert "two consecutive assistant messages at messages[2] and messages[3]" in str(err)
    assert "add the missing user turn" in str(err)


def test_conversation_starting_with_assistant(tmp_path):
    err = problem_of(tmp_path, [sharegpt("system", "gpt", "human", "gpt")])
    assert "record 0, field 'conversations[1]'" in str(err) and "must start with a user message" in str(err)


def test_system_not_first(tmp_path):
    err = problem_of(tmp_path, [OK_MESSAGES, {"messages": [u("q"), a("r"), s("late")]}])
    assert "record 1, field 'messages[2]'" in str(err) and "must come first" in str(err)


def test_conversation_not_ending_with_assistant(tmp_path):
    err = problem_of(tmp_path, [OK_SHAREGPT, sharegpt("human", "gpt", "human")])
    assert "record 1, field 'conversations[2]'" in str(err)
    assert "ends with a user message" in str(err) and "last message must be the assistant's reply" in str(err)


def test_no_assistant_turn(tmp_path):
    err = problem_of(tmp_path, [OK_MESSAGES, {"messages": [s("S"), u("q")]}])
    assert err.total == 1
    assert "record 1, field 'messages'" in str(err) and "has no assistant turn" in str(err)


def test_top_level_system_keeps_users_indices(tmp_path):
    record = {"system": "S", "conversations": [{"from": "human", "value": "q"}, {"from": "human", "value": "q"},
                                               {"from": "gpt", "value": "r"}]}
    err = problem_of(tmp_path, [record])
    assert "at conversations[0] and conversations[1]" in str(err)


# ---------------------------------------------------------------- reporting


def test_all_problems_are_reported_together(tmp_path):
    records = [OK_ALPACA, {"instruction": "q"}, OK_ALPACA, {"instruction": 5, "output": "r"},
               {"instruction": "q", "output": ""}, OK_ALPACA]
    err = problem_of(tmp_path, records, ".json")
    assert err.total == 3
    assert [(p.index, p.field) for p in err.problems] == [(1, "output"), (3, "instruction"), (4, "output")]
    assert str(err).startswith("3 problem(s) in the dataset:")


def test_problems_are_in_record_order_across_kinds(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([json.dumps({"instruction": "q"}), "{oops", "[1]", json.dumps(OK_ALPACA)]))
    with pytest.raises(DataError) as info:
        load_dataset(path)
    assert [p.index for p in info.value.problems] == [0, 1, 2]


def test_many_problems_are_capped_but_counted(tmp_path):
    err = problem_of(tmp_path, [{"instruction": "q", "output": ""}] * 300)
    assert err.total == 300
    assert len(err.problems) <= 200
    assert "... and 297 more of the same (records 3, 4, 5, 6, 7, 8, 9, 10, ...)" in str(err)
    assert str(err).count("field 'output'") == 3
    assert err.to_dict()["total"] == 300
    assert err.to_dict()["groups"] == [{"code": "empty", "field": "output", "message": err.problems[0].message,
                                        "count": 300, "records": list(range(20))}]


def test_different_kinds_of_problem_each_get_their_summary(tmp_path):
    records = [sharegpt("human", "bot")] * 30 + [{"conversations": [{"from": "human", "value": ""},
                                                                    {"from": "gpt", "value": "r"}]}] * 5
    err = problem_of(tmp_path, records)
    text = str(err)
    assert err.total == 35
    assert "... and 27 more of the same (records 3, 4, 5" in text
    assert "... and 2 more of the same (records 33, 34)" in text
    assert text.count("\n  - ") == 6  # three of each kind, then one summary line per kind
