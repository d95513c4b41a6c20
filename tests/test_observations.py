"""Observations in the replay memory: stored no wider than they come, decoded exactly; sticky
actions reach the environment the loop steps."""

from __future__ import annotations

import math

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key
from gymnax.environments import spaces
from gymnax.wrappers.purerl import GymnaxWrapper

import dqn_jax
from dqn_jax import DQNConfig, HParams, bytes_per_agent, make_env, make_train
from dqn_jax.blocks.envs import spec_from_env
from dqn_jax.blocks.observations import decode, encode

MINATAR = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]


def _random_play(spec, steps: int, num_envs: int = 4):
    """Raw observations of random play: every reset and step, and each step's final one."""

    def step(carry, step_key):
        obs, state = carry
        act_key, env_key = jax.random.split(step_key)
        actions = jax.random.randint(act_key, (num_envs,), 0, spec.num_actions)
        next_obs, state, _, _, _, info = jax.vmap(spec.env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(env_key, num_envs), state, actions, spec.env_params
        )
        return (next_obs, state), (obs, info["final_observation"])

    @jax.jit
    def play(k):
        reset_key, k = jax.random.split(k)
        obs, state = jax.vmap(spec.env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, num_envs), spec.env_params
        )
        _, (seen, final) = jax.lax.scan(step, (obs, state), jax.random.split(k, steps))
        return jnp.concatenate([seen, final]).reshape(-1, *obs.shape[1:])

    return play(key(0))


@pytest.mark.parametrize("game", MINATAR)
def test_minatar_observations_are_bit_packed_and_recovered_exactly(game):
    spec = make_env(f"{game}-MinAtar")
    assert spec.obs_storage == "bits"
    raw = _random_play(spec, steps=50)
    obs = jax.vmap(spec.preprocess)(raw)
    assert obs.shape[1:] == spec.obs_shape and obs.dtype == jnp.float32
    assert set(np.unique(np.asarray(obs))) == {0.0, 1.0}  # the premise of packing
    stored = jax.jit(jax.vmap(spec.encode))(obs)
    decoded = jax.jit(jax.vmap(spec.decode))(stored)
    assert stored.dtype == jnp.uint8 and stored.shape[1:] == (math.ceil(spec.obs_dim / 8),)
    np.testing.assert_array_equal(decoded, obs)


def test_bits_by_value():
    """Element i of the flattened observation is bit 7 - (i % 8) of byte i // 8 (big-endian)."""
    obs = jnp.zeros((2, 3, 2)).at[0, 0, 0].set(1.0).at[1, 2, 1].set(1.0)  # elements 0 and 11
    stored = encode("bits", obs)
    np.testing.assert_array_equal(stored, [0b10000000, 0b00010000])
    np.testing.assert_array_equal(decode("bits", stored, (2, 3, 2)), obs)


class _Frames(GymnaxWrapper):
    """Breakout-MinAtar as uint8 frames of 0 or 255."""

    def observation_space(self, params):
        return spaces.Box(0, 255, self._env.obs_shape, jnp.uint8)

    def reset(self, key, params=None):
        obs, state = self._env.reset(key, params)
        return (obs * 255).astype(jnp.uint8), state

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
        final = (info["final_observation"] * 255).astype(jnp.uint8)
        frames = (obs * 255).astype(jnp.uint8)
        return frames, state, reward, terminated, truncated, {**info, "final_observation": final}


def test_uint8_frames_are_stored_as_uint8():
    env, params = gymnax.make("Breakout-MinAtar")
    spec = spec_from_env(_Frames(env), params)
    assert spec.obs_storage == "uint8"
    obs = jax.vmap(spec.preprocess)(_random_play(spec, steps=20))
    assert set(np.unique(np.asarray(obs))) == {0.0, 255.0}
    stored = jax.vmap(spec.encode)(obs)
    assert stored.dtype == jnp.uint8 and stored.shape == obs.shape
    np.testing.assert_array_equal(jax.vmap(spec.decode)(stored), obs)
    config = DQNConfig.for_env("Breakout-MinAtar", buffer_size=1000)
    train = make_train(config, _Frames(env), params)
    state = jax.eval_shape(train.init, key(0), HParams.from_config(config))
    assert state.replay.storage.obs.dtype == jnp.uint8
    assert state.replay.storage.obs.shape == (1000, 10, 10, 4)


def test_float_observations_stay_float32():
    spec = make_env("CartPole-v1")
    assert spec.obs_storage == "float32"
    obs = jnp.array([0.1, -2.0, 0.03, 1e-7])
    assert encode("float32", obs) is obs and decode("float32", obs, (4,)) is obs
    config = DQNConfig(buffer_size=1000, batch_size=32, learning_starts=600)
    state = jax.eval_shape(make_train(config).init, key(0), HParams.from_config(config))
    assert state.replay.storage.obs.dtype == jnp.float32
    assert state.replay.storage.obs.shape == (1000, 4)


