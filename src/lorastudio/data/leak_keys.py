"""Keys for leak checks: a question stripped to its core and its synonyms made one word, so that a
held-out probe that is only a training question with a politeness framing added or one word
swapped is caught.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .language import detect_lang, normalize, question_key
from .rewording_tables import (
    EN_SYNONYMS, EN_WRAP_PREFIXES, EN_WRAP_SUFFIXES, ZH_SYNONYMS, ZH_WRAP_PREFIXES, ZH_WRAP_SUFFIXES,
)


@lru_cache(maxsize=65536)
def core(text: str) -> str:
    """The question's key without politeness framing: what a leak check compares.

    "可以告诉我你的武器是什么吗？" and "请问你的武器是什么" both have the core "你的武器是什么".
    """
    t = normalize(text)
    en = detect_lang(text) == "en"
    prefixes = EN_WRAP_PREFIXES if en else ZH_WRAP_PREFIXES
    suffixes = EN_WRAP_SUFFIXES if en else ZH_WRAP_SUFFIXES
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if t.startswith(p) and len(t) > len(p) + 1:
                t, changed = t[len(p):].strip(), True
        for s in suffixes:
            if t.endswith(s) and len(t) > len(s) + 1:
                t, changed = t[: -len(s)].strip(), True
    return question_key(t)


def _canonical_table() -> tuple[re.Pattern, dict[str, str]]:
    """Every synonym group (words linked through the tables) → its first-listed word.

    Single characters are left alone (能, 多 and 跟 sit inside too many other words), except 啥.
    """
    parent: dict[str, str] = {}

    def root(w: str) -> str:
        while parent.setdefault(w, w) != w:
            w = parent[w]
        return w

    for head, news in [*ZH_SYNONYMS, *EN_SYNONYMS]:
        for new in news:
            a, b = root(normalize(head)), root(normalize(new))
            if a != b:
                parent[b] = a
    to_head = {w: root(w) for w in parent if len(w) >= 2 or w == "啥"}
    words = sorted(to_head, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)), to_head


_CANONICAL, _TO_HEAD = _canonical_table()


@lru_cache(maxsize=65536)
def canonical(text: str) -> str:
    """The core with synonyms mapped to one word of their group in one pass (啥 and 哪些 →
    什么, 哪位 → 谁, 兵器 → 武器), so that a held-out probe is not just a training question
    with a word swapped. Only for comparing; the result need not read well."""
    return _CANONICAL.sub(lambda m: _TO_HEAD[m[0]], core(text))
