"""Compile time, steady-state throughput and memory of the default train function vs agents.

    python scripts/benchmark.py --agents 1 8 32 128 512 --write

For each number of agents (seeds vmapped into one program) it reports the compile time
(trace + lower + XLA compile), the steady-state env steps per second summed over agents (median
of ``--repeats`` runs of the compiled program) and the training state the agents hold
(``dqn_jax.bytes_per_agent``: the replay buffer dominates). With ``--write`` it puts the table in
``BENCHMARKS.md`` with the machine, the versions and this command, and draws throughput against
agents into ``docs/benchmark_agents.png``. ``--total-timesteps`` shortens the runs (the
throughput is a steady state, so 10,000 steps per agent measure it as well as 50,000).

    python scripts/benchmark.py --agents 1 32 --peers --write

With ``--peers`` the same run then measures our DQN against Rejax's (PyPI ``rejax``, in its own
virtual environment that ``scripts/peers.py`` creates when missing) and against a compute floor,
on matched work for ``--peers-agents`` agents, and writes that section too (see
``scripts/peers.py``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import jax
import peers
from _common import compile_agents, header, write_section

import dqn_jax
from dqn_jax.loop.train import abstract_state

PNG = Path(__file__).resolve().parent.parent / "docs" / "benchmark_agents.png"


def measure(config: dqn_jax.DQNConfig, agents: int, repeats: int) -> dict[str, float]:
    program = compile_agents(dqn_jax.make_train(config), agents)  # the runs compile nothing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(program())
        times.append(time.perf_counter() - start)
    run_s = statistics.median(times)
    return {
        "agents": agents,
        "compile_s": program.compile_s,
        "run_s": run_s,
        "steps_per_s": agents * config.total_timesteps / run_s,
    }


def replay_bytes(config: dqn_jax.DQNConfig) -> int:
    """Bytes of one agent's replay buffer (its share of ``bytes_per_agent``)."""
    replay = abstract_state(config).replay
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(replay))


def plot(rows: list[dict[str, float]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = [r["agents"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    speeds = [r["steps_per_s"] for r in rows]
    ax.plot(agents, speeds, marker="o")
    for x, y in zip(agents, speeds, strict=True):
        ax.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.15 * max(speeds))
    ax.set_xticks(agents, [str(a) for a in agents])
    ax.set_xlabel("agents (vmapped into one program)")
    ax.set_ylabel("env steps/s, summed over agents")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 8, 32, 128, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--total-timesteps",
        type=int,
        default=None,
        help="env steps per agent (default: the config's); a multiple of its log_interval",
    )
    parser.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    parser.add_argument(
        "--png", type=Path, default=None, help=f"the plot (default with --write: {PNG})"
    )
    peers_flags = parser.add_argument_group("against Rejax and the compute floor")
    peers_flags.add_argument(
        "--peers", action="store_true", help="also run Rejax's DQN and the floor on matched work"
    )
    peers_flags.add_argument("--peers-agents", type=int, nargs="+", default=[1, 32])
    peers_flags.add_argument(
        "--peers-timesteps",
        type=int,
        default=peers.Work.total_timesteps,
        help="env steps per agent (default %(default)s)",
    )
    peers_flags.add_argument("--peers-repeats", type=int, default=3)
    peers_flags.add_argument(
        "--peers-venv",
        type=Path,
        default=peers.DEFAULT_VENV,
        help="venv with rejax (made if missing)",
    )
    peers_flags.add_argument(
        "--peers-notes", type=Path, help="markdown file appended to the peers section"
    )
    args = parser.parse_args()
    config = dqn_jax.DQNConfig()
    if args.total_timesteps is not None:
        config = config.replace(total_timesteps=args.total_timesteps)
    per_agent, replay = dqn_jax.bytes_per_agent(config), replay_bytes(config)
    print(
        f"bytes per agent: {per_agent:,} (replay {replay:,}, {replay / per_agent:.0%})", flush=True
    )
    rows = []
    for agents in args.agents:
        row = measure(config, agents, args.repeats)
        rows.append(row)
        print(
            f"{agents:>5} agents: compile {row['compile_s']:6.2f} s, run {row['run_s']:7.2f} s, "
            f"{row['steps_per_s']:>12,.0f} env steps/s, "
            f"state {agents * per_agent / 2**20:,.1f} MiB",
            flush=True,
        )
    png = args.png or (PNG if args.write else None)
    if png is not None:
        plot(rows, png, f"DQNConfig() on {config.env_name}, {jax.default_backend()}")
        print(f"Wrote {png}")
    if args.write:
        name = (
            "DQNConfig()"
            if args.total_timesteps is None
            else (f"DQNConfig(total_timesteps={args.total_timesteps})")
        )
        lines = [
            *header("Core train function: compile time, throughput and memory vs agents"),
            f"Config: `{name}` ({config.total_timesteps:,} env steps, "
            f"{config.num_envs} envs, {config.num_updates:,} gradient steps of batch "
            f"{config.batch_size} per agent, {config.eval_episodes} greedy eval episodes at each "
            f"of {config.num_logs} logging points).",
            "Steady state is the median of "
            f"{args.repeats} runs of the compiled program; env steps/s are summed over agents.",
            f"Bytes per agent (`dqn_jax.bytes_per_agent`, the training state): {per_agent:,}, of "
            f"which the replay buffer ({config.buffer_size:,} transitions) is {replay:,} "
            f"({replay / per_agent:.0%}). Plot: `docs/{png.name}`.",
            "",
            "| agents | compile (s) | one run (s) | env steps/s | training state (MiB) |",
            "|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['agents']} | {r['compile_s']:.2f} | {r['run_s']:.2f} | "
            f"{r['steps_per_s']:,.0f} | {r['agents'] * per_agent / 2**20:,.1f} |"
            for r in rows
        ]
        write_section("benchmark-core", "\n".join(lines))
    if args.peers:  # ours vs Rejax vs the compute floor on matched work (scripts/peers.py)
        work = peers.Work(total_timesteps=args.peers_timesteps)
        result = peers.compare(
            tuple(args.peers_agents), work, args.peers_repeats, args.peers_venv, breakdown=True
        )
        notes = args.peers_notes.read_text() if args.peers_notes else ""
        peers.report(result, notes, args.write)


if __name__ == "__main__":
    main()
