"""What a saved run shows: ``dqn-jax eval``, ``plot`` and ``render``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dqn_jax.cli.common import (
    PLOT_INSTALL_HINT,
    UsageError,
    _agent_labels,
    _check_divergence,
    _evaluate_agents,
    _print_evaluation,
)


def _cmd_eval(args: argparse.Namespace) -> None:
    import jax

    from dqn_jax.storage.runs import CHECKPOINT_FILE, load_checkpoint, q_network, read_config

    folder = Path(args.run)
    info = read_config(folder)
    checkpoint = load_checkpoint(folder / CHECKPOINT_FILE, info.config)
    _check_divergence(checkpoint, info)
    config = checkpoint.config
    if checkpoint.interval < config.num_logs:
        print(
            f"{folder}: evaluating the agents after {checkpoint.interval} of {config.num_logs} "
            "logging intervals"
        )
    seed = args.seed if args.seed is not None else (info.seed or 0) + 1
    network = q_network(config, checkpoint.state)
    returns = _evaluate_agents(config, network, jax.random.key(seed), args.episodes)
    labels = _agent_labels(info, checkpoint.hparams, checkpoint.batch_shape)
    _print_evaluation(returns, labels, args.episodes)


def _parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < 50:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, each at least 50")
    return size


def _cmd_plot(args: argparse.Namespace) -> None:
    from dqn_jax.storage.runs import read_config

    size = _parse_size(args.size)
    folders = [Path(run) for run in args.runs]
    for folder in folders:
        read_config(folder)  # a clear error for a missing run
    try:
        from dqn_jax.viz import plotting
    except ImportError:
        raise UsageError(f"plot needs matplotlib: {PLOT_INSTALL_HINT}") from None
    if args.out:
        out = Path(args.out)
    elif len(folders) == 1:
        out = folders[0] / "learning_curve.png"
    else:
        out = Path("learning_curves.png")
    metrics = tuple(args.metric) if args.metric else plotting.DEFAULT_METRICS
    plotting.plot_runs(folders, out, metrics=metrics, size=size)
    print(f"Wrote {out}")


def _cmd_render(args: argparse.Namespace) -> None:
    import jax

    from dqn_jax.storage.runs import CHECKPOINT_FILE, load_checkpoint, q_network, read_config

    folder = Path(args.run)
    info = read_config(folder)
    try:
        from dqn_jax.viz import render
    except ImportError:
        raise UsageError(f"render needs Pillow: {PLOT_INSTALL_HINT}") from None
    render.check_supported(info.config)
    checkpoint = load_checkpoint(folder / CHECKPOINT_FILE, info.config)
    num = int(np.prod(checkpoint.batch_shape, dtype=int))
    if args.agent >= num:
        raise UsageError(f"--agent {args.agent}: the run has {num} agent(s) (0 to {num - 1})")
    network = q_network(checkpoint.config, checkpoint.state)
    if checkpoint.batch_shape:
        network = jax.tree.map(
            lambda x: x.reshape(num, *x.shape[len(checkpoint.batch_shape) :])[args.agent],
            network,
        )
    out = Path(args.out) if args.out else folder / "episode.gif"
    frames, episode_return = render.render_gif(
        network, checkpoint.config, jax.random.key(args.seed), out, fps=args.fps
    )
    print(f"Wrote {out}: {frames} frames, return {episode_return:.0f}")
