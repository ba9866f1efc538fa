"""The package's layers import in one direction, and no module imports itself in a circle.

core < storage < run < sweep < read: a module may import only from its own
layer or the layers before it (the package root `mitosis_hydra/__init__.py`
re-exports the public API lazily and is outside the order). Every import is
counted, also those inside functions, since a lazy import is still a
dependency. Read from the source with `ast`: nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mitosis_hydra"
LAYERS = ["core", "storage", "run", "sweep", "read"]
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports (resolving relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != name}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


GRAPH = {name: _imports(name, path, set(_modules())) for name, path in _modules().items()}


def test_every_module_lives_in_a_layer():
    stray = sorted(name for name in GRAPH if name != "mitosis_hydra" and _layer(name) is None)
    assert stray == [], f"modules outside core/storage/run/sweep/read: {stray}"


@pytest.mark.parametrize("module", sorted(n for n in GRAPH if _layer(n) is not None))
def test_imports_point_down_the_layers(module):
    own = _layer(module)
    upward = sorted(
        target
        for target in GRAPH[module]
        if target == "mitosis_hydra" or (_layer(target) is not None and _layer(target) > own)
    )
    assert upward == [], f"{module} ({LAYERS[own]}) imports a later layer: {upward}"


def test_no_import_cycles():
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if target.endswith(tuple(f".{layer}" for layer in LAYERS)):
                continue  # a layer's __init__ holds only its docstring
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_check_sees_a_bad_import(tmp_path):
    """The graph reader finds relative, absolute and function-level imports."""
    source = tmp_path / "x.py"
    source.write_text(
        "from ..storage import store\ndef f():\n    from mitosis_hydra.read.cli import main\n"
    )
    known = {"mitosis_hydra.storage.store", "mitosis_hydra.read.cli", "mitosis_hydra.storage"}
    found = _imports("mitosis_hydra.core.x", source, known)
    assert found == {
        "mitosis_hydra.storage",
        "mitosis_hydra.storage.store",
        "mitosis_hydra.read.cli",
    }


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_exceeds_the_size_limit(module):
    lines = len(_modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (limit {MAX_LINES})"
