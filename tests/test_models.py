"""Model sources: local folders, GGUF conversion, safetensors only, helpful errors."""

import shutil

import pytest

from lorastudio.errors import ModelError
from lorastudio.models import linear_module_names, load_model, resolve_model, resolve_target_modules


def test_local_folder_is_used_as_is(tiny_model_dir):
    src = resolve_model(str(tiny_model_dir))
    assert src.kind == "local" and src.path == str(tiny_model_dir)


def test_pickled_weights_are_refused(tiny_model_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="safetensors only"):
        resolve_model(str(folder))


def test_unknown_specs_say_what_is_accepted(tmp_path):
    with pytest.raises(ModelError, match="smollm2-135m"):
        resolve_model(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_model(str(tmp_path / "x.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="config.json"):
        resolve_model(str(tmp_path / "empty"))
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").kind == "hub"


def test_target_modules_default_to_attention_and_unknown_names_list_the_real_ones(tiny_model_dir):
    model = load_model(resolve_model(str(tiny_model_dir)))
    assert resolve_target_modules(model, None) == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert set(resolve_target_modules(model, ["all-linear"])) == set(linear_module_names(model)) >= {"gate_proj", "up_proj"}
    with pytest.raises(ModelError) as err:
        resolve_target_modules(model, ["qproj"])
    assert "['qproj']" in str(err.value) and "q_proj" in err.value.fix


@pytest.mark.slow
def test_embedded_smollm2_converts_once_and_is_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("LORASTUDIO_HOME", str(tmp_path))
    src = resolve_model("smollm2-135m")
    assert src.kind == "embedded" and (tmp_path / "models" / "smollm2-135m" / "model.safetensors").is_file()
    stamp = (tmp_path / "models" / "smollm2-135m" / "config.json").stat().st_mtime
    assert resolve_model("smollm2-135m").path == src.path
    assert (tmp_path / "models" / "smollm2-135m" / "config.json").stat().st_mtime == stamp
