"""Read an Alpaca, ShareGPT or OpenAI-messages file (JSON array or JSONL) into a `Dataset`.

Every problem in the file is collected and raised together as one `DataError`, each naming
the file, the record (0-based) and the field, and saying how to fix it:

    train.jsonl: record 3, field 'output': is empty; write the assistant's reply here ...

Record `i` is the i-th element of a JSON array, or the i-th non-blank line of a JSONL file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lorastudio.data.records import Dataset, Sample
from lorastudio.errors import DataError, DataProblem, ProblemList

# The key that makes a record one format or another, checked in this order.
FORMAT_KEYS = {"messages": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output")}
NEEDS = (
    "alpaca needs 'instruction' and 'output', sharegpt needs 'conversations' "
    "(a list of {from, value}), messages needs 'messages' (a list of {role, content})"
)
SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "model": "assistant",
    "system": "system",
}
MESSAGE_ROLES = ("system", "user", "assistant")
NOT_JSON = {".csv", ".tsv", ".parquet", ".arrow", ".xlsx", ".xls"}
# Longer than any run can train on: max_seq_len is at most 131072 tokens, and no tokenizer packs
# 7+ characters into a token on average. Tokenizing a 10 MB field would take a minute, to be cut.
MAX_FIELD_CHARS = 1_000_000
FIX_RECORDS = "fix the records listed above (indices are 0-based), then load the file again"
FIX_FILE = "fix the file as described above, then load it again"


class _Unparsed:
    """Stands in for a JSONL line that is not valid JSON, so later records keep their index."""


# ---------------------------------------------------------------- reading the file


def _read_bytes(path: Path) -> bytes:
    def fail(message: str, fix: str) -> DataError:
        return DataError([DataProblem(str(path), None, None, message)], fix=fix)

    if "\x00" in str(path):
        raise fail("the path contains a NUL byte", "pass the file's real path")
    if path.suffix.lower() in NOT_JSON:
        raise fail(f"'{path.suffix}' files are not supported", "convert it to JSONL: one JSON object per line")
    if not path.exists():
        raise fail("file not found", f"check the path (looked for {path.resolve()})")
    if path.is_dir():
        raise fail("is a folder, not a file", "pass the .json or .jsonl file inside it")
    try:
        return path.read_bytes()
    except OSError as e:
        raise fail(f"cannot be read ({e.strerror or e})", "check the file's permissions") from e


def _decode(raw: bytes, problems: ProblemList) -> str | None:
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0  # a UTF-8 BOM, as Windows editors write it
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = bom + e.start
        line = raw[:offset].count(b"\n") + 1
        problems.add(None, None, f"is not valid UTF-8 (byte offset {offset}, line {line}: {raw[offset:offset + 1]!r}); "
                                 "re-save the file as UTF-8 (in most editors: Save As, encoding UTF-8)")
        return None


def _parse_text(text: str, problems: ProblemList) -> list:
    if not text.strip():
        problems.add(None, None, "is empty; add records (a JSON array, or one JSON object per line)")
        return []
    try:
        return _unwrap(json.loads(text))
    except json.JSONDecodeError as whole_error:
        if not _looks_like_jsonl(text):
            _add_json_error(problems, None, whole_error, text)
            return []
    except RecursionError:
        problems.add(None, None, TOO_DEEP)
        return []
    return _parse_jsonl(text, problems)


def _unwrap(value: Any) -> list:
    """A JSON array, one record (a one-line JSONL file), or {"data": [...]} with one list-valued key."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and not _record_format(value):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(value) == 1 and len(lists) == 1:
            return lists[0]
    return [value]


