"""Export: every format written from real tiny runs (Llama and Qwen2), reloaded and compared with
the adapter in PEFT; GGUF metadata and LoRA tensors checked against what llama.cpp reads; the
Ollama template against the training template; refusals for what cannot be exported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader
from server_fakes import fake_run
from typer.testing import CliRunner

from conftest import EXAMPLES, example_texts
from lorastudio.cli import app
from lorastudio.config import make_config
from lorastudio.errors import ExportError
from lorastudio.exporting import export as _export
from lorastudio.training.loop import train


def export(*args, **kwargs):
    """The default suite checks in transformers (llama.cpp has its own slow test below), on 3
    probes of 24 tokens: enough to catch a wrong file, fast on a shared CPU."""
    return _export(*args, **{"llama_cpp": False, "n_probes": 3, "max_new_tokens": 24, **kwargs})


def _trained_run(root: Path, arch: str) -> Path:
    """A tiny model of `arch`, trained 5 steps with LoRA on attention and MLP. B starts
    non-zero, or the adapter would be the identity and every comparison would pass."""
    from lorastudio.models.tiny import build_tiny_model

    model = build_tiny_model(root / "model", example_texts(), hidden=64, layers=2, vocab_size=1000, arch=arch)
    run = root / "run"
    config = make_config(model=str(model), data=str(EXAMPLES / "wukong_seed.json"), output=str(run), epochs=1,
                         batch_size=4, grad_accum=1, lr=1e-3, lora_r=4, lora_alpha=8, init_identity=False,
                         doctor=False, target_modules=["all-linear"], probes=str(EXAMPLES / "wukong_probes.jsonl"))
    train(config, force=True)
    return run


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    return {arch: _trained_run(tmp_path_factory.mktemp(arch), arch) for arch in ("llama", "qwen2")}


def field(reader: GGUFReader, key: str):
    return reader.fields[key].contents()


# ---------------------------------------------------------------- every format, both architectures


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_merged_folder_gives_the_adapters_logits(runs, arch, tmp_path):
    result = export(runs[arch], "merged", tmp_path / "merged")
    assert result.ok, [c.summary() for c in result.checks]
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= set(result.files)
    [check] = result.checks
    assert (check.target, check.consumer, check.probes, check.greedy_equal) == ("merged folder", "transformers", 3, 3)
    assert check.max_abs_dlogit < 1e-4 and check.tokenizer_equal == 3
    card = (tmp_path / "merged" / "README.md").read_text(encoding="utf-8")
    manifest = json.loads((runs[arch] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dataset"]["sha256"] in card and '"lora_r": 4' in card and "greedy 3/3 equal" in card
    # the folder renders prompts with the training template
    saved = json.loads((tmp_path / "merged" / "tokenizer_config.json").read_text(encoding="utf-8"))
    template = saved.get("chat_template") or (tmp_path / "merged" / "chat_template.jinja").read_text(encoding="utf-8")
    assert template == manifest["chat_template"]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_gguf_f16_reloads_with_the_same_greedy_answers(runs, arch, tmp_path):
    result = export(runs[arch], "gguf", tmp_path)
    assert result.out == tmp_path / "run-f16.gguf" and result.ok
    [check] = result.checks
    assert (check.greedy_equal, check.tokenizer_equal, check.top1_agree) == (3, 3, 1.0)
    assert check.mean_abs_dlogit < 1e-3
    reader = GGUFReader(result.out)
    manifest = json.loads((runs[arch] / "manifest.json").read_text(encoding="utf-8"))
    assert field(reader, "general.architecture") == arch
    assert field(reader, "tokenizer.chat_template") == manifest["chat_template"]
    # the split rule of the tokenizer training loaded: transformers gives a Qwen2 folder Qwen2's own
    assert field(reader, "tokenizer.ggml.model") == "gpt2"
    assert field(reader, "tokenizer.ggml.pre") == {"llama": "gpt-2", "qwen2": "qwen2"}[arch]
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == field(reader, f"{arch}.vocab_size")
    names = {t.name: t for t in reader.tensors}
    assert names["blk.0.attn_q.weight"].tensor_type.name == "F16" and names["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    # Llama's tiny model has its own output layer; Qwen2's ties it to the embedding
    assert ("output.weight" in names) == (arch == "llama")


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_lora_gguf_holds_a_and_b_under_llama_cpp_names(runs, arch, tmp_path):
    from safetensors.torch import load_file

    result = export(runs[arch], "gguf-lora", tmp_path / "a.gguf")
    [check] = result.checks
    assert result.ok and check.greedy_equal == 3 and check.max_abs_dlogit < 1e-4
    reader = GGUFReader(result.out)
    assert (field(reader, "general.type"), field(reader, "adapter.type")) == ("adapter", "lora")
    assert field(reader, "adapter.lora.alpha") == 8.0 and field(reader, "general.architecture") == arch
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * 2 * 7  # 2 layers x 7 linear layers x (A, B)
    peft = load_file(str(runs[arch] / "adapter" / "adapter_model.safetensors"))
    a = peft["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"]
    np.testing.assert_array_equal(tensors["blk.1.attn_v.weight.lora_a"].data, a.numpy())
    b = peft["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"].numpy()
    got = tensors["blk.0.attn_q.weight.lora_b"].data
    assert got.shape == b.shape == (64, 4)
    # q rows are reordered for Llama's interleaved rotary layout, untouched for Qwen2
    assert np.array_equal(got, b) == (arch == "qwen2")
    assert sorted(got.ravel().tolist()) == sorted(b.ravel().tolist())


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_ollama_folder_has_gguf_and_a_modelfile_with_the_template(runs, arch, tmp_path):
    result = export(runs[arch], "ollama", tmp_path / "ol")
    assert result.ok and set(result.files) == {"model.gguf", "Modelfile", "README.md"}
    text = (tmp_path / "ol" / "Modelfile").read_text(encoding="utf-8")
    assert "FROM ./model.gguf" in text and 'PARAMETER stop "<|im_end|>"' in text and "SYSTEM" not in text
    assert '{{ if eq .Role "user" }}' not in text and '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n' in text
    assert result.run_command.endswith("ollama create run -f Modelfile && ollama run run")


def test_ollama_adapter_only_writes_base_and_lora(runs, tmp_path):
    result = export(runs["qwen2"], "ollama", tmp_path / "ol", adapter_only=True)
    assert result.ok and set(result.files) == {"base.gguf", "adapter.gguf", "Modelfile", "README.md"}
    text = (tmp_path / "ol" / "Modelfile").read_text(encoding="utf-8")
    assert "FROM ./base.gguf\nADAPTER ./adapter.gguf\n" in text
    assert field(GGUFReader(tmp_path / "ol" / "adapter.gguf"), "adapter.type") == "lora"


# ---------------------------------------------------------------- quantisation


def test_quantised_gguf_reports_kl_and_agreement(runs, tmp_path):
    sizes = {}
    for quant in ("f16", "q8_0", "q4_0"):
        result = export(runs["qwen2"], "gguf", tmp_path, quant=quant)
        [check] = result.checks
        assert result.ok, check.summary()
        sizes[quant] = result.out.stat().st_size
        types = {t.name: t.tensor_type.name for t in GGUFReader(result.out).tensors}
        if quant == "q4_0":
            # 4-bit for the blocks; the tied embedding, also the output layer, keeps 8 bits
            assert types["blk.0.ffn_up.weight"] == "Q4_0" and types["token_embd.weight"] == "Q8_0"
            assert 0 < check.kl_mean < 0.3
        if quant == "q8_0":
            assert types["blk.0.ffn_up.weight"] == "Q8_0" and 0 < check.kl_mean < 0.02
    assert sizes["f16"] > sizes["q8_0"] > sizes["q4_0"]


def test_q4_k_m_and_unknown_formats_are_refused_before_loading(runs, tmp_path):
    with pytest.raises(ExportError, match="q4_k_m needs llama.cpp's own quantizer"):
        export(runs["qwen2"], "gguf", tmp_path, quant="q4_k_m")
    with pytest.raises(ExportError, match="use one of: f32, f16"):
        export(runs["qwen2"], "gguf-lora", tmp_path, quant="q8_0")
    with pytest.raises(ExportError, match="use one of: merged, gguf, gguf-lora, ollama"):
        export(runs["qwen2"], "onnx", tmp_path)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- the check can fail


def test_the_check_fails_for_a_model_that_is_not_the_adapter(runs):
    """The base without its adapter, measured as if it were the export: the check says so."""
    from lorastudio.exporting.source import load_for_export, open_run
    from lorastudio.exporting.verify import check_hf_model, probe_messages, reference

    src = open_run(runs["llama"])
    tokenizer, model = load_for_export(src, src.base())
    refs = reference(model, tokenizer, src.chat_template, probe_messages(src.config["probes"], 3), 24)
    with model.disable_adapter():
        check = check_hf_model(model, refs, tokenizer, "base only", "f16", max_new_tokens=24)
    assert not check.ok and any("Δlogit" in f or "KL" in f or "greedy" in f for f in check.failed)


def test_existing_output_is_kept_unless_overwrite(runs, tmp_path):
    out = tmp_path / "x.gguf"
    out.write_bytes(b"mine")
    with pytest.raises(ExportError, match=r"already exists(.|\n)*--overwrite"):
        export(runs["qwen2"], "gguf", out, verify=False)
    assert out.read_bytes() == b"mine"
    assert export(runs["qwen2"], "gguf", out, verify=False, overwrite=True).files["x.gguf"] > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["x.gguf"]  # no staging folder left behind


# ---------------------------------------------------------------- refusals


def test_unsupported_architecture_refuses_with_the_supported_list(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=300)).save_pretrained(folder)
    run = fake_run(tmp_path / "runs", "g", base=str(folder))
    for fmt in ("gguf", "gguf-lora", "ollama"):
        with pytest.raises(ExportError) as e:
            export(run, fmt, tmp_path / "out")
        assert "'gpt2'" in e.value.message
        assert "llama (SmolLM2, Llama 3.x), qwen2 (Qwen2, Qwen2.5), qwen3 (Qwen3)" in e.value.fix
    assert not (tmp_path / "out").exists()


def test_an_unfinished_run_is_refused(tmp_path):
    from lorastudio.errors import RunError

    (tmp_path / "half").mkdir()
    with pytest.raises(RunError, match="no manifest.json"):
        export(tmp_path / "half", "gguf", tmp_path / "o")


# ---------------------------------------------------------------- the Ollama template


SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3_LIKE = (
    "{{ bos_token }}{% if messages[0]['role'] != 'system' %}"
    "{{ '<|start_header_id|>system<|end_header_id|>\n\nToday.<|eot_id|>' }}{% endif %}"
    "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' }}"
    "{% if m['role'] == 'system' %}{{ 'Today.' }}{% endif %}{{ m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tok():
    from lorastudio.models.tiny import build_tokenizer

    return build_tokenizer(example_texts()[:40], vocab_size=400)


def test_a_default_system_prompt_becomes_the_modelfile_system_line():
    from lorastudio.exporting.ollama import modelfile, template_parts
    from lorastudio.models.tiny import build_tokenizer

    tok = build_tokenizer(example_texts()[:40], vocab_size=400)
    tok.bos_token = "<|im_start|>"  # as SmolLM2's: a start token that opens every turn is no one-off head
    parts = template_parts(tok, SMOLLM2_TEMPLATE, bos_added=False)
    assert parts.default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert parts.head == "" and parts.sys_pre == "<|im_start|>system\n"
    assert (parts.user_pre, parts.asst_pre, parts.asst_post) == ("<|im_start|>user\n", "<|im_start|>assistant\n", "<|im_end|>\n")
    text = modelfile(parts, tok, "./model.gguf")
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text


def test_a_start_token_the_tokenizer_adds_is_not_written_twice():
    """A Llama-3-like template that writes bos and an empty system turn when none is given."""
    from lorastudio.exporting.ollama import go_template, template_parts
    from lorastudio.models.tiny import build_tokenizer

    tok = build_tokenizer(example_texts()[:40], vocab_size=400)
    tok.add_special_tokens({"bos_token": "<|begin_of_text|>"})
    parts = template_parts(tok, LLAMA3_LIKE, bos_added=True)
    assert parts.head == "" and parts.default_system == ""  # Ollama sends no empty SYSTEM: the template writes it
    assert parts.sys_pre == "<|start_header_id|>system<|end_header_id|>\n\nToday." and parts.asst_post == "<|eot_id|>"
    assert "<|begin_of_text|>" not in go_template(parts)
    parts = template_parts(tok, LLAMA3_LIKE, bos_added=False)
    assert parts.head == "<|begin_of_text|>" and parts.sys_pre.startswith("<|start_header_id|>")


def test_a_template_that_drops_the_system_message_is_refused(tok):
    from lorastudio.exporting.ollama import template_parts

    no_system = ("{% for m in messages %}{% if m['role'] != 'system' %}{{ '<|im_start|>' + m['role'] + '\n' + m['content']"
                 " + '<|im_end|>\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    with pytest.raises(ExportError, match="drops the system message"):
        template_parts(tok, no_system, bos_added=False)


@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go (apt-get install golang-go)")
@pytest.mark.parametrize("template, bos_added", [(None, False), (SMOLLM2_TEMPLATE, False), (LLAMA3_LIKE, True)],
                         ids=["chatml", "smollm2", "llama3-like"])
def test_the_modelfile_template_renders_in_go_as_jinja_does(template, bos_added):
    """Go's text/template, the engine Ollama runs TEMPLATE with, renders chat conversations (with
    Ollama's SYSTEM injection) to the very text the training template renders."""
    import subprocess

    from lorastudio.exporting.ollama import go_template, template_parts
    from lorastudio.models.tiny import build_tokenizer

    tok = build_tokenizer(example_texts()[:40], vocab_size=400)
    tok.add_special_tokens({"bos_token": "<|begin_of_text|>"})
    template = template or tok.chat_template
    parts = template_parts(tok, template, bos_added)
    conversations = [[{"role": "user", "content": "你好，大圣"}],
                     [{"role": "system", "content": "Answer\nbriefly."}, {"role": "user", "content": "Hi {{ there }}"}],
                     [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b\n"}, {"role": "user", "content": "c"}]]
    sent = [([{"role": "system", "content": parts.default_system}] if parts.default_system and c[0]["role"] != "system" else [])
            + c for c in conversations]  # what Ollama hands the template when the Modelfile has SYSTEM
    payload = {"template": go_template(parts),
               "conversations": [[{"Role": m["role"], "Content": m["content"]} for m in c] for c in sent]}
    run = subprocess.run(["go", "run", "main.go"], cwd=Path(__file__).parent / "gotemplate", input=json.dumps(payload),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    rendered = json.loads(run.stdout)
    for conversation, got in zip(conversations, rendered):
        want = tok.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True, chat_template=template)
        if bos_added:
            want = want.removeprefix("<|begin_of_text|>")
        assert got == want


# ---------------------------------------------------------------- the faces


def test_cli_export_prints_files_numbers_and_exits_by_the_check(runs, tmp_path):
    result = CliRunner().invoke(app, ["export", str(runs["qwen2"]), "--format", "gguf-lora", "-o", str(tmp_path),
                                      "--no-llama-cpp"])
    assert result.exit_code == 0, result.output
    assert "gguf-lora export: " in result.output and "run-lora-f32.gguf" in result.output
    assert "ok      gguf-lora on the base in transformers: greedy 5/5 equal" in result.output
    bad = CliRunner().invoke(app, ["export", str(runs["qwen2"]), "--format", "gguf", "--quant", "q3", "-o", str(tmp_path)])
    assert bad.exit_code != 0 and "--quant q3 is not available for --format gguf" in str(bad.exception or bad.output)


def test_python_api_is_the_same_function(runs, tmp_path):
    import lorastudio as ls

    result = ls.export(runs["qwen2"], "gguf", tmp_path / "m.gguf", quant="q8_0", n_probes=2, llama_cpp=False)
    assert result.ok and [c.probes for c in result.checks] == [2]
    assert result.to_dict()["files"] == {"m.gguf": (tmp_path / "m.gguf").stat().st_size}


def test_studio_exports_with_progress_and_a_download(runs, tmp_path):
    import io
    import time
    import zipfile

    from fastapi.testclient import TestClient
    from server_fakes import FakeEngine

    from lorastudio.server import create_app

    home = tmp_path / "home"
    shutil.copytree(runs["qwen2"], home / "runs" / "wk")
    app = create_app(engine=FakeEngine(), home=home, device="cpu", start_runner=False)
    with TestClient(app) as client:
        bad = client.post("/api/adapters/wk/export", json={"format": "gguf", "quant": "q3"})
        assert bad.status_code == 400 and "--quant q3" in bad.json()["error"]["message"]
        assert client.post("/api/adapters/nope/export", json={}).status_code == 404
        seen = set()
        for fmt in ("gguf-lora", "merged"):
            r = client.post("/api/adapters/wk/export", json={"format": fmt, "llama_cpp": False})
            assert r.status_code == 202 and r.json()["state"] in ("queued", "running")
            task_id = r.json()["id"]
            for _ in range(600):
                task = client.get(f"/api/exports/{task_id}").json()
                seen.add(task["stage"])
                if task["state"] in ("done", "failed"):
                    break
                time.sleep(0.1)
            assert task["state"] == "done" and task["result"]["ok"], task
            assert task["download"] == f"/api/exports/{task_id}/download" and str(home) not in json.dumps(task)
            got = client.get(task["download"])
            assert got.status_code == 200
            if fmt == "gguf-lora":
                assert got.content[:4] == b"GGUF" and 'filename="wk-gguf-lora-f32.gguf"' in got.headers["content-disposition"]
            else:
                names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
                assert "wk-merged/model.safetensors" in names and "wk-merged/README.md" in names
        assert "done" in seen
        assert client.get("/api/exports/999").json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------- llama.cpp itself (slow: needs llama-cpp-python)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_llama_cpp_loads_the_gguf_and_the_base_with_the_lora(runs, arch, tmp_path):
    """llama.cpp (through llama-cpp-python, which compiles it) reads our files: it tokenises the
    prompts to our ids and its logits match the adapter's. Near-uniform logits of a random tiny
    model make greedy ties common, so greedy equality is asserted on the real model (README)."""
    pytest.importorskip("llama_cpp")
    for fmt in ("gguf", "gguf-lora"):
        result = _export(runs[arch], fmt, tmp_path, quant="f32", llama_cpp=True)
        cpp = [c for c in result.checks if c.consumer == "llama.cpp"]
        assert len(cpp) == 1, [c.summary() for c in result.checks]
        assert cpp[0].tokenizer_equal == cpp[0].probes == 5
        assert cpp[0].kl_mean < 1e-3 and cpp[0].top1_agree > 0.95, cpp[0].summary()
