"""Terminal rendering for the CLI and the demo: plans, findings, live training progress."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_plan(plan: dict) -> None:
    t = Table(title="Training plan", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    rows = [
        ("samples", f"{plan['n_train']} trained of {plan['n_records']} read"
         + (f", of which {plan['n_general']} general replay (--mix-general)" if plan.get("n_general") else "")
         + (f", {plan['n_eval']} held out for eval ({plan['eval_source']})" if plan["n_eval"] else "")),
        ("effective batch", f"{plan['effective_batch']} = batch {plan['batch_size']} x accumulation {plan['grad_accum']}"
         + (f" x {plan['world_size']} processes" if plan["world_size"] > 1 else "")),
        ("steps per epoch", f"{plan['steps_per_epoch']} (drop-last would give {plan['steps_per_epoch_drop_last']})"),
        ("total optimizer steps", f"{plan['total_steps']} = {plan['steps_per_epoch']} x {plan['epochs']} epochs"),
        ("warmup steps", str(plan["warmup_steps"])),
        ("tokens per epoch", f"{plan['tokens_per_epoch']:,} ({plan['trainable_tokens_per_epoch']:,} trained, "
         f"label coverage {plan['label_coverage']:.0%})"),
        ("longest sample", f"{plan.get('max_full_tokens') or plan['max_tokens']} tokens (p95 as trained "
         f"{plan['p95_tokens']}, max length {plan['max_seq_len']}"
         + (f", model context {plan['context_length']}" if plan.get("context_length") else "") + ")"),
        ("truncated", f"{plan['truncated']} samples cut, {plan['response_truncated']} of them losing answer tokens"),
        ("no trainable token", f"{plan['dropped_no_labels'] + plan.get('masked', 0)} samples (dropped)"),
        ("LoRA", f"r {plan['lora_r']}, alpha {plan['lora_alpha']:g}, lr {plan['lr']:g} on {', '.join(plan['target_modules']) or '-'}"),
        ("trainable parameters", f"{plan['trainable_params']:,} of {plan['total_params']:,}"
         + (f" ({plan['trainable_params'] / plan['total_params']:.2%})" if plan["total_params"] else "")),
    ]
    if plan.get("dropped_too_long"):
        rows.append(("left out", f"{plan['dropped_too_long']} samples longer than {plan['max_seq_len']} tokens"))
    if plan.get("dropped_duplicates"):
        rows.append(("left out", f"{plan['dropped_duplicates']} exact repeats"))
    if plan.get("heldout"):
        kinds = {"reworded": "reworded training questions", "unseen": "unseen samples"}
        rows.append(("held out for the doctor", ", ".join(f"{n} {kinds.get(k, k)}" for k, n in plan["heldout"].items())))
    if plan.get("estimated_seconds"):
        how = "measured on this machine" if plan.get("estimate_calibrated") else "rough, not yet measured here"
        rows.append(("estimated time", f"{_duration(plan['estimated_seconds'])} ({how})"))
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


def print_auto(auto: dict) -> None:
    """The options the recipe chose, each with its reason: give the flag to choose your own."""
    if not auto:
        return
    t = Table(title="Chosen for this data (give the flag to choose your own)", show_header=False, title_justify="left")
    t.add_column(style="bold", no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    for name, v in auto.items():
        value = ",".join(v["value"]) if isinstance(v["value"], list) else v["value"]
        t.add_row("--" + name.replace("_", "-"), escape(f"{value:g}" if isinstance(value, float) else str(value)),
                  escape(v["reason"]))
    console.print(t)


def print_applied(applied: list[dict]) -> None:
    for a in applied:
        changes = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in a["apply"].items())
        console.print(f"[green]applied[/green] the fix of {a['code']}: {escape(changes)}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


HEADINGS = {"Findings": "cli.findings", "Preflight": "cli.preflight", "Doctor findings": "cli.doctor_findings"}


def print_findings(findings: list[dict], heading: str = "Findings") -> None:
    """Findings in the CLI's language: English as the core wrote them, or (LORASTUDIO_LANG=zh)
    from the message catalogue the web studio uses too."""
    from .i18n import env_lang, finding_text, t

    lang = env_lang()
    if lang != "en":
        return _print_findings_in(findings, heading, lang, finding_text, t)
    if not findings:
        console.print(f"[green]{heading}: none[/green]")
        return
    console.print(f"[bold]{heading}[/bold]")
    for f in findings:
        style = SEVERITY_STYLE.get(f["severity"], "")
        # titles, evidence and fixes quote the user's values: '[/x]' there is text, not markup
        console.print(f"  [{style}]{f['severity']:7}[/{style}] [bold]{f['code']}[/bold]: {escape(f['title'])}")
        if f.get("evidence"):
            ev = ", ".join(f"{k}={v}" for k, v in f["evidence"].items())
            console.print(f"           evidence: {escape(ev)}", soft_wrap=True)
        if f.get("fix"):
            console.print(f"           fix: {escape(f['fix'])}", soft_wrap=True)


def _print_findings_in(findings: list[dict], heading: str, lang: str, finding_text, t) -> None:
    from .i18n import fmt

    heading = t(HEADINGS[heading], lang) if heading in HEADINGS else heading
    if not findings:
        console.print(f"[green]{heading}: {t('cli.none', lang)}[/green]")
        return
    console.print(f"[bold]{heading}[/bold]")
    for f in findings:
        style = SEVERITY_STYLE.get(f["severity"], "")
        title, fix = finding_text(f, lang, "cli")
        console.print(f"  [{style}]{t('severity.' + f['severity'], lang)}[/{style}] [bold]{f['code']}[/bold]: {escape(title)}")
        if f.get("evidence"):
            ev = "，".join(f"{t('evidence.' + k, lang) if ('evidence.' + k) != t('evidence.' + k, lang) else k} {fmt(v)}"
                          for k, v in f["evidence"].items())
            console.print(f"      {t('dr.evidence', lang)}：{escape(ev)}", soft_wrap=True)
        if fix:
            console.print(f"      {t('common.fix', lang)}：{escape(fix)}", soft_wrap=True)


class TrainingProgress:
    """Receives the loop's events; a rich bar on a terminal, one line per step elsewhere (logs)."""

    def __init__(self, show_plan: bool = True):
        self.show_plan = show_plan
        self.tty = console.is_terminal
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "plan" and self.show_plan:
            print_applied(event.get("applied") or [])
            print_plan(event["plan"])
            print_auto(event.get("auto") or {})
            print_memory(event.get("memory"))
            print_findings(event["findings"], "Preflight")
        elif kind == "estimate" and event.get("seconds"):
            how = "from steps measured on this machine" if event.get("calibrated") else "rough"
            console.print(f"estimated training time: {_duration(event['seconds'])} ({how})")
        elif kind == "resumed":
            console.print(f"resumed from {event['checkpoint']} (step {event['step']})")
        elif kind == "step":
            self._step(event)
        elif kind == "eval":
            self._print(f"step {event['step']}: eval loss {event['eval_loss']:.4f}")
        elif kind == "checkpoint":
            pass
        elif kind == "done":
            self.close()
            console.print(f"[bold]{event['status']}[/bold] after {event['step']} steps in {_duration(event['seconds'])}")

    def _step(self, e: dict) -> None:
        desc = f"loss {e['loss']:.4f} lr {e['lr']:.2e} {e['tokens_per_sec'] or 0:,.0f} tok/s"
        if self.tty:
            if self.progress is None:
                self.progress = Progress(
                    TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                )
                self.progress.start()
                self.task = self.progress.add_task(desc, total=e["total_steps"], completed=e["step"] - 1)
            self.progress.update(self.task, completed=e["step"], description=desc)
        else:
            print(f"step {e['step']}/{e['total_steps']} {desc} grad_norm {e['grad_norm']:.3g}", flush=True)
        for f in e.get("new_findings", []):
            self._print(f"[{SEVERITY_STYLE[f['severity']]}]{f['severity']} {f['code']}[/]: {escape(f['title'])} — fix: {escape(f['fix'])}")

    def _print(self, text: str) -> None:
        (self.progress.console if self.progress else console).print(text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def print_doctor(report: dict) -> None:
    """The doctor's verdict, its numbers and its findings, after training (cli and demo)."""
    from .diagnosis.report import three_lines

    style = {"learned": "bold green", "not_learned": "bold red"}.get(report["verdict"], "bold yellow")
    console.print(f"doctor: [{style}]{report['verdict']}[/{style}]")
    for line in three_lines(report.get("effect") or {}) if (report.get("effect") or {}).get("three") else []:
        console.print(escape(line))
    print_findings([f for f in report["findings"] if f["severity"] != "info"], "Doctor findings")


def side_by_side(rows: list[tuple[str, str, str]], left: str = "base", right: str = "adapter") -> None:
    t = Table(show_lines=True)
    # Chinese has no spaces to wrap at: fold long runs instead of cutting them with an ellipsis.
    t.add_column("prompt", ratio=1, overflow="fold")
    t.add_column(left, ratio=2, overflow="fold")
    t.add_column(right, ratio=2, overflow="fold")
    for r in rows:
        t.add_row(*(escape(x) for x in r))  # prompts and answers are text: '[/x]' in them is not markup
    console.print(t)


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)  # the message quotes user input
    sys.stderr.flush()


