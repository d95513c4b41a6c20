"""DQNConfig validation (one test per rule) and the traced HParams."""

from __future__ import annotations

import dataclasses
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dqn_jax
from dqn_jax import DQNConfig, HParams, make_env
from dqn_jax.config import HPARAM_RANGES, PRESETS
from dqn_jax.tuned import MINATAR, TUNED

# for the rules whose messages quote num_envs or train_frequency: pinned, not the defaults
FOUR_ENVS = dict(num_envs=4, train_frequency=4)


def raises_naming(name, value, *rest):
    """``pytest.raises`` whose message must show ``name=`` then ``value`` (digits; a numpy wrapper
    such as ``array(...)`` around it is tolerated here, see test_range_error_shows_plain_value)
    followed by the ``rest`` fragments, in order. An integral float matches ``2``, ``2.`` or
    ``2.0``."""
    if isinstance(value, str):
        shown = re.escape(value)
    else:
        # the whole number: no digit, dot or sign glued on either side
        digits = f"{int(value)}" if isinstance(value, float) and value.is_integer() else f"{value}"
        integral = r"(\.0*)?" if isinstance(value, float) and value.is_integer() else ""
        shown = rf"(?<![0-9.+-]){re.escape(digits)}{integral}(?![0-9.])"
    pattern = rf"{re.escape(name)}=\S*?{shown}" + "".join(f".*{re.escape(r)}" for r in rest)
    return pytest.raises(ValueError, match=pattern)


# --- defaults and normalisation ------------------------------------------------------------------


def test_default_config_is_valid_and_hashable():
    config = DQNConfig()
    assert hash(config) == hash(DQNConfig())
    assert config == DQNConfig()
    assert {config: 1}[DQNConfig()] == 1
    assert config.num_logs == config.total_timesteps // config.log_interval


def test_configs_with_different_fields_are_not_equal():
    assert DQNConfig() != DQNConfig(gamma=0.9)


def test_dict_env_kwargs_normalised_to_sorted_tuple():
    config = DQNConfig(env_name="Catch-bsuite", env_kwargs={"rows": 6, "columns": 4})
    assert config.env_kwargs == (("columns", 4), ("rows", 6))
    hash(config)
    assert make_env(config.env_name, config.env_kwargs).obs_dim == 24


def test_env_kwargs_rejected_by_env_raise_value_error():
    with pytest.raises(ValueError, match=r"env_kwargs=.*rejected by CartPole-v1"):
        DQNConfig(env_kwargs={"no_such_kwarg": 1})


def test_list_hidden_sizes_normalised_to_tuple():
    config = DQNConfig(hidden_sizes=[32, 16])
    assert config.hidden_sizes == (32, 16)
    assert isinstance(config.hidden_sizes, tuple)
    hash(config)


def test_replace_validates_again():
    config = DQNConfig().replace(gamma=0.5)
    assert config.gamma == 0.5
    with raises_naming("batch_size", 0):
        DQNConfig().replace(batch_size=0)


def test_replace_unknown_field_raises():
    with pytest.raises(ValueError, match=r"unknown DQNConfig field\(s\): \['gama'\]"):
        DQNConfig().replace(gama=0.5)


# --- one test per validation rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("total_timesteps", 0), ("num_envs", 0), ("buffer_size", -1), ("batch_size", 0)],
)
def test_non_positive_sizes_raise(name, value):
    with raises_naming(name, value, "[1, inf)"):
        DQNConfig(**{name: value})


def test_float_for_int_field_raises():
    with raises_naming("batch_size", "32.0", "must be an integer"):
        DQNConfig(batch_size=32.0)


def test_batch_size_above_buffer_size_raises():
    with raises_naming("batch_size", 64, "buffer_size=32"):
        DQNConfig(batch_size=64, buffer_size=32)


def test_learning_starts_below_batch_size_raises():
    with raises_naming("learning_starts", 10, "batch_size=64"):
        DQNConfig(learning_starts=10, batch_size=64)


def test_learning_starts_above_total_timesteps_raises():
    with raises_naming("learning_starts", 6000, "total_timesteps=5000"):
        DQNConfig(total_timesteps=5000, log_interval=5000, learning_starts=6000)


@pytest.mark.parametrize(
    ("num_envs", "train_frequency", "nearest"), [(3, 4, "3 or 6"), (4, 2, "4)")]
)
def test_train_frequency_not_multiple_of_num_envs_raises(num_envs, train_frequency, nearest):
    with raises_naming(
        "train_frequency", train_frequency, f"num_envs={num_envs}", f"nearest valid: {nearest}"
    ):
        DQNConfig(num_envs=num_envs, train_frequency=train_frequency)


