"""Acting with a trained Q-network: the (epsilon-)greedy action of one observation."""

from __future__ import annotations

import chex
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from dqn_jax.blocks.conv_network import ConvQNetwork
from dqn_jax.blocks.exploration import epsilon_greedy
from dqn_jax.blocks.networks import QNetwork


def act(
    q_network: QNetwork | ConvQNetwork,
    obs: Float[Array, "*obs_shape"],
    key: PRNGKeyArray,
    epsilon: Float[Array, ""] | float = 0.0,
) -> Int[Array, ""]:
    """The action of ``q_network`` for one observation: greedy, or epsilon-greedy.

    Batching is ``jax.vmap``'s job: ``jax.vmap(act, in_axes=(None, 0, 0))(net, obs, keys)``
    acts on a batch of observations, and vmapping over a stack of networks acts for many agents.

    Args:
        q_network: a network mapping one observation to ``(num_actions,)`` Q-values, e.g.
            ``result.q_network`` or the network ``dqn_jax.load`` returns.
        obs: one observation as the network sees it, shape ``EnvSpec.obs_shape``
            (``(obs_dim,)``, or ``(height, width, channels)`` for an image): a gymnax
            observation passed through ``EnvSpec.preprocess`` (for CartPole-v1 the observation
            itself).
        key: PRNG key, used only when ``epsilon > 0``.
        epsilon: probability of a uniformly random action, in [0, 1].

    Returns:
        The action, an int32 scalar.
    """
    chex.assert_rank(obs, {1, 3})
    return epsilon_greedy(key, q_network(jnp.asarray(obs, jnp.float32)), epsilon)
