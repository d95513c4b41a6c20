"""The whole jitted run: shapes, no retrace on new hyper-parameters, vmap over seeds and sweeps,
determinism, time-limit bootstrapping in the stored transitions, target timing, evaluation,
metrics and other environments.

Compiles cost seconds on this machine, so every compiled function is a module-scoped fixture.
"""

from __future__ import annotations

import equinox as eqx
import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SMALL_KWARGS, key

from dqn_jax import DQNConfig, HParams, TrainResult, evaluate, make_env, make_train

# HParams B differs from the config's defaults (A) in every traced hyper-parameter of the core.
HP_B_OVERRIDES = dict(
    learning_rate=3e-3,
    gamma=0.9,
    tau=0.5,
    target_update_period=300,
    epsilon_start=0.8,
    epsilon_end=0.1,
    epsilon_decay_steps=1500,
)

# vmapped and unbatched programs may round batched matmuls differently, so bit-identity is not
# promised; after this tiny run the observed gap is ~3e-7, the tolerance below is 1e-4.
VMAP_ATOL = 1e-4
VMAP_RTOL = 1e-4


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def index(tree, i):
    return jax.tree.map(lambda x: x[i], eqx.filter(tree, eqx.is_array))


def trees_equal(a, b) -> bool:
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) > 0
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(la, lb, strict=True))


def assert_trees_bitwise(a, b):
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(x, y)


def assert_trees_close(a, b, atol=VMAP_ATOL, rtol=VMAP_RTOL):
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(x, y, atol=atol, rtol=rtol)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config(tiny_config) -> DQNConfig:
    return tiny_config


@pytest.fixture(scope="module")
def train(config):
    return make_train(config)


@pytest.fixture(scope="module")
def hp_a(config):
    return HParams.from_config(config)


@pytest.fixture(scope="module")
def hp_b(config):
    return HParams.from_config(config, **HP_B_OVERRIDES)


class Counted:
    """``jax.jit`` of a function that calls ``train``; ``traces`` counts Python executions, which
    happen only while jax traces."""

    def __init__(self, train):
        self.traces = 0

        def counted(k, hp):
            self.traces += 1
            return train(k, hp)

        self.fn = jax.jit(counted)

    def __call__(self, k, hp) -> TrainResult:
        return jax.block_until_ready(self.fn(k, hp))


@pytest.fixture(scope="module")
def run(train) -> Counted:
    """The one compiled single-run train, shared by every test that needs a CartPole run."""
    return Counted(train)


@pytest.fixture(scope="module")
def result_a(run, hp_a) -> TrainResult:
    return run(key(0), hp_a)


@pytest.fixture(scope="module")
def init(train):
    return jax.jit(train.init)


SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def vmapped_seeds(train, hp_a) -> TrainResult:
    keys = jnp.stack([key(s) for s in SEEDS])
    return jax.block_until_ready(jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, hp_a))


SWEEP_LRS = (1e-3, 3e-3)


@pytest.fixture(scope="module")
def vmapped_hparams(train, config):
    hps = [HParams.from_config(config, learning_rate=lr) for lr in SWEEP_LRS]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *hps)
    result = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key(0), stacked)
    return hps, jax.block_until_ready(result)


# --- the run's outputs ----------------------------------------------------------------------------


def test_train_returns_result_with_stacked_metrics(config, result_a):
    assert isinstance(result_a, TrainResult)
    assert config.num_logs == 4
    for name, leaf in result_a.metrics._asdict().items():
        assert leaf.shape == (config.num_logs,), name


def test_q_network_maps_one_observation_to_action_values(result_a):
    obs = result_a.state.obs[0]
    assert obs.shape == (4,)
    q = result_a.q_network(obs)
    assert q.shape == (2,)
    assert np.all(np.isfinite(q))
    # it is the final online network
    assert_trees_bitwise(result_a.q_network, result_a.state.params.online)


