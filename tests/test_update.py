"""``td_update`` takes a step only when it is finite and allowed: the step it takes is optax's
clip-then-Adam step on the gradient of a hand-written loss, and a skipped step returns the
parameters and the optimiser state it was given, bit for bit, alone and under ``jax.vmap``."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import key

from dqn_jax import DQNConfig, HParams, QNetwork, make_optimizer, td_update
from dqn_jax.blocks.update import Batch, QParams

CONFIG = DQNConfig(hidden_sizes=(), double=False, loss="mse", learning_rate=0.1, max_grad_norm=0.5)


def _problem(reward=(1.0, -2.0, 0.5)):
    """A linear Q-network ``Q(s) = W s + b`` with 2 actions, and a batch of 3 transitions."""
    net = QNetwork(3, 2, (), "relu", False, None, key=key(0))
    online, static = eqx.partition(net, eqx.is_array)
    target = jax.tree.map(lambda x: 0.5 * x, online)
    batch = Batch(
        obs=jax.random.normal(key(1), (3, 3)),
        action=jnp.array([0, 1, 1]),
        reward=jnp.array(reward, jnp.float32),
        discount=jnp.array([0.9, 0.0, 0.81]),
        next_obs=jax.random.normal(key(2), (3, 3)),
    )
    hp = HParams.from_config(CONFIG)
    return QParams(online, target), static, batch, hp


def _hand_loss(online, target, static, batch):
    """``mean_i 0.5 (r_i + discount_i max_a Q_target(s'_i, a) - Q(s_i, a_i))^2``."""
    q = jax.vmap(eqx.combine(online, static))(batch.obs)
    q_next = jax.vmap(eqx.combine(target, static))(batch.next_obs)
    y = batch.reward + batch.discount * q_next.max(axis=-1)
    q_a = q[jnp.arange(3), batch.action]
    return jnp.mean(0.5 * (y - q_a) ** 2)


def _same(a, b) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_finite_step_is_optax_clip_then_adam_on_the_hand_written_loss():
    params, static, batch, hp = _problem()
    opt_state = make_optimizer(CONFIG, hp).init(params.online)
    new, new_opt_state, info = td_update(
        params, opt_state, batch, hp, q_static=static, config=CONFIG
    )
    loss, grads = jax.value_and_grad(_hand_loss)(params.online, params.target, static, batch)
    oracle = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(0.1))
    updates, oracle_state = oracle.update(grads, oracle.init(params.online), params.online)
    assert bool(info.applied)
    assert float(info.loss) == pytest.approx(float(loss), rel=1e-6)
    assert float(info.grad_norm) == pytest.approx(float(optax.tree.norm(grads)), rel=1e-6)
    assert float(info.grad_norm) > 0.5  # the clip is active
    expected = optax.apply_updates(params.online, updates)
    for x, y in zip(jax.tree.leaves(new.online), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    _same(new.target, params.target)
    assert int(new_opt_state[1][0].count) == int(oracle_state[1][0].count) == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_step_returns_the_parameters_and_optimiser_state_it_was_given(bad):
    params, static, batch, hp = _problem(reward=(1.0, bad, 0.5))
    opt_state = make_optimizer(CONFIG, hp).init(params.online)
    new, new_opt_state, info = td_update(
        params, opt_state, batch, hp, q_static=static, config=CONFIG
    )
    assert not bool(info.applied)
    assert not np.isfinite(float(info.loss))  # the step's own statistics come back
    _same(new, params)
    _same(new_opt_state, opt_state)


def test_a_gradient_whose_norm_overflows_is_skipped_though_the_loss_is_finite():
    """Under the Huber loss, observations of 1e20 give a finite loss and finite gradients whose
    squares overflow: Adam's second moment would be infinite."""
    config = CONFIG.replace(loss="huber")
    params, static, batch, hp = _problem()
    batch = batch._replace(obs=1e20 * batch.obs)
    opt_state = make_optimizer(config, hp).init(params.online)
    new, new_opt_state, info = td_update(
        params, opt_state, batch, hp, q_static=static, config=config
    )
    assert np.isfinite(float(info.loss)) and np.isfinite(float(info.q_mean))
    assert float(info.grad_norm) == np.inf and not bool(info.applied)
    _same(new, params)
    _same(new_opt_state, opt_state)


def test_a_step_whose_mean_q_overflows_is_skipped_though_the_loss_is_finite():
    """Every Q-value 2e38 and targets equal to them: a zero TD error (finite loss, zero
    gradient) but a mean Q of inf, the sum of three 2e38 overflowing float32."""
    params, static, batch, hp = _problem()
    huge = jax.tree.map(lambda x: jnp.zeros_like(x), params.online)
    huge = eqx.tree_at(lambda p: p.layers[0].bias, huge, jnp.full(2, 2e38, jnp.float32))
    params = QParams(huge, huge)
    batch = batch._replace(reward=jnp.zeros(3), discount=jnp.ones(3))
    opt_state = make_optimizer(CONFIG, hp).init(params.online)
    new, new_opt_state, info = td_update(
        params, opt_state, batch, hp, q_static=static, config=CONFIG
    )
    assert float(info.loss) == 0.0 and float(info.grad_norm) == 0.0
    assert float(info.q_mean) == np.inf and not bool(info.applied)
    _same(new, params)
    _same(new_opt_state, opt_state)


def test_a_step_not_allowed_is_skipped_with_the_statistics_of_the_step_it_would_take():
    params, static, batch, hp = _problem()
    opt_state = make_optimizer(CONFIG, hp).init(params.online)
    taken = td_update(params, opt_state, batch, hp, q_static=static, config=CONFIG)
    new, new_opt_state, info = td_update(
        params, opt_state, batch, hp, q_static=static, config=CONFIG, allowed=jnp.array(False)
    )
    assert bool(taken[2].applied) and not bool(info.applied)
    _same(new, params)
    _same(new_opt_state, opt_state)
    _same(info._replace(applied=True), taken[2]._replace(applied=True))


def test_under_vmap_each_agent_skips_or_steps_on_its_own():
    params, static, batch, hp = _problem()
    opt_state = make_optimizer(CONFIG, hp).init(params.online)
    stacked = jax.tree.map(lambda x: jnp.stack([x, x, x]), (params, opt_state))
    rewards = jnp.array([[1.0, -2.0, 0.5], [1.0, jnp.nan, 0.5], [1.0, -2.0, 0.5]])
    batches = jax.vmap(lambda r: batch._replace(reward=r))(rewards)
    allowed = jnp.array([True, True, False])

    def update(p, o, b, a):
        return td_update(p, o, b, hp, q_static=static, config=CONFIG, allowed=a)

    new, new_opt_state, info = jax.vmap(update)(*stacked, batches, allowed)
    np.testing.assert_array_equal(info.applied, [True, False, False])
    alone = td_update(params, opt_state, batch, hp, q_static=static, config=CONFIG)
    first = jax.tree.map(lambda x: x[0], (new, new_opt_state))
    for x, y in zip(jax.tree.leaves(first), jax.tree.leaves(alone[:2]), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6)
    for agent in (1, 2):
        _same(jax.tree.map(lambda x, a=agent: x[a], (new, new_opt_state)), (params, opt_state))
