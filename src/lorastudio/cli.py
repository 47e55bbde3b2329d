"""The `lorastudio` command: a table of verbs over the Python API. Parses, calls, prints.

A user's mistake (StudioError) prints one message with its fix and exits 2; no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting threads starve on shared CPUs
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer  # noqa: E402

from .errors import PlanRefused, StudioError  # noqa: E402

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="LoRA Studio: fine-tune a chat model with LoRA, and prove the adapter works.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and grow datasets.")
app.add_typer(data_app, name="data")

Opt = typer.Option


def _dump(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


# ---- data -------------------------------------------------------------------------------------
@data_app.command("inspect")
def data_inspect(
    file: Annotated[Path, typer.Argument(help="Alpaca, ShareGPT or OpenAI-messages file (.json/.jsonl)")],
    model: Annotated[Optional[str], Opt(help="count tokens with this model's tokenizer and chat template")] = None,
    max_seq_len: Annotated[int, Opt(help="report samples longer than this")] = 512,
    var: Annotated[Optional[list[str]], Opt("--var", help="fill {{NAME}} placeholders: --var name=小助手")] = None,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
):
    """Format, counts, token lengths (p50/p95/max), duplicates, truncation, tool calls, placeholders
    and keys not read of a dataset."""
    from .config import make_config
    from .data.readers import load_dataset
    from .data.stats import format_inspect_report, inspect_dataset

    variables = make_config(data="-", output="-", vars=var).vars if var else None
    ds = load_dataset(file, variables)
    tok = None
    if model:
        from .models import load_tokenizer, resolve_model

        tok = load_tokenizer(resolve_model(model))
    stats = inspect_dataset(ds, tok, max_seq_len if model else None)
    _dump(stats) if as_json else print(format_inspect_report(stats))


@data_app.command("expand")
def data_expand(
    file: Annotated[Path, typer.Argument(help="seed dataset")],
    output: Annotated[Path, Opt("-o", "--output", help="where to write the expanded dataset")],
    target: Annotated[int, Opt(min=1, help="samples to reach")] = 150,
    method: Annotated[str, Opt(help="templates (offline) or model")] = "templates",
    model: Annotated[Optional[str], Opt(help="local model for --method model")] = None,
    endpoint: Annotated[Optional[str], Opt(help="OpenAI-compatible endpoint for --method model")] = None,
    markers: Annotated[Optional[str], Opt(help="comma-separated style markers every answer must keep")] = None,
    holdout: Annotated[int, Opt(min=0, help="paraphrased probes to keep out of training")] = 0,
    seed: Annotated[int, Opt(min=0)] = 0,
    overwrite: Annotated[bool, Opt(help="replace the output (and its probes file) when it exists")] = False,
    keep_out: Annotated[Optional[Path], Opt(help="probes file (JSONL with prompt) held out already: "
                                                  "no sample close to one of its prompts is kept")] = None,
):
    """Grow a small dataset with paraphrases (templates or a model), de-duplicate, hold out probes."""
    from . import api
    from .data.expand_report import format_expand_report

    report = api.expand(file, output, target=target, method=method, model=model, endpoint=endpoint,
                        markers=_split(markers), holdout=holdout, seed=seed, overwrite=overwrite, keep_out=keep_out)
    print(format_expand_report(report))


def _split(value: str | None) -> list[str] | None:
    from .config import split_list  # imported here: pydantic is not needed for --help

    return split_list(value)


# ---- plan and train ---------------------------------------------------------------------------
def _train_command(
    ctx: typer.Context,
    model: Annotated[Optional[str], Opt(help="smollm2-135m (embedded), a local folder, a .gguf file, a hub id, or "
                                             "ollama:NAME, hf:ORG/NAME, modelscope:ORG/NAME, lmstudio:NAME (see `lorastudio models`)")] = None,
    data: Annotated[Optional[str], Opt(help="training data (.json/.jsonl): Alpaca, ShareGPT (tool calls too) or messages")] = None,
    output: Annotated[Optional[str], Opt("--output", "-o", help="run folder")] = None,
    config: Annotated[Optional[Path], Opt(help="JSON/YAML file of options (seed-report key names accepted)")] = None,
    epochs: Annotated[Optional[int], Opt(help="passes over the data (default: enough for 150 steps, at most 10)")] = None,
    batch_size: Annotated[Optional[int], Opt(help="samples per micro-batch")] = None,
    grad_accum: Annotated[Optional[int], Opt(help="micro-batches per optimizer step")] = None,
    lr: Annotated[Optional[float], Opt(help="peak learning rate (default: from the model's size and alpha/r)")] = None,
    warmup_steps: Annotated[Optional[int], Opt()] = None,
    warmup_ratio: Annotated[Optional[float], Opt()] = None,
    max_seq_len: Annotated[Optional[int], Opt(help="tokens per sample; longer ones are cut and counted "
                                                   "(default: from the data, capped by the model's context)")] = None,
    long_samples: Annotated[Optional[str], Opt(help="samples longer than --max-seq-len: truncate or drop")] = None,
    drop_duplicates: Annotated[Optional[bool], Opt("--drop-duplicates", help="leave exact repeats out")] = None,
    lora_r: Annotated[Optional[int], Opt()] = None,
    lora_alpha: Annotated[Optional[float], Opt()] = None,
    lora_dropout: Annotated[Optional[float], Opt()] = None,
    target_modules: Annotated[Optional[str], Opt(help="comma-separated module names, or all-linear (the default)")] = None,
    eval_data: Annotated[Optional[str], Opt(help="held-out data for eval loss")] = None,
    eval_split: Annotated[Optional[float], Opt(help="share of the data held out for eval loss")] = None,
    probes: Annotated[Optional[str], Opt(help="held-out prompts the doctor checks after training")] = None,
    markers: Annotated[Optional[str], Opt(help="comma-separated style markers the doctor counts "
                                               "(default: found in your answers after training)")] = None,
    holdout: Annotated[Optional[int], Opt(min=0, max=256, help="without --probes: training questions reworded "
                                          "and held out for the doctor (default 16; 0: none)")] = None,
    var: Annotated[Optional[list[str]], Opt("--var", help="fill {{NAME}} placeholders in the data: --var name=小助手 "
                                            "(repeat for each)")] = None,
    chat_template: Annotated[Optional[str], Opt(help="train with this chat template instead of the model's: "
                                                "qwen2.5 (renders tool calls) or a .jinja file")] = None,
    expand_to: Annotated[Optional[int], Opt(min=1, max=100000, help="grow the data to N samples with reworded "
                                            "questions before training")] = None,
    mix_general: Annotated[Optional[float], Opt(help="general replay samples per task sample mixed in (0.2 adds 20 per 100)")] = None,
    general_data: Annotated[Optional[str], Opt(help="your own general replay file (default: the bundled 40 samples)")] = None,
    seed: Annotated[Optional[int], Opt()] = None,
    save_steps: Annotated[Optional[int], Opt(help="checkpoint every N steps (0: each epoch)")] = None,
    threads: Annotated[Optional[int], Opt(help="CPU threads (default: 1 for tiny models, all cores otherwise)")] = None,
    dtype: Annotated[Optional[str], Opt(help="auto, fp32, bf16 or fp16")] = None,
    trust_remote_code: Annotated[Optional[bool], Opt("--trust-remote-code", help="run the model repo's own code")] = None,
    no_doctor: Annotated[bool, Opt("--no-doctor", help="skip the doctor after training")] = False,
    no_auto: Annotated[bool, Opt("--no-auto", help="options left out keep fixed defaults (3 epochs, lr 1e-4, "
                                 "attention only, 512 tokens, no replay) instead of the recipe for this data")] = False,
    apply_fixes: Annotated[bool, Opt("--apply-fixes", help="apply every finding's fix (the plan shows them) "
                                     "and plan again before training")] = False,
    resume: Annotated[bool, Opt(help="continue from the run folder's latest checkpoint")] = False,
    force: Annotated[bool, Opt(help="train despite error-level findings of the plan")] = False,
    nproc: Annotated[int, Opt(min=1, max=1024, help="data-parallel processes (torchrun; NCCL on GPUs, gloo on CPU)")] = 1,
    quantize: Annotated[Optional[str], Opt(help="none, 4bit (QLoRA: NF4, double quantisation, bitsandbytes) or 8bit")] = None,
    gradient_checkpointing: Annotated[Optional[bool], Opt("--gradient-checkpointing/--no-gradient-checkpointing",
                                                          help="recompute activations in backward (default: on when the memory plan needs it)")] = None,
    gpu_memory: Annotated[Optional[str], Opt(help="plan for a GPU of this size, e.g. 8GB or 24GB (default: the detected GPU)")] = None,
    fsdp: Annotated[Optional[bool], Opt("--fsdp", help="with --nproc N: shard the base weights over the GPUs (FSDP2)")] = None,
    as_json: Annotated[bool, Opt("--json", help="plan: print the plan and findings as JSON")] = False,
):
    from .config import build_config

    options = dict(
        model=model, data=data, output=output, epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, lr=lr,
        warmup_steps=warmup_steps, warmup_ratio=warmup_ratio, max_seq_len=max_seq_len, lora_r=lora_r,
        lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=target_modules, eval_data=eval_data,
        eval_split=eval_split, probes=probes, markers=markers, mix_general=mix_general, general_data=general_data, seed=seed, save_steps=save_steps, threads=threads,
        dtype=dtype, trust_remote_code=trust_remote_code, doctor=False if no_doctor else None,
        long_samples=long_samples, drop_duplicates=drop_duplicates, holdout=holdout, vars=var or None,
        chat_template=chat_template, expand_to=expand_to, auto=False if no_auto else None,
        quantize=quantize, gradient_checkpointing=gradient_checkpointing, gpu_memory=gpu_memory, fsdp=fsdp,
    )
    if ctx.info_name == "plan" and not output:
        options["output"] = "(plan only)"
    cfg = build_config(config, **options)  # a bad option is refused before torch is imported
    _check_data_early(cfg)
    if ctx.info_name == "plan":
        return _plan(cfg, as_json, nproc, apply_fixes)
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from .training.distributed import launch

        argv = sys.argv[1:]
        i = next(k for k, a in enumerate(argv) if a == "--nproc" or a.startswith("--nproc="))
        del argv[i : i + (1 if "=" in argv[i] else 2)]
        raise typer.Exit(launch(nproc, argv))
    return _train(cfg, resume, force, apply_fixes)


def _check_data_early(cfg) -> None:
    """Read the data files before torch and the model load (seconds): a missing file or a broken
    record is reported at once. The plan reads them again; parsing JSON is cheap beside that."""
    from .data.readers import load_dataset

    if not cfg.expand_to:
        load_dataset(cfg.data, cfg.vars)
    if cfg.eval_data:
        load_dataset(cfg.eval_data, cfg.vars)


def _plan(cfg, as_json: bool, nproc: int = 1, apply_fixes: bool = False) -> None:
    from . import api
    from .console import print_applied, print_auto, print_findings, print_memory, print_plan

    setup = api.plan(cfg, world_size=nproc, apply_fixes=apply_fixes)
    findings = [f.to_dict() for f in setup.findings]
    auto = {k: {"value": v.value, "reason": v.reason} for k, v in setup.auto.items()}
    memory = setup.memory.to_dict() if setup.memory is not None else None
    if as_json:
        _dump({"plan": setup.plan.to_dict(), "findings": findings, "auto": auto, "applied": setup.extra["applied"],
               "config": setup.config.model_dump(), "recommended": setup.extra["recommended"].to_dict(), "memory": memory})
    else:
        print_applied(setup.extra["applied"])
        print_plan(setup.plan.to_dict())
        print_auto(auto)
        print_memory(memory)
        print_findings(findings, "Preflight")
    if any(f["severity"] == "error" for f in findings):
        raise typer.Exit(1)


def _train(cfg, resume: bool, force: bool, apply_fixes: bool = False) -> None:
    from rich.markup import escape

    from . import api
    from .console import TrainingProgress, console, print_doctor

    stop = threading.Event()

    def on_signal(signum, frame):  # Ctrl-C / SIGTERM: checkpoint at the end of this step, then exit
        console.print("[yellow]stopping after this step; a checkpoint will be saved (resume with --resume)[/yellow]")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    progress = TrainingProgress()

    def on_event(event: dict) -> None:
        if event["type"] == "doctor":
            print_doctor(event["report"])
        else:
            progress(event)

    try:
        result = api.train(cfg, resume=resume, force=force, on_event=on_event, stop=stop, apply_fixes=apply_fixes)
    except PlanRefused as e:
        progress.close()
        raise StudioError(e.message, e.fix) from None
    finally:
        progress.close()
    if os.environ.get("RANK", "0") != "0":
        return  # rank 0 reports for all
    if result.first_loss is not None:
        console.print(f"loss {result.first_loss:.4f} → {result.last_loss:.4f}"
                      + (f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""))
    console.print(f"run folder: {escape(str(result.run_dir))}" + ("" if result.status == "done" else f" ({result.status})"))
    if result.status == "cancelled":
        raise typer.Exit(130)


app.command("plan", help="Compute the plan (steps, tokens, truncation, label coverage) and its preflight findings. "
            "Takes the same options as `train`; exits 1 when a finding is an error.")(_train_command)
app.command("train", help="Train a LoRA adapter: plan, refuse on error findings (unless --force), train with "
            "checkpoints, save RUN_DIR/adapter and manifest.json, then run the doctor.")(_train_command)


# ---- doctor -----------------------------------------------------------------------------------
@app.command()
def doctor(
    run_dir: Annotated[Path, typer.Argument(help="a finished run folder")],
    probes: Annotated[Optional[str], Opt(help="held-out prompts (JSONL with prompt, expect_any)")] = None,
    markers: Annotated[Optional[str], Opt(help="comma-separated style markers, e.g. 俺老孙,嘿嘿,呔")] = None,
    server: Annotated[Optional[str], Opt(help="check the adapter where it is served: any OpenAI-compatible server "
                                         "at this URL (vLLM, Ollama, llama.cpp, LM Studio, `lorastudio serve`)")] = None,
    server_model: Annotated[Optional[str], Opt(help="the name the adapter is served under (default: the run "
                                               "folder's name)")] = None,
    server_base: Annotated[Optional[str], Opt(help="the base model's name on that server, where it serves one "
                                              "(a LoRA Studio server's is found by itself)")] = None,
    general_probes: Annotated[Optional[str], Opt(help="general questions with expect_any for retention "
                                                 "(default: the bundled 30; 'none' skips)")] = None,
    n_probes: Annotated[Optional[int], Opt(min=1, max=1000, help="probes asked at most, spread over the file (default 32)")] = None,
    as_json: Annotated[bool, Opt("--json")] = False,
):
    """Prove that an adapter works, or name the cause with evidence and a fix.

    Exit code: 0 learned, 1 not learned, 3 inconclusive, 2 the doctor could not run (a missing run folder, a bad option)."""
    from .diagnosis.doctor import exit_code, run_doctor
    from .diagnosis.report import format_report

    if (server_model or server_base) and not server:
        raise StudioError("--server-model and --server-base name models on a server", fix="add --server URL")
    report = run_doctor(str(run_dir), probes=probes, markers=_split(markers), server=server, general=general_probes,
                        n_probes=n_probes, server_model=server_model, server_base=server_base)
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)) if as_json else print(format_report(report))
    raise typer.Exit(exit_code(report))


# ---- tune -------------------------------------------------------------------------------------
@app.command()
def tune(
    data: Annotated[str, Opt(help="training data (.json/.jsonl)")],
    probes: Annotated[Optional[str], Opt(help="held-out probes (prompt, expect_any) to score on "
                                         "(default: prompts each trial holds out of the data)")] = None,
    output: Annotated[str, Opt("--output", "-o", help="folder for the trials, tune.json and best/")] = "runs/tune",
    budget: Annotated[str, Opt(help="time for all trials: 15m, 90s, 1h30m")] = "15m",
    max_trials: Annotated[int, Opt(min=1, max=100, help="configurations to try at most")] = 3,
    model: Annotated[Optional[str], Opt(help="base model (default smollm2-135m)")] = None,
    markers: Annotated[Optional[str], Opt(help="comma-separated style markers (voice)")] = None,
    general_probes: Annotated[Optional[str], Opt(help="general questions for retention (default: the bundled 30)")] = None,
    force: Annotated[bool, Opt(help="train trials despite error-level findings of their plan")] = False,
    as_json: Annotated[bool, Opt("--json", help="print tune.json")] = False,
):
    """Try recipes (learning rate, attention vs all-linear, epochs, general replay) as short runs within
    a time budget; score each on held-out voice, facts and retention; keep the best adapter."""
    from . import api
    from .tuning import format_table

    def on_trial(t) -> None:
        if not as_json:
            shown = f"score {t.score:.3f}" if t.score is not None else t.status
            print(f"{t.name}: {shown} ({t.note or t.verdict or ''})", flush=True)

    # A process started in the background (`cmd &`, or a studio server started so) inherits SIGINT
    # as ignored, and Python then never raises KeyboardInterrupt: restore it, and let SIGTERM stop too.
    before = signal.signal(signal.SIGINT, signal.default_int_handler), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = api.tune(data=data, probes=probes, output=output, budget=budget, max_trials=max_trials, model=model,
                          markers=markers, general_probes=general_probes, force=force, on_trial=on_trial)
    except KeyboardInterrupt:  # Ctrl-C, or the web studio's cancel (SIGINT): the trial under way is dropped
        print(f"tune stopped; the trials that finished are scored in {Path(output) / 'tune.json'} "
              f"(the best one linked as {Path(output) / 'best'})", flush=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
    _dump(result.to_dict()) if as_json else print(format_table(result))
    if result.best is None:
        raise typer.Exit(1)


# ---- export -----------------------------------------------------------------------------------
@app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="a finished run folder")],
    fmt: Annotated[str, Opt("--format", "-f", help="merged, gguf, gguf-lora or ollama")] = "gguf",
    output: Annotated[Path, Opt("-o", "--output", help="folder (or .gguf file) to write")] = Path("exports"),
    quant: Annotated[Optional[str], Opt(help="gguf/ollama: f16 (default), f32, bf16, q8_0, q4_0; gguf-lora: f32 (default), f16")] = None,
    adapter_only: Annotated[bool, Opt("--adapter-only", help="ollama: base GGUF + LoRA GGUF (ADAPTER line), not one merged file")] = False,
    probes: Annotated[Optional[str], Opt(help="prompts the check answers (default: the run's probes)")] = None,
    n_probes: Annotated[int, Opt(min=1, max=100, help="probes the check answers")] = 5,
    no_verify: Annotated[bool, Opt("--no-verify", help="skip reloading and comparing what was written")] = False,
    llama_cpp: Annotated[Optional[bool], Opt("--llama-cpp/--no-llama-cpp", help="also check GGUF files in llama.cpp "
                                             "(default: when llama-cpp-python is installed)")] = None,
    overwrite: Annotated[bool, Opt(help="replace an existing output")] = False,
    as_json: Annotated[bool, Opt("--json", help="print the result as JSON")] = False,
):
    """Take the adapter home: merged HF folder, GGUF, llama.cpp LoRA GGUF, or an Ollama folder;
    then reload what was written and compare it with the adapter. Exit 1 when the numbers are off."""
    from . import api
    from .exporting import format_result

    shown = []

    def on_progress(stage: str, fraction: float) -> None:
        if not as_json and stage not in shown[-1:]:  # a stage once, not once per tensor
            shown.append(stage)
            print(f"[{fraction:4.0%}] {stage}", flush=True)

    result = api.export(run_dir, fmt, output, quant=quant, probes=probes, n_probes=n_probes, adapter_only=adapter_only,
                        verify=not no_verify, llama_cpp=llama_cpp, overwrite=overwrite, on_progress=on_progress)
    _dump(result.to_dict()) if as_json else print(format_result(result))
    raise typer.Exit(0 if result.ok else 1)


# ---- chat -------------------------------------------------------------------------------------
@app.command()
def chat(
    model: Annotated[Optional[str], Opt(help="base model (default: the adapter's base, else smollm2-135m)")] = None,
    adapter: Annotated[Optional[Path], Opt(help="run folder or adapter folder")] = None,
    prompt: Annotated[Optional[str], Opt("-p", "--prompt", help="one-shot prompt (else interactive)")] = None,
    system: Annotated[Optional[str], Opt(help="system prompt")] = None,
    compare: Annotated[bool, Opt(help="show base and adapter answers side by side")] = False,
    max_new_tokens: Annotated[int, Opt(min=1, max=8192)] = 256,
    temperature: Annotated[float, Opt(min=0.0, max=5.0, help="0 = greedy")] = 0.0,
    top_p: Annotated[float, Opt(min=0.0, max=1.0)] = 1.0,
    seed: Annotated[Optional[int], Opt(min=0, max=2**63 - 1, help="sampling seed (with --temperature > 0)")] = None,
):
    """Chat with a model and adapter, streaming, with the template the adapter was trained with."""
    from .serving.chat import ChatSession

    session = ChatSession.open(model, adapter, system=system, compare=compare,
                               max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    if prompt is not None:
        session.ask(prompt)
    else:
        session.repl()


# ---- models -----------------------------------------------------------------------------------
models_app = typer.Typer(invoke_without_command=True, help="Chat models already on this machine: Ollama, the Hugging Face "
                         "and ModelScope caches, LM Studio, and the embedded model. Pass a name to --model.")
app.add_typer(models_app, name="models")


@models_app.callback()
def models(
    ctx: typer.Context,
    source: Annotated[Optional[str], Opt(help="only one place: embedded, ollama, hf, modelscope or lmstudio")] = None,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
):
    """List the chat models found (name for --model, source, architecture, parameters, quantisation,
    chat template, size on disk); those that cannot be trained say why."""
    if ctx.invoked_subcommand:
        return
    from .models.discovery import SOURCES, find_models, roots

    if source is not None and source not in SOURCES:
        raise StudioError(f"--source {source!r} is not a place models are looked for", fix=f"use one of: {', '.join(SOURCES)}")
    found, warnings = find_models((source,) if source else SOURCES)
    if as_json:
        _dump({"models": [m.to_dict() for m in found], "warnings": warnings, "roots": roots()})
    else:
        from .console import print_models

        print_models(found, warnings, roots())


@models_app.command("pull")
def models_pull(spec: Annotated[str, typer.Argument(help="modelscope:ORG/NAME, e.g. modelscope:Qwen/Qwen2.5-0.5B-Instruct")]):
    """Download a ModelScope model into its cache (needs `pip install modelscope`); then pass it to --model."""
    from .models.pull import pull

    entry, downloaded = pull(spec)
    print(f"{'downloaded' if downloaded else 'already in the cache'}: {entry.path}\nuse it: --model {entry.spec}")


# ---- demo and serve ---------------------------------------------------------------------------
@app.command()
def demo(
    output: Annotated[Optional[Path], Opt(help="run folder (default: STUDIO_HOME/runs/demo-wukong)")] = None,
    epochs: Annotated[int, Opt(min=1, help="the seed report's recipe uses 5")] = 5,
    model: Annotated[str, Opt(help="base model: the embedded smollm2-135m, or any --model name, e.g. one from "
                                    "`lorastudio models` (a Qwen2.5/Qwen3 instruct speaks Chinese)")] = "smollm2-135m",
):
    """Train the bundled 孙悟空 persona on the embedded model (or --model) and show base vs adapter answers;
    names a Chinese-speaking model found on this machine when there is one."""
    from .demo import run_demo

    run_demo(output=output, epochs=epochs, model=model)


@app.command()
def serve(
    model: Annotated[str, Opt(help="base model to chat with")] = "smollm2-135m",
    host: Annotated[str, Opt(help="127.0.0.1 keeps it private; any other address needs a token")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535)] = 8000,
    token: Annotated[Optional[str], Opt(help="API/page token (generated and printed when binding off loopback)")] = None,
):
    """The web studio and OpenAI-compatible API."""
    from .server import serve as run_server

    run_server(model=model, host=host, port=port, token=token)


def main() -> None:
    try:
        app()
    except StudioError as e:
        from .console import fail
        from .i18n import env_lang, has, t

        lang = env_lang()
        if lang != "en" and e.key and has(f"error.{e.key}", lang):  # LORASTUDIO_LANG=zh: the catalogue's words
            text = t(f"error.{e.key}", lang, **e.params)
            fix = t(f"error.{e.key}.fix", lang, **e.params) if has(f"error.{e.key}.fix", lang) else None
            fail(f"{text}\n  {t('common.fix', lang)}：{fix}" if fix else text)
        else:
            fail(str(e))
        sys.exit(2)


if __name__ == "__main__":
    main()
