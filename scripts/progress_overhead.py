"""Run-time overhead of the in-jit progress bar on the default config (one agent).

    python scripts/progress_overhead.py --repeats 3 --write

Compiles ``make_train(config)`` and ``make_train(config, progress=ProgressBar(...))`` ahead of
time, then runs the two compiled programs alternately (so drifts in machine load hit both) and
compares their fastest runs (other load only ever adds time, so the minimum is the steadiest
estimate). It also times the host side of every report, the part the bar adds for certain. With
``--write`` the result goes into ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
from _common import compile_agents, header, write_section

import dqn_jax
from dqn_jax.loop.progress import DEFAULT_INTERVAL, ProgressBar


class TimedBar(ProgressBar):
    """A progress bar that also counts its reports and the host time they take."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reports = 0
        self.seconds = 0.0

    def __call__(self, env_steps, recent_return) -> None:
        start = time.perf_counter()
        super().__call__(env_steps, recent_return)
        self.seconds += time.perf_counter() - start
        self.reports += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--interval", type=int, default=DEFAULT_INTERVAL)
    parser.add_argument("--write", action="store_true", help="write the result to BENCHMARKS.md")
    args = parser.parse_args()

    config = dqn_jax.DQNConfig()
    bar = TimedBar(config.total_timesteps, args.interval)
    programs = {}
    for name, progress in (("off", None), ("on", bar)):
        programs[name] = compile_agents(dqn_jax.make_train(config, progress=progress))
        print(f"progress {name}: compiled in {programs[name].compile_s:.1f} s", flush=True)

    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for name in ("off", "on"):
            start = time.perf_counter()
            jax.block_until_ready(programs[name]())
            times[name].append(time.perf_counter() - start)
            bar.close()
            print(f"progress {name}: {times[name][-1]:.2f} s", flush=True)

    load = (load_before + os.getloadavg()[0]) / 2
    off, on = min(times["off"]), min(times["on"])
    overhead = on / off - 1
    reports = bar.reports // args.repeats
    host = bar.seconds / args.repeats
    print(
        f"fastest off {off:.2f} s, on {on:.2f} s: overhead {100 * overhead:+.1f}%; "
        f"{reports} reports take {1000 * host:.1f} ms of host time per run"
    )
    if args.write:
        runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
        lines = [
            *header("Progress bar: run-time overhead"),
            f"Config: `DQNConfig()` defaults, one agent; the bar is updated every "
            f"{args.interval:,} env steps ({reports} `jax.debug.callback` calls per run, each "
            "behind a `lax.cond` on the round index). Both programs are compiled ahead of time "
            f"and run alternately, {args.repeats} times each; the overhead compares the fastest "
            "runs (other jobs on the machine only ever add time). Load average while measuring: "
            f"{load:.1f} on {os.cpu_count()} cores.",
            "",
            "| progress | runs (s) | fastest (s) | median (s) |",
            "|---|---|---:|---:|",
            f"| off (`make_train(config)`) | {runs(times['off'])} | {off:.2f} | "
            f"{statistics.median(times['off']):.2f} |",
            f"| on (`progress=ProgressBar(...)`) | {runs(times['on'])} | {on:.2f} | "
            f"{statistics.median(times['on']):.2f} |",
            "",
            f"Overhead: **{100 * overhead:+.1f}%** of the run time (fastest runs). The host side "
            f"of the {reports} reports takes {1000 * host:.1f} ms per run "
            f"({100 * host / off:.2f}% of it).",
        ]
        write_section("progress-overhead", "\n".join(lines))


if __name__ == "__main__":
    main()