def test_bytes_per_agent_is_the_real_state_and_counts_packed_observations():
    config = DQNConfig.for_env("Seaquest-MinAtar", buffer_size=1000, learning_starts=1000)
    state = jax.jit(make_train(config).init)(key(0), HParams.from_config(config))

    def data(x):
        return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x

    assert bytes_per_agent(config) == sum(data(x).nbytes for x in jax.tree.leaves(state))
    storage = state.replay.storage
    assert storage.obs.dtype == storage.next_obs.dtype == jnp.uint8
    assert storage.obs.nbytes + storage.next_obs.nbytes == 1000 * 250  # 2 x 1,000 bits / 8


# --- the loop: packed observations, truncation and sticky actions on Breakout-MinAtar -----------

# Random play (epsilon 1) on 2 envs, a tiny conv network learning from step 64.
LOOP_KWARGS = dict(
    total_timesteps=400,
    num_envs=2,
    train_frequency=2,
    gradient_steps=1,
    buffer_size=400,
    batch_size=16,
    learning_starts=64,
    log_interval=200,
    eval_episodes=1,
    epsilon_start=1.0,
    epsilon_end=1.0,
    conv_channels=(4,),
    hidden_sizes=(16,),
)
MOVES = np.array([0, -1, 1])  # Breakout-MinAtar's actions: no-op, left, right


def _stored(result, spec, steps, num_envs):
    """The replay's transitions per (env step, env), observations decoded."""
    s = result.state.replay.storage
    decode = jax.jit(jax.vmap(spec.decode))
    data = s._replace(obs=decode(s.obs), next_obs=decode(s.next_obs))._asdict()
    return {k: np.asarray(v).reshape(steps, num_envs, *np.shape(v)[1:]) for k, v in data.items()}


def _paddle(obs):
    """Column of Breakout's paddle (channel 0 of the bottom row)."""
    return int(np.argmax(obs[9, :, 0]))


def _moved_as_asked(data):
    """Per transition, whether the paddle moved as its stored (chosen) action asks."""
    steps, num_envs = data["action"].shape
    return np.array(
        [
            np.clip(_paddle(data["obs"][t, e]) + MOVES[data["action"][t, e]], 0, 9)
            == _paddle(data["next_obs"][t, e])
            for t in range(steps)
            for e in range(num_envs)
        ]
    )


@pytest.fixture(scope="module")
def truncated_breakout():
    env, params = gymnax.make("Breakout-MinAtar")
    config = DQNConfig.for_env("Breakout-MinAtar", **LOOP_KWARGS)
    train = make_train(config, env, params.replace(max_steps_in_episode=20))
    result = jax.block_until_ready(jax.jit(train)(key(1)))
    return result, _stored(result, train.env_spec, 200, 2)


def test_packed_replay_trains_a_conv_network(truncated_breakout):
    result, _ = truncated_breakout
    assert type(result.q_network).__name__ == "ConvQNetwork"
    assert result.state.replay.storage.obs.shape == (400, 50)  # 400 bits of (10, 10, 4)
    assert np.all(np.isfinite(np.asarray(result.metrics.loss)))
    assert int(result.state.updates) == (400 - 64) // 2 + 1
    image = jnp.zeros((10, 10, 4)).at[9, 4, 0].set(1.0)
    assert 0 <= int(dqn_jax.act(result.q_network, image, key(0))) < 3


def test_packed_replay_keeps_the_real_last_observation_at_a_truncation(truncated_breakout):
    _, data = truncated_breakout
    truncations = 0
    for e in range(2):
        length = 0
        for t in range(199):
            length += 1
            ended = data["terminated"][t, e] == 1 or data["truncated"][t, e] == 1
            if not ended:
                np.testing.assert_array_equal(data["next_obs"][t, e], data["obs"][t + 1, e])
                continue
            if data["truncated"][t, e] == 1:
                assert length == 20 and data["terminated"][t, e] == 0
                truncations += 1
                # the stored next obs is the episode's last, not the reset obs that follows it
                assert not np.array_equal(data["next_obs"][t, e], data["obs"][t + 1, e])
            length = 0
    assert truncations > 0


def test_without_sticky_actions_every_step_executes_the_chosen_action(truncated_breakout):
    _, data = truncated_breakout
    assert _moved_as_asked(data).all()


def test_sticky_actions_wrap_the_env_the_loop_steps():
    """Also the family on the conv network: a dueling head and prioritized replay (with the
    tuned Double DQN and 3-step returns)."""
    family = dict(dueling="mean", prioritized="proportional")
    config = DQNConfig.for_env("Breakout-MinAtar", **LOOP_KWARGS, **family, sticky_action_prob=0.5)
    train = make_train(config)
    assert type(train.env_spec.env).__name__ == "StickyActionWrapper"
    assert train.env_spec.env._sticky_action_prob == 0.5
    result = jax.block_until_ready(jax.jit(train)(key(1)))
    assert result.state.env_state.last_action.shape == (2,)
    asked = _moved_as_asked(_stored(result, train.env_spec, 200, 2))
    # half the steps repeat the last action, which differs from a random choice 2/3 of the time
    assert 0.15 < 1 - asked.mean() < 0.5, 1 - asked.mean()
    assert result.q_network.head.dueling == "mean"
    assert np.all(np.isfinite(np.asarray(result.metrics.loss)))
    leaves = np.asarray(result.state.priorities.tree.nodes)[512 : 512 + 400]  # one per slot
    assert len(np.unique(leaves)) > 10  # the TD errors of sampled slots reached the tree
