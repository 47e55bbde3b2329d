"""`lorastudio doctor`: did the adapter learn, and if not, why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import StudioError
from .common import Opt, app, split_flag

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
    from ..diagnosis.doctor import exit_code, run_doctor
    from ..diagnosis.report import format_report

    if (server_model or server_base) and not server:
        raise StudioError("--server-model and --server-base name models on a server", fix="add --server URL")
    report = run_doctor(str(run_dir), probes=probes, markers=split_flag(markers), server=server, general=general_probes,
                        n_probes=n_probes, server_model=server_model, server_base=server_base)
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)) if as_json else print(format_report(report))
    raise typer.Exit(exit_code(report))
