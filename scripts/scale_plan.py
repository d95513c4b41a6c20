"""The planning table of the README's "Scaling out": memory per agent, agents per host, and the
expected wall time of 10^3 to 10^6 agent-runs on N hosts, from measured throughput.

    python scripts/scale_plan.py                       # the README's table (defaults below)
    python scripts/scale_plan.py --total-timesteps 100000 --memory 16 64 --hosts 1 8 64 512

Nothing trains. Bytes per agent come from ``dqn_jax.bytes_per_agent`` (``jax.eval_shape`` of the
training state). Throughput is env steps per second of one host summed over the agents of one
program, as measured in BENCHMARKS.md ("Core train function") for ``DQNConfig(total_timesteps=
10000)`` on a 2-core CPU with ``python scripts/benchmark.py --agents 1 8 32 128 512 --repeats 1
--total-timesteps 10000``: 8,849 (1 agent), 10,422 (8), 14,637 (32), 14,334 (128), 11,002 (512).
Each host takes ``ceil(runs / hosts)`` agents and runs them in chunks of at most 32 (the best
measured size); a chunk of ``c`` agents runs at the measured figure of the largest measured size
``<= c``. A host is one such 2-core unit: give ``--throughput`` (one flat figure) for others.
Compile time (about 7 s per program, once per host and shard), the final evaluation and the time
a scheduler takes to start tasks are left out.
"""

from __future__ import annotations

import argparse

from dqn_jax import DQNConfig, bytes_per_agent

# env steps/s summed over the agents of one program, 2 CPU cores (BENCHMARKS.md)
MEASURED = {1: 8_849, 8: 10_422, 32: 14_637, 128: 14_334, 512: 11_002}
BEST_CHUNK = 32
GIB = 2**30


def duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def host_seconds(agents: int, steps: int, throughput: float | None) -> float:
    """Seconds for one host to train ``agents`` agents of ``steps`` env steps each."""
    if throughput is not None:
        return agents * steps / throughput
    chunk = min(agents, BEST_CHUNK)
    rate = MEASURED[max(n for n in MEASURED if n <= chunk)]
    chunks = -(-agents // chunk)
    return chunks * chunk * steps / rate  # the last chunk is padded to the chunk size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-timesteps", type=int, default=DQNConfig().total_timesteps)
    parser.add_argument("--throughput", type=float, default=None,
                        help="env steps/s of one host, summed over its agents (default: the "
                        "measured figures above)")  # fmt: skip
    parser.add_argument("--memory", type=float, nargs="+", default=[16, 64, 256],
                        help="host (or device) memory in GiB")  # fmt: skip
    parser.add_argument("--headroom", type=float, default=0.5,
                        help="share of the memory the training states may take")  # fmt: skip
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 8, 64, 512])
    parser.add_argument("--runs", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6])
    args = parser.parse_args()

    config = DQNConfig(total_timesteps=args.total_timesteps)
    per_agent = bytes_per_agent(config)
    replay = config.buffer_size
    print(f"Config: DQNConfig(total_timesteps={args.total_timesteps}) (other fields default: "
          f"buffer_size={replay:,}, hidden_sizes={config.hidden_sizes}).")  # fmt: skip
    print(
        f"Bytes per agent (dqn_jax.bytes_per_agent): {per_agent:,} ({per_agent / 2**20:.2f} MiB)."
    )
    print()
    print("| memory per host | agents whose states fit in "
          f"{args.headroom:.0%} of it (--memory-budget) |")  # fmt: skip
    print("|---:|---:|")
    for gib in args.memory:
        print(f"| {gib:g} GiB | {int(gib * GIB * args.headroom // per_agent):,} |")
    print()
    measured = "measured on 2 CPU cores: " + ", ".join(
        f"{rate:,} for {n}" for n, rate in MEASURED.items()
    )
    rate = f"{args.throughput:,.0f}" if args.throughput else measured
    print(f"Wall time, {args.total_timesteps:,} env steps per agent-run, env steps/s per host "
          f"({rate}):")  # fmt: skip
    print()
    print("| agent-runs | env steps | " + " | ".join(f"{n} host" + "s" * (n > 1)
                                                      for n in args.hosts) + " |")  # fmt: skip
    print("|---:|---:|" + "---:|" * len(args.hosts))
    for runs in args.runs:
        steps = runs * args.total_timesteps
        times = [
            duration(host_seconds(-(-runs // hosts), args.total_timesteps, args.throughput))
            for hosts in args.hosts
        ]
        print(f"| {runs:,} | {steps:.1e} | " + " | ".join(times) + " |")


if __name__ == "__main__":
    main()
