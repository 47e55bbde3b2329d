"""Proof that what was written is the model that was trained.

The reference is the base with the adapter applied in PEFT, fp32, exactly as `lorastudio chat
--adapter RUN` runs it: each probe is rendered with the training template and answered
greedily. What was written is reloaded by a consumer (transformers for the merged folder
and, dequantising, for GGUF files; llama.cpp when its Python binding is installed) and
measured against the reference on the same token sequences:

- teacher-forced: on prompt + the reference's answer, the logits at every answer position:
  mean and max |Δlogit|, mean KL(reference || export) in nats, top-1 agreement;
- free-running: the export's own greedy answer, equal to the reference's or not.

Two runtimes never add floats in the same order, so where the reference's best token beats the
runner-up by less than the logit noise the format allows (a near-tie), the other runtime may
pick the runner-up. Such a position counts as agreement, and an answer that parts from the
reference there is reported apart ("+1 parting at a near-tie"), not as a wrong file.

Each format has limits (LIMITS, with the reason for each number); a check that misses one
fails, and `export` reports the export as not done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..data.formatting import END_OF_TURN_MARKERS, encode_prompt, render_chat

DEFAULT_PROMPTS = ["请问阁下尊姓大名？", "What is the capital of France?", "用一句话介绍你自己。",
                   "Give me one tip for learning to code.", "今天天气怎么样？"]


@dataclass(frozen=True)
class Limits:
    max_mean: float | None  # mean |Δlogit|; None for quantised files, whose logits shift without harm
    max_kl: float  # nats per answer token
    min_agree: float  # top-1 agreement, near-ties counted as agreement
    min_greedy: float  # share of greedy answers equal (or parting at a near-tie)
    tie: float  # a reference choice won by less than this many logits is a near-tie


# - merged, f32: the same fp32 weights; differences are float rounding (transformers 1e-7,
#   llama.cpp 3e-5 mean on the tiny test models).
# - f16 GGUF: f16 rounds each weight by at most 2^-11 relative. Measured on the SmolLM2 demo
#   run: mean |Δlogit| 3.5e-3 (max 0.03), KL 3e-6, identical greedy answers; limits leave >10x room.
# - bf16 and quantised: logits move and answers drift; the limits reject a broken file (a wrong
#   layout gives KL of several nats and chance agreement), not rounding. Measured on the SmolLM2
#   demo run: q8_0 KL 6.5e-4, top-1 98.9%; q4_0 KL 0.17, top-1 83% (a 135M model loses much at 4 bits).
LIMITS = {
    "merged": Limits(1e-3, 1e-5, 1.0, 1.0, 1e-3),
    "f32": Limits(1e-3, 1e-5, 1.0, 1.0, 1e-3),
    "f16": Limits(0.05, 1e-3, 0.99, 1.0, 0.05),
    "bf16": Limits(None, 0.02, 0.9, 0.0, 0.1),
    "q8_0": Limits(None, 0.02, 0.9, 0.0, 0.1),
    "q4_0": Limits(None, 0.3, 0.6, 0.0, 0.1),
    "gguf base": Limits(None, 0.02, 0.9, 0.0, 0.1),  # a LoRA GGUF on the base's own quantised GGUF, in llama.cpp
}


@dataclass
class ProbeRef:
    messages: list[dict]
    prompt_ids: list[int]
    answer_ids: list[int]  # greedy, up to and including the end-of-turn token when reached
    answer: str
    logits: torch.Tensor = field(repr=False)  # (A, V): the logits that predict each answer token


@dataclass
class Check:
    target: str  # what was checked: "merged", "gguf f16", "gguf-lora", ...
    consumer: str  # "transformers" or "llama.cpp"
    kind: str  # a key of LIMITS
    probes: int = 0
    greedy_equal: int = 0
    greedy_ties: int = 0  # answers that part at a near-tie of the reference (see tie_margin)
    tokenizer_equal: int | None = None  # prompts the consumer's own tokenizer encodes to the same ids
    mean_abs_dlogit: float = 0.0
    max_abs_dlogit: float = 0.0
    kl_mean: float = 0.0
    top1_agree: float = 1.0
    ok: bool = False
    failed: list[str] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)  # {prompt, reference, export} per probe

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        tok = f", tokenizer {self.tokenizer_equal}/{self.probes}" if self.tokenizer_equal is not None else ""
        verdict = "ok" if self.ok else "FAILED: " + "; ".join(self.failed)
        ties = f" (+{self.greedy_ties} parting at a near-tie)" if self.greedy_ties else ""
        return (f"{self.target} in {self.consumer}: greedy {self.greedy_equal}/{self.probes} equal{ties}, "
                f"mean |Δlogit| {self.mean_abs_dlogit:.2e} (max {self.max_abs_dlogit:.2e}), KL {self.kl_mean:.2e} nats, "
                f"top-1 {self.top1_agree:.1%}{tok}: {verdict}")


def probe_messages(probes_path: str | None, n: int) -> list[list[dict]]:
    """The first n probes of the run's probe file (the held-out prompts), else built-in prompts."""
    if probes_path and Path(probes_path).is_file():
        from ..diagnosis.effect import read_probes

        return [p.messages for p in read_probes(probes_path)[:n]]
    return [[{"role": "user", "content": p}] for p in DEFAULT_PROMPTS[:n]]


