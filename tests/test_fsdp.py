"""FSDP (--nproc N --fsdp): the base weights sharded over the processes by FSDP2, the adapter whole
on each. On 2 CPU processes (gloo) the losses equal one process's with the same global batch."""

import json
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="no gloo")


def losses(run):
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["type"] == "step"]


def test_two_fsdp_processes_match_one(tiny_model_dir, persona_train, tmp_path):
    data = tmp_path / "d.json"
    data.write_text(json.dumps(json.loads(persona_train.read_text(encoding="utf-8"))[:40], ensure_ascii=False), encoding="utf-8")
    common = ["train", "--model", str(tiny_model_dir), "--data", str(data), "--epochs", "1", "--grad-accum", "2", "--lr", "3e-3",
              "--lora-dropout", "0", "--max-seq-len", "128", "--force", "--no-doctor", "--threads", "1", "--no-auto"]
    one = subprocess.run([sys.executable, "-m", "lorastudio", *common, "--batch-size", "2", "--output", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "lorastudio", *common, "--batch-size", "1", "--nproc", "2", "--fsdp",
                          "--output", str(tmp_path / "two")], capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 10  # 40 samples / (1 x 2 accumulation x 2 processes)
    torch.testing.assert_close(torch.tensor(b), torch.tensor(a), rtol=1e-4, atol=1e-4)
    memory = json.loads((tmp_path / "two" / "plan.json").read_text())["memory"]
    assert memory["settings"]["fsdp"] is True and memory["settings"]["world_size"] == 2
    assert (tmp_path / "two" / "adapter" / "adapter_model.safetensors").is_file()
    from safetensors.torch import load_file

    sa = load_file(str(tmp_path / "one" / "adapter" / "adapter_model.safetensors"))
    sb = load_file(str(tmp_path / "two" / "adapter" / "adapter_model.safetensors"))
    assert sa.keys() == sb.keys()
    for k in sa:  # the adapter each saved is the whole adapter, and the same one
        torch.testing.assert_close(sb[k], sa[k], rtol=1e-4, atol=1e-5)
