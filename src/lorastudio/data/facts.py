"""The facts a right answer names: keywords taken from a seed answer, for the `expect_any` of a
held-out probe. A heuristic; fact_keywords says what it keeps and what it drops."""

from __future__ import annotations

import re

from .language import detect_lang

MAX_KEYWORDS = 5

_EDGE = set("的了是在我你他她它俺们这那就都也还很得着过么吗呢吧啊呀把被给和与及又再才要会能可有个上下里来去说让从到对向为"
            "而但却并之其所于以者乃连一不没双根只条位件座")
_GENERIC = {"当年", "如今", "后来", "现在", "时候", "这个", "那个", "知道", "东西", "事情", "时间", "今天", "一下", "可以",
            "没有", "不是", "就是", "还是", "什么", "怎么", "为什么", "那还用说"}
_NUMERAL = re.compile(r"[零一二两三四五六七八九十百千万亿]{2,}[斤里年天变岁次回个难]?")
_NUMERAL_CHARS = set("零一二两三四五六七八九十百千万亿")
_EN_FACT = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*|\b\d[\d,.]*\b")


def fact_keywords(answer: str, corpus: list[str], markers=(), prompt: str = "", limit: int = MAX_KEYWORDS) -> list[str]:
    """Words in `answer` that a right answer to the same question should contain; a heuristic.

    Chinese: numerals with their unit (一万三千五百斤, 十万八千里, 七十二变), items of an
    enumeration (白骨精、牛魔王), and stretches of two to eight characters that other answers in
    `corpus` also use (花果山, 菩提祖师): the facts a persona repeats. English: capitalised names
    and numbers. Dropped: persona markers, words already in the prompt, stretches that start or
    end on a function character, generic words, and any keyword that contains a shorter one
    (any-of matching: 金箍棒 already matches 如意金箍棒), and stretches that only occur inside a
    longer one (花果 of 花果山). At most `limit`, in answer order.
    """
    if detect_lang(answer) == "en":
        found = [m.group(0) for m in _EN_FACT.finditer(answer)]
    else:
        text = answer
        for m in markers:
            text = text.replace(m, "|")
        others = [a for a in corpus if a != answer]
        common = max(2, len(corpus) // 4)  # in more answers than this: a word of the persona, not a fact
        seen: dict[str, int] = {}  # candidate → occurrences in the whole corpus
        for run in re.findall(r"[\u4e00-\u9fff]+", text):
            for size in range(2, 9):
                for i in range(len(run) - size + 1):
                    sub = run[i: i + size]
                    if (sub in seen or sub[0] in _EDGE or sub[-1] in _EDGE or sub in _GENERIC
                            or _NUMERAL_CHARS.issuperset(sub)):  # numbers come whole, below
                        continue
                    if 1 <= sum(sub in o for o in others) <= common:
                        seen[sub] = sum(a.count(sub) for a in {answer, *others})
        # A stretch that only ever occurs inside a longer one (花果 inside 花果山) is not a word.
        found = [k for k, n in seen.items() if not any(k != o and k in o and seen[o] == n for o in seen)]
        found += _NUMERAL.findall(text)
        found += re.findall(r"([\u4e00-\u9fff]{2,6})(?=、)", text)  # items of an enumeration: 白骨精、牛魔王……
        found += re.findall(r"、([\u4e00-\u9fff]{2,6})(?=[、，。！？…；：,.!?;:]|$)", text)
    asked = {prompt[i: i + 3] for i in range(len(prompt) - 2)}
    found = [k for k in dict.fromkeys(found) if k not in prompt and not any(m in k for m in markers)
             and not any(k[i: i + 3] in asked for i in range(len(k) - 2))]  # 双火眼金睛 when 火眼金睛 was asked
    found = [k for k in found if not any(o != k and o in k for o in found)]
    found.sort(key=answer.find)
    return found[:limit]

