"""Growing a dataset: `lorastudio data expand` (templates and model), filters, held-out probes.

Near-duplicate criterion checked here, independently of the code under test: two samples are
near duplicates when rapidfuzz `fuzz.ratio` of their normalised "instruction answer" texts
(punctuation and spaces dropped) is >= 90, or when their questions are the same once
punctuation and sentence-final particles (呢呀吗啊吧...) are dropped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import httpx
import pytest
from rapidfuzz import fuzz, process

from lorastudio.data.clustering import cluster
from lorastudio.data.expand import expand_dataset, read_prompts
from lorastudio.data.expand_report import format_expand_report
from lorastudio.data.facts import fact_keywords
from lorastudio.data.filters import Candidate, SampleFilter, filter_samples, leaks, near_duplicate_pairs
from lorastudio.data.generate import parse_pairs, parse_questions
from lorastudio.data.language import detect_lang, question_key
from lorastudio.data.leak_keys import canonical, core
from lorastudio.data.paraphrase import question_variants
from lorastudio.errors import ConfigError, ModelError

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"
SEED = EXAMPLES / "wukong_seed.json"
MARKERS = ["俺老孙", "嘿嘿", "呔"]
EXAMPLE_ARGS = dict(target=150, holdout=20, markers=MARKERS, seed=0)


def _norm(text: str) -> str:
    """Independent of the library: NFKC, lower case, letters and digits only."""
    t = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in t if unicodedata.category(ch)[0] in "LN")


def _question(text: str) -> str:
    return re.sub(r"[呢呀吗啊吧嘛哦啦哈]+$", "", _norm(text))


def _json(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """The bundled 20 seeds grown with the example command's options."""
    out = tmp_path_factory.mktemp("expand") / "wukong.json"
    report = expand_dataset(SEED, out, **EXAMPLE_ARGS)
    return report, out, out.with_name("wukong_probes.jsonl")


# ---------------------------------------------------------------- templates on the bundled seeds


def test_templates_reach_136_unique_samples_in_voice(grown):
    report, out, _ = grown
    records = _json(out)
    assert len(records) == report.n_out == 150 >= 136
    assert all(set(r) == {"instruction", "input", "output", "category"} for r in records)
    assert len({(r["instruction"], r["output"]) for r in records}) == len(records)  # no exact duplicate
    texts = [_norm(r["instruction"]) + " " + _norm(r["output"]) for r in records]
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, workers=1)
    worst = max((scores[i, j], i, j) for i in range(len(texts)) for j in range(i + 1, len(texts)))
    assert worst[0] < 90, (records[worst[1]], records[worst[2]])
    questions = Counter(_question(r["instruction"]) for r in records)
    assert max(questions.values()) == 1, questions.most_common(3)
    for r in records:
        assert any(m in r["output"] for m in MARKERS), r["output"]
    seeds = _json(SEED)
    assert all(s in records for s in seeds)  # every seed kept as it was


def test_answers_stay_true_to_their_seed(grown):
    """Every answer is its seed's answer (or its first sentences) with at most a short framing."""
    _, out, _ = grown
    seeds = {s["category"]: [] for s in _json(SEED)}
    for s in _json(SEED):
        seeds[s["category"]].append(s["output"])
    for r in _json(out):
        first = re.split(r"(?<=[。！？…])", next(a for a in seeds[r["category"]] if a[:12] in r["output"]))[0]
        assert first in r["output"], r


def test_no_probe_leaks_into_training(grown):
    report, out, probes_path = grown
    probes = _jsonl(probes_path)
    assert len(probes) == report.n_probes == 20
    training = [r["instruction"] for r in _json(out)]
    seeds = _json(SEED)
    for p in probes:
        assert set(p) == {"prompt", "expect_any", "category", "source_index"}
        assert p["category"] == seeds[p["source_index"]]["category"]
        assert _question(p["prompt"]) not in {_question(t) for t in training}
        for t in training:  # the bundled probes' own criterion (tests/test_examples.py) ...
            assert fuzz.ratio(p["prompt"], t) < 85, (p["prompt"], t)
        for kw in p["expect_any"]:  # ... facts taken from the seed's answer, not given away
            assert kw in seeds[p["source_index"]]["output"] and kw not in p["prompt"]
    assert leaks([p["prompt"] for p in probes], training) == []  # ... and ours (synonyms, framing)
    assert sum(bool(p["expect_any"]) for p in probes) >= 12
    assert len({p["category"] for p in probes}) >= 12


