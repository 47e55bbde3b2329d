"""The serving check: does the chat path a user talks to apply the adapter, with the run's template?

Two chat paths answer the same questions:
    EngineChat   the in-process `ChatEngine` (generate + next_token_logprobs)
    ServerChat   any OpenAI-compatible server (vLLM, Ollama, llama.cpp's llama-server, LM Studio,
                 `lorastudio serve`): `GET /v1/models` and `POST /v1/chat/completions` only, greedy
                 (temperature 0), with log-probabilities where the server gives them. A LoRA
                 Studio server's `GET /api/engine/template?adapter=NAME` → {"sha256"} is used when
                 it answers, never required.
Each probe is asked under the adapter's served name and, where the path has one, the base's; the
doctor compares the answers with its own in-process answers with and without the adapter
(served.py decides). The classic failure: vLLM silently serves the base for a LoRA request with
id 0; Ollama needs an ADAPTER line; llama.cpp's server needs --lora and a scale.

`alternative_answers` re-asks the doctor's own model under other chat templates a server might
use (the base's own, ChatML, none at all), to name a template mismatch when the served answers
match none of the doctor's.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from ..errors import StudioError
from ..models.tiny import CHATML_TEMPLATE

BASE = "base"  # the model name that selects the base (serving.engine.BASE)


@dataclass
class Answer:
    text: str
    logprobs: torch.Tensor | list[float] | None  # full next-token distribution (V,) or per-token list
    finished: bool | None = None  # ended on a stop token (False: ran to max_new_tokens; None: unknown)


class ChatPath(Protocol):
    target: str
    base: str | None  # the name that asks for the base model on this path; None where there is none

    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer: ...

    def template_sha256(self, adapter: str) -> str | None: ...


class EngineChat:
    """The in-process chat engine, through its public chat API only."""

    base = BASE

    def __init__(self, engine):
        self.engine = engine
        self.target = f"engine ({type(engine).__name__})"

    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer:
        from ..serving.engine import GenerationConfig

        gen = self.engine.generate(messages, adapter=model, config=GenerationConfig(max_new_tokens=max_new_tokens))
        stopped = getattr(gen, "stopped", None)  # engines that do not say: stopped short of the limit
        return Answer(gen.text, self.engine.next_token_logprobs(messages, adapter=model),
                      stopped if stopped is not None else gen.n_tokens < max_new_tokens)

    def template_sha256(self, adapter: str) -> str | None:
        return self.engine.template_sha256(adapter)


SERVED_NAMES_FIX = ("pass --server-model NAME, the name the adapter is served under (vLLM: its --lora-modules name; "
                    "Ollama: the model created with the ADAPTER line; llama.cpp's server answers any name with what it "
                    "loaded), and --server-base NAME for the base model where the server also serves it")


class ServerChat:
    """An OpenAI-compatible server over HTTP (httpx).

    `model`: the name the adapter is served under (default: the run folder's name, which a LoRA
    Studio server uses); `base`: the base model's name there (default: "base" on a LoRA Studio
    server, else none). A server started with a token wants it on every call: give the URL
    `lorastudio serve` prints (`http://host:port/?token=...`) or set LORASTUDIO_TOKEN; another
    server's API key goes the same way (OPENAI_API_KEY is not read: it is not sent to a server the
    user did not name it for).
    """

    def __init__(self, url: str, model: str | None = None, base: str | None = None, timeout: float = 120.0,
                 token: str | None = None):
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        self.token = token or (query.get("token") or [None])[0] or os.environ.get("LORASTUDIO_TOKEN")
        path = parts.path.rstrip("/").removesuffix("/v1")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.target = f"server {self.url}"
        self.timeout = timeout
        self.model, self.base = model, base
        self.listed: list[str] = []
        self.studio = False  # a LoRA Studio server (its template endpoint answered)
        self.notes: list[str] = []
        self._logprobs = True  # asked for until the server refuses them

    # ---- HTTP
    def _client(self):
        import httpx

        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=self.timeout)

    def _call(self, method: str, path: str, body: dict | None = None):
        """(status, JSON or None, text); raises StudioError when the server cannot be reached."""
        import httpx

        try:
            with self._client() as client:
                resp = client.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise StudioError(f"could not reach the server at {self.url}: {type(e).__name__}: {e}",
                              fix="start it, or pass the right --server URL (its root, e.g. http://127.0.0.1:8000), "
                                  "or drop --server to check the in-process chat engine") from e
        try:
            data = resp.json()
        except ValueError:
            data = None
        return resp.status_code, data, resp.text[:300]

    def _not_openai(self, what: str) -> StudioError:
        return StudioError(f"the server at {self.url} is not OpenAI-compatible: {what}",
                           fix="point --server at the root of an OpenAI-compatible server (one that answers GET "
                               "/v1/models and POST /v1/chat/completions), e.g. http://127.0.0.1:8000")

    # ---- setup
    def connect(self, default_model: str) -> None:
        """Check that the server is there and speaks the OpenAI API, and settle the adapter's and
        the base's names; fails before the doctor loads any model."""
        status, data, text = self._call("GET", "/v1/models")
        if status in (401, 403):
            raise StudioError(f"the server at {self.url} refused GET /v1/models (HTTP {status}): it wants a token",
                              fix="add ?token=KEY to --server, or set LORASTUDIO_TOKEN=KEY")
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise self._not_openai(f"GET /v1/models answered HTTP {status}: {text!r}")
        self.listed = [str(m.get("id")) for m in data["data"] if isinstance(m, dict) and m.get("id") is not None]
        sha = self.template_sha256(self.model or default_model)
        self.studio = sha is not None
        if self.model is None and default_model not in self.listed:
            raise StudioError(f"the server at {self.url} serves no model named '{default_model}' "
                              f"(GET /v1/models lists: {', '.join(self.listed) or 'none'})", fix=SERVED_NAMES_FIX)
        self.model = self.model or default_model
        if self.base is None and self.studio:
            self.base = BASE
        for name, flag in ((self.model, "--server-model"), (self.base, "--server-base")):
            if name and name != BASE and name not in self.listed:
                self.notes.append(f"{flag} '{name}' is not listed by GET /v1/models ({', '.join(self.listed) or 'none'}); "
                                  "asked anyway (some servers, llama.cpp's, answer any name)")

    # ---- answers
    def answer(self, messages: list[dict], model: str, max_new_tokens: int) -> Answer:
        body = {"model": model, "messages": messages, "max_tokens": max_new_tokens, "temperature": 0, "stream": False}
        status, out, text = self._call("POST", "/v1/chat/completions", {**body, "logprobs": True, "top_logprobs": 1}
                                       if self._logprobs else body)
        if status in (400, 422) and self._logprobs:  # a server that does not take logprobs: ask without them
            self._logprobs = False
            status, out, text = self._call("POST", "/v1/chat/completions", body)
        if status != 200:
            raise StudioError(f"the server at {self.url} answered POST /v1/chat/completions for model '{model}' with "
                              f"HTTP {status}: {text!r}", fix=SERVED_NAMES_FIX)
        try:
            choice = out["choices"][0]
            content = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as e:
            raise self._not_openai(f"POST /v1/chat/completions answered without choices[0].message.content: {text!r}") from e
        tokens = ((choice.get("logprobs") or {}).get("content")) or []
        logprobs = [float(c["logprob"]) for c in tokens if isinstance(c, dict) and "logprob" in c] or None
        finished = {"stop": True, "eos": True, "length": False}.get(choice.get("finish_reason"))
        return Answer(content.strip(), logprobs, finished)

    def template_sha256(self, adapter: str) -> str | None:
        """The LoRA Studio template hash; None on any other server."""
        status, data, _ = self._call("GET", "/api/engine/template?" + urllib.parse.urlencode({"adapter": adapter}))
        return data.get("sha256") if status == 200 and isinstance(data, dict) else None


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


