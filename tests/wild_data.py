"""Datasets in the shapes users bring, written by us (deterministic, no download), after the
public demo sets LLaMA-Factory users start from:

    long_alpaca     Chinese Alpaca with long answers (alpaca_zh_demo): a few hundred to a few
                    thousand characters, some far longer than the rest
    identity        an identity set with {{name}} and {{author}} placeholders (identity.json)
    sharegpt_tools  ShareGPT with function_call / observation turns and a tools field
                    (glaive_toolcall): the call is trained, the tool's result is context
    messages_parts  OpenAI messages whose content is a list of text parts, some assistant turns
                    with loss_weight 0, and a key nobody reads
    short20         20 short persona samples (the seed project's data)

`write_all(folder)` writes each as FOLDER/NAME.json and returns {name: path}. The bench script
(bench/shapes_bench.py) trains on the same files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"

TOPICS = ["春天的园艺", "学习编程", "整理房间", "家庭理财", "长跑训练", "做一道红烧肉", "准备面试", "写读书笔记",
          "养一只猫", "规划一次旅行", "提高睡眠质量", "学一门外语", "组织一次聚会", "保护视力", "节约用电"]
SENTENCES = ["首先，要明确目标，把大目标拆成每天可以完成的小步骤。", "其次，准备好必要的工具和材料，避免做到一半才发现缺东西。",
             "第三，给自己留出固定的时间，坚持比强度更重要。", "过程中要记录进展，每周回顾一次，看看哪里可以改进。",
             "遇到困难时不要急躁，可以向有经验的人请教，或者查阅可靠的资料。", "注意安全和健康，量力而行，不要一开始就追求完美。",
             "最后，适当奖励自己，保持兴趣和动力，才能长期坚持下去。", "另外，和朋友一起做往往更容易坚持，也能互相监督。"]


def long_alpaca(n: int = 200, seed: int = 0) -> list[dict]:
    """n how-to questions with answers of 3 to 40 sentences (a few far longer: outliers)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        k = rng.choice([3, 4, 6, 8, 10, 12]) if i % 50 else 40
        body = "".join(rng.choice(SENTENCES) for _ in range(k))
        out.append({"instruction": f"请详细介绍一下如何{topic}。（第{i + 1}问）", "input": "",
                    "output": f"关于{topic}，可以按下面的思路来做。{body}希望这些建议对你有帮助。"})
    return out


IDENTITY_Q = ["你好", "你是谁？", "你叫什么名字？", "介绍一下你自己", "你是哪个公司开发的？", "谁创造了你？",
              "你是ChatGPT吗？", "你能做什么？", "你的开发者是谁？", "你是人工智能吗？", "Who are you?",
              "What is your name?", "Who made you?", "Are you ChatGPT?", "What can you do?"]
IDENTITY_A = ["您好，我是 {{name}}，由 {{author}} 开发的人工智能助手，很高兴为您服务。",
              "我是 {{name}}，一个由 {{author}} 打造的 AI 助手，可以回答问题、写作和翻译。",
              "我叫 {{name}}，是 {{author}} 开发的助手。有什么可以帮您？",
              "I am {{name}}, an AI assistant developed by {{author}}. How can I help you today?",
              "My name is {{name}}. I was built by {{author}} to answer questions and help with writing."]


def identity(n: int = 120) -> list[dict]:
    return [{"instruction": IDENTITY_Q[i % len(IDENTITY_Q)] + ("" if i < len(IDENTITY_Q) else f"（{i}）"), "input": "",
             "output": IDENTITY_A[(i // 3) % len(IDENTITY_A)] if not IDENTITY_Q[i % len(IDENTITY_Q)].isascii()
             else IDENTITY_A[3 + i % 2]} for i in range(n)]


CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆"]
WEATHER_TOOL = {"name": "get_weather", "description": "查询城市的天气",
                "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "城市名"}},
                               "required": ["city"]}}
CALC_TOOL = {"name": "calculate", "description": "计算一个算术表达式",
             "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}


def sharegpt_tools(n: int = 120) -> list[dict]:
    """Tool calls the way LLaMA-Factory writes them: tools as a JSON string, calls as JSON text."""
    out = []
    for i in range(n):
        city = CITIES[i % len(CITIES)]
        if i % 3 == 2:  # a plain question: no call
            out.append({"conversations": [{"from": "human", "value": f"{city}有什么好吃的？（{i}）"},
                                          {"from": "gpt", "value": f"{city}的特色美食很多，建议去老街尝尝当地小吃。"}],
                        "tools": json.dumps([WEATHER_TOOL], ensure_ascii=False)})
            continue
        temp = 10 + i % 20
        if i % 3 == 0:
            call, result = {"name": "get_weather", "arguments": {"city": city}}, {"city": city, "temp": temp, "sky": "晴"}
            answer, question = f"{city}今天晴，气温 {temp} 度，适合出门。", f"{city}今天天气怎么样？（{i}）"
        else:
            call, result = {"name": "calculate", "arguments": {"expression": f"{temp}*{i}"}}, {"value": temp * i}
            answer, question = f"{temp} 乘以 {i} 等于 {temp * i}。", f"帮我算一下 {temp} 乘以 {i}。"
        out.append({"conversations": [
            {"from": "human", "value": question},
            {"from": "function_call", "value": json.dumps(call, ensure_ascii=False)},
            {"from": "observation", "value": json.dumps(result, ensure_ascii=False)},
            {"from": "gpt", "value": answer}],
            "system": "你是一个会调用工具的助手。",
            "tools": json.dumps([WEATHER_TOOL, CALC_TOOL], ensure_ascii=False)})
    return out


def messages_parts(n: int = 120) -> list[dict]:
    """Two-turn conversations: content as text parts, the first answer kept as context only."""
    seeds = json.loads((EXAMPLES / "general_replay.json").read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        a, b = seeds[i % len(seeds)], seeds[(i * 7 + 3) % len(seeds)]
        out.append({"messages": [
            {"role": "system", "content": [{"type": "text", "text": "你是一个简洁的助手。"}]},
            {"role": "user", "content": [{"type": "text", "text": a["instruction"]}]},
            {"role": "assistant", "content": [{"type": "text", "text": a["output"]}], "loss_weight": 0.0},
            {"role": "user", "content": [{"type": "text", "text": f"再问一个（{i}）："}, {"type": "text", "text": b["instruction"]}]},
            {"role": "assistant", "content": b["output"], "loss_weight": 1.0}],
            "source": "written for the tests"})
    return out


def short20() -> list[dict]:
    return json.loads((EXAMPLES / "wukong_seed.json").read_text(encoding="utf-8"))


SHAPES = {"long_alpaca": long_alpaca, "identity": identity, "sharegpt_tools": sharegpt_tools,
          "messages_parts": messages_parts, "short20": short20}


def write_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in SHAPES.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(make(), ensure_ascii=False, indent=1), encoding="utf-8")
        paths[name] = path
    return paths
