"""Sweeps: seeds x hyper-parameter combinations as one vmapped, jitted program.

``sweep(config, num_seeds, hparams_grid, key=...)`` lays the runs out on one flat agents axis
(combination-major: agent ``c * num_seeds + s`` is seed ``s`` of combination ``c``, and every
combination shares the same ``num_seeds`` keys), runs ``jax.vmap(train)`` over it and returns a
:class:`SweepResult` whose leaves have the named axes ``("combo", "seed")`` in front.

- **Devices.** With more than one device the agents axis is sharded over a one-axis
  ``jax.sharding.Mesh`` (``NamedSharding``, ``jit`` in/out shardings): JAX's SPMD partitioner
  splits the agents, which never talk to each other. The batch is padded to a multiple of the
  device count and the padding is dropped.
- **Memory.** :func:`bytes_per_agent` is the size of one agent's training state (the replay
  buffer dominates). ``chunk_size`` (or ``memory_budget``) runs the agents in sequential chunks of
  one size, so the program compiles once; the last chunk is padded instead of recompiled.
- **Progress.** The program reports through ``dqn_jax.loop.progress.report``: one host call per
  report for the whole batch, so a 512-agent sweep draws one progress line.
- **Shards.** ``shard=(i, n)`` runs chunk ``i`` of ``n`` of the agents axis (``shards``):
  parts that run on other hosts and ``merge_sweeps`` back into this sweep.
- **Processes.** Under ``jax.distributed`` the devices span processes (``distributed``):
  inputs are placed per process, results gathered on every process, progress drawn by process 0.
- **Tracking.** With ``tracker=`` (``dqn_jax.loop.tracking``) the sweep runs interval by interval
  instead: a jitted ``init`` and a jitted ``train.step`` of the chunk, called from the host, so
  the tracker sees every logging point of every agent while the sweep runs. Several chunks take
  turns at each interval, the waiting ones' states in host memory. Progress is then reported
  from the host after each chunk's interval: the programs hold no callback, and JAX's
  persistent compilation cache (``dqn_jax.storage.compile_cache``) can keep them.

Programs are cached per (config, chunk, devices, progress interval, keep_state), the tracked
ones per (config, chunk, devices): a second sweep with new hyper-parameter values or keys of the
same shape compiles nothing.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import PRNGKeyArray

from dqn_jax.config import HPARAM_RANGES, DQNConfig, HParams
from dqn_jax.loop.progress import DEFAULT_INTERVAL, Progress, ProgressBar
from dqn_jax.loop.tracking import AgentLabel, Tracker, flat_metrics
from dqn_jax.loop.train import Metrics, TrainResult, TrainState, abstract_state, make_train
from dqn_jax.scale import distributed, divergence, shards
from dqn_jax.scale.result import SweepResult
from dqn_jax.scale.shards import SweepPart

HparamsGrid = Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]] | None


def _nbytes(tree: Any) -> int:
    total = 0
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.eval_shape(jax.random.key_data, leaf)
        total += math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
    return total


def bytes_per_agent(config: DQNConfig) -> int:
    """Bytes of one agent's training state (``dqn_jax.loop.train.abstract_state``: nothing runs).

    The replay buffer dominates (``buffer_size`` transitions of two observations, stored as
    ``EnvSpec.obs_storage`` says: bit-packed for MinAtar's 0/1 channels, and four scalars), then
    the networks and optimizer state. XLA's temporaries come on top, so a memory
    budget should leave headroom.
    """
    if not isinstance(config, DQNConfig):
        raise ValueError(f"config must be a DQNConfig, got {type(config).__name__}")
    return _nbytes(abstract_state(config))


# --- input checks (all before anything compiles) -------------------------------------------------


def _check_value(where: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: {name}={value!r} must be a number in {HPARAM_RANGES[name]}")


def _combos(config: DQNConfig, hparams_grid: HparamsGrid) -> list[dict[str, float]]:
    """The grid as a list of combinations (a dict's product varies its first name slowest),
    each checked by ``HParams.from_config``."""
    if hparams_grid is None:
        combos: list[dict[str, Any]] = [{}]
    elif isinstance(hparams_grid, Mapping):
        for name, values in hparams_grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
                raise ValueError(
                    f"hparams_grid[{name!r}]={values!r} must be a non-empty list of values"
                )
            if len(values) == 0:
                raise ValueError(f"hparams_grid[{name!r}] is empty: give at least one value")
        names = list(hparams_grid)
        combos = [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(list(hparams_grid[n]) for n in names))
        ]
    elif isinstance(hparams_grid, Sequence) and not isinstance(hparams_grid, (str, bytes)):
        if len(hparams_grid) == 0:
            raise ValueError("hparams_grid is an empty list: give at least one combination")
        combos = []
        for i, combo in enumerate(hparams_grid):
            if not isinstance(combo, Mapping):
                raise ValueError(
                    f"hparams_grid[{i}]={combo!r} must be a dict of hyper-parameter values"
                )
            combos.append(dict(combo))
    else:
        raise ValueError(
            "hparams_grid must be None, a dict of value lists or a list of dicts, got "
            f"{type(hparams_grid).__name__}"
        )
    for i, combo in enumerate(combos):
        where = f"hparams_grid combination {i}"
        for name, value in combo.items():
            if name in HPARAM_RANGES:
                _check_value(where, name, value)
        try:
            HParams.from_config(config, **combo)  # names every unknown or out-of-range value
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return combos


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} is outside the allowed range [1, inf) (an integer)")


def _devices(devices: Sequence[jax.Device] | None) -> tuple[jax.Device, ...]:
    if devices is None:
        return tuple(jax.devices())
    devices = tuple(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(f"devices={devices!r} must be a non-empty list of jax devices")
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices={devices!r} lists a device twice")
    return devices


def _chunk(
    num_agents: int,
    num_devices: int,
    chunk_size: int | None,
    memory_budget: float | None,
    agent_bytes: Callable[[], int],
) -> int:
    """Agents per compiled call: a multiple of the device count, at most the padded sweep."""
    whole = -(-num_agents // num_devices) * num_devices
    if chunk_size is not None and memory_budget is not None:
        raise ValueError("give chunk_size or memory_budget, not both")
    if chunk_size is not None:
        _check_positive_int("chunk_size", chunk_size)
        return min(whole, -(-chunk_size // num_devices) * num_devices)
    if memory_budget is not None:
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Real):
            raise ValueError(f"memory_budget={memory_budget!r} must be a number of bytes")
        least = agent_bytes()
        if not least <= memory_budget < math.inf:
            raise ValueError(
                f"memory_budget={memory_budget!r} is outside the allowed range [{least}, inf): "
                f"one agent's training state takes {least} bytes"
            )
        fits = min(whole, int(memory_budget // least) * num_devices)
        chunks = -(-num_agents // fits)
        # The fewest chunks that fit, balanced so the last one carries little padding.
        return -(-num_agents // (chunks * num_devices)) * num_devices
    return whole


# --- the program ---------------------------------------------------------------------------------


class _Relay:
    """The callback compiled into a cached program: forwards each report to the progress of the
    sweep now running, offset by the chunks already done and without the padding agents (so a
    new progress bar compiles nothing; one sweep at a time runs a given program)."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.target: Progress | None = None
        self.offset = 0  # env steps of each agent in the chunks already run
        self.valid = 0  # real (not padding) agents in the running chunk

    def __call__(self, env_steps: np.ndarray, recent_return: np.ndarray) -> None:
        if self.target is not None:
            steps = np.asarray(env_steps).reshape(-1)[: self.valid]
            returns = np.asarray(recent_return).reshape(-1)[: self.valid]
            self.target(steps + self.offset, returns)


@functools.lru_cache(maxsize=8)
def _program(
    config: DQNConfig,
    chunk: int,
    devices: tuple[jax.Device, ...],
    interval: int | None,
    keep_state: bool,
) -> tuple[Callable[..., TrainResult], NamedSharding | None, _Relay | None]:
    """The jitted ``vmap(train)`` over ``chunk`` agents (sharded over ``devices`` if several)."""
    relay = None if interval is None else _Relay(interval)
    train = make_train(config, progress=relay)

    def run(keys: PRNGKeyArray, hparams: HParams) -> TrainResult:
        result = jax.vmap(train)(keys, hparams)
        return result if keep_state else result._replace(state=None)

    if len(devices) == 1:
        return jax.jit(run), None, relay  # runs where its inputs are placed
    mesh = Mesh(np.asarray(devices), ("agents",))
    sharding = NamedSharding(mesh, PartitionSpec("agents"))
    return jax.jit(run, in_shardings=sharding, out_shardings=sharding), sharding, relay


@functools.lru_cache(maxsize=8)
def _interval_programs(
    config: DQNConfig, chunk: int, devices: tuple[jax.Device, ...]
) -> tuple[Callable[..., TrainState], Callable[..., Any], Any, NamedSharding | None]:
    """The jitted ``vmap(train.init)`` and ``vmap(train.step)`` over ``chunk`` agents, the
    network's static part and the agents' sharding (if several devices). They hold no host
    callback (progress is reported between intervals), so the persistent cache keeps them."""
    train = make_train(config)
    init = jax.vmap(train.init)
    step = jax.vmap(train.step, in_axes=(0, 0, None))
    if len(devices) == 1:
        return jax.jit(init), jax.jit(step), train.q_static, None
    mesh = Mesh(np.asarray(devices), ("agents",))
    sharding = NamedSharding(mesh, PartitionSpec("agents"))
    replicated = NamedSharding(mesh, PartitionSpec())
    init = jax.jit(init, in_shardings=sharding, out_shardings=sharding)
    step = jax.jit(
        step, in_shardings=(sharding, sharding, replicated), out_shardings=(sharding, sharding)
    )
    return init, step, train.q_static, sharding


def _stack(trees: Sequence[Any]) -> Any:
    return jax.tree.map(lambda *xs: np.stack(xs), *trees)


def sweep(
    config: DQNConfig,
    num_seeds: int,
    hparams_grid: HparamsGrid = None,
    *,
    key: PRNGKeyArray,
    chunk_size: int | None = None,
    memory_budget: float | None = None,
    devices: Sequence[jax.Device] | None = None,
    progress: bool | int | Progress | None = False,
    keep_state: bool = False,
    check: bool = True,
    shard: tuple[int, int] | None = None,
    tracker: Tracker | None = None,
) -> SweepResult | SweepPart:
    """Trains ``num_seeds`` seeds of every hyper-parameter combination as one program.

    Args:
        config: the static configuration (every run shares it).
        num_seeds: seeds per combination; combination ``c``'s seed ``s`` uses key
            ``jax.random.split(key, num_seeds)[s]``, so combinations share their seeds.
        hparams_grid: ``None`` (the config's values), a dict ``{name: [values]}`` whose product
            is swept (the first name varies slowest), or a list of dicts ``{name: value}``, one
            per combination. Names are ``HParams`` fields; unnamed fields keep the config's
            values. Every value is checked against its range before anything compiles.
        key: a typed PRNG key (``jax.random.key(seed)``).
        chunk_size: agents per sequential chunk (default: all at once), rounded up to a
            multiple of the device count; the last chunk is padded, so one program serves all.
        memory_budget: bytes of each device's memory that its agents' training states may
            take (see :func:`bytes_per_agent`); picks the fewest chunks that fit, of balanced
            size. Not with ``chunk_size``.
        devices: the devices to shard the agents over (default ``jax.devices()``; one device
            means no sharding).
        progress: ``True`` for one progress bar for the whole sweep, an integer for a bar
            updated every that many env steps, a ``dqn_jax.loop.progress.Progress`` (it receives
            each report once, with arrays of shape ``(agents in the chunk,)``; chunk ``i``
            reports ``i * total_timesteps + env_steps``), or ``False`` / ``None``. The report
            is compiled into the program as a host callback, which JAX's persistent cache does
            not keep; with ``tracker`` it is made from the host at every logging point instead.
        keep_state: also return every agent's final ``TrainState`` (replay included: see
            :func:`bytes_per_agent`); with chunks, each finished chunk's states move to host
            memory. By default only the networks and metrics come back. Either way device
            memory holds one chunk's states at a time.
        check: raise if an agent diverged (``dqn_jax.check``); ``False`` returns the result
            and leaves the check to the caller.
        shard: ``(i, n)`` runs only shard ``i`` of ``n`` of the agents axis: the agents
            ``[i * k, min((i + 1) * k, N))`` with ``k = ceil(N / n)``, each with the key and
            hyper-parameters it has in the whole sweep (see ``scale.shards``). ``chunk_size``
            and ``memory_budget`` then cut the shard's ``k`` agents.
        tracker: called at every logging point, while the sweep runs, with every agent's
            metrics and labels (``dqn_jax.loop.tracking``: the seed and the swept values). The sweep
            then runs interval by interval (see the module's docstring); not
            under ``jax.distributed``.

    Returns:
        A :class:`SweepResult`: leaves of shape ``(num_combos, num_seeds, ...)``; with
        ``shard``, a ``dqn_jax.scale.shards.SweepPart`` (one flat agent axis) for ``merge_sweeps``.

    Raises:
        ValueError: naming the argument, its value and the allowed range, before compiling.
        DivergenceError: with ``check``, if any agent's loss, Q-values or parameters turned
            non-finite; it names each one's combination, seed and env step, and carries the
            whole sweep as ``error.result`` (the other agents' runs are not lost).
    """
    if not isinstance(config, DQNConfig):
        raise ValueError(f"config must be a DQNConfig, got {type(config).__name__}")
    _check_positive_int("num_seeds", num_seeds)
    combos = _combos(config, hparams_grid)
    _check_key(key)
    if tracker is not None and not callable(tracker):
        raise ValueError(f"tracker={tracker!r} must be callable as tracker(metrics, agents)")
    if tracker is not None and distributed.is_multiprocess():
        raise ValueError(
            "tracker= is not available under jax.distributed: run the shards as separate "
            "processes without jax.distributed (shard=) and track each"
        )
    devices = _devices(devices)
    num_agents = len(combos) * num_seeds
    # This program's agents: [first, first + count) of the global axis, compiled for `size`.
    first, count, size = 0, num_agents, num_agents
    if shard is not None:
        first, stop, size = shards.shard_range(num_agents, shard)
        count = stop - first
    chunk = _chunk(size, len(devices), chunk_size, memory_budget, lambda: bytes_per_agent(config))
    num_chunks = -(-count // chunk)
    target, bar = _progress_target(progress, config, count, num_chunks)

    hparams = _stack([HParams.from_config(config, **combo) for combo in combos])
    # Agent a is seed a % num_seeds of combination a // num_seeds; padding repeats agent 0.
    agent = first + np.arange(num_chunks * chunk)
    agent = np.where(agent < first + count, agent, 0)
    agent_hparams = jax.tree.map(lambda x: x[agent // num_seeds], hparams)
    agent_keys = jax.random.split(key, num_seeds)[agent % num_seeds]

    interval = _interval(progress) if target is None else int(target.interval)
    if tracker is not None:
        names = _swept(combos)
        labels = [
            AgentLabel(
                a % num_seeds,
                tuple((n, combos[a // num_seeds].get(n, getattr(config, n))) for n in names),
            )
            for a in range(first, first + count)
        ]
        result = _tracked(
            config,
            chunk,
            devices,
            target,
            bar,
            tracker,
            labels,
            agent_keys,
            agent_hparams,
            keep_state,
        )
    else:
        result = _run_chunks(
            config,
            chunk,
            devices,
            interval,
            keep_state,
            target,
            bar,
            agent_keys,
            agent_hparams,
            count,
            num_chunks,
        )
    if shard is not None:
        agents = (first, first + count)
        return _part(
            result, hparams, combos, num_seeds, shard, agents, config, key, chunk, devices, check
        )
    return _finish(result, combos, num_seeds, hparams, check)


def _run_chunks(
    config: DQNConfig,
    chunk: int,
    devices: tuple[jax.Device, ...],
    interval: int | None,
    keep_state: bool,
    target: Progress | None,
    bar: ProgressBar | None,
    agent_keys: PRNGKeyArray,
    agent_hparams: HParams,
    count: int,
    num_chunks: int,
) -> TrainResult:
    """The sweep's chunks one after the other, each one program; the flat (padded) result."""
    run, sharding, relay = _program(config, chunk, devices, interval, keep_state)
    if sharding is None:
        place = functools.partial(jax.device_put, device=devices[0])
    else:  # fills each process's devices (a device_put of keys across processes raises)
        place = functools.partial(distributed.place, sharding=sharding)
    multiprocess = distributed.is_multiprocess()
    outputs = []
    if relay is not None:
        relay.target = target
    try:
        for i in range(num_chunks):
            part = slice(i * chunk, (i + 1) * chunk)
            if relay is not None:
                if outputs:  # the previous chunk's reports are in before the relay changes
                    jax.block_until_ready(outputs[-1])
                    jax.effects_barrier()
                relay.offset = i * config.total_timesteps
                relay.valid = min(chunk, count - i * chunk)
            hparams_part = jax.tree.map(lambda x, p=part: place(x[p]), agent_hparams)
            output = run(place(agent_keys[part]), hparams_part)
            if multiprocess:  # every process holds the whole chunk, on its host
                output = jax.tree.map(jnp.asarray, distributed.gather(output))
            elif keep_state and num_chunks > 1:
                # host memory holds the finished chunks' states, the device one chunk's
                output = jax.device_put(output, jax.devices("cpu")[0])
            outputs.append(output)
        jax.block_until_ready(outputs)
        jax.effects_barrier()  # every report has reached the host
    finally:
        if relay is not None:
            relay.target = None
        if bar is not None:
            bar.close()
    result = outputs[0]
    if num_chunks > 1:
        result = jax.tree.map(lambda *xs: jnp.concatenate(xs), *outputs)
    return result


def _finish(
    result: TrainResult,
    combos: list[dict[str, float]],
    num_seeds: int,
    hparams: HParams,
    check: bool,
) -> SweepResult:
    """The flat (padded) agents' result as a :class:`SweepResult`, checked if ``check``."""
    num_agents = len(combos) * num_seeds
    result = jax.tree.map(
        lambda x: x[:num_agents].reshape(len(combos), num_seeds, *x.shape[1:]), result
    )
    swept = SweepResult(
        result=result,
        hparams=jax.tree.map(jnp.asarray, hparams),
        grid=tuple(tuple(combo.items()) for combo in combos),
    )
    return divergence.check_and_attach(swept) if check else swept


def _part(
    result: TrainResult,
    hparams: HParams,
    combos: list[dict[str, float]],
    num_seeds: int,
    shard: tuple[int, int],
    agents: tuple[int, int],
    config: DQNConfig,
    key: PRNGKeyArray,
    chunk: int,
    devices: tuple[jax.Device, ...],
    check: bool,
) -> SweepPart:
    """The ``SweepPart`` of a sharded sweep (padding dropped), checked for divergence."""
    part = shards.SweepPart(
        result=jax.tree.map(lambda x: x[: agents[1] - agents[0]], result),
        hparams=jax.tree.map(jnp.asarray, hparams),
        grid=tuple(tuple(combo.items()) for combo in combos),
        num_seeds=num_seeds,
        shard=(int(shard[0]), int(shard[1])),
        agents=agents,
        config=config,
        key=shards.key_fingerprint(key),
        versions=shards.versions(),
        program=(chunk, len(devices), devices[0].device_kind),
    )
    return shards.check_part(part) if check else part


def _interval(progress: bool | int | Progress | None) -> int | None:
    """The report interval a process that draws no progress still compiles (under
    ``jax.distributed`` every process runs the same program; only process 0 draws)."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return DEFAULT_INTERVAL
    return int(progress) if isinstance(progress, int) else int(progress.interval)


def _swept(combos: list[dict[str, float]]) -> list[str]:
    """The hyper-parameters the combinations name, in order of first appearance."""
    return list(dict.fromkeys(name for combo in combos for name in combo))


def _tracked(
    config: DQNConfig,
    chunk: int,
    devices: tuple[jax.Device, ...],
    target: Progress | None,
    bar: ProgressBar | None,
    tracker: Tracker,
    labels: list[AgentLabel],
    agent_keys: PRNGKeyArray,
    agent_hparams: HParams,
    keep_state: bool,
) -> TrainResult:
    """The sweep interval by interval, feeding ``tracker`` at every logging point and
    ``target`` (the progress) after every chunk's interval, from the host.

    Returns the flat agents' result, with its final state if ``keep_state`` (padded; the metrics
    are not).
    """
    init, step, q_static, sharding = _interval_programs(config, chunk, devices)
    place = functools.partial(jax.device_put, device=sharding or devices[0])
    num_agents, padded = len(labels), len(agent_keys)
    parts = [slice(c, c + chunk) for c in range(0, padded, chunk)]
    # The chunks take turns: the waiting ones' states stay in host memory.
    park = (lambda x: jax.device_put(x, jax.devices("cpu")[0])) if len(parts) > 1 else (lambda x: x)
    hparams = [jax.tree.map(lambda x, p=p: place(x[p]), agent_hparams) for p in parts]
    states = [park(init(place(agent_keys[p]), h)) for p, h in zip(parts, hparams, strict=True)]
    points = []
    try:
        for i in range(config.num_logs):
            outputs = []
            for c, part in enumerate(parts):
                state, metrics = step(place(states[c]), hparams[c], jnp.int32(i))
                states[c] = park(state)
                outputs.append(metrics)
                if target is not None:
                    # The bar counts num_chunks runs: interval i of chunk c is its (i, c)th.
                    valid = min(chunk, num_agents - part.start)
                    done = (i * len(parts) + c + 1) * config.log_interval
                    returns = np.asarray(metrics.episode_return).reshape(-1)[:valid]
                    target(np.full(valid, done, np.int32), returns)
            metrics = flat_metrics(jax.tree.map(lambda *xs: np.concatenate(xs), *outputs))
            metrics = Metrics(*(x[:num_agents] for x in metrics))
            tracker(metrics, labels)
            points.append(metrics)
    finally:
        if bar is not None:
            bar.close()
    metrics = jax.tree.map(lambda *xs: np.stack(xs, axis=-1), *points)
    if not keep_state:  # only the networks: never every chunk's replay in memory at once
        states = [s.params.online for s in states]
    joined = (
        states[0] if len(states) == 1 else jax.tree.map(lambda *xs: jnp.concatenate(xs), *states)
    )
    online = joined.params.online if keep_state else joined
    q_network = eqx.combine(online, q_static)
    return TrainResult(
        q_network, jax.tree.map(jnp.asarray, metrics), joined if keep_state else None
    )


def _check_key(key: Any) -> None:
    if not (
        isinstance(key, jax.Array)
        and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
        and key.shape == ()
    ):
        raise ValueError(f"key={key!r} must be one typed PRNG key (jax.random.key(seed))")


def _progress_target(
    progress: bool | int | Progress | None,
    config: DQNConfig,
    num_agents: int,
    num_chunks: int,
) -> tuple[Progress | None, ProgressBar | None]:
    """Where the reports go, and the bar to close at the end (if this sweep made one); none on
    processes other than 0 of ``jax.distributed``."""
    if isinstance(progress, Progress) and not isinstance(progress, (bool, int)):
        return (progress, None) if distributed.is_leader() else (None, None)
    if progress is False or progress is None:
        return None, None
    if progress is True:
        progress = DEFAULT_INTERVAL
    if not isinstance(progress, int) or progress < 1:
        raise ValueError(
            f"progress={progress!r} must be True, False, an interval in [1, inf) env steps, "
            "or a dqn_jax.loop.progress.Progress"
        )
    if not distributed.is_leader():
        return None, None
    desc = f"sweep in {num_chunks} chunks" if num_chunks > 1 else "sweep"
    total = num_chunks * config.total_timesteps
    bar = ProgressBar(total, progress, agents=num_agents, desc=desc)
    return bar, bar