def check_chat_path(chat: ChatPath, adapter: str, prompts: list[list[dict]], max_new_tokens: int,
                    template_sha256: str | None = None, enough: Callable[[list[dict]], bool] | None = None) -> dict:
    """Ask each prompt under the adapter's name and, where the path has one, the base's; count
    identical answers and the largest log-probability difference between the two. `enough(rows)`
    after each prompt may end the check early (the answers so far leave nothing to decide).
    `template_sha256`: the path's template hash when the caller has asked for it already."""
    rows, gaps = [], []
    for messages in prompts:
        if enough is not None and rows and enough(rows):
            break
        with_adapter = chat.answer(messages, adapter, max_new_tokens)
        row = {"prompt": messages[-1]["content"], "adapter": with_adapter.text, "adapter_finished": with_adapter.finished}
        if chat.base is not None:
            base = chat.answer(messages, chat.base, max_new_tokens)
            gap = logprob_gap(with_adapter.logprobs, base.logprobs)
            if gap is not None:
                gaps.append(gap)
            row.update(base=base.text, same=with_adapter.text == base.text, logprob_gap=gap)
        rows.append(row)
    return {
        "target": chat.target, "adapter": adapter, "base": chat.base, "probes": len(rows), "of_probes": len(prompts),
        "same_answers": sum(r["same"] for r in rows) if chat.base is not None else None,
        "max_logprob_gap": max(gaps) if gaps else None,
        "logprobs_compared": len(gaps),
        "template_sha256": template_sha256 if template_sha256 is not None else chat.template_sha256(adapter),
        "notes": list(getattr(chat, "notes", [])),
        "answers": rows,
    }


