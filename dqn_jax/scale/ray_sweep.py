"""Ray: a sweep's shards as Ray tasks on a cluster, each retried if its worker dies.

Needs the ``ray`` extra (``pip install "dqn-jax[ray]"``). :func:`sweep_on_ray` cuts the sweep
into ``num_shards`` shards (``dqn_jax.scale.shards``), submits one task per shard not already
``done``, with its own CPU/GPU resources and ``max_retries`` (Ray reruns a task whose worker
process died; an exception raised by the sweep itself is not retried), hands every finished
part to ``on_part`` as it arrives (``dqn-jax sweep --ray`` writes it to the run folder, so a
driver that dies loses no finished shard and a rerun skips them), then merges the parts.

Each task is an ordinary ``sweep(..., shard=(i, n), keep_state=True)`` in a worker process, so
the merge is bit-identical to ``sweep(..., chunk_size=ceil(N / n), keep_state=True)`` run on
the same kind of device (see ``dqn_jax.scale.shards``). A Ray Tune trial is one
configuration; here a task is a vmapped chunk of many agents, which Tune's schedulers could
not see inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from dqn_jax.config import DQNConfig
from dqn_jax.scale.result import SweepResult
from dqn_jax.scale.shards import (
    SweepPart,
    differences,
    identity,
    key_fingerprint,
    merge_sweeps,
    shard_range,
    versions,
)
from dqn_jax.scale.sweep import HparamsGrid, _check_key, _check_positive_int, _combos

INSTALL_HINT = 'pip install "dqn-jax[ray]"'


def import_ray() -> Any:
    """The ``ray`` module, or an ``ImportError`` of one line naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ImportError(f"Ray sweeps need Ray: {INSTALL_HINT}") from None
    return ray


def run_shard(
    config: DQNConfig,
    num_seeds: int,
    combos: list[dict[str, float]],
    key_data: np.ndarray,
    key_impl: str,
    shard: tuple[int, int],
    chunk_size: int | None = None,
    memory_budget: float | None = None,
    progress: Callable[[tuple[int, int]], Any] | None = None,
) -> SweepPart:
    """One shard of the sweep, as a task runs it (keys travel as key data)."""
    from dqn_jax.scale.sweep import sweep

    return sweep(
        config,
        num_seeds,
        combos,
        key=jax.random.wrap_key_data(np.asarray(key_data), impl=key_impl),
        chunk_size=chunk_size,
        memory_budget=memory_budget,
        progress=False if progress is None else progress(shard),
        keep_state=True,
        check=False,
        shard=shard,
    )


def sweep_on_ray(
    config: DQNConfig,
    num_seeds: int,
    hparams_grid: HparamsGrid = None,
    *,
    key: PRNGKeyArray,
    num_shards: int,
    done: Sequence[SweepPart] = (),
    on_part: Callable[[SweepPart], None] | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_retries: int = 3,
    chunk_size: int | None = None,
    memory_budget: float | None = None,
    task_progress: Callable[[tuple[int, int]], Any] | None = None,
    check: bool = True,
) -> SweepResult:
    """The sweep of ``dqn_jax.sweep`` run as ``num_shards`` Ray tasks, merged.

    Ray must be initialised (``ray.init``) by the caller. Every agent keeps its key and
    hyper-parameters (they depend on its global index only).

    Args:
        config, num_seeds, hparams_grid, key: as for ``dqn_jax.sweep``.
        num_shards: tasks to cut the agents into (``dqn_jax.scale.shards.shard_range``).
        done: parts already finished (e.g. read back from a run folder): not run again.
        on_part: called in the driver with each finished part as it arrives (e.g. to save it).
        num_cpus, num_gpus: Ray resources of each task.
        max_retries: times Ray reruns a task whose worker process died.
        chunk_size, memory_budget: chunking inside each task, as for ``dqn_jax.sweep``.
        task_progress: called inside each task with ``(index, count)``; returns the task's
            ``progress`` argument of ``sweep`` (e.g. a ``ProgressBar`` in the worker's log).
            It must be picklable.
        check: raise ``DivergenceError`` if an agent diverged (after every part is in).

    Returns:
        The merged ``SweepResult`` (with the training states).

    Raises:
        ValueError: for bad arguments, or a ``done`` part of another sweep, before any task.
        RuntimeError: naming the shards whose tasks failed, after every other task finished
            (and was handed to ``on_part``).
    """
    ray = import_ray()
    if not isinstance(config, DQNConfig):
        raise ValueError(f"config must be a DQNConfig, got {type(config).__name__}")
    _check_positive_int("num_seeds", num_seeds)
    combos = _combos(config, hparams_grid)
    _check_key(key)
    num_agents = len(combos) * num_seeds
    shard_range(num_agents, (0, num_shards), name="num_shards")
    for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{name}={value!r} is outside the allowed range [0, inf)")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries={max_retries!r} is outside the allowed range [0, inf)")
    fingerprint = key_fingerprint(key)
    want = {
        "config": config,
        "grid": tuple(tuple(combo.items()) for combo in combos),
        "seeds": num_seeds,
        "key": fingerprint,
        "shard count": num_shards,
        "versions": versions(),
        "keep_state": True,
    }
    parts = list(done)
    for part in parts:
        if not isinstance(part, SweepPart):
            raise ValueError(f"done holds a {type(part).__name__}, not a SweepPart")
        diffs = differences(identity(part), want)
        if diffs:
            raise ValueError(
                f"done part shard {part.shard[0]} of {part.shard[1]} is from another sweep: "
                "differs in " + "; ".join(diffs)
            )
    finished = {part.shard[0] for part in parts}

    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries)(run_shard)
    key_data = np.asarray(jax.random.key_data(key))
    args = (config, num_seeds, combos, key_data, fingerprint[0])
    pending = {
        task.remote(*args, (i, num_shards), chunk_size, memory_budget, task_progress): i
        for i in range(num_shards)
        if i not in finished
    }
    failed = []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            index = pending.pop(ref)
            try:
                part = ray.get(ref)
            except Exception as error:  # a task that failed for good: the others go on
                failed.append(f"shard {index} ({type(error).__name__}: {str(error)[:200]})")
                continue
            parts.append(part)
            if on_part is not None:
                on_part(part)
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {num_shards} shards failed (the others are done): "
            + "; ".join(failed)
        )
    return merge_sweeps(parts, check=check)
