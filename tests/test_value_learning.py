"""TD targets and losses: hand-computed values and the rlax oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax

from dqn_jax import double_q_learning_target, q_learning_target, td_loss


def f32(x):
    return jnp.asarray(x, jnp.float32)


def test_q_learning_target_hand_computed_nonterminal():
    y = q_learning_target(f32(1.0), f32(0.99 * (1 - 0)), f32([1.0, 3.0]))
    np.testing.assert_allclose(y, 1.0 + 0.99 * 3.0, rtol=1e-6)


def test_q_learning_target_terminal_is_reward():
    y = q_learning_target(f32(1.0), f32(0.99 * (1 - 1)), f32([1.0, 3.0]))
    np.testing.assert_allclose(y, 1.0, rtol=0, atol=0)


def test_q_learning_target_uses_max_even_if_negative():
    y = q_learning_target(f32(-0.5), f32(0.5), f32([-4.0, -2.0, -3.0]))
    np.testing.assert_allclose(y, -0.5 + 0.5 * -2.0, rtol=1e-6)


def test_double_q_target_values_selector_argmax_with_target_net():
    # selector picks action 0 although the value net's max is action 1
    y = double_q_learning_target(f32(1.0), f32(0.9), f32([2.0, 10.0]), f32([5.0, 1.0]))
    np.testing.assert_allclose(y, 1.0 + 0.9 * 2.0, rtol=1e-6)


def test_double_q_target_terminal_is_reward():
    y = double_q_learning_target(f32(2.5), f32(0.0), f32([2.0, 10.0]), f32([5.0, 1.0]))
    np.testing.assert_allclose(y, 2.5, rtol=0, atol=0)


def _random_batch(seed, batch=64, num_actions=5):
    ks = jax.random.split(jax.random.key(seed), 6)
    q_tm1 = jax.random.normal(ks[0], (batch, num_actions))
    a_tm1 = jax.random.randint(ks[1], (batch,), 0, num_actions)
    r_t = jax.random.normal(ks[2], (batch,))
    # discount 0 for about a quarter of the batch (terminal), 0.99 otherwise
    terminal = jax.random.bernoulli(ks[3], 0.25, (batch,))
    discount_t = 0.99 * (1.0 - terminal.astype(jnp.float32))
    q_t_value = jax.random.normal(ks[4], (batch, num_actions))
    q_t_selector = jax.random.normal(ks[5], (batch, num_actions))
    return q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_q_learning_target_matches_rlax(seed):
    q_tm1, a_tm1, r_t, discount_t, q_t, _ = _random_batch(seed)
    ours = jax.vmap(q_learning_target)(r_t, discount_t, q_t)
    td = jax.vmap(rlax.q_learning)(q_tm1, a_tm1, r_t, discount_t, q_t)
    q_a = q_tm1[jnp.arange(q_tm1.shape[0]), a_tm1]
    np.testing.assert_allclose(ours, td + q_a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_double_q_learning_target_matches_rlax(seed):
    q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector = _random_batch(seed)
    ours = jax.vmap(double_q_learning_target)(r_t, discount_t, q_t_value, q_t_selector)
    td = jax.vmap(rlax.double_q_learning)(q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector)
    q_a = q_tm1[jnp.arange(q_tm1.shape[0]), a_tm1]
    np.testing.assert_allclose(ours, td + q_a, rtol=1e-5, atol=1e-5)
    # and the double target really differs from the plain one on random data
    plain = jax.vmap(q_learning_target)(r_t, discount_t, q_t_value)
    assert not np.allclose(ours, plain)


def test_q_learning_target_rejects_batched_q_t():
    with pytest.raises(AssertionError):
        q_learning_target(f32(1.0), f32(0.99), jnp.ones((2, 3)))


def test_q_learning_target_rejects_batched_reward():
    with pytest.raises(AssertionError):
        q_learning_target(jnp.ones(2), f32(0.99), jnp.ones(3))


def test_double_q_learning_target_rejects_batched_q_t():
    with pytest.raises(AssertionError):
        double_q_learning_target(f32(1.0), f32(0.99), jnp.ones((2, 3)), jnp.ones((2, 3)))


def test_double_q_learning_target_rejects_mismatched_value_and_selector():
    with pytest.raises(AssertionError):
        double_q_learning_target(f32(1.0), f32(0.99), jnp.ones(3), jnp.ones(4))


TD_ERRORS = f32([-7.0, -2.5, -1.0, -0.4, 0.0, 0.3, 0.99, 1.5, 4.0, 12.0])


def test_td_loss_kind_is_compared_by_value_and_unknown_kinds_raise():
    # a kind read from a file or the command line is an equal string, not the same object
    mse, huber = "".join(["ms", "e"]), "".join(["hub", "er"])
    np.testing.assert_allclose(td_loss(TD_ERRORS, mse), 0.5 * TD_ERRORS**2, rtol=1e-6)
    np.testing.assert_allclose(
        td_loss(TD_ERRORS, huber), rlax.huber_loss(TD_ERRORS, 1.0), rtol=1e-6
    )
    for kind in ("absolute", "Huber", "l2", "quadratic"):  # before and after "mse" in order
        with pytest.raises(ValueError, match=f"loss='{kind}' must be one of"):
            td_loss(TD_ERRORS, kind)


def test_td_loss_mse_is_half_squared_error():
    np.testing.assert_allclose(td_loss(TD_ERRORS, "mse"), 0.5 * TD_ERRORS**2, rtol=1e-6)
    np.testing.assert_allclose(td_loss(TD_ERRORS, "mse"), rlax.l2_loss(TD_ERRORS), rtol=1e-6)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0, 5.0])
def test_td_loss_huber_matches_rlax(delta):
    ours = td_loss(TD_ERRORS, "huber", delta)
    np.testing.assert_allclose(ours, rlax.huber_loss(TD_ERRORS, delta), rtol=1e-6, atol=1e-6)
    # beyond delta the loss is linear: delta * (|d| - delta / 2), below 0.5 * d**2
    big = jnp.abs(TD_ERRORS) > delta
    assert bool(big.any()) and bool((~big).any())
    expected = jnp.where(big, delta * (jnp.abs(TD_ERRORS) - 0.5 * delta), 0.5 * TD_ERRORS**2)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def test_td_loss_huber_accepts_traced_delta():
    f = jax.jit(lambda d, delta: td_loss(d, "huber", delta))
    np.testing.assert_allclose(f(TD_ERRORS, f32(2.0)), rlax.huber_loss(TD_ERRORS, 2.0), rtol=1e-6)


def test_td_loss_unknown_kind_raises():
    with pytest.raises(ValueError, match="loss='l1'"):
        td_loss(TD_ERRORS, "l1")
