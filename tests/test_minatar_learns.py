"""End to end on images: a short Breakout-MinAtar run learns, through the conv network and the
bit-packed replay, on 2 seeds.

The bar is stated against the policies that need no learning, over the same 30 evaluation
episodes: uniformly random play scores about 0.3, and the best constant action (no-op) about 0.5.
Each seed's greedy final network must score at least ``MARGIN`` more than random play and more
than every constant action. 10,000 env steps (about 2,300 updates) are enough for about 3 with
3-step returns (Breakout's tuned setting), which the test sets itself: it checks the image path,
whatever the tuning (one-step targets, the other games' setting, learn more slowly this early).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float, Int

import dqn_jax
from dqn_jax.blocks.conv_network import ConvQNetwork

GAME = "Breakout-MinAtar"
SEEDS = 2
EPISODES = 30
MARGIN = 1.5  # episode return above random play, on every seed


class ConstantAction(eqx.Module):
    """A "network" whose greedy action is always ``action``."""

    action: Int[Array, ""]
    num_actions: int = eqx.field(static=True)

    def __call__(self, obs: Float[Array, "10 10 channels"]) -> Float[Array, " num_actions"]:
        return jax.nn.one_hot(self.action, self.num_actions)


@pytest.mark.slow
def test_a_short_breakout_run_beats_random_and_constant_play_on_two_seeds():
    config = dqn_jax.DQNConfig.for_env(
        GAME,
        total_timesteps=10_000,
        learning_starts=1_000,
        epsilon_decay_steps=5_000,
        n_step=3,
        log_interval=10_000,
        eval_episodes=0,
    )
    # The image path: the conv torso is chosen for the 10x10x4 frames, replay is bit-packed.
    assert config.env_spec.obs_shape == (10, 10, 4)
    assert config.env_spec.obs_storage == "bits"
    results = jax.jit(jax.vmap(dqn_jax.make_train(config)))(
        jax.random.split(jax.random.key(0), SEEDS)
    )
    assert isinstance(results.q_network, ConvQNetwork)

    keys = jax.random.split(jax.random.key(1), SEEDS)
    greedy = jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, EPISODES))(
        results.q_network, keys
    )
    random = jax.vmap(lambda net, k: dqn_jax.evaluate(net, config, k, EPISODES, epsilon=1.0))(
        results.q_network, keys
    )
    greedy, random = np.asarray(greedy).mean(axis=1), np.asarray(random).mean(axis=1)
    num_actions = config.env_spec.num_actions
    constant = jax.vmap(
        lambda a: dqn_jax.evaluate(ConstantAction(a, num_actions), config, keys[0], EPISODES)
    )(jnp.arange(num_actions))
    constant = np.asarray(constant).mean(axis=1)
    assert (greedy >= random + MARGIN).all(), (
        f"greedy {greedy.round(2)} against random play {random.round(2)}: the margin is {MARGIN}"
    )
    assert (greedy > constant.max()).all(), (
        f"greedy {greedy.round(2)} against constant actions {constant.round(2)}"
    )
