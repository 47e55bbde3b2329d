"""Ask a model for new training samples: new question-answer pairs per category, few-shot from
that category's seed samples, and rewordings of a seed's question.

Two ways to reach a model, both a callable `chat(messages, seed) -> str`:

  OpenAIChat   any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio ...):
               POST {endpoint}/v1/chat/completions with httpx
  LoadedEngineChat   a loaded `ChatEngine` (our own serving engine), passed in by the caller, so
               this module does not import the serving layer

Replies are asked for as JSON lines, one object per line. `parse_pairs` and
`parse_questions` keep the well-formed lines and count the rest; a reply with no usable line
at all counts as a malformed reply. `ModelGenerator` records every prompt and reply so they can
be saved next to the output (`OUT.prompts.jsonl`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

import httpx

from ..errors import ModelError

LANG_NAMES = {"zh": "Chinese (简体中文)", "en": "English"}
PAIR_KEYS = (("instruction", "output"), ("question", "answer"), ("prompt", "response"), ("q", "a"))

SYSTEM = ("You write training data for a chat assistant that speaks in a fixed persona. "
          "You reply with JSON lines only: one JSON object per line, no other text.")

PAIRS_PROMPT = """Here are example conversations from the category "{category}". Each line is one \
question a user asked and the persona's answer:

{examples}

Write {n} NEW question-answer pairs for the same category:
- in {language}, in the same voice and style as the example answers{markers}
- keep every fact consistent with the examples; do not invent new facts about the persona
- new questions, not rewordings of the example questions; answers of one to four sentences{avoid}
Reply with exactly {n} lines, each a JSON object {{"instruction": "...", "output": "..."}}."""

MARKERS_NOTE = "; every answer must contain at least one of: {markers}"
AVOID_NOTE = "\n- these questions are taken already, ask different ones: {questions}"

PARAPHRASE_PROMPT = """Reword this question {n} different ways, keeping its meaning and its language \
({language}). Vary the wording: politeness, question words, word order.

Question: {question}

