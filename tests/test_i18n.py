"""The message catalogue (src/lorastudio/locales/{en,zh}.json): every finding code, evidence key,
error key, config field and page text has both languages, and the templates render whole.

The lists are read from the code itself (diagnosis.findings.CODES, the Finding(...) and
ApiError(...) calls, TrainConfig's fields, the pages' t("...") calls), so a new code, key or
label without its translation fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeEngine

from lorastudio import i18n
from lorastudio.config import TrainConfig
from lorastudio.diagnosis.findings import CODES
from lorastudio.server import create_app
from lorastudio.server.errors import HTTP_CODES, STUDIO_STATUS

SRC = Path(__file__).resolve().parents[1] / "src" / "lorastudio"
STATIC = SRC / "server" / "static"
LANGS = ("en", "zh")
PLACEHOLDER = re.compile(r"\{@?([A-Za-z_][\w.]*)(?::%)?\}")


def cat(lang: str) -> dict:
    return json.loads((SRC / "locales" / f"{lang}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- what the code uses


def _dict_keys(node) -> set[str]:
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def finding_calls() -> list[tuple[str, str, set[str]]]:
    """(file, code, evidence keys) for each Finding(...) call in diagnosis/ with a literal code;
    evidence given as a dict literal, or as a name bound to one in the same function."""
    out = []
    for path in sorted((SRC / "diagnosis").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            bound = {t.id: n.value for n in ast.walk(func) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Dict)
                     for t in n.targets if isinstance(t, ast.Name)}
            for call in ast.walk(func):
                if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Finding"):
                    continue
                code = call.args[0] if call.args else None
                if not (isinstance(code, ast.Constant) and isinstance(code.value, str)):
                    continue  # a code read back from a file: any of CODES
                ev = call.args[3] if len(call.args) > 3 else next((k.value for k in call.keywords if k.arg == "evidence"), None)
                if isinstance(ev, ast.Name):
                    ev = bound.get(ev.id)
                out.append((path.name, code.value, _dict_keys(ev) if isinstance(ev, ast.Dict) else set()))
    return out


def error_keys() -> set[str]:
    """Every catalogue key an error can carry: the families' codes, the HTTP errors', and each
    key= (or, without one, the code) of ApiError(...) and StudioError(...) calls in the package."""
    keys = {code for _, _, code in STUDIO_STATUS} | {key for _, key, _ in HTTP_CODES.values()}
    for path in SRC.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(call, ast.Call):
                continue
            key = next((k.value for k in call.keywords if k.arg == "key"), None)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
            elif isinstance(key, ast.JoinedStr):  # f"name.{reason}": each reason assigned in that function
                keys |= {f"name.{r}" for r in ("too_long", "unprintable", "separator", "dotdot", "edge", "absolute", "tmp", "reserved")}
            name = getattr(call.func, "id", None)
            if name == "ApiError" and key is None and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant):
                if not (len(call.args) >= 3 or any(k.arg == "en" for k in call.keywords)):
                    keys.add(call.args[1].value)  # ApiError(status, code) alone: error.<code>
    return keys


def data_codes() -> set[str]:
    """The code of every dataset problem the readers report: the last argument of each
    `rec.problem(field, message, code)` and `problems.add(index, field, message, code)` in data/."""
    def consts(node) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        return consts(node.body) | consts(node.orelse) if isinstance(node, ast.IfExp) else set()

    codes = set()
    for path in sorted((SRC / "data").glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and \
                    len(call.args) == {"problem": 3, "add": 4}.get(call.func.attr):
                codes |= consts(call.args[-1])
    return codes


def page_keys() -> set[str]:
    used = set()
    for path in list(STATIC.glob("*.js")) + [STATIC / "index.html"]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\b(?:t|tHTML|has)\("([a-z]\w*\.[\w.]*\w)"', text))  # "x." + name: checked by group below
        used |= set(re.findall(r'data-i18n(?:-ph|-title)?="([\w.]+)"', text))
    return used


# ---------------------------------------------------------------- the tests


def test_both_languages_have_the_same_keys_and_no_empty_text():
    en, zh = cat("en"), cat("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    assert not [k for k in en if not str(en[k]).strip()] and not [k for k in zh if not str(zh[k]).strip()]


def test_placeholders_match_between_languages():
    en, zh = cat("en"), cat("zh")
    bad = {k: (sorted(set(PLACEHOLDER.findall(en[k]))), sorted(set(PLACEHOLDER.findall(zh[k]))))
           for k in en if set(PLACEHOLDER.findall(en[k])) - {"field"} != set(PLACEHOLDER.findall(zh[k])) - {"field"}}
    # a {@field} reference may be worded differently; a parameter may not go missing
    bad = {k: v for k, v in bad.items() if set(x for x in v[0] if not x.startswith("@")) != set(v[1])}
    assert not bad, bad


@pytest.mark.parametrize("lang", LANGS)
def test_every_finding_code_has_a_title_and_a_fix(lang):
    c = cat(lang)
    missing = [f"finding.{code}.{part}" for code in CODES for part in ("title", "fix") if f"finding.{code}.{part}" not in c]
    assert not missing, missing


@pytest.mark.parametrize("lang", LANGS)
def test_every_finding_renders_whole_with_its_own_evidence(lang):
    """Each Finding(...) call's evidence fills its code's title and fix: no {placeholder} left."""
    calls = finding_calls()
    assert len(calls) > 25 and {c for _, c, _ in calls} >= set(CODES) - {"TARGET_MODULES_MISSING"} - {"LR_TOO_LOW"}
    for where, code, keys in calls:
        for part in ("title", "fix"):
            text = i18n.t(f"finding.{code}.{part}", lang, surface="web", **{k: 1 for k in keys})
            assert "{" not in text and "[[" not in text, (where, code, part, sorted(keys), text)


@pytest.mark.parametrize("lang", LANGS)
def test_every_evidence_key_has_a_label(lang):
    c = cat(lang)
    missing = sorted({k for _, _, keys in finding_calls() for k in keys if f"evidence.{k}" not in c})
    assert not missing, missing


@pytest.mark.parametrize("lang", LANGS)
def test_every_config_field_has_a_label(lang):
    c = cat(lang)
    assert not [f for f in TrainConfig.model_fields if f"field.{f}" not in c]


@pytest.mark.parametrize("lang", LANGS)
def test_every_error_key_has_a_message(lang):
    c = cat(lang)
    keys = error_keys()
    assert {"not_found.dataset", "conflict.run_exists", "name.separator", "file_type", "plan_refused", "export.quant",
            "not_found.export"} <= keys
    assert not sorted(k for k in keys if f"error.{k}" not in c)


@pytest.mark.parametrize("lang", LANGS)
def test_every_data_problem_code_has_a_message(lang):
    """A dataset's problems are shown by code (data.<code>, with the record's field and index)."""
    codes = data_codes()
    assert {"unknown_role", "not_alternating", "invalid_json", "template_without_tools", "not_list"} <= codes and len(codes) >= 26
    for code in sorted(codes):
        assert f"data.{code}" in cat(lang), code
        text = i18n.t(f"data.{code}", lang, surface="web", field="conversations[1].from", index=3)
        assert not PLACEHOLDER.search(text), (code, text)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_text_is_in_the_catalogue(lang):
    c = cat(lang)
    assert not sorted(page_keys() - set(c))
    for group, values in {"severity": ("error", "warning", "info"), "job.kind": ("train", "doctor", "tune"),
                          "verdict": ("learned", "not_learned", "inconclusive", "not_useful"), "stage": ("preflight", "live", "after"),
                          "phase": ("queued", "starting", "preparing", "first_step", "training", "doctor"),
                          "status": ("queued", "running", "done", "failed", "cancelled")}.items():
        assert not [v for v in values if f"{group}.{v}" not in c], group


def test_templates_render_like_the_pages_do():
    assert i18n.t("finding.TOO_FEW_STEPS.title", "zh", total_steps=6).startswith("只有 6 个优化步")
    # an optional part appears only with its parameter
    assert i18n.t("finding.LOSS_NOT_DECREASING.title", "en", step=40) == "The loss has not fallen after 40 steps"
    assert i18n.t("finding.LOSS_NOT_DECREASING.title", "en", steps=90, first_window_mean=2.0, last_window_mean=1.98765) == \
        "The loss has not fallen over all 90 steps (2 → 1.988)"
    assert i18n.fmt(0.25, percent=True) == "25%" and i18n.fmt(2e-5) == "2e-05" and i18n.fmt(32.0) == "32"
    # a form field: its label on the web, its flag in the terminal
    web = i18n.t("finding.WARMUP_EXCEEDS_TRAINING.fix", "zh", surface="web", total_steps=100)
    cli = i18n.t("finding.WARMUP_EXCEEDS_TRAINING.fix", "zh", surface="cli", total_steps=100)
    assert "「预热步数」" in web and "--warmup-steps" in cli and "--" not in web
    assert i18n.t("no.such.key", "zh") == "no.such.key"
    assert i18n.normalize("zh-CN") == "zh" and i18n.header_lang("en-US,zh;q=0.8") == "en"


def test_a_fix_that_sets_fields_reads_as_settings():
    f = {"code": "TOO_FEW_STEPS", "evidence": {"total_steps": 6, "steps_per_epoch": 2, "epochs": 3, "effective_batch": 16,
                                               "samples": 20, "recommended_min": 100}, "apply": {"epochs": 50, "batch_size": 2}}
    title, fix = i18n.finding_text(f, "zh", surface="web")
    assert fix.startswith("将「训练轮数」设为 50，将「批大小」设为 2——20 条样本")
    assert i18n.finding_text(f, "en", surface="cli")[1].startswith("--epochs 50 --batch-size 2 — 20 samples")
    # a code the catalogue does not know yet keeps its own words
    assert i18n.finding_text({"code": "NEW_CODE", "title": "t", "fix": "f"}, "zh") == ("t", "f")


def test_an_export_refusal_names_the_precision_and_the_choices():
    from lorastudio.errors import ExportError
    from lorastudio.exporting import check_request

    with pytest.raises(ExportError) as e:
        check_request("gguf-lora", "q8_0")
    assert i18n.t(f"error.{e.value.key}", "zh", surface="web", **e.value.params) == "gguf-lora 格式不支持精度 q8_0"
    assert i18n.t(f"error.{e.value.key}.fix", "zh", surface="web", **e.value.params) == "请使用其中之一：f32, f16"
    assert i18n.t(f"error.{e.value.key}", "en", surface="cli", **e.value.params) == "--quant q8_0 is not available for --format gguf-lora"


def test_the_cli_prints_findings_in_chinese(monkeypatch, capsys):
    from lorastudio import console

    monkeypatch.setenv("LORASTUDIO_LANG", "zh")
    monkeypatch.setattr(console, "console", console.Console(highlight=False, width=200, force_terminal=False))
    console.print_findings([{"code": "DUPLICATE_SAMPLES", "severity": "warning", "title": "3 samples repeat",
                             "evidence": {"duplicates": 3, "share": 0.02}, "fix": "remove repeats"}], "Preflight")
    out = capsys.readouterr().out
    assert "训练前检查" in out and "有 3 条样本与前面的某条完全相同" in out and "警告" in out
    assert "`lorastudio data expand` 会去重" in out and "repeat" not in out


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with TestClient(create_app(engine=FakeEngine(), home=tmp_path_factory.mktemp("i18n") / "home", start_runner=False)) as c:
        yield c


def test_the_server_serves_the_catalogue(client):
    assert client.get("/api/i18n/zh").json() == cat("zh")
    assert client.get("/api/i18n/zh-CN").json() == cat("zh") and client.get("/api/i18n/en").json() == cat("en")
    assert client.get("/api/i18n/xx").status_code == 422
    schema = client.get("/api/config/schema").json()["properties"]
    assert schema["epochs"]["minimum"] == 1 and schema["lr"]["type"] == "number"


ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_errors_speak_the_request_language_and_differ_by_cause(client):
    """A .txt upload and a bad rename were both "训练参数无效": each now says what is wrong."""
    txt = client.post("/api/datasets", files={"file": ("data.txt", b"[]")}, headers=ZH).json()["error"]
    assert txt["code"] == "config_error" and txt["details"]["key"] == "file_type"
    assert txt["message"] == "文件名 data.txt 必须以 .json 或 .jsonl 结尾" and "把数据保存为" in txt["fix"]
    bad = client.post("/api/jobs", json={"name": "a/b", "config": {"data": "wukong_seed.json"}}, headers=ZH).json()["error"]
    assert bad["details"]["key"] == "name.separator" and "路径分隔符" in bad["message"] and bad["message"] != txt["message"]
    missing = client.get("/api/datasets/nope.json", headers=ZH).json()["error"]
    assert missing["message"] == "没有名为 nope.json 的数据集" and missing["details"]["params"] == {"name": "nope.json"}
    # English requests keep the core's own words
    assert "must end in .json or .jsonl" in client.post("/api/datasets", files={"file": ("data.txt", b"[]")}).json()["error"]["message"]


def test_a_datasets_problems_come_by_kind_with_their_counts(client):
    """500 records with two empty fields each: two kinds, each counted in full past the stored cap,
    with the code the page renders (data.empty) in its own language."""
    bad = json.dumps([{"instruction": "", "output": ""}] * 500).encode()
    d = client.post("/api/datasets", files={"file": ("broken.json", bad)}, headers=ZH).json()["error"]["details"]
    assert d["total"] == 1000 and len(d["problems"]) == 20
    assert [(g["code"], g["field"], g["count"], g["records"][:3]) for g in d["groups"]] == [
        ("empty", "instruction", 500, [0, 1, 2]), ("empty", "output", 500, [0, 1, 2])]
    assert i18n.t("data.empty", "zh", surface="web", field="instruction") == "instruction 为空：请填写内容，或删除这条记录"


def test_bad_settings_name_each_field_in_the_request_language(client):
    r = client.post("/api/plan", json={"config": {"data": "wukong_seed.json", "lr": "abc", "epochs": 0}}, headers=ZH)
    err = r.json()["error"]
    assert r.status_code == 422 and err["details"]["option"] == "--epochs"
    fields = {f["field"]: f for f in err["details"]["fields"]}
    assert fields["lr"]["why"] == "number" and fields["epochs"] == {"field": "epochs", "why": "min", "params": {"min": 1}}
    assert err["message"].startswith("设置有误：") and "训练轮数：不能小于 1" in err["message"] and "学习率：必须是数字" in err["message"]
