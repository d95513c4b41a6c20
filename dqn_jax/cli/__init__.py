"""The ``dqn-jax`` command line (also ``python -m dqn_jax``).

    dqn-jax train  [--config FILE] [--FIELD VALUE ...] [--seeds N] [--out runs/NAME]
    dqn-jax train  --resume runs/NAME [--total-timesteps N]
    dqn-jax sweep  --grid learning_rate=1e-3,3e-4 gamma=0.99,0.995 [--seeds N] [--chunk-size K]
    dqn-jax sweep  ... --shard I/N --out runs/NAME     (one part of N; then: dqn-jax merge)
    dqn-jax sweep  ... --ray auto|local|ADDRESS --out runs/NAME   (shards as Ray tasks)
    dqn-jax merge  runs/NAME
    dqn-jax eval   runs/NAME [--episodes 100]
    dqn-jax plot   runs/NAME [runs/OTHER ...] [--out curves.png]
    dqn-jax render runs/NAME [--out episode.gif]

With no subcommand it trains: ``python -m dqn_jax`` trains the default config on CartPole-v1,
prints the table of logging points and the final greedy evaluation over 100 episodes. Bad input
ends the program with one line on standard error and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import math
import sys
import textwrap
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SUBCOMMANDS = ("train", "sweep", "merge", "eval", "plot", "render")
PLOT_INSTALL_HINT = 'pip install "dqn-jax[plot]"'
TENSORBOARD_INSTALL_HINT = 'pip install "dqn-jax[tensorboard]"'  # as in dqn_jax.tracking
WANDB_INSTALL_HINT = 'pip install "dqn-jax[wandb]"'
TENSORBOARD_DIR = "tensorboard"


class UsageError(Exception):
    """Bad input on the command line: reported as one line, exit code 2."""

    def __init__(self, message: str, prog: str = "dqn-jax") -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --learning would be ambiguous; be exact
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse prints usage and exits; one line instead
        raise UsageError(message, self.prog)


# --- flags ----------------------------------------------------------------------------------------


@functools.cache
def _field_docs() -> dict[str, str]:
    """The docstring under each ``DQNConfig`` field, for ``--help``."""
    from dqn_jax.config import DQNConfig

    try:
        body = ast.parse(textwrap.dedent(inspect.getsource(DQNConfig))).body[0].body
    except (OSError, TypeError, SyntaxError):
        return {}
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split()).replace("``", "")
    return docs


def _field_type(name: str):
    from dqn_jax.storage.config_file import parse_field

    def convert(text: str) -> Any:
        try:
            return parse_field(name, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name
    return convert


def _int_at_least(minimum: int):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{value} is outside the allowed range [{minimum}, inf)"
            )
        return value

    convert.__name__ = "integer"
    return convert


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name VALUE`` flag per ``DQNConfig`` field, plus ``--config FILE``."""
    from dqn_jax.config import DQNConfig
    from dqn_jax.storage.config_file import describe_type, field_types

    group = parser.add_argument_group(
        "configuration (DQNConfig fields; flags override --config, which overrides defaults)"
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML, YAML or JSON file of DQNConfig fields (a run's config.json works too)",
    )
    docs = _field_docs()
    defaults = {f.name: f.default for f in dataclasses.fields(DQNConfig)}
    for name in field_types():
        flags = ["--" + name.replace("_", "-")]
        if name == "env_name":
            flags.append("--env")
        is_bool = field_types()[name] is bool
        doc = docs.get(name, "")
        help_text = f"{doc} [{describe_type(name)}; default: {defaults[name]!r}]"
        group.add_argument(
            *flags,
            dest=name,
            type=_field_type(name),
            default=argparse.SUPPRESS,
            metavar="BOOL" if is_bool else "VALUE",
            nargs="?" if is_bool else None,
            const=True if is_bool else None,
            help=help_text.replace("%", "%%"),
        )


def _add_seed_flags(parser: argparse.ArgumentParser, seeds_help: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help="integer seed of the run (default 0)")
    parser.add_argument("--seeds", type=_int_at_least(1), default=1, help=seeds_help)
    parser.add_argument("--out", metavar="DIR", help="save the run into this folder (runs/NAME)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a run already saved in --out"
    )


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    """The final evaluation and the progress bar."""
    parser.add_argument(
        "--episodes",
        type=_int_at_least(0),
        default=100,
        help="greedy episodes of the final evaluation per agent (default 100; 0 skips it)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress-interval",
        type=_int_at_least(1),
        default=None,
        metavar="STEPS",
        help="env steps between progress-bar updates (default 1000)",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="write every logging point to TensorBoard event files in OUT/tensorboard/ as "
        f"training runs (needs --out or --resume; {TENSORBOARD_INSTALL_HINT})",
    )
    parser.add_argument(
        "--wandb",
        metavar="PROJECT",
        help="log every logging point to the W&B project PROJECT as training runs "
        f"(WANDB_MODE=offline keeps it in OUT/wandb/; {WANDB_INSTALL_HINT})",
    )


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    _add_seed_flags(parser, "agents trained side by side as one vmapped program (default 1)")
    parser.add_argument(
        "--checkpoint-every",
        type=_int_at_least(1),
        default=1,
        metavar="K",
        help="save a checkpoint every K logging intervals (default 1)",
    )
    parser.add_argument(
        "--stop-after",
        type=_int_at_least(1),
        metavar="K",
        help="stop after K logging intervals; continue later with train --resume",
    )
    _add_output_flags(parser)


def _byte_size(text: str) -> int:
    """``"512M"``, ``"2G"`` or a plain number of bytes (powers of 1024)."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    number, unit = (text[:-1], text[-1].upper()) if text[-1:].upper() in units else (text, "")
    try:
        value = float(number) * units.get(unit, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 512M or 2G") from None
    if not 1 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is outside the allowed range [1, inf) bytes")
    return int(value)


def _shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``: shard I of N, ``0 <= I < N``."""
    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = None
    if not sep or shard is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N (shard I of N, e.g. 3/8)")
    if shard[1] < 1:
        raise argparse.ArgumentTypeError(f"{text}: N={shard[1]} is outside the range [1, inf)")
    if not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(
            f"{text}: I={shard[0]} is outside the range [0, {shard[1] - 1}]"
        )
    return shard


def _number_at_least(minimum: float):
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not minimum <= value < math.inf:
            raise argparse.ArgumentTypeError(
                f"{value:g} is outside the allowed range [{minimum:g}, inf)"
            )
        return value

    convert.__name__ = "number"
    return convert


def _add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    _add_seed_flags(parser, "seeds per grid point (default 1)")
    memory = parser.add_mutually_exclusive_group()
    memory.add_argument(
        "--chunk-size",
        type=_int_at_least(1),
        metavar="K",
        help="train K agents at a time, in sequential chunks of one compiled program "
        "(default: all at once)",
    )
    memory.add_argument(
        "--memory-budget",
        type=_byte_size,
        metavar="BYTES",
        help="chunk so the training states each device holds fit in BYTES (e.g. 4G)",
    )
    _add_output_flags(parser)
    scale = parser.add_argument_group("across machines (save into --out, then merge)")
    where = scale.add_mutually_exclusive_group()
    where.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="run only shard I of N (0 <= I < N) of the agents, e.g. a SLURM array task's "
        "${SLURM_ARRAY_TASK_ID}/N; it is saved into --out/shards/, and 'dqn-jax merge' joins "
        "the N parts; a shard already saved there is skipped",
    )
    where.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the shards as Ray tasks: 'auto' (the running cluster), 'local' (start Ray "
        "here) or a cluster address; every finished shard is saved into --out/shards/ as it "
        "completes, a rerun skips those, and the parts are merged into --out at the end",
    )
    scale.add_argument(
        "--ray-cpus",
        type=_number_at_least(0),
        default=1,
        metavar="C",
        help="CPUs each Ray task reserves (default 1)",
    )
    scale.add_argument(
        "--ray-gpus",
        type=_number_at_least(0),
        default=0,
        metavar="G",
        help="GPUs each Ray task reserves (default 0)",
    )
    scale.add_argument(
        "--ray-retries",
        type=_int_at_least(0),
        default=3,
        metavar="R",
        help="times Ray reruns a task whose worker died (default 3)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="dqn-jax",
        description="Deep Q-Networks as one jit-compiled JAX program. With no subcommand: train.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train",
        help="train one config (N seeds as one program); the default command",
        description="Train DQN; every DQNConfig field is a flag. With --out the run is saved "
        "(config.json, metrics.csv, checkpoint.eqx) and can be resumed.",
    )
    _add_config_flags(train)
    _add_run_flags(train)
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run saved in DIR from its last checkpoint; with --total-timesteps "
        "N beyond its planned end, extend it to N env steps",
    )
    train.set_defaults(handler=_cmd_train)

    sweep = sub.add_parser(
        "sweep",
        help="a grid over traced hyper-parameters x seeds, as one vmapped program",
        description="Train every combination of the --grid values, each with --seeds seeds, as "
        "one program (vmapped over grid points and seeds, sharded over the devices, in chunks "
        "with --chunk-size or --memory-budget). The run is saved at its end.",
    )
    sweep.add_argument(
        "--grid",
        nargs="+",
        required=True,
        metavar="NAME=V1,V2",
        help="traced hyper-parameters (HParams fields) and their values",
    )
    _add_config_flags(sweep)
    _add_sweep_flags(sweep)
    sweep.set_defaults(handler=_cmd_sweep)

    merge = sub.add_parser(
        "merge",
        help="join the shards saved in a run folder into one run",
        description="Merge the parts that 'dqn-jax sweep --shard I/N --out RUN' saved into "
        "RUN/shards/ into one run folder (config.json, metrics.csv, checkpoint.eqx), as if one "
        "machine had run the whole sweep. A missing, duplicated or mismatched shard is an "
        "error and nothing is written.",
    )
    merge.add_argument("run", metavar="RUN", help="the run folder the shards were saved into")
    merge.add_argument(
        "--overwrite", action="store_true", help="replace a merged run already in RUN"
    )
    merge.set_defaults(handler=_cmd_merge)

    evaluate = sub.add_parser(
        "eval",
        help="greedy evaluation of a saved run",
        description="Greedy episodes of every agent of a saved run: mean/std/min per agent.",
    )
    evaluate.add_argument("run", metavar="RUN", help="a run folder (runs/NAME)")
    evaluate.add_argument(
        "--episodes", type=_int_at_least(1), default=100, help="episodes per agent (default 100)"
    )
    evaluate.add_argument(
        "--seed", type=int, default=None, help="evaluation seed (default: the run's seed + 1)"
    )
    evaluate.set_defaults(handler=_cmd_eval)

    plot = sub.add_parser(
        "plot",
        help="learning curves of runs to PNG",
        description="Learning curves (mean and 95% CI band over seeds) of one or more runs.",
    )
    plot.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    plot.add_argument(
        "--out",
        metavar="PNG",
        help="output file (default: RUN/learning_curve.png for one run, learning_curves.png "
        "for several)",
    )
    plot.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="a Metrics field to plot, repeatable (default: episode_return and eval_return)",
    )
    plot.add_argument(
        "--size",
        default="1000x450",
        metavar="WxH",
        help="image size in pixels (default 1000x450)",
    )
    plot.set_defaults(handler=_cmd_plot)

    render = sub.add_parser(
        "render",
        help="animated GIF of a trained agent playing one episode (CartPole-v1)",
        description="Play one greedy episode with a saved run's agent and write it as a GIF.",
    )
    render.add_argument("run", metavar="RUN", help="a run folder (runs/NAME)")
    render.add_argument("--out", metavar="GIF", help="output file (default: RUN/episode.gif)")
    render.add_argument(
        "--agent", type=_int_at_least(0), default=0, help="which agent of the run (default 0)"
    )
    render.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    render.add_argument("--fps", type=_int_at_least(1), default=50, help="frames per second")
    render.set_defaults(handler=_cmd_render)
    return parser