def test_new_hparams_do_not_retrace_and_change_the_result(run, hp_a, hp_b):
    r_a = run(key(0), hp_a)
    r_b = run(key(1), hp_b)
    r_b0 = run(key(0), hp_b)
    assert run.traces == 1
    assert not trees_equal(r_a.state.params.online, r_b.state.params.online)
    # same key, only the hparams differ: still a different run
    assert not trees_equal(r_a.state.params.online, r_b0.state.params.online)
    assert not np.allclose(r_a.metrics.epsilon, r_b0.metrics.epsilon)


def test_same_key_twice_is_bit_identical(run, hp_a, result_a):
    again = run(key(0), hp_a)
    assert_trees_bitwise(again.state.params, result_a.state.params)
    assert_trees_bitwise(again.metrics, result_a.metrics)
    assert_trees_bitwise(again.state.replay, result_a.state.replay)


def test_interval_by_interval_matches_the_whole_scan(config, hp_a, result_a):
    """``dqn-jax train`` (``runs.train_intervals``) calls ``train.step`` jitted once per logging
    interval; ``train`` scans it inside one program. Same key, same arithmetic: the same bits."""
    from dqn_jax.storage.runs import train_intervals

    checkpoint = train_intervals(config, (key(0), hp_a))
    assert checkpoint.interval == config.num_logs
    assert_trees_bitwise(checkpoint.state.params, result_a.state.params)
    assert_trees_bitwise(checkpoint.metrics, result_a.metrics)
    assert_trees_bitwise(checkpoint.state.replay, result_a.state.replay)


def test_vmapped_seeds_give_different_networks(vmapped_seeds):
    online = vmapped_seeds.state.params.online
    assert leaves(online)[0].shape[0] == len(SEEDS)
    for i in range(len(SEEDS)):
        for j in range(i + 1, len(SEEDS)):
            assert not trees_equal(index(online, i), index(online, j)), (i, j)


@pytest.mark.parametrize("i", range(len(SEEDS)))
def test_vmapped_seed_matches_the_same_seed_run_alone(vmapped_seeds, run, hp_a, i):
    alone = run(key(SEEDS[i]), hp_a)
    assert_trees_close(index(vmapped_seeds.state.params, i), alone.state.params)
    assert_trees_close(index(vmapped_seeds.metrics, i), alone.metrics)


def test_vmapped_hparams_match_each_run_alone(vmapped_hparams, run):
    hps, result = vmapped_hparams
    assert result.metrics.loss.shape == (len(SWEEP_LRS), 4)
    for i, hp in enumerate(hps):
        alone = run(key(0), hp)
        assert_trees_close(index(result.state.params, i), alone.state.params)
        assert_trees_close(index(result.metrics, i), alone.metrics)
    assert not trees_equal(index(result.state.params, 0), index(result.state.params, 1))


# --- initialisation and target timing ------------------------------------------------------------


def test_seed_drives_network_init(init, hp_a):
    s0, s1, s0_again = init(key(0), hp_a), init(key(1), hp_a), init(key(0), hp_a)
    assert not trees_equal(s0.params.online, s1.params.online)
    assert_trees_bitwise(s0.params.online, s0_again.params.online)
    # the target starts as a copy of the online network
    assert_trees_bitwise(s0.params.target, s0.params.online)


def test_target_period_equal_to_run_copies_final_online(run, config, init, hp_a):
    hp = HParams.from_config(config, tau=1.0, target_update_period=config.total_timesteps)
    result = run(key(0), hp)
    # learning happened...
    assert not trees_equal(result.state.params.online, init(key(0), hp).params.online)
    # ...and the only crossing (the run's last round) hard-copies the final online network
    assert_trees_bitwise(result.state.params.target, result.state.params.online)


def test_target_without_crossing_stays_initial(run, init, config):
    hp = HParams.from_config(config, tau=1.0, target_update_period=10**6)
    result = run(key(0), hp)
    initial = init(key(0), hp).params.target
    assert not trees_equal(result.state.params.online, initial)
    assert_trees_bitwise(result.state.params.target, initial)


# --- metrics --------------------------------------------------------------------------------------


def test_metrics_env_steps_are_log_interval_multiples(config, result_a):
    expected = config.log_interval * np.arange(1, config.num_logs + 1)
    np.testing.assert_array_equal(result_a.metrics.env_steps, expected)
    np.testing.assert_array_equal(result_a.state.env_steps, config.total_timesteps)


