"""One record of a dataset file → one chat conversation, in each format found in the wild.

    alpaca    instruction / input / output, optional system, history, category
    sharegpt  conversations of {from, value}; `function_call` and `observation` turns and a
              `tools` field (LLaMA-Factory's tool-call data), a per-turn `loss_weight`
    messages  OpenAI messages of {role, content}; content as a string or a list of text parts,
              assistant `tool_calls`, `tool` turns, a `tools` field, a per-turn `loss_weight`

A tool call becomes an assistant message with `tool_calls` (OpenAI's shape, which chat templates
with tool support render), a tool result a `tool` message: the call is trained, the result is
context. A turn with loss_weight 0 is kept as context (`"train": False`). `{{name}}` placeholders
are filled from the run's variables; keys nobody reads are counted for one warning per key.
Every problem is reported against its record through `Record.problem`, with a code that lets
the same mistake in many records be summarised.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lorastudio.data.records import DataWarning, Sample
from lorastudio.errors import ProblemList

SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "model": "assistant",
    "system": "system",
    "function_call": "tool_call", "observation": "tool", "tool": "tool",
}
SHAREGPT_SPEAKERS = ("human/user (the question), gpt/assistant/model (the answer), system, "
                     "function_call (the assistant calling a tool), observation/tool (the tool's result)")
MESSAGE_ROLES = ("system", "user", "assistant", "tool")
# Keys each format reads; any other key is reported once (with a count) as not used.
KNOWN_KEYS = {
    "alpaca": {"instruction", "input", "output", "system", "history", "category"},
    "sharegpt": {"conversations", "system", "tools", "category"},
    "messages": {"messages", "tools", "category"},
}
TURN_KEYS = {
    "sharegpt": {"from", "value", "loss_weight", "weight"},
    "messages": {"role", "content", "tool_calls", "tool_call_id", "name", "function_call", "loss_weight", "weight"},
}
MEDIA_PARTS = {"image", "image_url", "input_image", "audio", "input_audio", "video", "video_url", "file"}
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Longer than any run can train on: max_seq_len is at most 131072 tokens, and no tokenizer packs
# 7+ characters into a token on average. Tokenizing a 10 MB field would take a minute, to be cut.
MAX_FIELD_CHARS = 1_000_000


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def unpaired_surrogate(text: str) -> int | None:
    """Where the first lone surrogate is (half of a broken "\\ud83d" escape, or undecodable
    bytes Python let through), which is not text: UTF-8 cannot encode it, tokenizers refuse it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return e.start
    return None


class Notes:
    """What a whole file's records share: the variables to fill, and the warnings and
    placeholders counted over all records."""

    def __init__(self, variables: dict[str, str] | None = None):
        self.variables = variables or {}
        self.warnings: dict[tuple[str, str], DataWarning] = {}
        self.placeholders: dict[str, int] = {}

    def warn(self, code: str, name: str, index: int) -> None:
        self.warnings.setdefault((code, name), DataWarning(code, name)).add(index)


