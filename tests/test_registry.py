"""The adapter registry on disk: names, scan, rename, delete, zip, and merge into the base."""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest
import torch
from server_fakes import fake_run, tiny_trained_run

from lorastudio.errors import ConfigError
from lorastudio.serving.registry import NameTaken, NotFound, Registry, validate_name


@pytest.mark.parametrize("name", ["wukong-v1", "悟空", "run.2026_01", "a" * 100])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name, why", [
    ("", "empty"), ("   ", "empty"), ("..", "'..'"), ("../x", "separator"), ("a/b", "separator"), ("a\\b", "separator"),
    ("nul\x00x", "NUL"), ("tab\tx", "control"), ("/etc", "separator"), ("C:evil", "absolute"), (".hidden", "starts with '.'"),
    (" x", "spaces"), ("x.tmp", ".tmp"), ("base", "reserved"), ("a" * 101, "longer"),
])
def test_bad_names_say_why(name, why):
    with pytest.raises(ConfigError) as e:
        validate_name(name)
    assert why in e.value.message and e.value.fix


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, tiny_model_dir):
    return tiny_trained_run(tmp_path_factory.getbasetemp(), tiny_model_dir)


@pytest.fixture
def registry(tmp_path, real_run) -> Registry:
    shutil.copytree(real_run, tmp_path / "runs" / "wukong-tiny")
    return Registry(tmp_path / "runs")


def test_scan_lists_only_complete_runs(registry, real_run):
    fake_run(registry.root, "half")
    (registry.root / "half" / "manifest.json").unlink()  # training never finished
    fake_run(registry.root, "noweights")
    (registry.root / "noweights" / "adapter" / "adapter_model.safetensors").unlink()
    fake_run(registry.root, "writing.tmp")
    (registry.root / "stray-file").write_text("x")
    entries = registry.scan()
    assert [e.name for e in entries] == ["wukong-tiny"]
    e = entries[0]
    manifest = json.loads((real_run / "manifest.json").read_text())
    assert e.base_model == manifest["config"]["model"]
    assert e.final_loss == manifest["metrics"]["last_loss"] and e.steps == 5
    assert e.template_sha256 == manifest["chat_template_sha256"] and e.has_probes
    assert e.verdict is None and e.size_bytes > 1000
    (registry.root / "wukong-tiny" / "doctor.json").write_text(json.dumps({"verdict": "learned"}))
    assert registry.get("wukong-tiny").verdict == "learned"


def test_rename_delete_and_missing_names(registry):
    fake_run(registry.root, "other")
    with pytest.raises(NameTaken):
        registry.rename("wukong-tiny", "other")
    assert registry.rename("wukong-tiny", "悟空").name == "悟空"
    with pytest.raises(NotFound) as e:
        registry.get("wukong-tiny")
    assert "悟空" in e.value.fix
    registry.delete("悟空")
    assert [e.name for e in registry.scan()] == ["other"]
    assert sorted(p.name for p in registry.root.iterdir()) == ["other"]
    with pytest.raises(ConfigError):
        registry.delete("../other")


def test_zip_holds_the_adapter_and_its_description(registry, tmp_path):
    path = registry.zip("wukong-tiny", tmp_path / "out.zip")
    names = set(zipfile.ZipFile(path).namelist())
    assert {"wukong-tiny/adapter/adapter_model.safetensors", "wukong-tiny/adapter/adapter_config.json",
            "wukong-tiny/manifest.json", "wukong-tiny/config.json", "wukong-tiny/metrics.jsonl"} <= names
    assert not any("checkpoints" in n for n in names)


def test_merge_equals_the_adapter_on_the_base(registry, tmp_path, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest = registry.merge("wukong-tiny", tmp_path / "merged" / "wukong-merged")
    files = {p.name for p in dest.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "MERGED_FROM.json"} <= files
    assert not any(n.endswith((".bin", ".pt")) for n in files)
    tok = AutoTokenizer.from_pretrained(dest)
    manifest = json.loads((registry.root / "wukong-tiny" / "manifest.json").read_text())
    assert tok.chat_template == manifest["chat_template"]

    ids = torch.tensor([tok("你好，大圣！俺老孙")["input_ids"]])
    merged = AutoModelForCausalLM.from_pretrained(dest).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
        adapted = PeftModel.from_pretrained(base, registry.root / "wukong-tiny" / "adapter").eval()
        expected = adapted(ids).logits
        got = merged(ids).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(base_logits, expected)  # the adapter changes the outputs (init_identity=False)
    with pytest.raises(NameTaken):
        registry.merge("wukong-tiny", dest)
    assert [e.name for e in registry.scan()] == ["wukong-tiny"]
