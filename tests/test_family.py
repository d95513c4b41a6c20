"""The DQN family inside the whole run: every variant jits, vmaps over seeds and sweeps its own
hyper-parameters without retracing; prioritized replay only samples complete sequences;
Boltzmann exploration follows its temperature schedule; the importance weights reach the loss."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from dqn_jax import (
    DQNConfig,
    HParams,
    QNetwork,
    make_optimizer,
    make_train,
    sum_tree,
    td_update,
)
from dqn_jax.blocks.update import Batch, QParams

BASE = dict(
    total_timesteps=1200,
    num_envs=4,
    buffer_size=600,
    batch_size=32,
    learning_starts=200,
    train_frequency=4,
    log_interval=400,
    eval_episodes=1,
    hidden_sizes=(16,),
    epsilon_decay_steps=600,
    temperature_decay_steps=600,
    rank_resort_interval=100,
)

# Each flag appears in at least one variant; every variant combines several, since each one
# costs a compile of the whole vmapped run.
VARIANTS = {
    "per_proportional_boltzmann": dict(prioritized="proportional", exploration="boltzmann"),
    "per_rank_3_step_huber_dueling_max": dict(
        prioritized="rank", n_step=3, loss="huber", huber_delta=2.0, dueling="max"
    ),
    "rainbow_lite": DQNConfig.preset("rainbow_lite", **BASE).__dict__,
}

# Hyper-parameters each variant must sweep without recompiling.
SWEEP = dict(
    per_alpha=0.3, per_beta=0.9, per_eps=1e-2, temperature_start=5.0, gamma=0.9, huber_delta=0.5
)


class Counted:
    def __init__(self, fn):
        self.traces = 0

        def counted(*args):
            self.traces += 1
            return fn(*args)

        self.fn = jax.jit(counted)

    def __call__(self, *args):
        return jax.block_until_ready(self.fn(*args))


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    config = DQNConfig(**{**BASE, **VARIANTS[request.param]})
    run = Counted(jax.vmap(make_train(config), in_axes=(0, None)))
    keys = jax.random.split(key(0), 2)
    first = run(keys, HParams.from_config(config))
    second = run(keys, HParams.from_config(config, **SWEEP))
    return config, run, first, second


def test_variant_jits_vmaps_and_sweeps_without_retrace(variant):
    config, run, first, second = variant
    assert run.traces == 1
    assert first.metrics.loss.shape == (2, config.num_logs)
    assert np.all(np.isfinite(first.metrics.loss[:, 1:]))
    # seeds differ, and so do the two hyper-parameter settings
    w = jax.tree.leaves(first.state.params.online)[0]
    assert not np.array_equal(w[0], w[1])
    w2 = jax.tree.leaves(second.state.params.online)[0]
    assert not np.array_equal(w, w2)


def test_prioritized_replay_samples_only_complete_sequences(variant):
    config, _, first, _ = variant
    assert config.prioritized is not None  # every variant is prioritized
    priorities = np.asarray(jax.vmap(sum_tree.leaves)(first.state.priorities.tree))
    size = np.asarray(first.state.replay.size)
    position = np.asarray(first.state.replay.position)
    span = (config.n_step - 1) * config.num_envs
    for seed in range(2):
        p = priorities[seed, : config.buffer_size]
        assert np.all(np.isfinite(p)) and np.all(p >= 0)
        assert np.count_nonzero(p) == size[seed] - span
        # the slots of the newest n - 1 steps (sequences not yet complete) are never sampled
        newest = (position[seed] - 1 - np.arange(span)) % config.buffer_size
        assert np.all(p[newest] == 0)
        assert np.all(priorities[seed, config.buffer_size :] == 0)


def test_boltzmann_logs_its_temperature_and_no_epsilon(variant):
    config, _, first, second = variant
    if config.exploration != "boltzmann":
        assert np.all(np.isnan(first.metrics.temperature))
        return
    assert np.all(np.isnan(first.metrics.epsilon))
    steps = np.asarray(first.metrics.env_steps[0])
    frac = np.minimum(steps / config.temperature_decay_steps, 1.0)
    expected = config.temperature_start + (config.temperature_end - config.temperature_start) * frac
    np.testing.assert_allclose(first.metrics.temperature[0], expected, rtol=1e-4)
    expected_b = 5.0 + (config.temperature_end - 5.0) * frac
    np.testing.assert_allclose(second.metrics.temperature[0], expected_b, rtol=1e-4)


def test_importance_weights_scale_each_sample_loss():
    """With weights w the loss is mean_i w_i * 0.5 * delta_i^2: check against a hand computation
    on a linear Q-network whose Q-values are known."""
    config = DQNConfig(**{**BASE, "double": False, "hidden_sizes": ()})
    net = QNetwork(2, 2, (), "relu", False, None, key=key(0))
    net = jax.tree.map(lambda x: jnp.zeros_like(x) if eqx.is_array(x) else x, net)  # Q = 0
    online, static = eqx.partition(net, eqx.is_array)
    batch = Batch(
        obs=jnp.zeros((3, 2)),
        action=jnp.array([0, 1, 0]),
        reward=jnp.array([1.0, 2.0, -3.0]),
        discount=jnp.zeros(3),
        next_obs=jnp.zeros((3, 2)),
    )
    weight = jnp.array([1.0, 0.5, 0.25])
    hp = HParams.from_config(config)
    opt_state = make_optimizer(config, hp).init(online)
    _, _, info = td_update(
        QParams(online, online), opt_state, batch, hp, weight, q_static=static, config=config
    )
    # delta = r (Q = 0, no bootstrap): (1 * 0.5 * 1 + 0.5 * 0.5 * 4 + 0.25 * 0.5 * 9) / 3
    assert float(info.loss) == pytest.approx((0.5 + 1.0 + 1.125) / 3, rel=1e-6)
    _, _, unweighted = td_update(
        QParams(online, online), opt_state, batch, hp, q_static=static, config=config
    )
    assert float(unweighted.loss) == pytest.approx((0.5 + 2.0 + 4.5) / 3, rel=1e-6)
