"""Prioritized experience replay (Schaul et al., 2016): priorities kept beside the replay buffer.

The transitions stay in the uniform :class:`~dqn_jax.replay.ReplayState`; a
:class:`PriorityState` holds one sampling priority per buffer slot (the slot as the start of a
learning sample) in a :mod:`~dqn_jax.sum_tree`. The functions are an ``init``/``add``/
``sample``/``update`` set over that state, in the style of optax:

- ``"proportional"``: ``p_i = (|delta_i| + eps)^alpha``.
- ``"rank"``: ``p_i = (1 / rank_i)^alpha``, ``rank_i`` the position of ``|delta_i|`` in the
  descending order of all stored |TD errors| (alpha applies to both kinds, as in the paper).

Both sample ``P(i) = p_i / sum_k p_k`` by stratified prefix-sum search, and weight the loss by
``w_i = (N * P(i))^-beta / max_batch w`` with ``N`` the number of sampleable slots.

Choices:

- **IS weights are normalised by the batch max**, not the buffer max (which would need a
  min-tree): the largest weight in each batch is 1, so the step size never grows.
- **New entries get the highest priority**: the running maximum of the priorities set so far
  (proportional) or rank 1 (rank-based), so every transition is replayed at least about once.
- **Rank order**: an exact sort of all ``capacity`` errors costs ``O(N log N)``, too much for every
  gradient step. :func:`update` ranks the new errors by binary search in the descending snapshot
  taken by the last :func:`resort`, and :func:`resort` (run every ``rank_resort_interval``
  rounds by the train loop) re-sorts exactly and rebuilds the tree in ``O(N log N)``.
- **n-step**: a slot becomes sampleable only when the ``n - 1`` later steps of its environment
  are stored (``add`` gives the max priority to the slot ``(n - 1) * stride`` behind the newly
  written ones, and priority 0 to the new ones); sampled starts are thus always complete
  sequences, and a slot about to be overwritten has its priority cleared first.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from dqn_jax.blocks import sum_tree
from dqn_jax.blocks.sum_tree import SumTree

KINDS = ("proportional", "rank")


class PriorityState(NamedTuple):
    """Sampling priorities of the replay's slots.

    Attributes:
        tree: leaf ``i`` is the priority of slot ``i``; 0 means not sampleable.
        max_priority: the priority given to new entries (proportional: the running max of the
            priorities set; rank-based: the running max |TD error|, which ranks first).
        td_abs: rank-based only, shape ``(capacity,)``: the latest |TD error| of each slot,
            ``-1`` for slots that are not sampleable. Shape ``(0,)`` for proportional.
        sorted_td: rank-based only: ``td_abs`` sorted in descending order at the last
            :func:`resort`. Shape ``(0,)`` for proportional.
    """

    tree: SumTree
    max_priority: Float[Array, ""]
    td_abs: Float[Array, " capacity"]
    sorted_td: Float[Array, " capacity"]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"prioritized={kind!r} must be one of {KINDS}")


def init(capacity: int, kind: str) -> PriorityState:
    """Priorities of an empty buffer of ``capacity`` slots (all 0: nothing is sampleable)."""
    _check_kind(kind)
    extra = capacity if kind == "rank" else 0
    return PriorityState(
        tree=sum_tree.init(capacity),
        max_priority=jnp.ones((), jnp.float32),
        td_abs=-jnp.ones(extra, jnp.float32),
        sorted_td=-jnp.ones(extra, jnp.float32),
    )


def add(
    state: PriorityState,
    written: Int[Array, " num_envs"],
    completed: Int[Array, " num_envs"],
    completed_valid: Array,
    kind: str,
) -> PriorityState:
    """Updates the priorities after the replay wrote the slots ``written``.

    Args:
        state: the priorities.
        written: the slots just (over)written; they are not sampleable until their sequence is
            complete, so their priority becomes 0.
        completed: the slots whose learning sample the write completed (for one-step replay the
            same as ``written``; for n-step the slots ``(n - 1) * stride`` behind them).
        completed_valid: bool scalar, whether ``completed`` holds stored transitions yet.
        kind: ``"proportional"`` or ``"rank"``.

    Returns:
        The new state; ``completed`` slots get the max priority.
    """
    _check_kind(kind)
    chex.assert_rank([written, completed], [1, 1])
    new_priority = jnp.where(completed_valid, 1.0 if kind == "rank" else state.max_priority, 0.0)
    # Clear the written slots first: with n_step = 1 they are also the completed ones.
    tree = sum_tree.set_priorities(state.tree, written, jnp.zeros(written.shape, jnp.float32))
    tree = sum_tree.set_priorities(tree, completed, jnp.full(completed.shape, new_priority))
    td_abs = state.td_abs
    if kind == "rank":
        td_abs = td_abs.at[written].set(-1.0)
        td_abs = td_abs.at[completed].set(jnp.where(completed_valid, state.max_priority, -1.0))
    return state._replace(tree=tree, td_abs=td_abs)


def sample(
    state: PriorityState,
    key: PRNGKeyArray,
    batch_size: int,
    num_valid: Int[Array, ""],
    beta: Float[Array, ""] | float,
) -> tuple[Int[Array, " batch_size"], Float[Array, " batch_size"]]:
    """Draws ``batch_size`` slots with ``P(i) = p_i / sum_k p_k`` (stratified).

    Args:
        state: the priorities (the total must be positive).
        key: PRNG key.
        batch_size: number of slots to draw.
        num_valid: ``N``, the number of sampleable slots.
        beta: importance-sampling exponent in [0, 1].

    Returns:
        ``(index, weight)``: the slots and their importance weights
        ``w_i = (N * P(i))^-beta / max_batch w``, both of shape ``(batch_size,)``.
    """
    index = sum_tree.stratified_sample(state.tree, key, batch_size)
    probability = sum_tree.leaves(state.tree)[index] / sum_tree.total(state.tree)
    # log-space: (N P)^-beta without overflow for tiny P.
    log_weight = -beta * jnp.log(num_valid.astype(jnp.float32) * probability)
    max_log_weight = jnp.max(log_weight)
    # The batch's largest weight is 1 exactly: XLA's vectorised exp of 0 may round to 1 + 1e-7.
    weight = jnp.where(
        log_weight == max_log_weight,
        1.0,
        jnp.minimum(jnp.exp(log_weight - max_log_weight), 1.0),
    )
    return index, weight


def update(
    state: PriorityState,
    index: Int[Array, " batch"],
    td_error: Float[Array, " batch"],
    alpha: Float[Array, ""] | float,
    eps: Float[Array, ""] | float,
    kind: str,
) -> PriorityState:
    """Sets the priorities of the sampled slots from their new TD errors.

    proportional: ``p_i = (|delta_i| + eps)^alpha``; rank-based: ``p_i = (1 / rank_i)^alpha``
    with ``rank_i = 1 + #{stored errors > |delta_i|}`` in the last sorted snapshot.
    """
    _check_kind(kind)
    chex.assert_rank([index, td_error], [1, 1])
    td_abs = jnp.abs(td_error).astype(jnp.float32)
    if kind == "proportional":
        priority = (td_abs + eps) ** alpha
        return state._replace(
            tree=sum_tree.set_priorities(state.tree, index, priority),
            max_priority=jnp.maximum(state.max_priority, jnp.max(priority)),
        )
    # sorted_td is descending: count the snapshot's entries strictly greater than each error.
    rank = 1 + jnp.searchsorted(-state.sorted_td, -td_abs, side="left")
    priority = rank.astype(jnp.float32) ** -alpha
    return state._replace(
        tree=sum_tree.set_priorities(state.tree, index, priority),
        max_priority=jnp.maximum(state.max_priority, jnp.max(td_abs)),
        td_abs=state.td_abs.at[index].set(td_abs),
    )


def resort(state: PriorityState, alpha: Float[Array, ""] | float, kind: str) -> PriorityState:
    """Rank-based: ranks every stored |TD error| exactly and rebuilds the tree from
    ``(1 / rank)^alpha`` (not-sampleable slots keep priority 0). Proportional: no-op."""
    _check_kind(kind)
    if kind == "proportional":
        return state
    order = jnp.argsort(-state.td_abs)
    rank = jnp.empty_like(order).at[order].set(jnp.arange(1, order.shape[0] + 1))
    priority = jnp.where(state.td_abs >= 0, rank.astype(jnp.float32) ** -alpha, 0.0)
    return state._replace(
        tree=sum_tree.from_leaves(priority),
        sorted_td=state.td_abs[order],
    )
