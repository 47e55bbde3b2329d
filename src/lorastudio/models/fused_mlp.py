"""The SwiGLU MLP's `silu(gate) * up` as one autograd node.

Llama-family MLPs compute `down(silu(gate(x)) * up(x))`. Autograd keeps three intermediate-sized
tensors per token for that product: SiLU keeps `gate`, the product keeps `silu(gate)` and `up`.
Here the node keeps `gate` and `up` only and recomputes `silu(gate)` in the backward pass, one
cheap element-wise pass, as Liger-Kernel's and Unsloth's SwiGLU do. The values and gradients are
the same operations in the same order: bit for bit what autograd gives. The MLP's are the largest
share of a decoder layer's activations: on SmolLM2-135M (fp32, no LoRA dropout) this keeps 15%
less per token and layer with LoRA on every linear layer, 19% less with LoRA on q, k, v, o
(memory.py counts it). The fused classes are not picklable (models are saved as safetensors).

Only an MLP whose `forward` is exactly transformers' Llama one (compared as compiled code) and
whose activation is SiLU is changed; anything else (GELU MLPs, fused gate_up layers, remote code
with a forward of its own) runs as it is. Without gradients the MLP's own forward runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_SILU_TYPES: tuple[type, ...] = (torch.nn.SiLU,)
try:
    from transformers.activations import SiLUActivation

    _SILU_TYPES += (SiLUActivation,)
except ImportError:  # an older transformers uses torch's nn.SiLU only
    pass


class _SiluMul(torch.autograd.Function):
    """silu(gate) * up, keeping gate and up for the backward pass (not silu's output as well)."""

    @staticmethod
    def forward(ctx, gate, up):
        ctx.save_for_backward(gate, up if ctx.needs_input_grad[0] else None)  # up: only for gate's gradient
        return F.silu(gate).mul_(up)

    @staticmethod
    def backward(ctx, grad):
        gate, up = ctx.saved_tensors
        grad_gate = grad_up = None
        if ctx.needs_input_grad[1]:
            grad_up = F.silu(gate).mul_(grad)
        if ctx.needs_input_grad[0]:
            grad_gate = torch.ops.aten.silu_backward(grad * up, gate)
        return grad_gate, grad_up


def _fused_forward(self, x):
    gate = self.gate_proj(x)  # gate before up, as the original: LoRA dropout draws in that order
    up = self.up_proj(x)
    if torch.is_grad_enabled() and (gate.requires_grad or up.requires_grad) and gate.dtype == up.dtype:
        return self.down_proj(_SiluMul.apply(gate, up))
    return self.down_proj(self.act_fn(gate) * up)


def _llama_forward_code():
    from transformers.models.llama.modeling_llama import LlamaMLP

    return LlamaMLP.forward.__code__


def _same_code(a, b) -> bool:
    return (a.co_code, a.co_names, a.co_consts, a.co_varnames) == (b.co_code, b.co_names, b.co_consts, b.co_varnames)


def fusable_mlp(module: torch.nn.Module) -> bool:
    """Whether this module is a SiLU MLP whose forward is transformers' Llama MLP forward."""
    code = getattr(getattr(type(module), "forward", None), "__code__", None)
    return (code is not None and isinstance(getattr(module, "act_fn", None), _SILU_TYPES)
            and _same_code(code, _llama_forward_code()))


_FUSED: dict[type, type] = {}  # an MLP class -> its subclass with the fused forward


def fuse_mlps(model: torch.nn.Module) -> int:
    """Give every fusable MLP in the model the fused forward (a subclass of its own class, of
    the same name: its state, state dict and `isinstance` stay); returns how many."""
    n = 0
    for module in model.modules():
        if not fusable_mlp(module):  # a fused class's forward is not Llama's: never fused twice
            continue
        cls = type(module)
        if cls not in _FUSED:
            _FUSED[cls] = type(cls.__name__, (cls,), {"forward": _fused_forward, "__module__": cls.__module__,
                                                      "__qualname__": cls.__qualname__})
        module.__class__ = _FUSED[cls]
        n += 1
    return n


def unfuse_mlps(model: torch.nn.Module) -> int:
    """Every fused MLP back to its own class; returns how many."""
    fused = set(_FUSED.values())
    n = 0
    for module in model.modules():
        if type(module) in fused:
            module.__class__ = type(module).__bases__[0]
            n += 1
    return n
