"""LoRA training speed, side by side: lorastudio's train() against TRL and transformers' Trainer.

Every method trains the same LoRA (r16, alpha 32, no dropout, on q,k,v,o) on the same
tokenised samples (our chat-template masking: loss on the reply only), with the same samples
per optimizer step (batch 2 x accumulation 2), max length 512, lr 1e-4 cosine with the same
warmup, max grad norm 1, the same thread count, for one epoch over the same sample set:
    tiny     all 155 persona samples → 39 optimizer steps
    medium   the first 80 samples    → 20 optimizer steps
    smollm2  the first 80 samples    → 20 optimizer steps
Each run is its own subprocess (so peak RSS is per method), and the methods alternate within
each repeat, so load from other processes on the machine hits all of them alike.

    OMP_WAIT_POLICY=PASSIVE python bench/train_bench.py --models tiny,medium --repeats 2

Tokens/s counts real (non-pad) tokens of the epoch over the wall time of the training call
(model loading excluded, for every method). "eval" is the mean token loss of the trained adapter
on the first 32 samples, computed the same way for every method: the loss-curve check.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see shared PERF_NOTES
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "src" / "lorastudio" / "examples"
CACHE = Path(os.environ.get("LORASTUDIO_BENCH_CACHE", Path(tempfile.gettempdir()) / "lorastudio-bench"))

# The tokenizer is trained with a small vocabulary: trained at 8,000 on this small corpus, BPE
# memorises whole phrases (25 tokens per sample, not the ~135 a real tokenizer gives: SmolLM2's
# makes 20,945 tokens of the 155 samples, a 300-token BPE 20,607). The model's vocabulary is then
# padded to 8,000, so the output layer costs what a real 8k-vocab head costs.
TOKENIZER_VOCAB, MODEL_VOCAB = 300, 8000
LORA = dict(r=16, alpha=32, dropout=0.0, targets=["q_proj", "k_proj", "v_proj", "o_proj"])  # PEFT's default dropout, and ours
BEFORE_SRC = os.environ.get("LORASTUDIO_BEFORE_SRC")  # `src` of an older checkout, for the lorastudio-before methods
BATCH, ACCUM, MAX_LEN, LR, SEED = 2, 2, 512, 1e-4, 42
EVAL_SAMPLES = 32

MODELS = {
    # name: (how to get it, samples used: one epoch of them)
    "tiny": (dict(hidden=256, layers=4, heads=4, kv_heads=2), 155),
    "medium": (dict(hidden=768, layers=12, heads=12, kv_heads=6, intermediate=2048), 80),
    "smollm2": ("smollm2-135m", 80),
}
METHODS = {
    "trl-defaults": "TRL SFTTrainer, defaults (bf16 autocast + gradient checkpointing)",
    "trl-packing": "TRL SFTTrainer, packing=True (bfd, padding-free rows), fp32, no checkpointing",
    "trl-padfree": "TRL SFTTrainer, padding_free=True, fp32, no checkpointing",
    "hf-trainer": "transformers Trainer, pad-and-mask collator, fp32",
    "lorastudio": "lorastudio train(), automatic device choices",
    # ablations: what each change bought
    "lorastudio-fp32": "lorastudio train() with --dtype fp32 (isolates the bf16 choice)",
    "lorastudio-seed43": "lorastudio train() with seed 43: another sample order and LoRA init (the noise scale)",
    "lorastudio-fp32-seed43": "lorastudio train(), fp32, seed 43",
    "lorastudio-v0": "lorastudio train(), fp32, with the loop's forward as it was before the speed work "
                     "(attention mask passed, full-sequence logits and the model's own loss)",
    "lorastudio-before": "lorastudio train() from the checkout at $LORASTUDIO_BEFORE_SRC, with that version's default "
                         "LoRA dropout (0.05 until it became 0)",
    "lorastudio-before-nodrop": "the same older checkout without dropout: what the newer loss path alone bought",
    "lorastudio-b4x1": "lorastudio train() with micro-batch 4 x accumulation 1: the same 4 samples per optimizer "
                       "step in one forward (what joining a step's micro-batches would buy)",
}
DEFAULT_METHODS = ["trl-defaults", "trl-packing", "hf-trainer", "lorastudio"]


# ---- the parent: build models and data once, run each method in its own process ----------------

def example_texts() -> list[str]:
    texts = []
    for name in ("wukong_train.json", "general_replay.json"):
        for r in json.loads((EXAMPLES / name).read_text(encoding="utf-8")):
            texts.append(r["instruction"] + "\n" + r["output"])
    return texts + ["user assistant system\n"] * 20


def prepare_model(name: str) -> str:
    """A local folder (built in-process, random init) or the embedded model's name."""
    spec, _ = MODELS[name]
    if isinstance(spec, str):
        return clean_copy(spec, CACHE / f"{name}-model")
    folder = CACHE / f"{name}-model"
    if not (folder / "config.json").is_file():
        import torch
        from transformers import AutoModelForCausalLM

        from lorastudio.models.tiny import build_tiny_model

        build_tiny_model(folder, example_texts(), vocab_size=TOKENIZER_VOCAB, seed=0, **spec)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        torch.manual_seed(0)
        model.resize_token_embeddings(MODEL_VOCAB, mean_resizing=False)  # rows past the tokenizer: random init
        model.save_pretrained(folder, safe_serialization=True)
    return str(folder)


