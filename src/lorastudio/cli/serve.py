"""`lorastudio demo` and `lorastudio serve`: the bundled persona end to end, and the web studio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from .common import Opt, app

@app.command()
def demo(
    output: Annotated[Optional[Path], Opt(help="run folder (default: STUDIO_HOME/runs/demo-wukong)")] = None,
    epochs: Annotated[int, Opt(min=1, help="passes over the data (the demo's recipe: 1, at lr 4e-4)")] = 1,
    model: Annotated[str, Opt(help="base model: the embedded smollm2-135m, or any --model name, e.g. one from "
                                    "`lorastudio models` (a Qwen2.5/Qwen3 instruct speaks Chinese)")] = "smollm2-135m",
):
    """Train the bundled 孙悟空 persona on the embedded model (or --model) and show base vs adapter answers;
    names a Chinese-speaking model found on this machine when there is one."""
    from ..demo import run_demo

    run_demo(output=output, epochs=epochs, model=model)


@app.command()
def serve(
    model: Annotated[str, Opt(help="base model to chat with")] = "smollm2-135m",
    host: Annotated[str, Opt(help="127.0.0.1 keeps it private; any other address needs a token")] = "127.0.0.1",
    port: Annotated[int, Opt(min=1, max=65535)] = 8000,
    token: Annotated[Optional[str], Opt(help="API/page token (generated and printed when binding off loopback)")] = None,
):
    """The web studio and OpenAI-compatible API."""
    from ..server import serve as run_server

    run_server(model=model, host=host, port=port, token=token)
