"""Exploration: the linear epsilon schedule, and the epsilon-greedy and Boltzmann policies."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


def linear_schedule(
    start: Float[Array, ""] | float,
    end: Float[Array, ""] | float,
    duration: Float[Array, ""] | float,
    t: Int[Array, ""] | int,
) -> Float[Array, ""]:
    """``start + (end - start) * min(t / duration, 1)``; equals ``end`` from the start when
    ``duration == 0``. Monotone in ``t``, never outside ``[start, end]``, and exactly ``end``
    once ``t >= duration``.

    Every argument may be traced (unlike ``optax.linear_schedule``, whose ``transition_steps``
    must be a Python number), so a sweep can vmap over the schedule.
    """
    t = jnp.asarray(t, jnp.float32)
    duration = jnp.asarray(duration, jnp.float32)
    frac = jnp.where(duration > 0, jnp.clip(t / jnp.maximum(duration, 1.0), 0.0, 1.0), 1.0)
    # float32 rounding can land one ulp past an end (start + (end - start) != end), or short of
    # it (XLA may divide by multiplying with a reciprocal): clip, and compare t itself.
    value = jnp.clip(start + (end - start) * frac, jnp.minimum(start, end), jnp.maximum(start, end))
    return jnp.where(t >= duration, end, value)


def epsilon_greedy(
    key: PRNGKeyArray, q_values: Float[Array, " num_actions"], epsilon: Float[Array, ""] | float
) -> Int[Array, ""]:
    """With probability ``epsilon`` a uniformly random action, otherwise ``argmax_a q_values[a]``.

    Args:
        key: PRNG key.
        q_values: Q-values of one observation, shape ``(num_actions,)``.
        epsilon: exploration probability in [0, 1].

    Returns:
        The action, an int32 scalar.
    """
    chex.assert_rank(q_values, 1)
    explore_key, action_key = jax.random.split(key)
    random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
    greedy_action = jnp.argmax(q_values).astype(jnp.int32)
    return jnp.where(jax.random.uniform(explore_key) < epsilon, random_action, greedy_action)


def boltzmann(
    key: PRNGKeyArray, q_values: Float[Array, " num_actions"], temperature: Float[Array, ""] | float
) -> Int[Array, ""]:
    """Samples ``a`` with probability ``softmax(q_values / temperature)[a]`` (Boltzmann, or
    softmax, exploration).

    A high temperature is nearly uniform; as it falls to 0 the policy becomes greedy. The
    temperature is in the units of Q: differences between actions' values much smaller than it
    are ignored.

    The logits are ``(q - max_a q) / temperature`` with the maxima set to exactly 0: the same
    softmax, but a tiny temperature sends the other logits to ``-inf``. ``q / temperature``
    would overflow instead (a temperature below float32's smallest normal number, 1.2e-38, is
    flushed to 0), and ``jax.random.categorical`` would return the first infinite logit. So the
    ``temperature -> 0`` limit is the greedy action, uniform among tied maxima.

    Args:
        key: PRNG key.
        q_values: Q-values of one observation, shape ``(num_actions,)``.
        temperature: positive temperature.

    Returns:
        The action, an int32 scalar.
    """
    chex.assert_rank(q_values, 1)
    best = jnp.max(q_values)
    # Exactly 0 where q == best, also when the temperature is flushed to 0 (0 / 0 is NaN).
    logits = jnp.where(q_values == best, 0.0, (q_values - best) / temperature)
    return jax.random.categorical(key, logits).astype(jnp.int32)