def test_log_interval_not_multiple_of_train_frequency_raises():
    with raises_naming("log_interval", 5001, "train_frequency=4"):
        DQNConfig(num_envs=4, train_frequency=4, log_interval=5001)


def test_total_timesteps_not_multiple_of_log_interval_raises():
    with raises_naming("total_timesteps", 50001, "log_interval=5000"):
        DQNConfig(total_timesteps=50001)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("gamma", 1.5, "[0, 1]"),
        ("gamma", -0.1, "[0, 1]"),
        ("epsilon_start", 1.2, "[0, 1]"),
        ("epsilon_end", -0.5, "[0, 1]"),
        ("tau", 0.0, "(0, 1]"),
        ("tau", 1.5, "(0, 1]"),
        ("learning_rate", 0.0, "(0, inf)"),
        ("huber_delta", -1.0, "(0, inf)"),
        ("max_grad_norm", 0.0, "(0, inf]"),
        ("per_alpha", 1.5, "[0, 1]"),
        ("per_beta", -0.1, "[0, 1]"),
        ("per_eps", 0.0, "(0, inf)"),
        ("temperature_start", 0.0, "(0, inf)"),
        ("temperature_end", -1.0, "(0, inf)"),
    ],
)
def test_out_of_range_float_raises(name, value, allowed):
    with raises_naming(name, value, "outside the allowed range", allowed):
        DQNConfig(**{name: value})


def test_nan_hyperparameter_raises():
    with pytest.raises(ValueError, match=r"gamma=nan is outside the allowed range \[0, 1\]"):
        DQNConfig(gamma=float("nan"))


def test_infinite_max_grad_norm_is_allowed():
    assert DQNConfig(max_grad_norm=float("inf")).max_grad_norm == float("inf")


# The offending value is shown as a plain number, never as the repr of a numpy object
# ("gamma=array(1.5)" or "gamma=np.float64(1.5)").
@pytest.mark.parametrize(
    ("make", "name", "value"),
    [
        (lambda: DQNConfig(gamma=1.5), "gamma", 1.5),
        (lambda: DQNConfig(tau=0.0), "tau", 0.0),
        (lambda: HParams.from_config(DQNConfig(), gamma=jnp.array([0.9, 1.5])), "gamma", 1.5),
    ],
    ids=["config-scalar", "config-zero", "hparams-sweep"],
)
def test_range_error_shows_plain_value(make, name, value):
    """The message should read ``gamma=1.5``, not ``gamma=array(1.5)`` (numpy repr leak)."""
    with pytest.raises(ValueError) as info:
        make()
    match = re.match(rf"^{name}=(\S+) is outside the allowed range", str(info.value))
    assert match is not None, str(info.value)
    shown = match.group(1)
    assert re.fullmatch(r"-?[0-9.]+(e[-+]?[0-9]+)?", shown), f"value shown as {shown!r}"
    assert float(shown) == value


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("prioritized", "sum", "'proportional', 'rank'"),
        ("exploration", "softmax", "'epsilon_greedy', 'boltzmann'"),
        ("dueling", "min", "None, 'mean', 'max'"),
        ("layer_norm", "yes", "True or False"),
    ],
)
def test_unknown_switch_value_lists_the_allowed_ones(name, value, allowed):
    with raises_naming(name, repr(value), allowed):
        DQNConfig(**{name: value})


def test_rank_resort_interval_not_multiple_of_train_frequency_raises():
    with raises_naming("rank_resort_interval", "1001", "train_frequency=4"):
        DQNConfig(prioritized="rank", rank_resort_interval=1001, **FOUR_ENVS)


def test_temperature_decay_steps_must_be_an_integer():
    with raises_naming("temperature_decay_steps", "1.5", "integer"):
        DQNConfig(temperature_decay_steps=1.5)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_set_every_switch_of_the_family(name):
    config = DQNConfig.preset(name)
    switches = (config.double, config.dueling, config.prioritized, config.n_step)
    assert switches == (
        "double" in name or name == "rainbow_lite",
        "mean" if "dueling" in name or name == "rainbow_lite" else None,
        "proportional" if "per" in name or name == "rainbow_lite" else None,
        3 if name in ("n_step", "rainbow_lite") else 1,
    )


