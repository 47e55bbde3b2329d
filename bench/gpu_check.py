"""A short prepared check for one CUDA machine: the memory plan against the GPU, and lorastudio
against TRL in tokens/s.

Not run yet: no GPU has been lent to the sessions that wrote it (see bench/README.md). Two parts:

memory  For two model sizes, with and without a 4-bit base and gradient checkpointing, a few
        steps of `lorastudio train` in a child process each, on persona samples joined four at a
        time (long enough for activations to matter). Per run: the plan's peak (`allocated`:
        weights + LoRA state + activations + logits; `total` adds the estimated CUDA context and
        allocator slack) beside torch.cuda.max_memory_allocated, max_memory_reserved and the
        device memory in use (mem_get_info), and the ratio measured / planned. Also one fp16 run
        (the loss-scaler path) and, with 2+ GPUs, `--nproc 2 --fsdp` over NCCL.
speed   train_bench.py's methods (each in its own process) on the same two models: real tokens/s,
        wall, peak GPU memory, final loss, ratio to TRL defaults.

Models:
  smollm2   SmolLM2-135M (the embedded default)
  qwen05b   a random-init Qwen2 with Qwen2.5-0.5B's shape (hidden 896, 24 layers, 14 heads, 2 KV
            heads, MLP 4864, vocab 151,936; ~0.49B params), built from config

    python bench/gpu_check.py                       # both parts; a few minutes on an H100-class card (not yet run)
    python bench/gpu_check.py --parts memory        # the memory table only (~2-3 min)
    python bench/gpu_check.py --models smollm2 --repeats 1
    python bench/gpu_check.py --cpu-smoke           # the same code paths on CPU with toy shapes (no GPU)

4-bit rows need bitsandbytes (`pip install -e '.[gpu]'`), the speed part TRL (`.[bench]`); a part
whose package is missing reports it and the rest runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_bench as tb  # noqa: E402

QWEN05B = dict(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864)
QWEN05B_VOCAB = 151_936
SMOKE = dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128)
# (quantize, gradient checkpointing, dtype) per memory run: the four combinations, then fp16.
MEMORY_RUNS = [("none", False, "auto"), ("none", True, "auto"), ("4bit", False, "auto"), ("4bit", True, "auto")]
GiB = 1024**3


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


def long_data(n: int) -> str:
    """n samples of four persona samples each (three as the prompt, the fourth's answer trained)."""
    records = json.loads((tb.EXAMPLES / "wukong_train.json").read_text(encoding="utf-8"))
    group = lambda i: [records[(4 * i + k) % len(records)] for k in range(4)]  # noqa: E731
    joined = [{"instruction": "\n".join(r["instruction"] + r["output"] for r in group(i)[:3]), "output": group(i)[3]["output"]}
              for i in range(n)]
    path = tb.CACHE / f"wukong-long-{n}.json"
    path.write_text(json.dumps(joined, ensure_ascii=False), encoding="utf-8")
    return str(path)


def model_path(name: str, smoke: bool) -> str:
    if name == "qwen05b":
        shape, vocab = (SMOKE, 2000) if smoke else (QWEN05B, QWEN05B_VOCAB)
        return build_qwen05b(tb.CACHE / ("qwen05b-smoke" if smoke else "qwen05b-model"), shape, vocab)
    return "smollm2-135m"


# ---- memory: the plan against torch.cuda.max_memory_allocated --------------------------------

def memory_child(spec: dict) -> None:
    """One short training run; prints RESULT {planned, measured} as JSON."""
    import torch

    from lorastudio import api

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    out = Path(spec["out"])
    t0 = time.time()
    api.train(model=spec["model"], data=spec["data"], output=str(out), epochs=1, batch_size=spec["batch"], grad_accum=1,
              max_seq_len=spec["max_len"], quantize=spec["quantize"], gradient_checkpointing=spec["ckpt"],
              dtype=spec["dtype"], doctor=False, force=True, threads=spec.get("threads"))
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))["memory"]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = [r for r in rows if r.get("type") == "step"]
    result = {"planned_allocated": plan["allocated"], "planned_total": plan["total"], "plan": plan,
              "losses": [r["loss"] for r in steps], "tokens_per_sec": steps[-1]["tokens_per_sec"], "wall": time.time() - t0}
    if cuda:
        free, total = torch.cuda.mem_get_info()
        result.update(max_allocated=torch.cuda.max_memory_allocated(), max_reserved=torch.cuda.max_memory_reserved(),
                      device_used=total - free)
    print("RESULT " + json.dumps(result), flush=True)


def run_memory(name: str, model: str, data: str, args, quantize: str, ckpt: bool, dtype: str) -> dict:
    spec = dict(model=model, data=data, out=str(tb.CACHE / f"mem-{name}-{quantize}-{int(ckpt)}-{dtype}-{time.time_ns()}"),
                batch=args.batch, max_len=args.max_len, quantize=quantize, ckpt=ckpt, dtype=dtype,
                threads=1 if args.cpu_smoke else None)
    cmd = [sys.executable, __file__, "--memory-child", json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout:.0f} s"}
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    if p.returncode != 0 or not lines:
        return {"error": f"exit {p.returncode}: {(p.stderr or p.stdout)[-600:]}"}
    return json.loads(lines[-1][len("RESULT "):])


