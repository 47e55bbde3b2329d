"""Serving overhead: adapter switches, ChatEngine.generate against plain model.generate, first token.

On one loaded base model with two LoRA adapters (r16 on q,k,v,o, non-zero B so they change
the output), measured in one process, alternating:
  - switch: `engine.activate(name)` (what the API does when a chat names another adapter) and
    entering `engine.using(name)` (PEFT's set_adapter, what each generation does), alternating
    between the two adapters so every call really switches; target < 50 ms;
  - generation tokens/s of `engine.generate` against `model.generate` on the same PEFT model,
    adapter, prompt ids and greedy settings (so both produce the same tokens); target within 5%;
  - time to first token of `engine.stream` (first non-empty text piece).

    OMP_WAIT_POLICY=PASSIVE python bench/serve_bench.py --models tiny,smollm2
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see shared PERF_NOTES
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_bench import CACHE, LORA, cpu_seconds, prepare_model  # noqa: E402

PROMPTS = [
    [{"role": "user", "content": "你是谁？请介绍一下你自己。"}],
    [{"role": "user", "content": "Tell me about the Monkey King's journey to the west."}],
]


def make_adapters(model_path: str, folder: Path, names=("a", "b")) -> list[Path]:
    """Random LoRA adapters (B non-zero) saved as normal adapter folders."""
    import torch

    from lorastudio.models import apply_lora, load_model, resolve_model

    paths = []
    for i, name in enumerate(names):
        path = folder / name
        if not (path / "adapter_model.safetensors").is_file():
            base = load_model(resolve_model(model_path))
            torch.manual_seed(100 + i)
            peft_model = apply_lora(base, LORA["r"], LORA["alpha"], 0.0, LORA["targets"], init_identity=False)
            peft_model.save_pretrained(path, safe_serialization=True)
        paths.append(path)
    return paths


def bench_model(name: str, new_tokens: int, repeats: int) -> list[str]:
    import torch

    from lorastudio.serving.engine import ChatEngine, GenerationConfig

    path = prepare_model(name)
    adapters = make_adapters(path, CACHE / f"{name}-adapters")
    engine = ChatEngine.load(path)
    torch.set_num_threads(os.cpu_count() or 1)
    for i, a in enumerate(adapters):
        engine.add_adapter("ab"[i], a)
    rows = []

    # ---- switching ------------------------------------------------------------------------
    activate, enter = [], []
    for i in range(200):
        name_ = "ab"[i % 2]
        t = time.perf_counter()
        engine.activate(name_)
        activate.append(time.perf_counter() - t)
        t = time.perf_counter()
        with engine.using(name_):
            pass
        enter.append(time.perf_counter() - t)
    rows.append(f"| {name} | switch: activate() | median {statistics.median(activate) * 1e3:.3f} ms, max {max(activate) * 1e3:.3f} ms | < 50 ms |")
    rows.append(f"| {name} | switch: using() → set_adapter | median {statistics.median(enter) * 1e3:.3f} ms, max {max(enter) * 1e3:.3f} ms | < 50 ms |")

    # ---- generation: engine against plain generate on the same PEFT model ------------------
    cfg = GenerationConfig(max_new_tokens=new_tokens)
    kw = engine._generate_kwargs(cfg)
    ours, plain, agree = [], [], True
    for rep in range(repeats):
        for prompt in PROMPTS:
            for side in (("ours", "plain") if rep % 2 == 0 else ("plain", "ours")):
                c0 = cpu_seconds()
                if side == "ours":
                    g = engine.generate(prompt, adapter="a", config=cfg)
                    ours.append((g.n_tokens, g.seconds, cpu_seconds() - c0))
                    ours_text = g.text
                else:
                    ids = engine.encode(prompt, "a")
                    engine.model.set_adapter("a")
                    t = time.perf_counter()
                    with torch.inference_mode():
                        out = engine.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
                    seconds = time.perf_counter() - t
                    new = out[0, ids.shape[1]:].tolist()
                    plain.append((len(new), seconds, cpu_seconds() - c0))
                    plain_text = engine.tokenizer.decode(new, skip_special_tokens=True).strip()
            agree &= ours_text == plain_text
    n_tokens = sum(x[0] for x in ours)
    tps_ours, tps_plain = n_tokens / sum(x[1] for x in ours), sum(x[0] for x in plain) / sum(x[1] for x in plain)
    cpu_ours, cpu_plain = n_tokens / sum(x[2] for x in ours), sum(x[0] for x in plain) / sum(x[2] for x in plain)
    rows.append(f"| {name} | generate tok/s: ChatEngine vs model.generate | wall {tps_ours:.1f} vs {tps_plain:.1f} "
                f"({tps_ours / tps_plain:.3f}x); per CPU-s {cpu_ours:.1f} vs {cpu_plain:.1f} ({cpu_ours / cpu_plain:.3f}x); "
                f"{n_tokens} tokens each; same text: {agree} | within 5% |")

    # ---- time to first token -------------------------------------------------------------
    ttft = []
    for rep in range(repeats):
        for prompt in PROMPTS:
            t = time.perf_counter()
            stream = engine.stream(prompt, adapter="b", config=GenerationConfig(max_new_tokens=8))
            next(stream, None)  # the first text piece (a random model's first bytes may decode to "")
            ttft.append(time.perf_counter() - t)
            for _ in stream:  # let the generation finish before the next one
                pass
    rows.append(f"| {name} | stream: time to first token | median {statistics.median(ttft) * 1e3:.1f} ms "
                f"(prompt {engine.encode(PROMPTS[0], 'b').shape[1]}-{engine.encode(PROMPTS[1], 'b').shape[1]} tokens) | reported |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,smollm2")
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    CACHE.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(CACHE)
    print(f"# torch {torch.__version__}, {os.cpu_count()} CPUs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print("\n| model | measure | result | goal |\n|---|---|---|---|")
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        for row in bench_model(name, args.new_tokens, args.repeats):
            print(row, flush=True)


if __name__ == "__main__":
    main()
