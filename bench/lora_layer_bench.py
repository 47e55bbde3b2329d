"""PEFT's LoRA linear layer against ours (models/fused_lora.py), on the same model and batch.

One process, one model: the layers are switched between PEFT's forward and the fused one
between steps, alternating the order every round, so a machine that slows down or speeds up
hits both alike. A step is forward + backward of the training loss on one micro-batch (random
tokens, the first 50 of each row not trained, as a prompt). Prints each side's median wall and
CPU seconds and their ratio. Peak memory needs one process per side: `--only peft|fused`.

    OMP_WAIT_POLICY=PASSIVE python bench/lora_layer_bench.py --targets all --rounds 8
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see shared PERF_NOTES

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from lorastudio.models import apply_lora, load_model, resolve_model  # noqa: E402
from lorastudio.models.fused_lora import fuse_lora_layers, unfuse_lora_layers  # noqa: E402
from lorastudio.training.loss import trained_token_loss  # noqa: E402

TARGETS = {"qkvo": ["q_proj", "k_proj", "v_proj", "o_proj"],
           "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--targets", choices=sorted(TARGETS), default="all")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=186)  # the demo's longest micro-batch: 4 x 186
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--only", choices=["peft", "fused"], help="one side only, for its peak RSS")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = apply_lora(load_model(resolve_model(args.model)), 16, 32, 0.0, TARGETS[args.targets], init_identity=False)
    model.train()
    ids = torch.randint(0, model.config.vocab_size, (args.rows, args.tokens))
    labels = ids.clone()
    labels[:, :50] = -100
    batch = {"input_ids": ids, "labels": labels}

    def step() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        trained_token_loss(model, batch).backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - wall, time.process_time() - cpu

    sides = [args.only] if args.only else ["peft", "fused"]
    times: dict[str, list[tuple[float, float]]] = {s: [] for s in sides}
    step()  # warm-up
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            (unfuse_lora_layers if side == "peft" else fuse_lora_layers)(model)
            times[side].append(step())
    print(f"# {args.model}, LoRA r16 on {args.targets}, {args.rows} x {args.tokens} tokens, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load {os.getloadavg()[0]:.2f}")
    for side, t in times.items():
        print(f"{side:6s} median {statistics.median(w for w, _ in t):.3f} s wall, "
              f"{statistics.median(c for _, c in t):.3f} s CPU over {len(t)} steps")
    if len(sides) == 2:
        ratio = [statistics.median(x[i] for x in times["peft"]) / statistics.median(x[i] for x in times["fused"]) for i in (0, 1)]
        print(f"fused / PEFT: {ratio[0]:.3f}x by wall time, {ratio[1]:.3f}x by CPU time")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