def test_metrics_loss_nan_before_learning_and_finite_after(config, result_a):
    m = result_a.metrics
    assert config.learning_starts > config.log_interval  # the first interval has no update
    for name in ("loss", "q_mean", "grad_norm"):
        values = np.asarray(getattr(m, name))
        assert np.isnan(values[0]), name
        assert np.all(np.isfinite(values[1:])), name
    assert np.all(np.asarray(m.loss[1:]) > 0)
    # one gradient step per round from round 149 (env steps 600) to the end
    assert int(result_a.state.updates) == config.num_updates == 500 - 149


def test_metrics_epsilon_follows_schedule(result_a, run, hp_b):
    # start 1.0, end 0.05 over 1000 steps, read at 500, 1000, 1500, 2000
    np.testing.assert_allclose(result_a.metrics.epsilon, [0.525, 0.05, 0.05, 0.05], rtol=1e-5)
    # B: start 0.8, end 0.1 over 1500 steps (traced, same program)
    np.testing.assert_allclose(
        run(key(0), hp_b).metrics.epsilon, [0.8 - 0.7 / 3, 0.8 - 1.4 / 3, 0.1, 0.1], rtol=1e-5
    )


def test_metrics_temperature_follows_schedule_under_boltzmann():
    """Boltzmann exploration logs its temperature (start 2.0, end 0.5 over 300 env steps, read at
    200 and 400) and no epsilon. The kind is built at run time, so a loop that compared kinds by
    identity would explore epsilon-greedily."""
    config = DQNConfig(
        **{**SMALL_KWARGS, "eval_episodes": 0},
        exploration="".join(["boltz", "mann"]), temperature_start=2.0, temperature_end=0.5,
        temperature_decay_steps=300,
    )  # fmt: skip
    metrics = jax.jit(make_train(config))(key(0)).metrics
    np.testing.assert_allclose(metrics.temperature, [1.0, 0.5], rtol=1e-6)
    assert np.all(np.isnan(metrics.epsilon))


# --- evaluation -----------------------------------------------------------------------------------


def test_evaluate_plays_the_greedy_action_until_each_episode_ends(result_a, config):
    """A network that always prefers action 1: pushing one way from CartPole's reset tips the
    pole over after 8 to 11 steps in every episode. Uniformly random actions (epsilon=1) last
    about 22 steps on average, and often far longer."""
    last = result_a.q_network.layers[-1]
    always_one = eqx.tree_at(
        lambda net: (net.layers[-1].weight, net.layers[-1].bias),
        result_a.q_network,
        (jnp.zeros_like(last.weight), jnp.array([0.0, 1.0])),
    )
    greedy = np.asarray(evaluate(always_one, config, key(5), num_episodes=50))
    assert greedy.shape == (50,)
    assert set(np.unique(greedy)) <= {8.0, 9.0, 10.0, 11.0}, np.unique(greedy)
    random = np.asarray(evaluate(always_one, config, key(5), num_episodes=50, epsilon=1.0))
    np.testing.assert_array_equal(random, np.round(random))  # CartPole: +1 per step
    assert random.mean() > 15 and random.max() > 11, random


def test_evaluate_vmapped_over_a_stack_of_networks(vmapped_seeds, config):
    nets = vmapped_seeds.q_network
    keys = jax.random.split(key(6), len(SEEDS))
    returns = jax.vmap(lambda net, k: evaluate(net, config, k, 5))(nets, keys)
    assert returns.shape == (len(SEEDS), 5)
    assert np.all(np.isfinite(np.asarray(returns)))
    alone = evaluate(eqx.combine(index(nets, 0), nets), config, keys[0], 5)
    np.testing.assert_array_equal(returns[0], alone)


@pytest.mark.parametrize("epsilon", [1.5, -0.1])
def test_evaluate_epsilon_out_of_range_raises(result_a, config, epsilon):
    with pytest.raises(ValueError, match=f"epsilon={epsilon}"):
        evaluate(result_a.q_network, config, key(0), 2, epsilon=epsilon)