class Record:
    """One record being converted: reports problems against its index."""

    def __init__(self, record: dict, index: int, problems: ProblemList, notes: Notes):
        self.record, self.index, self.problems, self.notes = record, index, problems, notes
        self.ok = True
        self._placeholders: dict[str, None] = {}  # in the order met

    def problem(self, field: str | None, message: str, code: str | None = None) -> None:
        self.ok = False
        self.problems.add(self.index, field, message, code)

    def text(self, value: Any, field: str, what: str, required: bool = True) -> str | None:
        """A non-empty string (placeholders filled), or None after reporting why not."""
        if value is None and not required:
            return None
        if value is None:
            self.problem(field, f"is missing; add {what}", "missing")
        elif not isinstance(value, str):
            self.problem(field, f"must be a string, got a JSON {json_type(value)}; write {what} as text", "not_text")
        elif not value.strip() and required:
            self.problem(field, f"is empty; write {what} here or remove the record", "empty")
        elif len(value) > MAX_FIELD_CHARS:
            self.problem(field, f"is {len(value):,} characters long, more than any run can train on "
                                f"({MAX_FIELD_CHARS:,} at most); split it into shorter samples or remove the record", "too_long")
        elif (at := unpaired_surrogate(value)) is not None:
            self.problem(field, f"holds an unpaired surrogate escape ({value[at]!r} at character {at}), "
                                "which is not text; fix the escape (a \\uD83D\\uDE00 pair is one emoji) or remove it", "surrogate")
        else:
            return self.fill(value) if value.strip() else None
        return None

    def fill(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            name = m.group(1)
            self._placeholders[name] = None
            return self.notes.variables.get(name, m.group(0))

        return PLACEHOLDER.sub(sub, text) if "{{" in text else text

    def content(self, value: Any, field: str, what: str, required: bool = True) -> str | None:
        """Message content: a string, or a list of text parts joined by newlines. Images and
        audio are refused: the models trained here read text only."""
        if not isinstance(value, list):
            return self.text(value, field, what, required)
        texts = []
        for j, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" or (kind is None and isinstance(part, dict) and "text" in part):
                texts.append(part.get("text"))
            elif isinstance(part, str):
                texts.append(part)
            elif kind in MEDIA_PARTS:
                self.problem(f"{field}[{j}]", f"is a{'n' if kind[0] in 'aeiou' else ''} {kind} part; the models trained "
                                              "here read text only: remove the part (or the record) and keep the text",
                             "media_part")
                return None
            else:
                self.problem(f"{field}[{j}]", "must be a text part like {\"type\": \"text\", \"text\": \"...\"}", "bad_part")
                return None
        return self.text("\n".join(t if isinstance(t, str) else "" for t in texts), field, what, required)

    def items(self, key: str, what: str) -> list:
        value = self.record.get(key)
        if isinstance(value, list) and value:
            return value
        got = "is missing" if value is None else "is empty" if value == [] else f"is a JSON {json_type(value)}"
        self.problem(key, f"{got}; it must be a non-empty list of {what}", "missing" if value is None else "not_list")
        return []

    def category(self) -> str | None:
        value = self.record.get("category")
        if value is not None and not isinstance(value, str):
            self.problem("category", f"must be a string, got a JSON {json_type(value)}; write the category as text", "not_text")
            return None
        return value or None

    def trained(self, turn: dict, field: str) -> bool:
        """A turn's loss_weight (or weight): 1 trains it, 0 keeps it as context."""
        key = "loss_weight" if "loss_weight" in turn else "weight" if "weight" in turn else None
        if key is None:
            return True
        value = turn[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in (0, 1):
            self.problem(f"{field}.{key}", f"is {value!r}; use 1 to train this turn or 0 to keep it as context only",
                         "bad_loss_weight")
            return True
        return value == 1

    def tools(self) -> list[dict] | None:
        """The `tools` field: a list (or a JSON string of a list) of function schemas."""
        value = self.record.get("tools")
        if value in (None, "", [], "[]"):
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                self.problem("tools", f"is not valid JSON ({e.msg} at character {e.pos}); write a JSON list of "
                                      "function schemas {\"name\", \"description\", \"parameters\"}", "bad_tools")
                return None
        value = [value] if isinstance(value, dict) else value
        if not isinstance(value, list) or not all(isinstance(t, dict) and (t.get("name") or t.get("function")) for t in value):
            self.problem("tools", "must be a list of function schemas, each {\"name\", \"description\", \"parameters\"}",
                         "bad_tools")
            return None
        return [t if "function" in t else {"type": "function", "function": t} for t in value]

    def tool_calls(self, value: Any, field: str) -> list[dict] | None:
        """A function call as LLaMA-Factory writes it (a JSON string of {name, arguments}, or a
        list of them), or OpenAI's tool_calls list, in OpenAI's shape with arguments as an object."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                self.problem(field, f"is not valid JSON ({e.msg}); a function call is "
                                    "{\"name\": \"...\", \"arguments\": {...}}", "bad_tool_call")
                return None
        calls = value if isinstance(value, list) else [value]
        out = []
        for call in calls:
            fn = call.get("function", call) if isinstance(call, dict) else None
            args = fn.get("arguments", {}) if isinstance(fn, dict) else None
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except json.JSONDecodeError:
                    args = None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(args, dict):
                self.problem(field, "must be a function call {\"name\": \"...\", \"arguments\": {...}} "
                                    "(arguments as an object or a JSON string of one)", "bad_tool_call")
                return None
            out.append({"type": "function", "function": {"name": self.fill(fn["name"]), "arguments": args}})
        return out

    def finish(self) -> None:
        """Count this record's placeholders and unknown keys in the file's notes."""
        for name in self._placeholders:
            self.notes.placeholders[name] = self.notes.placeholders.get(name, 0) + 1
            if name not in self.notes.variables:
                self.notes.warn("unfilled_placeholder", name, self.index)


# ---------------------------------------------------------------- per-format conversion


def _unknown_keys(rec: Record, fmt: str, turns: list) -> None:
    for key in rec.record:
        if key not in KNOWN_KEYS[fmt]:
            rec.notes.warn("unknown_key", str(key), rec.index)
    known = TURN_KEYS.get(fmt, set())
    seen = {str(k) for turn in turns if isinstance(turn, dict) for k in turn if k not in known}
    for key in seen:
        rec.notes.warn("unknown_key", f"{'conversations' if fmt == 'sharegpt' else 'messages'}[].{key}", rec.index)


def alpaca(rec: Record) -> list[dict]:
    r = rec.record
    instruction = rec.text(r.get("instruction"), "instruction", "the user's request")
    extra = rec.text(r.get("input"), "input", "the input text", required=False)
    output = rec.text(r.get("output"), "output", "the assistant's reply")
    system = rec.text(r.get("system"), "system", "the system prompt", required=False)
    messages = [{"role": "system", "content": system}] if system else []
    history = r.get("history")
    if history is not None and not isinstance(history, list):
        rec.problem("history", "must be a list of [user, assistant] pairs; e.g. [[\"hi\", \"hello!\"]]", "bad_history")
        history = []
    for j, pair in enumerate(history or []):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            rec.problem(f"history[{j}]", "must be a [user, assistant] pair of two strings", "bad_history")
            continue
        user = rec.text(pair[0], f"history[{j}][0]", "the user's message")
        reply = rec.text(pair[1], f"history[{j}][1]", "the assistant's reply")
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    _unknown_keys(rec, "alpaca", [])
    prompt = f"{instruction}\n\n{extra}" if extra and instruction else instruction
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]


def sharegpt(rec: Record) -> list[dict]:
    messages = []
    system = rec.text(rec.record.get("system"), "system", "the system prompt", required=False)
    turns = rec.items("conversations", "{\"from\": ..., \"value\": ...} turns")
    for j, turn in enumerate(turns):
        where = f"conversations[{j}]"
        if not isinstance(turn, dict):
            rec.problem(where, "must be an object like {\"from\": \"human\", \"value\": \"...\"}", "not_object")
            continue
        source = turn.get("from")
        role = SHAREGPT_ROLES.get(source.lower()) if isinstance(source, str) else None
        if role is None:
            got = "is missing" if source is None else f"has unknown speaker {source!r}"
            rec.problem(f"{where}.from", f"{got}; use one of {SHAREGPT_SPEAKERS}", "unknown_role")
        if role == "tool_call":
            message = {"role": "assistant", "content": "", "tool_calls": rec.tool_calls(turn.get("value"), f"{where}.value")}
        else:
            message = {"role": role, "content": rec.content(turn.get("value"), f"{where}.value", "the message text")}
        if message["role"] == "assistant" and not rec.trained(turn, where):
            message["train"] = False
        messages.append(message)
    if system and any(m["role"] == "system" for m in messages):
        rec.problem("system", "is given both as a top-level 'system' and as a system turn; keep only one", "two_systems")
    _unknown_keys(rec, "sharegpt", turns)
    if rec.ok:  # a broken turn would only add confusing shape errors
        check_turns(rec, messages, "conversations")
    return ([{"role": "system", "content": system}] if system else []) + messages


def messages(rec: Record) -> list[dict]:
    out = []
    turns = rec.items("messages", "{\"role\": ..., \"content\": ...} messages")
    for j, msg in enumerate(turns):
        where = f"messages[{j}]"
        if not isinstance(msg, dict):
            rec.problem(where, "must be an object like {\"role\": \"user\", \"content\": \"...\"}", "not_object")
            continue
        role = msg.get("role")
        role = role.lower() if isinstance(role, str) else role
        if role not in MESSAGE_ROLES:
            got = "is missing" if role is None else f"has unknown role {msg.get('role')!r}"
            rec.problem(f"{where}.role", f"{got}; use one of {', '.join(MESSAGE_ROLES)}", "unknown_role")
        calls = msg.get("tool_calls") or msg.get("function_call")
        message = {"role": role}
        if role == "assistant" and calls:
            key = "tool_calls" if msg.get("tool_calls") else "function_call"
            message["tool_calls"] = rec.tool_calls(calls, f"{where}.{key}")
            message["content"] = rec.content(msg.get("content"), f"{where}.content", "the message text", required=False) or ""
        else:
            message["content"] = rec.content(msg.get("content"), f"{where}.content", "the message text")
        if role == "assistant" and not rec.trained(msg, where):
            message["train"] = False
        out.append(message)
    _unknown_keys(rec, "messages", turns)
    if rec.ok:
        check_turns(rec, out, "messages")
    return out


CONVERTERS = {"alpaca": alpaca, "sharegpt": sharegpt, "messages": messages}


def to_sample(record: dict, index: int, fmt: str, problems: ProblemList, notes: Notes) -> Sample | None:
    rec = Record(record, index, problems, notes)
    conversation = CONVERTERS[fmt](rec)
    tools = rec.tools() if fmt != "alpaca" else None
    category = rec.category()
    rec.finish()
    return Sample(messages=conversation, index=index, category=category, tools=tools) if rec.ok else None


# ---------------------------------------------------------------- conversation shape


def check_turns(rec: Record, messages: list[dict], key: str) -> None:
    """System first (optional), then a user message; after it the assistant and the user (or the
    results of the tools the assistant called) take turns, and the assistant speaks last."""
    def at(j: int) -> str:
        return f"{key}[{j}]"

    roles = [m["role"] for m in messages]
    if "assistant" not in roles:
        rec.problem(key, "has no assistant turn; add the assistant's reply to train on", "no_answer")
        return
    for j, role in enumerate(roles):
        if role == "system" and j > 0:
            rec.problem(at(j), f"system message at {at(j)} must come first; move it to the start or drop it", "system_not_first")
            return
    chat = [(j, m) for j, m in enumerate(messages) if m["role"] != "system"]
    if chat[0][1]["role"] != "user":
        rec.problem(at(chat[0][0]), f"conversation starts with an assistant message at {at(chat[0][0])}; "
                                    "it must start with a user message", "starts_with_answer")
        return
    for (a, ma), (b, mb) in zip(chat[:-1], chat[1:], strict=True):
        ra, rb = ma["role"], mb["role"]
        if rb == "tool" and not (ra == "tool" or ma.get("tool_calls")):
            rec.problem(at(b), f"a tool result at {at(b)} must follow the assistant's tool call "
                               f"(function_call), but follows a {ra} message at {at(a)}", "orphan_tool_result")
            return
        if ra == "assistant" and ma.get("tool_calls") and rb != "tool":
            rec.problem(at(b), f"the tool call at {at(a)} is not followed by its result; add an observation "
                               f"(tool) turn at {at(b)}", "tool_call_without_result")
            return
        if ra == rb and ra != "tool":
            rec.problem(at(b), f"two consecutive {ra} messages at {at(a)} and {at(b)}; user and assistant "
                               f"must alternate, so merge them or add the missing "
                               f"{'assistant' if ra == 'user' else 'user'} turn between them", "not_alternating")
            return
        if {ra, rb} == {"user", "tool"}:
            rec.problem(at(b), f"a {rb} message at {at(b)} follows a {ra} message at {at(a)}; the assistant's turn "
                               "must come between them", "not_alternating")
            return
    last_j, last = chat[-1]
    if last["role"] != "assistant":
        rec.problem(at(last_j), f"conversation ends with a {last['role']} message at {at(last_j)}; the last message "
                                "must be the assistant's reply, so add one or remove the trailing "
                                f"{last['role']} message", "ends_without_answer")
