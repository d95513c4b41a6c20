"""The cell kinds the course notebooks are written in (see ``scripts/build_notebooks.py``).

An exercise is written once: its header (signature and docstring) is shared, the homework
notebook gets a stub that raises ``NotImplementedError`` and the solution notebook the body.
Cells carry tags the tests read: ``exercise`` (the stub or solution), ``check`` (calls a
``dqn_jax.homework.check_*``) and ``uses-exercise`` (runs code that calls an exercise, so it
fails in the homework notebook until the exercise is done).
"""

from __future__ import annotations

import dataclasses
import textwrap

EXERCISE, CHECK, USES_EXERCISE = "exercise", "check", "uses-exercise"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One notebook cell; ``solution`` (when set) replaces ``source`` in the solution notebook."""

    kind: str  # "markdown" or "code"
    source: str
    solution: str | None = None
    tags: tuple[str, ...] = ()

    def text(self, solution: bool) -> str:
        return self.solution if solution and self.solution is not None else self.source


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def _paragraphs(parts: str | tuple[str, ...]) -> str:
    """``parts`` dedented one by one and joined by blank lines: text assembled from pieces
    indented differently (a module-level string and an indented literal) must not keep an
    indent, which markdown would render as a code block."""
    parts = (parts,) if isinstance(parts, str) else parts
    return "\n\n".join(_clean(part) for part in parts)


def md(*parts: str, solution: str | tuple[str, ...] | None = None) -> Cell:
    """A markdown cell of ``parts`` (``solution``: different text in the solution notebook)."""
    return Cell("markdown", _paragraphs(parts), None if solution is None else _paragraphs(solution))


def code(text: str) -> Cell:
    """A code cell that runs in both notebooks."""
    return Cell("code", _clean(text))


def exercise(header: str, body: str, todo: str) -> Cell:
    """A function to write: ``header`` is its ``def`` line and docstring, ``body`` the solution;
    the stub's body is a comment saying what to do and ``raise NotImplementedError``."""
    header, body = _clean(header), _clean(body)
    name = header.split("def ", 1)[1].split("(", 1)[0]
    todo_lines = "\n".join(
        f"    # {line}" if line else "    #" for line in _clean(todo).splitlines()
    )
    stub = f'{header}\n{todo_lines}\n    raise NotImplementedError("fill in {name}")'
    solution = f"{header}\n{textwrap.indent(body, '    ')}"
    return Cell("code", stub, solution, (EXERCISE,))


def check(text: str) -> Cell:
    """A cell that calls a ``dqn_jax.homework.check_*`` function."""
    return Cell("code", _clean(text), tags=(CHECK,))


def uses(text: str) -> Cell:
    """A code cell that calls exercise functions (it fails until they are written)."""
    return Cell("code", _clean(text), tags=(USES_EXERCISE,))
