"""What the subcommands share: usage errors, the config from the flags, run folders, the
interval loop with its table and evaluation, divergence checks and trackers."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SUBCOMMANDS = ("train", "sweep", "merge", "eval", "plot", "render")
PLOT_INSTALL_HINT = 'pip install "dqn-jax[plot]"'
# As in dqn_jax.loop.tracking, which --help does not import (it would load JAX).
TENSORBOARD_INSTALL_HINT = 'pip install "dqn-jax[tensorboard]"'
WANDB_INSTALL_HINT = 'pip install "dqn-jax[wandb]"'
TENSORBOARD_DIR = "tensorboard"


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""

    def __init__(self, message: str, prog: str = "dqn-jax") -> None:
        super().__init__(message)
        self.prog = prog


# --- shared pieces --------------------------------------------------------------------------------


def _config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config values given by --config and by field flags (flags win)."""
    from dqn_jax.storage.config_file import field_types, read_config_file

    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(read_config_file(args.config))
    values.update({n: getattr(args, n) for n in field_types() if hasattr(args, n)})
    return values


def _config(values: dict[str, Any], *, tuned: bool = True) -> Any:
    """The ``DQNConfig`` of ``values``; a bad value is a usage error. With ``tuned`` (a new
    run) the fields ``values`` leaves out take the settings tuned for the env it names
    (``DQNConfig.for_env``), else the defaults."""
    from dqn_jax.config import DQNConfig
    from dqn_jax.storage.config_file import config_from_dict
    from dqn_jax.tuned import tuned_settings

    if tuned:
        values = {**tuned_settings(values.get("env_name", DQNConfig.env_name)), **values}
    try:
        return config_from_dict(values)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _new_run_folder(out: str | None, overwrite: bool) -> Path | None:
    from dqn_jax.storage.runs import CONFIG_FILE

    if out is None:
        return None
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: exists and is not a folder")
    if (folder / CONFIG_FILE).exists() and not overwrite:
        raise UsageError(
            f"--out {folder} already holds a run: continue it with --resume {folder}, "
            "or pass --overwrite"
        )
    return folder


def _agent_labels(info: Any, hparams: Any, batch_shape: tuple[int, ...]) -> list[str]:
    """One label per agent (flattened): ``seed i``, after the swept values for a sweep."""
    from dqn_jax.loop.tracking import agent_labels
    from dqn_jax.storage.runs import flatten_agents, grid_of

    swept = {n: flatten_agents(getattr(hparams, n), batch_shape) for n in grid_of(info)}
    num_agents = int(np.prod(batch_shape, dtype=int))
    return [str(label) for label in agent_labels(num_agents, info.seeds, swept)]


def _tracker(args: argparse.Namespace, folder: Path | None, info: Any, start_steps: int) -> Any:
    """The trackers that ``--tensorboard`` and ``--wandb`` ask for (``None`` if neither), made
    before anything compiles; a missing extra is a usage error naming the pip command."""
    from dqn_jax.loop.tracking import TensorBoardTracker, Trackers, WandbTracker
    from dqn_jax.storage.config_file import config_to_dict

    if args.tensorboard and folder is None:
        raise UsageError("--tensorboard writes into the run folder: give --out runs/NAME")
    trackers = Trackers([])
    try:
        if args.tensorboard:
            # Points an interrupted process wrote after the checkpoint are dropped.
            logdir = folder / TENSORBOARD_DIR
            trackers.trackers.append(TensorBoardTracker(logdir, purge_step=start_steps + 1))
        if args.wandb is not None:
            config = {**config_to_dict(info.config), "seed": info.seed, "seeds": info.seeds}
            trackers.trackers.append(
                WandbTracker(
                    args.wandb,
                    name=None if folder is None else folder.name,
                    dir=folder,
                    config={**config, "grid": info.grid},
                )
            )
    except ImportError as error:
        trackers.close()
        raise UsageError(str(error)) from None
    return trackers if trackers.trackers else None


def _evaluate_agents(config: Any, network: Any, key: Any, episodes: int) -> np.ndarray:
    """Greedy returns of every agent of ``network`` (a Q-network, possibly with leading
    agent axes), shape ``(num_agents, episodes)``.

    One agent is evaluated exactly as ``dqn_jax.evaluate``; a batch is vmapped over agents with
    one key each (``split(key, num_agents)``).
    """
    import equinox as eqx
    import jax

    from dqn_jax.loop.evaluation import evaluate, run_episodes
    from dqn_jax.loop.train import new_network

    spec = config.env_spec
    one = eqx.filter_eval_shape(new_network, config, spec, jax.random.key(0))
    first, first_of_one = jax.tree.leaves(network)[0], jax.tree.leaves(one)[0]
    batch_shape = tuple(first.shape[: first.ndim - len(first_of_one.shape)])
    if not batch_shape:
        return np.asarray(evaluate(network, config, key, episodes))[None]
    num = int(np.prod(batch_shape, dtype=int))
    flat = jax.tree.map(lambda x: x.reshape(num, *x.shape[len(batch_shape) :]), network)
    play = jax.jit(jax.vmap(lambda net, k: run_episodes(net, spec, k, episodes)))
    return np.asarray(play(flat, jax.random.split(key, num)))


