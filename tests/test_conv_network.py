"""The convolutional Q-network: the conv's values, shapes, vmap-safety, dueling and gradients."""

from __future__ import annotations

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from dqn_jax import ConvQNetwork
from dqn_jax.blocks.conv_network import conv2d_same
from dqn_jax.blocks.networks import network_kind

SHAPE = (10, 10, 4)


@eqx.filter_jit
def _q_values(net, obs):
    return jax.vmap(net)(obs)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_conv_is_lax_conv_with_same_padding(k):
    x = jax.random.normal(key(0), (7, 6, 3))
    kernel = jax.random.normal(key(1), (k, k, 3, 5))
    bias = jax.random.normal(key(2), (5,))
    expected = jax.lax.conv_general_dilated(
        x[None], kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )[0]
    np.testing.assert_allclose(jax.jit(conv2d_same)(x, kernel, bias), expected + bias, atol=1e-5)


def test_conv_by_hand_at_a_corner():
    """y[0, 0] sees the padded zeros above and left of it: only kernel[1:, 1:] meets the image."""
    x = jax.random.normal(key(3), (4, 4, 2))
    kernel = jax.random.normal(key(4), (3, 3, 2, 1))
    y = jax.jit(conv2d_same)(x, kernel, jnp.zeros(1))
    by_hand = jnp.sum(x[:2, :2, :] * kernel[1:, 1:, :, 0])
    np.testing.assert_allclose(y[0, 0, 0], by_hand, rtol=1e-5)


@pytest.mark.parametrize(("channels", "dueling"), [((16,), None), ((8, 4), "mean")])
def test_one_image_in_num_actions_out_and_vmapped(channels, dueling):
    net = ConvQNetwork(SHAPE, 3, channels, 3, (32,), "relu", True, dueling, key=key(0))
    assert eqx.filter_eval_shape(net, jnp.ones(SHAPE)).shape == (3,)
    assert _q_values(net, jnp.ones((5, *SHAPE))).shape == (5, 3)
    assert [k.shape for k in net.kernels] == [
        (3, 3, c_in, c_out) for c_in, c_out in zip((4, *channels), channels, strict=False)
    ]
    assert net.head.layers[0].weight.shape == (32, 10 * 10 * channels[-1])
    with pytest.raises(AssertionError):
        eqx.filter_eval_shape(net, jnp.ones(400))  # a flat observation is not an image


def test_every_leaf_is_an_array_so_vmap_can_return_networks():
    nets = eqx.filter_jit(
        jax.vmap(lambda k: ConvQNetwork(SHAPE, 4, (6,), 3, (8,), "swish", True, "max", key=k))
    )(jax.random.split(key(0), 3))
    assert all(eqx.is_array(x) for x in jax.tree.leaves(nets))
    first = jax.tree.map(lambda x: x[0], nets)
    assert eqx.filter_eval_shape(first, jnp.ones(SHAPE)).shape == (4,)
    assert not np.allclose(nets.kernels[0][0], nets.kernels[0][1])  # each its own key


def _by_hand(net, obs):
    """Value and advantages of a dueling conv net, from its layers (conv by lax.conv)."""
    x = obs
    for kernel, bias in zip(net.kernels, net.biases, strict=True):
        x = jax.lax.conv_general_dilated(
            x[None], kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )[0]
        x = jax.nn.relu(x + bias)
    x = x.reshape(-1)
    head = net.head
    for layer in head.layers[:-1]:
        x = jax.nn.relu(layer(x))
    return head.value_head(x)[0], head.layers[-1](x)


@pytest.mark.parametrize("dueling", ["mean", "max"])
def test_dueling_q_is_value_plus_advantage_minus_baseline(dueling):
    net = ConvQNetwork(SHAPE, 5, (8,), 3, (16,), dueling=dueling, key=key(1))
    obs = jax.random.bernoulli(key(2), 0.3, (16, *SHAPE)).astype(jnp.float32)
    q = _q_values(net, obs)
    value, adv = eqx.filter_jit(jax.vmap(_by_hand, in_axes=(None, 0)))(net, obs)
    baseline = adv.mean(axis=1) if dueling == "mean" else adv.max(axis=1)
    np.testing.assert_allclose(q, value[:, None] + adv - baseline[:, None], rtol=1e-4, atol=1e-5)
    assert np.ptp(np.asarray(value)) > 0  # the value stream depends on the image


@pytest.mark.parametrize("dueling", [None, "mean"])
def test_gradient_reaches_every_conv_and_dense_leaf(dueling):
    net = ConvQNetwork(SHAPE, 3, (8, 8), 3, (16,), "relu", True, dueling, key=key(5))
    obs = jax.random.bernoulli(key(6), 0.3, (32, *SHAPE)).astype(jnp.float32)
    weights = jax.random.normal(key(7), (32, 3))  # a sum of Q would cancel dueling's advantages

    def loss(net):
        return jnp.sum(weights * jax.vmap(net)(obs))

    grads = eqx.filter_jit(eqx.filter_grad(loss))(net)
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_array))
    assert len(leaves) == len(jax.tree.leaves(eqx.filter(net, eqx.is_array)))
    for path, g in leaves:
        assert np.abs(np.asarray(g)).max() > 0, jax.tree_util.keystr(path)


def test_bad_sizes_raise_naming_the_argument():
    with pytest.raises(ValueError, match="obs_shape"):
        ConvQNetwork((400,), 3, key=key(0))
    with pytest.raises(ValueError, match="channels"):
        ConvQNetwork(SHAPE, 3, (), key=key(0))
    with pytest.raises(ValueError, match="kernel_size"):
        ConvQNetwork(SHAPE, 3, (16,), 0, key=key(0))


def test_auto_picks_conv_for_images_only_and_conv_needs_an_image():
    # kinds as read from a file or the command line: equal strings, not the same objects
    auto, mlp, conv = ("".join(list(k)) for k in ("auto", "mlp", "conv"))
    assert network_kind(auto, (10, 10, 4)) == "conv"
    assert network_kind(auto, (4,)) == "mlp"
    assert network_kind(auto, (2, 10, 10, 4)) == "mlp"  # an image is (H, W, C), nothing else
    assert network_kind(mlp, (10, 10, 4)) == "mlp"
    assert network_kind(mlp, (4,)) == "mlp"
    assert network_kind(conv, (10, 10, 4)) == "conv"
    for shape in [(4,), (10, 10), (2, 10, 10, 4)]:
        with pytest.raises(ValueError, match=rf"network='conv'.*{re.escape(str(shape))}"):
            network_kind(conv, shape)
    with pytest.raises(ValueError, match="network='cnn' must be one of"):
        network_kind("cnn", (10, 10, 4))
