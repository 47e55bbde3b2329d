"""`lorastudio export`: write the adapter in another format and check what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import Opt, app, print_json

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
    from .. import api
    from ..exporting import format_result

    shown = []

    def on_progress(stage: str, fraction: float) -> None:
        if not as_json and stage not in shown[-1:]:  # a stage once, not once per tensor
            shown.append(stage)
            print(f"[{fraction:4.0%}] {stage}", flush=True)

    result = api.export(run_dir, fmt, output, quant=quant, probes=probes, n_probes=n_probes, adapter_only=adapter_only,
                        verify=not no_verify, llama_cpp=llama_cpp, overwrite=overwrite, on_progress=on_progress)
    print_json(result.to_dict()) if as_json else print(format_result(result))
    raise typer.Exit(0 if result.ok else 1)
