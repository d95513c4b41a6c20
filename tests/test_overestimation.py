"""Double DQN's fix of the maximisation bias, on the MDP where it is known to matter.

Sutton & Barto (2018, Example 6.7): from state A, action 0 ends the episode with reward 0 and
every other action moves to B for reward 0; from B, every one of the ``K`` actions ends the
episode with a reward drawn from N(-0.1, 1). The true value of moving to B is
``gamma * (-0.1) < 0``, but ``max_b Q(B, b)`` over noisy estimates is biased upwards, and
one-step Q-learning copies that bias into ``Q(A, go)``. Double DQN picks the action with the
online network and values it with the target network, whose noise is different.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

from dqn_jax import DQNConfig, make_train

GAMMA = 0.9
MEAN_B = -0.1


@struct.dataclass
class State(environment.EnvState):
    in_b: jax.Array
    time: int


class MaximisationBias(environment.Environment):
    """A (one-hot ``[1, 0]``) and B (``[0, 1]``); ``num_actions`` actions in both."""

    def __init__(self, num_actions: int = 10):
        super().__init__()
        self._num_actions = num_actions

    @property
    def default_params(self) -> environment.EnvParams:
        return environment.EnvParams(max_steps_in_episode=10)

    def step_env(self, key, state, action, params):
        reward = jnp.where(state.in_b, MEAN_B + jax.random.normal(key), 0.0)
        terminated = state.in_b | (action == 0)
        new = State(in_b=~state.in_b & (action != 0), time=state.time + 1)
        return self._obs(new), new, reward, terminated, {}

    def reset_env(self, key, params):
        state = State(in_b=jnp.bool_(False), time=0)
        return self._obs(state), state

    @staticmethod
    def _obs(state: State) -> jax.Array:
        in_b = state.in_b.astype(jnp.float32)
        return jnp.stack([1.0 - in_b, in_b])

    @property
    def num_actions(self) -> int:
        return self._num_actions

    def action_space(self, params):
        return spaces.Discrete(self._num_actions)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)


def overestimation(double: bool) -> np.ndarray:
    """Per seed: mean over the moving actions of predicted ``Q(A, go)`` minus its true value."""
    config = DQNConfig(
        total_timesteps=4000,
        num_envs=4,
        buffer_size=4000,
        batch_size=32,
        learning_starts=200,
        train_frequency=4,
        gradient_steps=1,
        target_update_period=400,  # hard copies: online and target noise differ between them
        tau=1.0,
        learning_rate=0.03,
        lr_decay=False,
        gamma=GAMMA,
        n_step=1,  # the bias enters through the one-step bootstrap max_b Q(B, b)
        double=double,
        layer_norm=False,
        hidden_sizes=(32,),
        epsilon_start=1.0,  # uniform behaviour: every action of B is tried equally often
        epsilon_end=1.0,
        log_interval=1000,
        eval_episodes=0,
    )
    env = MaximisationBias()
    train = make_train(config, env, env.default_params)
    result = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 8))
    q_a = jax.vmap(lambda net: net(jnp.array([1.0, 0.0])))(result.q_network)
    return np.asarray(q_a[:, 1:].mean(axis=1)) - GAMMA * MEAN_B


@pytest.mark.slow
def test_double_dqn_overestimates_less_than_dqn():
    plain, double = overestimation(False), overestimation(True)
    # Q-learning overestimates on every seed; Double DQN removes most of the bias on average.
    assert np.all(plain > 0), plain
    assert double.mean() < 0.5 * plain.mean(), (plain, double)
    assert np.abs(double).mean() < np.abs(plain).mean(), (plain, double)
