"""Evaluation: full episodes of the (epsilon-)greedy policy, run in parallel as one jitted scan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from dqn_jax.blocks.envs import EnvSpec, spec_from_env
from dqn_jax.blocks.exploration import epsilon_greedy

if TYPE_CHECKING:
    from dqn_jax.config import DQNConfig


def run_episodes(
    q_network: eqx.Module,
    spec: EnvSpec,
    key: PRNGKeyArray,
    num_episodes: int,
    epsilon: Float[Array, ""] | float = 0.0,
) -> Float[Array, " num_episodes"]:
    """Plays ``num_episodes`` episodes side by side and returns their undiscounted returns.

    Each episode is played to its end (termination or the time limit): the scan runs for
    ``spec.max_steps_in_episode`` steps and rewards after an episode's end are masked out.
    """
    env, params = spec.env, spec.env_params
    reset_key, key = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), params
    )

    def step(carry, _):
        obs, env_state, key, returns, alive = carry
        key, act_key, step_key = jax.random.split(key, 3)
        q = jax.vmap(q_network)(jax.vmap(spec.preprocess)(obs))
        action = jax.vmap(epsilon_greedy, in_axes=(0, 0, None))(
            jax.random.split(act_key, num_episodes), q, epsilon
        )
        obs, env_state, reward, terminated, truncated, _ = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(step_key, num_episodes), env_state, action, params)
        returns = returns + jnp.where(alive, reward.astype(jnp.float32), 0.0)
        alive = alive & ~(terminated | truncated)
        return (obs, env_state, key, returns, alive), None

    init = (
        obs,
        env_state,
        key,
        jnp.zeros(num_episodes, jnp.float32),
        jnp.ones(num_episodes, bool),
    )
    (_, _, _, returns, _), _ = jax.lax.scan(step, init, length=spec.max_steps_in_episode)
    return returns


_run_episodes_jit = eqx.filter_jit(run_episodes)


def evaluate(
    q_network: eqx.Module,
    config: DQNConfig,
    key: PRNGKeyArray,
    num_episodes: int = 100,
    *,
    epsilon: float = 0.0,
    env: Any = None,
    env_params: Any = None,
) -> Float[Array, " num_episodes"]:
    """Returns of ``num_episodes`` episodes of the greedy (or ``epsilon``-greedy) policy.

    Args:
        q_network: a network mapping one observation to ``(num_actions,)`` Q-values, e.g.
            ``result.q_network``.
        config: gives the environment (``env_name``, ``env_kwargs``, ``sticky_action_prob``:
            the agent is evaluated in the environment it was trained in).
        key: PRNG key for resets and (with ``epsilon > 0``) exploration.
        num_episodes: number of episodes, all run in parallel.
        epsilon: probability of a random action, in [0, 1].
        env, env_params: a gymnax environment to use instead of the config's (wrapped for
            ``config.sticky_action_prob`` as in ``make_train``).

    Returns:
        Per-episode returns, shape ``(num_episodes,)``.
    """
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, (int, np.integer)):
        raise ValueError(f"num_episodes={num_episodes!r} must be an integer >= 1")
    if num_episodes < 1:
        raise ValueError(f"num_episodes={num_episodes} is outside the allowed range [1, inf)")
    num_episodes = int(num_episodes)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon={epsilon!r} is outside the allowed range [0, 1]")
    spec = (
        config.env_spec
        if env is None
        else spec_from_env(env, env_params, sticky_action_prob=config.sticky_action_prob)
    )
    return _run_episodes_jit(q_network, spec, key, num_episodes, jnp.float32(epsilon))
