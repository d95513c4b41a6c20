"""Writes the course notebooks from their one source in ``scripts/notebooks/``.

    python scripts/build_notebooks.py            # homework + solution notebooks, no outputs
    python scripts/build_notebooks.py --execute  # and run the solutions at full length
    python scripts/build_notebooks.py --check    # exit 1 if a notebook differs from its source

Each ``scripts/notebooks/nbXX_*.py`` defines ``FILENAME`` and ``CELLS`` (see ``_cells.py``). The
homework notebook ``notebooks/FILENAME`` gets the exercise stubs and is saved without outputs;
``notebooks/solutions/FILENAME`` gets the solutions. ``--execute`` runs each solution notebook
with nbclient (kernel ``python3``, full length: ``DQN_JAX_FAST`` unset) and prints its runtime.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scripts" / "notebooks"
HOMEWORK_DIR = ROOT / "notebooks"
SOLUTIONS_DIR = HOMEWORK_DIR / "solutions"

sys.path.insert(0, str(SOURCES))
from _cells import Cell  # noqa: E402


def sources() -> list[ModuleType]:
    """The notebook source modules, in course order."""
    modules = []
    for path in sorted(SOURCES.glob("nb[0-9][0-9]_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def build(cells: list[Cell], stem: str, solution: bool) -> nbformat.NotebookNode:
    """The notebook of ``cells``: the homework version, or with ``solution`` the solved one."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(cells):
        text = cell.text(solution)
        metadata = {"tags": list(cell.tags)} if cell.tags else {}
        if cell.kind == "markdown":
            new = nbformat.v4.new_markdown_cell(text, metadata=metadata)
        else:
            new = nbformat.v4.new_code_cell(text, metadata=metadata)
        new.id = f"{stem}-{i:02d}"  # stable ids: rebuilding gives no diff
        nb.cells.append(new)
    return nb


def _sources_of(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 900) -> float:
    """Runs ``nb`` in place at full length; returns the seconds it took."""
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if k != "DQN_JAX_FAST"}
    # The kernel imports this tree's dqn_jax, whichever copy of the package is installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    client.execute(env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--execute", action="store_true", help="run the solutions, save outputs")
    parser.add_argument("--check", action="store_true", help="only compare with the files")
    parser.add_argument("--only", default="", help="build only notebooks whose name has this")
    args = parser.parse_args()

    stale = []
    for module in sources():
        name = module.FILENAME
        if args.only not in name:
            continue
        stem = name.split("_", 1)[0]
        homework = build(module.CELLS, stem, solution=False)
        solution = build(module.CELLS, stem, solution=True)
        targets = ((HOMEWORK_DIR / name, homework), (SOLUTIONS_DIR / name, solution))
        if args.check:
            for path, nb in targets:
                if not path.exists() or _sources_of(nbformat.read(path, 4)) != _sources_of(nb):
                    stale.append(path.relative_to(ROOT))
            continue
        SOLUTIONS_DIR.mkdir(parents=True, exist_ok=True)
        nbformat.write(homework, HOMEWORK_DIR / name)
        saved = SOLUTIONS_DIR / name
        if args.execute:
            seconds = execute(solution, SOLUTIONS_DIR)
            print(f"{name}: executed at full length in {seconds:.0f} s", flush=True)
        elif saved.exists() and _sources_of(nbformat.read(saved, 4)) == _sources_of(solution):
            print(f"wrote notebooks/{name}; solutions/{name} is current (outputs kept)")
            continue
        else:
            print(f"solutions/{name} changed: run with --execute to save its outputs")
        nbformat.write(solution, saved)
        print(f"wrote notebooks/{name} and notebooks/solutions/{name}", flush=True)
    if stale:
        print("out of date (run python scripts/build_notebooks.py):", *stale, sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
