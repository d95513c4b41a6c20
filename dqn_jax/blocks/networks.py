"""Q-networks: Equinox modules that map ONE observation to the Q-values of every action."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

DUELING = (None, "mean", "max")
NETWORKS = ("auto", "mlp", "conv")

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
    value_head: eqx.nn.Linear | None
    activation: str = eqx.field(static=True)
    dueling: str | None = eqx.field(static=True)

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "relu",
        layer_norm: bool = False,
        dueling: str | None = None,
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
        dueling: ``None`` for a plain MLP head; ``"mean"`` or ``"max"`` for a dueling head
            (Wang et al., 2016) ``Q = V + (A - mean_a A)`` or ``Q = V + (A - max_a A)``: the last
            layer gives the advantages ``A`` and a second head on the torso the value ``V``.
        key: PRNG key for the initial weights.
        """
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} must be one of {tuple(ACTIVATIONS)}")
        if dueling not in DUELING:
            raise ValueError(f"dueling={dueling!r} must be one of {DUELING}")
        sizes = (obs_dim, *hidden_sizes, num_actions)
        key, value_key = jax.random.split(key)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            eqx.nn.Linear(n_in, n_out, key=k)
            for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.norms = tuple(eqx.nn.LayerNorm(h) for h in hidden_sizes) if layer_norm else None
        self.value_head = eqx.nn.Linear(sizes[-2], 1, key=value_key) if dueling else None
        self.activation = activation
        self.dueling = dueling

    def __call__(self, obs: Float[Array, "*obs_shape"]) -> Float[Array, " num_actions"]:
        """Args:
        obs: one observation, shape ``(obs_dim,)``, or any shape of ``obs_dim`` elements
            (an image ``(H, W, C)``), which is flattened first.

        Returns:
            Q-values, shape ``(num_actions,)``.
        """
        act = ACTIVATIONS[self.activation]
        x = obs.reshape(-1)  # a no-op on a vector
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = act(x)
        if self.dueling is None:
            return self.layers[-1](x)
        advantage = self.layers[-1](x)
        value = self.value_head(x)[0]
        baseline = jnp.mean(advantage) if self.dueling == "mean" else jnp.max(advantage)
        return value + advantage - baseline


def network_kind(network: str, obs_shape: tuple[int, ...]) -> str:
    """``"mlp"`` or ``"conv"``: the Q-network ``network`` (one of ``NETWORKS``) asks for, given
    the shape of one observation as the network sees it. ``"auto"`` picks ``"conv"`` for an
    image ``(H, W, C)`` and ``"mlp"`` otherwise.

    Raises:
        ValueError: naming ``network`` for an unknown kind, or ``"conv"`` on an observation
            that is not an image.
    """
    if network not in NETWORKS:
        raise ValueError(f"network={network!r} must be one of {NETWORKS}")
    if network == "auto":
        return "conv" if len(obs_shape) == 3 else "mlp"
    if network == "conv" and len(obs_shape) != 3:
        raise ValueError(
            f"network='conv' needs image observations (height, width, channels), but this "
            f"environment's observations have shape {tuple(obs_shape)}: use network='mlp' or 'auto'"
        )
    return network