def test_same_seed_same_bytes_other_seed_differs(grown, tmp_path):
    _, out, probes = grown
    again = tmp_path / "again.json"
    expand_dataset(SEED, again, **EXAMPLE_ARGS)
    assert again.read_bytes() == out.read_bytes()
    assert (tmp_path / "again_probes.jsonl").read_bytes() == probes.read_bytes()
    other = tmp_path / "other.json"
    expand_dataset(SEED, other, **(EXAMPLE_ARGS | {"seed": 1}))
    assert other.read_bytes() != out.read_bytes()


def test_report_counts_categories_and_filters(grown):
    report, out, _ = grown
    assert report.categories_before == dict(Counter(s["category"] for s in _json(SEED)))
    assert report.categories_after == dict(Counter(r["category"] for r in _json(out)))
    assert set(report.categories_after) == set(report.categories_before)
    assert min(report.categories_after.values()) >= 5
    assert report.candidates == report.n_out + sum(report.filters.values())
    assert report.filters["probe_leak"] > 0 and report.filters["no_marker"] == 0
    assert report.files == [str(out), str(out.with_name("wukong_probes.jsonl"))]
    text = format_expand_report(report)
    assert "identity" in text and "probe_leak" in text and "20 -> 150" in text
    assert re.search(r"total\s+20\s+150\s+20", text)


def test_bundled_expanded_set_is_regenerated_by_the_example_command(grown):
    """src/lorastudio/examples/wukong_expanded*.json(l) are this command's output, byte for byte:
    lorastudio data expand src/lorastudio/examples/wukong_seed.json -o wukong_expanded.json
        --target 150 --holdout 20 --markers 俺老孙,嘿嘿,呔 --seed 0"""
    _, out, probes = grown
    assert (EXAMPLES / "wukong_expanded.json").read_bytes() == out.read_bytes()
    assert (EXAMPLES / "wukong_expanded_probes.jsonl").read_bytes() == probes.read_bytes()


def test_keep_out_holds_an_existing_probes_file_out_of_the_grown_set(tmp_path, persona_train, persona_probes):
    # Growing the 155-sample training set whose held-out probes exist already. The bundled probes
    # are reworded beyond what the templates make (no leak either way), so the test also holds
    # out five questions the templates do make: they must vanish from the grown set.
    seeds = {r["instruction"] for r in _json(persona_train)}
    free = expand_dataset(persona_train, tmp_path / "free.json", target=300, seed=0)
    made = [r["instruction"] for r in _json(tmp_path / "free.json") if r["instruction"] not in seeds][::30][:5]
    kept_out = read_prompts(persona_probes) + made
    held = expand_dataset(persona_train, tmp_path / "held.json", target=300, seed=0, keep_out=kept_out)
    assert len(made) == 5 and leaks(kept_out, [r["instruction"] for r in _json(tmp_path / "free.json")])
    assert leaks(kept_out, [r["instruction"] for r in _json(tmp_path / "held.json")]) == []
    assert held.filters["probe_leak"] >= 5 > free.filters["probe_leak"] == 0 and held.n_out == 300
    assert read_prompts(persona_train)[:2] == [r["instruction"] for r in _json(persona_train)[:2]]  # a dataset's questions


def test_python_api_expand_is_the_cli_command(tmp_path, persona_probes):
    import lorastudio

    report = lorastudio.expand(SEED, tmp_path / "api.json", keep_out=str(persona_probes), **EXAMPLE_ARGS)
    assert report.n_out == 150 and (tmp_path / "api_probes.jsonl").exists()
    kept = [r["instruction"] for r in _json(tmp_path / "api.json")]
    assert leaks(read_prompts(persona_probes), kept) == []
    with pytest.raises(ConfigError, match="--method 'magic'"):
        lorastudio.expand(SEED, tmp_path / "x.json", method="magic")


