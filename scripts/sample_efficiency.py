"""The sample-efficiency front on CartPole-v1: gradient steps per seed against the share of seeds
whose final network solves it.

    python scripts/sample_efficiency.py --config defaults \\
        --config "1 update per round:gradient_steps=1" --json docs/sample_efficiency.jsonl
    python scripts/sample_efficiency.py --from-json docs/sample_efficiency.jsonl --write

Each ``--config`` (a label, then ``FIELD=VALUE`` overrides of ``DQNConfig()`` separated by commas)
trains two sets of 30 seeds, ``split(key(1), 30)`` and ``split(key(2), 30)`` (``--seed-sets``,
``--seeds``), as one vmapped program. Every seed's **final** network (no best-so-far pick) is scored
by its greedy mean return over 100 episodes; it solves CartPole-v1 at >= 475. The table lists the
configurations by gradient steps per seed and marks the front: the rows that no other row beats
on both counts (as few or fewer gradient steps and more seeds solved, or fewer steps and as many).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from typing import Any

from _common import add_row_flags, append_row, header, parse_config, read_rows, write_rows_section

THRESHOLD = 475.0
EPISODES = 100


def measure(label: str, overrides: dict[str, Any], seed_sets: list[int], seeds: int) -> dict:
    """Trains ``len(seed_sets) * seeds`` agents of one config in one vmapped program and scores
    each final network over ``EPISODES`` greedy episodes."""
    import jax
    import numpy as np

    import dqn_jax

    config = dqn_jax.DQNConfig(**overrides)
    keys = jax.numpy.concatenate([jax.random.split(jax.random.key(s), seeds) for s in seed_sets])
    start = time.perf_counter()
    result = jax.block_until_ready(jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys))
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.key(10_000), len(keys))
    returns = jax.jit(jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, EPISODES).mean()))(
        result.q_network, eval_keys
    )
    finals = np.asarray(returns).reshape(len(seed_sets), seeds)
    return {
        "label": label,
        "overrides": overrides,
        "config": dataclasses.asdict(config),
        "env_steps": config.total_timesteps,
        "updates": config.num_updates,
        "seed_sets": [f"split(key({s}), {seeds})" for s in seed_sets],
        "solved": [int((f >= THRESHOLD).sum()) for f in finals],
        "seeds": seeds,
        "finals": [[round(float(x), 1) for x in f] for f in finals],
        "seconds": round(seconds, 1),
        "loadavg": round(os.getloadavg()[0], 1),
    }


def front(rows: list[dict[str, Any]]) -> list[bool]:
    """Whether each row is on the front: no other row has <= its gradient steps with more seeds
    solved, or fewer gradient steps with as many."""

    def share(r: dict[str, Any]) -> float:
        return sum(r["solved"]) / (r["seeds"] * len(r["solved"]))

    return [
        not any(
            (o["updates"] <= r["updates"] and share(o) > share(r))
            or (o["updates"] < r["updates"] and share(o) >= share(r))
            for o in rows
        )
        for r in rows
    ]


def changes(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a recorded ``config`` that differ from today's ``DQNConfig()`` (rows keep
    their full config, so they read right after the defaults change)."""
    import dqn_jax

    defaults = json.loads(json.dumps(dataclasses.asdict(dqn_jax.DQNConfig())))
    return {k: v for k, v in config.items() if defaults.get(k) != v}


def section(rows: list[dict[str, Any]], command_line: str = "") -> str:
    """The BENCHMARKS.md section of ``rows``."""
    rows = sorted(rows, key=lambda r: (r["updates"], r["label"]))
    on_front = front(rows)
    lines = [
        *header("Sample-efficiency front on CartPole-v1", command_line),
        "Each row trains one configuration (today's `DQNConfig()` with the changes shown) on "
        "two sets of 30 seeds, `split(key(1), 30)` and `split(key(2), 30)`, as one vmapped "
        "program, and "
        f"scores every seed's final network by its greedy mean return over {EPISODES} episodes; "
        f"a seed solves CartPole-v1 at >= {THRESHOLD:g}. Rows marked **front** are beaten by no "
        "other row on both gradient steps per seed and seeds solved. Raw rows (every seed's "
        "score): `docs/sample_efficiency.jsonl`. Wall time is the 60-seed program, compile "
        "included, with the load average (1 min, 2 cores) at its end.",
        "",
        "| config | changes from the defaults | env steps | gradient steps per seed "
        "| solved (set 1 + set 2) | share | lowest | front | wall (s) |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r, best in zip(rows, on_front, strict=True):
        overrides = ", ".join(f"{k}={v}" for k, v in changes(r["config"]).items()) or "-"
        total = sum(r["solved"])
        n = r["seeds"] * len(r["solved"])
        lowest = min(min(f) for f in r["finals"])
        share = f"{100 * total / n:.0f}%"
        lines.append(
            f"| {r['label']} | {overrides} | {r['env_steps']:,} | {r['updates']:,} "
            f"| {' + '.join(map(str, r['solved']))} = {total}/{n} | "
            f"{f'**{share}**' if best else share} | {lowest:.0f} | {'**front**' if best else ''} "
            f"| {r['seconds']:.0f} (load {r['loadavg']:.1f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", action="append", help='"label:field=value,..." (repeatable)')
    parser.add_argument("--seed-sets", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, default=30, help="seeds per set")
    add_row_flags(parser)
    args = parser.parse_args()
    rows = read_rows(args.from_json)
    for text in [] if args.from_json else args.config or []:
        label, overrides = parse_config(text)
        row = measure(label, overrides, args.seed_sets, args.seeds)
        rows.append(row)
        print(
            f"{label}: {row['updates']:,} gradient steps, solved "
            f"{' + '.join(map(str, row['solved']))}, lowest "
            f"{min(min(f) for f in row['finals']):.0f}, {row['seconds']:.0f} s",
            flush=True,
        )
        append_row(args.json, row)
    write_rows_section("sample-efficiency", section, rows, args)


if __name__ == "__main__":
    main()