# ---------------------------------------------------------------- other templates a server may use

# What a server renders with when it does not use the run's template: the GGUF's or tokenizer's
# own template (the base model's), ChatML (llama.cpp's fallback for a file without one), or the
# user's text alone (Ollama's "{{ .Prompt }}" for a model created without a TEMPLATE line).
NO_TEMPLATE = "{{ messages[-1]['content'] }}"


def template_candidates(training: str | None, own: str | None) -> list[tuple[str, str]]:
    """(name, template) of the renderings to try, each different from the training template."""
    out = [("the base model's own chat template", own), ("ChatML", CHATML_TEMPLATE),
           ("no template (the user's text alone, as Ollama without a TEMPLATE line)", NO_TEMPLATE)]
    seen = {training}
    picked = []
    for name, text in out:
        if text and text not in seen:
            seen.add(text)
            picked.append((name, text))
    return picked


def alternative_answers(ref, conversations: list[list[dict]], adapter_on: bool, max_new_tokens: int,
                        candidates: list[tuple[str, str]]) -> list[dict]:
    """The doctor's own greedy answers under each candidate template: [{name, sha256, answers}]."""
    import copy

    from ..data.formatting import template_hash
    from .effect import Reference, greedy

    out = []
    for name, text in candidates:
        tok = copy.copy(ref.tokenizer)  # a shallow copy: its own chat_template, the same vocabulary
        tok.chat_template = text
        other = Reference(ref.model, ref.adapter, tok, ref.device, ref.lock)
        try:
            answers = greedy(other, conversations, adapter_on, max_new_tokens)
        except Exception as e:  # a template that cannot render these messages (jinja raises): not a candidate
            out.append({"name": name, "sha256": template_hash(text), "error": f"{type(e).__name__}: {e}"})
            continue
        out.append({"name": name, "sha256": template_hash(text), "answers": answers})
    return out


def explain_served(s: dict, gens: list[dict], ref, asked: list[list[dict]], max_new_tokens: int,
                   training_template: str | None, own_template, t) -> None:
    """When the served answers are unlike the doctor's own (served.unexplained_side), add the
    doctor's answers under the other templates a server might use to s["alternatives"].
    `own_template()` gives the base model's own template (loaded only when needed)."""
    from .served import unexplained_side

    side = unexplained_side(s, gens, t)
    if side:
        candidates = template_candidates(training_template, own_template())
        s["alternatives"] = alternative_answers(ref, asked, side == "adapter", max_new_tokens, candidates)
        s["alternatives_side"] = side
