"""The serving check: does the chat path a user talks to apply the adapter, with the run's template?

Two chat paths answer the same questions:
    EngineChat   the in-process `ChatEngine` (generate + next_token_logprobs)
    ServerChat   a running studio server: `POST {url}/v1/chat/completions` (OpenAI-compatible,
                 `model` = adapter name or "base") and `GET {url}/api/engine/template?adapter=NAME`
                 → {"sha256": ...}
Each probe is asked with the adapter and without it; if every answer and its log-probabilities
are the base's, the adapter is not applied on that path (unsloth #2009: vLLM silently ignores a
LoRA request with id 0).
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

import torch

from ..errors import StudioError

BASE = "base"  # the model name that selects the base (serving.engine.BASE)


@dataclass
class Answer:
    text: str
    logprobs: torch.Tensor | list[float] | None  # full next-token distribution (V,) or per-token list


class ChatPath(Protocol):
    target: str

    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer: ...

    def template_sha256(self, adapter: str) -> str | None: ...


class EngineChat:
    """The in-process chat engine, through its public chat API only."""

    def __init__(self, engine):
        self.engine = engine
        self.target = f"engine ({type(engine).__name__})"

    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer:
        from ..serving.engine import GenerationConfig

        gen = self.engine.generate(messages, adapter=model, config=GenerationConfig(max_new_tokens=max_new_tokens))
        return Answer(gen.text, self.engine.next_token_logprobs(messages, adapter=model))

    def template_sha256(self, adapter: str) -> str | None:
        return self.engine.template_sha256(adapter)


class ServerChat:
    """A studio server's OpenAI-compatible chat API, over HTTP (stdlib only).

    A server started with a token wants it on every call: give the URL `lorastudio serve`
    prints (`http://host:port/?token=...`) or set LORASTUDIO_TOKEN.
    """

    def __init__(self, url: str, timeout: float = 120.0, token: str | None = None):
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        self.token = token or (query.get("token") or [None])[0] or os.environ.get("LORASTUDIO_TOKEN")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.target = f"server {self.url}"
        self.timeout = timeout

    def _request(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method="POST" if body is not None else "GET", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300]
            raise StudioError(f"the server at {self.url} answered {path} with HTTP {e.code}: {detail}",
                              fix="check that the adapter is loaded in the server under the name the doctor uses "
                                  "(--adapter NAME), and that the server is a LoRA Studio server") from e
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise StudioError(f"could not reach the server at {self.url}: {reason}",
                              fix="start it (`lorastudio serve`) or pass the right --server URL, "
                                  "or drop --server to check the in-process chat engine") from e
        except json.JSONDecodeError as e:
            raise StudioError(f"the server at {self.url} did not answer {path} with JSON: {e}",
                              fix="point --server at a LoRA Studio server (its root URL, without /v1)") from e

    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer:
        out = self._request("/v1/chat/completions", {
            "model": model, "messages": messages, "max_tokens": max_new_tokens,
            "temperature": 0, "logprobs": True, "top_logprobs": 1, "stream": False,
        })
        try:
            choice = out["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as e:
            raise StudioError(f"the server at {self.url} answered without choices[0].message.content: {str(out)[:200]}",
                              fix="the doctor needs an OpenAI-compatible /v1/chat/completions") from e
        content = ((choice.get("logprobs") or {}).get("content")) or []
        logprobs = [float(c["logprob"]) for c in content if isinstance(c, dict) and "logprob" in c] or None
        return Answer(text.strip(), logprobs)

    def template_sha256(self, adapter: str) -> str | None:
        out = self._request("/api/engine/template?" + urllib.parse.urlencode({"adapter": adapter}))
        return out.get("sha256")


def logprob_gap(a, b) -> float | None:
    """Largest |a - b| over the log-probabilities both report; None when either is missing."""
    if a is None or b is None:
        return None
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return math.inf
        return float((a - b).abs().nan_to_num(nan=math.inf).max())
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        return math.inf if len(a) != len(b) else None
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def check_chat_path(chat: ChatPath, adapter: str, prompts: list[list[dict]], max_new_tokens: int) -> dict:
    """Ask each prompt with the adapter and with the base; count identical answers, and the
    largest log-probability difference between the two."""
    rows, gaps = [], []
    for messages in prompts:
        with_adapter = chat.answer(messages, adapter, max_new_tokens)
        base = chat.answer(messages, BASE, max_new_tokens)
        gap = logprob_gap(with_adapter.logprobs, base.logprobs)
        if gap is not None:
            gaps.append(gap)
        rows.append({"prompt": messages[-1]["content"], "base": base.text, "adapter": with_adapter.text,
                     "same": with_adapter.text == base.text, "logprob_gap": gap})
    return {
        "target": chat.target, "adapter": adapter, "probes": len(rows),
        "same_answers": sum(r["same"] for r in rows),
        "max_logprob_gap": max(gaps) if gaps else None,
        "logprobs_compared": len(gaps),
        "template_sha256": chat.template_sha256(adapter),
        "answers": rows,
    }
