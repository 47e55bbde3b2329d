"""What every command module shares: the Typer app the verbs register on, and small helpers.
Nothing here imports torch or pydantic, so `lorastudio --help` stays fast."""

from __future__ import annotations

import json

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="LoRA Studio: fine-tune a chat model with LoRA, and prove the adapter works.")

Opt = typer.Option


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def split_flag(value: str | None) -> list[str] | None:
    """A comma-separated flag as a list ("a,b" → ["a", "b"]); None when not given."""
    from ..config import split_list  # imported here: pydantic is not needed for --help

    return split_list(value)
