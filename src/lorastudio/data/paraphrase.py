"""Built-in question rewording for Chinese and English: the patterns are data, the functions small.

`question_variants("你是谁？")` gives rewordings such as 请问你是谁？ / 你是哪位？ /
能介绍一下你自己吗？ / 怎么称呼你呢？; `answer_variants(answer)` gives the same answer with a
short opener or closer, or without its last sentence, so that several samples built from one
seed are not near copies of each other. Nothing here invents a fact: every answer variant keeps
the seed's own sentences.

Five kinds of rewording, applied to the question without its end punctuation ("body"):
  families    whole questions that mean the same (你是谁 / 你是哪位 / 介绍一下你自己 ...)
  synonyms    one word for another (什么 → 啥, 哪里 → 哪儿, 能 → 可以, 武器 → 兵器 ...)
  reorder     a different word order (你的师父是谁 → 谁是你的师父, 你为什么X → 你X是为了什么)
  wrappers    politeness and framing by kind of sentence (请问X？ / 能不能告诉我X？ / X？我很好奇。)
  particles   呢 / 呀 / 啊 / 吗: the plain form of each reworded body takes them in turn

Also here, because the filters and the expander both need them: text normalisation, the
question key and core used for duplicate and leak checks, language detection by CJK share, and
the deterministic clustering used when a dataset has no `category` field.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache

import numpy as np

# ---------------------------------------------------------------- normalisation and language

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


# ---------------------------------------------------------------- Chinese patterns

ZH_QUESTION_WORDS = ("什么", "谁", "哪", "怎么", "怎样", "如何", "为何", "为啥", "多少", "几", "多远", "多重",
                     "多高", "多久", "多长", "啥", "何", "会不会", "能不能", "是不是", "有没有", "可不可以")
ZH_ADVICE_WORDS = ("怎么办", "咋办", "该怎么做")
ZH_REQUEST_STARTS = ("帮我", "给我", "请", "写", "讲", "告诉我", "介绍", "说说", "来一", "推荐")

# Whole questions that ask the same thing; any member may replace any other.
ZH_FAMILIES: list[list[str]] = [
    ["你是谁", "你是哪位", "你叫什么", "你叫什么名字", "介绍一下你自己", "怎么称呼你", "你的名字是什么",
     "你到底是谁", "你是何方神圣"],
    ["你有什么本领", "你有什么本事", "你会什么", "你都会些什么", "你有哪些本领", "你有什么能耐"],
    ["你好", "您好", "嗨", "哈喽"],
    ["谢谢", "谢谢你", "多谢", "多谢你", "太感谢了", "非常感谢", "感谢你"],
    ["再见", "拜拜", "回头见", "下次再聊"],
    ["早上好", "早安", "早"],
    ["晚上好", "晚好"],
]

# (pattern, replacements): one occurrence replaced at a time. Longer words are tried first, so
# 为什么 is not read as 为 + 什么 and 能不能 is not read as 能.
ZH_SYNONYMS: list[tuple[str, tuple[str, ...]]] = [
    ("为什么要", ("为啥要", "为何要", "为什么")),
    ("为什么", ("为啥", "为何")),
    ("怎么办", ("该怎么办", "怎么办才好", "该咋办")),
    ("是怎么来的", ("是怎么得来的", "是从哪儿来的")),
    ("怎么样", ("怎样", "如何")),
    ("怎么", ("怎样", "如何")),
    ("哪里", ("哪儿", "什么地方", "何处")),
    ("哪些", ("什么",)),
    ("什么", ("啥",)),
    ("谁", ("哪位",)),
    ("有多", ("多",)),
    ("最喜欢", ("最爱",)),
    ("喜欢", ("爱",)),
    ("本领", ("本事", "能耐")),
    ("本事", ("本领", "功夫")),
    ("武器", ("兵器", "兵刃")),
    ("跟", ("和",)),
    ("谢谢", ("多谢", "感谢")),
    ("你好", ("您好",)),
    ("没考好", ("考砸了", "考得不好")),
    ("能不能", ("可不可以",)),
    ("能", ("可以", "能够")),
    ("帮我", ("给我",)),
    ("你的家", ("你的老家", "你家")),
]
# 能 inside 本能 / 才能 / 可能 / 不能 / 能力 / 能够 / 能耐 is not the modal verb.
_ZH_SYNONYM_GUARDS = {
    "能": r"(?<![本才可不])能(?![不力够耐])",
    "跟": r"跟(?=[^前头])",
    "谁": r"谁(?!的)",
    "怎么办": r"(?<![该])怎么办(?!才好)",  # do not stack: 该该怎么办, 怎么办才好才好
    "怎么": r"怎么(?![办样])",  # 怎么办 is not 如何办, 怎么样 not 如何样 (怎么样 has its own entry)
    "为什么要": r"为什么要(?!.*为了)",
}

_DIMENSIONS = {"重": "重量", "远": "距离", "高": "高度", "长": "长度", "久": "时间"}


def _dimension(m: re.Match) -> list[str]:
    return [f"{m[1]}的{_DIMENSIONS[m[2]]}是多少"]


# (pattern on the body, templates or a function of the match). Groups are {1}, {2}, ...
ZH_REORDER: list[tuple[str, object]] = [
    (r"^你的(.+)是(什么|谁|哪位)$", ["{2}是你的{1}"]),                   # 你的师父是谁 → 谁是你的师父
    (r"^你的(.+)在(哪里|哪儿)$", ["{2}是你的{1}"]),                      # 你的家在哪里 → 哪里是你的家
    (r"^你(.{0,5}(?:吃|喝|玩|看|做|学|用|买|读|听))(什么|啥)$", ["你{1}的是什么", "什么是你{1}的"]),  # 你最喜欢吃什么 → 你最喜欢吃的是什么
    (r"^你为(?:什么|啥|何)要?(.+)$", ["你{1}是为了什么", "你{1}图的是什么"]),  # 你为什么大闹天宫 → 你大闹天宫是为了什么
    (r"^你([^都]+?)过(哪些|什么)(.+)$", ["你{1}过的{3}有哪些", "你都{1}过哪些{3}"]),  # 你打过哪些妖怪 → 你打过的妖怪有哪些
    (r"^(.+?)有?多(重|远|高|长|久)$", _dimension),                         # 金箍棒有多重 → 金箍棒的重量是多少
    (r"^你的(.+)是(?:跟|和)谁学的$", ["你的{1}是谁教的", "你是跟谁学的{1}", "谁教了你{1}"]),
    (r"^你的(.+)是(?:怎么|怎样|如何)(?:得)?来的$", ["你是怎么得到{1}的", "你的{1}从何而来"]),
    (r"^我(.+?)，?该?怎么办$", ["{1}，我该怎么办", "我{1}，该怎么办"]),       # 我考试没考好怎么办
    (r"^(.{1,3})(早上好|晚上好|下午好|早安|你好)$", ["{2}，{1}"]),             # 大圣早上好 → 早上好，大圣
    (r"^([^，]+)，([^，]{1,3})$", ["{2}，{1}"]),                              # 谢谢你，大圣 → 大圣，谢谢你
    (r"^([^，]{1,3})，([^，]+)$", ["{2}，{1}"]),                              # 猴哥，在吗 → 在吗，猴哥
    (r"^你(会|能|是|有)([^不没].*?)吗$", ["你{1}不{1}{2}", "听说你{1}{2}，是真的吗"]),  # 你会七十二变吗 → 你会不会七十二变
]

# The plain form of a body, by kind: these differ only by a particle, so they share a question
# key and only one can be kept; body number i gets form i % n, so the particles spread.
ZH_PLAIN: dict[str, list[str]] = {
    "whq": ["{q}？", "{q}呢？", "{q}呀？", "{q}啊？"],
    "ynq": ["{q}吗？"],
    "advice": ["{q}？", "{q}呢？", "{q}啊？"],
    "request": ["{q}", "{q}。"],
    "other": ["{q}！", "{q}呀！", "{q}～"],
}
# Framings by kind of sentence; {q} is the body.
ZH_WRAPPERS: dict[str, list[str]] = {
    "whq": ["请问{q}？", "请问，{q}？", "能不能告诉我{q}？", "可以告诉我{q}吗？",
            "我想知道{q}。", "想问一下，{q}？", "跟我说说，{q}？", "{q}？我很好奇。", "问你个问题：{q}？"],
    "ynq": ["请问{q}吗？", "我想问问，{q}吗？", "{q}吗？说来听听。", "{q}吗？我很好奇。", "{q}吗，真的假的？"],
    "advice": ["请问{q}？", "{q}？给我出出主意吧。", "{q}？你帮我想想办法。"],
    "request": ["请{q}。", "能不能{q}？", "可以{q}吗？", "能{q}吗？", "麻烦{q}。", "{q}，好吗？", "{q}吧！",
                "你能{q}吗？"],
    "other": [],
}
# What the wrappers add, for stripping back to the question's core (leak checks).
ZH_WRAP_PREFIXES = ("能不能告诉我", "可以告诉我", "问你个问题", "我想问问", "我想知道", "想问一下", "跟我说说", "请问",
                    "麻烦", "可以", "能不能", "你能", "能", "请")
ZH_WRAP_SUFFIXES = ("给我出出主意吧", "你帮我想想办法", "真的假的", "说来听听", "我很好奇", "好吗", "吧")

# Short, persona-neutral framings of an answer. Every answer keeps its seed's own sentences.
ZH_OPENERS = {
    "question": ["问得好！", "这个嘛，", "你问这个呀？", "说起这个，", "实话告诉你，", "不瞒你说，", "你可问对人了！",
                 "听好了，", "这事儿啊，", "好，跟你说道说道。"],
    "other": ["哈哈，", "好嘞！", "好说好说！", "没问题！", "你来得正好！"],
}
ZH_CLOSERS = {
    "question": ["你还想知道什么？", "还有啥想问的，尽管开口！", "这下明白了吧？", "记住了没有？", "就是这么回事！",
                 "还想听别的吗？"],
    "other": ["有事随时招呼！", "咱们回头再聊！", "就这么说定了！"],
}

# ---------------------------------------------------------------- English patterns

EN_QUESTION_WORDS = ("what", "who", "whom", "whose", "where", "when", "why", "how", "which")
EN_AUX = ("do", "does", "did", "is", "are", "was", "were", "can", "could", "will", "would", "have", "has", "should")
EN_REQUEST_STARTS = ("tell", "write", "give", "help", "please", "describe", "explain", "introduce", "show", "list")

EN_FAMILIES: list[list[str]] = [
    ["who are you", "what is your name", "what's your name", "tell me about yourself", "introduce yourself",
     "what should I call you", "who exactly are you"],
    ["what can you do", "what are your abilities", "what are you good at", "what skills do you have"],
    ["hello", "hi", "hey", "hi there", "hello there"],
    ["thanks", "thank you", "thanks a lot", "many thanks", "thank you so much"],
    ["goodbye", "bye", "see you", "see you later"],
]
EN_SYNONYMS: list[tuple[str, tuple[str, ...]]] = [
    ("what is", ("what's",)),
    ("who is", ("who's",)),
    ("where is", ("where's",)),
    ("you are", ("you're",)),
    ("do not", ("don't",)),
    ("favorite", ("favourite",)),
    ("weapon", ("weapon of choice",)),
    ("can you", ("could you",)),
    ("how far", ("what distance",)),
    ("why", ("for what reason",)),
]
EN_WRAPPERS: dict[str, list[str]] = {
    "whq": ["{Q}?", "May I ask: {q}?", "Quick question: {q}?", "Tell me, {q}?", "{Q}? I'm curious.",
            "I was wondering, {q}?", "Can I ask you something? {Q}?", "So, {q}?"],
    "ynq": ["{Q}?", "May I ask: {q}?", "Quick question: {q}?", "Tell me, {q}?", "{Q}? I'm curious.",
            "I was wondering, {q}?", "So, {q}?"],
    "advice": ["{Q}?", "{Q}? Any advice?", "Quick question: {q}?", "{Q}? Please help me think it through."],
    "request": ["{Q}.", "Please {q}.", "Could you {q}?", "Can you {q}?", "Would you {q}?", "{Q}, please."],
    "other": ["{Q}!", "{Q}."],
}
EN_WRAP_PREFIXES = ("can i ask you something", "i was wondering", "quick question", "may i ask", "tell me", "could you",
                    "can you", "would you", "please", "so")
EN_WRAP_SUFFIXES = ("please help me think it through", "any advice", "i m curious", "please")
EN_OPENERS = {
    "question": ["Good question! ", "Well, ", "Ah, you want to know that? ", "Let me tell you: ", "Listen, ",
                 "To be honest, "],
    "other": ["Ha! ", "Sure thing! ", "Oh, ", "Alright! "],
}
EN_CLOSERS = {
    "question": [" Anything else you want to know?", " Now you know!", " Got it?", " That's the story."],
    "other": [" Call on me anytime!", " Talk soon!"],
}

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
        families, synonyms, guards, reorder = ZH_FAMILIES, ZH_SYNONYMS, _ZH_SYNONYM_GUARDS, ZH_REORDER
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


# ---------------------------------------------------------------- clustering into categories


def _ngrams(text: str) -> list[str]:
    """Character 1- and 2-grams for Chinese, words and word pairs for English."""
    t = normalize(text)
    if detect_lang(t) == "en":
        words = t.split()
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    t = t.replace(" ", "")
    return list(t) + [t[i: i + 2] for i in range(len(t) - 1)]


def cluster(texts: list[str], k: int | None = None, iterations: int = 20) -> tuple[list[int], list[str]]:
    """Group texts by TF-IDF of character n-grams with k-means (cosine), deterministically.

    k defaults to round(sqrt(n / 2)), at least 1. Initial centres are chosen farthest-first
    starting from text 0, so there is no random state. Returns each text's cluster index and a
    name per cluster: "auto-<i>-<its heaviest n-gram>".
    """
    n = len(texts)
    if n == 0:
        return [], []
    k = max(1, min(n, k if k is not None else round(math.sqrt(n / 2))))
    grams = [Counter(_ngrams(t)) for t in texts]
    vocab = sorted({g for c in grams for g in c})
    index = {g: i for i, g in enumerate(vocab)}
    tf = np.zeros((n, len(vocab)))
    for row, counts in enumerate(grams):
        for g, c in counts.items():
            tf[row, index[g]] = c
    df = (tf > 0).sum(axis=0)
    x = tf * (np.log((1 + n) / (1 + df)) + 1)  # smoothed idf, as scikit-learn's default
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    centres = [0]
    for _ in range(1, k):
        sim = (x @ x[centres].T).max(axis=1)
        centres.append(int(np.argmin(sim)))
    c = x[centres].copy()
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
                c[j] /= max(np.linalg.norm(c[j]), 1e-12)
    # Number the clusters in order of first appearance, and name each by its heaviest n-gram
    # of two or more characters (or words) when there is one.
    order = list(dict.fromkeys(labels.tolist()))
    names = []
    for new_id, old in enumerate(order):
        weights = x[labels == old].sum(axis=0)
        ranked = [vocab[i] for i in np.argsort(-weights, kind="stable")]
        top = next((g for g in ranked if len(g) >= 2 and " " not in g[:1]), ranked[0])
        names.append(f"auto-{new_id + 1}-{top}")
    remap = {old: new for new, old in enumerate(order)}
    return [remap[label] for label in labels.tolist()], names
