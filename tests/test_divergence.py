"""Divergence is never silent: detected inside the jitted run, reported by ``dqn_jax.check`` with
the seed and env step, and turned into a one-line error with a non-zero exit by the CLI.

One compiled program serves every test: two agents vmapped side by side, a healthy one and one
with an absurd learning rate, on prioritized replay (so the priorities are checked too).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_bitwise

import dqn_jax
from dqn_jax import DivergenceError, DQNConfig, HParams, SweepResult, check, cli, make_train
from dqn_jax.storage.checkpoint import Checkpoint

KWARGS = dict(
    total_timesteps=1000,
    num_envs=4,
    buffer_size=500,
    batch_size=32,
    learning_starts=300,
    train_frequency=4,
    gradient_steps=1,
    log_interval=200,
    eval_episodes=0,
    hidden_sizes=(8,),
    n_step=1,
    prioritized="proportional",
)
LEARNING_RATES = (1e-3, 1e30)  # the second blows the parameters up within two updates


def index(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


@pytest.fixture(scope="module")
def config() -> DQNConfig:
    return DQNConfig(**KWARGS)


@pytest.fixture(scope="module")
def hparams(config) -> HParams:
    one = [HParams.from_config(config, learning_rate=lr) for lr in LEARNING_RATES]
    return jax.tree.map(lambda *x: jnp.stack(x), *one)


def keys() -> jax.Array:
    return jax.random.split(jax.random.key(0), len(LEARNING_RATES))


@pytest.fixture(scope="module")
def program(config):
    return jax.jit(jax.vmap(make_train(config)))


@pytest.fixture(scope="module")
def result(program, hparams) -> dqn_jax.TrainResult:
    return jax.block_until_ready(program(keys(), hparams))


@pytest.fixture(scope="module")
def step(result) -> int:
    return int(result.state.diverged_at[1])


# --- inside the run -------------------------------------------------------------------------------


def test_healthy_agent_never_diverges(result):
    np.testing.assert_array_equal(result.metrics.diverged_at[0], -1)
    assert int(result.state.diverged_at[0]) == -1
    assert np.all(np.isfinite(np.asarray(result.metrics.loss[0, 1:])))  # learning from 300


def test_absurd_learning_rate_is_detected_at_its_env_step(config, result, step):
    first_update = (config.first_learning_round + 1) * config.train_frequency
    assert first_update <= step <= config.total_timesteps and step % config.num_envs == 0
    # reported from the logging point after the divergence on, -1 before it
    points = np.asarray(result.metrics.env_steps[1])
    np.testing.assert_array_equal(result.metrics.diverged_at[1], np.where(points >= step, step, -1))
    # the diverging interval's loss is non-finite, the later ones have no updates (NaN)
    after = points >= step
    assert not np.any(np.isfinite(np.asarray(result.metrics.loss[1])[after]))
    # updates stopped: only the ones before the divergence were applied
    accepted = (step - first_update) // config.train_frequency * config.gradient_steps
    assert int(result.state.updates[1]) == accepted < int(result.state.updates[0])


def test_diverged_agent_keeps_finite_parameters_and_priorities(result):
    state = index(result.state, 1)
    for leaf in jax.tree.leaves(eqx.filter(state.params, eqx.is_inexact_array)):
        assert np.all(np.isfinite(np.asarray(leaf)))
    nodes = np.asarray(state.priorities.tree.nodes)
    assert np.all(np.isfinite(nodes)) and nodes[1] > 0
    assert np.isfinite(float(state.priorities.max_priority))


def test_non_finite_parameters_are_caught_at_a_logging_point_without_any_update(config):
    """NaN parameters injected before learning starts (no gradient step, no loss to see them)."""
    train = make_train(config)
    hparams = HParams.from_config(config)
    state = train.init(jax.random.key(3), hparams)
    online = jax.tree.map(lambda x: x.at[0].set(jnp.nan), state.params.online)
    state = state._replace(params=state.params._replace(online=online))
    state, metrics = jax.jit(train.step)(state, hparams, 0)
    assert int(state.updates) == 0 < config.learning_starts - config.log_interval
    assert int(metrics.diverged_at) == int(state.diverged_at) == config.log_interval
    with pytest.raises(DivergenceError, match=f"at env step {config.log_interval}"):
        check(state)
    # the parameters stay NaN (no update is accepted), and the first step found is kept
    state, metrics = jax.jit(train.step)(state, hparams, 1)
    assert int(metrics.diverged_at) == int(state.diverged_at) == config.log_interval


def test_all_finite_skips_integer_leaves():
    tree = {"w": jnp.ones(3), "count": jnp.int32(7), "none": None}
    assert bool(dqn_jax.loop.finite.all_finite(tree))
    assert not bool(dqn_jax.loop.finite.all_finite({**tree, "b": jnp.array([1.0, jnp.inf])}))
    assert bool(dqn_jax.loop.finite.all_finite({}))


def test_same_key_twice_is_bit_identical(program, hparams, result):
    """Prioritized replay's scatters and the divergence gate included: the same bits again."""
    again = program(keys(), hparams)
    assert_bitwise(again, result)


