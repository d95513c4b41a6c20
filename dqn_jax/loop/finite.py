"""The finiteness checks of the jitted run (see :mod:`dqn_jax.scale.divergence` for the host side).

A gradient step whose loss, mean Q-value or gradient norm is not finite is rejected and ends the
agent's learning; parameters found non-finite at a logging point do the same. The env step of the
first failure is kept in ``TrainState.diverged_at``, :data:`NEVER` if none.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, PyTree

NEVER = -1
"""``diverged_at`` of an agent that never diverged."""


def all_finite(tree: PyTree) -> Bool[Array, ""]:
    """Whether every floating-point entry of every array leaf of ``tree`` is finite (one
    reduction per leaf; integer leaves are skipped)."""
    flags = [
        jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    ]
    return jnp.all(jnp.stack(flags)) if flags else jnp.asarray(True)
