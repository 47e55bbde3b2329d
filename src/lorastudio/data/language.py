"""Text normalisation, language detection and question keys, shared by the rewording, the
filters, the held-out prompts and the leak checks.

A text is Chinese when at least half its letters are CJK characters; the question key of a text
ignores punctuation, case, width and sentence-final particles, so "你是谁？", "你是谁呀！" and
"你是谁呢" count as the same question.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_SPACE_NEAR_CJK = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) | (?=[\u3400-\u9fff\uf900-\ufaff])")
ZH_PARTICLES = "呢呀吗啊吧嘛哦啦哈"
ZH_THRESHOLD = 0.5  # a text is Chinese when at least half its letters are CJK characters


def normalize(text: str) -> str:
    """Lower case, NFKC (full-width → half-width), punctuation and symbols dropped, spaces
    kept only between Latin words: "请问，你是谁？" → "请问你是谁", "Who ARE you?!" → "who are you"."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(ch if unicodedata.category(ch)[0] in "LN" else " " for ch in t)
    t = " ".join(t.split())
    return _SPACE_NEAR_CJK.sub("", t)


def cjk_share(text: str) -> float | None:
    """CJK characters / (CJK characters + Latin letters); None when the text has neither."""
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return cjk / (cjk + latin) if cjk + latin else None


def detect_lang(text: str) -> str | None:
    """'zh' or 'en' by CJK share (see ZH_THRESHOLD); None for text with no letters at all."""
    share = cjk_share(text)
    return None if share is None else "zh" if share >= ZH_THRESHOLD else "en"


def question_key(text: str) -> str:
    """The question as asked, ignoring punctuation, case and sentence-final particles:
    "你是谁？", "你是谁呀！" and "你是谁呢" share the key "你是谁"."""
    key = normalize(text)
    while len(key) > 1 and key[-1] in ZH_PARTICLES:
        key = key[:-1]
    return re.sub(r"\s+please$", "", key)