# --- dqn_jax.check --------------------------------------------------------------------------------


def test_check_passes_a_healthy_run_and_returns_it(result):
    healthy = index(result, 0)
    assert check(healthy) is healthy
    check(healthy.metrics)
    check(healthy.state)


def test_check_names_the_seed_and_env_step_of_a_vmapped_run(result, step):
    with pytest.raises(DivergenceError) as error:
        check(result)
    message = str(error.value)
    assert f"1 of 2 agents: seed 1 at env step {step:,}" in message
    assert "seed 0" not in message and "\n" not in message
    assert error.value.diverged == [("seed 1", step)]
    assert isinstance(error.value, ValueError)


def test_check_names_the_env_step_of_a_single_run(result, step):
    with pytest.raises(DivergenceError, match=f"diverged .* at env step {step:,}"):
        check(index(result, 1))


def test_check_reads_metrics_alone_and_names_given_seeds(result, step):
    with pytest.raises(DivergenceError, match=f"seed 8 at env step {step:,}"):
        check(result.metrics, seeds=[7, 8])
    with pytest.raises(ValueError, match="seeds has 2 entries, the result has 1 agent"):
        check(index(result, 0), seeds=[1, 2])  # checked on a healthy result too


def test_check_names_the_combination_of_a_sweep(result, hparams, step):
    swept = SweepResult(
        result=jax.tree.map(lambda x: x[:, None], result),
        hparams=hparams,
        grid=tuple((("learning_rate", lr),) for lr in LEARNING_RATES),
    )
    with pytest.raises(DivergenceError, match=r"combo 1 \(learning_rate=1e\+30\) seed 0 at env "):
        check(swept)


def test_check_catches_non_finite_parameters_the_run_did_not_flag(result):
    """argmax of NaN Q-values is action 0: a NaN network still acts, so parameters are checked."""
    healthy = index(result.state, 0)
    online = jax.tree.map(lambda x: x * jnp.nan, healthy.params.online)
    broken = healthy._replace(params=healthy.params._replace(online=online))
    net = jax.tree.map(lambda x: x * jnp.nan, index(result.q_network, 0))
    observations = jax.random.normal(jax.random.key(1), (16, 4))
    keys = jax.random.split(jax.random.key(2), 16)
    actions = jax.jit(jax.vmap(dqn_jax.act, in_axes=(None, 0, 0)))(net, observations, keys)
    np.testing.assert_array_equal(actions, 0)  # the silent failure: a valid-looking policy
    with pytest.raises(DivergenceError, match=r"diverged .* with non-finite parameters"):
        check(broken)


def test_check_refuses_other_objects():
    with pytest.raises(ValueError, match="check\\(\\) takes a TrainResult"):
        check({"loss": 1.0})


# --- the command line -----------------------------------------------------------------------------


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]


