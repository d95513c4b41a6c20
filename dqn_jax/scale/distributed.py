"""JAX's multi-controller runtime: one sweep over the devices of several processes (hosts).

Every process runs the same script; ``sweep`` then shards its agents over ``jax.devices()``,
which spans all processes::

    import jax
    import dqn_jax  # may come first: importing dqn_jax does not start JAX's backend

    jax.distributed.initialize(coordinator_address="host0:1234", num_processes=2, process_id=i)
    result = dqn_jax.sweep(config, num_seeds=64, key=jax.random.key(0))  # the same on each

``jax.distributed.initialize`` must run before anything starts the backend (creating an array,
``jax.devices()``, building a ``DQNConfig``: it makes its environment). Inside the sweep:

- inputs are built with ``jax.make_array_from_callback`` (:func:`place`): each process fills
  only its own devices' shards; a ``jax.device_put`` of typed PRNG keys onto a sharding that
  spans processes raises;
- outputs are gathered with ``multihost_utils.process_allgather(..., tiled=True)``
  (:func:`gather`), so every process holds the whole result (typed keys travel as key data)
  before the divergence check;
- progress is drawn by process 0 only (:func:`is_leader`).

The agents never talk to each other, so the processes gain nothing from being tied together,
and they share a fate: if one dies, the others are ended after the coordination service's
heartbeat timeout (``heartbeat_timeout_seconds`` of ``initialize``) and their results are lost.
For fault tolerance split the sweep into shards instead (``sweep(..., shard=)``, Ray).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Sharding


def is_multiprocess() -> bool:
    """Whether this program is one of several processes of ``jax.distributed``."""
    return jax.process_count() > 1


def is_leader() -> bool:
    """Whether this process draws progress and prints (process 0)."""
    return jax.process_index() == 0


def place(x: Any, sharding: Sharding) -> jax.Array:
    """``x`` (a host array, or typed PRNG keys, holding the whole global value on every
    process) as a global array laid out by ``sharding``; each process fills its own devices."""
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def gather(tree: Any) -> Any:
    """Every array leaf of ``tree``, whole, on this host: numpy arrays (typed keys come back as
    typed keys on this process's default device)."""

    def one(x: Any) -> Any:
        if not isinstance(x, jax.Array):
            return x
        if _is_key(x):
            data = multihost_utils.process_allgather(jax.random.key_data(x), tiled=True)
            return jax.random.wrap_key_data(np.asarray(data), impl=jax.random.key_impl(x))
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))

    return jax.tree.map(one, tree)
