"""Per-transition TD targets and losses (batch them with ``jax.vmap``).

Names carry time: ``_tm1`` is the step the action was taken in, ``_t`` the step after it.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int


def q_learning_target(
    r_t: Float[Array, ""], discount_t: Float[Array, ""], q_t: Float[Array, " num_actions"]
) -> Float[Array, ""]:
    """The Q-learning target ``y = r_t + discount_t * max_a q_t[a]`` (Mnih et al., 2015).

    Args:
        r_t: reward for the transition.
        discount_t: ``gamma * (1 - terminated)``; a time-limit truncation keeps ``gamma``.
        q_t: target-network Q-values at the next observation, shape ``(num_actions,)``.

    Returns:
        The scalar target (treat it as a constant: no gradient should flow through it).
    """
    chex.assert_rank([r_t, discount_t, q_t], [0, 0, 1])
    return r_t + discount_t * jnp.max(q_t)


def double_q_learning_target(
    r_t: Float[Array, ""],
    discount_t: Float[Array, ""],
    q_t_value: Float[Array, " num_actions"],
    q_t_selector: Float[Array, " num_actions"],
) -> Float[Array, ""]:
    """The Double Q-learning target ``y = r_t + discount_t * q_t_value[argmax_a q_t_selector[a]]``
    (van Hasselt et al., 2016).

    Args:
        r_t: reward for the transition.
        discount_t: ``gamma * (1 - terminated)``.
        q_t_value: target-network Q-values at the next observation, which value the action.
        q_t_selector: online-network Q-values at the next observation, which select it.

    Returns:
        The scalar target.
    """
    chex.assert_rank([r_t, discount_t, q_t_value, q_t_selector], [0, 0, 1, 1])
    chex.assert_equal_shape([q_t_value, q_t_selector])
    return r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)]


def td_loss(
    td_error: Float[Array, "*batch"], kind: str, huber_delta: Float[Array, ""] | float = 1.0
) -> Float[Array, "*batch"]:
    """Elementwise loss of a TD error ``delta = y - q``.

    ``"mse"``: ``0.5 * delta**2``. ``"huber"``: ``0.5 * delta**2`` for ``|delta| <= huber_delta``,
    else ``huber_delta * (|delta| - 0.5 * huber_delta)``. (Both as in ``optax`` and ``rlax``.)
    """
    if kind == "mse":
        return optax.l2_loss(td_error)
    if kind == "huber":
        return optax.huber_loss(td_error, delta=huber_delta)
    raise ValueError(f"loss={kind!r} must be one of ('mse', 'huber')")


def n_step_return(
    r_t: Float[Array, " n"],
    terminated_t: Float[Array, " n"],
    truncated_t: Float[Array, " n"],
    gamma: Float[Array, ""] | float,
) -> tuple[Float[Array, ""], Float[Array, ""], Int[Array, ""]]:
    """The n-step return of one sequence of consecutive steps of one environment.

    With ``m = min(n, 1 + first k where the episode ended at step k)`` (terminated or truncated):
    ``R = sum_{k<m} gamma^k r_k``, bootstrapped from step ``m - 1``'s next observation with
    discount ``gamma^m * (1 - terminated_{m-1})``. A truncation stops the sum but still
    bootstraps; a termination stops both. ``n = 1`` gives ``(r_0, gamma * (1 - terminated_0), 0)``.

    Args:
        r_t, terminated_t, truncated_t: the sequence's rewards and end flags, shape ``(n,)``.
        gamma: the one-step discount.

    Returns:
        ``(R, discount, last)``: the summed return, the bootstrap discount and the index
        ``m - 1`` of the step whose ``next_obs`` to bootstrap from.
    """
    chex.assert_rank([r_t, terminated_t, truncated_t], [1, 1, 1])
    n = r_t.shape[0]
    ended = jnp.maximum(terminated_t, truncated_t)
    # alive[k] = 1 while no step before k ended the episode: a cumulative product, unrolled
    # over the (static, small) n, since XLA's CPU cumprod is a reduce-window of several kernels
    # for a handful of numbers, paid at every gradient step.
    alive = [jnp.ones((), r_t.dtype)]
    for k in range(1, n):
        alive.append(alive[-1] * (1.0 - ended[k - 1]))
    alive = jnp.stack(alive)
    ret = jnp.sum(alive * gamma ** jnp.arange(n, dtype=r_t.dtype) * r_t)
    m = jnp.sum(alive).astype(jnp.int32)
    last = m - 1
    return ret, gamma**m * (1.0 - terminated_t[last]), last
