"""After training: what the adapter measurably does. Numbers only; doctor.py turns them into
findings and a verdict.

    weights      per LoRA module: ||A||, ||B||, ||dW|| = ||B @ A|| * alpha/r, ||W||, ||dW||/||W||
                 (read from adapter_model.safetensors; a B still at zero means dW = 0)
    loss         mean token loss with the adapter off and on, on (a capped subset of) the
                 training samples and on held-out samples that carry answers
    kl           mean KL(base || adapter) of the next-token distribution on probe prompts
    generations  greedy answers, base and adapter side by side, on the probes
    markers      share of answers holding any style marker, base and adapter
    curve        the training and eval curves from metrics.jsonl

Base and adapter run on one loaded model: "base" is PEFT's `disable_adapter()`, the same
switch the chat engine uses, so no second copy of the weights is needed.
"""

from __future__ import annotations

import json
import math
import os.path
import re
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Callable, Iterator

import torch

from ..data.formatting import END_OF_TURN_MARKERS, encode_prompt
from ..data.readers import load_dataset, read_records
from ..data.records import Sample
from .thresholds import Thresholds

# Measurement sizes (not decision thresholds): enough samples for a stable mean token loss
# (32 samples are thousands of tokens), and probes: a held-out file is asked in full up to 32
# (one decoding batch per side), since a rate over 12 answers moves 8 points per answer.
MAX_TRAIN_SAMPLES = 32
DEFAULT_N_PROBES = 32


# ---------------------------------------------------------------- probes


@dataclass
class Probe:
    messages: list[dict]  # the conversation up to the user turn the model should answer
    answer: str | None = None  # a reference answer, when the probe carries one (held-out loss)
    expect_any: list[str] = field(default_factory=list)  # fact keywords: right if any occurs
    kind: str = ""  # automatic held-out prompts: "reworded" (a training question in other words) or "unseen"

    @property
    def prompt(self) -> str:
        return self.messages[-1]["content"]


def probe_from_sample(sample: Sample) -> Probe:
    """A dataset sample as a probe: everything before its last assistant turn is the prompt."""
    last = max(i for i, m in enumerate(sample.messages) if m["role"] == "assistant")
    return Probe(messages=sample.messages[:last], answer=sample.messages[last]["content"])


def is_probe_file(records: list) -> bool:
    """Held-out prompts ({"prompt": ...} records) rather than training data."""
    return bool(records) and all(isinstance(r, dict) and isinstance(r.get("prompt"), str) for r in records)


def read_probes(path: str | Path) -> list[Probe]:
    """{"prompt", "expect_any"?, "answer"?, "system"?, "kind"?} records (JSON array or JSONL), or
    any dataset file our readers read (Alpaca, ShareGPT, messages)."""
    records = read_records(path)
    if is_probe_file(records):
        probes = []
        for r in records:
            messages = [{"role": "system", "content": r["system"]}] if r.get("system") else []
            messages.append({"role": "user", "content": r["prompt"]})
            answer = r.get("answer") or r.get("output") or None
            probes.append(Probe(messages, answer, [str(x) for x in r.get("expect_any") or []], str(r.get("kind") or "")))
        return probes
    return [probe_from_sample(s) for s in load_dataset(path).samples]


def spread(items: list, n: int) -> list:
    """n items evenly spaced over the list (keeps every category of an ordered file in view)."""
    if n <= 0 or len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# ---------------------------------------------------------------- the training curve


