"""The live monitor: the training loop feeds it each optimizer step; it raises findings early.

Each code is raised once per run. The loop records them in metrics.jsonl and shows them in the
progress output, so a user can stop a run that is not learning instead of waiting it out.
"""

from __future__ import annotations

import math
from statistics import fmean

from .findings import Finding
from .thresholds import Thresholds


class LiveMonitor:
    def __init__(self, total_steps: int, warmup_steps: int = 0, thresholds: Thresholds | None = None):
        self.t = thresholds or Thresholds()
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.losses: list[float] = []
        self.raised: dict[str, Finding] = {}

    def _raise(self, finding: Finding) -> list[Finding]:
        if finding.code in self.raised:
            return []
        self.raised[finding.code] = finding
        return [finding]

    def update(self, step: int, loss: float, lr: float, grad_norm: float) -> list[Finding]:
        """New findings after this step (usually none)."""
        out: list[Finding] = []
        w = self.t.loss_window
        if not math.isfinite(loss):
            return self._raise(Finding(
                "LOSS_DIVERGED", "error", f"loss became {loss} at step {step}",
                {"step": step, "loss": str(loss), "lr": lr},
                f"lower --lr (now {lr:g}) by 10x; check the data for empty or huge samples",
            ))
        self.losses.append(loss)
        first = fmean(self.losses[:w]) if len(self.losses) >= w else None
        if first is not None and loss > self.t.diverge_factor * first and len(self.losses) > w:
            out += self._raise(Finding(
                "LOSS_DIVERGED", "error", f"loss rose to {loss:.3f} at step {step}, {loss / first:.1f}x its start",
                {"step": step, "loss": round(loss, 4), "first_window_mean": round(first, 4)},
                f"lower --lr (now {lr:g}) by 5-10x",
            ))
        if step > self.warmup_steps and lr == 0 and step < self.total_steps:
            out += self._raise(Finding(
                "LR_TOO_LOW", "error", f"learning rate is 0 at step {step}, after warmup: nothing is being learned",
                {"step": step, "lr": lr}, "set --lr to 1e-4..2e-4",
            ))
        if grad_norm < self.t.zero_grad_norm:
            out += self._raise(Finding(
                "GRAD_NORM_ZERO", "error", f"gradient norm is {grad_norm:.2e} at step {step}: no gradient reaches the adapter",
                {"step": step, "grad_norm": grad_norm},
                "check that the answers are not masked away (LABELS_MASKED) and that LoRA targets layers the loss passes through",
            ))
        if len(self.losses) >= 2 * w and step % w == 0:
            last = fmean(self.losses[-w:])
            if last > first * (1 - self.t.min_loss_drop):
                out += self._raise(Finding(
                    "LOSS_NOT_DECREASING", "warning",
                    f"loss has not fallen after {step} steps ({first:.3f} → {last:.3f})",
                    {"step": step, "first_window_mean": round(first, 4), "last_window_mean": round(last, 4)},
                    f"raise --lr (now {lr:g}) 2-3x, or check that the answers are trained (the plan's label coverage)",
                ))
        return out

    def summary(self) -> dict:
        if not self.losses:
            return {"steps": 0}
        w = min(self.t.loss_window, len(self.losses))
        return {
            "steps": len(self.losses),
            "first_loss": round(self.losses[0], 4),
            "last_loss": round(self.losses[-1], 4),
            "first_window_mean": round(fmean(self.losses[:w]), 4),
            "last_window_mean": round(fmean(self.losses[-w:]), 4),
        }
