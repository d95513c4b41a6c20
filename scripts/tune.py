"""Evaluate a DQNConfig over many seeds: fraction of final networks solving CartPole-v1.

python scripts/tune.py --seeds 30 --set total_timesteps=50000 learning_rate=1e-3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from _common import parse_overrides

import dqn_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=475.0)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--record", type=Path, help="append the result as a JSON line here")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    config = dqn_jax.DQNConfig(**overrides)
    keys = jax.random.split(jax.random.key(args.seed_offset), args.seeds)
    start = time.perf_counter()
    results = jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys)
    jax.block_until_ready(results)
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.key(10_000 + args.seed_offset), args.seeds)
    returns = jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, args.episodes))(
        results.q_network, eval_keys
    )
    final = np.asarray(returns.mean(axis=1))
    solved = final >= args.threshold
    curve = np.asarray(jnp.nanmean(results.metrics.eval_return, axis=0))
    record = json.dumps(
        {
            "overrides": overrides,
            "config": dataclasses.asdict(config),
            "seeds": f"split(key({args.seed_offset}), {args.seeds})",
            "jax": jax.__version__,
            "solved": f"{solved.sum()}/{args.seeds}",
            "final_mean": round(float(final.mean()), 1),
            "final_min": round(float(final.min()), 1),
            "seconds": round(seconds, 1),
            "curve": [round(float(c)) for c in curve],
            "finals": [round(float(f)) for f in final],
        }
    )
    print(record)
    if args.record:
        with args.record.open("a") as f:
            f.write(record + "\n")


if __name__ == "__main__":
    main()