def human_count(n: int | None) -> str:
    """135M, 1.5B: parameter counts as model cards write them."""
    if not n:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def print_models(found: list, warnings: list[str], roots: dict[str, list[str]]) -> None:
    """`lorastudio models`: a row per chat model found, then why some cannot be trained, then where we looked."""
    t = Table(title=f"Chat models on this machine ({len(found)})", title_justify="left")
    for name in ("--model", "source", "arch", "params", "quant", "template", "size"):
        t.add_column(name, overflow="fold")
    for m in found:
        style = "" if m.usable else "dim"
        t.add_row(escape(m.spec), m.source, escape(m.architecture), human_count(m.n_params), escape(m.quantization),
                  escape(m.template or "none"), human_bytes(m.size_bytes), style=style)
    console.print(t)
    unusable = [m for m in found if not m.usable]
    if unusable:
        console.print("[bold]cannot be trained as they are[/bold] (dimmed above)")
        for m in unusable:
            console.print(f"  {escape(m.spec)}: {escape(m.problem)}")
    for w in warnings:
        console.print(f"[yellow]skipped[/yellow] {escape(w)}")
    looked = "; ".join(f"{k} {', '.join(v)}" for k, v in roots.items())
    console.print(f"[dim]looked in: {escape(looked)} (OLLAMA_MODELS, HF_HUB_CACHE / HF_HOME, MODELSCOPE_CACHE, "
                  "LMSTUDIO_MODELS point elsewhere)[/dim]", soft_wrap=True)