def test_rainbow_lite_combines_double_dueling_per_and_n_step():
    config = DQNConfig.preset("rainbow_lite", total_timesteps=10_000)
    assert (config.double, config.dueling, config.prioritized, config.n_step) == (
        True,
        "mean",
        "proportional",
        3,
    )
    assert config.total_timesteps == 10_000


def test_unknown_preset_lists_the_known_ones():
    with raises_naming("preset", "'rainbow'", "'rainbow_lite'"):
        DQNConfig.preset("rainbow")


def test_unknown_loss_raises():
    with raises_naming("loss", "'l1'", "('mse', 'huber')"):
        DQNConfig(loss="l1")


def test_unknown_activation_raises():
    with raises_naming("activation", "'sigmoid'", "relu"):
        DQNConfig(activation="sigmoid")


@pytest.mark.parametrize("hidden_sizes", [(0,), (16, -1), (16, 8.0), (True,), 64, "64"])
def test_bad_hidden_sizes_raise(hidden_sizes):
    with raises_naming("hidden_sizes", repr(hidden_sizes), "integers >= 1"):
        DQNConfig(hidden_sizes=hidden_sizes)


@pytest.mark.parametrize("name", ["double", "lr_decay"])
def test_non_bool_switch_raises(name):
    with raises_naming(name, "1", "True or False"):
        DQNConfig(**{name: 1})


def test_unknown_env_raises_listing_supported():
    with raises_naming("env_name", "'NoSuchEnv-v0'", "unknown", "CartPole-v1"):
        DQNConfig(env_name="NoSuchEnv-v0")


def test_continuous_action_env_raises_mentioning_discrete():
    with raises_naming("env_name", "'Pendulum-v1'", "discrete", "CartPole-v1"):
        DQNConfig(env_name="Pendulum-v1")


def test_download_env_raises_mentioning_download():
    with raises_naming("env_name", "'MNISTBandit-bsuite'", "download"):
        DQNConfig(env_name="MNISTBandit-bsuite")


@pytest.mark.parametrize("channels", [(), (0,), (16, -1), (8.0,), (True,), 16, "16"])
def test_bad_conv_channels_raise(channels):
    with raises_naming("conv_channels", repr(channels), "non-empty tuple of integers >= 1"):
        DQNConfig(conv_channels=channels)


def test_list_conv_channels_normalised_to_tuple():
    assert DQNConfig(conv_channels=[32, 16]).conv_channels == (32, 16)


@pytest.mark.parametrize("value", [1.0, 1, -0.1, 2.5, float("nan")])
def test_sticky_action_prob_outside_zero_to_one_raises(value):
    with pytest.raises(
        ValueError, match=r"^sticky_action_prob=.* outside the allowed range \[0, 1\)"
    ):
        DQNConfig(sticky_action_prob=value)


@pytest.mark.parametrize("value", ["0.1", True, None])
def test_non_number_sticky_action_prob_raises(value):
    with raises_naming("sticky_action_prob", repr(value), "must be a number in [0, 1)"):
        DQNConfig(sticky_action_prob=value)


def test_unknown_network_raises():
    with raises_naming("network", "'cnn'", "('auto', 'mlp', 'conv')"):
        DQNConfig(network="cnn")


def test_conv_network_on_flat_observations_raises_naming_network_before_compiling():
    # built before listening: building an environment runs gymnax code, some of it jitted
    cartpole, _ = make_env("CartPole-v1"), make_env("Breakout-MinAtar")
    events = []

    def record(event, *args, **kwargs):
        events.append(event)

    jax.monitoring.register_event_duration_secs_listener(record)
    try:
        with raises_naming("network", "'conv'", "(4,)", "'mlp' or 'auto'"):
            DQNConfig(network="conv")  # CartPole-v1
        config = DQNConfig(env_name="Breakout-MinAtar", network="conv")
        with raises_naming("network", "'conv'", "(4,)"):
            dqn_jax.make_train(config, cartpole.env, cartpole.env_params)
    finally:
        jax.monitoring.unregister_event_duration_listener(record)
    assert not [e for e in events if "compile" in e], events
    assert DQNConfig(env_name="Breakout-MinAtar", network="mlp").network == "mlp"


# --- settings tuned per environment ---------------------------------------------------------------


def test_for_cartpole_is_exactly_the_defaults():
    assert DQNConfig.for_env("CartPole-v1") == DQNConfig()


