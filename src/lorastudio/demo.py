"""`lorastudio demo`: the whole loop on the embedded model and the bundled 孙悟空 persona.

Plan → train (the demo's recipe: one pass over the 155 samples at 4x the usual learning rate, see
demo_config) → doctor → base versus adapter answers to held-out prompts the adapter never saw,
taken from the doctor's own measurement (no second model is loaded, nothing is decoded twice).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.markup import escape

from .console import console, side_by_side
from .models import DEFAULT_MODEL, studio_home

MARKERS = ["俺老孙", "嘿嘿", "呔"]
SHOWN_ANSWERS = 6  # held-out answers printed side by side after the doctor
DOCTOR_TOKENS = 32  # answer length the doctor decodes: the persona's voice shows in its first words
EMBEDDED_PARAMS = 134_515_008  # SmolLM2-135M, counted from its GGUF's tensor shapes


def example_path(name: str) -> Path:
    return Path(str(resources.files("lorastudio") / "examples" / name))


def demo_config(output: Path, epochs: int, model: str) -> dict:
    """The demo's recipe: fewer but larger steps. One epoch of 39 steps (batch 2 x accumulation 2)
    at lr 4e-4 moves LoRA's B as far as ~160 steps at the usual 1e-4 (the step minimum scales with
    the rate, thresholds.steps_needed), all linear layers adapted so each step teaches more, no
    dropout (PEFT's default; on CPU its random masks cost a tenth of a step)."""
    return dict(
        model=model, data=str(example_path("wukong_train.json")), output=str(output),
        probes=str(example_path("wukong_probes.jsonl")), markers=MARKERS,
        epochs=epochs, batch_size=2, grad_accum=2, lr=4e-4, lora_r=16, lora_alpha=32, lora_dropout=0.0,
        target_modules="all-linear", max_seq_len=512, doctor=False,
        auto=False,  # the demo's recipe exactly, not the one `train` would pick for this data
    )


def run_demo(output: Path | None = None, epochs: int = 1, model: str = "smollm2-135m") -> Path:
    from . import api
    from .console import TrainingProgress, print_doctor

    output = output or studio_home() / "runs" / f"demo-wukong-{time.strftime('%Y%m%d-%H%M%S')}"
    console.print(f"[bold]LoRA Studio demo[/bold]: a 孙悟空 persona on {model}, run folder {output}")
    hint = chinese_model_hint() if model == DEFAULT_MODEL else None
    if hint:
        console.print(f"[cyan]{escape(hint)}[/cyan]")
    console.print("loading the model (a GGUF is converted once and cached) ...")
    cfg = api.build_config(**demo_config(output, epochs, model))
    progress = TrainingProgress()
    result = api.train(cfg, on_event=progress)
    progress.close()
    console.print(f"loss {result.first_loss:.3f} → {result.last_loss:.3f} over {result.steps} steps "
                  f"in {result.seconds / 60:.1f} min")
    console.print("the doctor: base and adapter on held-out prompts, general questions, the chat path ...")
    report = api.doctor(output, max_new_tokens=DOCTOR_TOKENS).to_dict()
    print_doctor(report)
    side_by_side(shown_answers(report), "base model", "with the adapter")
    console.print(f"chat with it: lorastudio chat --adapter {output}")
    if hint:
        console.print(f"[cyan]{escape(hint)}[/cyan]")
    return output


def shown_answers(report: dict, n: int = SHOWN_ANSWERS) -> list[tuple[str, str, str]]:
    """(prompt, base answer, adapter answer) for n of the doctor's held-out probes, spread over the
    list, those with expected facts first."""
    from .diagnosis.effect import spread

    rows = (report.get("effect") or {}).get("generations") or []
    facts = spread([r for r in rows if r.get("expect_any")], n)
    rest = n - len(facts)
    picked = facts + (spread([r for r in rows if not r.get("expect_any")], rest) if rest > 0 else [])
    return [(f"{r['prompt']}\n(held out)", r["base"], r["adapter"]) for r in picked]


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
