"""What the benchmark scripts share: the machine and command line they name, the sections they
write into BENCHMARKS.md, ``FIELD=VALUE`` config overrides, a train function compiled ahead of
time for one or several agents, a worker run in a fresh Python process, and the peers' virtual
environments (Rejax; Stable-Baselines3 with a CPU-only PyTorch), created on first use.

JAX is imported only inside the functions that use it: a parent that only starts workers never
loads it, and a worker that times its own imports of JAX starts the clock before them.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
REJAX_VENV = ROOT / ".peers-venv"
SB3_VENV = ROOT / ".sb3-venv"


# --- BENCHMARKS.md ------------------------------------------------------------------------------


def machine() -> str:
    """One line naming the machine, the JAX backend and the package versions."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("jax", "jaxlib", "equinox", "optax", "gymnax")
    )
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{cpu}, {os.cpu_count()} cores, backend {jax.default_backend()} ({devices}); "
        f"Python {platform.python_version()}; {versions}"
    )


def command() -> str:
    """The command line that ran this script."""
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def header(title: str, command_line: str = "", machine_line: str = "") -> list[str]:
    """The first lines of a section: ``## title``, a blank line, then the machine and the command
    that measured it (by default this machine and this process's command line)."""
    return [
        f"## {title}",
        "",
        f"Machine: {machine_line or machine()}.",
        f"Command: `{command_line or command()}`.",
    ]


def write_section(name: str, body: str) -> None:
    """Replaces (or appends) the section between ``<!-- name -->`` markers in BENCHMARKS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{block}\n"
    )
    BENCHMARKS.write_text(text)


# --- configs from the command line --------------------------------------------------------------


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["field=value", ...]`` -> ``{field: value}``: each value a Python literal where it reads
    as one (``1e-3``, ``False``, ``(64, 64)``), else the string (``relu``)."""
    overrides = {}
    for item in items:
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep:
            raise ValueError(f"config overrides are FIELD=VALUE, got {item!r}")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    return overrides


def parse_config(text: str) -> tuple[str, dict[str, Any]]:
    """``"label:field=value,field=value"`` (or just ``"label"``) -> (label, overrides)."""
    label, _, rest = text.partition(":")
    return label.strip(), parse_overrides(s for s in rest.split(",") if s.strip())


# --- measured rows: JSON lines, and the section they render ---------------------------------------


def add_row_flags(parser: argparse.ArgumentParser) -> None:
    """``--json``, ``--from-json``, ``--command``, ``--notes`` and ``--write``: keep each measured
    row, render earlier rows instead of measuring, and write the section to BENCHMARKS.md."""
    parser.add_argument("--json", type=Path, help="append every row to this JSON-lines file")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: render the rows of an earlier --json"
    )
    parser.add_argument("--command", help="the command line to name (with --from-json)")
    parser.add_argument("--notes", type=Path, help="markdown file added under the table")
    parser.add_argument("--write", action="store_true", help="write the section to BENCHMARKS.md")


def read_rows(path: Path | None) -> list[dict[str, Any]]:
    """The rows of a ``--json`` file (none without one)."""
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def append_row(path: Path | None, row: dict[str, Any]) -> None:
    """Appends ``row`` to the ``--json`` file, if one was given."""
    if path is not None:
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def write_rows_section(
    name: str, section: Callable[[list[dict[str, Any]], str], str], rows: list, args: Any
) -> None:
    """With ``--write``: ``section(rows, command)`` with the ``--notes`` under it, as the
    BENCHMARKS.md section ``name``."""
    if not args.write:
        return
    text = section(rows, args.command or "")
    if args.notes:
        text += "\n\n" + args.notes.read_text().strip()
    write_section(name, text)


# --- compiling ahead of time --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Program:
    """A function of a key compiled ahead of time, the keys it takes, and the seconds each stage
    of compiling took."""

    compiled: Callable[[Any], Any]  # jax.stages.Compiled
    keys: Any  # jax.Array: split(key(0), agents), or key(0) for one agent
    trace_s: float
    lower_s: float
    xla_compile_s: float

    @property
    def compile_s(self) -> float:
        """Trace, lower and XLA compile: what the first call of the jitted function pays."""
        return self.trace_s + self.lower_s + self.xla_compile_s

    def __call__(self) -> Any:
        return self.compiled(self.keys)


