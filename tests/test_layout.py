"""The package's layers, read from its imports: no import cycle, and no layer imports one above it.

Every ``import`` of every module is read with ``ast``, those inside functions and under
``if TYPE_CHECKING:`` included (an import hidden in a function is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dqn_jax"

# Lowest first. A module may import modules of its own layer (without a cycle) and of the
# layers beneath it, never of a layer above. The top-level ``dqn_jax`` (its ``__init__`` and
# ``__main__``) is the public face over all of them and is imported by none.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("blocks", ("dqn_jax.blocks", "dqn_jax.config", "dqn_jax.tuned")),
    ("loop", ("dqn_jax.loop",)),
    ("storage", ("dqn_jax.storage",)),
    ("scale", ("dqn_jax.scale",)),
    ("viz", ("dqn_jax.viz",)),
    ("cli", ("dqn_jax.cli",)),
    ("homework", ("dqn_jax.homework",)),
)
TOP = ("dqn_jax", "dqn_jax.__main__")


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_modules(package: Path = PACKAGE) -> dict[str, ast.Module]:
    return {
        module_name(p, package): ast.parse(p.read_text(), str(p)) for p in package.rglob("*.py")
    }


def imports(name: str, tree: ast.Module, modules: set[str]) -> set[str]:
    """The package modules ``name`` imports, anywhere in its source."""
    package = name if f"{name}.__init__" in modules or _is_package(name, modules) else None
    here = (package or name.rpartition(".")[0]).split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules and m != name}


def _is_package(name: str, modules: set[str]) -> bool:
    return any(m.startswith(f"{name}.") for m in modules)


def layer_of(name: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(f"{p}.") for p in prefixes):
            return rank
    return None


def graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    names = set(modules)
    return {name: imports(name, tree, names) for name, tree in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path of modules that closes it (depth-first search)."""
    found, state = [], {}  # state: 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer, of the top-level package, or from a module in no layer."""
    bad = []
    for name, targets in sorted(edges.items()):
        if name in TOP:
            continue
        rank = layer_of(name)
        if rank is None:
            bad.append(f"{name} belongs to no layer")
            continue
        for target in sorted(targets):
            if target in TOP:
                bad.append(f"{name} imports the top-level package {target}")
            elif (other := layer_of(target)) is not None and other > rank:
                bad.append(
                    f"{name} ({LAYERS[rank][0]}) imports {target} ({LAYERS[other][0]}), "
                    "a higher layer"
                )
    return bad


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph(read_modules())


def test_the_package_has_no_import_cycle(edges):
    assert cycles(edges) == []


def test_no_layer_imports_a_higher_one(edges):
    assert violations(edges) == []


def test_every_layer_holds_modules(edges):
    for rank, (label, _) in enumerate(LAYERS):
        assert any(layer_of(name) == rank for name in edges), f"layer {label} is empty"


# The checks themselves, on small made-up packages: they must see what they guard against.


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    root = tmp_path / "dqn_jax"
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return graph(read_modules(root))


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    edges = _package(
        tmp_path,
        {
            "scale/__init__.py": "",
            "scale/a.py": "from dqn_jax.scale import b\n",
            "scale/b.py": "def f():\n    from dqn_jax.scale.a import g\n",
        },
    )
    assert cycles(edges) == [["dqn_jax.scale.a", "dqn_jax.scale.b", "dqn_jax.scale.a"]]


def test_a_block_importing_the_loop_is_a_violation(tmp_path):
    edges = _package(
        tmp_path,
        {
            "blocks/__init__.py": "",
            "blocks/replay.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from dqn_jax.loop.train import TrainState\n",
            "loop/__init__.py": "",
            "loop/train.py": "from .. import config\nfrom dqn_jax.storage import runs\n",
            "config.py": "",
            "storage/__init__.py": "",
            "storage/runs.py": "import dqn_jax\n",
        },
    )
    assert violations(edges) == [
        "dqn_jax.blocks.replay (blocks) imports dqn_jax.loop.train (loop), a higher layer",
        "dqn_jax.loop.train (loop) imports dqn_jax.storage.runs (storage), a higher layer",
        "dqn_jax.storage.runs imports the top-level package dqn_jax",
    ]
    assert edges["dqn_jax.loop.train"] == {"dqn_jax.config", "dqn_jax.storage.runs"}
