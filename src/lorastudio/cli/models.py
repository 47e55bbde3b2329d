"""`lorastudio models` and `lorastudio models pull`: the chat models on this machine."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import StudioError
from .common import Opt, app, print_json

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
    from ..models.discovery import SOURCES, find_models, roots

    if source is not None and source not in SOURCES:
        raise StudioError(f"--source {source!r} is not a place models are looked for", fix=f"use one of: {', '.join(SOURCES)}")
    found, warnings = find_models((source,) if source else SOURCES)
    if as_json:
        print_json({"models": [m.to_dict() for m in found], "warnings": warnings, "roots": roots()})
    else:
        from ..console import print_models

        print_models(found, warnings, roots())


@models_app.command("pull")
def models_pull(spec: Annotated[str, typer.Argument(help="modelscope:ORG/NAME, e.g. modelscope:Qwen/Qwen2.5-0.5B-Instruct")]):
    """Download a ModelScope model into its cache (needs `pip install modelscope`); then pass it to --model."""
    from ..models.pull import pull

    entry, downloaded = pull(spec)
    print(f"{'downloaded' if downloaded else 'already in the cache'}: {entry.path}\nuse it: --model {entry.spec}")