def clean_copy(spec: str, folder: Path) -> str:
    """The embedded model's converted folder, without the GGUF `quantization_config` its config
    keeps: with it, transformers' Trainer refuses to train ("quantized with GGUF"), though the
    weights are plain dequantised fp32. Every method loads this same copy."""
    import shutil

    from lorastudio.models import resolve_model

    if not (folder / "config.json").is_file():
        shutil.copytree(resolve_model(spec).path, folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        config.pop("quantization_config", None)
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return str(folder)


def prepare_data(name: str) -> str:
    _, n = MODELS[name]
    records = json.loads((EXAMPLES / "wukong_train.json").read_text(encoding="utf-8"))[:n]
    path = CACHE / f"wukong-{n}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return str(path)


def run_child(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ})
    except subprocess.TimeoutExpired:
        return {"method": spec["method"], "error": f"timed out after {timeout:.0f} s"}
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout)[-1500:]
        return {"method": spec["method"], "error": f"exit {p.returncode}: {tail}"}
    out = json.loads(lines[-1][len("RESULT "):])
    out["process_seconds"] = round(time.time() - t0, 1)
    return out


def summarise(model: str, runs: list[dict], methods: list[str], threads: int) -> str:
    by = {m: [r for r in runs if r["method"] == m and "error" not in r] for m in methods}
    med = {m: statistics.median(r["tokens_per_sec"] for r in rs) for m, rs in by.items() if rs}
    base = med.get("trl-defaults")
    cpu_med = {m: statistics.median(r["cpu_tokens_per_sec"] for r in rs if "cpu_tokens_per_sec" in r)
               for m, rs in by.items() if any("cpu_tokens_per_sec" in r for r in rs)}
    base_cpu = cpu_med.get("trl-defaults")
    ours = by.get("lorastudio") or []
    ours_curve = ours[0]["losses"] if ours else None
    lines = [f"\n### {model} ({threads} thread{'s' if threads > 1 else ''}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')})",
             "", "| method | real tok/s (runs) | tok per CPU-s | wall s | peak RSS MB | steps | final loss (last 5) | eval loss after | curve vs ours | x TRL defaults (wall; CPU-s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        rs = by.get(m)
        if not rs:
            err = next((r["error"] for r in runs if r["method"] == m), "not run")
            lines.append(f"| {m} | error: {err.splitlines()[-1][:120] if err else ''} ||||||||")
            continue
        tps = ", ".join(f"{r['tokens_per_sec']:.0f}" for r in rs)
        wall = statistics.median(r["wall"] for r in rs)
        rss = f"{max(r['peak_rss_mb'] for r in rs):.0f}"
        if "peak_gpu_mb" in rs[0]:  # on CUDA: peak RSS / peak GPU memory allocated
            rss += f" / GPU {max(r['peak_gpu_mb'] for r in rs):.0f}"
        last = rs[0]["losses"][-5:]
        curve = curve_gap(rs[0]["losses"], ours_curve) if ours_curve and m != "lorastudio" else ""
        ratio = f"{med[m] / base:.2f}x" if base else ""
        if base_cpu and m in cpu_med:
            ratio += f"; {cpu_med[m] / base_cpu:.2f}x"
        cpu = [r["cpu_tokens_per_sec"] for r in rs if "cpu_tokens_per_sec" in r]
        cpu_s = f"{statistics.median(cpu):.0f}" if cpu else ""
        lines.append(f"| {m} | **{med[m]:.0f}** ({tps}) | {cpu_s} | {wall:.1f} | {rss} | {rs[0]['steps']} | "
                     f"{sum(last) / len(last):.4f} | {rs[0]['eval_loss']:.4f} | {curve} | {ratio} |")
    if "lorastudio" in med:  # ours against every other method, from the same run
        lines.append("")
        for m in methods:
            if m != "lorastudio" and m in med:
                cpu = f", {cpu_med['lorastudio'] / cpu_med[m]:.2f}x by CPU time" if "lorastudio" in cpu_med and m in cpu_med else ""
                lines.append(f"- lorastudio / {m}: **{med['lorastudio'] / med[m]:.2f}x** tokens/s{cpu}")
    return "\n".join(lines)


def curve_gap(a: list[float], b: list[float]) -> str:
    """Mean absolute gap between two loss curves, averaged over windows of 5 steps (the sample
    order differs between methods, so single steps differ by which samples they hold)."""
    if len(a) != len(b):
        return f"({len(a)} steps)"
    w = 5
    wa = [sum(a[i:i + w]) / len(a[i:i + w]) for i in range(0, len(a), w)]
    wb = [sum(b[i:i + w]) / len(b[i:i + w]) for i in range(0, len(b), w)]
    return f"{sum(abs(x - y) for x, y in zip(wa, wb)) / len(wa):.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,medium,smollm2")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=f"from {', '.join(METHODS)}")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--samples", type=int, default=None, help="override the samples per model (one epoch of them)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--json", default=None, help="also write every run's result to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    CACHE.mkdir(parents=True, exist_ok=True)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        sys.exit(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    import torch

    from lorastudio.models import pick_device

    print(f"# torch {torch.__version__}, {os.cpu_count()} CPUs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}", flush=True)
    report, everything = [], []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        if args.samples:
            MODELS[model] = (MODELS[model][0], args.samples)
        path, data = prepare_model(model), prepare_data(model)
        n_params = count_params(path)
        threads = pick_device("auto", None, n_params).threads
        print(f"\n## {model}: {n_params / 1e6:.1f}M params, {MODELS[model][1]} samples, {threads} threads", flush=True)
        runs = []
        for rep in range(args.repeats):
            order = methods if rep % 2 == 0 else methods[::-1]  # alternate: neither side always goes first
            for m in order:
                spec = dict(method=m, model=path, data=data, threads=threads, model_name=model)
                r = run_child(spec, args.timeout)
                r["model_name"], r["repeat"] = model, rep
                runs.append(r)
                if "error" in r:
                    print(f"  {m:14s} ERROR {r['error'][-300:]}", flush=True)
                else:
                    print(f"  {m:14s} {r['tokens_per_sec']:8.0f} tok/s  wall {r['wall']:7.1f} s  rss {r['peak_rss_mb']:6.0f} MB  "
                          f"steps {r['steps']}  last {r['losses'][-1]:.4f}  eval {r['eval_loss']:.4f}", flush=True)
        table = summarise(model, runs, methods, threads) + "\n\n" + limit_line(runs, n_params, matmul_rates(threads), threads)
        print(table, flush=True)
        report.append(table)
        everything += runs
    print("\n".join(report))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1), encoding="utf-8")


