"""Saved runs: a folder per run, and training that saves into it interval by interval.

``runs/NAME/`` holds

- ``config.json``: the ``DQNConfig`` fields, the seed, the number of seeds, the swept
  hyper-parameter grid (if any) and the dqn_jax, jax and equinox versions;
- ``metrics.csv``: one row per agent and logging point, the ``Metrics`` fields as columns, after a
  ``seed`` column and (for sweeps) one column per swept hyper-parameter;
- ``checkpoint.eqx``: the latest checkpoint (``dqn_jax.storage.checkpoint``);
- the plots and animations made from it.

Agents are batched: the leaves of a run's state have its batch shape in front, ``()`` for one
agent and ``(agents,)`` for many: the seeds of a run, or for a sweep every grid point times every
seed (grid-major: agent ``g * seeds + s``), each agent with its own hyper-parameters, so a seed
batch and a sweep of the same size are one and the same program.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import math
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dqn_jax.config import HPARAM_RANGES, DQNConfig, HParams
from dqn_jax.loop.tracking import Tracker, agent_labels, flat_metrics
from dqn_jax.loop.train import Metrics, TrainResult, TrainState, make_train
from dqn_jax.storage.atomic_file import write_atomic
from dqn_jax.storage.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dqn_jax.storage.config_file import config_from_dict, config_to_dict
from dqn_jax.storage.programs import ProgramStore, load_or_compile

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FILE = "checkpoint.eqx"


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What ``config.json`` holds."""

    config: DQNConfig
    seed: int | None  # the integer seed of the keys (None when unknown)
    seeds: int  # seeds per grid point
    grid: dict[str, list[float]] | None  # swept hyper-parameters and their values, or None


def _versions() -> dict[str, str]:
    versions = {}
    for name in ("dqn-jax", "jax", "equinox"):
        try:
            versions[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name.replace("-", "_")] = "unknown"
    return versions


def write_config(folder: str | Path, info: RunInfo) -> None:
    """Writes ``config.json`` into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "config": config_to_dict(info.config),
        "seed": info.seed,
        "seeds": info.seeds,
        "grid": info.grid,
        "versions": _versions(),
    }
    _write_text(folder / CONFIG_FILE, json.dumps(data, indent=2) + "\n")


def read_config(folder: str | Path) -> RunInfo:
    """Reads ``config.json`` of a saved run.

    Raises:
        ValueError: naming the folder or file when it is missing or invalid.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such run folder")
    path = folder / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except OSError:
        raise ValueError(f"{folder}: not a saved run (no {CONFIG_FILE})") from None
    except ValueError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ValueError(f"{path}: expected a 'config' table of DQNConfig fields")
    return RunInfo(
        config=config_from_dict(data["config"], source=str(path)),
        seed=data.get("seed"),
        seeds=int(data.get("seeds", 1)),
        grid=data.get("grid"),
    )


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def flatten_agents(x: Any, batch_shape: tuple[int, ...]) -> np.ndarray:
    """``x`` (leading axes a prefix of ``batch_shape``, then its own trailing axes) broadcast to
    ``batch_shape`` and flattened over it: shape ``(num_agents, *trailing)``."""
    x = np.asarray(x)
    extra = x.shape[len(batch_shape) :] if x.ndim > len(batch_shape) else ()
    lead = x.shape[: x.ndim - len(extra)]
    x = x.reshape(*lead, *(1,) * (len(batch_shape) - len(lead)), *extra)
    return np.broadcast_to(x, (*batch_shape, *extra)).reshape(-1, *extra)


def _format(value: Any) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.9g}"  # 9 digits: exact for float32
    return str(value)


def write_metrics(
    folder: str | Path,
    metrics: Metrics,
    hparams: HParams | None = None,
    grid_names: tuple[str, ...] = (),
    seeds: int | None = None,
) -> None:
    """Writes ``metrics.csv``: one row per agent and logging point.

    Args:
        folder: the run folder.
        metrics: leaves of shape ``(*batch_shape, num_points)``.
        hparams: the agents' hyper-parameters (leaves of a prefix of the batch shape); needed
            for ``grid_names``.
        grid_names: the swept hyper-parameters, written as columns after ``seed``.
        seeds: seeds per grid point (default: all agents are seeds of one grid point); the
            ``seed`` column is ``agent % seeds``.
    """
    batch_shape = tuple(metrics.env_steps.shape[:-1])
    num_points = metrics.env_steps.shape[-1]
    seeds = seeds or (batch_shape[0] if batch_shape else 1)
    columns = {n: flatten_agents(getattr(metrics, n), batch_shape) for n in Metrics._fields}
    grid = {n: flatten_agents(getattr(hparams, n), batch_shape) for n in grid_names}
    num_agents = int(np.prod(batch_shape, dtype=int))
    rows = []
    for agent in range(num_agents):
        head = [str(agent % seeds)] + [_format(grid[n][agent].astype(float)) for n in grid_names]
        for point in range(num_points):
            rows.append(head + [_format(columns[n][agent, point]) for n in Metrics._fields])
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["seed", *grid_names, *Metrics._fields])
    writer.writerows(rows)
    _write_text(Path(folder) / METRICS_FILE, text.getvalue())