def _looks_like_jsonl(text: str) -> bool:
    """One object per line (a broken line or two allowed), rather than one pretty-printed document."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if lines[0].lstrip().startswith("["):
        return False
    one_liners = sum(line.startswith("{") and line.endswith("}") for line in lines)
    return one_liners * 2 >= len(lines)


def _parse_jsonl(text: str, problems: ProblemList) -> list:
    records: list = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            _add_json_error(problems, len(records), e, line, line_no)
            records.append(_Unparsed())
        except RecursionError:
            problems.add(len(records), None, f"line {line_no} {TOO_DEEP}")
            records.append(_Unparsed())
    return records


TOO_DEEP = ("nests arrays or objects thousands of levels deep, too deep to read; "
            "a record is one object of strings and lists of turns, so rewrite it that way")


def _add_json_error(problems: ProblemList, index: int | None, e: json.JSONDecodeError,
                    text: str, line_no: int | None = None) -> None:
    line = line_no if line_no is not None else e.lineno
    lines = text.splitlines()
    snippet = lines[e.lineno - 1][max(0, e.colno - 20): e.colno + 20] if e.lineno <= len(lines) else ""
    problems.add(index, None, f"invalid JSON at line {line}, column {e.colno}: {e.msg} (near {snippet!r}); "
                              "fix the syntax there (a missing comma, quote or bracket is the usual cause)")


def read_records(path: str | Path) -> list:
    """The raw records of a JSON array or JSONL file. Raises `DataError` naming every problem."""
    path = Path(path)
    problems = ProblemList(str(path))
    records = _records_from_bytes(_read_bytes(path), problems)
    _raise_if_any(problems)
    return records


def _records_from_bytes(raw: bytes, problems: ProblemList) -> list:
    text = _decode(raw, problems)
    if text is None:
        return []
    records = _parse_text(text, problems)
    if not records and not problems.total:
        problems.add(None, None, "has zero records; add at least one record")
    return records


# ---------------------------------------------------------------- which format


def _raise_if_any(problems: ProblemList) -> None:
    """Raise every problem at once, in record order (file-wide problems first)."""
    problems.problems.sort(key=lambda p: -1 if p.index is None else p.index)
    per_record = any(p.index is not None for p in problems.problems)
    problems.raise_if_any(FIX_RECORDS if per_record else FIX_FILE)


def _record_format(record: dict) -> str | None:
    for fmt, keys in FORMAT_KEYS.items():
        if any(k in record for k in keys):
            return fmt
    return None


def _detect(records: list, problems: ProblemList) -> str | None:
    """The file's format: that of its first recognisable record; others must match it."""
    fmt, first, mismatched = None, None, []
    for i, record in enumerate(records):
        if isinstance(record, _Unparsed):
            continue
        if not isinstance(record, dict):
            problems.add(i, None, f"is a JSON {_json_type(record)}, not an object; "
                                  "each record must be an object like {\"instruction\": ..., \"output\": ...}")
            continue
        this = _record_format(record)
        if this is None:
            seen = ", ".join(repr(k) for k in list(record)[:10]) or "none"
            problems.add(i, None, f"format not recognised (keys seen: {seen}); {NEEDS}")
        elif fmt is None:
            fmt, first = this, i
        elif this != fmt:
            mismatched.append((i, this))
    if mismatched:
        i, this = mismatched[0]
        problems.add(i, None, f"mixed formats: record {i} is {this} but record {first} is {fmt} "
                              f"({len(mismatched)} record(s) differ); use one format per file")
    return fmt


def detect_format(records: list, file: str = "<records>") -> str:
    """'alpaca', 'sharegpt' or 'messages'. Raises `DataError` if unrecognisable or mixed."""
    problems = ProblemList(file)
    fmt = _detect(records, problems)
    if fmt is None and not problems.total:
        problems.add(None, None, "has zero records; add at least one record")
    _raise_if_any(problems)
    return fmt


