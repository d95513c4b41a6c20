"""Q-networks: shapes, vmap-safety, LayerNorm and the dueling aggregation."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

import dqn_jax
from dqn_jax import QNetwork


@pytest.mark.parametrize("dueling", [None, "mean", "max"])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_one_observation_in_num_actions_out(dueling, layer_norm):
    net = QNetwork(4, 3, (8, 8), "relu", layer_norm, dueling, key=key(0))
    assert net(jnp.ones(4)).shape == (3,)
    assert jax.vmap(net)(jnp.ones((5, 4))).shape == (5, 3)


def test_every_leaf_is_an_array_so_vmap_can_return_networks():
    nets = jax.vmap(lambda k: QNetwork(4, 2, (8,), "swish", True, "mean", key=k))(
        jax.random.split(key(0), 3)
    )
    assert all(eqx.is_array(x) for x in jax.tree.leaves(nets))
    first = jax.tree.map(lambda x: x[0], nets)
    assert first(jnp.ones(4)).shape == (2,)


def _heads(net, obs):
    """Value and advantages of a dueling net, computed by hand from its layers."""
    x = obs
    for layer in net.layers[:-1]:
        x = jax.nn.relu(layer(x))
    return net.value_head(x)[0], net.layers[-1](x)


@pytest.mark.parametrize("dueling", ["mean", "max"])
def test_dueling_q_is_value_plus_normalised_advantage(dueling):
    dueling = "".join(list(dueling))  # as read from a file: an equal string, not the same object
    net = QNetwork(4, 5, (16,), "relu", dueling=dueling, key=key(1))
    obs = jax.random.normal(key(2), (32, 4))
    q = jax.vmap(net)(obs)
    value, adv = jax.vmap(lambda o: _heads(net, o))(obs)
    baseline = adv.mean(axis=1) if dueling == "mean" else adv.max(axis=1)
    normalised = adv - baseline[:, None]
    np.testing.assert_allclose(q, value[:, None] + normalised, rtol=1e-5, atol=1e-5)
    # The normalised advantage is zero per state under its own baseline.
    reduce = np.mean if dueling == "mean" else np.max
    np.testing.assert_allclose(reduce(np.asarray(normalised), axis=1), 0.0, atol=1e-5)
    # ...so the value stream is recovered from Q by the same baseline.
    np.testing.assert_allclose(reduce(np.asarray(q), axis=1), value, rtol=1e-5, atol=1e-5)


def test_dueling_adds_a_value_head_of_one_output():
    def count(net):
        return sum(x.size for x in jax.tree.leaves(eqx.filter(net, eqx.is_array)))

    plain = QNetwork(4, 3, (16, 8), key=key(0))
    for dueling in ("mean", "max"):
        net = QNetwork(4, 3, (16, 8), dueling=dueling, key=key(0))
        assert count(net) - count(plain) == 8 + 1  # from the last hidden layer: weights, bias


def test_layer_norm_normalises_hidden_pre_activations():
    net = QNetwork(4, 2, (16,), "relu", layer_norm=True, key=key(3))
    h = net.norms[0](net.layers[0](jnp.arange(4.0) * 100.0))
    np.testing.assert_allclose([h.mean(), h.std()], [0.0, 1.0], atol=1e-3)


def test_unknown_dueling_and_activation_raise():
    with pytest.raises(ValueError, match="dueling='avg' must be one of"):
        QNetwork(4, 2, dueling="avg", key=key(0))
    with pytest.raises(ValueError, match="activation='sigmoidal' must be one of"):
        QNetwork(4, 2, activation="sigmoidal", key=key(0))


def test_default_widths_are_the_configs():
    """``QNetwork(obs_dim, num_actions)`` alone is the default config's 64-64 MLP."""
    net = QNetwork(4, 2, key=key(0))
    widths = tuple(layer.weight.shape[0] for layer in net.layers[:-1])
    assert widths == dqn_jax.DQNConfig().hidden_sizes == (64, 64)
    assert net.layers[-1].weight.shape == (2, 64)
