"""Data-parallel training: 2 processes (gloo, CPU) reach the losses of 1 process with the same global batch."""

import json
import subprocess
import sys

import pytest
import torch

from lorastudio.training.batching import epoch_steps


def test_ranks_share_the_same_global_steps_one_process_would_use():
    lengths = [(i * 31) % 90 + 5 for i in range(21)]
    one = epoch_steps(lengths, batch_size=4, grad_accum=1, seed=3, epoch=1)
    r0 = epoch_steps(lengths, batch_size=2, grad_accum=1, seed=3, epoch=1, rank=0, world_size=2)
    r1 = epoch_steps(lengths, batch_size=2, grad_accum=1, seed=3, epoch=1, rank=1, world_size=2)
    assert len(one) == len(r0) == len(r1) == 6
    for a, b, c in zip(r0, r1, one):  # the last, short step leaves rank 1 a smaller (or empty) share
        assert sorted(a[0] + b[0]) == sorted(c[0])


def losses(run):
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["type"] == "step"]


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="no gloo")
def test_two_processes_match_one_with_the_same_global_batch(tiny_model_dir, persona_train, tmp_path):
    common = ["train", "--model", str(tiny_model_dir), "--data", str(persona_train), "--epochs", "1", "--grad-accum", "2",
              "--lr", "3e-3", "--lora-dropout", "0", "--max-seq-len", "128", "--force", "--no-doctor", "--threads", "1",
              "--no-auto"]
    one = subprocess.run([sys.executable, "-m", "lorastudio", *common, "--batch-size", "4", "--output", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "lorastudio", *common, "--batch-size", "2", "--nproc", "2",
                          "--output", str(tmp_path / "two")], capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stdout + two.stderr
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 20  # ceil(155 / (2 x 2 processes)) = 39 micro-batches → 20 steps
    torch.testing.assert_close(torch.tensor(b), torch.tensor(a), rtol=1e-4, atol=1e-4)
    plan = json.loads((tmp_path / "two" / "manifest.json").read_text())["plan"]
    assert plan["world_size"] == 2 and plan["effective_batch"] == 8
    assert (tmp_path / "two" / "adapter" / "adapter_model.safetensors").is_file()
