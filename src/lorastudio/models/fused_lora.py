"""LoRA's linear layer as one autograd node.

PEFT computes `base(x) + lora_B(lora_A(dropout(x))) * scaling` as five autograd nodes: the
scaled update is written out as a tensor of its own and added, and the backward pass sums the
input's two gradients (through the frozen layer and through A) in a third buffer. Here the
update is accumulated into the frozen layer's output by one `addmm` (alpha = scaling), and the
input's gradient is `g @ W` with `(g @ B * scaling) @ A` accumulated into it the same way. The
matrix products are the same ones; what goes is three passes over activation-sized tensors and
their memory per layer, which on a CPU is a large share of a LoRA step (Unsloth's fast_lora
fuses the same sums on GPUs). SmolLM2-135M, LoRA r16 on every linear layer, 4 x 186 tokens, 2
CPU threads, fp32: 1.07x a step, peak RSS ~300 MB lower (bench/lora_layer_bench.py, bench/README.md).

Only the plain case is fused: one active adapter, no dropout (or dropout in eval mode), no
DoRA or other variant, no bias on B, a plain `nn.Linear` base whose weight is frozen, the
adapter in the activations' dtype and no autocast. A mixed batch (PEFT's `adapter_names`, the
doctor's base and adapter rows decoded together) without gradients whose adapters each hold
one block of rows adds each update to its rows in place, where PEFT gathers and scatters them
by index. Anything else (disabled or merged adapters, quantised bases, GPU bf16 with fp32
adapters, interleaved rows) runs PEFT's own forward, unchanged.
"""

from __future__ import annotations

import torch
from peft.tuners.lora.layer import Linear as PeftLinear


class _LoraLinear(torch.autograd.Function):
    """y = x W^T + b + s (x A^T) B^T, with x (..., in), W (out, in), A (r, in), B (out, r).
    A frozen weight in a narrower dtype (bf16 matmuls on CPU, models.loading.use_bf16_matmuls)
    multiplies an input rounded to it, as that layer's own forward does."""

    @staticmethod
    def forward(ctx, x, weight, bias, a, b, scale: float):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])  # (N, in)
        xa = x2 @ a.t()  # (N, r)
        if weight.dtype == x.dtype:
            out = torch.addmm(bias, x2, weight.t()) if bias is not None else x2 @ weight.t()
        else:
            out = (x2.to(weight.dtype) @ weight.t()).to(x.dtype)
            if bias is not None:
                out += bias
        out.addmm_(xa, b.t(), alpha=scale)  # (N, out)
        ctx.save_for_backward(x2, xa, weight, a, b)
        ctx.scale, ctx.shape = scale, shape
        return out.view(*shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad):
        x2, xa, weight, a, b = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])  # (N, out)
        gb = (g @ b).mul_(ctx.scale)  # (N, r): the gradient at A's output
        grad_x = grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            if weight.dtype == g.dtype:
                grad_x = g @ weight
            else:
                grad_x = (g.to(weight.dtype) @ weight).to(g.dtype)
            grad_x = grad_x.addmm_(gb, a).view(ctx.shape)
        if ctx.needs_input_grad[3]:
            grad_a = gb.t() @ x2
        if ctx.needs_input_grad[4]:
            grad_b = (g.t() @ xa).mul_(ctx.scale)
        return grad_x, None, None, grad_a, grad_b, None


class FusedLoraLinear(PeftLinear):
    """PEFT's LoRA `Linear` whose plain case runs as `_LoraLinear`; same parameters, state
    dict, merging and adapter switching (only `forward` differs)."""

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if not args and self._plain_layer(x):
            if not kwargs and len(self.active_adapters) == 1 and self._plain_adapter(self.active_adapters[0], x):
                name = self.active_adapters[0]
                return _LoraLinear.apply(x, self.base_layer.weight, self.base_layer.bias, self.lora_A[name].weight,
                                         self.lora_B[name].weight, self.scaling[name])
            if kwargs.keys() == {"adapter_names"} and not torch.is_grad_enabled():
                blocks = self._row_blocks(kwargs["adapter_names"], x)
                if blocks is not None:
                    return self._mixed_blocks(x, blocks)
        return super().forward(x, *args, **kwargs)

    def _plain_layer(self, x: torch.Tensor) -> bool:
        base = self.base_layer
        return (not self.disable_adapters and not self.merged and type(base) is torch.nn.Linear
                and not base.weight.requires_grad and (base.bias is None or not base.bias.requires_grad)
                and not torch.is_autocast_enabled(x.device.type))

    def _plain_adapter(self, name: str, x: torch.Tensor) -> bool:
        if name not in self.lora_A or self.lora_B[name].bias is not None:
            return False
        if name in getattr(self, "lora_variant", {}) or getattr(self, "use_dora", {}).get(name):  # DoRA and others
            return False
        dropout = self.lora_dropout[name]
        return ((isinstance(dropout, torch.nn.Identity) or not dropout.training or dropout.p == 0)
                and self.lora_A[name].weight.dtype == x.dtype)

    def _row_blocks(self, names: list[str], x: torch.Tensor) -> list[tuple[str, int, int]] | None:
        """A mixed batch (PEFT's `adapter_names`, one name per row) as (adapter, first row, end row)
        blocks, when each adapter's rows are contiguous and plain; else None (PEFT's forward)."""
        if x.dim() < 2 or len(names) != x.shape[0]:
            return None
        blocks: list[tuple[str, int, int]] = []
        for row, name in enumerate(names):
            if blocks and blocks[-1][0] == name:
                blocks[-1] = (name, blocks[-1][1], row + 1)
            elif any(b[0] == name for b in blocks):
                return None
            else:
                blocks.append((name, row, row + 1))
        if any(name in self.lora_A and not self._plain_adapter(name, x) for name, _, _ in blocks):
            return None
        return blocks

    def _mixed_blocks(self, x: torch.Tensor, blocks: list[tuple[str, int, int]]) -> torch.Tensor:
        """The frozen layer over every row, each adapter's update added to its block of rows in
        place (PEFT gathers and scatters each adapter's rows by index)."""
        out = self.base_layer(x)
        for name, start, end in blocks:
            if name not in self.lora_A:  # "__base__" or an adapter this layer does not hold
                continue
            rows = x[start:end].reshape(-1, x.shape[-1])  # (n, in)
            xa = rows @ self.lora_A[name].weight.t()  # (n, r)
            out[start:end].view(-1, out.shape[-1]).addmm_(xa, self.lora_B[name].weight.t(), alpha=self.scaling[name])
        return out


def fuse_lora_layers(model) -> int:
    """Give every plain PEFT LoRA `Linear` in the model the fused forward; returns how many."""
    return _swap_class(model, PeftLinear, FusedLoraLinear)


def unfuse_lora_layers(model) -> int:
    """Back to PEFT's own forward (FSDP shards the base weights this forward reads whole)."""
    return _swap_class(model, FusedLoraLinear, PeftLinear)


def _swap_class(model, old: type, new: type) -> int:
    """Only `forward` differs between the two classes: the modules' state stays as it is."""
    n = 0
    for module in model.modules():
        if type(module) is old:
            module.__class__ = new
            n += 1
    return n
