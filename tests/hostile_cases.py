"""Hostile dataset files shared by the CLI and HTTP hostile-input tests: (file name, bytes, what
the error must say). Each is refused with a problem that names the record and field where there
is one; none may be accepted, crash, or hang on tokenizing."""

from __future__ import annotations

import json

GOOD = {"instruction": "你是谁？", "output": "俺老孙是齐天大圣！"}
GOOD_LINE = json.dumps(GOOD, ensure_ascii=False).encode() + b"\n"
MESSAGES_LINE = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}).encode() + b"\n"

DATA_CASES = {
    "truncated_json": ("d.json", b'[{"instruction": "hi", "output": "yo"}, {"instr', ["invalid JSON at line 1"]),
    "malformed_jsonl_line": ("d.jsonl", GOOD_LINE + b'{"instruction": "x", "output": }\n' + GOOD_LINE,
                             ["record 1", "invalid JSON at line 2"]),
    "wrong_schema": ("d.json", b'[{"question": "hi", "answer": "yo"}]', ["record 0", "format not recognised", "'question'"]),
    "wrong_types": ("d.json", b'[{"instruction": ["hi"], "output": 3}]', ["field 'instruction': must be a string"]),
    "mixed_formats": ("d.jsonl", GOOD_LINE + MESSAGES_LINE, ["mixed formats", "record 1 is messages", "one format per file"]),
    "empty_strings": ("d.json", b'[{"instruction": "", "output": "  "}]',
                      ["field 'instruction': is empty", "field 'output': is empty"]),
    "empty_file": ("d.json", b"", ["is empty"]),
    "field_10mb": ("d.json", json.dumps([{"instruction": "hi", "output": "x" * 10 * 1024 * 1024}]).encode(),
                   ["field 'output'", "10,485,760 characters", "split it"]),
    "invalid_utf8": ("d.json", b'[{"instruction": "\xff\xfe", "output": "b"}]', ["not valid UTF-8", "byte offset 18"]),
    "utf16_file": ("d.json", json.dumps([GOOD]).encode("utf-16"), ["not valid UTF-8", "re-save the file as UTF-8"]),
    "deep_nesting": ("d.json", b"[" * 100_000 + b"]" * 100_000, ["too deep to read"]),
    "deep_nesting_jsonl_line": ("d.jsonl", GOOD_LINE + b"[" * 100_000 + b"]" * 100_000 + b"\n" + GOOD_LINE,
                                ["record 1", "too deep to read"]),
    "lone_surrogate_escape": ("d.json", b'[{"instruction": "a\\ud83d b", "output": "b"}]',
                              ["field 'instruction'", "unpaired surrogate"]),
    "numbers_not_records": ("d.json", b"[1, 2]", ["record 0", "not an object"]),
    "nan_literal": ("d.json", b'[{"instruction": NaN, "output": "b"}]', ["must be a string, got a JSON number"]),
    "two_user_turns": ("d.json", json.dumps([{"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"},
                                                                {"from": "gpt", "value": "c"}]}]).encode(),
                       ["two consecutive user messages"]),
    "csv_file": ("d.csv", b"instruction,output\nhi,yo\n", ["'.csv' files are not supported", "JSONL"]),
}
