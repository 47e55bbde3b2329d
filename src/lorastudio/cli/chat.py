"""`lorastudio chat`: talk to a model and adapter in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from .common import Opt, app

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
    from ..serving.chat import ChatSession

    session = ChatSession.open(model, adapter, system=system, compare=compare,
                               max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    if prompt is not None:
        session.ask(prompt)
    else:
        session.repl()
