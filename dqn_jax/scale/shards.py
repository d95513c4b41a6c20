"""Shards: one sweep cut into parts that run on different hosts, and merged back into the sweep.

A sweep lays its ``N = num_combos * num_seeds`` agents on one global axis, combination-major:
agent ``a`` is seed ``a % num_seeds`` of combination ``a // num_seeds``, with key
``jax.random.split(key, num_seeds)[a % num_seeds]`` and that combination's hyper-parameters.
An agent's key and hyper-parameters depend on its global index only, never on the cut.

**The cut.** Shard ``i`` of ``n`` holds the agents ``[i * k, min((i + 1) * k, N))`` with
``k = ceil(N / n)`` (:func:`shard_range`): it is chunk ``i`` of ``sweep(..., chunk_size=k)``.
Every shard runs the program of ``k`` agents (the last one padded like a chunk), so all shards of
a sweep compile one program shape. A shard count that leaves a shard empty is refused.

**The merge.** :func:`merge_sweeps` checks that the parts come from one sweep (same config,
grid, seeds, key, shard count and versions) and that each shard is there exactly once, then
concatenates them into the :class:`~dqn_jax.scale.result.SweepResult` that one sweep returns.

**What is equal.** The merge is bit-identical to ``sweep(..., chunk_size=k)`` where every part
ran the same program shape (``k`` agents, or the same ``chunk_size`` inside each part, on the
same number and kind of devices): the same compiled program on the same inputs. A different
vmapped batch size or device split may round floats differently (XLA may pick other matmul or
reduction orders), so against a sweep cut otherwise the agents agree within float32 rounding:
the tests check 1e-4 absolute plus 1e-4 relative on every metric and weight, as
``tests/test_sweep.py`` does for chunked and sharded sweeps.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dqn_jax.config import DQNConfig, HParams
from dqn_jax.loop.train import TrainResult
from dqn_jax.scale import divergence
from dqn_jax.scale.result import SweepResult

Shard = tuple[int, int]
"""``(index, count)``: shard ``index`` of ``count``, ``0 <= index < count``."""


def check_shard(shard: Any, name: str = "shard") -> Shard:
    """``shard`` as ``(index, count)`` of two ints; a ``ValueError`` naming ``name`` otherwise."""
    ok = isinstance(shard, tuple | list) and len(shard) == 2
    ok = ok and all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in shard)
    if not ok:
        raise ValueError(f"{name}={shard!r} must be (index, count), two integers")
    index, count = int(shard[0]), int(shard[1])
    if count < 1:
        raise ValueError(
            f"{name}={shard!r}: the count {count} is outside the allowed range [1, inf)"
        )
    if not 0 <= index < count:
        raise ValueError(
            f"{name}={shard!r}: the index {index} is outside the allowed range [0, {count - 1}]"
        )
    return index, count


def shard_range(num_agents: int, shard: Shard, name: str = "shard") -> tuple[int, int, int]:
    """``(start, stop, size)``: shard ``index`` of ``count`` holds the global agents
    ``[start, stop)``, and every shard's program has ``size = ceil(num_agents / count)`` agents.

    Raises:
        ValueError: naming ``name``, for a malformed shard or a count that leaves a shard empty.
    """
    index, count = check_shard(shard, name)
    size = -(-num_agents // count)
    used = -(-num_agents // size)
    if used < count:
        shown = f"{name} {index}/{count}" if name.startswith("--") else f"{name}={shard!r}"
        raise ValueError(
            f"{shown}: {num_agents} agent{'s' * (num_agents != 1)} in {count} shards of {size} "
            "leave "
            + (f"shard {used}" if used == count - 1 else f"shards {used} to {count - 1}")
            + f" empty; choose a count that leaves none empty, such as {used}"
        )
    return index * size, min((index + 1) * size, num_agents), size


def versions() -> tuple[tuple[str, str], ...]:
    """The installed dqn-jax, jax and jaxlib versions (bit-identity needs the same ones)."""
    found = []
    for name in ("dqn-jax", "jax", "jaxlib"):
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "unknown"))
    return tuple(found)


def key_fingerprint(key: jax.Array) -> tuple[str, tuple[int, ...]]:
    """The implementation name and the key data of a typed PRNG key, as plain Python values."""
    data = np.asarray(jax.random.key_data(key)).reshape(-1)
    return str(jax.random.key_impl(key)), tuple(int(x) for x in data)


class SweepPart(eqx.Module):
    """What ``sweep(..., shard=(i, n))`` returns: the agents ``agents[0]:agents[1]`` of a sweep.

    ``result``'s leaves have one flat agent axis in front, shape ``(stop - start, ...)``, in
    global agent order. ``hparams`` holds every combination of the sweep (leaves of shape
    ``(num_combos,)``), like ``SweepResult.hparams``. The static fields identify the sweep, so
    :func:`merge_sweeps` can refuse parts of different sweeps.
    """

    result: TrainResult
    hparams: HParams
    grid: tuple[tuple[tuple[str, float], ...], ...] = eqx.field(static=True)
    num_seeds: int = eqx.field(static=True)
    shard: Shard = eqx.field(static=True)
    agents: tuple[int, int] = eqx.field(static=True)  # [start, stop) of the global axis
    config: DQNConfig = eqx.field(static=True)
    key: tuple[str, tuple[int, ...]] = eqx.field(static=True)  # key_fingerprint of the sweep's
    versions: tuple[tuple[str, str], ...] = eqx.field(static=True)
    program: tuple[int, int, str] = eqx.field(static=True)  # agents per call, devices, kind

    @property
    def num_agents(self) -> int:
        """Agents of the whole sweep."""
        return len(self.grid) * self.num_seeds

    def combos(self) -> list[dict[str, float]]:
        return [dict(combo) for combo in self.grid]

    def labels(self) -> list[str]:
        """``combo C (values) seed S`` of each agent of this part, as ``dqn_jax.check`` names
        the agents of a whole sweep."""
        combos = self.combos()
        labels = []
        for agent in range(*self.agents):
            combo, seed = divmod(agent, self.num_seeds)
            values = ", ".join(f"{n}={v:g}" for n, v in combos[combo].items())
            labels.append(f"combo {combo}" + (f" ({values})" if values else "") + f" seed {seed}")
        return labels


def check_part(part: SweepPart) -> SweepPart:
    """Raises ``DivergenceError`` naming each diverged agent of ``part`` by its global
    combination and seed (``error.result`` is the part); returns ``part``."""
    return divergence.check_and_attach(part.result, part, labels=part.labels())


def _config_diff(a: DQNConfig, b: DQNConfig) -> str:
    return "; ".join(
        f"{f.name}: {getattr(a, f.name)!r} != {getattr(b, f.name)!r}"
        for f in dataclasses.fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    )


def identity(part: SweepPart) -> dict[str, Any]:
    """What two parts of one sweep share: config, grid, seeds, key, shard count, versions and
    whether they hold the training states."""
    return {
        "config": part.config,
        "grid": part.grid,
        "seeds": part.num_seeds,
        "key": part.key,
        "shard count": part.shard[1],
        "versions": part.versions,
        "keep_state": part.result.state is not None,
    }


def differences(have: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """``"name (have != want)"`` for each entry of two :func:`identity` dicts that differs."""
    diffs = []
    for name, value in want.items():
        if have[name] == value:
            continue
        if name == "config":
            diffs.append(f"config ({_config_diff(have[name], value)})")
        elif name == "grid":
            diffs.append(f"grid ({[dict(c) for c in have[name]]} != {[dict(c) for c in value]})")
        elif name == "versions":
            diffs.append(f"versions ({dict(have[name])} != {dict(value)})")
        else:
            diffs.append(f"{name} ({have[name]!r} != {value!r})")
    return diffs


def merge_sweeps(
    parts: Sequence[SweepPart], *, names: Sequence[str] | None = None, check: bool = True
) -> SweepResult:
    """The :class:`~dqn_jax.scale.result.SweepResult` of the whole sweep, from all its shards.

    Args:
        parts: one :class:`SweepPart` per shard, in any order.
        names: a name for each part, used in errors (default ``shard I of N``).
        check: raise if an agent diverged (as ``sweep`` does; ``error.result`` is the merge).

    Raises:
        ValueError: nothing is merged when a part is not a ``SweepPart``, comes from another
            sweep (naming the part and what differs: config, grid, seeds, key, shard count,
            versions), does not hold the agents its shard index says, or when a shard is
            missing or given twice (naming it).
        DivergenceError: with ``check``, naming each diverged agent's combination and seed.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("merge_sweeps needs at least one part")
    for i, part in enumerate(parts):
        if not isinstance(part, SweepPart):
            raise ValueError(
                f"parts[{i}] is a {type(part).__name__}, not a SweepPart (sweep(..., shard=))"
            )
    if names is None:
        names = [f"shard {p.shard[0]} of {p.shard[1]}" for p in parts]
    elif len(names) != len(parts):
        raise ValueError(f"names has {len(names)} entries for {len(parts)} parts")
    first = parts[0]
    for name, part in zip(names, parts, strict=True):
        diffs = differences(identity(part), identity(first))
        if diffs:
            raise ValueError(
                f"{name} is from another sweep than {names[0]}: differs in " + "; ".join(diffs)
            )
        start, stop, _ = shard_range(part.num_agents, part.shard)
        if part.agents != (start, stop):
            raise ValueError(
                f"{name} holds agents {part.agents[0]} to {part.agents[1] - 1}, but shard "
                f"{part.shard[0]} of {part.shard[1]} is agents {start} to {stop - 1}"
            )
        if int(part.result.metrics.env_steps.shape[0]) != stop - start:
            raise ValueError(
                f"{name} holds {part.result.metrics.env_steps.shape[0]} agents' results, its "
                f"shard {stop - start}"
            )
    count = first.shard[1]
    by_index: dict[int, str] = {}
    for name, part in zip(names, parts, strict=True):
        if part.shard[0] in by_index:
            raise ValueError(
                f"shard {part.shard[0]} of {count} is given twice: {by_index[part.shard[0]]} "
                f"and {name}"
            )
        by_index[part.shard[0]] = name
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise ValueError(f"{len(missing)} of {count} shards missing: shard {shown}")

    ordered = sorted(parts, key=lambda p: p.shard[0])
    result = ordered[0].result
    if count > 1:
        result = jax.tree.map(lambda *xs: jnp.concatenate(xs), *(p.result for p in ordered))
    combos, seeds = len(first.grid), first.num_seeds
    result = jax.tree.map(lambda x: x.reshape(combos, seeds, *x.shape[1:]), result)
    swept = SweepResult(result=result, hparams=first.hparams, grid=first.grid)
    return divergence.check_and_attach(swept) if check else swept
