"""Uniform ring-buffer replay held as a pytree state, with pure ``init``/``add``/``sample``.

The buffer is a :class:`Transition` whose arrays have a leading ``capacity`` axis, plus a write
position and a fill count. ``add`` writes a batch of transitions at the position (wrapping round
and overwriting the oldest); ``sample`` draws uniformly, with replacement, among the written slots.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


class Transition(NamedTuple):
    """One step of experience (or a batch of them, with leading axes).

    ``terminated`` is 1.0 only where the MDP ended; ``truncated`` is 1.0 where the episode was cut
    by a time limit (and did not terminate). A truncation still bootstraps: ``next_obs`` is then
    the real last observation, not the reset one. Either flag ends an n-step sum.

    In the train loop's replay memory ``obs`` and ``next_obs`` are stored as
    ``EnvSpec.encode`` gives them (float32, uint8 or bit-packed) and decoded after sampling.
    """

    obs: Float[Array, "*batch obs_dim"]
    action: Int[Array, "*batch"]
    reward: Float[Array, "*batch"]
    terminated: Float[Array, "*batch"]
    truncated: Float[Array, "*batch"]
    next_obs: Float[Array, "*batch obs_dim"]


class ReplayState(NamedTuple):
    """Replay memory: ``storage`` leaves have shape ``(capacity, ...)``.

    Attributes:
        storage: the transitions; slot ``i`` is valid iff ``i < size``.
        position: next slot to write, in ``[0, capacity)``.
        size: number of written slots, in ``[0, capacity]``.
    """

    storage: Transition
    position: Int[Array, ""]
    size: Int[Array, ""]


def capacity(state: ReplayState) -> int:
    """The buffer's (static) capacity."""
    return jax.tree.leaves(state.storage)[0].shape[0]


def init(example: Transition, capacity: int) -> ReplayState:
    """An empty buffer for transitions shaped like ``example`` (one transition, no batch axis)."""
    if capacity < 1:
        raise ValueError(f"capacity={capacity} must be at least 1")
    storage = jax.tree.map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example
    )
    return ReplayState(storage, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(state: ReplayState, transitions: Transition) -> ReplayState:
    """Writes a batch of ``n <= capacity`` transitions (leading axis ``n``) at the write position.

    Slots ``position, ..., position + n - 1`` (modulo capacity) are overwritten.
    """
    cap = capacity(state)
    n = jax.tree.leaves(transitions)[0].shape[0]
    chex.assert_tree_shape_prefix(transitions, (n,))
    if n > cap:
        raise ValueError(f"cannot add {n} transitions to a buffer of capacity {cap}")
    index = (state.position + jnp.arange(n)) % cap
    storage = jax.tree.map(lambda s, x: s.at[index].set(x), state.storage, transitions)
    return ReplayState(
        storage=storage,
        position=(state.position + n) % cap,
        size=jnp.minimum(state.size + n, cap),
    )


def sample_sequences(
    state: ReplayState, key: PRNGKeyArray, batch_size: int, length: int, stride: int = 1
) -> Transition:
    """Draws ``batch_size`` sequences ``(i, i + stride, ..., i + (length - 1) * stride)`` of slots
    (modulo capacity), the start ``i`` uniform among the slots whose whole sequence is written.

    With ``num_envs`` environments adding one transition each per step, slot ``i + num_envs``
    holds the same environment's next step (when the capacity is a multiple of ``num_envs``), so
    ``stride=num_envs`` gives each sequence as consecutive steps of one environment. Requires
    ``state.size >= 1 + (length - 1) * stride``.

    Returns:
        A :class:`Transition` whose leaves have leading axes ``(batch_size, length)``.
    """
    cap = capacity(state)
    oldest = (state.position - state.size) % cap
    num_starts = state.size - (length - 1) * stride
    start = (oldest + jax.random.randint(key, (batch_size,), 0, num_starts)) % cap
    return gather_sequences(state, start, length, stride)


def gather_sequences(
    state: ReplayState, start: Int[Array, " batch"], length: int, stride: int = 1
) -> Transition:
    """The sequences of slots ``(i, i + stride, ..., i + (length - 1) * stride)`` (modulo
    capacity) for each ``i`` in ``start``, as a :class:`Transition` with leading axes
    ``(batch, length)``. The caller guarantees the slots are written (see ``sample_sequences``
    and ``dqn_jax.prioritized``)."""
    index = (start[:, None] + stride * jnp.arange(length)) % capacity(state)
    return jax.tree.map(lambda s: s[index], state.storage)


def sample(state: ReplayState, key: PRNGKeyArray, batch_size: int) -> Transition:
    """Draws ``batch_size`` transitions uniformly, with replacement, from the written slots.

    Requires ``state.size >= 1`` (the train loop guarantees ``size >= learning_starts >= batch``).

    Returns:
        A :class:`Transition` whose leaves have leading axis ``batch_size``.
    """
    index = jax.random.randint(key, (batch_size,), 0, state.size)
    return jax.tree.map(lambda s: s[index], state.storage)