def print_memory(memory: dict | None) -> None:
    """The memory plan's split: what each part is, and whether the total fits the GPU."""
    if not memory:
        return
    g = lambda n: f"{n / 1024**3:.2f} GiB"  # noqa: E731
    s, d = memory["settings"], memory["detail"]
    where = "per GPU" if memory["device"] == "cuda" else "added to the process's RAM (CPU)"
    t = Table(title=f"Memory at the peak of a step, {where}", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column()
    stored = {"4bit": "4-bit NF4 linear layers, the rest", "8bit": "8-bit linear layers, the rest"}.get(s["quantize"], "all")
    shard = f", 1/{s['world_size']} per process (FSDP)" if s["fsdp"] else ""
    t.add_row("weights", g(memory["weights"]), f"{d['n_params']:,} parameters, {stored} in {s['dtype']}{shard}")
    t.add_row("LoRA + optimizer", g(memory["lora"]), f"{memory['lora_params']:,} LoRA parameters x 16 bytes (fp32 weight, gradient, AdamW)")
    ckpt = "gradient checkpointing on" if s["gradient_checkpointing"] else "no gradient checkpointing"
    t.add_row("activations", g(memory["activations"]), f"micro-batch {s['batch_size']} x {s['seq_len']} tokens, {ckpt}")
    t.add_row("logits", g(memory["logits"]), (
        f"{s['batch_size']} x {d['logit_positions']} trained positions, fused with the loss: one slice of logits at a time"
        if d.get("fused_head") else f"{s['batch_size']} x {d['logit_positions']} trained positions x vocabulary x 12 bytes"))
    if memory["device"] == "cuda":
        t.add_row("CUDA overhead", g(memory["overhead"]), "context 0.5 GiB + 10% allocator slack (estimated)")
    verdict = ""
    if memory.get("budget"):
        verdict = f"of {g(memory['budget'])} ({memory['budget_source']}): " + ("fits" if memory["fits"] else "does NOT fit")
    t.add_row("total", g(memory["total"]), verdict)
    console.print(t)
    for key, why in memory.get("auto", {}).items():
        console.print(f"  {key.replace('_', ' ')} {escape(why)} (automatic; --no-{key.replace('_', '-')} to refuse)")
    for note in memory.get("notes", []):
        console.print(f"  note: {escape(note)}")
