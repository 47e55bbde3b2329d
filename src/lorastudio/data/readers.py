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

from lorastudio.data.conversations import Notes, json_type, to_sample
from lorastudio.data.records import Dataset
from lorastudio.errors import DataError, DataProblem, ProblemList

# The key that makes a record one format or another, checked in this order.
FORMAT_KEYS = {"messages": ("messages",), "sharegpt": ("conversations",), "alpaca": ("instruction", "output")}
NEEDS = (
    "alpaca needs 'instruction' and 'output', sharegpt needs 'conversations' "
    "(a list of {from, value}), messages needs 'messages' (a list of {role, content})"
)
NOT_JSON = {".csv", ".tsv", ".parquet", ".arrow", ".xlsx", ".xls"}
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
                                 "re-save the file as UTF-8 (in most editors: Save As, encoding UTF-8)", "not_utf8")
        return None


def _parse_text(text: str, problems: ProblemList) -> list:
    if not text.strip():
        problems.add(None, None, "is empty; add records (a JSON array, or one JSON object per line)", "empty_file")
        return []
    try:
        return _unwrap(json.loads(text))
    except json.JSONDecodeError as whole_error:
        if not _looks_like_jsonl(text):
            _add_json_error(problems, None, whole_error, text)
            return []
    except RecursionError:
        problems.add(None, None, TOO_DEEP, "too_deep")
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
            problems.add(len(records), None, f"line {line_no} {TOO_DEEP}", "too_deep")
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
                              "fix the syntax there (a missing comma, quote or bracket is the usual cause)", "invalid_json")


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
        problems.add(None, None, "has zero records; add at least one record", "no_records")
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
            problems.add(i, None, f"is a JSON {json_type(record)}, not an object; "
                                  "each record must be an object like {\"instruction\": ..., \"output\": ...}", "not_object")
            continue
        this = _record_format(record)
        if this is None:
            seen = ", ".join(repr(k) for k in list(record)[:10]) or "none"
            problems.add(i, None, f"format not recognised (keys seen: {seen}); {NEEDS}", "unknown_format")
        elif fmt is None:
            fmt, first = this, i
        elif this != fmt:
            mismatched.append((i, this))
    if mismatched:
        i, this = mismatched[0]
        problems.add(i, None, f"mixed formats: record {i} is {this} but record {first} is {fmt} "
                              f"({len(mismatched)} record(s) differ); use one format per file", "mixed_formats")
    return fmt


def detect_format(records: list, file: str = "<records>") -> str:
    """'alpaca', 'sharegpt' or 'messages'. Raises `DataError` if unrecognisable or mixed."""
    problems = ProblemList(file)
    fmt = _detect(records, problems)
    if fmt is None and not problems.total:
        problems.add(None, None, "has zero records; add at least one record", "no_records")
    _raise_if_any(problems)
    return fmt


# ---------------------------------------------------------------- entry point


def load_dataset(path: str | Path, variables: dict[str, str] | None = None) -> Dataset:
    """Read and validate a dataset file, filling `{{name}}` placeholders from `variables`.
    Raises `DataError` listing every problem found; keys it does not read and placeholders left
    unfilled come back as `Dataset.warnings`."""
    path = Path(path)
    raw = _read_bytes(path)
    problems = ProblemList(str(path))
    notes = Notes(variables)
    records = _records_from_bytes(raw, problems)
    fmt = _detect(records, problems) if records else None
    samples = []
    for i, record in enumerate(records):
        if fmt and isinstance(record, dict) and _record_format(record) == fmt:
            sample = to_sample(record, i, fmt, problems, notes)
            if sample is not None:
                samples.append(sample)
    _raise_if_any(problems)
    return Dataset(path=str(path), format=fmt, samples=samples, sha256=hashlib.sha256(raw).hexdigest(),
                   warnings=sorted(notes.warnings.values(), key=lambda w: (w.code, -w.count)),
                   placeholders=notes.placeholders)