@pytest.mark.parametrize("game", ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"])
def test_for_a_minatar_game_is_its_tuned_conv_setting(game):
    config = DQNConfig.for_env(f"{game}-MinAtar")
    # The per-game choices of BENCHMARKS.md, "MinAtar".
    n_step = {"Breakout": 3}.get(game, 1)
    epsilon_end = {"Asterix": 0.01, "Freeway": 0.01}.get(game, 0.1)
    loss = {"Asterix": "mse", "Breakout": "mse"}.get(game, "huber")
    expected = {**MINATAR, "n_step": n_step, "epsilon_end": epsilon_end, "loss": loss}
    assert config == DQNConfig(env_name=f"{game}-MinAtar", **expected)
    assert (config.network, config.conv_channels, config.hidden_sizes) == ("conv", (16,), (128,))
    assert (config.buffer_size, config.batch_size, config.loss) == (100_000, 32, loss)
    assert (config.epsilon_end, config.epsilon_decay_steps) == (epsilon_end, 100_000)


def test_for_env_applies_overrides_last_and_validates_them():
    config = DQNConfig.for_env("Asterix-MinAtar", batch_size=64, sticky_action_prob=0.1)
    # The game's own values are pinned above; here only that overrides come last.
    expected = {**TUNED["Asterix-MinAtar"], "batch_size": 64, "sticky_action_prob": 0.1}
    assert config == DQNConfig(env_name="Asterix-MinAtar", **expected)
    with raises_naming("conv_kernel", 0, "[1, inf)"):
        DQNConfig.for_env("Breakout-MinAtar", conv_kernel=0)


def test_an_env_without_tuned_settings_gets_the_defaults():
    assert "Acrobot-v1" not in TUNED
    assert DQNConfig.for_env("Acrobot-v1") == DQNConfig(env_name="Acrobot-v1")
    with raises_naming("env_name", "'Nope-v0'", "unknown gymnax environment"):
        DQNConfig.for_env("Nope-v0")


# --- HParams --------------------------------------------------------------------------------------


def test_hparams_from_config_defaults_equal_config_values():
    config = DQNConfig(gamma=0.9, tau=0.3, learning_rate=3e-4, target_update_period=250)
    hp = HParams.from_config(config)
    for name in HPARAM_RANGES:
        leaf = getattr(hp, name)
        assert leaf.shape == ()
        expected_dtype = jnp.int32 if name == "target_update_period" else jnp.float32
        assert leaf.dtype == expected_dtype, name
        np.testing.assert_allclose(leaf, getattr(config, name), rtol=1e-6, err_msg=name)


def test_hparams_overrides_apply_and_leave_the_rest():
    config = DQNConfig()
    hp = HParams.from_config(config, gamma=0.5, epsilon_end=0.2)
    np.testing.assert_allclose(hp.gamma, 0.5)
    np.testing.assert_allclose(hp.epsilon_end, 0.2)
    np.testing.assert_allclose(hp.learning_rate, config.learning_rate, rtol=1e-6)
    np.testing.assert_allclose(hp.tau, config.tau)


def test_hparams_unknown_override_lists_allowed_names():
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['gama'\].*learning_rate"):
        HParams.from_config(DQNConfig(), gama=0.5)


@pytest.mark.parametrize(("name", "value"), [("gamma", 2.0), ("learning_rate", -1)])
def test_hparams_out_of_range_raises(name, value):
    with raises_naming(name, float(value), "outside the allowed range"):
        HParams.from_config(DQNConfig(), **{name: value})


def test_hparams_sweep_with_one_bad_element_raises():
    with raises_naming("gamma", "1.5", "outside the allowed range"):
        HParams.from_config(DQNConfig(), gamma=jnp.array([0.9, 0.99, 1.5]))


def test_hparams_valid_sweep_has_leading_axis():
    hp = HParams.from_config(DQNConfig(), learning_rate=jnp.array([1e-3, 3e-3]))
    assert hp.learning_rate.shape == (2,)


def test_hparams_non_integer_target_update_period_raises():
    with raises_naming("target_update_period", "1.5", "must be an integer"):
        HParams.from_config(DQNConfig(), target_update_period=1.5)


def test_hparams_missing_field_raises():
    values = {name: 1.0 for name in HPARAM_RANGES if name != "gamma"}
    with pytest.raises(ValueError, match=r"missing hyper-parameter\(s\) \['gamma'\]"):
        HParams(**values)


def test_hparams_built_from_traced_values_inside_jit_and_vmap():
    config = DQNConfig()
    hp = jax.jit(lambda g: HParams.from_config(config, gamma=g))(jnp.float32(0.5))
    np.testing.assert_allclose(hp.gamma, 0.5)
    hp = jax.vmap(lambda g: HParams.from_config(config, gamma=g))(jnp.array([0.5, 0.6]))
    np.testing.assert_allclose(hp.gamma, [0.5, 0.6], rtol=1e-6)
    assert hp.target_update_period.dtype == jnp.int32


# --- rules without a test above -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("train_frequency", 0, "[1, inf)"),
        ("gradient_steps", 0, "[1, inf)"),
        ("log_interval", 0, "[1, inf)"),
        ("learning_starts", -1, "[0, inf)"),
        ("target_update_period", 0, "[1, 2147483647]"),
        ("epsilon_decay_steps", -1, "[0, inf)"),
        ("temperature_decay_steps", -1, "[0, inf)"),
        ("eval_episodes", -1, "[0, inf)"),
        ("n_step", 0, "[1, inf)"),
        ("rank_resort_interval", 0, "[1, inf)"),
    ],
)
def test_integer_below_its_minimum_raises(name, value, allowed):
    with raises_naming(name, value, "outside the allowed range", allowed):
        DQNConfig(**{name: value})


