"""The training loss: summed cross-entropy of the trained tokens, computed only where a label is."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.formatting import IGNORE_INDEX
from ..models import accepts_logits_to_keep


def trained_token_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the cross-entropy of every trained token of a right-padded batch.

    Two savings over `model(**batch).loss`, both exact for real tokens:
    - no attention mask: with right padding, a causal model never lets a real token see the
      padding after it, so the mask changes nothing for them; without it attention takes its
      causal fast path instead of materialising a (B, 1, T, T) mask.
    - logits only where a label is trained (any row of the batch): the prompt's positions
      skip the output layer and its softmax over the vocabulary (fp32 (B, T, V) otherwise;
      12% faster on the tiny bench model, where the 8k-vocab head is 40% of the matmuls).
    """
    labels = batch["labels"][:, 1:]  # (B, T-1): the token at t+1 is predicted at position t
    keep = (labels != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)  # (K,) positions trained in some row
    if accepts_logits_to_keep(model):
        logits = model(input_ids=batch["input_ids"], logits_to_keep=keep, use_cache=False).logits  # (B, K, V)
    else:  # an older architecture: full logits, then the same selection
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, keep]
    return F.cross_entropy(logits.float().flatten(0, 1), labels[:, keep].flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
