"""The optimiser: clipping by global norm against optax's ``clip_by_global_norm`` (the oracle),
and ``make_optimizer`` against optax's clip-then-Adam chain, state structure included (so
checkpoints written with optax's clip still load)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import key

from dqn_jax import DQNConfig, HParams, make_optimizer
from dqn_jax.blocks.update import clip_by_global_norm

GRADS = {
    "w": jax.random.normal(key(0), (16, 8)),
    "b": jax.random.normal(key(1), (8,)),
    "k": jax.random.normal(key(2), (3, 3, 4, 2)),
}
NORM = float(optax.tree.norm(GRADS))  # about 15


def clipped(transform, grads):
    return transform.update(grads, transform.init(grads))[0]


@pytest.mark.parametrize("max_norm", [0.5, 3.0, NORM * 0.999, NORM * 1.001, 100.0, math.inf])
def test_clipping_equals_optax_to_rounding(max_norm):
    ours = clipped(clip_by_global_norm(jnp.float32(max_norm)), GRADS)
    oracle = clipped(optax.clip_by_global_norm(max_norm), GRADS)
    for name in GRADS:
        np.testing.assert_allclose(ours[name], oracle[name], rtol=2e-6, atol=0)
    if max_norm >= NORM:  # untouched, bit for bit
        assert all(np.array_equal(ours[n], GRADS[n]) for n in GRADS)
    else:  # scaled to norm max_norm, direction kept
        assert float(optax.tree.norm(ours)) == pytest.approx(max_norm, rel=1e-6)
        np.testing.assert_allclose(ours["w"], GRADS["w"] * (max_norm / NORM), rtol=1e-5)


def test_a_non_finite_gradient_stays_non_finite_as_in_optax():
    bad = {**GRADS, "b": GRADS["b"].at[3].set(jnp.nan)}
    for transform in (clip_by_global_norm(10.0), optax.clip_by_global_norm(10.0)):
        assert not np.isfinite(np.asarray(clipped(transform, bad)["w"])).any()


def test_make_optimizer_is_optax_clip_then_adam_with_the_same_state():
    config = DQNConfig(lr_decay=False)
    hp = HParams.from_config(config, max_grad_norm=2.0, learning_rate=1e-2)
    ours = make_optimizer(config, hp)
    oracle = optax.chain(optax.clip_by_global_norm(2.0), optax.adam(1e-2))
    params = jax.tree.map(jnp.zeros_like, GRADS)
    state, oracle_state = ours.init(params), oracle.init(params)
    assert jax.tree.structure(state) == jax.tree.structure(oracle_state)
    for factor in (1.0, 2.0, 3.0):  # norms 15, 30, 45: all clipped
        grads = {name: g * factor for name, g in GRADS.items()}
        updates, state = ours.update(grads, state, params)
        expected, oracle_state = oracle.update(grads, oracle_state, params)
        for name in GRADS:
            np.testing.assert_allclose(updates[name], expected[name], rtol=1e-5, atol=1e-9)