@pytest.mark.parametrize("num_episodes", [0, -1, 2.0])
def test_evaluate_bad_num_episodes_raises(result_a, config, num_episodes):
    with pytest.raises(ValueError, match=f"num_episodes={num_episodes}"):
        evaluate(result_a.q_network, config, key(0), num_episodes)


# --- terminal vs truncated transitions in the real loop ------------------------------------------

MAX_STEPS = 20
TRUNC_KWARGS = dict(
    total_timesteps=400,
    num_envs=2,
    buffer_size=400,  # holds the whole run: no slot is overwritten
    batch_size=32,
    learning_starts=400,  # only collect (one update in the very last round)
    train_frequency=2,
    log_interval=400,
    eval_episodes=0,
    hidden_sizes=(8,),
    epsilon_start=1.0,  # uniformly random actions: many episodes end both ways
    epsilon_end=1.0,
    epsilon_decay_steps=0,
)
X_LIMIT, THETA_LIMIT = 2.4, 12 * 2 * np.pi / 360


@pytest.fixture(scope="module")
def truncation_run():
    env, env_params = gymnax.make("CartPole-v1")
    train = make_train(
        DQNConfig(**TRUNC_KWARGS), env=env, env_params=env_params.replace(max_steps_in_episode=20)
    )
    assert train.env_spec.max_steps_in_episode == MAX_STEPS
    result = jax.block_until_ready(jax.jit(train)(key(3)))
    num_envs = TRUNC_KWARGS["num_envs"]
    steps = TRUNC_KWARGS["total_timesteps"] // num_envs
    s = result.state.replay.storage
    assert int(result.state.replay.size) == steps * num_envs

    # storage is interleaved per env step: slot = t * num_envs + env
    def per_env(x):
        return np.asarray(x).reshape(steps, num_envs, *np.shape(x)[1:])

    data = {k: per_env(v) for k, v in s._asdict().items()}
    return result, data, steps, num_envs


def _classify(data, steps, e):
    """Episode ends of env ``e``, found from ``terminated`` and a step counter (not from obs)."""
    ends, length = [], 0
    for t in range(steps):
        length += 1
        assert length <= MAX_STEPS
        if data["terminated"][t, e] == 1.0:
            ends.append((t, "terminated", length))
            length = 0
        elif length == MAX_STEPS:
            ends.append((t, "truncated", length))
            length = 0
    return ends


def _in_bounds(obs) -> bool:
    return abs(obs[0]) <= X_LIMIT and abs(obs[2]) <= THETA_LIMIT


def test_truncation_bootstraps_with_the_true_final_obs(truncation_run):
    _, data, steps, num_envs = truncation_run
    assert set(np.unique(data["terminated"])) <= {0.0, 1.0}
    kinds = {"terminated": 0, "truncated": 0}
    for e in range(num_envs):
        for t, kind, _ in _classify(data, steps, e):
            kinds[kind] += 1
            final = data["next_obs"][t, e]
            if kind == "truncated":
                assert data["terminated"][t, e] == 0.0
                assert _in_bounds(final), (t, e, final)  # a live state, not a failure
            else:
                assert not _in_bounds(final), (t, e, final)  # the pole fell or cart left
            if t + 1 < steps:
                following = data["obs"][t + 1, e]
                # the next stored obs is a reset (|.| <= 0.05), and next_obs is not it
                assert np.all(np.abs(following) <= 0.05), (t, e, following)
                assert not np.array_equal(final, following), (t, e)
    assert kinds["terminated"] > 0 and kinds["truncated"] > 0, kinds


def test_next_obs_is_the_following_obs_within_an_episode(truncation_run):
    _, data, steps, num_envs = truncation_run
    checked = 0
    for e in range(num_envs):
        ends = {t for t, _, _ in _classify(data, steps, e)}
        for t in range(steps - 1):
            if t not in ends:
                np.testing.assert_array_equal(data["next_obs"][t, e], data["obs"][t + 1, e])
                checked += 1
    assert checked > steps  # most transitions are mid-episode