def _print_evaluation(returns: np.ndarray, labels: list[str], episodes: int) -> None:
    if len(labels) == 1 and labels[0] == "seed 0":
        r = returns[0]
        print(
            f"Final greedy evaluation over {episodes} episodes: mean {r.mean():.1f}, "
            f"std {r.std():.1f}, min {r.min():.0f}, max {r.max():.0f}"
        )
        return
    print(f"Greedy evaluation over {episodes} episodes per agent:")
    width = max(len(label) for label in labels)
    for label, r in zip(labels, returns, strict=True):
        print(
            f"  {label:<{width}}  mean {r.mean():7.1f}  std {r.std():6.1f}  min {r.min():5.0f}"
            f"  max {r.max():5.0f}"
        )
    means = returns.mean(axis=1)
    print(
        f"  over {len(labels)} agents: mean of means {means.mean():.1f}, "
        f"lowest mean {means.min():.1f}"
    )


def _print_table(metrics: Any) -> None:
    """One line per logging point; means over agents for a batch."""
    leaves = {n: np.asarray(getattr(metrics, n), dtype=np.float64) for n in metrics._fields}
    points = leaves["env_steps"].shape[-1]
    num = int(np.prod(leaves["env_steps"].shape[:-1], dtype=int))
    if num > 1:
        print(f"  (means over {num} agents)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points (e.g. no loss yet)
        mean = {n: np.nanmean(v.reshape(num, points), axis=0) for n, v in leaves.items()}
    for i in range(points):
        print(
            f"  env steps {int(mean['env_steps'][i]):>8,}"
            f"  episode return {mean['episode_return'][i]:7.1f}"
            f"  greedy eval {mean['eval_return'][i]:7.1f}  loss {mean['loss'][i]:8.4f}",
            flush=True,
        )


def _run(
    config: Any,
    start: Any,
    info: Any,
    folder: Path | None,
    args: argparse.Namespace,
    tracker: Any = None,
    store: Any = None,
    hint: str | None = None,
) -> None:
    """Trains (from ``start``: a Checkpoint or (keys, hparams)), prints, saves and evaluates;
    feeds ``tracker`` (closed at the end) at every logging point. The init and step programs
    come from ``store`` (default: ``_program_store()``), which remembers them under ``hint``."""
    import jax

    from dqn_jax.loop.progress import ProgressBar
    from dqn_jax.storage.runs import (
        CHECKPOINT_FILE,
        CONFIG_FILE,
        METRICS_FILE,
        grid_of,
        q_network,
        train_intervals,
    )

    num_agents = int(np.prod(_batch_shape_of(start), dtype=int))
    # Fed from the host at every logging point: the compiled programs hold no callback, so
    # JAX's persistent compilation cache keeps them.
    progress = None if args.quiet else ProgressBar(config.total_timesteps, agents=num_agents)
    stop = None
    first = getattr(start, "interval", 0)
    if args.stop_after is not None:
        stop = first + args.stop_after
    begin = time.perf_counter()
    try:
        checkpoint = train_intervals(
            config,
            start,
            stop=stop,
            folder=folder,
            checkpoint_every=args.checkpoint_every,
            seeds=info.seeds,
            grid_names=grid_of(info),
            progress=progress,
            tracker=tracker,
            programs=store or _program_store(),
        )
        jax.block_until_ready(checkpoint.state)
    finally:
        if store is not None and hint is not None:
            store.remember(hint)
        if progress is not None:
            progress.close()
        if tracker is not None:
            tracker.close()
    seconds = time.perf_counter() - begin
    if checkpoint.metrics is not None:
        _print_table(checkpoint.metrics)
    print(f"Trained in {seconds:.1f} s (compile included).")
    if folder is not None:
        print(f"Saved {folder}: {CONFIG_FILE}, {METRICS_FILE}, {CHECKPOINT_FILE}")
    _check_divergence(checkpoint, info)
    if checkpoint.interval < config.num_logs:
        print(
            f"Stopped after {checkpoint.interval} of {config.num_logs} logging intervals"
            + (f"; continue with: dqn-jax train --resume {folder}" if folder else "")
        )
        return
    if args.episodes > 0:
        key = jax.random.key((info.seed or 0) + 1)
        returns = _evaluate_agents(config, q_network(config, checkpoint.state), key, args.episodes)
        labels = _agent_labels(info, checkpoint.hparams, checkpoint.batch_shape)
        _print_evaluation(returns, labels, args.episodes)


def _program_store() -> Any:
    """The ``ProgramStore`` in the compilation cache's folder, or ``None`` while it is off."""
    from dqn_jax.storage.compile_cache import programs_dir
    from dqn_jax.storage.programs import ProgramStore

    folder = programs_dir()
    return None if folder is None else ProgramStore(folder)


def _check_divergence(checkpoint: Any, info: Any) -> None:
    """A ``DivergenceError`` (exit status 1, one line) naming each diverged agent's seed, after
    its swept values for a sweep."""
    from dqn_jax.scale.divergence import check

    labels = _agent_labels(info, checkpoint.hparams, checkpoint.batch_shape)
    check(checkpoint, labels=labels)


def _batch_shape_of(start: Any) -> tuple[int, ...]:
    from dqn_jax.storage.checkpoint import Checkpoint

    if isinstance(start, Checkpoint):
        return start.batch_shape
    return tuple(start[0].shape)