@pytest.mark.parametrize(
    "name", ["n_step", "eval_episodes", "gradient_steps", "epsilon_decay_steps"]
)
def test_float_for_other_int_fields_raises(name):
    with raises_naming(name, "2.5", "must be an integer"):
        DQNConfig(**{name: 2.5})


def test_target_update_period_beyond_int32_names_the_range():
    with raises_naming("target_update_period", 2**31, "[1, 2147483647]"):
        DQNConfig(target_update_period=2**31)


def test_total_timesteps_beyond_int32_raises():
    with raises_naming("total_timesteps", 2**31, "[1, 2147483643]", "int32"):
        DQNConfig(total_timesteps=2**31, log_interval=2**20, **FOUR_ENVS)


def test_num_envs_above_buffer_size_raises():
    sizes = dict(train_frequency=64, log_interval=640, total_timesteps=6400, n_step=1)
    with raises_naming("num_envs", 64, "buffer_size=32"):
        DQNConfig(num_envs=64, buffer_size=32, batch_size=32, learning_starts=32, **sizes)


def test_n_step_buffer_not_multiple_of_num_envs_raises():
    with raises_naming("buffer_size", 1001, "num_envs=4", "n_step=3"):
        DQNConfig(n_step=3, buffer_size=1001, **FOUR_ENVS)


@pytest.mark.parametrize("n_step", [33, 40])
def test_n_step_buffer_size_below_n_steps_of_every_env_raises(n_step):
    # the buffer must hold n_step steps of each of the 4 envs: at most 128 // 4 = 32 steps
    with raises_naming("n_step", n_step, "[1, 32]", "n_step steps of every env"):
        DQNConfig(n_step=n_step, buffer_size=128, batch_size=32, learning_starts=1000, **FOUR_ENVS)


def test_n_step_filling_the_buffer_is_allowed():
    # the largest n_step the message allows: a sequence spans (32 - 1) * 4 + 1 = 125 <= 128 slots
    config = DQNConfig(n_step=32, buffer_size=128, batch_size=32, learning_starts=1000, **FOUR_ENVS)
    assert config.n_step == 32


def test_n_step_raises_the_least_learning_starts():
    with raises_naming("learning_starts", 130, "batch_size=128 + (n_step - 1) * num_envs = 136"):
        DQNConfig(n_step=3, learning_starts=130, **FOUR_ENVS)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [("per_alpha", -0.1, "[0, 1]"), ("per_beta", 1.5, "[0, 1]"), ("per_eps", -1e-6, "(0, inf)")],
)
def test_prioritized_replay_exponents_outside_range_raise(name, value, allowed):
    with raises_naming(name, value, "outside the allowed range", allowed):
        DQNConfig(prioritized="proportional", **{name: value})


@pytest.mark.parametrize("value", ["0.99", True, None])
def test_non_number_hyperparameter_raises(value):
    with raises_naming("gamma", repr(value), "must be a number in [0, 1]"):
        DQNConfig(gamma=value)


def test_env_name_must_be_a_string():
    with raises_naming("env_name", "3", "must be a string"):
        DQNConfig(env_name=3)


