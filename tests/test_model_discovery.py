"""Models other tools keep: Ollama's store, the Hugging Face and ModelScope caches, LM Studio's
folder, each laid out in a temporary folder (tests/model_layouts.py) with the tiny Qwen2 as a
folder or as a GGUF written with the `gguf` package. Discovery, resolution by name, the errors
that list what was found, Ollama's template layer, and the run manifest. Nothing downloads."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
from model_layouts import (COMMIT, OLLAMA_CHATML, OLLAMA_OTHER, hf_snapshot, laid_out, lmstudio_file,  # noqa: F401
                           ollama_model, places, sha256, tiny_gguf, tiny_gguf_bare)

from lorastudio.errors import ModelError
from lorastudio.models import fingerprint, resolve_model
from lorastudio.models.discovery import chinese_chat_models, find_models, roots
from lorastudio.models.ggufinfo import read_gguf_info
from lorastudio.models.ollama import CHATML_JINJA, normalize_name


def specs(found) -> set[str]:
    return {m.spec for m in found}


# ---- reading GGUF headers ------------------------------------------------------------------
def test_gguf_header_agrees_with_the_gguf_library_and_the_weights(tiny_gguf, tiny_model_dir):
    import gguf
    from safetensors import safe_open

    info = read_gguf_info(tiny_gguf)
    ref = gguf.GGUFReader(tiny_gguf)
    assert info.architecture == "qwen2" == ref.fields["general.architecture"].contents()
    assert info.n_params == sum(int(t.n_elements) for t in ref.tensors)
    with safe_open(tiny_model_dir / "model.safetensors", "np") as f:
        assert info.n_params == sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    assert info.quantization == "F32" and info.name == "Tiny Qwen2" and info.is_chat_model
    assert info.chat_template == (tiny_model_dir / "chat_template.jinja").read_text()
    assert info.metadata["tokenizer.ggml.tokens"] == len(ref.fields["tokenizer.ggml.tokens"].data)


def test_a_truncated_gguf_is_named_not_a_crash(tiny_gguf, places, tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:5000])
    with pytest.raises(ModelError, match="cut.gguf is not a readable GGUF file"):
        read_gguf_info(cut)
    lmstudio_file(places["lmstudio"], "pub", "Broken", cut)
    (entry,) = find_models(("lmstudio",))[0]
    assert entry.spec == "lmstudio:pub/Broken/cut.gguf" and "not a readable GGUF" in entry.problem and not entry.usable


# ---- discovery -----------------------------------------------------------------------------
def test_every_place_is_listed_with_what_the_table_shows(laid_out, tiny_gguf, tiny_model_dir):
    found, warnings = find_models(("ollama", "hf", "modelscope", "lmstudio"))
    assert warnings == []
    assert specs(found) == {"ollama:tiny:latest", "hf:Org/Tiny-Instruct", "modelscope:Qwen/Tiny2.5-0.5B-Instruct",
                            "lmstudio:pub/Tiny-GGUF/tiny-qwen2-f32.gguf"}
    by = {m.source: m for m in found}
    n = read_gguf_info(tiny_gguf).n_params
    assert all(m.architecture == "qwen2" and m.n_params == n and m.usable for m in found)
    assert (by["ollama"].format, by["ollama"].quantization, by["ollama"].template) == ("gguf", "F32", "gguf")
    assert by["ollama"].digest == "sha256:" + sha256(tiny_gguf)
    assert by["ollama"].size_bytes > tiny_gguf.stat().st_size  # every layer: model, params, config
    assert (by["hf"].format, by["hf"].template, by["hf"].digest) == ("safetensors", "tokenizer", COMMIT)
    folder_bytes = sum(f.stat().st_size for f in tiny_model_dir.iterdir())
    assert by["hf"].size_bytes == by["modelscope"].size_bytes == folder_bytes  # blobs counted once, through the links
    assert by["modelscope"].name == "Qwen/Tiny2.5-0.5B-Instruct"  # the folder is Tiny2___5-0___5B-Instruct
    assert by["lmstudio"].size_bytes == tiny_gguf.stat().st_size
    assert all(r.startswith(str(laid_out["ollama"].parent)) for rs in roots().values() for r in rs)


def test_what_is_not_a_chat_model_is_left_out(places, tiny_model_dir):
    encoder = places["home"] / "encoder"
    shutil.copytree(tiny_model_dir, encoder)
    config = json.loads((encoder / "config.json").read_text())
    (encoder / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    hf_snapshot(places["hf"], "Org/encoder", encoder)
    base = places["home"] / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink()
    hf_snapshot(places["hf"], "Org/Tiny-Base", base)
    found, _ = find_models(("hf",))
    assert specs(found) == {"hf:Org/Tiny-Base"}  # the encoder is not listed; the base model is, with why
    assert found[0].template == "" and "no chat template" in found[0].problem


def test_no_folders_means_an_empty_list_not_an_error(places):
    assert find_models(("ollama", "hf", "modelscope", "lmstudio")) == ([], [])


def test_ollama_names_are_read_as_ollama_shows_them():
    assert normalize_name("qwen2.5") == "qwen2.5:latest"
    assert normalize_name("Qwen2.5:0.5B") == "qwen2.5:0.5b"
    assert normalize_name("registry.ollama.ai/library/qwen2.5:0.5b") == "qwen2.5:0.5b"
    assert normalize_name("someone/model:q4") == "someone/model:q4"
    assert normalize_name("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M") == "hf.co/bartowski/qwen2.5-0.5b-instruct-gguf:q4_k_m"


# ---- resolution ----------------------------------------------------------------------------
def test_each_prefix_resolves_to_its_file_or_folder(laid_out, tiny_model_dir):
    hf = resolve_model("hf:Org/Tiny-Instruct")
    assert hf.kind == "hf" and hf.path == str(laid_out["hf"] / "models--Org--Tiny-Instruct" / "snapshots" / COMMIT)
    assert fingerprint(hf)["revision"] == COMMIT
    ms = resolve_model("modelscope:qwen/tiny2.5-0.5b-instruct")  # ModelScope ids are matched without case
    assert ms.kind == "modelscope" and ms.path.endswith("models/Qwen/Tiny2___5-0___5B-Instruct")
    for spec in ("ollama:tiny", "ollama:tiny:latest", "lmstudio:pub/Tiny-GGUF", "lmstudio:tiny-qwen2-f32.gguf"):
        src = resolve_model(spec)
        assert src.kind == spec.split(":")[0] and (Path(src.path) / "model.safetensors").is_file(), spec
    assert resolve_model("ollama:tiny").path == resolve_model("ollama:tiny:latest").path  # one conversion per blob


def test_an_ollama_blob_converts_to_the_same_model(laid_out, tiny_model_dir, tiny_gguf):
    import torch
    from transformers import AutoModelForCausalLM

    src = resolve_model("ollama:tiny")
    assert src.origin.endswith("sha256-" + sha256(tiny_gguf)) and src.gguf_sha256 == sha256(tiny_gguf)
    ids = torch.tensor([[5, 17, 99, 3, 250]])
    with torch.no_grad():
        ours = AutoModelForCausalLM.from_pretrained(src.path)(ids).logits
        ref = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("spec, says, fix", [
    ("ollama:qwen3:4b", "no model named 'qwen3:4b' in Ollama's models", "ollama pull qwen3:4b"),
    ("hf:Qwen/Qwen2.5-0.5B-Instruct", "no model named 'Qwen/Qwen2.5-0.5B-Instruct' in the Hugging Face cache", "hf download"),
    ("modelscope:qwen/Qwen2.5-0.5B-Instruct", "in the ModelScope cache", "modelscope download --model qwen/Qwen2.5-0.5B-Instruct"),
    ("lmstudio:nope", "in LM Studio's models folder", "LMSTUDIO_MODELS"),
    ("ollama:", "names no model after 'ollama:'", "lorastudio models"),
])
def test_an_unknown_name_lists_what_was_found(laid_out, spec, says, fix):
    with pytest.raises(ModelError) as err:
        resolve_model(spec)
    assert says in err.value.message and fix in err.value.fix
    if spec != "ollama:":
        place = spec.split(":")[0]
        found = {"ollama": "tiny:latest", "hf": "Org/Tiny-Instruct", "modelscope": "Qwen/Tiny2.5-0.5B-Instruct",
                 "lmstudio": "pub/Tiny-GGUF/tiny-qwen2-f32.gguf"}[place]
        assert f"found: {found}" in err.value.message and str(laid_out[place]) in err.value.message


def test_an_empty_place_says_where_it_looked(places):
    with pytest.raises(ModelError, match=f"no models found in Ollama's models \\({places['ollama']}\\)") as err:
        resolve_model("ollama:qwen2.5:0.5b")
    assert "OLLAMA_MODELS" in err.value.fix


def test_a_name_two_models_answer_to_asks_for_the_full_one(places, tiny_gguf):
    lmstudio_file(places["lmstudio"], "pub", "Tiny-GGUF", tiny_gguf)
    lmstudio_file(places["lmstudio"], "other", "Tiny-GGUF", tiny_gguf)
    with pytest.raises(ModelError, match="matches 2 models") as err:
        resolve_model("lmstudio:Tiny-GGUF")
    assert "--model lmstudio:" in err.value.fix
    assert resolve_model("lmstudio:other/Tiny-GGUF").kind == "lmstudio"


# ---- Ollama's template layer ---------------------------------------------------------------
def test_a_chatml_go_template_stands_in_when_the_gguf_has_none(places, tiny_gguf_bare, tiny_model_dir):
    from transformers import AutoTokenizer

    ollama_model(places["ollama"], "bare:1b", tiny_gguf_bare, template=OLLAMA_CHATML)
    (entry,) = find_models(("ollama",))[0]
    assert entry.template == "ollama:chatml" and entry.usable
    src = resolve_model("ollama:bare:1b")
    assert src.path.endswith("-chatml")  # a cache of its own: the template is part of what was converted
    tok, ref = AutoTokenizer.from_pretrained(src.path), AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.chat_template == CHATML_JINJA
    msgs = [{"role": "user", "content": "请问阁下尊姓大名？"}, {"role": "assistant", "content": "俺老孙是也"}]
    assert tok.apply_chat_template(msgs, tokenize=False) == ref.apply_chat_template(msgs, tokenize=False)


def test_a_go_template_it_cannot_translate_is_refused_by_name(places, tiny_gguf_bare):
    ollama_model(places["ollama"], "odd:7b", tiny_gguf_bare, template=OLLAMA_OTHER)
    ollama_model(places["ollama"], "none:7b", tiny_gguf_bare)
    found = {m.name: m for m in find_models(("ollama",))[0]}
    assert found["odd:7b"].template == "ollama:go" and "Go template" in found["odd:7b"].problem
    assert found["none:7b"].template == "" and "no chat template" in found["none:7b"].problem
    with pytest.raises(ModelError, match="ollama:odd:7b .* cannot be trained: the GGUF has no chat template") as err:
        resolve_model("ollama:odd:7b")
    assert "tokenizer_config.json" in err.value.fix


def test_a_llama3_go_template_becomes_metas_jinja_template():
    import jinja2

    from lorastudio.models.ollama import go_template_to_jinja

    go = ("{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
          "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
          "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>")
    jinja, layout = go_template_to_jinja(go)
    assert layout == "llama3"
    text = jinja2.Environment().from_string(jinja).render(
        messages=[{"role": "system", "content": "S"}, {"role": "user", "content": " 你好 "}], bos_token="<|begin_of_text|>",
        add_generation_prompt=True)
    assert text == ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\n你好<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert go_template_to_jinja(OLLAMA_OTHER) == (None, None) and go_template_to_jinja(None) == (None, None)


# ---- a run from an Ollama blob -------------------------------------------------------------
def test_a_run_on_an_ollama_blob_records_where_the_model_came_from(laid_out, tiny_gguf, persona_seed, tmp_path):
    from lorastudio.config import make_config
    from lorastudio.training.loop import train

    run = tmp_path / "run"
    config = make_config(model="ollama:tiny", data=str(persona_seed), output=str(run), epochs=1, batch_size=4,
                         grad_accum=1, lr=2e-3, max_seq_len=128, doctor=False, auto=False)
    result = train(config, force=True)
    assert result.status == "done" and result.steps == 5
    base = json.loads((run / "manifest.json").read_text())["base_model"]
    assert base["spec"] == "ollama:tiny" and base["kind"] == "ollama"
    assert base["gguf_sha256"] == sha256(tiny_gguf) and len(base["content_hash"]) == 64
    assert base["origin"] == str(laid_out["ollama"] / "blobs" / f"sha256-{sha256(tiny_gguf)}")


def test_a_gguf_file_records_its_hash_computed_at_conversion(places, tiny_gguf):
    src = resolve_model(str(tiny_gguf))
    info = fingerprint(src)
    assert info["gguf_sha256"] == hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    source_file = Path(src.path) / "SOURCE.json"
    assert json.loads(source_file.read_text())["gguf"] == str(tiny_gguf)
    source_file.unlink()  # a folder converted before SOURCE.json existed: the hash is computed once, the rest unchanged
    assert fingerprint(src) == info and source_file.is_file()


# ---- the demo's suggestion -----------------------------------------------------------------
def test_the_demo_names_a_chinese_speaking_model_when_one_is_here(places, tiny_model_dir):
    from lorastudio.demo import chinese_model_hint

    assert chinese_model_hint() is None
    hf_snapshot(places["hf"], "Qwen/Qwen2.5-0.5B", tiny_model_dir)  # a base model: not for a persona demo
    assert chinese_model_hint() is None
    hf_snapshot(places["hf"], "Qwen/Qwen2.5-0.5B-Instruct", tiny_model_dir)
    hint = chinese_model_hint()
    assert "lorastudio demo --model hf:Qwen/Qwen2.5-0.5B-Instruct" in hint and "speaks Chinese" in hint


def test_only_small_qwen_instruct_models_are_suggested(laid_out):
    found, _ = find_models(("ollama", "hf", "modelscope", "lmstudio"))
    picked = chinese_chat_models(found)
    # the tiny is a Qwen2; Ollama's tags are instruct models, the others say Instruct in their names
    assert specs(picked) == {"ollama:tiny:latest", "hf:Org/Tiny-Instruct", "modelscope:Qwen/Tiny2.5-0.5B-Instruct"}
    assert chinese_chat_models(found, max_params=1000) == []


def test_concurrent_conversions_of_one_gguf_give_one_complete_folder(tiny_gguf, tmp_path, monkeypatch):
    """The server plans in threads: two plans for a new GGUF model at once convert it once."""
    import threading

    from lorastudio.models import sources

    calls, real = [], sources._write_source  # written once per real conversion
    monkeypatch.setattr(sources, "_write_source", lambda *a: calls.append(1) or real(*a))
    target, results = tmp_path / "converted", []
    threads = [threading.Thread(target=lambda: results.append(sources.convert_gguf(tiny_gguf, target))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [target] * 3 and (target / "config.json").is_file()
    assert len(calls) == 1  # the two that waited found the folder done
    assert [p.name for p in tmp_path.iterdir()] == ["converted"]  # no half-converted folder left behind
