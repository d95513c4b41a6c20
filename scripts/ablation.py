"""Ablation of the DQN family: each variant trained on N seeds (one vmapped program per variant and
environment), scored by its final networks.

    python scripts/ablation.py --seeds 10 --write

Every variant is plain DQN (the ``"dqn"`` preset: no Double, Dueling, PER or n-step; the other
fields at their ``DQNConfig`` defaults) plus one component, except ``rainbow_lite`` (Double +
Dueling + proportional PER + 3-step). For each, the table gives the final networks' greedy
return (mean over seeds of a 100-episode mean, with a 95% Student-t interval), the seeds whose
final network reaches the solve threshold, and the env steps at which the in-training greedy
evaluation first reached it (median over the seeds that did). Learning curves (the in-training
greedy evaluation, mean and 95% band) go to ``docs/ablation_<env>.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np
from _common import header, parse_overrides, write_section

import dqn_jax
from dqn_jax.config import PRESETS
from dqn_jax.viz.stats import t_critical

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# Every variant sets all the family's switches (the presets do), so the table does not depend on
# the library defaults; each changes one thing from plain DQN, except rainbow-lite.
VARIANTS: dict[str, dict] = {
    "dqn": PRESETS["dqn"],
    "double": PRESETS["double"],
    "dueling": PRESETS["dueling"],
    "per_proportional": PRESETS["per"],
    "per_rank": {**PRESETS["dqn"], "prioritized": "rank"},
    "n_step_3": PRESETS["n_step"],
    "boltzmann": {**PRESETS["dqn"], "exploration": "boltzmann"},
    "rainbow_lite": PRESETS["rainbow_lite"],
}

# Solve thresholds: gym's reward_threshold for each task.
ENVS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0}


def run_variant(config: dqn_jax.DQNConfig, seeds: int, threshold: float) -> dict:
    keys = jax.random.split(jax.random.key(0), seeds)
    start = time.perf_counter()
    results = jax.block_until_ready(jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys))
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.key(1), seeds)
    final = np.asarray(
        jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, 100).mean())(
            results.q_network, eval_keys
        )
    )
    steps = np.asarray(results.metrics.env_steps[0])
    curves = np.asarray(results.metrics.eval_return)  # (seeds, logs)
    reached = curves >= threshold
    first = [steps[np.argmax(r)] for r in reached if r.any()]
    return dict(
        final=final,
        steps=steps,
        curves=curves,
        seconds=seconds,
        first=first,
        diverged=int(np.sum(~np.isfinite(np.asarray(results.metrics.loss[:, -1])))),
    )


def ci_half(x: np.ndarray) -> float:
    return float(t_critical(len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def plot(env_name: str, threshold: float, runs: dict[str, dict], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for name, run in runs.items():
        mean = run["curves"].mean(axis=0)
        half = np.array([ci_half(c) for c in run["curves"].T])
        (line,) = ax.plot(run["steps"], mean, lw=1.6, label=name)
        ax.fill_between(run["steps"], mean - half, mean + half, alpha=0.15, color=line.get_color())
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("env steps")
    ax.set_ylabel("greedy return (in-training evaluation)")
    seeds = len(next(iter(runs.values()))["final"])
    ax.set_title(f"{env_name}: mean of {seeds} seeds, 95% CI band", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def table(env_name: str, threshold: float, runs: dict[str, dict], config_note: str) -> str:
    lines = [
        f"### {env_name} (solved: 100-episode greedy mean >= {threshold:g}; {config_note})",
        "",
        "| variant | final return | 95% CI | solved | steps to threshold (median) | time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        final = run["final"]
        n = len(final)
        first = run["first"]
        to_threshold = f"{int(np.median(first)):,} ({len(first)}/{n} seeds)" if first else "never"
        lines.append(
            f"| {name} | {final.mean():.1f} | ± {ci_half(final):.1f} | "
            f"{int((final >= threshold).sum())}/{n} | {to_threshold} | {run['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--envs", nargs="*", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="FIELD=VALUE", help="base config overrides"
    )
    parser.add_argument("--write", action="store_true", help="write the tables to BENCHMARKS.md")
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()

    base = parse_overrides(args.set)
    sections = []
    for env_name in args.envs:
        threshold = ENVS[env_name]
        runs = {}
        for name in args.variants:
            config = dqn_jax.DQNConfig(**{**base, "env_name": env_name, **VARIANTS[name]})
            runs[name] = run_variant(config, args.seeds, threshold)
            final = runs[name]["final"]
            print(
                f"{env_name} {name}: final {final.mean():.1f} ± {ci_half(final):.1f}, "
                f"solved {int((final >= threshold).sum())}/{args.seeds}, "
                f"{runs[name]['seconds']:.0f} s",
                flush=True,
            )
        out = args.figures / f"ablation_{env_name.split('-')[0].lower()}.png"
        plot(env_name, threshold, runs, out)
        note = f"{config.total_timesteps:,} env steps, curves in `{out}`"
        sections.append(table(env_name, threshold, runs, note))
        print(sections[-1], flush=True)

    if args.write:
        lines = [
            *header("The DQN family: ablation"),
            "Each variant is plain DQN (the `dqn` preset: no Double, Dueling, PER or n-step; "
            "other fields at the `DQNConfig` defaults) plus one component; `rainbow_lite` is "
            "Double + Dueling(mean) + proportional PER + 3-step. Seeds "
            f"`split(key(0), {args.seeds})`, one vmapped program per row; final networks "
            "evaluated on 100 greedy episodes each (seeds `split(key(1), N)`). Time is compile "
            "plus run of the whole row.",
        ]
        write_section("ablation", "\n\n".join(["\n".join(lines), *sections]))


if __name__ == "__main__":
    main()