def compile_agents(fn: Callable[[Any], Any], agents: int = 1, **jit_options: Any) -> Program:
    """``jax.jit(jax.vmap(fn))`` on ``split(key(0), agents)`` for several agents, ``jax.jit(fn)``
    on ``key(0)`` for one, traced, lowered and XLA-compiled now; ``jit_options`` go to
    ``jax.jit`` (``compiler_options=...``)."""
    import jax

    if agents > 1:
        jitted = jax.jit(jax.vmap(fn), **jit_options)
        keys = jax.random.split(jax.random.key(0), agents)
    else:
        jitted, keys = jax.jit(fn, **jit_options), jax.random.key(0)
    start = time.perf_counter()
    traced = jitted.trace(keys)
    traced_at = time.perf_counter()
    lowered = traced.lower()
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    compiled_at = time.perf_counter()
    return Program(
        compiled, keys, traced_at - start, lowered_at - traced_at, compiled_at - lowered_at
    )


# --- workers in fresh processes -----------------------------------------------------------------


def run_worker(
    script: str | Path, *args: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Runs ``python script --worker *args`` in a fresh process (``env``: its environment, by
    default this one's) and returns the JSON object on the last line of its stdout; a worker that
    fails raises ``RuntimeError`` with the end of its stderr."""
    return _json_result(
        [sys.executable, str(script), "--worker", *args],
        f"{Path(script).name} --worker",
        None if env is None else dict(env),
    )


def run_program(python: str | Path, program: str, *args: str) -> dict[str, Any]:
    """Runs ``python -c program *args`` in a fresh process of another venv's ``python`` (in
    ``peer_env()``) and returns the JSON object on the last line of its stdout; a program that
    fails raises ``RuntimeError`` with the end of its stderr."""
    return _json_result([str(python), "-c", program, *args], f"{python} -c ...", peer_env())


def _json_result(argv: list[str], name: str, env: dict[str, str] | None) -> dict[str, Any]:
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{name} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the peers' virtual environments -------------------------------------------------------------


def peer_env() -> dict[str, str]:
    """This process's environment without what would make another venv's Python import this
    one's packages (``PYTHONPATH``, ``VIRTUAL_ENV``)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def ensure_venv(
    path: Path,
    module: str,
    requirements: list[str],
    first: Callable[[Path], list[str]] | None = None,
) -> Path:
    """The Python of the venv at ``path``, where ``import module`` works; when it does not, the
    venv is created (``python -m venv``) and ``pip install``s ``first(python)`` (pip arguments,
    when given) and then ``requirements``."""
    python = path / "bin" / "python"
    check = [str(python), "-c", f"import {module}"]
    if (
        python.exists()
        and subprocess.run(check, capture_output=True, env=peer_env()).returncode == 0
    ):
        return python
    print(f"creating {path} (pip install {' '.join(requirements)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if first is not None:
        subprocess.run([*pip, *first(python)], check=True, env=peer_env())
    subprocess.run([*pip, *requirements], check=True, env=peer_env())
    return python


def rejax_python(path: Path = REJAX_VENV) -> Path:
    """The Python of the venv at ``path`` with ``rejax`` installed, creating it when missing."""
    return ensure_venv(path, "rejax", ["rejax"])


def sb3_python(path: Path = SB3_VENV) -> Path:
    """The Python of the venv at ``path`` with ``stable-baselines3`` and ``gymnasium`` on a
    CPU-only PyTorch, creating it when missing."""
    return ensure_venv(path, "stable_baselines3", ["stable-baselines3", "gymnasium"], cpu_torch)


def cpu_torch(python: Path) -> list[str]:
    """``pip install`` arguments for a CPU-only PyTorch: the newest ``+cpu`` build pip can see
    (``pip index versions torch``), else ``torch`` from PyTorch's CPU-only index. A bare
    ``torch`` would be the multi-GB build with CUDA libraries on Linux."""
    out = subprocess.run(
        [str(python), "-m", "pip", "index", "versions", "torch"],
        capture_output=True,
        text=True,
        env=peer_env(),
    )
    for line in out.stdout.splitlines():
        if line.startswith("Available versions:"):
            versions = [v.strip() for v in line.partition(":")[2].split(",")]
            cpu = [v for v in versions if v.endswith("+cpu")]
            if cpu:
                return [f"torch=={cpu[0]}"]  # pip lists the newest first
    return ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]


# The five-value step Rejax unpacks, for a program run in the Rejax venv (``run_program``).
REJAX_FIVE_VALUE_STEP = r'''
class FiveValueStep:
    """gymnax >= 1.0 returns (obs, state, reward, terminated, truncated, info); Rejax 0.1.3
    unpacks the five values of gymnax 0.0.x, with done = terminated or truncated."""

    def __init__(self, env):
        self.env = env

    def __getattr__(self, name):
        if name == "env":  # not set yet (copy.deepcopy builds the object bare)
            raise AttributeError(name)
        return getattr(self.env, name)

    def step(self, key, state, action, params=None):
        import jax.numpy as jnp

        out = self.env.step(key, state, action, params)
        if len(out) == 6:
            obs, state, reward, terminated, truncated, info = out
            return obs, state, reward, jnp.logical_or(terminated, truncated), info
        return out
'''
