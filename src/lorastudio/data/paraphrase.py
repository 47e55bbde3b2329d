"""Built-in question rewording for Chinese and English: the patterns are data, the functions small.

`question_variants("你是谁？")` gives rewordings such as 请问你是谁？ / 你是哪位？ /
能介绍一下你自己吗？ / 怎么称呼你呢？; `answer_variants(answer)` gives the same answer with a
short opener or closer, or without its last sentence, so that several samples built from one
seed are not near copies of each other. Nothing here invents a fact: every answer variant keeps
the seed's own sentences.

The patterns themselves are data, in rewording_tables.py.
"""

from __future__ import annotations

import re

from .language import ZH_PARTICLES, detect_lang, normalize, question_key
from .rewording_tables import (
    EN_AUX, EN_CLOSERS, EN_FAMILIES, EN_OPENERS, EN_QUESTION_WORDS, EN_REQUEST_STARTS, EN_SYNONYMS, EN_WRAPPERS,
    ZH_ADVICE_WORDS, ZH_CLOSERS, ZH_FAMILIES, ZH_OPENERS, ZH_PLAIN, ZH_QUESTION_WORDS, ZH_REORDER, ZH_REQUEST_STARTS,
    ZH_SYNONYM_GUARDS, ZH_SYNONYMS, ZH_WRAPPERS,
)

# ---------------------------------------------------------------- sentence kinds


def _body(text: str) -> str:
    """The instruction without surrounding whitespace, end punctuation and final particles
    (吗 stays: it is what makes a yes/no question)."""
    t = text.strip().rstrip("？?！!。.～~…,， ")
    while len(t) > 1 and t[-1] in ZH_PARTICLES and t[-1] != "吗" and t[-2] not in ZH_PARTICLES:
        t = t[:-1].rstrip("，, ")
    return t


def sentence_kind(text: str, lang: str = "zh") -> str:
    """'whq' (wh-question), 'ynq' (yes/no), 'advice' (what should I do), 'request' or 'other'."""
    raw = text.strip()
    if lang == "en":
        low = normalize(raw)
        first = low.split(" ")[0] if low else ""
        if "what should i do" in low or low.startswith("how do i") or low.startswith("how can i"):
            return "advice"
        if first in EN_QUESTION_WORDS:
            return "whq"
        if first in EN_AUX:
            return "ynq"
        if first in EN_REQUEST_STARTS:
            return "request"
        return "whq" if raw.endswith("?") else "other"
    body = _body(raw)
    if any(w in body for w in ZH_ADVICE_WORDS):
        return "advice"
    if body.startswith(ZH_REQUEST_STARTS):
        return "request"
    if any(w in body for w in ZH_QUESTION_WORDS):
        return "whq"
    if raw.rstrip("？?！!。. ").endswith("吗"):
        return "ynq"
    return "whq" if raw.endswith(("？", "?")) else "other"


def is_question(text: str, lang: str = "zh") -> bool:
    return sentence_kind(text, lang) in ("whq", "ynq", "advice")


# ---------------------------------------------------------------- rewording a question


def _fill_template(template: str, m: re.Match) -> str:
    return re.sub(r"\{(\d)\}", lambda g: m[int(g[1])] or "", template)


def _synonym_swaps(body: str, table: list[tuple[str, tuple[str, ...]]], guards: dict[str, str]) -> list[str]:
    """Each single replacement of one listed word by one of its synonyms (longest words first)."""
    alternatives = dict(table)
    words = sorted(alternatives, key=len, reverse=True)
    pattern = re.compile("|".join(guards.get(w, re.escape(w)) for w in words))
    out = []
    for m in pattern.finditer(body):
        for new in alternatives[m[0]]:
            out.append(body[: m.start()] + new + body[m.end():])
    return out


def _reorders(body: str, rules: list[tuple[str, object]]) -> list[str]:
    out = []
    for pattern, make in rules:
        m = re.match(pattern, body)
        if m:
            out += make(m) if callable(make) else [_fill_template(t, m) for t in make]
    return out


def _family_swaps(body: str, families: list[list[str]], lang: str) -> list[str]:
    """Swap a whole clause for another member of its family: 谢谢你，大圣 → 多谢，大圣."""
    sep = "，" if lang == "zh" else ", "
    clauses = body.split(sep)
    out = []
    for i, clause in enumerate(clauses):
        key = question_key(clause)
        for family in families:
            if key in (question_key(m) for m in family):
                for member in family:
                    if question_key(member) != key:
                        out.append(sep.join([*clauses[:i], member, *clauses[i + 1:]]))
    return out