def test_python_api_expand_checks_before_loading_a_model(tmp_path, monkeypatch):
    import lorastudio
    from lorastudio.serving.engine import ChatEngine

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(ChatEngine, "load", no_load)
    (tmp_path / "taken.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ConfigError, match="taken.json already exists"):
        lorastudio.expand(SEED, tmp_path / "taken.json", method="model", model="smollm2-135m")
    with pytest.raises(ConfigError, match="--target 0"):
        lorastudio.expand(SEED, tmp_path / "new.json", method="model", target=0)


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "grown.json"
    out.write_text("[]", encoding="utf-8")  # a set the user edited by hand
    with pytest.raises(ConfigError, match="grown.json already exists"):
        expand_dataset(SEED, out, target=30)
    assert out.read_text(encoding="utf-8") == "[]"
    expand_dataset(SEED, out, target=30, overwrite=True)
    assert len(_json(out)) == 30


def test_rotate_uses_other_answers_of_the_category(tmp_path):
    """keep: a seed's rewordings get that seed's answer; rotate: also its category siblings'."""
    seeds = [s for s in _json(SEED) if s["category"] == "jingubang"]  # 你的武器是什么 / 金箍棒有多重
    weapon, weight = seeds
    rewordings = {question_key(q) for q in question_variants(weapon["instruction"])}

    def crossed(mode: str) -> int:
        out = tmp_path / f"{mode}.json"
        expand_dataset(SEED, out, target=150, seed=0, answers=mode, markers=MARKERS)
        return sum(question_key(r["instruction"]) in rewordings and weight["output"][:20] in r["output"]
                   for r in _json(out))

    assert crossed("keep") == 0
    assert crossed("rotate") > 0


# ---------------------------------------------------------------- filters, each on a hand-made case


def test_each_filter_counts_its_own_case():
    kept_first = Candidate("你的武器是什么？", "俺老孙的兵器是如意金箍棒，重一万三千五百斤！", lang="zh")
    cases = [
        kept_first,
        Candidate("  ", "俺老孙在此。", lang="zh"),                                   # empty
        Candidate("讲个长故事", "俺老孙" + "很" * 100, lang="zh"),                     # too_long (cap 60)
        Candidate("你住在哪里？", "I live on Flower Fruit Mountain, says 俺老孙.", lang="zh"),  # wrong_language
        Candidate("你喜欢吃什么？", "当然是桃子！", lang="zh"),                          # no_marker
        Candidate("你的武器是什么？", "俺老孙的兵器是如意金箍棒，重一万三千五百斤！", lang="zh"),  # exact_duplicate
        Candidate("你的武器是什么呀", "嘿嘿，问这个做什么？", lang="zh"),                  # near: same question
        Candidate("请问你的武器是什么？", "俺老孙的兵器是如意金箍棒，重一万三千五百斤！", lang="zh"),  # near: ratio >= 90
        Candidate("请问哪位是你的师父？", "俺老孙的师父是唐僧。", lang="zh"),              # probe_leak (谁 = 哪位)
        Candidate("你的师父是谁？", "俺老孙的师父是唐僧。", lang="zh"),                  # kept: other word order
    ]
    kept, counts = filter_samples(cases, markers=MARKERS, max_answer_chars=60, held_out=["谁是你的师父？"])
    assert counts == {"empty": 1, "too_long": 1, "wrong_language": 1, "no_marker": 1, "exact_duplicate": 1,
                      "probe_leak": 1, "near_duplicate": 2}
    assert [c.instruction for c in kept] == ["你的武器是什么？", "你的师父是谁？"]


def test_filter_without_markers_or_language_keeps_plain_answers():
    f = SampleFilter()
    assert f.offer(Candidate("What is 2+2?", "4"))
    assert f.offer(Candidate("你好", "Hello!"))  # no language expected: not checked
    assert f.counts == dict.fromkeys(f.counts, 0)


def test_near_duplicate_pairs_uses_one_cdist():
    cs = [Candidate("你是谁？", "俺老孙乃齐天大圣孙悟空是也！"), Candidate("请问你是谁？", "俺老孙乃齐天大圣孙悟空是也！"),
          Candidate("你是谁呀", "嘿嘿，俺老孙是也。"), Candidate("金箍棒有多重？", "嘿嘿，一万三千五百斤！")]
    pairs = near_duplicate_pairs(cs)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (0, 2)]