Reply with exactly {n} lines, each a JSON object {{"instruction": "..."}}."""


# ---------------------------------------------------------------- talking to a model


class OpenAIChat:
    """POST {endpoint}/v1/chat/completions; `transport` lets tests answer without a server."""

    def __init__(self, endpoint: str, model: str, *, temperature: float = 0.7, max_tokens: int = 1024,
                 timeout: float = 120.0, transport: httpx.BaseTransport | None = None):
        base = endpoint.rstrip("/")
        base = base[:-3] if base.endswith("/v1") else base
        self.url = f"{base}/v1/chat/completions"
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.client = httpx.Client(timeout=timeout, transport=transport)

    def __call__(self, messages: list[dict], seed: int | None = None) -> str:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "stream": False}
        if seed is not None:
            body["seed"] = seed  # honoured by vLLM, Ollama and llama.cpp: replies repeat for a seed
        try:
            r = self.client.post(self.url, json=body)
        except httpx.HTTPError as e:
            fix = "start the server (e.g. `ollama serve`, `vllm serve MODEL`) or check --endpoint"
            raise ModelError(f"cannot reach {self.url}: {e}", fix=fix) from e
        if r.status_code != 200:
            raise ModelError(f"{self.url} answered HTTP {r.status_code}: {r.text[:300]}",
                             fix=f"check that the server serves model '{self.model}' (--model) and speaks the "
                                 "OpenAI chat-completions API")
        try:
            content = r.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ""  # counted as a malformed reply by the caller
        return content if isinstance(content, str) else ""

    def close(self) -> None:
        self.client.close()


class LoadedEngineChat:
    """A loaded ChatEngine (or anything with `.generate(messages, adapter=, config=).text`).

    `config` is the engine's GenerationConfig; the caller builds it (e.g. max_new_tokens=1024,
    temperature=0.7, seed=0), since this layer does not import the serving layer. Without one the
    engine's default applies (greedy, 256 new tokens: enough for a few short pairs).
    """

    def __init__(self, engine, config=None, adapter: str = "base"):
        self.engine, self.config, self.adapter = engine, config, adapter

    def __call__(self, messages: list[dict], seed: int | None = None) -> str:
        config = self.config
        if config is not None and seed is not None and dataclasses.is_dataclass(config) and hasattr(config, "seed"):
            config = dataclasses.replace(config, seed=seed)  # sampling repeats for the same request
        return self.engine.generate(messages, adapter=self.adapter, config=config).text

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- reading replies


def _lines(text: str) -> list[str]:
    """Reply lines with code fences and list bullets removed; a JSON array is split into items."""
    text = re.sub(r"```[a-zA-Z]*", "", text or "").strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
            if isinstance(items, list):
                return [json.dumps(i, ensure_ascii=False) for i in items]
        except json.JSONDecodeError:
            pass
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*]|\d+[.)])\s+", "", line).strip().rstrip(",")
        if line and line not in "[]":
            lines.append(line)
    return lines


def parse_pairs(text: str) -> tuple[list[dict], int]:
    """({"instruction", "output"} pairs, number of lines that were not one) from a reply."""
    pairs, bad = [], 0
    for line in _lines(text):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        pair = None
        if isinstance(obj, dict):
            for qk, ak in PAIR_KEYS:
                q, a = obj.get(qk), obj.get(ak)
                if isinstance(q, str) and isinstance(a, str) and q.strip() and a.strip():
                    pair = {"instruction": q.strip(), "output": a.strip()}
                    break
        if pair is None:
            bad += 1
        else:
            pairs.append(pair)
    return pairs, bad


def parse_questions(text: str) -> tuple[list[str], int]:
    """(questions, number of unusable lines): JSON objects with "instruction" (or "question"),
    or JSON strings."""
    out, bad = [], 0
    for line in _lines(text):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        q = obj if isinstance(obj, str) else None
        if isinstance(obj, dict):
            q = obj.get("instruction") or obj.get("question")
        if isinstance(q, str) and q.strip():
            out.append(q.strip())
        else:
            bad += 1
    return out, bad


# ---------------------------------------------------------------- prompts


def pairs_messages(category: str, examples: list[tuple[str, str]], n: int, lang: str, markers=(),
                   avoid: list[str] = ()) -> list[dict]:
    shots = "\n".join(json.dumps({"instruction": q, "output": a}, ensure_ascii=False) for q, a in examples)
    note = MARKERS_NOTE.format(markers=", ".join(markers)) if markers else ""
    taken = AVOID_NOTE.format(questions=" / ".join(avoid)) if avoid else ""
    user = PAIRS_PROMPT.format(category=category, examples=shots, n=n, language=LANG_NAMES.get(lang, lang),
                               markers=note, avoid=taken)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def paraphrase_messages(question: str, n: int, lang: str) -> list[dict]:
    user = PARAPHRASE_PROMPT.format(question=question, n=n, language=LANG_NAMES.get(lang, lang))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


@dataclass
class ModelGenerator:
    """Sends prompts, parses replies, and keeps the record: prompts, replies and counts."""

    chat: object  # OpenAIChat | LoadedEngineChat | any callable(messages, seed) -> str
    seed: int = 0
    log: list[dict] = field(default_factory=list)
    requests: int = 0
    replies_malformed: int = 0  # replies with no usable line at all
    items_malformed: int = 0  # lines that were not a usable item

    def _ask(self, kind: str, messages: list[dict], **about) -> str:
        seed = self.seed * 1000 + self.requests  # a different, reproducible seed per request
        self.requests += 1
        reply = self.chat(messages, seed)
        self.log.append({"kind": kind, **about, "seed": seed, "messages": messages, "reply": reply})
        return reply

    def new_pairs(self, category: str, examples: list[tuple[str, str]], n: int, lang: str, markers=(),
                  avoid: list[str] = ()) -> list[dict]:
        reply = self._ask("pairs", pairs_messages(category, examples, n, lang, markers, avoid), category=category)
        pairs, bad = parse_pairs(reply)
        self._count(len(pairs), bad)
        return pairs

    def paraphrases(self, question: str, n: int, lang: str, category: str | None = None) -> list[str]:
        reply = self._ask("paraphrase", paraphrase_messages(question, n, lang), category=category, question=question)
        questions, bad = parse_questions(reply)
        self._count(len(questions), bad)
        return questions

    def _count(self, good: int, bad: int) -> None:
        self.items_malformed += bad
        if good == 0:
            self.replies_malformed += 1
        self.log[-1]["parsed"], self.log[-1]["malformed_lines"] = good, bad
