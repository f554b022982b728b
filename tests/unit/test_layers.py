"""The engine's import graph: no module imports itself round a circle, and the engine never
imports the CLI. Every import counts, a deferred one inside a function too; only imports
for type checking (`if TYPE_CHECKING:`) are left out, as they never run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def modules(package: str) -> dict[str, Path]:
    """Every module of `package` by its dotted name (a package by its own name)."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that the module at `path` imports (a name imported from a
    package that is itself a module counts as that module)."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            names |= (submodules & set(known)) or {node.module}
    return {_owner(name, known) for name in names} - {""}


def _owner(name: str, known: dict[str, Path]) -> str:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def engine_graph() -> dict[str, set[str]]:
    known = modules("engine")
    return {name: imported(path, known) - {name} for name, path in known.items()}


def test_engine_has_no_import_circle() -> None:
    assert circles(engine_graph()) == []


def test_engine_never_imports_the_cli() -> None:
    known = {**modules("engine"), **modules("src/claire_cli")}
    offenders = {
        name
        for name, path in modules("engine").items()
        if any(m.startswith("src.claire_cli") for m in imported(path, known))
        or "claire_cli" in path.read_text()
    }
    assert offenders == set()


def test_circles_when_two_modules_import_each_other_then_found() -> None:
    """The check itself can fail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


README = ROOT / "README.md"
ENTRY = "engine.__main__"  # the processes' entry point: above every layer


def readme_layers() -> list[str]:
    """The engine's folders as the README's architecture section lists them, lowest first
    (`engine/*.py`, the modules at the top of the package, as `engine`)."""
    section = README.read_text().split("## Architecture", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        if line.startswith("- `engine/"):
            path = line.split("`")[1].rstrip("/")
            layers.append("engine" if path == "engine/*.py" else path.replace("/", "."))
    return layers


def layer_of(module: str, layers: list[str]) -> str:
    """The layer `module` belongs to: its folder, or `engine` for a top-level module."""
    parts = module.split(".")
    folder = ".".join(parts[:2])
    return folder if folder in layers else "engine"


def upward_imports(graph: dict[str, set[str]], layers: list[str]) -> list[str]:
    """Every import of a module from a layer listed after the importer's own."""
    rank = {layer: position for position, layer in enumerate(layers)}
    return sorted(
        f"{name} imports {other}"
        for name, others in graph.items()
        if name != ENTRY
        for other in others
        if rank[layer_of(other, layers)] > rank[layer_of(name, layers)]
    )


def test_readme_lists_every_folder_of_the_engine_once() -> None:
    folders = {"engine." + path.parent.name for path in (ROOT / "engine").glob("*/__init__.py")}
    layers = readme_layers()
    assert len(layers) == len(set(layers))
    assert set(layers) == folders | {"engine"}


def test_no_layer_imports_one_the_readme_lists_after_it() -> None:
    assert upward_imports(engine_graph(), readme_layers()) == []


def test_upward_imports_when_a_lower_layer_imports_a_higher_then_found() -> None:
    """The check itself can fail."""
    graph = {"engine.events.x": {"engine.runs.y"}, "engine.runs.y": {"engine.events.x"}}
    layers = ["engine", "engine.events", "engine.runs"]
    assert upward_imports(graph, layers) == ["engine.events.x imports engine.runs.y"]