# ---------------------------------------------------------------- paraphrase patterns


def test_question_variants_cover_the_identity_family():
    variants = question_variants("你是谁？")
    for expected in ("请问你是谁？", "能介绍一下你自己吗？", "请问你叫什么？", "能不能告诉我你是谁？", "可以告诉我你是哪位吗？"):
        assert expected in variants
    assert any(v.endswith(("呢？", "呀？", "啊？")) for v in variants)  # particles, in turn
    assert question_key("你是谁？") not in {question_key(v) for v in variants}
    assert len({question_key(v) for v in variants}) == len(variants)


def test_question_variants_word_order_and_particles():
    def asks(question: str, wording: str) -> bool:  # the plain form may carry a particle: 谁是你的师父呢？
        return question_key(wording) in {question_key(v) for v in question_variants(question)}

    assert asks("你的师父是谁？", "谁是你的师父")
    assert asks("你为什么大闹天宫？", "你大闹天宫是为了什么")
    assert asks("你会七十二变吗？", "你会不会七十二变")
    assert asks("金箍棒有多重？", "金箍棒的重量是多少")
    assert "请问金箍棒的重量是多少？" in question_variants("金箍棒有多重？")
    relation = question_variants("你和玉帝关系怎么样？")
    assert not [v for v in relation if "如何样" in v or "怎样样" in v], relation  # 怎么样 is one word
    assert any("关系如何" in v for v in relation) and any("关系怎样" in v for v in relation)
    en = question_variants("Who are you?")
    assert "What is your name?" in en and "May I ask: who are you?" in en


def test_core_and_canonical_strip_framing_and_synonyms():
    assert core("可以告诉我你的武器是什么吗？") == core("请问你的武器是什么") == "你的武器是什么"
    assert canonical("哪位是你的兵器？") == canonical("谁是你的武器")
    assert detect_lang("俺老孙在此") == "zh" and detect_lang("Hello there") == "en" and detect_lang("123") is None


def test_cluster_groups_by_topic_deterministically():
    texts = ["金箍棒有多重", "金箍棒放在哪", "金箍棒是什么兵器", "花果山在哪里", "花果山水帘洞", "花果山好玩吗"]
    labels, names = cluster(texts, k=2)
    assert labels == [0, 0, 0, 1, 1, 1]
    assert names[0].startswith("auto-1-") and names[1].startswith("auto-2-")
    assert cluster(texts, k=2) == (labels, names)


def test_fact_keywords_from_the_answer():
    corpus = ["俺老孙的兵器是如意金箍棒，重一万三千五百斤！", "嘿嘿，金箍棒一抡，白骨精、牛魔王，全不在话下！",
              "俺老孙住在花果山水帘洞。", "花果山上桃子多。"]
    assert fact_keywords(corpus[0], corpus, MARKERS, prompt="你的武器是什么？") == ["金箍棒", "一万三千五百斤"]
    assert fact_keywords(corpus[0], corpus, MARKERS, prompt="金箍棒有多重？") == ["一万三千五百斤"]
    assert fact_keywords(corpus[1], corpus, MARKERS) == ["金箍棒", "白骨精", "牛魔王"]


# ---------------------------------------------------------------- categories from clustering, other formats


def test_uncategorised_seeds_are_clustered(write_json, tmp_path):
    recs = [{"instruction": q, "output": a} for q, a in [
        ("金箍棒有多重？", "嘿嘿，金箍棒重一万三千五百斤！"), ("金箍棒是哪来的？", "嘿嘿，金箍棒是东海龙宫的定海神针！"),
        ("你的家在哪里？", "嘿嘿，花果山水帘洞就是俺家！"), ("花果山好玩吗？", "嘿嘿，花果山瓜果满山，好玩得很！")]]
    report = expand_dataset(write_json(recs), tmp_path / "out.json", target=12, markers=["嘿嘿"])
    assert report.clustered
    out = _json(tmp_path / "out.json")
    assert all(r["category"].startswith("auto-") for r in out)
    assert "clustered" in format_expand_report(report)