@pytest.mark.parametrize("env_kwargs", [("rows", 6), 5])
def test_env_kwargs_not_a_dict_raises(env_kwargs):
    with raises_naming("env_kwargs", repr(env_kwargs), "must be a dict"):
        DQNConfig(env_kwargs=env_kwargs)


def test_env_kwargs_unhashable_value_raises():
    with raises_naming("env_kwargs", "('rows', [6])", "hashable values"):
        DQNConfig(env_kwargs={"rows": [6]})


def test_preset_requirement_violated_names_the_preset_and_the_rule():
    # rainbow_lite sets n_step=3, which needs a buffer holding whole steps of every env
    with raises_naming("preset", "'rainbow_lite'", "n_step=3", "buffer_size=1001", "num_envs=4"):
        DQNConfig.preset("rainbow_lite", buffer_size=1001, **FOUR_ENVS)


def test_preset_override_out_of_range_names_the_field():
    with raises_naming("preset", "'per'", "per_alpha=2", "[0, 1]"):
        DQNConfig.preset("per", per_alpha=2.0)


# --- HParams: every traced field is range-checked on concrete values ------------------------------

OUT_OF_RANGE = {
    "learning_rate": -1e-3,
    "gamma": 1.01,
    "tau": 0.0,
    "target_update_period": 0,
    "epsilon_start": 2.0,
    "epsilon_end": -0.01,
    "epsilon_decay_steps": -1,
    "max_grad_norm": -1.0,
    "huber_delta": 0.0,
    "per_alpha": 1.5,
    "per_beta": -0.5,
    "per_eps": 0.0,
    "temperature_start": 0.0,
    "temperature_end": -1.0,
    "temperature_decay_steps": -10,
}


def test_every_hparam_has_an_out_of_range_case():
    assert set(OUT_OF_RANGE) == set(HPARAM_RANGES)


@pytest.mark.parametrize("name", list(OUT_OF_RANGE))
def test_hparams_every_field_out_of_range_raises(name):
    value = OUT_OF_RANGE[name]
    with raises_naming(name, value, "outside the allowed range", str(HPARAM_RANGES[name])):
        HParams.from_config(DQNConfig(), **{name: value})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_hparams_non_finite_value_raises(value):
    with pytest.raises(ValueError, match=rf"gamma={value}.*outside the allowed range \[0, 1\]"):
        HParams.from_config(DQNConfig(), gamma=value)


@pytest.mark.parametrize("value", ["fast", "0.001", True, None, [1e-3, "x"]])
def test_hparams_non_number_raises(value):
    with raises_naming("learning_rate", repr(value), "must be a number in (0, inf)"):
        HParams.from_config(DQNConfig(), learning_rate=value)


def test_hparams_target_update_period_beyond_int32_raises():
    with raises_naming("target_update_period", 2**31, "[1, 2147483647]"):
        HParams.from_config(DQNConfig(), target_update_period=2**31)


def test_hparams_direct_unknown_name_lists_allowed_names():
    values = {name: 1.0 for name in HPARAM_RANGES}
    with pytest.raises(ValueError, match=r"unknown hyper-parameter\(s\) \['gama'\].*'gamma'"):
        HParams(**values, gama=0.5)


def test_hparams_sweep_with_one_non_integer_target_update_period_raises():
    with raises_naming("target_update_period", 2.5, "must be an integer in [1, 2147483647]"):
        HParams.from_config(DQNConfig(), target_update_period=np.array([100.0, 2.5]))


# --- every field, every kind of bad value ---------------------------------------------------------

INTEGER_FIELDS = {
    "total_timesteps": ">= 1",
    "num_envs": ">= 1",
    "buffer_size": ">= 1",
    "batch_size": ">= 1",
    "learning_starts": ">= 0",
    "train_frequency": ">= 1",
    "gradient_steps": ">= 1",
    "target_update_period": "in [1, 2147483647]",
    "n_step": ">= 1",
    "rank_resort_interval": ">= 1",
    "epsilon_decay_steps": ">= 0",
    "temperature_decay_steps": ">= 0",
    "log_interval": ">= 1",
    "eval_episodes": ">= 0",
    "conv_kernel": ">= 1",
}


def test_integer_fields_are_every_int_field():
    ints = {f.name for f in dataclasses.fields(DQNConfig) if f.type == "int"}
    assert set(INTEGER_FIELDS) == ints


@pytest.mark.parametrize("value", [2.5, True, "8"], ids=["float", "bool", "str"])
@pytest.mark.parametrize("name", list(INTEGER_FIELDS))
def test_non_integer_for_every_int_field_raises(name, value):
    with raises_naming(name, repr(value), f"must be an integer {INTEGER_FIELDS[name]}"):
        DQNConfig(**{name: value})


