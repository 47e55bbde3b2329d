"""Shared fixtures: a tiny Qwen2 chat model built offline, the bundled example data, a studio home.

OMP_WAIT_POLICY must be set before torch is imported: with the default spin-wait, one other busy
process on these 2-core machines makes training ~11x slower.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny models: one thread beats two

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "lorastudio" / "examples"


@pytest.fixture(autouse=True)
def _studio_home(tmp_path_factory, monkeypatch):
    """Each test gets a private studio home unless it sets one (the embedded model cache is shared)."""
    if "LORASTUDIO_HOME" not in os.environ:
        monkeypatch.setenv("LORASTUDIO_HOME", str(tmp_path_factory.getbasetemp() / "home"))


def example_texts() -> list[str]:
    texts = []
    for name in ("wukong_train.json", "general_replay.json"):
        for r in json.loads((EXAMPLES / name).read_text(encoding="utf-8")):
            texts.append(r["instruction"] + "\n" + r["output"])
    return texts + ["user assistant system\n"] * 20


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-init Qwen2 (hidden 64, 2 layers) with a byte-level BPE tokenizer and ChatML template."""
    from lorastudio.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", example_texts(), hidden=64, layers=2, vocab_size=1000)


@pytest.fixture(scope="session")
def persona_train() -> Path:
    return EXAMPLES / "wukong_train.json"


@pytest.fixture(scope="session")
def persona_seed() -> Path:
    return EXAMPLES / "wukong_seed.json"


@pytest.fixture(scope="session")
def persona_probes() -> Path:
    return EXAMPLES / "wukong_probes.jsonl"


@pytest.fixture
def write_json(tmp_path):
    """Write records to a .json (list) or .jsonl file and return its path."""

    def _write(records, name="data.json"):
        p = tmp_path / name
        if name.endswith(".jsonl"):
            p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        else:
            p.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        return p

    return _write