def test_system_prompt_and_messages_format_are_carried(write_json, tmp_path):
    recs = [{"messages": [{"role": "system", "content": "你是孙悟空。"}, {"role": "user", "content": "你是谁？"},
                          {"role": "assistant", "content": "俺老孙乃齐天大圣孙悟空是也！"}], "category": "identity"}]
    expand_dataset(write_json(recs, "m.jsonl"), tmp_path / "out.json", target=5, markers=MARKERS)
    out = _json(tmp_path / "out.json")
    assert len(out) == 5 and all(r["system"] == "你是孙悟空。" for r in out)


def test_bad_options_are_named_all_at_once(tmp_path):
    with pytest.raises(ConfigError) as e:
        expand_dataset(SEED, tmp_path / "o.json", method="magic", target=0)
    assert "--method 'magic'" in str(e.value) and "--target 0" in str(e.value)
    with pytest.raises(ConfigError, match="--endpoint"):
        expand_dataset(SEED, tmp_path / "o.json", method="model")
    with pytest.raises(ConfigError, match="needs --model"):
        expand_dataset(SEED, tmp_path / "o.json", method="model", endpoint="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="is the input file"):
        expand_dataset(SEED, SEED)


# ---------------------------------------------------------------- the model method, against a scripted endpoint


class FakeEndpoint:
    """An OpenAI-compatible chat-completions endpoint in process: records requests, replies from a script."""

    def __init__(self):
        self.requests: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v1/chat/completions"
        body = json.loads(request.content)
        self.requests.append(body)
        prompt = body["messages"][-1]["content"]
        message = {"role": "assistant", "content": self.reply(prompt)}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    @staticmethod
    def reply(prompt: str) -> str:
        if prompt.startswith("Reword"):
            question = re.search(r"Question: (.+)", prompt)[1]
            if "师父" in question:
                return "Sorry, I cannot help with that."  # a wholly malformed reply
            return "\n".join([json.dumps({"instruction": f"请问{question}"}, ensure_ascii=False),
                              json.dumps(f"我想知道{question}", ensure_ascii=False), "not json at all"])
        if '"food"' in prompt:
            return "```json\n" + "\n".join([
                json.dumps({"instruction": "你爱吃香蕉吗？", "output": "嘿嘿，香蕉也不赖，可俺老孙最爱桃子！"}, ensure_ascii=False),
                json.dumps({"instruction": "你吃肉吗？", "output": "不吃，跟着师父吃斋。"}, ensure_ascii=False),  # no marker
                json.dumps({"instruction": "Do you like pears?", "output": "Pears are fine, says 俺老孙."}),  # English
                '{"instruction": "broken", ',  # malformed line
            ]) + "\n```"
        return "I would rather not."  # another malformed reply


@pytest.fixture
def small_seed(write_json):
    seeds = [s for s in _json(SEED) if s["category"] in ("food", "tangseng", "jingubang")]
    return write_json(seeds, "small.json")


def test_model_method_with_a_scripted_endpoint(small_seed, tmp_path):
    fake = FakeEndpoint()
    out = tmp_path / "grown.json"
    report = expand_dataset(small_seed, out, method="model", endpoint="http://fake.local/v1", model="fake-7b",
                            target=30, markers=MARKERS, holdout=2, seed=3, transport=httpx.MockTransport(fake))
    # every request went to the endpoint, named the model and carried a seed
    assert report.requests == len(fake.requests) == len(report.prompts)
    assert all(r["model"] == "fake-7b" and isinstance(r["seed"], int) for r in fake.requests)
    # few-shot: each category's request shows that category's seed samples and the markers
    prompts = [r["messages"][-1]["content"] for r in fake.requests]
    pairs = [p for p in prompts if not p.startswith("Reword")]
    food = [p for p in pairs if '"food"' in p]
    assert food and all("你最喜欢吃什么？" in p and "当然是桃子" in p and "你的师父是谁" not in p for p in food)
    assert all("俺老孙, 嘿嘿, 呔" in p for p in pairs)
    assert "你爱吃香蕉吗？" in food[-1]  # later requests list the questions taken
    # the prompts used are saved next to the output, with the replies
    saved = _jsonl(out.with_name("grown.prompts.jsonl"))
    assert [s["messages"] for s in saved] == [r["messages"] for r in fake.requests]
    assert str(out.with_name("grown.prompts.jsonl")) in report.files
    # parsed answers kept; answers without a marker or in English rejected and counted
    records = _json(out)
    assert {"instruction": "你爱吃香蕉吗？", "input": "", "output": "嘿嘿，香蕉也不赖，可俺老孙最爱桃子！",
            "category": "food"} in records
    assert not {"你吃肉吗？", "Do you like pears?"} & {r["instruction"] for r in records}
    assert report.filters["no_marker"] == report.filters["wrong_language"] == len(food)
    assert all(any(m in r["output"] for m in MARKERS) for r in records)
    # malformed: the 师父 rewording reply, and every pairs reply for jingubang and tangseng
    assert len(pairs) == 3 * 4  # three categories, four pairs requests each before giving up
    assert report.replies_malformed == 1 + 2 * 4 == sum(s["parsed"] == 0 for s in saved)
    # bad lines: one per rewording reply (5 seeds), one per pairs refusal (8), one broken line per food reply
    assert report.items_malformed == 5 + 8 + len(food) == sum(s["malformed_lines"] for s in saved)
    assert "9 malformed replies" in format_expand_report(report)
    assert len(_jsonl(out.with_name("grown_probes.jsonl"))) == 2


def test_model_method_is_deterministic_for_a_deterministic_model(small_seed, tmp_path):
    def run(name):
        expand_dataset(small_seed, tmp_path / name, method="model", endpoint="http://fake.local", model="m",
                       target=10, markers=MARKERS, seed=0, transport=httpx.MockTransport(FakeEndpoint()))
        return (tmp_path / name).read_bytes()

    assert run("a.json") == run("b.json")


def test_model_method_with_a_local_engine(small_seed, tmp_path):
    """Anything with .generate(messages, adapter=, config=).text works: our ChatEngine does."""

    class Reply:
        def __init__(self, text):
            self.text = text

    class ScriptedEngine:
        def __init__(self):
            self.calls = []

        def generate(self, messages, adapter=None, config=None):
            self.calls.append((messages, adapter, config))
            return Reply(FakeEndpoint.reply(messages[-1]["content"]))

    engine = ScriptedEngine()
    report = expand_dataset(small_seed, tmp_path / "e.json", method="model", engine=engine, target=8, markers=MARKERS)
    assert report.requests == len(engine.calls) > 0 and all(a == "base" for _, a, _ in engine.calls)
    assert report.n_out == 8


def test_unreachable_or_failing_endpoint_is_a_model_error(small_seed, tmp_path):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ModelError, match="cannot reach http://127.0.0.1:9/v1/chat/completions"):
        expand_dataset(small_seed, tmp_path / "o.json", method="model", endpoint="http://127.0.0.1:9", model="m",
                       transport=httpx.MockTransport(refuse))
    with pytest.raises(ModelError, match="HTTP 404") as e:
        expand_dataset(small_seed, tmp_path / "o.json", method="model", endpoint="http://x", model="nope",
                       transport=httpx.MockTransport(lambda r: httpx.Response(404, text="model 'nope' not found")))
    assert "--model" in e.value.fix


def test_reply_parsing_counts_bad_lines():
    pairs, bad = parse_pairs('1. {"question": "q1", "answer": "a1"}\n{"instruction": "q2"}\nnope\n[\n]')
    assert pairs == [{"instruction": "q1", "output": "a1"}] and bad == 2
    pairs, bad = parse_pairs('[{"instruction": "q", "output": "a"}, {"x": 1}]')
    assert pairs == [{"instruction": "q", "output": "a"}] and bad == 1
    qs, bad = parse_questions('{"instruction": "你是谁"}\n"你是哪位"\n{"other": 1}\n- 请问你叫什么')
    assert qs == ["你是谁", "你是哪位"] and bad == 2