def memory_row(name: str, quantize: str, ckpt: bool, dtype: str, r: dict) -> str:
    head = f"| {name} | {quantize} | {'on' if ckpt else 'off'} | {dtype} |"
    if "error" in r:
        return head + f" error: {r['error'].splitlines()[-1][:160] if r['error'] else ''} |||||||"
    g = lambda n: f"{n / GiB:.2f}"  # noqa: E731
    if "max_allocated" not in r:  # --cpu-smoke: the code path ran, nothing to measure
        return head + f" {g(r['planned_allocated'])} | - | - | - | - | {g(r['planned_total'])} | {r['tokens_per_sec']:.0f} |"
    ratio = r["max_allocated"] / r["planned_allocated"]
    return (head + f" {g(r['planned_allocated'])} | {g(r['max_allocated'])} | **{ratio:.2f}** | {g(r['max_reserved'])} | "
            f"{g(r['device_used'])} | {g(r['planned_total'])} | {r['tokens_per_sec']:.0f} |")


def memory_part(names: list[str], args) -> str:
    data = long_data(4 if args.cpu_smoke else args.batch * args.steps)
    lines = ["## Memory: plan against the GPU (GiB)", "",
             f"micro-batch {args.batch}, max length {args.max_len}, persona samples joined four at a time, "
             "LoRA r16 on q,k,v,o, one epoch",
             "", "| model | quantize | checkpointing | dtype | planned allocated | max_memory_allocated | measured / planned | "
             "max_memory_reserved | device used | planned total | tok/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        model = model_path(name, args.cpu_smoke)
        runs = MEMORY_RUNS + ([("none", False, "fp16")] if name == "qwen05b" else [])
        for quantize, ckpt, dtype in runs:
            r = run_memory(name, model, data, args, quantize, ckpt, dtype)
            lines.append(memory_row(name, quantize, ckpt, dtype, r))
            print(lines[-1], flush=True)
    lines += ["", fsdp_line(model_path(names[-1], args.cpu_smoke), data, args)]
    return "\n".join(lines)


def fsdp_line(model: str, data: str, args) -> str:
    """`--nproc 2 --fsdp` over NCCL, when there are two GPUs: does it train (and the same losses)?"""
    import torch

    if not args.cpu_smoke and torch.cuda.device_count() < 2:
        return f"FSDP: not run ({torch.cuda.device_count()} GPU; it needs 2)"
    out = tb.CACHE / f"fsdp-{time.time_ns()}"
    cmd = [sys.executable, "-m", "lorastudio", "train", "--model", model, "--data", data, "--output", str(out), "--epochs", "1",
           "--batch-size", "1", "--grad-accum", "1", "--max-seq-len", str(args.max_len), "--nproc", "2", "--fsdp",
           "--force", "--no-doctor"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        return f"FSDP: failed, exit {p.returncode}: {p.stderr[-400:]}"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [r["loss"] for r in rows if r.get("type") == "step"]
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))["memory"]
    return f"FSDP --nproc 2: trained {len(losses)} steps, last loss {losses[-1]:.4f}; planned per process {plan['allocated'] / GiB:.2f} GiB"


# ---- speed: ours against TRL (train_bench.py's methods) -----------------------------------------

def speed_part(names: list[str], args) -> str:
    data = repeated_data(1 if args.cpu_smoke else args.data_times)
    methods = [m for m in args.methods.split(",") if m]
    tables = []
    for name in names:
        path = model_path(name, args.cpu_smoke)
        data_for = data
        if args.cpu_smoke:
            small = tb.CACHE / "gpu-smoke-data.json"
            small.write_text(json.dumps(json.loads(Path(data).read_text(encoding="utf-8"))[:8], ensure_ascii=False), encoding="utf-8")
            data_for = str(small)
        runs = []
        for rep in range(args.repeats):
            for m in (methods if rep % 2 == 0 else methods[::-1]):
                r = tb.run_child(dict(method=m, model=path, data=data_for, threads=os.cpu_count() or 1, model_name=name), args.timeout)
                runs.append(r)
                brief = r.get("error", "")[-300:] or (f"{r['tokens_per_sec']:.0f} tok/s, wall {r['wall']:.1f} s, "
                                                     f"gpu {r.get('peak_gpu_mb', 0):.0f} MB, last loss {r['losses'][-1]:.4f}")
                print(f"  {name} {m}: {brief}", flush=True)
        tables.append(tb.summarise(name, runs, methods, os.cpu_count() or 1))
        print(tables[-1], flush=True)
    return "\n".join(tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="memory,speed")
    ap.add_argument("--models", default="smollm2,qwen05b")
    ap.add_argument("--methods", default="trl-defaults,trl-packing,lorastudio,lorastudio-fp32")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--data-times", type=int, default=4, help="speed: the persona set repeated this many times (one epoch)")
    ap.add_argument("--batch", type=int, default=4, help="memory: micro-batch")
    ap.add_argument("--steps", type=int, default=4, help="memory: optimizer steps per run")
    ap.add_argument("--max-len", type=int, default=1024, help="memory: max sequence length")
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on CPU: checks the script, measures nothing")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(json.loads(args.memory_child))
        return
    import torch

    if not torch.cuda.is_available() and not args.cpu_smoke:
        sys.exit("no CUDA device: this check is for a GPU machine (use --cpu-smoke to test the script itself)")
    tb.CACHE.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        total = torch.cuda.mem_get_info()[1]
        print(f"# {torch.cuda.get_device_name()} x {torch.cuda.device_count()}, {total / GiB:.1f} GiB, torch {torch.__version__}, "
              f"bf16 {torch.cuda.is_bf16_supported()}", flush=True)
    names = [m for m in args.models.split(",") if m]
    parts = [p for p in args.parts.split(",") if p]
    report = []
    if "memory" in parts:
        report.append(memory_part(names, args))
    if "speed" in parts:
        report.append(speed_part(names, args))
    print("\n\n".join(report), flush=True)


if __name__ == "__main__":
    main()
