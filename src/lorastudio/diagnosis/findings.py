"""A finding: one named cause, how sure we are, the numbers behind it, and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]

# Stable codes: tests, the web studio and users' scripts rely on these names.
CODES = (
    "TOO_FEW_SAMPLES", "TOO_FEW_STEPS", "WARMUP_EXCEEDS_TRAINING", "LR_TOO_LOW", "LR_TOO_HIGH",
    "LABELS_MASKED", "RESPONSES_TRUNCATED", "DUPLICATE_SAMPLES", "TARGET_MODULES_MISSING",
    "LOSS_NOT_DECREASING", "LOSS_DIVERGED", "OVERFITTING", "ADAPTER_IS_IDENTITY", "ADAPTER_NO_EFFECT",
    "ADAPTER_NOT_APPLIED", "TEMPLATE_MISMATCH", "NO_HELDOUT",
    # added beyond the required set
    "NO_END_OF_TURN", "GRAD_NORM_ZERO", "FACTS_NOT_LEARNED", "FORGETTING",
)


@dataclass
class Finding:
    code: str
    severity: Severity
    title: str
    evidence: dict = field(default_factory=dict)
    fix: str = ""
    apply: dict | None = None  # config field -> new value, when the fix is a setting: the web's "apply this fix"

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code}")

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        ev = ", ".join(f"{k}={v}" for k, v in self.evidence.items())
        out = f"[{self.severity}] {self.code}: {self.title}"
        if ev:
            out += f"\n    evidence: {ev}"
        if self.fix:
            out += f"\n    fix: {self.fix}"
        return out


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
