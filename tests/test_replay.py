"""The ring-buffer replay: shapes, ring order, wrap-around and uniform sampling of written slots."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dqn_jax import Transition, replay

OBS_DIM = 3


def example() -> Transition:
    return Transition(
        obs=jnp.zeros(OBS_DIM, jnp.float32),
        action=jnp.zeros((), jnp.int32),
        reward=jnp.zeros((), jnp.float32),
        terminated=jnp.zeros((), jnp.float32),
        truncated=jnp.zeros((), jnp.float32),
        next_obs=jnp.zeros(OBS_DIM, jnp.float32),
    )


def marked(markers) -> Transition:
    """A batch of transitions whose every field encodes its marker value."""
    m = jnp.asarray(markers, jnp.float32)
    return Transition(
        obs=jnp.repeat(m[:, None], OBS_DIM, axis=1),
        action=m.astype(jnp.int32),
        reward=m,
        terminated=(m % 2 == 1).astype(jnp.float32),
        truncated=(m % 3 == 1).astype(jnp.float32),
        next_obs=jnp.repeat(m[:, None] + 0.5, OBS_DIM, axis=1),
    )


def assert_slots(state, markers_by_slot):
    """Every field of the first ``len(markers_by_slot)`` slots encodes the expected marker and
    the remaining slots are still all zeros."""
    m = np.asarray(markers_by_slot, np.float32)
    k = len(m)
    for leaf in jax.tree.leaves(state.storage):
        np.testing.assert_array_equal(np.asarray(leaf)[k:], 0)
    s = jax.tree.map(lambda x: x[:k], state.storage)
    np.testing.assert_array_equal(s.reward, m)
    np.testing.assert_array_equal(s.action, m.astype(np.int32))
    np.testing.assert_array_equal(s.obs, np.repeat(m[:, None], OBS_DIM, axis=1))
    np.testing.assert_array_equal(s.next_obs, np.repeat(m[:, None] + 0.5, OBS_DIM, axis=1))
    np.testing.assert_array_equal(s.terminated, (m % 2 == 1).astype(np.float32))


def test_init_shapes_dtypes_and_empty_counters():
    state = replay.init(example(), 7)
    assert state.storage.obs.shape == (7, OBS_DIM) and state.storage.obs.dtype == jnp.float32
    assert state.storage.next_obs.shape == (7, OBS_DIM)
    assert state.storage.action.shape == (7,) and state.storage.action.dtype == jnp.int32
    assert state.storage.reward.shape == (7,) and state.storage.reward.dtype == jnp.float32
    assert state.storage.terminated.shape == (7,)
    assert state.storage.terminated.dtype == jnp.float32
    assert int(state.position) == 0 and int(state.size) == 0
    assert state.position.dtype == jnp.int32 and state.size.dtype == jnp.int32
    assert replay.capacity(state) == 7


def test_init_rejects_zero_capacity():
    with pytest.raises(ValueError, match="capacity=0"):
        replay.init(example(), 0)


def test_a_one_slot_buffer_holds_the_latest_transition():
    state = replay.init(example(), 1)
    state = replay.add(replay.add(state, marked([7])), marked([8]))
    assert int(state.position) == 0 and int(state.size) == 1
    assert_slots(state, [8])
    np.testing.assert_array_equal(replay.sample(state, jax.random.key(0), 3).reward, [8, 8, 8])


def test_add_batch_writes_consecutive_slots_and_counts():
    state = replay.add(replay.init(example(), 6), marked([10, 11, 12, 13]))
    assert int(state.position) == 4 and int(state.size) == 4
    assert_slots(state, [10, 11, 12, 13])
    state = replay.add(state, marked([20]))
    assert int(state.position) == 5 and int(state.size) == 5
    assert_slots(state, [10, 11, 12, 13, 20])


def test_wrap_around_overwrites_oldest_in_order():
    state = replay.init(example(), 5)
    state = replay.add(state, marked([0, 1, 2]))
    state = replay.add(state, marked([3, 4, 5]))
    # slot 0 held the oldest (0) and is overwritten by 5; slot 1 is next to write
    assert_slots(state, [5, 1, 2, 3, 4])
    assert int(state.position) == 1 and int(state.size) == 5


def test_capacity_not_multiple_of_batch():
    state = replay.init(example(), 5)
    for start in range(0, 8, 2):  # adds [0,1], [2,3], [4,5], [6,7]
        state = replay.add(state, marked([start, start + 1]))
    # writes went to slots 0,1 | 2,3 | 4,0 | 1,2
    assert_slots(state, [5, 6, 7, 3, 4])
    assert int(state.position) == 3 and int(state.size) == 5


def test_add_exactly_capacity_fills_and_returns_to_start():
    state = replay.add(replay.init(example(), 4), marked([1, 2, 3, 4]))
    assert int(state.position) == 0 and int(state.size) == 4
    assert_slots(state, [1, 2, 3, 4])


def test_add_more_than_capacity_raises():
    with pytest.raises(ValueError, match="cannot add 6 transitions to a buffer of capacity 5"):
        replay.add(replay.init(example(), 5), marked(range(6)))


def test_sample_returns_only_written_slots_and_covers_them_all():
    state = replay.add(replay.init(example(), 10), marked([100, 101, 102, 103]))
    batch = replay.sample(state, jax.random.key(0), 2000)
    rewards = np.asarray(batch.reward)
    assert batch.obs.shape == (2000, OBS_DIM)
    assert set(np.unique(rewards)) == {100.0, 101.0, 102.0, 103.0}
    # fields of one sample stay together (same slot for every field)
    np.testing.assert_array_equal(np.asarray(batch.action), rewards.astype(np.int32))
    np.testing.assert_array_equal(np.asarray(batch.next_obs)[:, 0], rewards + 0.5)
    # roughly uniform: each of 4 slots ~500 of 2000 (sd ~19); allow +-100
    counts = np.array([np.sum(rewards == m) for m in (100, 101, 102, 103)])
    assert np.all(np.abs(counts - 500) < 100), counts


def test_sample_after_wrap_sees_the_current_contents_only():
    state = replay.init(example(), 5)
    state = replay.add(state, marked([0, 1, 2]))
    state = replay.add(state, marked([3, 4, 5]))
    rewards = np.asarray(replay.sample(state, jax.random.key(1), 2000).reward)
    assert set(np.unique(rewards)) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_sample_and_add_under_jit():
    add = jax.jit(replay.add)
    sample = jax.jit(replay.sample, static_argnums=2)
    state = add(replay.init(example(), 8), marked([7, 8, 9]))
    assert int(state.size) == 3 and int(state.position) == 3
    batch = sample(state, jax.random.key(2), 500)
    assert batch.reward.shape == (500,)
    assert set(np.unique(np.asarray(batch.reward))) == {7.0, 8.0, 9.0}


def test_sample_under_vmap_over_keys_gives_different_batches():
    state = replay.add(replay.init(example(), 8), marked([1, 2, 3, 4, 5, 6]))
    keys = jax.random.split(jax.random.key(3), 4)
    batch = jax.jit(jax.vmap(lambda k: replay.sample(state, k, 16)))(keys)
    assert batch.obs.shape == (4, 16, OBS_DIM) and batch.reward.shape == (4, 16)
    rewards = np.asarray(batch.reward)
    assert set(np.unique(rewards)) <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    assert not np.array_equal(rewards[0], rewards[1])


def test_add_and_sample_under_vmap_over_buffers():
    # a batch of buffers (as under a vmapped train) each with its own contents
    states = jax.jit(jax.vmap(lambda m: replay.add(replay.init(example(), 4), marked(m))))(
        jnp.array([[1, 2], [30, 40]])
    )
    assert states.storage.obs.shape == (2, 4, OBS_DIM)
    np.testing.assert_array_equal(states.size, [2, 2])
    sample = jax.jit(jax.vmap(replay.sample, in_axes=(0, 0, None)), static_argnums=2)
    batch = sample(states, jax.random.split(jax.random.key(4), 2), 200)
    assert set(np.unique(np.asarray(batch.reward[0]))) == {1.0, 2.0}
    assert set(np.unique(np.asarray(batch.reward[1]))) == {30.0, 40.0}


def test_sequences_are_consecutive_slots_unless_a_stride_is_given():
    # 10 of 12 slots written with markers 0..9: the 8 starts whose 3 slots are written
    state = replay.add(replay.init(example(), 12), marked(range(10)))
    seq = replay.sample_sequences(state, jax.random.key(5), 400, 3)
    action = np.asarray(seq.action)
    np.testing.assert_array_equal(action, action[:, :1] + np.arange(3))
    assert set(action[:, 0]) == set(range(8))
    gathered = replay.gather_sequences(state, jnp.array([0, 10, 11]), 3)
    np.testing.assert_array_equal(gathered.action, [[0, 1, 2], [0, 0, 0], [0, 0, 1]])  # wraps
    strided = replay.gather_sequences(state, jnp.array([1]), 3, stride=4)
    np.testing.assert_array_equal(strided.action, [[1, 5, 9]])
