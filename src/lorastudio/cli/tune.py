"""`lorastudio tune`: try recipes as short runs within a time budget and keep the best."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import Opt, app, print_json

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
    from .. import api
    from ..tuning import format_table

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
    print_json(result.to_dict()) if as_json else print(format_table(result))
    if result.best is None:
        raise typer.Exit(1)
