"""`lorastudio data inspect` and `lorastudio data expand`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import Opt, app, print_json, split_flag

data_app = typer.Typer(no_args_is_help=True, help="Inspect and grow datasets.")
app.add_typer(data_app, name="data")


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
    from ..config import make_config
    from ..data.readers import load_dataset
    from ..data.stats import format_inspect_report, inspect_dataset

    variables = make_config(data="-", output="-", vars=var).vars if var else None
    ds = load_dataset(file, variables)
    tok = None
    if model:
        from ..models import load_tokenizer, resolve_model

        tok = load_tokenizer(resolve_model(model))
    stats = inspect_dataset(ds, tok, max_seq_len if model else None)
    print_json(stats) if as_json else print(format_inspect_report(stats))


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
    from .. import api
    from ..data.expand_report import format_expand_report

    report = api.expand(file, output, target=target, method=method, model=model, endpoint=endpoint,
                        markers=split_flag(markers), holdout=holdout, seed=seed, overwrite=overwrite, keep_out=keep_out)
    print(format_expand_report(report))