# --- shared pieces --------------------------------------------------------------------------------


def _config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config values given by --config and by field flags (flags win)."""
    from dqn_jax.storage.config_file import field_types, read_config_file

    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(read_config_file(args.config))
    values.update({n: getattr(args, n) for n in field_types() if hasattr(args, n)})
    return values


def _config(values: dict[str, Any]) -> Any:
    """The ``DQNConfig`` of ``values``; a bad value is a usage error."""
    from dqn_jax.storage.config_file import config_from_dict

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
    """Greedy returns of every agent of ``network`` (a ``QNetwork``, possibly with leading
    agent axes), shape ``(num_agents, episodes)``.

    One agent is evaluated exactly as ``dqn_jax.evaluate``; a batch is vmapped over agents with
    one key each (``split(key, num_agents)``).
    """
    import jax

    from dqn_jax.blocks.envs import make_env
    from dqn_jax.loop.evaluation import evaluate, run_episodes

    batch_shape = tuple(network.layers[0].weight.shape[:-2])
    if not batch_shape:
        return np.asarray(evaluate(network, config, key, episodes))[None]
    num = int(np.prod(batch_shape, dtype=int))
    flat = jax.tree.map(lambda x: x.reshape(num, *x.shape[len(batch_shape) :]), network)
    spec = make_env(config.env_name, config.env_kwargs)
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
) -> None:
    """Trains (from ``start``: a Checkpoint or (keys, hparams)), prints, saves and evaluates;
    feeds ``tracker`` (closed at the end) at every logging point."""
    import jax

    from dqn_jax.loop.progress import DEFAULT_INTERVAL, ProgressBar
    from dqn_jax.storage.runs import (
        CHECKPOINT_FILE,
        CONFIG_FILE,
        METRICS_FILE,
        grid_of,
        q_network,
        train_intervals,
    )

    num_agents = int(np.prod(_batch_shape_of(start), dtype=int))
    progress = None
    if not args.quiet:
        interval = args.progress_interval or DEFAULT_INTERVAL
        progress = ProgressBar(config.total_timesteps, interval, agents=num_agents)
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
        )
        jax.block_until_ready(checkpoint.state)
    finally:
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


# --- subcommands ----------------------------------------------------------------------------------


def _cmd_train(args: argparse.Namespace) -> None:
    from dqn_jax.storage.checkpoint import save_checkpoint
    from dqn_jax.storage.config_file import config_diff, config_to_dict
    from dqn_jax.storage.runs import (
        CHECKPOINT_FILE,
        RunInfo,
        agent_hparams,
        agent_keys,
        extend,
        load_checkpoint,
        read_config,
        write_config,
    )

    values = _config_values(args)
    if args.resume is not None:
        folder = Path(args.resume)
        info = read_config(folder)
        wanted = info.config
        if values:
            wanted = _config({**config_to_dict(info.config), **values})
            length = {"total_timesteps": info.config.total_timesteps}  # may change: extension
            if config_to_dict(wanted) | length != config_to_dict(info.config):
                raise UsageError(
                    f"{folder} was trained with a different config: "
                    + "; ".join(config_diff(info.config, wanted))
                )
        checkpoint = load_checkpoint(folder / CHECKPOINT_FILE, info.config)
        before = info.config.total_timesteps
        if wanted.total_timesteps != before:
            checkpoint = extend(checkpoint, wanted.total_timesteps)
            info = dataclasses.replace(info, config=checkpoint.config)
        config = info.config
        tracker = _tracker(args, folder, info, checkpoint.interval * config.log_interval)
        if config.total_timesteps != before:
            # The checkpoint first: config.json then never names a plan the checkpoint lacks.
            save_checkpoint(folder / CHECKPOINT_FILE, checkpoint)
            write_config(folder, info)
            print(
                f"Extended {folder} from {before:,} to {config.total_timesteps:,} env steps: the "
                "learning-rate decay and PER's beta now end there; epsilon keeps its schedule"
            )
        if checkpoint.interval >= config.num_logs:
            print(f"{folder} is trained to its end ({config.total_timesteps:,} env steps)")
        else:
            print(
                f"Resuming {folder} at env step {checkpoint.interval * config.log_interval:,} of "
                f"{config.total_timesteps:,} ...",
                flush=True,
            )
        _run(config, checkpoint, info, folder, args, tracker)
        return

    config = _config(values)
    folder = _new_run_folder(args.out, args.overwrite)
    agents = None if args.seeds == 1 else args.seeds
    info = RunInfo(config, args.seed, args.seeds, None)
    tracker = _tracker(args, folder, info, 0)
    if folder is not None:
        write_config(folder, info)
    batch = f" with {args.seeds} seeds as one program" if args.seeds > 1 else ""
    print(
        f"Training DQN on {config.env_name} for {config.total_timesteps:,} env steps{batch} ...",
        flush=True,
    )
    hparams = agent_hparams(config, agents)
    start = (agent_keys(args.seed, agents), hparams)
    _run(config, start, info, folder, args, tracker)


def _parse_grid(items: Sequence[str], config: Any) -> dict[str, list[float]]:
    from dqn_jax.config import HPARAM_RANGES, HParams

    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise UsageError(f"--grid {item!r}: expected NAME=V1,V2,...")
        if name not in HPARAM_RANGES:
            raise UsageError(
                f"--grid {name!r} is not a traced hyper-parameter; allowed: "
                + ", ".join(HPARAM_RANGES)
            )
        if name in grid:
            raise UsageError(f"--grid {name!r} given twice")
        try:
            values = [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--grid {item!r}: values must be numbers") from None
        for value in values:
            HParams.from_config(config, **{name: value})  # ValueError naming field and range
        grid[name] = [int(v) if name == "target_update_period" else v for v in values]
    return grid


def _cmd_sweep(args: argparse.Namespace) -> None:
    import jax

    from dqn_jax.loop.progress import DEFAULT_INTERVAL
    from dqn_jax.scale.sweep import sweep
    from dqn_jax.storage.runs import RunInfo

    config = _config(_config_values(args))
    grid = _parse_grid(args.grid, config)
    folder = _new_run_folder(args.out, args.overwrite)
    points = math.prod(len(values) for values in grid.values())
    agents = points * args.seeds
    info = RunInfo(config, args.seed, args.seeds, grid)
    if args.shard is not None or args.ray is not None:
        flag = "--shard" if args.shard is not None else "--ray"
        if folder is None:
            raise UsageError(f"{flag} needs --out: the run folder the parts are saved into")
        if args.tensorboard or args.wandb is not None:
            tracking = "--tensorboard" if args.tensorboard else "--wandb"
            raise UsageError(
                f"{tracking} follows one process's sweep: it cannot be combined with {flag}"
            )
    if args.shard is not None:
        _sweep_shard(args, config, info, folder, agents)
        return
    if args.ray is not None:
        swept, seconds = _sweep_on_ray(args, config, info, folder, agents)
    else:
        print(
            f"Sweeping {points} grid points x {args.seeds} seeds ({agents} agents as one "
            f"program) on {config.env_name} for {config.total_timesteps:,} env steps ...",
            flush=True,
        )
        tracker = _tracker(args, folder, info, 0)
        begin = time.perf_counter()
        try:
            swept = sweep(
                config,
                args.seeds,
                grid,
                key=jax.random.key(args.seed),
                chunk_size=args.chunk_size,
                memory_budget=args.memory_budget,
                progress=False if args.quiet else args.progress_interval or DEFAULT_INTERVAL,
                keep_state=folder is not None,  # the checkpoint needs it; evaluation the networks
                check=False,  # saved first, then checked below
                tracker=tracker,
            )
        finally:
            if tracker is not None:
                tracker.close()
        seconds = time.perf_counter() - begin
    _finish_sweep(args, swept, info, folder, seconds, saved=args.ray is not None)


def _flat_hparams(swept: Any) -> Any:
    """Each agent's hyper-parameters of a sweep, on one flat agents axis (``g * seeds + s``)."""
    import jax

    return jax.tree.map(lambda x: np.repeat(np.asarray(x), swept.num_seeds, axis=0), swept.hparams)


