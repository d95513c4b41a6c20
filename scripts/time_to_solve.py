"""Time to solve CartPole-v1: wall-clock from calling the not yet compiled train function to a
network whose greedy mean return over 100 episodes is >= 475, compile included.

    python scripts/time_to_solve.py --write
    python scripts/time_to_solve.py --config defaults \\
        --config "20k steps:total_timesteps=20000,eval_episodes=0" --write

Each ``--config`` (a label, then ``FIELD=VALUE`` overrides of ``DQNConfig()`` separated by commas)
is run for one seed (``key(0)``) and for ``--seeds`` seeds vmapped into one program
(``split(key(0), seeds)``), each in a fresh Python process so nothing is compiled beforehand.
With ``--warm-cache`` each is then run twice more with JAX's persistent compilation cache in a
new temporary folder: the first run fills it, the second (reported as a separate row) is what a
later process training the same config (any hyper-parameter values) pays.
The clock starts before ``make_train`` and stops when the trained network is on the host; it is
split into compile (trace, lower and XLA compile of ``jax.jit(train)``) and run. The 100 greedy
episodes that check the network (one vmapped program for all seeds) are timed separately, as is
the import of JAX and dqn_jax.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import compile_agents, header, parse_overrides, run_worker, write_section

START = time.perf_counter()

THRESHOLD = 475.0
GOALS = {1: 5.0, 10: 15.0}  # seconds: the project's targets for one and for ten seeds


def parse_config(text: str) -> tuple[str, dict[str, Any]]:
    """``"label:field=value,field=value"`` (or just ``"label"``) -> (label, overrides)."""
    label, _, rest = text.partition(":")
    return label.strip(), parse_overrides(s for s in rest.split(",") if s.strip())


def worker(seeds: int, overrides: dict[str, Any], cache: str | None = None) -> dict[str, Any]:
    """Runs in a fresh process: train (compile + run), then the 100-episode greedy check;
    ``cache`` is a folder for JAX's persistent compilation cache (``None``: no cache)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    if cache is not None:
        jax.config.update("jax_compilation_cache_dir", cache)

    import dqn_jax
    from dqn_jax.loop.evaluation import run_episodes

    import_s = time.perf_counter() - START
    t0 = time.perf_counter()
    config = dqn_jax.DQNConfig(**overrides)
    train = dqn_jax.make_train(config)
    program = compile_agents(train, seeds)
    t1 = time.perf_counter()
    result = program()
    params = jax.block_until_ready(eqx.filter(result.q_network, eqx.is_array))
    t2 = time.perf_counter()

    spec, q_static = train.env_spec, train.q_static

    def check(params: Any, key: jax.Array) -> jax.Array:
        return jnp.mean(run_episodes(eqx.combine(params, q_static), spec, key, 100))

    eval_keys = jax.random.split(jax.random.key(1), seeds)
    if seeds > 1:
        scores = jax.jit(jax.vmap(check))(params, eval_keys)
    else:
        scores = jax.jit(check)(params, eval_keys[0])[None]
    scores = [float(s) for s in jax.block_until_ready(scores)]
    t3 = time.perf_counter()
    return {
        "seeds": seeds,
        "import_s": import_s,
        "compile_s": t1 - t0,
        "run_s": t2 - t1,
        "to_network_s": t2 - t0,
        "check_s": t3 - t2,
        "scores": scores,
        "solved": sum(s >= THRESHOLD for s in scores),
        "env_steps": config.total_timesteps,
        "updates": config.num_updates,
        "loadavg": os.getloadavg()[0],
        "cache": cache is not None,
    }


def measure(seeds: int, overrides: dict[str, Any], cache: str | None = None) -> dict[str, Any]:
    """``worker`` in a fresh Python process."""
    return run_worker(__file__, str(seeds), json.dumps(overrides), *([cache] if cache else []))


def verdict(row: dict[str, Any]) -> str:
    goal = GOALS.get(row["seeds"])
    if goal is None or row.get("cache"):  # the goals time a program not yet compiled
        return "-"
    need = 1 if row["seeds"] == 1 else row["seeds"] - 1
    time_ok = row["to_network_s"] <= goal
    solved_ok = row["solved"] >= need
    if time_ok and solved_ok:
        return f"met (<= {goal:g} s)"
    parts = []
    if not time_ok:
        parts.append(f"{row['to_network_s'] - goal:.1f} s over {goal:g} s")
    if not solved_ok:
        parts.append(f"{row['solved']} solved, goal {need}")
    return "missed: " + "; ".join(parts)


