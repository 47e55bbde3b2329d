"""The training loss: summed cross-entropy of the trained tokens, computed only where a label is.

Where the model's output layer is a plain linear map (`chunked_head`), the vocabulary projection
and the cross-entropy run together, a slice of rows at a time (`HeadLoss`): the gradient of the
hidden states is computed during the forward pass, since the loss is the last operation, so no
(rows x vocabulary) logits tensor is ever kept for the backward pass, and none is recomputed.
This is the fused linear cross-entropy of Liger-Kernel and Unsloth, in plain torch, used on a GPU
(`DEVICES`): it keeps the numbers (the same sums, in the same fp32) and at most one slice of
logits alive, where a Qwen model's 152k vocabulary at 4,096 trained positions would otherwise hold
2.5 GB of fp32 logits, 7.5 GB with the log-softmax and gradients alive at once. It has not run on
a GPU yet. On a CPU it bought nothing measurable (memory.py), and the unfused loss is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.formatting import IGNORE_INDEX
from ..memory import FUSED_DEVICES, FUSED_HEAD_TYPES, FUSED_SLICE_ELEMENTS
from ..models import logits_at

CHUNK_ELEMENTS = FUSED_SLICE_ELEMENTS  # logits alive at once (the memory plan counts them)
DEVICES = FUSED_DEVICES  # where the fusion is used (not on a CPU, where it bought nothing: memory.py)


def trained_token_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the cross-entropy of every trained token of a right-padded batch.

    Savings over `model(**batch).loss`, all exact for real tokens:
    - no attention mask: with right padding, a causal model never lets a real token see the
      padding after it, so the mask changes nothing for them; without it attention takes its
      causal fast path instead of materialising a (B, 1, T, T) mask.
    - the output layer only where a label is trained (any row of the batch): the prompt's
      positions skip it and its softmax over the vocabulary.
    - with a plain output layer, no logits kept at all (HeadLoss, module doc).
    """
    labels = batch["labels"][:, 1:]  # (B, T-1): the token at t+1 is predicted at position t
    keep = (labels != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)  # (K,) positions trained in some row
    head = chunked_head(model) if batch["input_ids"].device.type in DEVICES else None
    if head is not None:
        decoder, lm_head = head
        hidden = decoder(input_ids=batch["input_ids"], use_cache=False).last_hidden_state[:, keep]  # (B, K, H)
        return HeadLoss.apply(hidden.flatten(0, 1), lm_head, labels[:, keep].flatten())
    logits = logits_at(model, batch["input_ids"], keep)  # (B, K, V)
    return F.cross_entropy(logits.float().flatten(0, 1), labels[:, keep].flatten(), ignore_index=IGNORE_INDEX, reduction="sum")


def chunked_head(model) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """(decoder, output layer) where the loss can be fused with a frozen, plain linear output
    layer; None otherwise: a wrapped model whose forward must run as a whole (DistributedDataParallel
    synchronises gradients from its forward, FSDP gathers weights there), an architecture that
    changes the logits after the output layer, or an output layer that is trained, LoRA-wrapped
    or quantised."""
    if hasattr(model, "module") or (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None  # DDP's .module, or FSDP (fully_shard changes the class in place): their forward must run
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base.config, "model_type", None) not in FUSED_HEAD_TYPES or not hasattr(base, "get_decoder"):
        return None
    head = base.get_output_embeddings()
    if type(head) is not torch.nn.Linear or head.bias is not None or head.weight.requires_grad:
        return None
    return base.get_decoder(), head


class HeadLoss(torch.autograd.Function):
    """sum over rows of cross_entropy(head(hidden), targets), IGNORE_INDEX rows skipped; the
    gradient of `hidden` is computed here, slice by slice, and only scaled in backward."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, head: torch.nn.Linear, targets: torch.Tensor) -> torch.Tensor:
        weight = head.weight  # (V, H)
        rows = max(1, CHUNK_ELEMENTS // weight.shape[0])
        want_grad = ctx.needs_input_grad[0]
        grad = torch.zeros_like(hidden) if want_grad else None  # (N, H)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], rows):
            target = targets[start : start + rows]  # (c,)
            trained = target != IGNORE_INDEX
            if not trained.any():
                continue
            logits = head(hidden[start : start + rows]).float()  # (c, V): the layer's own forward (a bf16 one too)
            log_probs = torch.log_softmax(logits, dim=-1)
            picked = log_probs.gather(1, target.clamp(min=0)[:, None])[:, 0]  # (c,)
            total -= picked[trained].sum()
            if want_grad:  # d loss / d logits = softmax - one-hot, on trained rows
                dlogits = log_probs.exp_()
                dlogits[trained, target[trained]] -= 1.0
                dlogits[~trained] = 0.0
                grad[start : start + rows] = (dlogits.to(weight.dtype) @ weight).to(hidden.dtype)
        ctx.save_for_backward(grad if want_grad else hidden.new_empty(0))
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * grad_output.to(grad.dtype), None, None
