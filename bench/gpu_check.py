"""A short prepared check for one CUDA machine: lorastudio against TRL, bf16, tokens/s.

Not run in CI and not run yet: the session that wrote it had no GPU lent (see bench/README.md).
It reuses train_bench.py's methods (each in its own process) on two models:
  smollm2   SmolLM2-135M (the embedded default), 155 persona samples x 4 (one epoch: 155 steps)
  qwen05b   a random-init Qwen2 with Qwen2.5-0.5B's shape (hidden 896, 24 layers, 14 heads, 2 KV
            heads, MLP 4864, vocab 151,936; ~0.49B params), built from config, same data
and prints, per method: real tokens/s, wall, peak GPU memory, final loss, ratio to TRL defaults.
lorastudio-fp32 is there for the loss: on CPU, plain bf16 weights cost SmolLM2 0.023 of eval loss
after 20 steps (bench/README.md, "bf16 and the loss curve"); this shows whether CUDA's bf16 does too.
On CUDA, lorastudio picks bf16 weights, SDPA attention and fused AdamW by itself (pick_device);
TRL's defaults there are bf16 autocast (fp32 weights) and gradient checkpointing.

    python bench/gpu_check.py                 # both models; expected to take minutes on an H100-class card (not yet run)
    python bench/gpu_check.py --models smollm2 --repeats 1
    python bench/gpu_check.py --cpu-smoke     # the same code path on CPU with a toy model (no GPU)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_bench as tb  # noqa: E402

QWEN05B = dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864)
QWEN05B_VOCAB = 151_936


def build_qwen05b(folder: Path, spec: dict, vocab: int) -> str:
    if not (folder / "config.json").is_file():
        import torch
        from transformers import AutoModelForCausalLM

        from lorastudio.models.tiny import build_tiny_model

        build_tiny_model(folder, tb.example_texts(), vocab_size=tb.TOKENIZER_VOCAB, seed=0, **spec)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model.resize_token_embeddings(vocab, mean_resizing=False)
        model.save_pretrained(folder, safe_serialization=True)
    return str(folder)


def repeated_data(times: int) -> str:
    records = json.loads((tb.EXAMPLES / "wukong_train.json").read_text(encoding="utf-8")) * times
    path = tb.CACHE / f"wukong-x{times}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smollm2,qwen05b")
    ap.add_argument("--methods", default="trl-defaults,trl-packing,lorastudio,lorastudio-fp32")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data-times", type=int, default=4, help="the persona set repeated this many times (one epoch)")
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on CPU: checks the script, measures nothing")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available() and not args.cpu_smoke:
        sys.exit("no CUDA device: this check is for a GPU machine (use --cpu-smoke to test the script itself)")
    tb.CACHE.mkdir(parents=True, exist_ok=True)
    data = repeated_data(1 if args.cpu_smoke else args.data_times)
    if torch.cuda.is_available():
        print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, bf16 {torch.cuda.is_bf16_supported()}")
    methods = [m for m in args.methods.split(",") if m]
    for name in [m for m in args.models.split(",") if m]:
        if name == "qwen05b":
            shape, vocab = (dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128), 2000) if args.cpu_smoke else (QWEN05B, QWEN05B_VOCAB)
            path = build_qwen05b(tb.CACHE / ("qwen05b-smoke" if args.cpu_smoke else "qwen05b-model"), shape, vocab)
        else:
            path = "smollm2-135m"
        if args.cpu_smoke:
            small = tb.CACHE / "gpu-smoke-data.json"
            small.write_text(json.dumps(json.loads(Path(data).read_text(encoding="utf-8"))[:8], ensure_ascii=False), encoding="utf-8")
            data_for = str(small)
        else:
            data_for = data
        runs = []
        for rep in range(args.repeats):
            for m in (methods if rep % 2 == 0 else methods[::-1]):
                r = tb.run_child(dict(method=m, model=path, data=data_for, threads=os.cpu_count() or 1, model_name=name), args.timeout)
                runs.append(r)
                brief = r.get("error", "")[-300:] or (f"{r['tokens_per_sec']:.0f} tok/s, wall {r['wall']:.1f} s, "
                                                     f"gpu {r.get('peak_gpu_mb', 0):.0f} MB, last loss {r['losses'][-1]:.4f}")
                print(f"  {name} {m}: {brief}", flush=True)
        print(tb.summarise(name, runs, methods, os.cpu_count() or 1), flush=True)


if __name__ == "__main__":
    main()
