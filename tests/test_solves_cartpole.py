"""End to end: the default config solves CartPole-v1 (final networks, not a best-so-far pick)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import dqn_jax

SEEDS = 10
SOLVED = 475.0  # CartPole-v1's threshold on the mean return over 100 episodes


@pytest.mark.slow
def test_default_config_solves_cartpole_in_nine_of_ten_seeds():
    config = dqn_jax.DQNConfig()
    assert config.env_name == "CartPole-v1"
    assert config.total_timesteps <= 100_000
    keys = jax.random.split(jax.random.key(0), SEEDS)
    results = jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys)

    # Vmapped seeds train different agents.
    first_layer = np.asarray(results.q_network.layers[0].weight)
    assert not np.allclose(first_layer[0], first_layer[1])

    eval_keys = jax.random.split(jax.random.key(1), SEEDS)
    returns = jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, num_episodes=100))(
        results.q_network, eval_keys
    )
    means = np.asarray(returns).mean(axis=1)
    solved = int((means >= SOLVED).sum())
    assert solved >= 9, f"only {solved}/{SEEDS} seeds solved; 100-episode means: {means.round(1)}"
    assert np.isfinite(np.asarray(results.metrics.loss)[:, -1]).all()
