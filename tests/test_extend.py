"""Extending a run: the learning-rate decay and PER's beta re-targeted to the new end from the
values they had reached (continuous to the last bit, 0 and 1 at the new end), a plan never
extended computing exactly the one-segment formulas, and the errors for stepping past the
planned end or loading a checkpoint under another length. Nothing here trains or compiles a run;
``test_cli.py`` extends a real one and checks it against the extended plan trained in one go.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import TINY_KWARGS

import dqn_jax
from dqn_jax import Checkpoint, DQNConfig, HParams, load_checkpoint, save_checkpoint
from dqn_jax.blocks.exploration import linear_schedule
from dqn_jax.blocks.schedules import learning_rate_scale, per_beta, segments
from dqn_jax.storage.config_file import config_from_dict, config_to_dict, parse_field

# 2000 env steps; learning starts in round 149, so 351 gradient steps; logging every 500.
OLD = DQNConfig(**TINY_KWARGS, prioritized="proportional")
AT = 1000  # the logging point the run is extended at
NEW = OLD.extend(AT, 4000)
TWICE = NEW.extend(3000, 5000)
scale = jax.jit(learning_rate_scale, static_argnums=0)
beta = jax.jit(per_beta, static_argnums=0)


def test_extending_records_the_plan():
    assert NEW.total_timesteps == 4000 and NEW.extensions == ((1000, 2000),)
    assert segments(NEW) == [(0, 2000), (1000, 4000)]
    assert segments(TWICE) == [(0, 2000), (1000, 4000), (3000, 5000)]
    assert NEW.extend(AT, 6000).extensions == NEW.extensions  # again before training on: one
    assert OLD.extend(0, 4000) == OLD.replace(total_timesteps=4000)  # nothing trained: replanned
    assert config_from_dict(config_to_dict(TWICE)) == TWICE  # config.json round trip
    assert parse_field("extensions", "1000:2000,3000:4000") == ((1000, 2000), (3000, 4000))


def test_a_plan_never_extended_computes_the_one_segment_formulas():
    # Both compiled (XLA may divide by multiplying with a reciprocal; eager ops do not).
    count = jnp.arange(0, OLD.num_updates + 20, dtype=jnp.int32)
    before = jax.jit(jax.vmap(lambda c: jnp.maximum(0.0, 1.0 - c / OLD.num_updates)))
    assert np.array_equal(jax.jit(jax.vmap(lambda c: scale(OLD, c)))(count), before(count))
    steps = jnp.arange(0, 2001, 4, dtype=jnp.int32)
    before = jax.jit(jax.vmap(lambda t: linear_schedule(0.4, 1.0, OLD.total_timesteps, t)))
    assert np.array_equal(jax.jit(jax.vmap(lambda t: beta(OLD, 0.4, t)))(steps), before(steps))


def test_the_learning_rate_is_continuous_at_the_extension_and_0_at_the_new_end():
    done, end = OLD.updates_by(AT), NEW.num_updates
    assert (done, end) == (101, 851)  # rounds 149..249 by env step 1000; to round 999 by 4000
    at = float(scale(OLD, jnp.int32(done)))
    assert 0.7 < at < 0.72  # 1 - 101 / 351: the old plan's value there
    assert float(scale(NEW, jnp.int32(done))) == at  # the same bits
    count = jnp.arange(done)  # before the extension the new plan is the old one
    assert np.array_equal(
        jax.vmap(lambda c: scale(NEW, c))(count), jax.vmap(lambda c: scale(OLD, c))(count)
    )
    np.testing.assert_allclose(scale(NEW, jnp.int32((done + end) // 2)), at / 2, rtol=1e-6)
    assert float(scale(NEW, jnp.int32(end))) == 0.0 == float(scale(NEW, jnp.int32(end + 5)))
    # A second extension, from the first one's value at its env step.
    again = TWICE.extensions[-1][0]
    assert float(scale(TWICE, jnp.int32(NEW.updates_by(again)))) == float(
        scale(NEW, jnp.int32(NEW.updates_by(again)))
    )
    assert float(scale(TWICE, jnp.int32(TWICE.num_updates))) == 0.0


def test_adam_applies_the_old_plans_rate_at_the_extension():
    """The rate the optimiser really applies, recovered from one Adam update: the update of the
    extended plan at the extension's step count is that of Adam with the old plan's rate."""
    hparams = HParams.from_config(NEW, learning_rate=3e-3)
    params = {"w": jnp.linspace(-1.0, 1.0, 7)}
    grads = {"w": jnp.linspace(0.5, -2.0, 7)}

    def update(optimizer, count):
        state = optax.tree_utils.tree_set(optimizer.init(params), count=jnp.int32(count))
        return optimizer.update(grads, state, params)[0]["w"]

    def adam(learning_rate):
        clip = optax.clip_by_global_norm(hparams.max_grad_norm)
        return optax.chain(clip, optax.adam(learning_rate))

    done = OLD.updates_by(AT)
    rate = hparams.learning_rate * learning_rate_scale(OLD, jnp.int32(done))
    extended = dqn_jax.make_optimizer(NEW, hparams)
    assert np.array_equal(update(extended, done), update(adam(rate), done))
    assert np.array_equal(update(extended, NEW.num_updates), update(adam(0.0), NEW.num_updates))
    assert not np.array_equal(update(extended, done), update(adam(hparams.learning_rate), done))


def test_beta_is_continuous_at_the_extension_and_1_at_the_new_end():
    at = float(beta(OLD, 0.4, jnp.int32(AT)))
    np.testing.assert_allclose(at, 0.4 + 0.6 * AT / 2000, rtol=1e-6)
    assert float(beta(NEW, 0.4, jnp.int32(AT))) == at
    steps = jnp.arange(0, AT, 4)
    old = jax.vmap(lambda t: beta(OLD, 0.4, t))(steps)
    assert np.array_equal(jax.vmap(lambda t: beta(NEW, 0.4, t))(steps), old)
    np.testing.assert_allclose(beta(NEW, 0.4, jnp.int32(2500)), at + (1 - at) / 2, rtol=1e-6)
    assert float(beta(NEW, 0.4, jnp.int32(4000))) == 1.0
    assert float(beta(TWICE, 0.4, jnp.int32(3000))) == float(beta(NEW, 0.4, jnp.int32(3000)))
    assert float(beta(TWICE, 0.4, jnp.int32(5000))) == 1.0


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [4, 5, -1, np.int32(4), jnp.int32(4)])
def test_stepping_past_the_planned_end_points_to_extending(interval):
    train = dqn_jax.make_train(OLD)
    hparams = HParams.from_config(OLD)
    state = jax.eval_shape(train.init, jax.random.key(0), hparams)  # never reached
    with pytest.raises(ValueError, match=r"interval=-?\d is outside .*\[0, 3\].*extend") as error:
        train.step(state, hparams, interval)
    assert "total_timesteps=2000" in str(error.value)


@pytest.mark.parametrize("interval", [0, 3, np.int32(0)])
def test_the_first_and_last_planned_intervals_are_accepted(interval):
    train = dqn_jax.make_train(OLD)
    hparams = HParams.from_config(OLD)
    state = jax.eval_shape(train.init, jax.random.key(0), hparams)
    # traced with the interval a concrete number, as a Python loop over intervals passes it
    out_state, metrics = jax.eval_shape(lambda s, h: train.step(s, h, interval), state, hparams)
    assert out_state.env_steps.shape == () and metrics.loss.shape == ()


def test_loading_a_checkpoint_under_another_length_points_to_extending(tmp_path):
    train = dqn_jax.make_train(OLD)
    hparams = HParams.from_config(OLD)
    state = train.init(jax.random.key(0), hparams)  # eagerly: no compile
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, Checkpoint(OLD, state, hparams, None, 0))
    for config in (OLD.replace(total_timesteps=4000), NEW):
        with pytest.raises(ValueError, match=r"total_timesteps=2000, not 4000.*extend") as error:
            load_checkpoint(path, config)
        assert str(path) in str(error.value)
    with pytest.raises(ValueError, match=r"different config:.*gamma"):  # other fields as before
        load_checkpoint(path, OLD.replace(total_timesteps=4000, gamma=0.9))
    extended = dqn_jax.storage.runs.extend(load_checkpoint(path, OLD), 4000)
    assert extended.config == OLD.replace(total_timesteps=4000)  # at env step 0: replanned


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: OLD.extend(AT, 2000), "beyond the run's planned end, 2000"),
        (lambda: OLD.extend(2000, 4000), r"planned end \(2000 env steps\) with lr_decay"),
        (lambda: OLD.extend(700, 4000), "multiple of log_interval=500"),
        (lambda: OLD.replace(extensions=((1000, 3000),)), "next planned end, 2000, must be beyond"),
        (lambda: OLD.replace(extensions=((2500, 2000),)), r"must be in \(0, 2000\]"),
        (lambda: OLD.replace(extensions=((1000,),)), r"\(env_step, planned_end\) integer pairs"),
    ],
)
def test_bad_extensions_are_refused(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_a_finished_run_without_lr_decay_extends():
    config = OLD.replace(lr_decay=False)
    assert config.extend(2000, 3000).extensions == ((2000, 2000),)
    assert float(beta(config.extend(2000, 3000), 0.4, jnp.int32(2500))) == 1.0  # stays at 1
