"""Invariants under property tests (hypothesis): the ring buffer, prioritized replay and its
sum-tree, the schedules and n-step returns, each against a plain Python model.

Every jitted function has fixed array shapes, so it compiles once and each example only feeds
data; examples are bounded and derandomized (the same ones on every run, no database).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from conftest import brute_force_n_step
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dqn_jax import Transition, batch_from_sequence, linear_schedule, prioritized, replay, sum_tree

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)

CAPACITY = 12
NUM_ENVS = 3  # the capacity is a multiple of it, as n-step replay requires
SAMPLES = 64


def transitions(ids: np.ndarray) -> Transition:
    """Transitions that carry their id (from 1) in every field, so a slot tells what it holds."""
    ids = np.asarray(ids)
    as_float = ids.astype(np.float32)
    return Transition(
        obs=np.stack([as_float, as_float], axis=-1),
        action=ids.astype(np.int32),
        reward=as_float,
        terminated=np.zeros_like(as_float),
        truncated=np.zeros_like(as_float),
        next_obs=np.stack([as_float, as_float], axis=-1) + 0.5,
    )


def empty_buffer(capacity: int = CAPACITY) -> replay.ReplayState:
    return replay.init(jax.tree.map(lambda x: x[0], transitions(np.ones(1))), capacity)


add = jax.jit(replay.add)  # one compile per batch size drawn below
sample = jax.jit(replay.sample, static_argnums=2)
sample_sequences = jax.jit(replay.sample_sequences, static_argnums=(2, 3, 4))


# --- ring buffer ----------------------------------------------------------------------------------


@SETTINGS
@given(
    # at least CAPACITY + 1 transitions: every drawn stream wraps round, up to ten times
    batches=st.lists(st.sampled_from([1, 2, 3, 5]), min_size=CAPACITY + 1, max_size=24),
    seed=st.integers(0, 2**31 - 1),
)
@example(batches=[], seed=0)  # empty
@example(batches=[5, 2], seed=0)  # partly filled
@example(batches=[5, 5, 2], seed=0)  # exactly full, position back at 0
def test_ring_buffer_matches_a_list_model(batches, seed):
    state, slots, position, size, next_id = empty_buffer(), [0] * CAPACITY, 0, 0, 1
    for n in batches:
        ids = np.arange(next_id, next_id + n)
        next_id += n
        state = add(state, transitions(ids))
        for i in ids:
            slots[position] = int(i)
            position, size = (position + 1) % CAPACITY, min(size + 1, CAPACITY)
        assert (int(state.position), int(state.size)) == (position, size)
    np.testing.assert_array_equal(state.storage.action, slots)  # unwritten slots stay 0
    np.testing.assert_array_equal(state.storage.obs[:, 0], slots)
    if size:
        drawn = np.asarray(sample(state, jax.random.key(seed), SAMPLES).action)
        assert set(drawn.tolist()) <= set(slots) - {0}  # only written, current transitions


@SETTINGS
@given(
    # more than CAPACITY // NUM_ENVS = 4 steps: every drawn stream wraps round
    steps=st.integers(CAPACITY // NUM_ENVS + 1, 16),
    length=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
@example(steps=3, length=3, seed=0)  # partly filled: 9 of 12 slots
def test_sampled_sequences_are_written_consecutive_steps_of_one_env(steps, length, seed):
    """Env ``e`` at step ``t`` writes id ``t * NUM_ENVS + e + 1``; a sequence with stride
    ``NUM_ENVS`` must be ids ``i, i + NUM_ENVS, ...``, all still in the buffer."""
    state = empty_buffer()
    for t in range(steps):
        state = add(state, transitions(t * NUM_ENVS + np.arange(NUM_ENVS) + 1))
    total = steps * NUM_ENVS
    ids = np.asarray(
        sample_sequences(state, jax.random.key(seed), SAMPLES, length, NUM_ENVS).action
    )
    assert ids.shape == (SAMPLES, length)
    assert np.all(ids - ids[:, :1] == NUM_ENVS * np.arange(length))
    assert ids.min() > total - CAPACITY and ids.max() <= total


# --- prioritized replay and its sum-tree ----------------------------------------------------------

PER_CAPACITY = 16
PER_ENVS = 2
PER_BATCH = 4
BIG = float(np.float32(1e30))  # TD errors up to this size
HUGE = float(np.float32(1e20))  # and down to this one among the huge ones


@functools.cache
def per_functions(kind: str):
    return (
        jax.jit(functools.partial(prioritized.add, kind=kind)),
        jax.jit(prioritized.sample, static_argnums=2),
        jax.jit(functools.partial(prioritized.update, kind=kind)),
        jax.jit(functools.partial(prioritized.resort, kind=kind)),
    )


def assert_tree_consistent(tree: sum_tree.SumTree) -> None:
    nodes = np.asarray(tree.nodes)
    size = nodes.shape[0] // 2
    assert np.all(np.isfinite(nodes)) and np.all(nodes >= 0)
    # every internal node is exactly the float32 sum of its children (recomputed, not adjusted)
    np.testing.assert_array_equal(nodes[1:size], nodes[2 : 2 * size : 2] + nodes[3 : 2 * size : 2])
    np.testing.assert_allclose(nodes[1], nodes[size:].sum(dtype=np.float64), rtol=1e-6)


# TD errors of ordinary size and huge ones (1e20 to 1e30, either sign) in about equal measure, so
# every example holds priorities tens of orders of magnitude apart.
TD_ERRORS = st.one_of(
    st.floats(-10.0, 10.0, width=32),
    st.floats(HUGE, BIG, width=32),
    st.floats(-BIG, -HUGE, width=32),
)


@SETTINGS
@given(
    kind=st.sampled_from(prioritized.KINDS),
    span=st.sampled_from([0, PER_ENVS]),  # one-step replay, or 2-step with stride num_envs
    # rounds as in the train loop: env steps (each adds PER_ENVS slots), an optional re-sort,
    # then an update of a drawn batch; at least PER_CAPACITY // PER_ENVS + 1 rounds of at least
    # one step each, so every example wraps round the buffer
    rounds=st.lists(
        st.tuples(
            st.integers(1, 3),
            st.booleans(),
            st.lists(TD_ERRORS, min_size=PER_BATCH, max_size=PER_BATCH),
        ),
        min_size=PER_CAPACITY // PER_ENVS + 1,
        max_size=16,
    ),
    alpha=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
@example(
    kind="proportional",
    span=PER_ENVS,
    rounds=[(2, False, [BIG, -1e25, 0.5, 0.0])] * 9,
    alpha=1.0,
    seed=0,
)
@example(kind="rank", span=0, rounds=[(1, True, [-BIG, 1e-3, 1e22, 7.0])] * 9, alpha=1.0, seed=0)
# All-equal priorities: the largest importance weight once came out as 1.0000001 (an exp of 0 in
# XLA's vectorised form); the batch's largest weight is 1 exactly.
@example(kind="proportional", span=0, rounds=[(1, False, [0.0] * 4)] * 9, alpha=0.5, seed=0)
def test_priorities_stay_finite_and_sampling_returns_only_sampleable_slots(
    kind, span, rounds, alpha, seed
):
    add_p, sample_p, update_p, resort_p = per_functions(kind)
    state, position, size = prioritized.init(PER_CAPACITY, kind), 0, 0
    sampleable = np.zeros(PER_CAPACITY, bool)  # written, with the span after it written too
    key = jax.random.key(seed)

    def check_invariants(key):
        assert_tree_consistent(state.tree)
        leaves = np.asarray(sum_tree.leaves(state.tree))
        np.testing.assert_array_equal(leaves[:PER_CAPACITY] > 0, sampleable)
        assert np.isfinite(float(state.max_priority))
        if sampleable.any():
            key, draw = jax.random.split(key)
            index, weight = sample_p(state, draw, SAMPLES, jnp.int32(sampleable.sum()), 0.4)
            assert sampleable[np.asarray(index)].all()
            weight = np.asarray(weight)
            assert np.all(np.isfinite(weight)) and np.all(weight > 0) and weight.max() == 1.0
        return key

    for steps, resort, td in rounds:
        for _ in range(steps):
            written = (position + np.arange(PER_ENVS)) % PER_CAPACITY
            completed = (written - span) % PER_CAPACITY
            state = add_p(state, written, completed, jnp.asarray(size >= span))
            sampleable[written] = False
            sampleable[completed] |= size >= span
            position, size = (position + PER_ENVS) % PER_CAPACITY, min(size + 2, PER_CAPACITY)
            key = check_invariants(key)
        if resort:
            state = resort_p(state, alpha)
            key = check_invariants(key)
        if sampleable.any():
            key, draw = jax.random.split(key)
            index, _ = sample_p(state, draw, PER_BATCH, jnp.int32(sampleable.sum()), 0.4)
            state = update_p(state, index, jnp.asarray(td, jnp.float32), alpha, 1e-6)
            key = check_invariants(key)


# --- schedules ------------------------------------------------------------------------------------

schedule = jax.jit(jax.vmap(linear_schedule, in_axes=(None, None, None, 0)))
unit = st.floats(0.0, 1.0)


@SETTINGS
@given(
    start=unit,
    end=unit,
    duration=st.integers(0, 10**7),
    steps=st.lists(st.integers(0, 2**31 - 1), min_size=2, max_size=16),
)
def test_linear_schedule_is_monotone_bounded_and_reaches_its_end(start, end, duration, steps):
    t = np.sort(np.asarray(steps, np.int32))
    values = np.asarray(schedule(start, end, float(duration), t), np.float64)
    low, high = np.float32(min(start, end)), np.float32(max(start, end))
    assert np.all(values >= low) and np.all(values <= high)
    step = np.diff(values)
    assert np.all(step <= 0) if end <= start else np.all(step >= 0)
    np.testing.assert_array_equal(values[t >= duration], np.float32(end))
    if duration > 0:
        np.testing.assert_array_equal(values[t == 0], np.float32(start))


# --- n-step returns from the replay buffer --------------------------------------------------------

N_STEP = 3
STREAM = 8  # steps per env
BUFFER = 6 * NUM_ENVS  # the stream wraps round: its first 2 steps are overwritten


@functools.cache
def n_step_samples():
    def run(stream: Transition, key: jax.Array, gamma: jax.Array):
        state = replay.init(jax.tree.map(lambda x: x[0, 0], stream), BUFFER)
        state = jax.lax.scan(lambda s, x: (replay.add(s, x), None), state, stream)[0]
        sequences = replay.sample_sequences(state, key, SAMPLES, N_STEP, stride=NUM_ENVS)
        return jax.vmap(batch_from_sequence, in_axes=(0, None))(sequences, gamma)

    return jax.jit(run)


@SETTINGS
@given(
    rewards=st.lists(st.floats(-10, 10, width=32), min_size=STREAM * NUM_ENVS, max_size=24),
    ends=st.lists(st.sampled_from([0, 0, 0, 1, 2, 3]), min_size=STREAM * NUM_ENVS, max_size=24),
    gamma=st.floats(0.0, 1.0, width=32),
    seed=st.integers(0, 2**31 - 1),
)
def test_n_step_samples_from_the_buffer_equal_brute_force(rewards, ends, gamma, seed):
    """Each env's stream goes through the ring buffer (steps interleaved across envs) and back
    out as n-step samples; each sample equals the definition applied to its env's stream. End
    codes: 1 terminated, 2 truncated, 3 both."""
    reward = np.asarray(rewards, np.float32).reshape(STREAM, NUM_ENVS)
    code = np.asarray(ends).reshape(STREAM, NUM_ENVS)
    terminated, truncated = (code & 1).astype(np.float32), (code >> 1).astype(np.float32)
    t, e = np.meshgrid(np.arange(STREAM), np.arange(NUM_ENVS), indexing="ij")
    where = np.stack([t, e], axis=-1).astype(np.float32)  # obs = (step, env)
    stream = Transition(
        obs=where,
        action=np.zeros((STREAM, NUM_ENVS), np.int32),
        reward=reward,
        terminated=terminated,
        truncated=truncated,
        next_obs=where + np.float32([0.5, 0]),
    )
    batch = n_step_samples()(stream, jax.random.key(seed), jnp.float32(gamma))
    for i in range(SAMPLES):
        step, env = (int(v) for v in np.asarray(batch.obs[i]))
        window = slice(step, step + N_STEP)
        ret, discount, last = brute_force_n_step(
            reward[window, env], terminated[window, env], truncated[window, env], np.float32(gamma)
        )
        np.testing.assert_allclose(batch.reward[i], ret, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(batch.discount[i], discount, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(batch.next_obs[i], [step + last + 0.5, env])