@pytest.mark.parametrize("name", [n for n in HPARAM_RANGES if n not in INTEGER_FIELDS])
def test_non_number_for_every_float_hyperparameter_raises(name):
    with raises_naming(name, "'1'", f"must be a number in {HPARAM_RANGES[name]}"):
        DQNConfig(**{name: "1"})


@pytest.mark.parametrize("name", list(OUT_OF_RANGE))
def test_config_every_hyperparameter_out_of_range_raises(name):
    value = OUT_OF_RANGE[name]
    with raises_naming(name, value, "outside the allowed range", str(HPARAM_RANGES[name])):
        DQNConfig(**{name: value})


def test_numpy_scalars_become_python_numbers():
    config = DQNConfig(
        batch_size=np.int64(64), target_update_period=np.int32(100), gamma=np.float32(0.5)
    )
    assert config == DQNConfig(batch_size=64, target_update_period=100, gamma=0.5)
    assert hash(config) == hash(DQNConfig(batch_size=64, target_update_period=100, gamma=0.5))
    assert (type(config.batch_size), type(config.target_update_period)) == (int, int)
    assert type(config.gamma) is float
    json.dumps(dataclasses.asdict(config))  # a saved run writes the fields as JSON


@pytest.mark.parametrize(
    ("env_kwargs", "shown"), [({1: 2}, "((1, 2),)"), ({1: 2, "rows": 6}, "((1, 2), ('rows', 6))")]
)
def test_env_kwargs_non_string_key_raises(env_kwargs, shown):
    with raises_naming("env_kwargs", shown, "must be a dict", "string keys"):
        DQNConfig(env_kwargs=env_kwargs)


def test_learning_starts_equal_to_total_timesteps_leaves_one_round_of_updates():
    # the learning-rate decay divides by num_updates, so the boundary must leave at least one
    config = DQNConfig(total_timesteps=5000, log_interval=5000, learning_starts=5000)
    assert config.num_updates == config.gradient_steps


def test_gradient_steps_overflowing_the_int32_update_counter_raises():
    # 2**30 / 4 rounds, the first 249 before learning_starts=1000: at most 8 steps a round
    sizes = dict(total_timesteps=2**30, log_interval=2**20, **FOUR_ENVS)
    assert DQNConfig(gradient_steps=8, **sizes).num_updates <= 2**31 - 1
    with raises_naming("gradient_steps", 9, "[1, 8]", "268435207 rounds", "int32"):
        DQNConfig(gradient_steps=9, **sizes)


@pytest.mark.parametrize("name", [None, ["dqn"], 3])
def test_non_string_preset_lists_the_known_ones(name):
    with raises_naming("preset", repr(name), "must be one of", "'rainbow_lite'"):
        DQNConfig.preset(name)


# --- every rule raises before anything is compiled ------------------------------------------------