def _finish_sweep(
    args: argparse.Namespace,
    swept: Any,
    info: Any,
    folder: Path | None,
    seconds: float,
    saved: bool,
) -> None:
    """Prints, saves (unless ``saved``), checks for divergence and evaluates a whole sweep."""
    import jax

    from dqn_jax.scale.divergence import check
    from dqn_jax.scale.parts import save_sweep
    from dqn_jax.storage.runs import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE

    agents = swept.num_combos * swept.num_seeds
    # Saved runs keep one flat agents axis (agent g * seeds + s), like a seed batch.
    result = jax.tree.map(lambda x: x.reshape(agents, *x.shape[2:]), swept.result)
    hparams = _flat_hparams(swept)
    _print_table(result.metrics)
    print(f"Trained in {seconds:.1f} s (compile included).")
    if folder is not None:
        if not saved:
            save_sweep(folder, swept, info)
        print(f"Saved {folder}: {CONFIG_FILE}, {METRICS_FILE}, {CHECKPOINT_FILE}")
    # Names each diverged agent by its grid values and seed, as `dqn-jax eval` of the run does.
    labels = _agent_labels(info, hparams, (agents,))
    check(result, labels=labels)
    if args.episodes > 0:
        key = jax.random.key(args.seed + 1)
        returns = _evaluate_agents(info.config, result.q_network, key, args.episodes)
        _print_evaluation(returns, labels, args.episodes)


