"""The `lorastudio` command: a table of verbs over the Python API. Parses, calls, prints.

A user's mistake (StudioError) prints one message with its fix and exits 2; no traceback.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting threads starve on shared CPUs
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ..errors import StudioError  # noqa: E402
from .common import app  # noqa: E402

# Each module registers its verbs on `app`; imported in the order `--help` lists them.
from . import data, train, doctor, tune, export, chat, models, serve  # noqa: E402, F401, I001


def main() -> None:
    try:
        app()
    except StudioError as e:
        from ..console import fail
        from ..i18n import env_lang, has, t

        lang = env_lang()
        if lang != "en" and e.key and has(f"error.{e.key}", lang):  # LORASTUDIO_LANG=zh: the catalogue's words
            text = t(f"error.{e.key}", lang, **e.params)
            fix = t(f"error.{e.key}.fix", lang, **e.params) if has(f"error.{e.key}.fix", lang) else None
            fail(f"{text}\n  {t('common.fix', lang)}：{fix}" if fix else text)
        else:
            fail(str(e))
        sys.exit(2)


__all__ = ["app", "main"]