def decode(tokenizer, ids: list[int]) -> str:
    """As chat shows it: special tokens out, and no U+FFFD for a character max_new_tokens cut in half."""
    return tokenizer.decode(ids, skip_special_tokens=True).strip().rstrip("\ufffd")


def end_ids(tokenizer) -> list[int]:
    vocab = tokenizer.get_vocab()
    ids = {tokenizer.eos_token_id} | {vocab[m] for m in END_OF_TURN_MARKERS if m in vocab}
    return sorted(i for i in ids if i is not None)


@torch.inference_mode()
def greedy(model, prompt_ids: list[int], eos: list[int], max_new_tokens: int, pad_id) -> list[int]:
    ids = torch.tensor([prompt_ids])
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                         do_sample=False, temperature=None, top_p=None, top_k=None, eos_token_id=eos,
                         pad_token_id=pad_id)
    return out[0, len(prompt_ids):].tolist()


@torch.inference_mode()
def answer_logits(model, prompt_ids: list[int], answer_ids: list[int]) -> torch.Tensor:
    """(A, V) logits at the positions that predict each answer token, given the tokens before it."""
    full = torch.tensor([prompt_ids + answer_ids[:-1]]) if answer_ids else torch.tensor([prompt_ids])
    logits = model(input_ids=full, use_cache=False).logits[0].float()
    return logits[len(prompt_ids) - 1:]


def reference(model, tokenizer, chat_template: str | None, conversations: list[list[dict]],
              max_new_tokens: int) -> list[ProbeRef]:
    eos = end_ids(tokenizer)
    refs = []
    for messages in conversations:
        prompt_ids = encode_prompt(tokenizer, messages, chat_template=chat_template)
        answer = greedy(model, prompt_ids, eos, max_new_tokens, tokenizer.pad_token_id)
        text = decode(tokenizer, answer)
        refs.append(ProbeRef(messages, prompt_ids, answer, text, answer_logits(model, prompt_ids, answer)))
    return refs


def tie_margin(kind: str) -> float:
    """A reference choice won by less than the logit noise a format is allowed is a near-tie:
    another consumer picking the runner-up there says nothing about the file."""
    return LIMITS[kind].tie


def compare_logits(ref: torch.Tensor, got: torch.Tensor, tie: float) -> dict:
    got = got[: ref.shape[0], : ref.shape[1]].float()  # a consumer may pad the vocabulary
    diff = (ref - got).abs()
    p_log, q_log = torch.log_softmax(ref, -1), torch.log_softmax(got, -1)
    kl = (p_log.exp() * (p_log - q_log)).sum(-1)
    mine, theirs = ref.argmax(-1, keepdim=True), got.argmax(-1, keepdim=True)
    margin = (ref.gather(-1, mine) - ref.gather(-1, theirs)).squeeze(-1)  # 0 where both pick the same token
    return {"mean": diff.mean().item(), "max": diff.max().item(), "kl": max(kl.mean().item(), 0.0),  # -1e-9 is rounding
            "agree": (margin <= tie).float().mean().item(), "n": ref.shape[0]}


def same_answer(ref: ProbeRef, got: list[int], tie: float) -> str:
    """"equal", "tie" (the answers part where the reference itself was undecided), or "differs"."""
    if got == ref.answer_ids:
        return "equal"
    i = next(k for k, (a, b) in enumerate(zip(ref.answer_ids, got)) if a != b)  # both stop at an end token or the cap
    margin = (ref.logits[i, ref.answer_ids[i]] - ref.logits[i, got[i]]).item()
    return "tie" if margin <= tie else "differs"


def judge(check: Check, per_probe: list[dict]) -> Check:
    """Fold per-probe measurements into the check and hold them to the format's limits."""
    n = sum(p["n"] for p in per_probe) or 1
    check.mean_abs_dlogit = sum(p["mean"] * p["n"] for p in per_probe) / n
    check.max_abs_dlogit = max((p["max"] for p in per_probe), default=0.0)
    check.kl_mean = sum(p["kl"] * p["n"] for p in per_probe) / n
    check.top1_agree = sum(p["agree"] * p["n"] for p in per_probe) / n
    limits = LIMITS[check.kind]
    share = (check.greedy_equal + check.greedy_ties) / check.probes if check.probes else 0.0
    failed = []
    if limits.max_mean is not None and check.mean_abs_dlogit > limits.max_mean:
        failed.append(f"mean |Δlogit| {check.mean_abs_dlogit:.2e} > {limits.max_mean:g}")
    if check.kl_mean > limits.max_kl:
        failed.append(f"KL {check.kl_mean:.2e} > {limits.max_kl:g}")
    if check.top1_agree < limits.min_agree:
        failed.append(f"top-1 agreement {check.top1_agree:.1%} < {limits.min_agree:.0%}")
    if share < limits.min_greedy:
        failed.append(f"greedy answers equal {check.greedy_equal}/{check.probes} (+{check.greedy_ties} at near-ties), "
                      "all required")
    if check.tokenizer_equal is not None and check.tokenizer_equal < check.probes:
        failed.append(f"the file's tokenizer encodes {check.probes - check.tokenizer_equal} prompt(s) differently")
    check.failed, check.ok = failed, not failed
    return check


