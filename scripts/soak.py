"""Soak test: one long CartPole-v1 run on CPU, checked for NaN, memory growth and return stability.

    python scripts/soak.py                       # 2,000,000 env steps of DQNConfig() defaults
    python scripts/soak.py --steps 200000 --write

Runs ``train.step`` (one logging interval, jitted once) over and over, like ``dqn-jax train``,
and samples the process's resident memory after every interval. It reports

- **NaN**: ``dqn_jax.check`` (no agent diverged), and whether every logged loss, Q-value and
  gradient norm after learning starts is finite;
- **memory**: resident set size (RSS) after the first interval (compile done, buffers allocated)
  and at the end, and the peak; a flat run keeps them within a few MiB;
- **returns**: the greedy evaluation return (``eval_episodes`` episodes at every logging point)
  averaged over consecutive tenths of the run, and the fraction of logging points at 500.

With ``--write`` the result goes into ``BENCHMARKS.md``. Not a CI test: it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import header, write_section

import dqn_jax


def rss_mib() -> float:
    """The current resident set size of this process, in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib(samples: np.ndarray) -> float:
    """The largest RSS seen: the kernel's high-water mark (KiB on Linux), which it updates
    lazily, or the largest sample."""
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, float(samples.max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2_000_000, help="env steps (default 2M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the result to BENCHMARKS.md")
    args = parser.parse_args()

    config = dqn_jax.DQNConfig(total_timesteps=args.steps)
    train = dqn_jax.make_train(config)
    hparams = dqn_jax.HParams.from_config(config)
    begin = time.perf_counter()
    state = jax.jit(train.init)(jax.random.key(args.seed), hparams)
    step = jax.jit(train.step)
    # Preallocated host arrays: keeping every interval's small arrays alive would fragment the
    # heap and read as growth that is not the run's.
    shapes = jax.eval_shape(train.step, state, hparams, 0)[1]
    logged = {n: np.empty(config.num_logs, x.dtype) for n, x in shapes._asdict().items()}
    rss = np.empty(config.num_logs)
    load_before = os.getloadavg()[0]
    for interval in range(config.num_logs):
        state, metrics = step(state, hparams, jnp.int32(interval))
        for name, value in metrics._asdict().items():
            logged[name][interval] = value
        rss[interval] = rss_mib()
        if (interval + 1) % max(1, config.num_logs // 20) == 0:
            print(
                f"env steps {int(metrics.env_steps):>9,}  eval {float(metrics.eval_return):6.1f}"
                f"  loss {float(metrics.loss):8.4f}  RSS {rss[interval]:7.1f} MiB",
                flush=True,
            )
    seconds = time.perf_counter() - begin
    load = (load_before + os.getloadavg()[0]) / 2
    metrics = dqn_jax.Metrics(**logged)

    try:
        dqn_jax.check(state)
        diverged = "none"
    except dqn_jax.DivergenceError as error:
        diverged = str(error)
    learning = np.asarray(metrics.env_steps) > config.learning_starts + config.log_interval
    finite = all(
        np.isfinite(np.asarray(getattr(metrics, name))[learning]).all()
        for name in ("loss", "q_mean", "grad_norm")
    )
    returns = np.asarray(metrics.eval_return)
    tenths = np.array_split(returns, min(10, len(returns)))
    at_500 = float(np.mean(returns >= 500))
    print(f"{args.steps:,} env steps in {seconds:.0f} s; diverged: {diverged}; finite: {finite}")
    warm = rss[max(0, config.num_logs // 10 - 1)]  # allocator warm-up is over by then
    peak = peak_rss_mib(rss)
    print(
        f"RSS after the first interval {rss[0]:.1f} MiB, after a tenth of the run {warm:.1f} "
        f"MiB, at the end {rss[-1]:.1f} MiB, peak {peak:.1f} MiB"
    )
    print("greedy eval return by tenth of the run:", " ".join(f"{t.mean():.0f}" for t in tenths))

    if args.write:
        tenth = args.steps // 10
        lines = [
            *header("Soak: a long CartPole-v1 run"),
            f"Config: `DQNConfig(total_timesteps={args.steps:,})` (the defaults otherwise, so "
            f"the learning rate decays to 0 over the whole run), one agent, `train.step` jitted "
            f"once and called for each of the {config.num_logs} logging intervals; "
            f"{seconds:.0f} s in all (compile included), load average {load:.1f} on "
            f"{os.cpu_count()} cores.",
            "",
            "| check | result |",
            "|---|---|",
            f"| diverged (`dqn_jax.check`) | {diverged} |",
            f"| loss, Q and gradient norm finite at every logging point after learning starts "
            f"| {'yes' if finite else 'NO'} |",
            f"| RSS after the first interval / after a tenth of the run / at the end / peak "
            f"(MiB) | {rss[0]:.1f} / {warm:.1f} / {rss[-1]:.1f} / {peak:.1f} |",
            f"| greedy evaluation at 500 ({config.eval_episodes} episodes per logging point) "
            f"| {100 * at_500:.0f}% of logging points |",
            "",
            f"Greedy evaluation return, mean over each tenth of the run ({tenth:,} env steps):",
            "",
            "| " + " | ".join(f"{(i + 1) * tenth // 1000:,}k" for i in range(len(tenths))) + " |",
            "|" + "---:|" * len(tenths),
            "| " + " | ".join(f"{t.mean():.0f}" for t in tenths) + " |",
        ]
        write_section("soak", "\n".join(lines))


if __name__ == "__main__":
    main()
