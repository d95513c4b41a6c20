"""Learning curve of the default config: N seeds as one vmapped program, plotted to a PNG.

    python scripts/learning_curve.py --seeds 10 --out docs/learning_curve.png

The curve is the greedy evaluation return logged during training (mean over seeds, with a 95%
Student-t interval band and the min-max range); the title gives the final networks'
greedy mean over 100 episodes each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np
from _report import t_quantile

import dqn_jax

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("docs/learning_curve.png"))
    args = parser.parse_args()

    config = dqn_jax.DQNConfig()
    keys = jax.random.split(jax.random.key(0), args.seeds)
    start = time.perf_counter()
    results = jax.block_until_ready(jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys))
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.key(1), args.seeds)
    final = jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, 100).mean())(
        results.q_network, eval_keys
    )
    final = np.asarray(final)

    steps = np.asarray(results.metrics.env_steps[0])
    curves = np.asarray(results.metrics.eval_return)  # (seeds, logs)
    mean = curves.mean(axis=0)
    half = t_quantile(args.seeds - 1) * curves.std(axis=0, ddof=1) / np.sqrt(args.seeds)

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), alpha=0.15, label="min-max")
    ax.fill_between(steps, mean - half, mean + half, alpha=0.35, label="95% CI of the mean")
    ax.plot(steps, mean, lw=2, label=f"mean of {args.seeds} seeds")
    ax.axhline(475, color="k", ls="--", lw=1, label="solved (475)")
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"greedy return ({config.eval_episodes} episodes)")
    ax.set_ylim(0, 520)
    solved = int((final >= 475).sum())
    ax.set_title(
        f"DQNConfig() on {config.env_name}: {solved}/{args.seeds} final networks solve "
        f"(100-episode mean >= 475)",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"{args.seeds} seeds trained in {seconds:.1f} s (one vmapped call, compile included)")
    print(f"final greedy means: {np.round(final, 1).tolist()}")
    print(f"solved: {solved}/{args.seeds}; wrote {args.out}")


if __name__ == "__main__":
    main()
