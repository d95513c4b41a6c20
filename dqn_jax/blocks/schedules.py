"""The run-length schedules: the learning-rate decay and prioritized replay's beta, re-targeted
when a run is extended.

A run planned in one go decays the learning rate linearly to 0 over its gradient steps, and
raises beta linearly from ``per_beta`` to 1 over its env steps. Extending it at env step ``S``
(``DQNConfig.extend``) starts a new segment: from the values reached at ``S`` both run linearly
to their ends (0 and 1) at the new ``total_timesteps``. With ``c`` Adam steps and ``t`` env steps,
segment ``k`` (from ``S_k``, with ``C_k`` gradient steps done there, to the planned end ``T_k``,
``U_k`` gradient steps) is

    lr(c) = learning_rate * scale_k(c)
    scale_k(c) = scale_{k-1}(C_k) * max(0, 1 - (c - C_k) / (U_k - C_k))
    beta_k(t) = beta_{k-1}(S_k) + (1 - beta_{k-1}(S_k)) * min(1, (t - S_k) / (T_k - S_k))

with segment 0 the plan's own (``C_0 = S_0 = 0``, ``scale_{-1} = 1``, ``beta_{-1} = per_beta``).
The value at ``S_k`` is computed as the previous segment computes it (on ``min(c, C_k)``, a
traced number), so the rate and beta are continuous at the boundary to the last bit, and a run
that is never extended computes exactly the one-segment formulas.

Epsilon and the Boltzmann temperature decay over absolute env steps (``*_decay_steps``), not over
the run: an extension continues them unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from dqn_jax.blocks.exploration import linear_schedule

if TYPE_CHECKING:
    from dqn_jax.config import DQNConfig


def segments(config: DQNConfig) -> list[tuple[int, int]]:
    """``(start, planned end)`` in env steps of every segment of the run's plan: one for a run
    planned in one go, ``(0, total_timesteps)``, and one more per extension."""
    starts = [0, *(at for at, _ in config.extensions)]
    ends = [*(end for _, end in config.extensions), config.total_timesteps]
    return list(zip(starts, ends, strict=True))


def learning_rate_scale(config: DQNConfig, count: Int[Array, ""]) -> Float[Array, ""]:
    """The factor of the learning rate after ``count`` Adam steps, with ``lr_decay``: linear
    from 1 to 0 over the run's gradient steps, per segment of an extended run (see the module).

    Args:
        config: the run's static configuration.
        count: Adam steps taken (the optimiser's step count), an int32 scalar.
    """
    return _scale(config, segments(config), count)


def _scale(config: DQNConfig, plan: list[tuple[int, int]], count: Array) -> Array:
    *before, (start, end) = plan
    if not before:
        return jnp.maximum(0.0, 1.0 - count / config.updates_by(end))
    done, total = config.updates_by(start), config.updates_by(end)
    at_start = _scale(config, before, jnp.minimum(count, done))
    left = 1.0 - jnp.maximum(count - done, 0) / max(total - done, 1)  # exactly 1 at `done`
    # XLA may divide by multiplying with a reciprocal, so `left` can miss 0 at `total` by an ulp.
    return at_start * jnp.where(count >= total, 0.0, jnp.maximum(left, 0.0))


def per_beta(
    config: DQNConfig, beta: Float[Array, ""] | float, env_steps: Int[Array, ""]
) -> Float[Array, ""]:
    """Prioritized replay's importance-sampling exponent at ``env_steps``: linear from
    ``beta`` (``HParams.per_beta``) to 1 over the run's env steps, per segment of an extended
    run (see the module)."""
    return _beta(segments(config), beta, env_steps)


def _beta(plan: list[tuple[int, int]], beta: Array | float, env_steps: Array) -> Array:
    *before, (start, end) = plan
    if not before:
        return linear_schedule(beta, 1.0, end, env_steps)
    at_start = _beta(before, beta, jnp.minimum(env_steps, start))
    return linear_schedule(at_start, 1.0, end - start, jnp.maximum(env_steps - start, 0))
