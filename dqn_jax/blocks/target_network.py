"""Target-network updates on the env-step clock."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PyTree


def crossings(
    steps_before: Int[Array, ""], steps_after: Int[Array, ""], period: Int[Array, ""] | int
) -> Int[Array, ""]:
    """How many multiples of ``period`` the step count passed going from ``steps_before`` to
    ``steps_after`` (exclusive, inclusive).

    Counting crossings, not ``step % period == 0`` as ``optax.periodic_update`` does, fires also
    when the clock advances by ``num_envs`` or ``train_frequency`` steps that do not divide
    ``period``.
    """
    return steps_after // period - steps_before // period


def update_target(
    online: PyTree, target: PyTree, tau: Float[Array, ""] | float, num_updates: Int[Array, ""]
) -> PyTree:
    """Applies ``num_updates`` Polyak steps ``target <- tau * online + (1 - tau) * target`` at once.

    Between the crossings of one round the online network does not change, so ``k`` successive
    steps equal one step of size ``1 - (1 - tau)**k`` (``optax.incremental_update``). ``tau = 1``
    is a hard copy; ``num_updates = 0`` leaves the target exactly as it was.
    """
    step_size = 1.0 - (1.0 - tau) ** num_updates
    moved = optax.incremental_update(online, target, step_size)
    return jax.tree.map(lambda m, t: jnp.where(num_updates > 0, m, t), moved, target)
