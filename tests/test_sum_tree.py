"""The sum-tree: consistency after many float32 updates, prefix-sum search, sampling frequencies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from dqn_jax import sum_tree

# Chi-square critical values at p = 0.001 (the test fails by chance once in a thousand seeds,
# and the seeds are fixed, so it is deterministic).
CHI2_999 = {9: 27.877, 15: 37.697}


def test_size_rounds_up_to_a_power_of_two_and_starts_empty():
    tree = sum_tree.init(5)
    assert sum_tree.capacity_of(tree) == 8
    assert tree.nodes.shape == (16,)
    assert float(sum_tree.total(tree)) == 0.0
    with pytest.raises(ValueError, match="capacity=0"):
        sum_tree.init(0)


def _internal_nodes_match_children(nodes: np.ndarray) -> bool:
    size = nodes.shape[0] // 2
    parents = np.arange(1, size)
    return np.array_equal(nodes[parents], nodes[2 * parents] + nodes[2 * parents + 1])


def test_set_priorities_keeps_every_node_the_sum_of_its_children():
    tree = sum_tree.init(6)
    tree = sum_tree.set_priorities(tree, jnp.array([0, 3, 5]), jnp.array([1.0, 2.5, 4.0]))
    nodes = np.asarray(tree.nodes)
    assert _internal_nodes_match_children(nodes)
    np.testing.assert_array_equal(sum_tree.leaves(tree), [1.0, 0, 0, 2.5, 0, 4.0, 0, 0])
    assert float(sum_tree.total(tree)) == 7.5


def test_from_leaves_builds_the_same_tree_as_setting_them():
    values = jnp.array([0.5, 0.0, 3.0, 1.25, 2.0])
    built = sum_tree.from_leaves(values)
    set_ = sum_tree.set_priorities(sum_tree.init(5), jnp.arange(5), values)
    np.testing.assert_array_equal(built.nodes, set_.nodes)


def test_total_stays_exact_after_a_million_float32_updates():
    """10^6 leaf updates (1,000 batches of 1,000) on a 4,096-leaf tree, in float32.

    Each internal node is recomputed from its children, so (unlike adding deltas up the tree)
    no error accumulates: every node equals the float32 sum of its children exactly, and the
    root is within 1e-6 (relative) of the float64 sum of the leaves.
    """
    capacity, batches, per_batch = 4096, 1000, 1000

    @jax.jit
    def run(k):
        def body(i, tree):
            k_i = jax.random.fold_in(k, i)
            index = jax.random.randint(k_i, (per_batch,), 0, capacity)
            # priorities spanning six orders of magnitude, the hard case for float32 sums
            value = 10.0 ** jax.random.uniform(
                jax.random.fold_in(k_i, 1), (per_batch,), minval=-3, maxval=3
            )
            return sum_tree.set_priorities(tree, index, value)

        return jax.lax.fori_loop(0, batches, body, sum_tree.init(capacity))

    tree = run(key(0))
    nodes = np.asarray(tree.nodes)
    assert _internal_nodes_match_children(nodes)
    exact = np.sum(np.asarray(sum_tree.leaves(tree), np.float64))
    assert abs(float(sum_tree.total(tree)) - exact) <= 1e-6 * exact


def test_find_matches_a_cumulative_sum_search():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 37).astype(np.float32)
    p[[3, 4, 20]] = 0.0
    tree = sum_tree.from_leaves(jnp.asarray(p))
    cumsum = np.cumsum(p.astype(np.float64))
    targets = rng.uniform(0, cumsum[-1] * (1 - 1e-6), 2000).astype(np.float32)
    expected = np.searchsorted(cumsum, targets, side="right")
    found = np.asarray(sum_tree.find(tree, jnp.asarray(targets)))
    np.testing.assert_array_equal(found, expected)


def test_find_never_returns_a_zero_priority_leaf_at_the_edges():
    p = jnp.array([0.0, 2.0, 0.0, 1.0, 0.0, 0.0])
    tree = sum_tree.from_leaves(p)
    total = float(sum_tree.total(tree))
    targets = jnp.array([0.0, 1.999999, 2.0, total, total * 1.001, 1e9])
    found = np.asarray(sum_tree.find(tree, targets))
    np.testing.assert_array_equal(found, [1, 1, 3, 3, 3, 3])
    # a zero subtree below the root: past the end, the descent must not enter it
    tree = sum_tree.from_leaves(jnp.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    found = sum_tree.find(tree, jnp.array([1.0, 2.0, 2.5]))
    np.testing.assert_array_equal(found, [1, 1, 1])


def test_stratified_sampling_frequencies_match_priorities():
    """Goodness of fit: 200,000 draws over 10 leaves against p_i / sum p (chi-square, 9 dof)."""
    p = np.array([1, 2, 3, 4, 0.5, 0.25, 8, 0.125, 6, 1], np.float32)
    tree = sum_tree.from_leaves(jnp.asarray(p))
    draws = jax.jit(jax.vmap(lambda k: sum_tree.stratified_sample(tree, k, 100)))(
        jax.random.split(key(1), 2000)
    )
    counts = np.bincount(np.asarray(draws).ravel(), minlength=16)
    assert counts[10:].sum() == 0  # padding leaves are never drawn
    expected = p / p.sum() * draws.size
    chi2 = np.sum((counts[:10] - expected) ** 2 / expected)
    assert chi2 < CHI2_999[9], (chi2, counts[:10], expected)


def test_a_one_slot_tree_holds_and_finds_its_only_leaf():
    # buffer_size=1 with prioritized replay: the smallest tree there is
    tree = sum_tree.set_priorities(sum_tree.init(1), jnp.array([0]), jnp.array([2.5]))
    assert sum_tree.capacity_of(tree) == 1
    assert float(sum_tree.total(tree)) == 2.5
    np.testing.assert_array_equal(sum_tree.find(tree, jnp.array([0.0, 1.0, 2.4])), [0, 0, 0])
    with pytest.raises(ValueError, match="capacity=0 must be at least 1"):
        sum_tree.init(0)