def check_hf_model(model, refs: list[ProbeRef], tokenizer, target: str, kind: str,
                   consumer_tokenizer=None, chat_template: str | None = None, max_new_tokens: int = 48) -> Check:
    """A plain transformers model (merged, or reloaded from GGUF) against the references."""
    check = Check(target, "transformers", kind, probes=len(refs))
    eos = end_ids(tokenizer)
    per_probe = []
    if consumer_tokenizer is not None:
        check.tokenizer_equal = 0
    for ref in refs:
        per_probe.append(compare_logits(ref.logits, answer_logits(model, ref.prompt_ids, ref.answer_ids), tie_margin(kind)))
        got = greedy(model, ref.prompt_ids, eos, max_new_tokens, tokenizer.pad_token_id)
        count_answer(check, ref, got, tokenizer)
        if consumer_tokenizer is not None:
            ids = encode_prompt(consumer_tokenizer, ref.messages, chat_template=chat_template)
            check.tokenizer_equal += ids == ref.prompt_ids
    return judge(check, per_probe)


def count_answer(check: Check, ref: ProbeRef, got: list[int], tokenizer) -> None:
    verdict = same_answer(ref, got, tie_margin(check.kind))
    check.greedy_equal += verdict == "equal"
    check.greedy_ties += verdict == "tie"
    check.answers.append({"prompt": ref.messages[-1]["content"], "reference": ref.answer,
                          "export": decode(tokenizer, got), "same": verdict})


def load_gguf_transformers(path: Path):
    """(model, tokenizer) as transformers reads a GGUF file: dequantised to fp32."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


@torch.no_grad()
def apply_gguf_lora(model, lora_path: Path) -> int:
    """Add a llama.cpp LoRA GGUF to a plain transformers model, reading names and q/k layout
    back with transformers' own GGUF mapping (not ours): W += alpha/r * B @ A. Returns the
    number of matrices changed."""
    from gguf import GGUFReader
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map

    reader = GGUFReader(lora_path)
    alpha = float(reader.fields["adapter.lora.alpha"].contents())
    arch = reader.fields["general.architecture"].contents()
    processor = TENSOR_PROCESSORS.get(arch, TensorProcessor)(config=model.config.to_dict())
    to_hf = get_gguf_hf_weights_map(model, processor)
    tensors = {t.name: t for t in reader.tensors}
    params = dict(model.named_parameters())
    n = 0
    for name in tensors:
        if not name.endswith(".lora_a"):
            continue
        target = name[: -len(".lora_a")]
        a = torch.from_numpy(tensors[name].data.astype("float32").reshape(tensors[name].shape[::-1].tolist()))
        b_np = tensors[target + ".lora_b"].data.astype("float32").reshape(tensors[target + ".lora_b"].shape[::-1].tolist())
        b = torch.from_numpy(processor.process(b_np, target).weights.copy())
        weight = params[to_hf[target]]
        weight += (alpha / a.shape[0]) * (b @ a)
        n += 1
    return n


def check_llama_cpp(path: Path, refs: list[ProbeRef], tokenizer, target: str, kind: str,
                    lora: Path | None = None, max_new_tokens: int = 48) -> Check | None:
    """The same measurements in llama.cpp itself, when llama-cpp-python is installed (else None)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(path), lora_path=str(lora) if lora else None, n_ctx=2048, logits_all=True,
                n_threads=2, seed=0, verbose=False)
    # llama.cpp keeps its attention cache in f16 (its default, and what users run): an f32 file
    # is held to the f16 limits there (SmolLM2: mean |Δlogit| 2.2e-3 with f32 weights).
    kind = "f16" if kind == "f32" else kind
    check = Check(target, "llama.cpp", kind, probes=len(refs), tokenizer_equal=0)
    eos = set(end_ids(tokenizer))
    per_probe = []
    for ref in refs:
        text = render_chat(tokenizer, ref.messages, add_generation_prompt=True)
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        check.tokenizer_equal += ids == ref.prompt_ids
        llm.reset()
        llm.eval(ref.prompt_ids + ref.answer_ids[:-1])
        got_logits = torch.tensor(llm.scores[len(ref.prompt_ids) - 1: len(ref.prompt_ids) - 1 + len(ref.answer_ids)])
        per_probe.append(compare_logits(ref.logits, got_logits, tie_margin(kind)))
        answer = []
        llm.reset()
        for token in llm.generate(ref.prompt_ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
            answer.append(token)
            if token in eos or len(answer) >= max_new_tokens:
                break
        count_answer(check, ref, answer, tokenizer)
    return judge(check, per_probe)
