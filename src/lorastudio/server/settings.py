"""The server's settings in one place: where the studio home is, who may call, what it serves."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..models import DEFAULT_MODEL, studio_home

DEFAULT_MAX_UPLOAD_MB = 100


@dataclass
class Settings:
    home: Path  # everything the server writes lives under here
    token: str | None = None  # required on every API call and page when set
    model: str = DEFAULT_MODEL  # the base model the chat engine loads
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB

    @classmethod
    def make(cls, home: str | Path | None = None, token: str | None = None, model: str | None = None,
             max_upload_mb: float | None = None) -> "Settings":
        return cls(Path(home) if home else studio_home(), token or None, model or DEFAULT_MODEL,
                   max_upload_mb if max_upload_mb is not None else DEFAULT_MAX_UPLOAD_MB)

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def tunes(self) -> Path:
        return self.home / "tunes"  # a tune's trials; its best adapter is copied into runs/ (tune_jobs.py)

    @property
    def datasets(self) -> Path:
        return self.home / "datasets"

    @property
    def merged(self) -> Path:
        return self.home / "merged"

    @property
    def jobs_db(self) -> Path:
        return self.home / "jobs.sqlite"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
