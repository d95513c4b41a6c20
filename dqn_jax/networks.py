"""Q-networks: Equinox modules that map ONE observation to the Q-values of every action."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "tanh": jax.nn.tanh,
    "swish": jax.nn.swish,
    "gelu": jax.nn.gelu,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
}


class QNetwork(eqx.Module):
    """An MLP Q-network: ``obs -> Q(obs, .)``.

    Every leaf is an array (the activation is a static name), so the module passes through
    ``jax.jit`` and ``jax.vmap`` as a plain pytree. ``eqx.partition(net, eqx.is_array)`` splits
    its parameters from its (empty) structure; a target network is a second parameter pytree.
    """

    layers: tuple[eqx.nn.Linear, ...]
    norms: tuple[eqx.nn.LayerNorm, ...] | None
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        layer_norm: bool = False,
        *,
        key: PRNGKeyArray,
    ) -> None:
        """Args:
        obs_dim: length of the (flat) observation.
        num_actions: number of discrete actions.
        hidden_sizes: widths of the hidden layers.
        activation: name of the hidden activation, a key of ``ACTIVATIONS``.
        layer_norm: normalise each hidden layer's pre-activations (LayerNorm), which keeps
            bootstrapped targets from feeding on their own drift (Gallici et al., 2024).
        key: PRNG key for the initial weights.
        """
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} must be one of {tuple(ACTIVATIONS)}")
        sizes = (obs_dim, *hidden_sizes, num_actions)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            eqx.nn.Linear(n_in, n_out, key=k)
            for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.norms = tuple(eqx.nn.LayerNorm(h) for h in hidden_sizes) if layer_norm else None
        self.activation = activation

    def __call__(self, obs: Float[Array, " obs_dim"]) -> Float[Array, " num_actions"]:
        """Args:
        obs: one observation, shape ``(obs_dim,)``.

        Returns:
            Q-values, shape ``(num_actions,)``.
        """
        act = ACTIVATIONS[self.activation]
        x = obs
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = act(x)
        return self.layers[-1](x)