# One bad value per rule, the field its message starts with. The environment is built last (and
# building it runs gymnax code), so these rules must not reach it.
BEFORE_ANY_COMPILATION = [
    pytest.param(lambda c: DQNConfig(env_name=3), "env_name", id="env_name-type"),
    pytest.param(lambda c: DQNConfig(env_kwargs=5), "env_kwargs", id="env_kwargs-type"),
    pytest.param(lambda c: DQNConfig(env_kwargs={"a": [1]}), "env_kwargs", id="env_kwargs-hash"),
    pytest.param(lambda c: DQNConfig(batch_size=2.0), "batch_size", id="int-type"),
    pytest.param(lambda c: DQNConfig(batch_size=0), "batch_size", id="int-min"),
    pytest.param(
        lambda c: DQNConfig(target_update_period=2**31), "target_update_period", id="int-max"
    ),
    pytest.param(
        lambda c: DQNConfig(total_timesteps=2**31, log_interval=2**20),
        "total_timesteps",
        id="int32-steps",
    ),
    pytest.param(lambda c: DQNConfig(num_envs=3), "train_frequency", id="train_frequency"),
    pytest.param(lambda c: DQNConfig(log_interval=5001), "log_interval", id="log_interval"),
    pytest.param(
        lambda c: DQNConfig(prioritized="rank", rank_resort_interval=1001),
        "rank_resort_interval",
        id="rank_resort_interval",
    ),
    pytest.param(lambda c: DQNConfig(total_timesteps=50001), "total_timesteps", id="log-multiple"),
    pytest.param(
        lambda c: DQNConfig(batch_size=64, buffer_size=32), "batch_size", id="batch-buffer"
    ),
    pytest.param(
        lambda c: DQNConfig(
            num_envs=64,
            buffer_size=32,
            batch_size=32,
            learning_starts=32,
            n_step=1,
            train_frequency=64,
            log_interval=640,
            total_timesteps=6400,
        ),
        "num_envs",
        id="envs-buffer",
    ),
    pytest.param(lambda c: DQNConfig(buffer_size=1001), "buffer_size", id="n_step-buffer-order"),
    pytest.param(
        lambda c: DQNConfig(n_step=40, buffer_size=128, batch_size=32),
        "n_step",
        id="n_step-buffer-size",
    ),
    pytest.param(lambda c: DQNConfig(learning_starts=130), "learning_starts", id="starts-min"),
    pytest.param(
        lambda c: DQNConfig(total_timesteps=5000, log_interval=5000, learning_starts=6000),
        "learning_starts",
        id="starts-max",
    ),
    pytest.param(
        lambda c: DQNConfig(
            total_timesteps=2**30, log_interval=2**20, gradient_steps=9, **FOUR_ENVS
        ),
        "gradient_steps",
        id="update-counter",
    ),
    pytest.param(lambda c: DQNConfig(gamma="0.9"), "gamma", id="hparam-type"),
    pytest.param(lambda c: DQNConfig(gamma=1.5), "gamma", id="hparam-range"),
    pytest.param(lambda c: DQNConfig(loss="l1"), "loss", id="loss"),
    pytest.param(lambda c: DQNConfig(lr_decay=1), "lr_decay", id="switch"),
    pytest.param(lambda c: DQNConfig(hidden_sizes=(0,)), "hidden_sizes", id="hidden_sizes"),
    pytest.param(lambda c: DQNConfig(prioritized="sum"), "prioritized", id="prioritized"),
    pytest.param(lambda c: DQNConfig(exploration="softmax"), "exploration", id="exploration"),
    pytest.param(lambda c: DQNConfig(dueling="min"), "dueling", id="dueling"),
    pytest.param(lambda c: DQNConfig(activation="sigmoid"), "activation", id="activation"),
    pytest.param(lambda c: DQNConfig(network="cnn"), "network", id="network"),
    pytest.param(lambda c: DQNConfig(conv_channels=()), "conv_channels", id="conv_channels"),
    pytest.param(lambda c: DQNConfig(conv_kernel=0), "conv_kernel", id="conv_kernel"),
    pytest.param(lambda c: DQNConfig(sticky_action_prob=1.0), "sticky_action_prob", id="sticky"),
    pytest.param(lambda c: DQNConfig.preset("rainbow"), "preset", id="preset-unknown"),
    pytest.param(lambda c: DQNConfig.preset("per", per_alpha=2.0), "preset", id="preset-rule"),
    pytest.param(lambda c: c.replace(gama=0.5), "unknown DQNConfig", id="replace-unknown"),
    pytest.param(lambda c: HParams.from_config(c, gama=0.5), "unknown", id="hparams-unknown"),
    pytest.param(lambda c: HParams(gamma=0.9), "missing", id="hparams-missing"),
    pytest.param(lambda c: HParams.from_config(c, per_eps=0.0), "per_eps", id="hparams-last-range"),
    pytest.param(
        lambda c: HParams.from_config(c, target_update_period=2.5),
        "target_update_period",
        id="hparams-integer",
    ),
    pytest.param(
        lambda c: HParams.from_config(c, learning_rate="fast"), "learning_rate", id="hparams-type"
    ),
]


@pytest.mark.parametrize(("make", "first"), BEFORE_ANY_COMPILATION)
def test_rule_raises_before_anything_is_compiled(make, first, monkeypatch):
    config = DQNConfig()

    def no_env(*args, **kwargs):
        raise AssertionError("the environment was built before the rule raised")

    monkeypatch.setattr("dqn_jax.config.make_env", no_env)
    events = []

    def record(event, *args, **kwargs):
        events.append(event)

    jax.monitoring.register_event_duration_secs_listener(record)
    try:
        with pytest.raises(ValueError) as info:
            make(config)
    finally:
        jax.monitoring.unregister_event_duration_listener(record)
    assert str(info.value).startswith(first), str(info.value)
    assert not [e for e in events if "compile" in e], events