def unpaired_surrogate(text: str) -> int | None:
    """Where the first lone surrogate is (half of a broken "\\ud83d" escape, or undecodable
    bytes Python let through), which is not text: UTF-8 cannot encode it, tokenizers refuse it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


# ---------------------------------------------------------------- per-format conversion


class _Record:
    """One record being converted: reports problems against its index."""

    def __init__(self, record: dict, index: int, problems: ProblemList):
        self.record, self.index, self.problems = record, index, problems
        self.ok = True

    def problem(self, field: str | None, message: str) -> None:
        self.ok = False
        self.problems.add(self.index, field, message)

    def text(self, value: Any, field: str, what: str, required: bool = True) -> str | None:
        """A non-empty string, or None after reporting why not. `what` says what belongs there."""
        if value is None and not required:
            return None
        if value is None:
            self.problem(field, f"is missing; add {what}")
        elif not isinstance(value, str):
            self.problem(field, f"must be a string, got a JSON {_json_type(value)}; write {what} as text")
        elif not value.strip() and required:
            self.problem(field, f"is empty; write {what} here or remove the record")
        elif len(value) > MAX_FIELD_CHARS:
            self.problem(field, f"is {len(value):,} characters long, more than any run can train on "
                                f"({MAX_FIELD_CHARS:,} at most); split it into shorter samples or remove the record")
        elif (at := unpaired_surrogate(value)) is not None:
            self.problem(field, f"holds an unpaired surrogate escape ({value[at]!r} at character {at}), "
                                "which is not text; fix the escape (a \\uD83D\\uDE00 pair is one emoji) or remove it")
        else:
            return value if value.strip() else None
        return None

    def items(self, key: str, what: str) -> list:
        value = self.record.get(key)
        if isinstance(value, list) and value:
            return value
        got = "is missing" if value is None else "is empty" if value == [] else f"is a JSON {_json_type(value)}"
        self.problem(key, f"{got}; it must be a non-empty list of {what}")
        return []

    def category(self) -> str | None:
        value = self.record.get("category")
        if value is not None and not isinstance(value, str):
            self.problem("category", f"must be a string, got a JSON {_json_type(value)}; write the category as text")
            return None
        return value or None


def _alpaca(rec: _Record) -> list[dict]:
    r = rec.record
    instruction = rec.text(r.get("instruction"), "instruction", "the user's request")
    extra = rec.text(r.get("input"), "input", "the input text", required=False)
    output = rec.text(r.get("output"), "output", "the assistant's reply")
    system = rec.text(r.get("system"), "system", "the system prompt", required=False)
    messages = [{"role": "system", "content": system}] if system else []
    history = r.get("history")
    if history is not None and not isinstance(history, list):
        rec.problem("history", "must be a list of [user, assistant] pairs; e.g. [[\"hi\", \"hello!\"]]")
        history = []
    for j, pair in enumerate(history or []):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            rec.problem(f"history[{j}]", "must be a [user, assistant] pair of two strings")
            continue
        user = rec.text(pair[0], f"history[{j}][0]", "the user's message")
        reply = rec.text(pair[1], f"history[{j}][1]", "the assistant's reply")
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    prompt = f"{instruction}\n\n{extra}" if extra and instruction else instruction
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]


def _sharegpt(rec: _Record) -> list[dict]:
    messages = []
    system = rec.text(rec.record.get("system"), "system", "the system prompt", required=False)
    for j, turn in enumerate(rec.items("conversations", "{\"from\": ..., \"value\": ...} turns")):
        where = f"conversations[{j}]"
        if not isinstance(turn, dict):
            rec.problem(where, "must be an object like {\"from\": \"human\", \"value\": \"...\"}")
            continue
        source = turn.get("from")
        role = SHAREGPT_ROLES.get(source.lower()) if isinstance(source, str) else None
        if role is None:
            got = "is missing" if source is None else f"has unknown speaker {source!r}"
            rec.problem(f"{where}.from", f"{got}; use one of {', '.join(SHAREGPT_ROLES)}")
        content = rec.text(turn.get("value"), f"{where}.value", "the message text")
        messages.append({"role": role, "content": content})
    if system and any(m["role"] == "system" for m in messages):
        rec.problem("system", "is given both as a top-level 'system' and as a system turn; keep only one")
    if rec.ok:  # a broken turn would only add confusing shape errors
        _check_turns(rec, [m["role"] for m in messages], "conversations")
    return ([{"role": "system", "content": system}] if system else []) + messages


def _messages(rec: _Record) -> list[dict]:
    messages = []
    for j, msg in enumerate(rec.items("messages", "{\"role\": ..., \"content\": ...} messages")):
        where = f"messages[{j}]"
        if not isinstance(msg, dict):
            rec.problem(where, "must be an object like {\"role\": \"user\", \"content\": \"...\"}")
            continue
        role = msg.get("role")
        role = role.lower() if isinstance(role, str) else role
        if role not in MESSAGE_ROLES:
            got = "is missing" if role is None else f"has unknown role {msg.get('role')!r}"
            rec.problem(f"{where}.role", f"{got}; use one of {', '.join(MESSAGE_ROLES)}")
        content = msg.get("content")
        if isinstance(content, list):
            rec.problem(f"{where}.content", "is a list of parts; only plain-text string content is supported")
        else:
            content = rec.text(content, f"{where}.content", "the message text")
        messages.append({"role": role, "content": content})
    if rec.ok:
        _check_turns(rec, [m["role"] for m in messages], "messages")
    return messages


# ---------------------------------------------------------------- conversation shape


def _check_turns(rec: _Record, roles: list[str], key: str) -> None:
    """System first (optional), then user/assistant alternating from user, ending with assistant."""
    def at(j: int) -> str:
        return f"{key}[{j}]"

    if "assistant" not in roles:
        rec.problem(key, "has no assistant turn; add the assistant's reply to train on")
        return
    for j, role in enumerate(roles):
        if role == "system" and j > 0:
            rec.problem(at(j), f"system message at {at(j)} must come first; move it to the start or drop it")
            return
    chat = [(j, r) for j, r in enumerate(roles) if r != "system"]
    if chat[0][1] != "user":
        rec.problem(at(chat[0][0]), f"conversation starts with an assistant message at {at(chat[0][0])}; "
                                    "it must start with a user message")
        return
    for (a, ra), (b, rb) in zip(chat[:-1], chat[1:], strict=True):
        if ra == rb:
            rec.problem(at(b), f"two consecutive {ra} messages at {at(a)} and {at(b)}; user and assistant "
                               f"must alternate, so merge them or add the missing "
                               f"{'assistant' if ra == 'user' else 'user'} turn between them")
            return
    if chat[-1][1] != "assistant":
        j = chat[-1][0]
        rec.problem(at(j), f"conversation ends with a user message at {at(j)}; the last message must be the "
                           "assistant's reply, so add one or remove the trailing user message")


CONVERTERS = {"alpaca": _alpaca, "sharegpt": _sharegpt, "messages": _messages}


def _to_sample(record: dict, index: int, fmt: str, problems: ProblemList) -> Sample | None:
    rec = _Record(record, index, problems)
    messages = CONVERTERS[fmt](rec)
    category = rec.category()
    return Sample(messages=messages, index=index, category=category) if rec.ok else None


# ---------------------------------------------------------------- entry point


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset file. Raises `DataError` listing every problem found."""
    path = Path(path)
    raw = _read_bytes(path)
    problems = ProblemList(str(path))
    records = _records_from_bytes(raw, problems)
    fmt = _detect(records, problems) if records else None
    samples = []
    for i, record in enumerate(records):
        if fmt and isinstance(record, dict) and _record_format(record) == fmt:
            sample = _to_sample(record, i, fmt, problems)
            if sample is not None:
                samples.append(sample)
    _raise_if_any(problems)
    return Dataset(path=str(path), format=fmt, samples=samples, sha256=hashlib.sha256(raw).hexdigest())
