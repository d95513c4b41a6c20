"""A sum-tree over ``capacity`` non-negative priorities, held as a flat array (a pytree state).

``nodes`` has ``2 * size`` entries, ``size`` the next power of two at or above the capacity:
node 1 is the root, node ``i`` has children ``2i`` and ``2i + 1``, and leaf ``j`` (the priority
of slot ``j``) is node ``size + j``. Leaves past the capacity stay 0. Node 0 is unused.

Float32 drift: implementations that add each change (``new - old``) to every ancestor
accumulate rounding error until the root no longer matches its leaves (and prefix-sum searches
land on zero-priority leaves). Here :func:`set_priorities` recomputes every touched ancestor as
the sum of its two children, so each node is always the correctly rounded sum of its current
children; the root differs from the exact sum of the leaves by at most about
``log2(size)`` float32 roundings, however many updates came before.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


class SumTree(NamedTuple):
    """``nodes``: shape ``(2 * size,)``, float32; see the module docstring for the layout."""

    nodes: Float[Array, " two_size"]


def _size(tree: SumTree) -> int:
    return tree.nodes.shape[0] // 2


def _depth(tree: SumTree) -> int:
    return _size(tree).bit_length() - 1


def init(capacity: int) -> SumTree:
    """A tree of ``capacity`` zero priorities."""
    if capacity < 1:
        raise ValueError(f"capacity={capacity} must be at least 1")
    size = 1 << (capacity - 1).bit_length()
    return SumTree(jnp.zeros(2 * size, jnp.float32))


def capacity_of(tree: SumTree) -> int:
    """The number of leaves (rounded up to a power of two)."""
    return _size(tree)


def total(tree: SumTree) -> Float[Array, ""]:
    """The sum of all priorities (the root)."""
    return tree.nodes[1]


def leaves(tree: SumTree) -> Float[Array, " size"]:
    """All leaf priorities, shape ``(size,)`` (slots past the capacity are 0)."""
    return tree.nodes[_size(tree) :]


def from_leaves(values: Float[Array, " n"], capacity: int | None = None) -> SumTree:
    """A tree whose leaves are ``values`` (padded with zeros), built bottom-up in ``O(size)``."""
    chex.assert_rank(values, 1)
    tree = init(capacity or values.shape[0])
    size = _size(tree)
    level = jnp.zeros(size, jnp.float32).at[: values.shape[0]].set(values.astype(jnp.float32))
    levels = [level]
    while level.shape[0] > 1:
        level = level[0::2] + level[1::2]
        levels.append(level)
    # Level with 2^d nodes occupies nodes[2^d : 2^(d+1)]; node 0 stays 0.
    return SumTree(jnp.concatenate([jnp.zeros(1, jnp.float32), *reversed(levels)]))


def set_priorities(tree: SumTree, index: Int[Array, " n"], priority: Float[Array, " n"]) -> SumTree:
    """Sets leaf ``index[k]`` to ``priority[k]`` and recomputes the ancestors from their children.

    Where ``index`` repeats, one of its priorities is kept (which one is unspecified) and the
    tree stays consistent. ``priority`` must be finite and non-negative.
    """
    chex.assert_rank([index, priority], [1, 1])
    nodes = tree.nodes.at[index + _size(tree)].set(priority.astype(jnp.float32))
    node = index + _size(tree)

    def level_up(_: int, carry: tuple[Array, Array]) -> tuple[Array, Array]:
        nodes, node = carry
        parent = node // 2
        nodes = nodes.at[parent].set(nodes[2 * parent] + nodes[2 * parent + 1])
        return nodes, parent

    nodes, _ = jax.lax.fori_loop(0, _depth(tree), level_up, (nodes, node), unroll=True)
    return SumTree(nodes)


def find(tree: SumTree, target: Float[Array, " n"]) -> Int[Array, " n"]:
    """The leaf whose prefix-sum interval holds each ``target`` in ``[0, total)``.

    Leaf ``j`` is returned for ``sum(p[:j]) <= target < sum(p[:j + 1])``. A leaf of priority 0 is
    never returned while the total is positive: the descent only enters subtrees with a positive
    sum, so a target that rounding pushes to (or past) the end of the range lands on the last
    leaf with a positive priority.
    """
    chex.assert_rank(target, 1)
    nodes = tree.nodes

    def level_down(_: int, carry: tuple[Array, Array]) -> tuple[Array, Array]:
        node, target = carry
        left = nodes[2 * node]
        right = nodes[2 * node + 1]
        go_right = (target >= left) & (right > 0)
        return (
            jnp.where(go_right, 2 * node + 1, 2 * node),
            jnp.where(go_right, target - left, target),
        )

    start = (jnp.ones_like(target, jnp.int32), target.astype(jnp.float32))
    node, _ = jax.lax.fori_loop(0, _depth(tree), level_down, start, unroll=True)
    return node - _size(tree)


def stratified_sample(
    tree: SumTree, key: PRNGKeyArray, batch_size: int
) -> Int[Array, " batch_size"]:
    """Draws ``batch_size`` leaves with probability ``p_j / total``, one from each of
    ``batch_size`` equal slices of ``[0, total)`` (stratified, as in Schaul et al., 2016).

    Requires a positive total.
    """
    u = jax.random.uniform(key, (batch_size,), jnp.float32)
    target = (jnp.arange(batch_size, dtype=jnp.float32) + u) * (total(tree) / batch_size)
    return find(tree, target)
