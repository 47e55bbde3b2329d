"""The CPU fast path (frozen linear layers multiply in bf16, everything else fp32) against fp32:
the loss and the LoRA gradients agree within a stated tolerance. It is picked only where the CPU
has native bf16 (models.pick_device); this test runs it anywhere (emulated bf16 is slow but exact
to bf16's rounding), on the tiny model."""

import copy

import torch

from lorastudio.models import apply_lora
from lorastudio.models.loading import use_bf16_matmuls
from lorastudio.training.batching import collate
from lorastudio.training.loss import trained_token_loss

# Measured on the tiny model: summed loss 331.4743 vs 331.4759 (5e-6 relative), gradient cosine
# 0.99999. bf16 keeps 8 bits of mantissa (~0.4% per product), which averages out over the sums.
LOSS_RTOL = 1e-3
GRAD_COSINE = 0.999  # the LoRA gradients point the same way


def test_bf16_matmuls_match_fp32_within_the_stated_tolerance(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from lorastudio.data.formatting import IGNORE_INDEX, TokenizedSample

    g = torch.Generator().manual_seed(0)
    rows = []
    for n in (30, 24, 18):
        ids = torch.randint(5, 900, (n,), generator=g).tolist()
        rows.append(TokenizedSample(ids, [IGNORE_INDEX] * 8 + ids[8:]))
    batch = collate(rows, pad_id=0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    fast_base = copy.deepcopy(base)
    assert use_bf16_matmuls(fast_base) > 0

    def loss_and_grads(model):
        torch.manual_seed(0)  # the same LoRA init on both
        peft = apply_lora(model, 8, 16, 0.0, ["q_proj", "v_proj", "down_proj"], init_identity=False)
        loss = trained_token_loss(peft, batch)
        loss.backward()
        return float(loss.detach()), torch.cat([p.grad.flatten() for p in peft.parameters() if p.requires_grad])

    ref_loss, ref_grad = loss_and_grads(base)
    fast_loss, fast_grad = loss_and_grads(fast_base)
    assert abs(fast_loss - ref_loss) <= LOSS_RTOL * ref_loss
    assert float(torch.nn.functional.cosine_similarity(fast_grad, ref_grad, dim=0)) >= GRAD_COSINE
    assert fast_loss != ref_loss  # the fast path really ran in bf16: the test could fail