def read_metrics(folder: str | Path) -> dict[str, np.ndarray]:
    """The columns of a run's ``metrics.csv`` as float64 arrays (one entry per row).

    Raises:
        ValueError: naming the file when it is missing or malformed.
    """
    path = Path(folder) / METRICS_FILE
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = list(reader)
    except (OSError, StopIteration):
        raise ValueError(f"{folder}: no {METRICS_FILE} (not a saved run, or not started)") from None
    try:
        values = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
    except ValueError:
        raise ValueError(f"{path}: malformed (non-numeric or ragged rows)") from None
    return {name: values[:, i] for i, name in enumerate(header)}


# --- batched agents -------------------------------------------------------------------------------


def vmap_agents(
    fn: Callable[..., Any],
    batch_ndim: int,
    hparams_ndim: int,
    in_axes: tuple[Any, ...],
) -> Callable[..., Any]:
    """``fn`` vmapped over ``batch_ndim`` leading agent axes.

    Args:
        fn: a function of one agent.
        batch_ndim: number of agent axes (0 returns ``fn`` unchanged).
        hparams_ndim: how many of the outer axes the hyper-parameters have.
        in_axes: per argument ``0`` (batched on every agent axis), ``None`` (shared) or
            ``"hparams"`` (batched on the outer ``hparams_ndim`` axes only).
    """
    for level in reversed(range(batch_ndim)):  # the innermost axis is vmapped first
        axes = tuple(
            (0 if level < hparams_ndim else None) if a == "hparams" else a for a in in_axes
        )
        fn = jax.vmap(fn, in_axes=axes)
    return fn


def agent_keys(seed: int, agents: int | None) -> jax.Array:
    """The typed keys of a run's agents: ``key(seed)`` for one unbatched agent
    (``agents=None``), else ``split(key(seed), agents)``, shape ``(agents,)``."""
    key = jax.random.key(seed)
    return key if agents is None else jax.random.split(key, agents)


def agent_hparams(config: DQNConfig, agents: int | None) -> HParams:
    """Every agent's hyper-parameters: the config's, one copy per agent.

    Returns:
        ``HParams`` of scalars for one unbatched agent (``agents=None``), else with leaves of
        shape ``(agents,)`` (a sweep's per-agent values come from ``dqn_jax.scale.sweep``).
    """
    one = HParams.from_config(config)
    if agents is None:
        return one
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (agents, *x.shape)), one)


def q_network(config: DQNConfig, state: TrainState) -> eqx.Module:
    """The online ``QNetwork`` of ``state`` (batched like the state)."""
    return eqx.combine(state.params.online, make_train(config).q_static)


