"""`lorastudio demo`: the whole loop on the embedded model and the bundled 孙悟空 persona.

Plan → train (the seed report's recipe: 5 epochs, batch 2 x accumulation 2, lr 1e-4, r 16,
alpha 32, max length 512) → doctor → base versus adapter answers, most of them to held-out
prompts the adapter never saw.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from .console import console, side_by_side
from .models import studio_home

MARKERS = ["俺老孙", "嘿嘿", "呔"]
TRAINED_PROMPTS = 2  # answers to prompts from the training data, to show memorisation too
HELDOUT_PROMPTS = 5


def example_path(name: str) -> Path:
    return Path(str(resources.files("lorastudio") / "examples" / name))


def demo_config(output: Path, epochs: int, model: str) -> dict:
    return dict(
        model=model, data=str(example_path("wukong_train.json")), output=str(output),
        probes=str(example_path("wukong_probes.jsonl")), markers=MARKERS,
        epochs=epochs, batch_size=2, grad_accum=2, lr=1e-4, lora_r=16, lora_alpha=32, max_seq_len=512,
        auto=False,  # the demo's recipe exactly, not the one `train` would pick for this data
    )


def _probe_prompts(n: int) -> list[str]:
    lines = example_path("wukong_probes.jsonl").read_text(encoding="utf-8").splitlines()
    probes = [json.loads(x) for x in lines if x.strip()]
    with_facts = [p["prompt"] for p in probes if p.get("expect_any")]
    return with_facts[:: max(1, len(with_facts) // n)][:n]


def run_demo(output: Path | None = None, epochs: int = 5, model: str = "smollm2-135m") -> Path:
    from . import api
    from .cli import _print_doctor
    from .console import TrainingProgress
    from .serving.engine import ChatEngine, GenerationConfig

    output = output or studio_home() / "runs" / f"demo-wukong-{time.strftime('%Y%m%d-%H%M%S')}"
    console.print(f"[bold]LoRA Studio demo[/bold]: a 孙悟空 persona on {model}, run folder {output}")
    console.print("loading the model (the embedded GGUF is converted once and cached) ...")
    cfg = api.build_config(**demo_config(output, epochs, model))
    progress = TrainingProgress()

    def on_event(e: dict) -> None:
        _print_doctor(e["report"]) if e["type"] == "doctor" else progress(e)

    result = api.train(cfg, on_event=on_event)
    progress.close()
    console.print(f"loss {result.first_loss:.3f} → {result.last_loss:.3f} over {result.steps} steps "
                  f"in {result.seconds / 60:.1f} min")

    engine = ChatEngine.load(model)
    engine.add_adapter("wukong", output)
    train_records = json.loads(example_path("wukong_train.json").read_text(encoding="utf-8"))
    prompts = [r["instruction"] for r in train_records[:TRAINED_PROMPTS]] + _probe_prompts(HELDOUT_PROMPTS)
    gen = GenerationConfig(max_new_tokens=80)
    rows = []
    for i, prompt in enumerate(prompts):
        msgs = [{"role": "user", "content": prompt}]
        tag = "trained" if i < TRAINED_PROMPTS else "held out"
        rows.append((f"{prompt}\n({tag})", engine.generate(msgs, "base", gen).text, engine.generate(msgs, "wukong", gen).text))
    side_by_side(rows, "base model", "with the adapter")
    console.print(f"chat with it: lorastudio chat --adapter {output}")
    return output