def matmul_rates(threads: int, seconds: float = 1.5) -> dict[str, float]:
    """GFLOP per CPU-second of a 2048^3 matmul in fp32 and bf16 with the model's thread count:
    the ceiling a training step's matmuls can reach. Measured by CPU time (like the table's
    "tok per CPU-s") so that other processes on the machine cancel out of the ratio."""
    import torch

    torch.set_num_threads(threads)
    rates = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        a @ b
        c0, n = cpu_seconds(), 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a @ b
            n += 1
        rates[name] = 2 * 2048**3 * n / (cpu_seconds() - c0) / 1e9 * threads  # per CPU-s of `threads` cores
    return rates


def limit_line(runs: list[dict], n_params: int, rates: dict[str, float], threads: int) -> str:
    """Ours against the matmul ceiling: ~4 FLOPs per parameter per token (forward 2N plus
    input gradients 2N; frozen weights need no weight gradients)."""
    flop = 4 * n_params
    parts = [f"matmul ceiling ({threads} thread{'s' if threads > 1 else ''}, per {threads} CPU-s): fp32 {rates['fp32']:.0f} GFLOP/s "
             f"= {rates['fp32'] * 1e9 / flop:.0f} tok/s, bf16 {rates['bf16']:.0f} GFLOP/s = {rates['bf16'] * 1e9 / flop:.0f} tok/s"]
    import torch

    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    for m in ("lorastudio", "lorastudio-fp32"):
        cpu = [r["cpu_tokens_per_sec"] for r in runs if r["method"] == m and "cpu_tokens_per_sec" in r]
        if cpu:
            tps = statistics.median(cpu) * threads  # tok per CPU-s → tok/s on `threads` dedicated cores
            line = f"{m}: {tps:.0f} tok/s on {threads} dedicated cores = {100 * tps / (rates['fp32'] * 1e9 / flop):.0f}% of the fp32 ceiling"
            if native_bf16:  # emulated bf16 (AVX2 only) is no ceiling: it is 30-60x slower than fp32
                line += f", {100 * tps / (rates['bf16'] * 1e9 / flop):.0f}% of the bf16 one"
            parts.append(line)
    return "; ".join(parts)


