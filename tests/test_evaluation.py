"""Evaluation at epsilon > 0, by value: the share of random actions the episodes actually take.

The environment pays 1 for action 0 and nothing for action 1, never terminates, and truncates
after ``LENGTH`` steps, so an episode's return counts the times action 0 was taken. A network
that always prefers action 1 then takes action 0 with probability ``epsilon / 2`` at every step.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

from dqn_jax import DQNConfig
from dqn_jax.loop.evaluation import evaluate

LENGTH = 50
EPISODES = 400  # 20,000 actions per evaluation


@struct.dataclass
class State(environment.EnvState):
    time: int


class CountsActionZero(environment.Environment):
    """Reward 1 for action 0, 0 for action 1; episodes end only at the time limit."""

    @property
    def default_params(self) -> environment.EnvParams:
        return environment.EnvParams(max_steps_in_episode=LENGTH)

    def step_env(self, key, state, action, params):
        new = State(time=state.time + 1)
        return jnp.zeros(2), new, (action == 0).astype(jnp.float32), jnp.bool_(False), {}

    def reset_env(self, key, params):
        return jnp.zeros(2), State(time=0)

    @property
    def num_actions(self) -> int:
        return 2

    def action_space(self, params):
        return spaces.Discrete(2)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)


class PrefersActionOne(eqx.Module):
    def __call__(self, obs):
        return jnp.array([0.0, 1.0]) + 0.0 * obs.sum()


def action_zero_counts(epsilon: float | None, seed: int = 0) -> np.ndarray:
    """Per episode, how many of its ``LENGTH`` actions were action 0."""
    env = CountsActionZero()
    kwargs = {} if epsilon is None else {"epsilon": epsilon}
    returns = evaluate(
        PrefersActionOne(),
        DQNConfig(),
        jax.random.key(seed),
        EPISODES,
        env=env,
        env_params=env.default_params,
        **kwargs,
    )
    return np.asarray(returns)


def test_epsilon_zero_is_the_greedy_evaluation():
    np.testing.assert_array_equal(action_zero_counts(0.0), 0.0)
    np.testing.assert_array_equal(action_zero_counts(None), action_zero_counts(0.0))


@pytest.mark.parametrize("epsilon", [0.05, 0.3, 1.0])
def test_episodes_take_a_random_action_with_probability_epsilon(epsilon):
    counts = action_zero_counts(epsilon, seed=1)
    np.testing.assert_array_equal(counts, np.round(counts))  # a count of steps
    assert counts.max() <= LENGTH
    share, expected = counts.mean() / LENGTH, epsilon / 2  # a random action is 0 half the time
    sd = np.sqrt(expected * (1 - expected) / (EPISODES * LENGTH))  # of the overall share
    assert abs(share - expected) < 5 * sd, (share, expected)
