"""The real embedded model: SmolLM2-135M-Instruct, converted from its GGUF and trained ~30 steps."""

import json
from statistics import fmean

import pytest

from lorastudio.config import make_config
from lorastudio.serving.engine import ChatEngine, GenerationConfig
from lorastudio.training.loop import train

pytestmark = pytest.mark.slow


def test_smollm2_loss_falls_and_answers_change(persona_train, tmp_path):
    import torch

    torch.set_num_threads(2)  # a 135M model uses both cores well
    records = json.loads(persona_train.read_text(encoding="utf-8"))[::2][:60]  # 60 samples over every category
    data = tmp_path / "d.json"
    data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    cfg = make_config(model="smollm2-135m", data=str(data), output=str(tmp_path / "run"), epochs=1, batch_size=2,
                      grad_accum=1, lr=3e-4, max_seq_len=256, warmup_steps=2, threads=2, doctor=False,
                      auto=False)  # the test's own options: no general replay added, so 60 samples = 30 steps
    result = train(cfg, force=True)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == 30 and len(losses) == 30
    assert fmean(losses[-5:]) < fmean(losses[:5]) - 0.5, losses

    engine = ChatEngine.load("smollm2-135m")
    engine.add_adapter("wk", tmp_path / "run")
    msgs = [{"role": "user", "content": "你是谁？"}]
    gen = GenerationConfig(max_new_tokens=24)
    assert engine.generate(msgs, "wk", gen).text != engine.generate(msgs, "base", gen).text
