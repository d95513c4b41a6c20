"""Where the compile time of the train function goes, and what XLA's options do to it.

    python scripts/compile_time.py --write

For each configuration (one agent, ``key(0)``), in a fresh Python process so nothing is cached:
the time to trace ``jax.jit(train)``, to lower it to StableHLO and to XLA-compile it, then the
run time of the compiled program (the faster of two runs). The same is measured for the default
configuration compiled with a few XLA options passed through ``jax.jit(...,
compiler_options=...)`` or ``XLA_FLAGS``, which trade optimisation for compile time. The time to
solve (see ``scripts/time_to_solve.py``) cannot be shorter than trace + lower + compile.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from _common import compile_agents, header, run_worker, write_section

CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "no in-training evaluation": {"eval_episodes": 0},
    "no LayerNorm": {"layer_norm": False},
    "one-step targets, no LayerNorm": {"n_step": 1, "layer_norm": False},
    "all three": {"eval_episodes": 0, "n_step": 1, "layer_norm": False},
}
OPTIONS: dict[str, dict[str, Any]] = {
    "xla_backend_optimization_level=0": {"xla_backend_optimization_level": 0},
    "xla_backend_optimization_level=1": {"xla_backend_optimization_level": 1},
    "xla_llvm_disable_expensive_passes": {"xla_llvm_disable_expensive_passes": True},
    "exec_time_optimization_effort=-1": {"exec_time_optimization_effort": -1.0},
}
FLAGS: dict[str, str] = {  # XLA_FLAGS of the worker process
    "xla_cpu_parallel_codegen_split_count=1": "--xla_cpu_parallel_codegen_split_count=1",
    "xla_cpu_multi_thread_eigen=false": "--xla_cpu_multi_thread_eigen=false",
}
TIMESTEPS = 20_000  # the run column; compile time does not depend on it


def worker(overrides: dict[str, Any], options: dict[str, Any]) -> dict[str, float]:
    import jax

    import dqn_jax

    config = dqn_jax.DQNConfig(**{"total_timesteps": TIMESTEPS, "log_interval": 5_000, **overrides})
    program = compile_agents(dqn_jax.make_train(config), compiler_options=options or None)
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        jax.block_until_ready(program())
        runs.append(time.perf_counter() - start)
    return {
        "trace_s": program.trace_s,
        "lower_s": program.lower_s,
        "compile_s": program.xla_compile_s,
        "run_s": min(runs),
    }


def measure(
    overrides: dict[str, Any], options: dict[str, Any], xla_flags: str = ""
) -> dict[str, float]:
    """``worker`` in a fresh Python process, ``xla_flags`` added to its ``XLA_FLAGS``."""
    spec = json.dumps({"overrides": overrides, "options": options})
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()}
    return run_worker(__file__, spec, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(worker(spec["overrides"], spec["options"])))
        return
    rows = []
    for label, overrides in CONFIGS.items():
        rows.append((label, "none", measure(overrides, {})))
        print(rows[-1], flush=True)
    for label, options in OPTIONS.items():
        rows.append(("defaults", label, measure({}, options)))
        print(rows[-1], flush=True)
    for label, flags in FLAGS.items():
        rows.append(("defaults", f"XLA_FLAGS {label}", measure({}, {}, flags)))
        print(rows[-1], flush=True)
    lines = [
        "| config | XLA options | trace (s) | lower (s) | XLA compile (s) | **total (s)** | "
        f"run of {TIMESTEPS:,} env steps (s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, options, r in rows:
        total = r["trace_s"] + r["lower_s"] + r["compile_s"]
        lines.append(
            f"| {label} | {options} | {r['trace_s']:.2f} | {r['lower_s']:.2f} | "
            f"{r['compile_s']:.2f} | **{total:.2f}** | {r['run_s']:.2f} |"
        )
    print("\n".join(lines))
    if args.write:
        text = [
            *header("Compile time of the train function"),
            "One agent, each row in a fresh process (no compilation cache); the run column is the "
            f"faster of two runs of the compiled program with total_timesteps={TIMESTEPS:,}.",
            "",
            *lines,
        ]
        write_section("compile-time", "\n".join(text))


if __name__ == "__main__":
    main()