def _shard_count(agents: int, shard: tuple[int, int], flag: str) -> tuple[int, int, int]:
    """``shards.shard_range`` with a usage error naming ``flag``."""
    from dqn_jax.scale.shards import shard_range

    try:
        return shard_range(agents, shard, name=flag)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _sweep_shard(
    args: argparse.Namespace, config: Any, info: Any, folder: Path, agents: int
) -> None:
    """``sweep --shard I/N --out RUN``: runs one shard and saves it into ``RUN/shards/I-of-N``."""
    import jax

    from dqn_jax.loop.progress import DEFAULT_INTERVAL
    from dqn_jax.scale.parts import PART_FILE, check_compatible, part_folder, write_part
    from dqn_jax.scale.shards import check_part
    from dqn_jax.scale.sweep import sweep
    from dqn_jax.storage.runs import CHECKPOINT_FILE

    index, count = args.shard
    start, stop, _ = _shard_count(agents, args.shard, "--shard")
    path = part_folder(folder, args.shard)
    if not args.overwrite:
        try:
            finished = check_compatible(folder, info, count)
        except ValueError as error:
            raise UsageError(f"--out {folder}: {error}; pass --overwrite to replace it") from None
        if path in finished:
            print(f"Shard {index}/{count} is already saved in {path}; nothing to do.")
            return
    print(
        f"Sweeping shard {index}/{count}: agents {start} to {stop - 1} of {agents} "
        f"on {config.env_name} for {config.total_timesteps:,} env steps ...",
        flush=True,
    )
    begin = time.perf_counter()
    part = sweep(
        config,
        args.seeds,
        info.grid,
        key=jax.random.key(args.seed),
        chunk_size=args.chunk_size,
        memory_budget=args.memory_budget,
        progress=False if args.quiet else args.progress_interval or DEFAULT_INTERVAL,
        keep_state=True,
        check=False,  # saved first, then checked below
        shard=args.shard,
    )
    seconds = time.perf_counter() - begin
    _print_table(part.result.metrics)
    print(f"Trained in {seconds:.1f} s (compile included).")
    write_part(folder, part, info)
    print(f"Saved {path}: {CHECKPOINT_FILE}, {PART_FILE}")
    print(f"When all {count} shards are saved: dqn-jax merge {folder}")
    check_part(part)


