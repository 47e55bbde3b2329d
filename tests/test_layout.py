"""The package's shape. Imports flow one way: a test walks every import statement of every
module (module level and inside functions: a lazy import is still a dependency) and fails on a
cycle, naming the modules in it. Modules and functions stay small, and no comment, docstring or
help text points at a document outside the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "lorastudio"


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = ("lorastudio",) + f.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                # `from . import x` of submodules depends on them, not on the package's __init__
                targets = subs if subs and len(subs) == len(node.names) else [target, *subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in mods and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 80 and graph["lorastudio.training.loop"]  # the walk found the package
    assert cycles(graph) == []


def test_the_walk_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# ---------------------------------------------------------------- size and self-contained text

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
# The training loop reads top to bottom as one function on purpose.
LONG_FUNCTIONS_ALLOWED = {"lorastudio.training.loop.train"}


def _functions(tree: ast.AST, prefix: str):
    """(qualified name, lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}.{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node.end_lineno - node.lineno + 1
            yield from _functions(node, name)
        else:
            yield from _functions(node, prefix)


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in sorted(_modules().items()):
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {lines} lines (at most {MAX_MODULE_LINES})")
        for func, lines in _functions(ast.parse(text), name):
            if lines > MAX_FUNCTION_LINES and func not in LONG_FUNCTIONS_ALLOWED:
                too_long.append(f"function {func}: {lines} lines (at most {MAX_FUNCTION_LINES})")
    assert too_long == []


def test_the_size_check_sees_long_functions():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert dict(_functions(ast.parse(f"class A:\n  def f():\n{body}\n"), "m")) == {"m.A.f": 62}


# Comments, docstrings and help texts state their facts themselves: a reader of the package
# cannot open a report, a notes file or an issue tracker that is not in it.
OUTSIDE_REFERENCES = re.compile(r"seed[ -]report|PERF_NOTES|USERS\.md|STYLE\.md|\bissue #?\d+", re.IGNORECASE)


def test_no_text_points_outside_the_repository():
    found = []
    for path in sorted(ROOT.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json", ".md", ".js", ".html", ".jinja"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if OUTSIDE_REFERENCES.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_no_help_text_points_outside_the_repository():
    from typer.testing import CliRunner

    from lorastudio.cli import app

    runner = CliRunner()
    commands = [[], ["data"], ["data", "inspect"], ["data", "expand"], ["plan"], ["train"], ["doctor"], ["tune"],
                ["export"], ["chat"], ["models"], ["models", "pull"], ["demo"], ["serve"]]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "240"})
        assert result.exit_code == 0, command
        assert not OUTSIDE_REFERENCES.search(result.output), (command, OUTSIDE_REFERENCES.findall(result.output))