def train_intervals(
    config: DQNConfig,
    start: Checkpoint | tuple[jax.Array, HParams],
    *,
    stop: int | None = None,
    folder: str | Path | None = None,
    checkpoint_every: int = 1,
    seeds: int | None = None,
    grid_names: tuple[str, ...] = (),
    progress: Callable[[np.ndarray, np.ndarray], None] | None = None,
    tracker: Tracker | None = None,
    programs: ProgramStore | str | Path | None = None,
) -> Checkpoint:
    """Trains agents interval by interval with a jitted ``train.step``, saving checkpoints.

    A run split by a checkpoint and a later resume runs the same compiled programs on the same
    arrays as an uninterrupted one, so both end bit-identical. The programs hold no host
    callback: progress and tracking are fed from the host between intervals, so JAX's
    persistent compilation cache (``dqn_jax.storage.compile_cache``) can keep them.

    Args:
        config: the static configuration.
        start: a checkpoint to continue from, or ``(keys, hparams)`` to start afresh: keys of
            the batch shape (``agent_keys``), hparams with a prefix of it (``agent_hparams``).
        stop: the logging interval to stop at (default: ``config.num_logs``, the whole run).
        folder: the run folder to save ``checkpoint.eqx`` and ``metrics.csv`` into, or ``None``.
        checkpoint_every: save after every this many logging intervals (and at ``stop``).
        seeds, grid_names: seeds per grid point and the swept hyper-parameters, for the
            columns of ``metrics.csv``.
        progress: ``progress(env_steps, recent_return)`` (e.g. a ``ProgressBar``), called from
            the host with arrays of the batch shape: once the step is compiled, with the env
            steps the agents start from (returns NaN), then after every interval with its
            logging point's ``env_steps`` and ``episode_return``.
        tracker: called after every interval with its metrics and the agents' labels
            (``dqn_jax.loop.tracking``: seeds, and the ``grid_names`` values of each agent).
        programs: a ``ProgramStore`` (or its folder) to load the compiled init and step programs
            from and store them in (``dqn_jax.storage.programs``), or ``None`` to compile them
            in this process. A stored program skips tracing and lowering, not only the compile.

    Returns:
        The checkpoint at ``stop`` (also written to ``folder``).
    """
    if isinstance(start, Checkpoint):
        state, hparams, metrics = start.state, start.hparams, start.metrics
        interval, batch_shape = start.interval, start.batch_shape
    else:
        keys, hparams = start
        batch_shape = tuple(keys.shape)
        state, metrics, interval = None, None, 0
    hparams_ndim = np.ndim(hparams.learning_rate)
    batch_ndim = len(batch_shape)
    hparams_def, hparams_leaves = jax.tree.structure(hparams), jax.tree.leaves(hparams)
    describe = {"config": config_to_dict(config), "batch": batch_shape, "hparams": hparams_ndim}
    train = functools.cache(lambda: make_train(config))  # only for what is not stored

    # The programs take and return flat lists of leaves: a stored one loads without the state's
    # pytree structure (``dqn_jax.storage.programs``).
    def init_program() -> Callable[..., list[jax.Array]]:
        batched = vmap_agents(train().init, batch_ndim, hparams_ndim, (0, "hparams"))

        def init(keys: jax.Array, hp: list[jax.Array]) -> list[jax.Array]:
            return jax.tree.leaves(batched(keys, hparams_def.unflatten(hp)))

        return init

    @functools.cache
    def state_def() -> Any:
        if state is not None:
            return jax.tree.structure(state)
        init = vmap_agents(train().init, batch_ndim, hparams_ndim, (0, "hparams"))
        return jax.tree.structure(jax.eval_shape(init, keys, hparams))

    def step_program() -> Callable[..., tuple[list[jax.Array], list[jax.Array]]]:
        batched = vmap_agents(train().step, batch_ndim, hparams_ndim, (0, "hparams", None))

        def step(leaves: list[jax.Array], hp: list[jax.Array], i: jax.Array) -> Any:
            new, out = batched(state_def().unflatten(leaves), hparams_def.unflatten(hp), i)
            return jax.tree.leaves(new), list(out)

        return step

    if state is None:
        args = (keys, hparams_leaves)
        init = load_or_compile("init", init_program, args, describe, programs)
        leaves = init(*args)
    else:
        leaves = jax.tree.leaves(state)
    stop = config.num_logs if stop is None else min(stop, config.num_logs)
    if interval >= stop:
        return Checkpoint(config, state_def().unflatten(leaves), hparams, metrics, interval)
    args = (leaves, hparams_leaves, jnp.int32(interval))
    step = load_or_compile("step", step_program, args, describe, programs)  # before any report
    # Logging points gather on the host: a concatenation on the device would compile anew for
    # every length.
    chunks = [] if metrics is None else [jax.tree.map(np.asarray, metrics)]
    if tracker is not None:
        num_agents = int(np.prod(batch_shape, dtype=int))
        swept = {n: flatten_agents(getattr(hparams, n), batch_shape) for n in grid_names}
        labels = agent_labels(num_agents, seeds or num_agents, swept)
    if progress is not None:
        steps = np.zeros(batch_shape, np.int32) if state is None else state.env_steps
        progress(np.asarray(steps), np.full(batch_shape, np.nan, np.float32))
    for i in range(interval, stop):
        leaves, new = step(leaves, hparams_leaves, jnp.int32(i))
        state_def()  # traced, where it is not yet known, while the interval runs
        new = Metrics(*(np.asarray(x) for x in new))
        if progress is not None:
            progress(new.env_steps, new.episode_return)
        if tracker is not None:
            tracker(flat_metrics(new), labels)
        chunks.append(jax.tree.map(lambda x: x[..., None], new))
        if (i + 1) % checkpoint_every == 0 or i + 1 == stop:
            metrics = jax.tree.map(lambda *xs: np.concatenate(xs, axis=-1), *chunks)
            chunks = [metrics]
            checkpoint = Checkpoint(
                config, state_def().unflatten(leaves), hparams, jax.device_put(metrics), i + 1
            )
            if folder is not None:
                save_checkpoint(Path(folder) / CHECKPOINT_FILE, checkpoint)
                write_metrics(folder, metrics, hparams, grid_names, seeds)
    return checkpoint


