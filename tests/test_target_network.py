"""Target-network timing on the env-step clock (crossings) and the Polyak update."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dqn_jax import QNetwork, crossings, update_target


def test_clock_of_step_3_fires_once_per_multiple_of_500():
    period, step = 500, 3  # num_envs=3 does not divide 500
    fired_at = []
    before = 0
    while before < 5000:
        after = before + step
        k = int(crossings(jnp.int32(before), jnp.int32(after), period))
        assert k in (0, 1)
        fired_at += [after] * k
        before = after
    assert len(fired_at) == 10
    # fires at the first clock value >= each multiple
    expected = [-(-m // step) * step for m in range(500, 5001, 500)]
    assert fired_at == expected
    assert expected[0] == 501 and expected[-1] == 5001


def test_crossings_vectorised_clock_matches_loop():
    before = jnp.arange(0, 5000, 3)
    k = jax.jit(crossings)(before, before + 3, 500)
    assert int(k.sum()) == 10
    np.testing.assert_array_equal(np.asarray(before + 3)[np.asarray(k) == 1] % 500 < 3, True)


@pytest.mark.parametrize(
    ("before", "after", "period", "expected"),
    [
        (0, 1500, 500, 3),  # three multiples in one jump
        (499, 1001, 500, 2),  # 500 and 1000
        (500, 999, 500, 0),  # before is exclusive
        (499, 500, 500, 1),  # after is inclusive
        (0, 7, 1, 7),  # period 1: every step
        (10, 10, 3, 0),  # no movement
    ],
)
def test_crossings_counts(before, after, period, expected):
    assert int(crossings(jnp.int32(before), jnp.int32(after), jnp.int32(period))) == expected


def test_crossings_traced_period_under_vmap():
    k = jax.vmap(crossings, in_axes=(None, None, 0))(
        jnp.int32(96), jnp.int32(104), jnp.array([100, 8, 1000])
    )
    np.testing.assert_array_equal(k, [1, 1, 0])


def _params(seed):
    net = QNetwork(4, 2, (8, 8), key=jax.random.key(seed))
    return eqx.filter(net, eqx.is_array)


@pytest.fixture(scope="module")
def online_and_target():
    online, target = _params(0), _params(1)
    # precondition: the two really differ
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(online), jax.tree.leaves(target), strict=True)
    )
    return online, target


def _assert_bitwise(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_hard_copy_tau_one_single_crossing(online_and_target):
    online, target = online_and_target
    _assert_bitwise(update_target(online, target, 1.0, jnp.int32(1)), online)


def test_hard_copy_tau_one_several_crossings(online_and_target):
    online, target = online_and_target
    _assert_bitwise(update_target(online, target, 1.0, jnp.int32(3)), online)


@pytest.mark.parametrize("tau", [1.0, 0.1])
def test_no_crossing_leaves_target_bitwise_unchanged(online_and_target, tau):
    online, target = online_and_target
    _assert_bitwise(update_target(online, target, tau, jnp.int32(0)), target)


def test_no_crossing_keeps_the_target_even_from_a_non_finite_online_network(online_and_target):
    """``0 * inf`` is NaN: without a crossing the target must be the old one, not a zero-size
    Polyak step towards an online network that overflowed."""
    online, target = online_and_target
    broken = jax.tree.map(lambda x: x.at[0].set(jnp.inf).at[-1].set(jnp.nan), online)
    _assert_bitwise(update_target(broken, target, 0.1, jnp.int32(0)), target)


def test_polyak_two_crossings_equal_two_incremental_updates(online_and_target):
    online, target = online_and_target
    expected = optax.incremental_update(online, optax.incremental_update(online, target, 0.1), 0.1)
    ours = update_target(online, target, 0.1, jnp.int32(2))
    for x, y in zip(jax.tree.leaves(ours), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # and it is not just one step
    one = optax.incremental_update(online, target, 0.1)
    assert not all(
        np.allclose(x, y, rtol=1e-5, atol=1e-6)
        for x, y in zip(jax.tree.leaves(ours), jax.tree.leaves(one), strict=True)
    )


def test_update_target_traced_under_jit_and_vmap(online_and_target):
    online, target = online_and_target
    f = jax.jit(jax.vmap(update_target, in_axes=(None, None, 0, 0)))
    out = f(online, target, jnp.array([1.0, 0.5, 0.5]), jnp.array([1, 0, 1]))
    first = jax.tree.map(lambda x: x[0], out)
    second = jax.tree.map(lambda x: x[1], out)
    third = jax.tree.map(lambda x: x[2], out)
    _assert_bitwise(first, online)
    _assert_bitwise(second, target)
    for x, o, t in zip(
        jax.tree.leaves(third), jax.tree.leaves(online), jax.tree.leaves(target), strict=True
    ):
        np.testing.assert_allclose(x, 0.5 * o + 0.5 * t, rtol=1e-6, atol=1e-7)
