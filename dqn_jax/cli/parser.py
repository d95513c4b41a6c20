"""The argument parser: every ``DQNConfig`` field as a flag, and each subcommand's flags."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import math
import textwrap
from typing import Any

from dqn_jax.cli.common import TENSORBOARD_INSTALL_HINT, WANDB_INSTALL_HINT, UsageError
from dqn_jax.cli.results import _cmd_eval, _cmd_plot, _cmd_render
from dqn_jax.cli.sweep import _cmd_merge, _cmd_sweep
from dqn_jax.cli.train import _cmd_train


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
        "configuration (DQNConfig fields; flags override --config, which overrides the "
        "settings tuned for the env named, DQNConfig.for_env, or else the defaults)"
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
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (it moves at every logging point, from between the compiled "
        "intervals)",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="write every logging point to TensorBoard event files in OUT/tensorboard/ as "
        f"training runs (needs the run folder, --out or train's --resume; not with --shard or "
        f"--ray; {TENSORBOARD_INSTALL_HINT})",
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
    parser.add_argument(
        "--progress-interval",
        type=_int_at_least(1),
        default=None,
        metavar="STEPS",
        help="env steps between progress-bar updates of a sweep run as one program (default "
        "1000; its callback keeps that program out of the compilation cache); a tracked sweep "
        "(--tensorboard, --wandb) updates it at every logging point",
    )
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
        help="animated GIF of a trained agent playing one episode (CartPole-v1, MinAtar)",
        description="Play one greedy episode with a saved run's agent and write it as a GIF.",
    )
    render.add_argument("run", metavar="RUN", help="a run folder (runs/NAME)")
    render.add_argument("--out", metavar="GIF", help="output file (default: RUN/episode.gif)")
    render.add_argument(
        "--agent", type=_int_at_least(0), default=0, help="which agent of the run (default 0)"
    )
    render.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    render.add_argument(
        "--fps",
        type=_int_at_least(1),
        help="frames per second (default 50 for CartPole-v1, 10 for images)",
    )
    render.set_defaults(handler=_cmd_render)
    for command in (train, sweep, merge, evaluate, plot, render):
        command.add_argument(
            "--no-compile-cache",
            action="store_true",
            help="neither read nor write compiled programs in JAX's persistent compilation "
            "cache (by default: $JAX_COMPILATION_CACHE_DIR if set, else "
            "${XDG_CACHE_HOME:-~/.cache}/dqn-jax/jax)",
        )
    return parser
