"""The live monitor: the training loop feeds it each optimizer step; it raises findings early.

Each code is raised once per run. The loop records them in metrics.jsonl and shows them in the
progress output, so a user can stop a run that is not learning instead of waiting it out.

A flat loss is judged on a trend, never on two raw points and never during warmup (the
learning rate is still climbing then): after warmup plus two windows, the least-squares slope
of the last two windows' losses, with its standard error. While that slope is below zero by
more than two standard errors the loss is falling (if by at least MIN_WINDOW_FALL over them); only a loss that is not
falling and sits less than `min_loss_drop` below its level just after warmup is called flat.
"""

from __future__ import annotations

import math
from statistics import fmean

from .findings import Finding
from .thresholds import Thresholds


# A slope counts as falling when, beyond two standard errors, it would take at least 1% off the
# loss over the two windows it was fitted on: a slow persona run falls 2-3% per 20 steps.
MIN_WINDOW_FALL = 0.01


def trend(values: list[float]) -> tuple[float, float]:
    """Least-squares slope of values against their index, and its standard error."""
    n = len(values)
    xs = range(n)
    mx, my = (n - 1) / 2, fmean(values)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, values)) / sxx
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, values))
    return slope, math.sqrt(resid / (n - 2) / sxx) if n > 2 else 0.0


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
        out += self._flat(step, lr)
        return out

    def _flat(self, step: int, lr: float) -> list[Finding]:
        w, start = self.t.loss_window, self.warmup_steps
        after = self.losses[start:]  # losses[i] is step i + 1
        if len(after) < 2 * w or step % w:
            return []
        slope, se = trend(self.losses[-2 * w:])
        level, recent = fmean(after[:w]), fmean(self.losses[-w:])
        falling = slope + 2 * se < 0 and -slope * 2 * w >= MIN_WINDOW_FALL * level
        if falling or recent <= level * (1 - self.t.min_loss_drop):
            return []  # falling (beyond noise, by a visible amount), or already well below where it started
        return self._raise(Finding(
            "LOSS_NOT_DECREASING", "warning",
            f"the loss is flat over steps {step - 2 * w + 1}-{step}: slope {slope:+.4f} per step (± {2 * se:.4f}), "
            f"mean {recent:.3f} against {level:.3f} just after warmup",
            {"step": step, "window": 2 * w, "slope_per_step": round(slope, 6), "slope_2se": round(2 * se, 6),
             "level_after_warmup": round(level, 4), "last_window_mean": round(recent, 4), "warmup_steps": start},
            f"raise --lr (now {lr:g}) 2-3x, or check that the answers are trained (the plan's label coverage)",
        ))

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
