"""Helpers for scripts that write measured figures into BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

import jax

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def machine() -> str:
    """One line naming the machine, the JAX backend and the package versions."""
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


T_975 = {  # two-sided 95% Student-t quantiles by degrees of freedom
    1: 12.71,
    2: 4.30,
    3: 3.18,
    4: 2.78,
    5: 2.57,
    6: 2.45,
    7: 2.36,
    8: 2.31,
    9: 2.26,
    10: 2.23,
    14: 2.14,
    19: 2.09,
    29: 2.05,
    31: 2.04,
}


def t_quantile(dof: int) -> float:
    """The two-sided 95% Student-t quantile for ``dof`` degrees of freedom (rounded down to a
    tabulated ``dof``, which widens the interval slightly)."""
    known = [k for k in sorted(T_975) if k <= dof]
    return T_975[known[-1]] if known else T_975[1]