def count_params(path: str) -> int:
    from lorastudio.models import resolve_model
    from lorastudio.training.setup import _meta_model

    return sum(p.numel() for p in _meta_model(resolve_model(path), False).parameters())


# ---- the child: one method, one process -----------------------------------------------------

def child(spec: dict) -> None:
    import torch

    torch.set_num_threads(spec["threads"])
    run = run_ours if spec["method"].startswith("lorastudio") else run_hf_trainer if spec["method"] == "hf-trainer" else run_trl
    result = run(spec)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    result["method"] = spec["method"]
    result["model_name"] = spec.get("model_name")
    with open(CACHE / "runs.jsonl", "a", encoding="utf-8") as f:  # every run kept, even if the parent dies
        f.write(json.dumps(result) + "\n")
    print("RESULT " + json.dumps(result), flush=True)


def load_samples(spec: dict):
    """Our tokenised samples (reply-only labels): every method trains on exactly these tokens."""
    from lorastudio.data.prepare import prepare
    from lorastudio.data.readers import load_dataset
    from lorastudio.models import load_tokenizer, resolve_model

    from lorastudio.config import make_config

    source = resolve_model(spec["model"])
    tok = load_tokenizer(source)
    config = make_config(model=spec["model"], data=spec["data"], output="unused", max_seq_len=MAX_LEN, auto=False,
                         holdout=0, doctor=False)  # what run_ours trains on: no recipe, no eval split, no replay
    samples = prepare(load_dataset(spec["data"]), tok, config).train
    return source, tok, samples


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: less sensitive than wall time to
    other processes on a shared machine (a thread waiting for a core is not counted)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def warmup_steps(n_samples: int) -> int:
    steps = math.ceil(math.ceil(n_samples / BATCH) / ACCUM)
    return math.ceil(0.03 * steps)  # the same as our config's warmup_ratio 0.03


def eval_loss(model, samples, pad_id: int) -> float:
    """Mean token loss over the first EVAL_SAMPLES samples, the same code for every method."""
    from lorastudio.training.batching import collate, count_targets

    model.eval()
    total = count = 0
    with torch_no_grad():
        for i in range(0, min(EVAL_SAMPLES, len(samples)), 4):
            batch = {k: v.to(model.device) for k, v in collate(samples[i:i + 4], pad_id).items()}
            n = count_targets(batch)
            total += float(model(**batch, num_items_in_batch=n, use_cache=False).loss.float()) * n
            count += n
    return total / count


def torch_no_grad():
    import torch

    return torch.no_grad()


def run_ours(spec: dict) -> dict:
    if spec["method"].startswith("lorastudio-before"):
        if not BEFORE_SRC:
            raise SystemExit("set LORASTUDIO_BEFORE_SRC to the src folder of the older checkout (git worktree add ...)")
        sys.path.insert(0, BEFORE_SRC)  # before lorastudio is first imported in this child
    from lorastudio.config import make_config
    from lorastudio.training.loop import train
    from lorastudio.training.setup import plan_run

    out = tempfile.mkdtemp(prefix="bench-ours-")
    if spec["method"] == "lorastudio-v0":
        from lorastudio.training import loop

        def model_loss(model, batch):  # the forward before the speed work: sum of token losses
            return model(**batch, num_items_in_batch=1, use_cache=False).loss

        loop.trained_token_loss = model_loss
    dtype = "fp32" if spec["method"] in ("lorastudio-fp32", "lorastudio-v0", "lorastudio-fp32-seed43") else "auto"
    batch, accum = (BATCH * ACCUM, 1) if spec["method"] == "lorastudio-b4x1" else (BATCH, ACCUM)
    config = make_config(dtype=dtype, model=spec["model"], data=spec["data"], output=out, epochs=1, batch_size=batch, grad_accum=accum,
                         lr=LR, max_seq_len=MAX_LEN, lora_r=LORA["r"], lora_alpha=LORA["alpha"],
                         lora_dropout=0.05 if spec["method"] == "lorastudio-before" else LORA["dropout"],
                         target_modules=LORA["targets"],
                         seed=SEED + 1 if spec["method"].endswith("-seed43") else SEED, threads=spec["threads"], doctor=False,
                         auto=False, holdout=0)  # the same work as the peers: no recipe, no replay, no held-out prompts
    setup = plan_run(config)
    losses, tokens = [], []

    def on_event(e):
        if e["type"] == "step":
            losses.append(e["loss"])
            tokens.append(e["tokens"])

    t0, c0 = time.perf_counter(), cpu_seconds()
    train(config, force=True, setup=setup, on_event=on_event)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    samples = setup.prepared.train
    n_tokens = sum(s.n_tokens for s in samples)
    assert sum(tokens) == n_tokens, (sum(tokens), n_tokens)
    return {"wall": wall, "tokens": n_tokens, "tokens_per_sec": n_tokens / wall, "cpu_tokens_per_sec": n_tokens / cpu, "steps": len(losses), "losses": losses,
            "eval_loss": eval_loss(setup.model, samples, setup.tokenizer.pad_token_id),
            "dtype": str(setup.device.dtype), "threads": setup.device.threads,
            "code": str(Path(train.__code__.co_filename).parents[2])}  # which checkout's src ran


