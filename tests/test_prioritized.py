"""Prioritized replay: new entries, proportional and rank-based priorities, sampling, IS weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from dqn_jax import prioritized, sum_tree

CHI2_999_DOF7 = 24.322  # chi-square critical value at p = 0.001, 7 degrees of freedom


def leaves(state, n):
    return np.asarray(sum_tree.leaves(state.tree))[:n]


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match=r"prioritized='sum' must be one of \('proportional'"):
        prioritized.init(8, "sum")


@pytest.mark.parametrize("kind", prioritized.KINDS)
def test_add_clears_written_slots_and_gives_completed_ones_the_max(kind):
    kind = "".join(list(kind))  # as read from a file: an equal string, not the same object
    state = prioritized.init(8, kind)
    state = state._replace(max_priority=jnp.float32(3.0))
    top = 3.0 if kind == "proportional" else 1.0  # rank-based: rank 1

    def check(state, expected):
        np.testing.assert_array_equal(leaves(state, 8), expected)
        if kind == "proportional":  # no rank-based arrays
            assert state.td_abs.shape == state.sorted_td.shape == (0,)
        else:  # the latest |TD error| of a sampleable slot (here the max), -1 for the others
            np.testing.assert_array_equal(state.td_abs, np.where(np.array(expected) > 0, 3, -1))

    # one-step: written and completed coincide; they become sampleable at once
    state = prioritized.add(state, jnp.array([0, 1]), jnp.array([0, 1]), jnp.bool_(True), kind)
    check(state, [top, top, 0, 0, 0, 0, 0, 0])
    # n-step: the new slots wait; the slots behind them complete
    state = prioritized.add(state, jnp.array([2, 3]), jnp.array([0, 1]), jnp.bool_(True), kind)
    check(state, [top, top, 0, 0, 0, 0, 0, 0])
    # before the buffer holds a whole sequence nothing completes
    state = prioritized.add(state, jnp.array([4, 5]), jnp.array([6, 7]), jnp.bool_(False), kind)
    check(state, [top, top, 0, 0, 0, 0, 0, 0])
    # overwriting a slot makes it unsampleable
    state = prioritized.add(state, jnp.array([0, 1]), jnp.array([2, 3]), jnp.bool_(True), kind)
    check(state, [0, 0, top, top, 0, 0, 0, 0])


def test_proportional_update_sets_priority_and_tracks_the_max():
    kind = "".join(list("proportional"))  # as read from a file: equal, not the same object
    state = prioritized.init(4, kind)
    state = prioritized.add(state, jnp.arange(4), jnp.arange(4), jnp.bool_(True), kind)
    td = jnp.array([-2.0, 0.5, 0.0, 7.0])
    state = prioritized.update(state, jnp.arange(4), td, 0.5, 1e-2, kind)
    expected = (np.abs(np.asarray(td)) + 1e-2) ** 0.5
    np.testing.assert_allclose(leaves(state, 4), expected, rtol=1e-6)
    assert float(state.max_priority) == pytest.approx(expected.max())
    # a new entry gets that max
    state = prioritized.add(state, jnp.array([2]), jnp.array([2]), jnp.bool_(True), "proportional")
    assert leaves(state, 4)[2] == pytest.approx(expected.max())


def test_proportional_sampling_frequencies_match_p_alpha_over_sum():
    """Goodness of fit over 256,000 draws: P(i) = (|delta_i| + eps)^alpha / sum_k (...)."""
    alpha, eps = 0.6, 1e-3
    td = jnp.array([0.1, 3.0, -1.0, 0.0, 12.0, -0.4, 2.2, 5.0])
    state = prioritized.init(8, "proportional")
    state = prioritized.add(state, jnp.arange(8), jnp.arange(8), jnp.bool_(True), "proportional")
    state = prioritized.update(state, jnp.arange(8), td, alpha, eps, "proportional")
    draws = jax.jit(jax.vmap(lambda k: prioritized.sample(state, k, 128, jnp.int32(8), 0.4)[0]))(
        jax.random.split(key(0), 2000)
    )
    counts = np.bincount(np.asarray(draws).ravel(), minlength=8)
    p = (np.abs(np.asarray(td)) + eps) ** alpha
    expected = p / p.sum() * draws.size
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < CHI2_999_DOF7, (chi2, counts, expected)


def test_importance_weights_match_the_formula_on_a_hand_example():
    # priorities 1, 2, 3, 4 (alpha = 1, eps -> 0): P = 0.1, 0.2, 0.3, 0.4; N = 4, beta = 0.5.
    state = prioritized.init(4, "proportional")
    state = state._replace(tree=sum_tree.from_leaves(jnp.array([1.0, 2.0, 3.0, 4.0])))
    # 4 strata of width 2.5 over [0, 10): targets in [0, 2.5), [2.5, 5), [5, 7.5), [7.5, 10)
    index, weight = prioritized.sample(state, key(3), 4, jnp.int32(4), 0.5)
    index = np.asarray(index)
    prob = np.array([0.1, 0.2, 0.3, 0.4])[index]
    raw = (4 * prob) ** -0.5
    np.testing.assert_allclose(weight, raw / raw.max(), rtol=1e-6)
    # by hand: (4 * 0.1)^-0.5 = 1.5811, (4 * 0.2)^-0.5 = 1.1180, (4 * 0.3)^-0.5 = 0.9129,
    # (4 * 0.4)^-0.5 = 0.7906; normalised by the batch's largest
    by_hand = np.array([1.5811, 1.1180, 0.9129, 0.7906])[index]
    np.testing.assert_allclose(weight, by_hand / by_hand.max(), atol=1e-4)
    assert np.max(weight) == 1.0
    # beta = 0: uniform weights
    _, flat = prioritized.sample(state, key(3), 4, jnp.int32(4), 0.0)
    np.testing.assert_array_equal(flat, np.ones(4))


def test_importance_weights_depend_on_priorities_only_through_their_ratios():
    """Scaling every priority by 1e30 changes no weight: P(i) = p_i / sum_k p_k is a ratio."""
    values = jnp.array([1.0, 2.0, 3.0, 4.0])
    state = prioritized.init(4, "proportional")
    small = state._replace(tree=sum_tree.from_leaves(values))
    large = state._replace(tree=sum_tree.from_leaves(1e30 * values))
    index, weight = prioritized.sample(small, key(3), 4, jnp.int32(4), 0.5)
    large_index, large_weight = prioritized.sample(large, key(3), 4, jnp.int32(4), 0.5)
    np.testing.assert_array_equal(index, large_index)
    np.testing.assert_allclose(large_weight, weight, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_a_slot_holding_every_priority_is_drawn_with_weight_one(beta):
    state = prioritized.init(4, "proportional")
    state = state._replace(tree=sum_tree.from_leaves(jnp.array([0.0, 2.5, 0.0, 0.0])))
    index, weight = prioritized.sample(state, key(0), 3, jnp.int32(1), beta)
    np.testing.assert_array_equal(index, [1, 1, 1])
    np.testing.assert_array_equal(weight, [1.0, 1.0, 1.0])  # (N P)^-beta = 1


def test_rank_update_before_the_first_resort_ranks_every_error_first():
    """The snapshot starts empty (every entry -1): no stored error is larger than a new one."""
    state = prioritized.init(4, "rank")
    state = prioritized.add(state, jnp.arange(4), jnp.arange(4), jnp.bool_(True), "rank")
    state = prioritized.update(state, jnp.array([0, 2]), jnp.array([0.5, -0.2]), 0.7, 1e-6, "rank")
    np.testing.assert_array_equal(leaves(state, 4), [1.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("capacity", [5, 6])
def test_rank_resort_ranks_every_slot_of_an_odd_or_even_buffer(capacity):
    state = prioritized.init(capacity, "rank")
    every = jnp.arange(capacity)
    state = prioritized.add(state, every, every, jnp.bool_(True), "rank")
    td = jnp.arange(1.0, capacity + 1.0)  # slot i has the (capacity - i)-th largest error
    state = prioritized.resort(prioritized.update(state, every, td, 1.0, 1e-6, "rank"), 1.0, "rank")
    np.testing.assert_allclose(leaves(state, capacity), 1.0 / np.arange(capacity, 0, -1))


def test_rank_resort_gives_priorities_in_rank_order():
    alpha = 0.7
    state = prioritized.init(6, "rank")
    state = prioritized.add(state, jnp.arange(5), jnp.arange(5), jnp.bool_(True), "rank")
    td = jnp.array([0.3, -5.0, 1.0, 0.01, 2.0])
    state = prioritized.update(state, jnp.arange(5), td, alpha, 1e-6, "rank")
    state = prioritized.resort(state, alpha, "rank")
    # |td| order: slot 1 (5.0) rank 1, slot 4 rank 2, slot 2 rank 3, slot 0 rank 4, slot 3 rank 5;
    # slot 5 was never written: priority 0
    ranks = np.array([4, 1, 3, 5, 2])
    np.testing.assert_allclose(leaves(state, 6), [*(1.0 / ranks) ** alpha, 0.0], rtol=1e-6)
    np.testing.assert_allclose(state.sorted_td, [5.0, 2.0, 1.0, 0.3, 0.01, -1.0], rtol=1e-6)


def test_rank_update_ranks_new_errors_in_the_last_snapshot():
    alpha = 1.0
    state = prioritized.init(4, "rank")
    state = prioritized.add(state, jnp.arange(4), jnp.arange(4), jnp.bool_(True), "rank")
    state = prioritized.update(
        state, jnp.arange(4), jnp.array([4.0, 3.0, 2.0, 1.0]), alpha, 1e-6, "rank"
    )
    state = prioritized.resort(state, alpha, "rank")
    # 2.5 ranks after 4 and 3 -> rank 3; 10 ranks first; 0.5 ranks last among 4 -> rank 5
    state = prioritized.update(
        state, jnp.array([0, 1, 2]), jnp.array([2.5, -10.0, 0.5]), alpha, 1e-6, "rank"
    )
    np.testing.assert_allclose(leaves(state, 4), [1 / 3, 1.0, 1 / 5, 1 / 4], rtol=1e-6)
    assert float(state.max_priority) == 10.0
    # rank-based sampling uses the same tree: never a zero-priority slot, the top rank most often
    draws = np.asarray(prioritized.sample(state, key(0), 256, jnp.int32(4), 0.4)[0])
    assert set(np.unique(draws)) <= {0, 1, 2, 3}
    assert np.argmax(np.bincount(draws, minlength=4)) == 1


def test_resort_is_a_no_op_for_proportional():
    kind = "".join(list("proportional"))  # as read from a file: equal, not the same object
    state = prioritized.init(4, kind)
    assert prioritized.resort(state, 0.6, kind) is state
