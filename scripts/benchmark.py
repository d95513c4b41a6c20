"""Compile time and steady-state throughput of the default train function.

    python scripts/benchmark.py --agents 1 32 --write

For each number of agents (seeds vmapped into one program) it reports the compile time
(trace + lower + XLA compile) and the steady-state env steps per second summed over agents
(median of ``--repeats`` runs of the compiled program), and with ``--write`` puts the table in
``BENCHMARKS.md`` with the machine, the versions and this command.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
from _report import command, machine, write_section

import dqn_jax


def measure(config: dqn_jax.DQNConfig, agents: int, repeats: int) -> dict[str, float]:
    train = dqn_jax.make_train(config)
    fn = jax.jit(jax.vmap(train)) if agents > 1 else jax.jit(train)
    keys = jax.random.split(jax.random.key(0), agents) if agents > 1 else jax.random.key(0)
    start = time.perf_counter()
    compiled = fn.lower(keys).compile()
    compile_s = time.perf_counter() - start  # ahead of time: the runs below compile nothing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(keys))
        times.append(time.perf_counter() - start)
    run_s = statistics.median(times)
    return {
        "agents": agents,
        "compile_s": compile_s,
        "run_s": run_s,
        "steps_per_s": agents * config.total_timesteps / run_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    args = parser.parse_args()
    config = dqn_jax.DQNConfig()
    rows = []
    for agents in args.agents:
        row = measure(config, agents, args.repeats)
        rows.append(row)
        print(
            f"{agents:>5} agents: compile {row['compile_s']:6.2f} s, run {row['run_s']:7.2f} s, "
            f"{row['steps_per_s']:>12,.0f} env steps/s",
            flush=True,
        )
    if args.write:
        lines = [
            "## Core train function: compile time and throughput",
            "",
            f"Machine: {machine()}.",
            f"Command: `{command()}`.",
            f"Config: `DQNConfig()` defaults ({config.total_timesteps:,} env steps, "
            f"{config.num_envs} envs, {config.num_updates:,} gradient steps of batch "
            f"{config.batch_size} per agent, {config.eval_episodes} greedy eval episodes at each "
            f"of {config.num_logs} logging points).",
            "Steady state is the median of "
            f"{args.repeats} runs of the compiled program; env steps/s are summed over agents.",
            "",
            "| agents | compile (s) | one run (s) | env steps/s |",
            "|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['agents']} | {r['compile_s']:.2f} | {r['run_s']:.2f} | {r['steps_per_s']:,.0f} |"
            for r in rows
        ]
        write_section("benchmark-core", "\n".join(lines))


if __name__ == "__main__":
    main()