class _Losses:
    """A TrainerCallback collecting the logged per-step loss."""

    def __new__(cls):
        from transformers import TrainerCallback

        class C(TrainerCallback):
            def __init__(self):
                self.losses = []

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs:
                    self.losses.append(float(logs["loss"]))

        return C()


def common_args(n_samples: int, out: str) -> dict:
    import torch

    return dict(output_dir=out, per_device_train_batch_size=BATCH, gradient_accumulation_steps=ACCUM, learning_rate=LR,
                lr_scheduler_type="cosine", warmup_steps=warmup_steps(n_samples), weight_decay=0.0, max_grad_norm=1.0,
                num_train_epochs=1, logging_steps=1, save_strategy="no", report_to="none", seed=SEED, use_cpu=not torch.cuda.is_available(),
                disable_tqdm=True, dataloader_num_workers=0)


def run_trl(spec: dict) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    source, tok, samples = load_samples(spec)
    data = Dataset.from_list([{"input_ids": s.input_ids, "labels": s.labels} for s in samples])
    model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32)
    extra = {
        "trl-defaults": {},  # bf16 autocast and gradient checkpointing: SFTConfig's defaults
        "trl-packing": dict(packing=True, bf16=False, gradient_checkpointing=False),
        "trl-padfree": dict(padding_free=True, max_length=None, bf16=False, gradient_checkpointing=False),
    }[spec["method"]]
    args = SFTConfig(**common_args(len(samples), tempfile.mkdtemp(prefix="bench-trl-")),
                     **{"max_length": MAX_LEN, **extra})
    peft_config = LoraConfig(task_type="CAUSAL_LM", r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                             target_modules=LORA["targets"])
    cb = _Losses()
    torch.manual_seed(SEED)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok, peft_config=peft_config,
                         callbacks=[cb])
    t0, c0 = time.perf_counter(), cpu_seconds()
    trainer.train()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n_tokens = sum(s.n_tokens for s in samples)
    model = trainer.model
    if getattr(model, "is_gradient_checkpointing", False):
        model.gradient_checkpointing_disable()
    return {"wall": wall, "tokens": n_tokens, "tokens_per_sec": n_tokens / wall, "cpu_tokens_per_sec": n_tokens / cpu, "steps": trainer.state.global_step,
            "losses": cb.losses, "eval_loss": eval_loss(model, samples, tok.pad_token_id),
            "bf16": bool(args.bf16), "gradient_checkpointing": bool(args.gradient_checkpointing)}


def run_hf_trainer(spec: dict) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from lorastudio.models import apply_lora
    from lorastudio.training.batching import collate

    source, tok, samples = load_samples(spec)
    model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32)
    if torch.cuda.is_available():
        model = model.to("cuda")  # the Trainer would move it; LoRA goes on after, on the same device
    torch.manual_seed(SEED)
    model = apply_lora(model, LORA["r"], LORA["alpha"], LORA["dropout"], LORA["targets"])

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            return samples[i]

    pad = tok.pad_token_id
    cb = _Losses()
    args = TrainingArguments(**common_args(len(samples), tempfile.mkdtemp(prefix="bench-hf-")), remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=Rows(), data_collator=lambda rows: collate(rows, pad),
                      callbacks=[cb])
    t0, c0 = time.perf_counter(), cpu_seconds()
    trainer.train()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n_tokens = sum(s.n_tokens for s in samples)
    return {"wall": wall, "tokens": n_tokens, "tokens_per_sec": n_tokens / wall, "cpu_tokens_per_sec": n_tokens / cpu, "steps": trainer.state.global_step,
            "losses": cb.losses, "eval_loss": eval_loss(model, samples, pad)}


if __name__ == "__main__":
    main()
