"""`lorastudio demo`: the whole loop on the embedded model and the bundled 孙悟空 persona.

Plan → train (the persona recipe: 5 epochs, batch 2 x accumulation 2, lr 1e-4, r 16,
alpha 32, max length 512) → doctor → base versus adapter answers, most of them to held-out
prompts the adapter never saw.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

from rich.markup import escape

from .console import console, side_by_side
from .models import DEFAULT_MODEL, studio_home

MARKERS = ["俺老孙", "嘿嘿", "呔"]
TRAINED_PROMPTS = 2  # answers to prompts from the training data, to show memorisation too
HELDOUT_PROMPTS = 5
EMBEDDED_PARAMS = 134_515_008  # SmolLM2-135M, counted from its GGUF's tensor shapes


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
    from .console import TrainingProgress, print_doctor
    from .serving.engine import ChatEngine, GenerationConfig

    output = output or studio_home() / "runs" / f"demo-wukong-{time.strftime('%Y%m%d-%H%M%S')}"
    console.print(f"[bold]LoRA Studio demo[/bold]: a 孙悟空 persona on {model}, run folder {output}")
    hint = chinese_model_hint() if model == DEFAULT_MODEL else None
    if hint:
        console.print(f"[cyan]{escape(hint)}[/cyan]")
    console.print("loading the model (a GGUF is converted once and cached) ...")
    cfg = api.build_config(**demo_config(output, epochs, model))
    progress = TrainingProgress()

    def on_event(e: dict) -> None:
        print_doctor(e["report"]) if e["type"] == "doctor" else progress(e)

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
    if hint:
        console.print(f"[cyan]{escape(hint)}[/cyan]")
    return output


def chinese_model_hint() -> str | None:
    """A line naming the smallest Qwen2.5/Qwen3 instruct model (up to ~3B) found on this machine,
    and the demo command for it, or None. The embedded SmolLM2 stays the default, so that the
    demo runs everywhere; it barely speaks Chinese, which a persona like 孙悟空 needs."""
    from .console import human_count
    from .models.discovery import chinese_chat_models, find_models

    found, _ = find_models(("ollama", "hf", "modelscope", "lmstudio"))
    picks = chinese_chat_models(found)
    if not picks:
        return None
    best = picks[0]
    times = best.n_params / EMBEDDED_PARAMS
    cost = f" ({times:.0f}x the parameters, so about {times:.0f}x the training time)" if times >= 1.5 else ""
    return (f"found {best.name} ({best.source}, {human_count(best.n_params)} parameters) on this machine; it speaks "
            f"Chinese, which the embedded SmolLM2 barely does. The demo on it: lorastudio demo --model {best.spec}{cost}")
