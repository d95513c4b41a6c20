"""A convolutional Q-network for image observations ``(H, W, C)``, e.g. MinAtar's 10x10 channels.

The torso is a stack of stride-1, SAME-padded convolutions (the MinAtar paper's network is one
16-filter 3x3 conv); its feature map, flattened, feeds the same MLP head as :class:`QNetwork`
(hidden layers, LayerNorm, dueling). Each convolution is written as the ``k * k`` shifted slices
of the zero-padded image followed by one matmul: the same values as
``lax.conv_general_dilated(..., "SAME")`` and, on CPU, about 2-3x faster a TD update than
``eqx.nn.Conv2d`` or ``lax.conv`` (``scripts/conv_speed.py``, BENCHMARKS.md; jax issue 12868).
"""

from __future__ import annotations

from collections.abc import Sequence

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from dqn_jax.blocks.networks import ACTIVATIONS, QNetwork


def conv2d_same(
    x: Float[Array, "height width c_in"],
    kernel: Float[Array, "k k c_in c_out"],
    bias: Float[Array, " c_out"],
) -> Float[Array, "height width c_out"]:
    """A stride-1 convolution with SAME zero padding of ONE image, channels last.

    ``y[h, w, o] = bias[o] + sum_{i, j, c} x_pad[h + i, w + j, c] * kernel[i, j, c, o]``, with
    ``x`` padded by ``(k - 1) // 2`` zeros before and ``k // 2`` after each spatial axis (as
    ``lax.conv_general_dilated`` pads for ``"SAME"``).

    Args:
        x: the image, shape ``(height, width, c_in)``.
        kernel: the filters, ``HWIO`` layout, shape ``(k, k, c_in, c_out)``.
        bias: shape ``(c_out,)``.

    Returns:
        The feature map, shape ``(height, width, c_out)``.
    """
    chex.assert_rank([x, kernel, bias], [3, 4, 1])
    height, width, c_in = x.shape
    k = kernel.shape[0]
    chex.assert_shape(kernel, (k, k, c_in, bias.shape[0]))
    before, after = (k - 1) // 2, k // 2
    padded = jnp.pad(x, ((before, after), (before, after), (0, 0)))
    # (height, width, k * k * c_in), ordered (i, j, c) like the kernel's first three axes
    patches = jnp.concatenate(
        [padded[i : i + height, j : j + width] for i in range(k) for j in range(k)], axis=-1
    )
    return jnp.einsum("hwp,po->hwo", patches, kernel.reshape(k * k * c_in, -1)) + bias


class ConvQNetwork(eqx.Module):
    """A convolutional Q-network: ``obs (H, W, C) -> Q(obs, .)``.

    ``conv -> activation`` for each entry of ``channels``, then the feature map flattened into a
    :class:`QNetwork` head (its hidden layers, LayerNorm and dueling aggregation). Every leaf is
    an array and the sizes are static, so the module passes through ``jax.jit`` and
    ``jax.vmap`` as a plain pytree, like :class:`QNetwork`.
    """

    kernels: tuple[Float[Array, "k k c_in c_out"], ...]
    biases: tuple[Float[Array, " c_out"], ...]
    head: QNetwork
    obs_shape: tuple[int, int, int] = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        obs_shape: Sequence[int],
        num_actions: int,
        channels: Sequence[int] = (16,),
        kernel_size: int = 3,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        layer_norm: bool = False,
        dueling: str | None = None,
        *,
        key: PRNGKeyArray,
    ) -> None:
        """Args:
        obs_shape: ``(height, width, channels)`` of one observation.
        num_actions: number of discrete actions.
        channels: filters of each convolution (stride 1, SAME padding: the map keeps its
            height and width).
        kernel_size: side ``k`` of every ``k x k`` filter.
        hidden_sizes: widths of the head's hidden layers (after the flattened feature map).
        activation: name of the activation after every conv and hidden layer, a key of
            ``ACTIVATIONS``.
        layer_norm: LayerNorm before the activation of each of the head's hidden layers (the
            convolutions have none).
        dueling: ``None``, ``"mean"`` or ``"max"``: the head's dueling aggregation (see
            :class:`QNetwork`).
        key: PRNG key for the initial weights.
        """
        obs_shape = tuple(int(s) for s in obs_shape)
        if len(obs_shape) != 3 or min(obs_shape) < 1:
            raise ValueError(f"obs_shape={obs_shape!r} must be (height, width, channels) >= 1")
        if not channels or min(channels) < 1:
            raise ValueError(f"channels={tuple(channels)!r} must be integers >= 1, at least one")
        if kernel_size < 1:
            raise ValueError(f"kernel_size={kernel_size!r} is outside the allowed range [1, inf)")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} must be one of {tuple(ACTIVATIONS)}")
        height, width, c_in = obs_shape
        head_key, *conv_keys = jax.random.split(key, len(channels) + 1)
        kernels, biases = [], []
        for c_out, conv_key in zip(channels, conv_keys, strict=True):
            # eqx.nn.Conv2d's initialisation: uniform in +-1/sqrt(fan_in)
            limit = 1.0 / (kernel_size * kernel_size * c_in) ** 0.5
            w_key, b_key = jax.random.split(conv_key)
            shape = (kernel_size, kernel_size, c_in, c_out)
            kernels.append(jax.random.uniform(w_key, shape, minval=-limit, maxval=limit))
            biases.append(jax.random.uniform(b_key, (c_out,), minval=-limit, maxval=limit))
            c_in = c_out
        self.kernels, self.biases = tuple(kernels), tuple(biases)
        self.head = QNetwork(
            height * width * c_in,
            num_actions,
            hidden_sizes,
            activation,
            layer_norm,
            dueling,
            key=head_key,
        )
        self.obs_shape = obs_shape
        self.activation = activation

    def features(self, obs: Float[Array, "height width channels"]) -> Float[Array, " features"]:
        """The torso: the last activated feature map, flattened, shape
        ``(height * width * channels[-1],)``."""
        chex.assert_shape(obs, self.obs_shape)
        act = ACTIVATIONS[self.activation]
        x = obs
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            x = act(conv2d_same(x, kernel, bias))
        return x.reshape(-1)

    def __call__(self, obs: Float[Array, "height width channels"]) -> Float[Array, " num_actions"]:
        """Args:
        obs: one observation, shape ``(height, width, channels)``.

        Returns:
            Q-values, shape ``(num_actions,)``.
        """
        return self.head(self.features(obs))
