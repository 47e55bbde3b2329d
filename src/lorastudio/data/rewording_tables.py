"""The rewording patterns for Chinese and English, as data: the functions that apply them are in
paraphrase.py, and leak_keys.py reads the synonyms and framings to compare questions.

Five kinds of rewording, applied to the question without its end punctuation ("body"):
  families    whole questions that mean the same (你是谁 / 你是哪位 / 介绍一下你自己 ...)
  synonyms    one word for another (什么 → 啥, 哪里 → 哪儿, 能 → 可以, 武器 → 兵器 ...)
  reorder     a different word order (你的师父是谁 → 谁是你的师父, 你为什么X → 你X是为了什么)
  wrappers    politeness and framing by kind of sentence (请问X？ / 能不能告诉我X？ / X？我很好奇。)
  particles   呢 / 呀 / 啊 / 吗: the plain form of each reworded body takes them in turn
and, for answers, short persona-neutral openers and closers.
"""

from __future__ import annotations

import re

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
ZH_SYNONYM_GUARDS = {
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