def test_cli_eval_of_a_diverged_run_exits_non_zero(tmp_path, capsys, config, result, hparams, step):
    dqn_jax.save(tmp_path / "run", result, config, hparams, seed=0)
    code, _, err = run_main(capsys, "eval", str(tmp_path / "run"), "--episodes", "2")
    assert_one_line_error(code, err, "diverged", f"seed 1 at env step {step:,}")


def test_cli_train_of_a_diverged_run_exits_non_zero(
    tmp_path, capsys, monkeypatch, config, result, hparams, step
):
    """The train path, with training itself replaced by the diverged result (no compile)."""
    done = Checkpoint(config, result.state, hparams, result.metrics, config.num_logs)
    monkeypatch.setattr(dqn_jax.storage.runs, "train_intervals", lambda *args, **kwargs: done)
    argv = ["train", "--total-timesteps", "1000", "--log-interval", "500", "--seeds", "2"]
    argv += ["--num-envs", "4", "--train-frequency", "4"]
    code, out, err = run_main(capsys, *argv, "--quiet", "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "1 of 2 agents", f"seed 1 at env step {step:,}")
    assert "env steps" in out and "evaluation" not in out  # the table, then no evaluation


# --- the sweep ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swept_error(config) -> DivergenceError:
    with pytest.raises(DivergenceError) as error:
        dqn_jax.sweep(config, 1, {"learning_rate": list(LEARNING_RATES)}, key=jax.random.key(0))
    return error.value


def test_sweep_raises_naming_the_combination_and_keeps_the_result(swept_error):
    message = str(swept_error)
    assert "1 of 2 agents: combo 1 (learning_rate=1e+30) seed 0 at env step" in message
    assert "combo 0" not in message and "\n" not in message
    swept = swept_error.result
    assert isinstance(swept, SweepResult) and swept.result.state is None  # networks and metrics
    diverged_at = np.asarray(swept.result.metrics.diverged_at)[:, 0, -1]
    assert diverged_at[0] == -1 and diverged_at[1] > 0
    assert swept_error.diverged == [("combo 1 (learning_rate=1e+30) seed 0", int(diverged_at[1]))]


def test_sweep_without_check_returns_and_check_reads_its_networks(config, swept_error):
    swept = dqn_jax.sweep(
        config,
        1,
        {"learning_rate": list(LEARNING_RATES)},
        key=jax.random.key(0),
        check=False,
        progress=None,  # off, as for make_train
    )
    np.testing.assert_array_equal(
        swept.result.metrics.diverged_at, swept_error.result.result.metrics.diverged_at
    )
    # No state here: a NaN final network is still caught, from the networks themselves.
    healthy = jax.tree.map(lambda x: x[:1], swept)
    check(healthy)
    broken_net = jax.tree.map(lambda x: x * jnp.nan, healthy.result.q_network)
    broken = eqx.tree_at(lambda s: s.result.q_network, healthy, broken_net)
    with pytest.raises(DivergenceError, match=r"diverged .* with non-finite parameters"):
        check(broken)


def test_cli_sweep_of_a_diverged_run_saves_it_and_exits_non_zero(tmp_path, capsys):
    argv = ["sweep", "--grid", "learning_rate=0.001,1e30", "--seeds", "1", "--quiet"]
    argv += ["--episodes", "0", "--out", str(tmp_path / "run")]
    for name, value in KWARGS.items():
        flag = "--" + name.replace("_", "-")
        argv += [flag, ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    code, out, err = run_main(capsys, *argv)
    assert_one_line_error(code, err, "1 of 2 agents", "learning_rate=1e+30", "seed 0 at env step")
    assert "Saved" in out and (tmp_path / "run" / "checkpoint.eqx").exists()
    # eval of the saved sweep names the grid point too
    code, _, err = run_main(capsys, "eval", str(tmp_path / "run"), "--episodes", "2")
    assert_one_line_error(code, err, "1 of 2 agents: learning_rate=1e+30 seed 0 at env step")