def read_curve(rows: list[dict], t: Thresholds) -> dict:
    """Loss and eval curves (metrics.jsonl's rows), summarised: first/last windows, extremes, best eval and where."""
    steps = [r for r in rows if r.get("type") == "step"]
    evals = [r for r in rows if r.get("type") == "eval"]
    losses = [float(r["loss"]) for r in steps]
    finite = [x for x in losses if math.isfinite(x)]
    out: dict = {"steps": len(steps), "non_finite_steps": [r["step"] for r, x in zip(steps, losses) if not math.isfinite(x)],
                 "live_findings": {}}
    for r in rows:
        for code in r.get("findings") or []:
            out["live_findings"].setdefault(code, r.get("step"))
    if finite:
        pairs = [(r["step"], x) for r, x in zip(steps, losses) if math.isfinite(x)]
        # The window the live monitor uses, shrunk for short runs so first and last do not overlap.
        w = max(1, min(t.loss_window, len(finite) // 2))
        out.update(
            window=w,
            first_loss=finite[0], last_loss=finite[-1],
            first_window_mean=fmean(finite[:w]), last_window_mean=fmean(finite[-w:]),
            min_loss=min(finite), max_loss=max(finite),
            max_lr=max(float(r.get("lr", 0.0)) for r in steps),
        )
        out["drop"] = 1 - out["last_window_mean"] / out["first_window_mean"] if out["first_window_mean"] > 0 else 0.0
        if len(pairs) > w:  # the highest loss after the first window (the monitor's blow-up rule)
            out["peak_step"], out["peak_after_first_window"] = max(pairs[w:], key=lambda p: p[1])
    out["eval"] = [[r["step"], float(r["eval_loss"])] for r in evals]
    good = [(s, x) for s, x in out["eval"] if math.isfinite(x)]
    if good:
        best_step, best = min(good, key=lambda p: p[1])
        out.update(best_eval=best, best_eval_step=best_step, last_eval=good[-1][1], last_eval_step=good[-1][0])
        # Train loss around the best eval and at the end: did training keep falling meanwhile?
        w = out.get("window", 1)
        at_best = [float(r["loss"]) for r in steps if r["step"] <= best_step and math.isfinite(float(r["loss"]))][-w:]
        if at_best:
            out["train_at_best_eval"] = fmean(at_best)
    return out


# ---------------------------------------------------------------- adapter weights


def _scale(name: str, config: dict) -> tuple[int, float]:
    """rank and alpha/r (alpha/sqrt(r) with rsLoRA) of one module, honouring PEFT's patterns."""
    r, alpha = config.get("r", 8), config.get("lora_alpha", 8)
    for pattern, value in (config.get("rank_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", name):
            r = value
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", name):
            alpha = value
    return r, alpha / (math.sqrt(r) if config.get("use_rslora") else r)


def adapter_weight_stats(adapter_dir: str | Path, base_weight: Callable[[str], torch.Tensor | None] | None = None,
                         t: Thresholds | None = None) -> dict:
    """Per-module norms of a saved LoRA adapter; `base_weight(key_prefix)` gives W for ||dW||/||W||.

    ||B @ A||_F is computed as sqrt(trace((A A^T)(B^T B))), two r x r products, so a 4096-wide
    layer costs no 4096 x 4096 matrix.
    """
    from safetensors.torch import load_file

    t = t or Thresholds()
    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        m = re.match(r"(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$", key)
        if m:
            pairs.setdefault(m.group(1), {})[m.group(2)] = tensor
    modules = []
    for prefix in sorted(pairs):
        a, b = pairs[prefix].get("A"), pairs[prefix].get("B")
        if a is None or b is None:
            continue
        name = prefix.removeprefix("base_model.model.")
        r, scale = _scale(name, config)
        a64, b64 = a.double(), b.double()
        finite = bool(torch.isfinite(a64).all() and torch.isfinite(b64).all())
        delta = math.sqrt(max(float(torch.trace((a64 @ a64.T) @ (b64.T @ b64))), 0.0)) * scale if finite else float("nan")
        row = {"module": name, "rank": r, "a_norm": float(a64.norm()), "b_norm": float(b64.norm()),
               "delta_norm": delta, "finite": finite}
        w = base_weight(prefix) if base_weight else None
        if w is not None:
            row["w_norm"] = float(w.double().norm())
            row["delta_rel"] = delta / row["w_norm"] if row["w_norm"] else float("nan")
        modules.append(row)
    b_norms = [m["b_norm"] for m in modules if m["finite"]]
    rels = [m["delta_rel"] for m in modules if "delta_rel" in m and math.isfinite(m["delta_rel"])]
    return {
        "modules": len(modules),
        "file_bytes": (adapter_dir / "adapter_model.safetensors").stat().st_size,
        "zero_b_modules": sum(1 for x in b_norms if x <= t.identity_b_norm),
        "non_finite_modules": [m["module"] for m in modules if not m["finite"]],
        "b_norm_max": max(b_norms, default=0.0),
        "b_norm_mean": fmean(b_norms) if b_norms else 0.0,
        "delta_rel_mean": fmean(rels) if rels else None,
        "delta_rel_max": max(rels) if rels else None,
        "lora_alpha": config.get("lora_alpha"), "r": config.get("r"),
        "per_module": modules,
    }


# ---------------------------------------------------------------- base vs adapter on one model


@dataclass
class Reference:
    """A PEFT model holding the run's adapter, switched off and on by PEFT's own API (not
    through the chat engine, whose path the serving check tests separately)."""

    model: object  # peft.PeftModel
    adapter: str
    tokenizer: object  # carries the run's chat template
    device: str = "cpu"
    lock: object = None  # the engine's lock when the model is shared with one

    @contextmanager
    def side(self, adapter_on: bool) -> Iterator[None]:
        with self.lock or nullcontext():
            if adapter_on:
                self.model.set_adapter(self.adapter)
                ctx = nullcontext()
            else:
                ctx = self.model.disable_adapter()
            with ctx, torch.inference_mode():
                yield

    def end_ids(self) -> list[int]:
        vocab = self.tokenizer.get_vocab()
        ids = {self.tokenizer.eos_token_id} | {vocab[m] for m in END_OF_TURN_MARKERS if m in vocab}
        return sorted(i for i in ids if i is not None)


# Prompts decoded together. A CPU decode step streams every weight from memory, so rows come
# cheap: on a 2-core machine 48 tokens of SmolLM2-135M took 6.5 s for one row, 20 s for 16. One
# batch of up to 64 holds all the doctor's probes (32) or general questions (30): one call per
# side, not two. On a GPU the rows cost little memory (a 7B model's cache: ~2 GB at 64 x 600).
GENERATE_BATCH = 64


def _left_padded(seqs: list[list[int]], pad: int, device: str, shared: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and attention mask (B, T): generation appends on the right, so every row's
    last prompt token must sit in the last column. With a `shared` prefix already in the cache, the
    padding goes after it: [prefix][padding][rest of the prompt]; the mask's zeros keep it out of
    attention, and positions count only real tokens (generate derives them from the mask)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : shared] = torch.tensor(s[:shared], dtype=torch.long)
        mask[row, : shared] = 1
        ids[row, width - len(s) + shared:] = torch.tensor(s[shared:])
        mask[row, width - len(s) + shared:] = 1
    return ids.to(device), mask.to(device)


def greedy(ref: Reference, conversations: list[list[dict]], adapter_on: bool, max_new_tokens: int,
           stopped: list[bool] | None = None, first: list[torch.Tensor] | None = None) -> list[str]:
    """Greedy answers to each conversation, decoded GENERATE_BATCH at a time; `stopped` gets, per
    answer, whether it ended on a stop token (False: it ran to max_new_tokens); `first`, the
    log-probabilities of the first answer token (one (B, V) tensor per batch)."""
    prompts = [encode_prompt(ref.tokenizer, m) for m in conversations]
    with ref.side(adapter_on):
        answers = _decode(ref, prompts, max_new_tokens, None, first)
    if stopped is not None:
        stopped.extend(s for _, s in answers)
    return [text for text, _ in answers]


def greedy_both(ref: Reference, conversations: list[list[dict]], max_new_tokens: int,
                stopped: dict | None = None, first: dict | None = None) -> tuple[list[str], list[str]]:
    """Base and adapter answers to each conversation, decoded in the same batches: PEFT sends each
    row through the adapter or around it (`adapter_names`, "__base__"), so both sides share every
    decode step's reading of the weights, which is most of a CPU step's time. `stopped` and
    `first` are keyed by adapter_on (False / True), as greedy fills them."""
    prompts = [encode_prompt(ref.tokenizer, m) for m in conversations]
    names = [BASE_ROWS] * len(prompts) + [ref.adapter] * len(prompts)
    rows: list[torch.Tensor] | None = [] if first is not None else None
    with ref.side(True):
        answers = _decode(ref, prompts + prompts, max_new_tokens, names, rows)
    base, adapter = answers[: len(prompts)], answers[len(prompts):]
    if stopped is not None:
        stopped.setdefault(False, []).extend(s for _, s in base)
        stopped.setdefault(True, []).extend(s for _, s in adapter)
    if first is not None and rows:  # (no forward call: nothing was asked)
        both = torch.cat(rows)  # (2N, V)
        first.setdefault(False, []).append(both[: len(prompts)])
        first.setdefault(True, []).append(both[len(prompts):])
    return [text for text, _ in base], [text for text, _ in adapter]


BASE_ROWS = "__base__"  # PEFT's name for rows of a mixed batch that take no adapter


def _decode(ref: Reference, prompts: list[list[int]], max_new_tokens: int, names: list[str] | None,
            first: list[torch.Tensor] | None = None) -> list[tuple[str, bool]]:
    """(answer, ended on a stop token) per prompt; `names`: the adapter of each row (mixed batch);
    `first` gets each batch's first-step log-probabilities, read from the prompt's forward pass."""
    pad, ends = ref.tokenizer.pad_token_id or 0, set(ref.end_ids())
    answers = []
    for start in range(0, len(prompts), GENERATE_BATCH):
        part, part_names = prompts[start : start + GENERATE_BATCH], names[start : start + GENERATE_BATCH] if names else None
        cached = _shared_prefix_cache(ref, part, part_names)
        ids, mask = _left_padded(part, pad, ref.device, cached[0] if cached else 0)  # (B, T)
        mixed = {"adapter_names": part_names} if part_names else {}
        if cached:
            mixed[_cache_name()] = cached[1]
        with _first_logits(ref.model, first):
            out = ref.model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                temperature=None, top_p=None, top_k=None, eos_token_id=sorted(ends), pad_token_id=pad, **mixed,
            )  # (B, T + new)
        for row in out[:, ids.shape[1]:].tolist():
            cut = next((i for i, t in enumerate(row) if t in ends), None)  # rows that ended early are padded
            text = ref.tokenizer.decode(row[: len(row) if cut is None else cut], skip_special_tokens=True)
            answers.append((text.strip().rstrip("\ufffd"), cut is not None))  # a character cut by the limit decodes as U+FFFD
    return answers


def _cache_name() -> str:
    """The key/value cache's name in model outputs and generate's arguments: `past_key_values`
    until transformers renamed it `cache` (where the old name still works, printing a warning)."""
    from transformers.modeling_outputs import CausalLMOutputWithPast

    return "cache" if "cache" in getattr(CausalLMOutputWithPast, "__dataclass_fields__", {}) else "past_key_values"


MIN_SHARED_PREFIX = 8  # tokens: below this, a separate forward pass for the prefix saves nothing


def _shared_prefix_cache(ref: Reference, prompts: list[list[int]], names: list[str] | None):
    """(length, key/value cache) of the prompts' common prefix (the chat template's system prompt),
    computed once per side and copied to every row, or None when they share too little. Prefill is
    most of a short decode's cost on a CPU: SmolLM2's template adds a 24-token system prompt to
    every 35-66-token probe. At least one token of each prompt stays outside, for generate to feed."""
    shared = min(len(os.path.commonprefix(prompts)), min(len(p) for p in prompts) - 1)
    if shared < MIN_SHARED_PREFIX:
        return None
    sides = sorted(set(names)) if names else [None]
    ids = torch.tensor([prompts[0][:shared]] * len(sides), device=ref.device)  # (S, P)
    mixed = {"adapter_names": sides} if names else {}
    cache = getattr(ref.model(input_ids=ids, use_cache=True, **mixed), _cache_name())
    if not hasattr(cache, "batch_select_indices"):  # a cache class that cannot be copied to rows: whole prompts
        return None
    cache.batch_select_indices(torch.tensor([sides.index(n) for n in names] if names else [0] * len(prompts),
                                            device=ref.device))  # (B, ..., P, ...): each row its side's prefix
    return shared, cache


@contextmanager
def _first_logits(model, into: list[torch.Tensor] | None) -> Iterator[None]:
    """Append to `into` the log-softmax of the model's own logits at the last prompt position in
    the first forward call (generate's prefill): the first answer token's distribution as the
    model gives it, before any logits processor a generation config adds (a repetition penalty)."""
    if into is None:
        yield
        return
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    taken: list[bool] = []

    def hook(_module, _args, output):
        if not taken:
            taken.append(True)
            into.append(torch.log_softmax(output.logits[:, -1].float(), dim=-1))  # (B, V)

    handle = inner.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def has_any(text: str, words: list[str]) -> bool:
    """Any word in the text, ignoring case ("Blue." holds "blue")."""
    text = text.casefold()
    return any(w and w.casefold() in text for w in words)


# (conversations, adapter_on) -> one answer text per conversation: the PEFT reference below
# (batched), or any chat path (knowledge.py)
Answerer = Callable[[list[list[dict]], bool], list[str]]


class ReferenceAnswerer:
    """The PEFT reference as an Answerer, which can also answer both sides in one batch (`both`).
    `stopped`, when given, collects greedy's stop flags under adapter_on (False / True); `first`,
    the first answer token's log-probabilities (one (N, V) tensor per call and side)."""

    def __init__(self, ref: Reference, max_new_tokens: int, stopped: dict | None = None, first: dict | None = None):
        self.ref, self.max_new_tokens, self.stopped, self.first = ref, max_new_tokens, stopped, first

    def __call__(self, conversations: list[list[dict]], adapter_on: bool) -> list[str]:
        flags = None if self.stopped is None else self.stopped.setdefault(adapter_on, [])
        rows = None if self.first is None else []
        answers = greedy(self.ref, conversations, adapter_on, self.max_new_tokens, flags, rows)
        if rows:
            self.first.setdefault(adapter_on, []).append(torch.cat(rows))
        return answers

    def both(self, conversations: list[list[dict]]) -> tuple[list[str], list[str]]:
        return greedy_both(self.ref, conversations, self.max_new_tokens, self.stopped, self.first)


def reference_answerer(ref: Reference, max_new_tokens: int, stopped: dict | None = None,
                       first: dict | None = None) -> ReferenceAnswerer:
    return ReferenceAnswerer(ref, max_new_tokens, stopped, first)


def both_sides(answer: Answerer, conversations: list[list[dict]]) -> tuple[list[str], list[str]]:
    """(base answers, adapter answers): in one batch where the answerer can, else one side after the other."""
    both = getattr(answer, "both", None)
    return both(conversations) if both else (answer(conversations, False), answer(conversations, True))


def answer_rows(answer: Answerer, probes: list[Probe], markers: list[str] | None) -> list[dict]:
    """Base and adapter answers per probe, with whether each holds a marker and an expected fact."""
    conversations = [p.messages for p in probes]
    base, adapter = both_sides(answer, conversations)
    rows = []
    for p, b, a in zip(probes, base, adapter, strict=True):
        row = {"prompt": p.prompt, "base": b, "adapter": a}
        if p.kind:
            row["kind"] = p.kind
        if markers:
            row["base_marker"], row["adapter_marker"] = has_any(b, markers), has_any(a, markers)
        if p.expect_any:
            row["expect_any"] = p.expect_any
            row["base_fact"], row["adapter_fact"] = has_any(b, p.expect_any), has_any(a, p.expect_any)
        rows.append(row)
    return rows


def rates(rows: list[dict], key: str) -> dict | None:
    """Share of base and adapter answers with `key` (marker / fact) set, over rows that have it."""
    rows = [r for r in rows if f"base_{key}" in r]
    if not rows:
        return None
    base = sum(r[f"base_{key}"] for r in rows) / len(rows)
    adapter = sum(r[f"adapter_{key}"] for r in rows) / len(rows)
    return {"answers": len(rows), "base_rate": base, "adapter_rate": adapter, "gain": adapter - base}
