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
    "UNKNOWN_FIELDS", "UNFILLED_PLACEHOLDERS",
)


@dataclass
class Finding:
    code: str
    severity: Severity
    title: str
    evidence: dict = field(default_factory=dict)
    fix: str = ""
    # The fix in a form a program can apply: training options (TrainConfig fields) and the values
    # that, set, make the finding go away when the run is planned again (--apply-fixes, the web
    # studio's "apply" button). None when the fix is the user's to make (edit the data, pick a model).
    apply: dict | None = None

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