def _sweep_on_ray(
    args: argparse.Namespace, config: Any, info: Any, folder: Path, agents: int
) -> tuple[Any, float]:
    """``sweep --ray ADDRESS --out RUN``: the shards as Ray tasks, each saved as it finishes;
    returns the merged sweep (saved into ``RUN``) and the seconds it took."""
    import jax

    from dqn_jax.scale.parts import (
        PART_FILE,
        check_compatible,
        part_folders,
        read_header,
        read_part,
        save_sweep,
        write_part,
    )

    try:
        from dqn_jax.scale.ray_sweep import import_ray, sweep_on_ray

        ray = import_ray()
    except ImportError as error:
        raise UsageError(f"--ray: {error}") from None
    counts = set()
    if not args.overwrite:
        for path in part_folders(folder):
            if (path / PART_FILE).exists():
                counts.add(read_header(path)["shard"][1])
    if args.chunk_size is not None:
        count = -(-agents // args.chunk_size)
    elif len(counts) == 1:
        count = counts.pop()  # a rerun continues the cut it started with
    else:
        count = None
    if not ray.is_initialized():
        ray.init(address=None if args.ray == "local" else args.ray, log_to_driver=False)
    if count is None:
        resources = ray.cluster_resources()
        slots = resources.get("CPU", 1) / max(args.ray_cpus, 1e-9)
        if args.ray_gpus > 0:
            slots = min(slots, resources.get("GPU", 0) / args.ray_gpus)
        count = max(1, min(agents, int(slots)))
    size = -(-agents // count)
    count = -(-agents // size)  # a count that leaves no shard empty
    done = []
    if not args.overwrite:
        try:
            done = [read_part(p)[0] for p in check_compatible(folder, info, count)]
        except ValueError as error:
            raise UsageError(f"--out {folder}: {error}; pass --overwrite to replace it") from None
    print(
        f"Sweeping {agents} agents as {count} Ray tasks of up to {size} agents "
        f"({len(done)} already saved) on {config.env_name} for "
        f"{config.total_timesteps:,} env steps ...",
        flush=True,
    )

    def save(part: Any) -> None:
        write_part(folder, part, info)
        print(f"  shard {part.shard[0]}/{part.shard[1]} saved", flush=True)

    begin = time.perf_counter()
    try:
        swept = sweep_on_ray(
            config,
            args.seeds,
            info.grid,
            key=jax.random.key(args.seed),
            num_shards=count,
            done=done,
            on_part=save,
            num_cpus=args.ray_cpus,
            num_gpus=args.ray_gpus,
            max_retries=args.ray_retries,
            memory_budget=args.memory_budget,
            check=False,  # saved first, then checked
        )
    except RuntimeError as error:  # failed tasks; the finished shards are saved
        raise ValueError(f"{error}. Run the same command again to rerun them.") from None
    seconds = time.perf_counter() - begin
    save_sweep(folder, swept, info)
    return swept, seconds


def _cmd_merge(args: argparse.Namespace) -> None:
    from dqn_jax.scale.divergence import check
    from dqn_jax.scale.parts import merge_run
    from dqn_jax.storage.runs import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE

    folder = Path(args.run)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such run folder")
    if (folder / CONFIG_FILE).exists() and not args.overwrite:
        raise UsageError(f"{folder} already holds a merged run: pass --overwrite to merge again")
    swept, info = merge_run(folder)
    agents = swept.num_combos * swept.num_seeds
    print(f"Merged {agents} agents into {folder}: {CONFIG_FILE}, {METRICS_FILE}, {CHECKPOINT_FILE}")
    check(swept.result, labels=_agent_labels(info, _flat_hparams(swept), (agents,)))


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
    render.check_supported(info.config.env_name)
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


# --- entry point ----------------------------------------------------------------------------------


def _fail(message: str, code: int, prog: str = "dqn-jax") -> None:
    line = " ".join(str(message).split())
    print(f"{prog}: error: {line}", file=sys.stderr)
    sys.exit(code)


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``train`` in front when it names no subcommand (and is not a help request):
    ``dqn-jax`` alone and ``dqn-jax --seed 3`` train."""
    argv = list(argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        return ["train", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the command line ``argv`` (default ``sys.argv[1:]``); no subcommand means train."""
    argv = normalise_argv(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        args.handler(args)
    except UsageError as error:
        _fail(str(error), 2, error.prog)
    except (ValueError, OSError) as error:
        _fail(str(error), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)


if __name__ == "__main__":
    main()