def _wrap(body: str, kind: str, lang: str, i: int = 0) -> list[str]:
    """Body number `i` in its plain form (particles taken in turn), then in every framing."""
    if lang == "en":
        lower = body[:1].lower() + body[1:] if not body.startswith("I ") else body
        upper = body[:1].upper() + body[1:]
        return [t.format(q=lower, Q=upper) for t in EN_WRAPPERS[kind]]
    if kind == "ynq" and body.endswith("吗"):
        body = body[:-1]
    plain = ZH_PLAIN[kind][i % len(ZH_PLAIN[kind])]
    return [t.format(q=body) for t in [plain, *ZH_WRAPPERS[kind]]]


def _bodies(body: str, lang: str) -> list[str]:
    """The body and its rewordings: families, synonyms, reorders, and one more step on each."""
    if lang == "en":
        families, synonyms, guards, reorder = EN_FAMILIES, EN_SYNONYMS, {}, []
        body = body[:1].lower() + body[1:] if not body.startswith("I ") else body
    else:
        families, synonyms, guards, reorder = ZH_FAMILIES, ZH_SYNONYMS, ZH_SYNONYM_GUARDS, ZH_REORDER
    def swaps(b: str) -> list[str]:
        return _family_swaps(b, families, lang) + _synonym_swaps(b, synonyms, guards)

    # One or two swaps, and a reorder of the body or of a swapped body; never a reorder of a
    # reorder (that is how 你都会些 turns into 你都会些的是什么).
    first = [body, *swaps(body)]
    reordered = [r for b in first for r in _reorders(b, reorder)]
    second = [s for b in first[1:] + reordered for s in swaps(b)]
    return list(dict.fromkeys(first + reordered + second))  # ordered, no repeats


def question_variants(text: str, lang: str | None = None) -> list[str]:
    """Rewordings of an instruction, each a full sentence with punctuation; the original's own
    key is excluded, and no two variants share a key. Deterministic order (callers shuffle)."""
    lang = lang or detect_lang(text) or "en"
    own_kind = sentence_kind(text, lang)
    seen = {question_key(text)}
    out = []
    for i, body in enumerate(_bodies(_body(text), lang)):
        kind = sentence_kind(body, lang)
        if lang == "zh" and re.search(r"(.)不\1", body):
            kind = "whq"  # an A-not-A question embeds like a wh-question: 能不能告诉我你会不会X
        elif kind == "other":
            kind = own_kind  # a body without its end punctuation can look like a statement
        for variant in _wrap(body, kind, lang, i):
            key = question_key(variant)
            if key and key not in seen:
                seen.add(key)
                out.append(variant)
    return out


# ---------------------------------------------------------------- varying an answer

_SENTENCE = re.compile(r"[^。！？!?…]+[。！？!?…]*[”」』\"]?")


def sentences(text: str) -> list[str]:
    """Split after 。！？!? (closing quotes stay with their sentence)."""
    return [s for s in (m.group(0) for m in _SENTENCE.finditer(text.strip())) if s.strip()]


def answer_variants(answer: str, lang: str | None = None, question: bool = True) -> list[str]:
    """The answer itself first, then: opener + answer, answer + closer, opener + answer + closer,
    and the same with the last sentence dropped when what remains is most of the answer.

    `question` picks openers that suit an answer to a question ("问得好！") or to a greeting,
    thanks or request ("好嘞！"). Every variant keeps the answer's own sentences in order.
    """
    lang = lang or detect_lang(answer) or "en"
    kind = "question" if question else "other"
    openers = (EN_OPENERS if lang == "en" else ZH_OPENERS)[kind]
    closers = (EN_CLOSERS if lang == "en" else ZH_CLOSERS)[kind]
    answer = answer.strip()
    bodies = [answer]
    parts = sentences(answer)
    if len(parts) >= 2:
        shorter = "".join(parts[:-1]).strip()
        if len(shorter) >= 0.6 * len(answer) and shorter[-1:] in "。！？!?…":
            bodies.append(shorter)
    out = []
    for body in bodies:
        out.append(body)
        out += [_join(o, body, lang) for o in openers]
        out += [_join(body, c, lang) for c in closers]
        out += [_join(_join(o, body, lang), c, lang) for o in openers for c in closers]
    return list(dict.fromkeys(out))


_EN_LOWER_AFTER_COMMA = {"the", "it", "that", "this", "there", "my", "we", "you", "he", "she", "they", "a", "an"}


def _join(a: str, b: str, lang: str) -> str:
    if lang == "en":
        first = b.split(" ", 1)[0]
        if a.endswith(", ") and first.lower() in _EN_LOWER_AFTER_COMMA:
            b = b[:1].lower() + b[1:]  # "Well, the answer" rather than "Well, The answer"
        return (a + b).replace("  ", " ")
    return a + b
