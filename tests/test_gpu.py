"""On a CUDA GPU (`pytest -m gpu`): the memory plan against torch.cuda.max_memory_allocated, QLoRA
through bitsandbytes' CUDA kernels, fp16 with a loss scaler, FSDP over NCCL. Not run yet: no GPU
has been lent to the sessions that wrote these (bench/gpu_check.py is the one-call version)."""

import gc
import json
import math
import subprocess
import sys

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def gpu_model(tmp_path_factory):
    """A random-init Qwen2 big enough for its activations to be measured: hidden 512, 8 layers,
    MLP 1536, vocabulary 32,000 (~45M parameters)."""
    from conftest import example_texts
    from transformers import AutoModelForCausalLM

    from lorastudio.models.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("gpu") / "model", example_texts(), hidden=512, layers=8, heads=8,
                              kv_heads=4, intermediate=1536, vocab_size=2000)
    model = AutoModelForCausalLM.from_pretrained(folder)
    model.resize_token_embeddings(32000, mean_resizing=False)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def long_data(tmp_path_factory, persona_train):
    records = json.loads(persona_train.read_text(encoding="utf-8"))
    group = lambda i: [records[(4 * i + k) % len(records)] for k in range(4)]  # noqa: E731
    joined = [{"instruction": "\n".join(r["instruction"] + r["output"] for r in group(i)[:3]), "output": group(i)[3]["output"]}
              for i in range(32)]
    path = tmp_path_factory.mktemp("data") / "long.json"
    path.write_text(json.dumps(joined, ensure_ascii=False), encoding="utf-8")
    return path


def measured_run(model, data, out, **options) -> tuple[dict, int, list[float]]:
    from lorastudio import api

    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    api.train(model=str(model), data=str(data), output=str(out), epochs=1, batch_size=4, grad_accum=1, max_seq_len=1024,
              doctor=False, force=True, **options)
    peak = torch.cuda.max_memory_allocated()
    plan = json.loads((out / "plan.json").read_text())["memory"]
    losses = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines() if '"step"' in x]
    return plan, peak, losses


@pytest.mark.parametrize("options", [{}, {"gradient_checkpointing": True}, {"quantize": "4bit"},
                                     {"quantize": "4bit", "gradient_checkpointing": True}])
def test_plan_is_within_25_percent_of_max_memory_allocated(gpu_model, long_data, tmp_path, options):
    plan, peak, losses = measured_run(gpu_model, long_data, tmp_path / "run", **options)
    assert plan["device"] == "cuda" and plan["settings"]["dtype"] in ("bf16", "fp16")
    assert abs(peak - plan["allocated"]) <= 0.25 * plan["allocated"], (peak, plan)
    assert all(math.isfinite(x) for x in losses)


def test_fp16_trains_with_a_loss_scaler(gpu_model, long_data, tmp_path):
    _, _, losses = measured_run(gpu_model, long_data, tmp_path / "run", dtype="fp16", lr=3e-3)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["device"]["dtype"] == "torch.float16"
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_fsdp_over_nccl_matches_ddp(gpu_model, long_data, tmp_path):
    common = ["train", "--model", str(gpu_model), "--data", str(long_data), "--epochs", "1", "--batch-size", "1",
              "--grad-accum", "2", "--lora-dropout", "0", "--force", "--no-doctor", "--nproc", "2", "--dtype", "fp32"]
    for name, extra in (("ddp", []), ("fsdp", ["--fsdp"])):
        r = subprocess.run([sys.executable, "-m", "lorastudio", *common, *extra, "--output", str(tmp_path / name)],
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    read = lambda n: [json.loads(x)["loss"] for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines() if '"step"' in x]  # noqa: E731
    torch.testing.assert_close(torch.tensor(read("fsdp")), torch.tensor(read("ddp")), rtol=1e-3, atol=1e-3)