def extend(checkpoint: Checkpoint, total_timesteps: int) -> Checkpoint:
    """The checkpoint of a run extended to train until ``total_timesteps``.

    Its config is ``checkpoint.config.extend(env steps reached, total_timesteps)``: from there
    the learning-rate decay and PER's beta run to their ends at the new ``total_timesteps``
    (``dqn_jax.blocks.schedules``), while epsilon and the temperature keep their schedules. The
    state, hyper-parameters, metrics and interval are unchanged; continue with
    ``train_intervals(extended.config, extended)``.

    Raises:
        ValueError: if ``total_timesteps`` is not beyond the planned end, or the run is at its
            end with ``lr_decay`` (its learning rate is 0 there).
    """
    config = checkpoint.config
    at = checkpoint.interval * config.log_interval
    return checkpoint._replace(config=config.extend(at, total_timesteps))


# --- the Python face ------------------------------------------------------------------------------


def save(
    path: str | Path,
    result: TrainResult | TrainState,
    config: DQNConfig,
    hparams: HParams | None = None,
    *,
    seed: int | None = None,
) -> None:
    """Saves a result of ``train`` (or a bare ``TrainState``) as a run folder at ``path``:
    ``config.json``, ``checkpoint.eqx`` and, for a result, ``metrics.csv``. The folder then
    works with ``dqn-jax eval``, ``plot``, ``render`` and ``train --resume``.

    Args:
        path: the run folder (created if missing; its files are replaced).
        result: ``train(key)``'s result, or that of ``jax.vmap(train)`` (batched leaves).
        config: the config the result was trained with.
        hparams: the hyper-parameters it was trained with (default: the config's).
        seed: the integer seed its keys came from, if known (recorded in ``config.json``).
    """
    if isinstance(result, TrainResult):
        state, metrics = result.state, result.metrics
    elif isinstance(result, TrainState):
        state, metrics = result, None
    else:
        raise ValueError(f"result must be a TrainResult or a TrainState, got {type(result)}")
    if hparams is None:
        hparams = HParams.from_config(config)
    steps = np.asarray(state.env_steps)
    interval = int(steps.reshape(-1)[0]) // config.log_interval
    batch_shape = steps.shape
    folder = Path(path)
    seeds = batch_shape[-1] if batch_shape else 1
    write_config(folder, RunInfo(config, seed, seeds, None))
    save_checkpoint(folder / CHECKPOINT_FILE, Checkpoint(config, state, hparams, metrics, interval))
    if metrics is not None:
        write_metrics(folder, metrics, hparams, seeds=seeds)


def load(
    path: str | Path, config: DQNConfig | None = None
) -> tuple[DQNConfig, TrainResult | TrainState]:
    """Loads a run folder (or a checkpoint file) saved by :func:`save` or ``dqn-jax train``.

    Args:
        path: a run folder or a ``checkpoint.eqx`` file.
        config: if given, the checkpoint must have been made with it.

    Returns:
        ``(config, result)``: a ``TrainResult`` (``q_network``, ``metrics``, ``state``) when the
        checkpoint holds metrics, else the ``TrainState``. Leaves are batched like the run's
        agents.

    Raises:
        ValueError: naming the file, for a missing, truncated or corrupted checkpoint or one from
            another config.
    """
    path = Path(path)
    file = path / CHECKPOINT_FILE if path.is_dir() else path
    checkpoint = load_checkpoint(file, config)
    if checkpoint.metrics is None:
        return checkpoint.config, checkpoint.state
    network = q_network(checkpoint.config, checkpoint.state)
    return checkpoint.config, TrainResult(network, checkpoint.metrics, checkpoint.state)


def grid_of(info: RunInfo) -> tuple[str, ...]:
    """The swept hyper-parameter names of a run (empty for a plain run)."""
    return tuple(n for n in (info.grid or {}) if n in HPARAM_RANGES)