def test_logged_episodes_match_the_stored_episode_ends(truncation_run):
    result, data, steps, num_envs = truncation_run
    ends = [end for e in range(num_envs) for end in _classify(data, steps, e)]
    np.testing.assert_array_equal(result.metrics.episodes, [len(ends)])
    np.testing.assert_array_equal(data["reward"], 1.0)
    mean_length = np.mean([length for _, _, length in ends])  # CartPole return = length
    np.testing.assert_allclose(result.metrics.episode_return, [mean_length], rtol=1e-5)


# --- other discrete environments ------------------------------------------------------------------


@pytest.fixture(scope="module", params=["Acrobot-v1", "FrozenLake-misc", "Catch-bsuite"])
def other_env_run(request):
    config = DQNConfig(env_name=request.param, **SMALL_KWARGS)
    train = make_train(config)
    return config, train.env_spec, jax.block_until_ready(jax.jit(train)(key(0)))


def test_other_env_trains_a_tiny_run(other_env_run):
    config, spec, result = other_env_run
    m = result.metrics
    np.testing.assert_array_equal(m.env_steps, [200, 400])
    assert np.all(np.isfinite(np.asarray(m.loss)))  # learning from step 64, in both intervals
    assert np.all(np.isfinite(np.asarray(m.eval_return)))
    obs = result.state.replay.storage.obs[0]
    assert obs.shape == (spec.obs_dim,)
    q = result.q_network(obs)
    assert q.shape == (spec.num_actions,)
    assert np.all(np.isfinite(np.asarray(q)))
    env, env_params = gymnax.make(config.env_name)
    assert spec.num_actions == env.action_space(env_params).n


def test_other_env_obs_dim_matches_observation_space(other_env_run):
    config, spec, result = other_env_run
    env, env_params = gymnax.make(config.env_name)
    space = env.observation_space(env_params)
    if config.env_name == "FrozenLake-misc":
        # scalar integer state, one-hot encoded into as many entries as there are states
        assert spec.one_hot == spec.obs_dim == int(space.n) == 16
        obs = np.asarray(result.state.replay.storage.obs)
        assert set(np.unique(obs)) <= {0.0, 1.0}
        np.testing.assert_array_equal(obs.sum(axis=1), 1.0)
        assert len(np.unique(obs.argmax(axis=1))) > 1  # the agent moved
    else:
        assert spec.one_hot is None
        assert spec.obs_dim == int(np.prod(space.shape))
    assert make_env(config.env_name).obs_dim == spec.obs_dim


def test_evaluate_with_an_env_instance_compiles_once(result_a, monkeypatch):
    """Specs of the same env instance compare equal, so repeated calls reuse the compiled scan."""
    from dqn_jax.blocks.envs import EnvSpec

    env, params = gymnax.make("CartPole-v1")
    traces = []
    original = EnvSpec.preprocess

    def counting(self, obs):
        traces.append(1)
        return original(self, obs)

    monkeypatch.setattr(EnvSpec, "preprocess", counting)
    config = DQNConfig(hidden_sizes=(16, 16))
    for seed in range(3):
        evaluate(result_a.q_network, config, key(seed), num_episodes=3, env=env, env_params=params)
    first = len(traces)
    assert first > 0
    evaluate(result_a.q_network, config, key(9), num_episodes=3, env=env, env_params=params)
    assert len(traces) == first, "evaluate(..., env=env) traced again"


def test_the_static_part_of_the_network_holds_no_array_shapes():
    """``train.q_static`` is the network with every array taken out, so that
    ``eqx.combine`` rebuilds it from the parameters in either order."""
    config = DQNConfig(**SMALL_KWARGS)
    train = make_train(config)
    assert jax.tree.leaves(train.q_static) == []
    params = eqx.filter(train.init(key(0), HParams.from_config(config)).params.online, eqx.is_array)
    for network in (eqx.combine(params, train.q_static), eqx.combine(train.q_static, params)):
        rebuilt = jax.tree.leaves(network)
        assert all(a is b for a, b in zip(rebuilt, jax.tree.leaves(params), strict=True))
