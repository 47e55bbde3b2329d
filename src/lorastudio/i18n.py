"""One message catalogue, two languages: `locales/en.json` and `locales/zh.json`.

Every text a user reads that the core or the server writes has a stable key and parameters;
the CLI renders it here (language from LORASTUDIO_LANG), the server from the request's
Accept-Language, and the web pages load the same files (GET /api/i18n/{lang}) and render them
with the same rules in JavaScript (server/static/i18n.js). Keys:

    finding.<CODE>.title / .fix     rendered with the finding's evidence
    evidence.<key>                  the label of an evidence number
    field.<config_field>            a TrainConfig field's label on the form
    error.<key>                     an error message (error.<key>.fix: what to do)
    severity.*, job.kind.*, verdict.*, stage.*, phase.*, validation.*, and the pages' own texts

Templates (the same in both renderers):
    {name}       a parameter, formatted: floats to 4 significant digits, lists joined by ", "
    {name:%}     a share as a percentage (0.25 -> 25%)
    {@field}     a form field: its label in quotes on the web (「训练轮数」), its flag in the CLI (--epochs)
    [[ ... ]]    an optional part, dropped when a parameter inside it is missing or null
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path

LOCALES = Path(__file__).parent / "locales"
LANGS = ("en", "zh")
DEFAULT_LANG = "en"

_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.S)
_CJK_SPACE = re.compile(r" +(?=[，。；：、（）])| +$|(?<=[，。；：、（）]) +|(?<=\s) +")
_PLACEHOLDER = re.compile(r"\{(@?)([A-Za-z_][A-Za-z0-9_.]*)(?::(%))?\}")


def normalize(lang: str | None) -> str:
    """'zh-CN', 'zh_TW.UTF-8', 'zh' -> 'zh'; anything else -> 'en'."""
    return "zh" if lang and str(lang).strip().lower().startswith("zh") else DEFAULT_LANG


def env_lang() -> str:
    """The CLI's language: LORASTUDIO_LANG (en or zh), English when unset."""
    return normalize(os.environ.get("LORASTUDIO_LANG"))


def header_lang(accept_language: str | None) -> str:
    """The first language of an Accept-Language header (or a ?lang= value)."""
    first = (accept_language or "").split(",")[0].split(";")[0]
    return normalize(first)


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{normalize(lang)}.json").read_text(encoding="utf-8"))


def has(key: str, lang: str | None = None) -> bool:
    return key in catalogue(normalize(lang) if lang else env_lang())


def fmt(value, percent: bool = False) -> str:
    """A parameter as text; the page's i18n.js formats the same way."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, (int, float)) and percent:
        pct = 100 * value
        return f"{pct:.1f}%" if 0 < abs(pct) < 10 and pct != int(pct) else f"{pct:.0f}%"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def field_ref(name: str, lang: str, surface: str) -> str:
    if surface == "cli":  # a flag; set apart by spaces in Chinese, which writes none between words
        flag = "--" + name.replace("_", "-")
        return f" {flag} " if lang == "zh" else flag
    label = catalogue(lang).get(f"field.{name}", name)
    return f"「{label}」" if lang == "zh" else f"“{label}”"


def render(template: str, params: dict | None = None, lang: str = DEFAULT_LANG, surface: str = "web") -> str:
    params = params or {}

    def present(text: str) -> bool:
        return all(at or params.get(name) is not None for at, name, _ in _PLACEHOLDER.findall(text))

    text = _OPTIONAL.sub(lambda m: m.group(1) if present(m.group(1)) else "", template)

    def one(m: re.Match) -> str:
        at, name, spec = m.groups()
        if at:
            return field_ref(name, lang, surface)
        return fmt(params[name], spec == "%") if name in params else m.group(0)

    out = _PLACEHOLDER.sub(one, text)
    return _CJK_SPACE.sub("", out).strip() if surface == "cli" and lang == "zh" else out


def t(key: str, lang: str | None = None, surface: str = "cli", **params) -> str:
    """The message `key` in `lang` (default: LORASTUDIO_LANG), English when the language lacks
    it, the key itself when neither has it."""
    lang = normalize(lang) if lang else env_lang()
    if surface == "cli" and f"{key}.cli" in catalogue(lang):  # the terminal's own wording (flags, commands)
        key = f"{key}.cli"
    template = catalogue(lang).get(key)
    if template is None:
        template = catalogue(DEFAULT_LANG).get(key, key)
    return render(template, params, lang, surface)


def apply_text(apply: dict, lang: str, surface: str = "web") -> str:
    """A finding's `apply` ({field: value}) as words: 将「训练轮数」设为 20，「批大小」设为 2."""
    def value(k, v):  # a choice in words (long_samples "drop" → 舍弃); the CLI keeps the flag's value
        key = f"value.{k}.{v}"
        return catalogue(lang)[key] if surface != "cli" and isinstance(v, str) and key in catalogue(lang) else v

    parts = [t("fix.set", lang, surface, field=field_ref(k, lang, surface), value=value(k, v)) for k, v in apply.items()]
    return " ".join(parts) if surface == "cli" else t("fix.join", lang, surface).join(parts)


def finding_text(finding: dict, lang: str | None = None, surface: str = "cli") -> tuple[str, str]:
    """(title, fix) of a finding dict (code, evidence, apply) in `lang`; the finding's own English
    title and fix when the catalogue has no entry for its code."""
    lang = normalize(lang) if lang else env_lang()
    code, evidence = finding.get("code", ""), finding.get("evidence") or {}
    key = f"finding.{code}.title"
    if key not in catalogue(lang):
        return finding.get("title", ""), finding.get("fix", "")
    title = t(key, lang, surface, **evidence)
    fix = t(f"finding.{code}.fix", lang, surface, **evidence) if f"finding.{code}.fix" in catalogue(lang) else ""
    if finding.get("apply"):
        fix = apply_text(finding["apply"], lang, surface) + (t("fix.because", lang, surface) + fix if fix else "")
    return title, fix


__all__ = ["LANGS", "apply_text", "catalogue", "env_lang", "finding_text", "fmt", "has", "header_lang", "normalize",
           "render", "t"]