def section(rows: list[dict[str, Any]], command_line: str = "") -> str:
    """The BENCHMARKS.md section of ``rows``, naming ``command_line`` (default: this one's)."""
    loads = ", ".join(f"{r['loadavg']:.1f}" for r in rows)
    lines = [
        *header("Time to solve CartPole-v1 (compile included)", command_line),
        "Wall-clock from calling the not yet compiled train function (clock started before "
        "`make_train`, each measurement in a fresh Python process, no compilation cache) to the "
        "trained network on the host, split into compile (trace, lower and XLA compile of "
        "`jax.jit(train)`, vmapped over seeds for several) and run. A seed is solved when its "
        f"final network's greedy mean over 100 episodes is >= {THRESHOLD:g}; that check (one "
        "vmapped program, compile included) is timed apart, as is importing JAX and dqn_jax. "
        "Seeds: `key(0)` for one seed, `split(key(0), N)` for N. Goals: <= 5 s for one seed, "
        f"<= 15 s for 10 seeds with >= 9 solved. Load average (1 min) at the end of each "
        f"measurement: {loads} on {os.cpu_count()} cores.",
    ]
    if any(r.get("cache") for r in rows):
        lines[-1] += (
            " Rows labelled (cache warm) are the exception: a third process, run after a "
            "second one had filled JAX's persistent compilation cache "
            "(`jax_compilation_cache_dir`) with the same program, as a later run of the same "
            "config pays; the goals are not judged on them."
        )
    lines += [
        "",
        "| config | seeds | env steps / gradient steps per seed | compile (s) | run (s) "
        "| **time to network (s)** | solved | greedy means | check (s) | import (s) | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        scores = ", ".join(f"{s:.0f}" for s in r["scores"])
        lines.append(
            f"| {r['label']} | {r['seeds']} | {r['env_steps']:,} / {r['updates']:,} "
            f"| {r['compile_s']:.1f} | {r['run_s']:.1f} | **{r['to_network_s']:.1f}** "
            f"| {r['solved']}/{r['seeds']} | {scores} | {r['check_s']:.1f} | {r['import_s']:.1f} "
            f"| {verdict(r)} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--worker":
        cache = sys.argv[4] if len(sys.argv) == 5 else None
        print(json.dumps(worker(int(sys.argv[2]), json.loads(sys.argv[3]), cache)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        action="append",
        help='"label:field=value,..." (repeatable); default: "defaults", i.e. DQNConfig()',
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 10])
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="also time a later process with the persistent compilation cache filled",
    )
    parser.add_argument("--json", type=Path, help="append every row to this JSON-lines file")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: render the rows of an earlier --json"
    )
    parser.add_argument("--command", help="the command line to name (with --from-json)")
    parser.add_argument("--notes", type=Path, help="markdown file added under the table")
    parser.add_argument("--write", action="store_true", help="write the section to BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    if args.from_json:
        rows = [json.loads(line) for line in args.from_json.read_text().splitlines() if line]
    for text in [] if args.from_json else args.config or ["defaults"]:
        label, overrides = parse_config(text)
        for seeds in args.seeds:
            runs = [{"label": label, "overrides": overrides, **measure(seeds, overrides)}]
            if args.warm_cache:
                with tempfile.TemporaryDirectory() as cache:
                    measure(seeds, overrides, cache)  # fills the cache
                    warm = measure(seeds, overrides, cache)
                runs.append({"label": f"{label} (cache warm)", "overrides": overrides, **warm})
            for row in runs:
                rows.append(row)
                print(
                    f"{row['label']} | {seeds} seeds: compile {row['compile_s']:.1f} s + run "
                    f"{row['run_s']:.1f} s = {row['to_network_s']:.1f} s, solved "
                    f"{row['solved']}/{seeds} ({', '.join(f'{s:.0f}' for s in row['scores'])}); "
                    f"check {row['check_s']:.1f} s; {verdict(row)}",
                    flush=True,
                )
                if args.json:
                    with args.json.open("a") as f:
                        f.write(json.dumps(row) + "\n")
    if args.write:
        text = section(rows, args.command or "")
        if args.notes:
            text += "\n\n" + args.notes.read_text().strip()
        write_section("time-to-solve", text)


if __name__ == "__main__":
    main()
