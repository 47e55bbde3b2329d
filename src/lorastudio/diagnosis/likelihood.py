"""Base and adapter likelihoods: the mean loss per trained token on samples, and the KL between
the two next-token distributions on probe prompts. Numbers only, on the PEFT reference (effect.py).

Both compute the output layer only where it is read: at trained positions for the loss, at each
prompt's last position for the KL. The rest of a (B, T, V) fp32 logits tensor is most of the
cost on a small model with a large vocabulary (SmolLM2: 49k x 576, a fifth of its weights), and
dropping it changes no number: the rows that are computed are the same rows.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..data.formatting import IGNORE_INDEX, TokenizedSample, encode_prompt
from ..models import logits_at
from .effect import Probe, Reference

MEASURE_BATCH = 8  # sequences per forward pass


def padded(seqs: list[list[int]], pad: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask, each (B, T). Causal attention keeps every real
    position blind to the padding after it, so each row's logits equal its unpadded forward."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = torch.tensor(s)
        mask[row, : len(s)] = 1
    return ids.to(device), mask.to(device)


def mean_token_loss(ref: Reference, samples: list[TokenizedSample], adapter_on: bool) -> float:
    """Mean loss per trained token, the weighting training uses."""
    total, count = loss_sums(ref, samples, adapter_on)
    return total / count if count else float("nan")


def loss_sums(ref: Reference, samples: list[TokenizedSample], adapter_on: bool) -> tuple[float, int]:
    """(summed loss, trained tokens). Samples are batched by length (the sums do not depend on the
    order), so a batch pads little."""
    pad = ref.tokenizer.pad_token_id or 0
    ordered = sorted(samples, key=lambda s: len(s.input_ids))
    total, count = 0.0, 0
    with ref.side(adapter_on):
        ref.model.eval()
        for start in range(0, len(ordered), MEASURE_BATCH):
            part = ordered[start : start + MEASURE_BATCH]
            ids, mask = padded([s.input_ids for s in part], pad, ref.device)  # (B, T)
            labels, _ = padded([s.labels for s in part], IGNORE_INDEX, ref.device)  # (B, T)
            targets = labels[:, 1:]  # token t+1 is predicted at position t
            keep = (targets != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)  # (K,) trained in some row
            if not len(keep):
                continue
            logits = logits_at(ref.model, ids, keep, mask).float()  # (B, K, V)
            picked = targets[:, keep]  # (B, K)
            total += float(F.cross_entropy(logits.flatten(0, 1), picked.flatten(), ignore_index=IGNORE_INDEX,
                                           reduction="sum"))
            count += int((picked != IGNORE_INDEX).sum())
    return total, count


def next_token_logprobs(ref: Reference, prompts: list[list[int]], adapter_on: bool) -> torch.Tensor:
    """log-probabilities of the first answer token for each prompt, (N, V)."""
    pad = ref.tokenizer.pad_token_id or 0
    out = []
    with ref.side(adapter_on):
        for start in range(0, len(prompts), MEASURE_BATCH):
            part = prompts[start : start + MEASURE_BATCH]
            ids, mask = padded(part, pad, ref.device)
            last = torch.tensor([len(p) - 1 for p in part], device=ids.device)  # (B,)
            keep, column = torch.unique(last, return_inverse=True)  # (K,) positions; each row's index into them
            logits = logits_at(ref.model, ids, keep, mask).float()  # (B, K, V)
            out.append(torch.log_softmax(logits[torch.arange(len(part), device=ids.device), column], dim=-1))  # (B, V)
    return torch.cat(out)


def compare_loss(ref: Reference, samples: list[TokenizedSample], source: str,
                 enough: Callable[[dict], bool] | None = None) -> dict | None:
    """Base and adapter mean token loss on the samples, and the adapter's relative drop. With
    `enough`, half the samples (every other one, so still spread over the set) are measured
    first, and the rest only when `enough(result so far)` is False: a drop far from every
    threshold is decided on half the tokens."""
    if not samples:
        return None
    halves = [samples[0::2], samples[1::2]] if enough is not None and len(samples) >= 2 else [samples]
    sums = {False: [0.0, 0], True: [0.0, 0]}
    used: list[TokenizedSample] = []
    for part in halves:
        for side in (False, True):
            total, count = loss_sums(ref, part, side)
            sums[side][0] += total
            sums[side][1] += count
        used += part
        base, adapter = (sums[side][0] / sums[side][1] if sums[side][1] else float("nan") for side in (False, True))
        drop = (base - adapter) / base if math.isfinite(base) and math.isfinite(adapter) and base > 0 else float("nan")
        out = {"source": source, "samples": len(used), "tokens": sum(s.n_trainable for s in used),
               "base": base, "adapter": adapter, "drop": drop}
        if enough is not None and len(used) < len(samples) and enough(out):
            out["of_samples"] = len(samples)  # the rest were not needed
            break
    return out


def next_token_kl(ref: Reference, probes: list[Probe]) -> dict | None:
    """Mean KL(base || adapter) of the first answer token's distribution, in nats."""
    if not probes:
        return None
    prompts = [encode_prompt(ref.tokenizer, p.messages) for p in probes]
    return kl_summary(next_token_logprobs(ref, prompts, False), next_token_logprobs(ref, prompts, True))


def kl_summary(base: torch.Tensor, adapter: torch.Tensor) -> dict | None:
    """{"probes", "mean", "max", "same_top_token"} of KL(base || adapter) per row of two (N, V)
    log-probability tensors (the greedy decode's first step gives them for free, effect.greedy)."""
    if not len(base):
        return None
    kl = (base.exp() * (base - adapter)).sum(-1).nan_to_num(nan=math.inf).clamp(min=0.0)  # (N,); >= 0 up to rounding
    same_top = float((base.argmax(-1) == adapter.argmax(-1)).float().mean())
    return {"probes": len(base), "mean": float(kl.mean()), "max": float(kl.max()), "same_top_token": same_top}
