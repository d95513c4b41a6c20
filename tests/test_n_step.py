"""n-step returns: the per-sequence math, sequence sampling from the ring buffer, and the loop."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY_KWARGS, brute_force_n_step, key

from dqn_jax import DQNConfig, Transition, batch_from_sequence, n_step_return, replay


def f32(x):
    return jnp.asarray(x, jnp.float32)


@pytest.mark.parametrize(
    ("term", "trunc", "expected"),
    [
        # r = [1, 2, 3], gamma = 0.5
        ([0, 0, 0], [0, 0, 0], (1 + 0.5 * 2 + 0.25 * 3, 0.125, 2)),  # no end: gamma^3 bootstrap
        ([0, 1, 0], [0, 0, 0], (1 + 0.5 * 2, 0.0, 1)),  # terminated at k=1: no bootstrap
        ([0, 0, 0], [0, 1, 0], (1 + 0.5 * 2, 0.25, 1)),  # truncated at k=1: bootstrap gamma^2
        ([1, 0, 0], [0, 0, 0], (1.0, 0.0, 0)),  # terminated at once
        ([0, 0, 0], [1, 0, 0], (1.0, 0.5, 0)),  # truncated at once: plain one-step bootstrap
    ],
)
def test_n_step_return_by_hand(term, trunc, expected):
    ret, discount, last = n_step_return(f32([1, 2, 3]), f32(term), f32(trunc), 0.5)
    np.testing.assert_allclose([ret, discount], expected[:2], rtol=1e-6)
    assert int(last) == expected[2]


def test_one_step_is_q_learning_transition():
    ret, discount, last = n_step_return(f32([2.5]), f32([0]), f32([0]), 0.9)
    np.testing.assert_allclose([ret, discount], [2.5, 0.9], rtol=1e-6)
    assert int(last) == 0
    _, discount, _ = n_step_return(f32([2.5]), f32([1]), f32([0]), 0.9)
    assert float(discount) == 0.0


def test_n_step_return_matches_brute_force_on_every_end_pattern():
    n, gamma = 4, 0.9
    rng = np.random.default_rng(0)
    patterns = list(itertools.product([0, 1, 2], repeat=n))  # 0 none, 1 terminated, 2 truncated
    r = rng.normal(size=(len(patterns), n)).astype(np.float32)
    term = np.array([[p == 1 for p in pat] for pat in patterns], np.float32)
    trunc = np.array([[p == 2 for p in pat] for pat in patterns], np.float32)
    ret, discount, last = jax.jit(jax.vmap(n_step_return, in_axes=(0, 0, 0, None)))(
        r, term, trunc, gamma
    )
    for i in range(len(patterns)):
        want = brute_force_n_step(r[i], term[i], trunc[i], gamma)
        np.testing.assert_allclose([ret[i], discount[i]], want[:2], rtol=1e-5, atol=1e-6)
        assert int(last[i]) == want[2]


def _sequence(n):
    steps = f32(np.arange(n))
    return Transition(
        obs=steps[:, None] * f32([1, 1]),
        action=jnp.arange(n, dtype=jnp.int32),
        reward=f32(np.ones(n)),
        terminated=f32(np.zeros(n)).at[1].set(1.0),
        truncated=f32(np.zeros(n)),
        next_obs=(steps[:, None] + 0.5) * f32([1, 1]),
    )


def test_batch_from_sequence_bootstraps_from_the_last_included_step():
    batch = batch_from_sequence(_sequence(3), 0.9)
    np.testing.assert_array_equal(batch.obs, [0.0, 0.0])
    assert int(batch.action) == 0
    np.testing.assert_allclose(batch.reward, 1.9, rtol=1e-6)
    assert float(batch.discount) == 0.0
    np.testing.assert_array_equal(batch.next_obs, [1.5, 1.5])  # step 1's next_obs, not step 2's


def _interleaved_buffer(num_envs, steps, capacity):
    """Step t of env e has marker 100 * t + e; added one step (num_envs rows) at a time."""
    example = Transition(f32([0]), jnp.int32(0), f32(0), f32(0), f32(0), f32([0]))
    state = replay.init(example, capacity)
    for t in range(steps):
        m = f32([100 * t + e for e in range(num_envs)])
        z = jnp.zeros(num_envs, jnp.float32)
        state = replay.add(state, Transition(m[:, None], z.astype(jnp.int32), m, z, z, m[:, None]))
    return state


@pytest.mark.parametrize(("steps", "capacity"), [(5, 30), (23, 30)])  # not full / wrapped
def test_sample_sequences_are_consecutive_steps_of_one_env(steps, capacity):
    num_envs, n = 3, 4
    state = _interleaved_buffer(num_envs, steps, capacity)
    seq = replay.sample_sequences(state, key(0), 2000, n, stride=num_envs)
    m = np.asarray(seq.reward).astype(int)  # (batch, n)
    assert m.shape == (2000, n)
    env, step = m % 100, m // 100
    assert (env == env[:, :1]).all(), "a sequence mixed environments"
    assert (np.diff(step, axis=1) == 1).all(), "a sequence skipped or repeated a step"
    oldest = max(0, steps - capacity // num_envs)
    starts = set(step[:, 0].tolist())
    # Every start whose n steps are all still in the buffer is drawn, and no other.
    assert starts == set(range(oldest, steps - n + 1))


def test_n_step_validation():
    with pytest.raises(ValueError, match=r"learning_starts=64 must be at least .* = 70"):
        DQNConfig(
            **{
                **TINY_KWARGS,
                "learning_starts": 64,
                "batch_size": 64,
                "n_step": 2,
                "num_envs": 6,
                "buffer_size": 996,
                "train_frequency": 12,
                "log_interval": 504,
                "total_timesteps": 2016,
            }
        )
    with pytest.raises(ValueError, match="buffer_size=1001 must be a multiple of num_envs=4"):
        DQNConfig(**{**TINY_KWARGS, "buffer_size": 1001, "n_step": 3})
    with pytest.raises(ValueError, match=r"n_step=0 is outside the allowed range \[1, inf\)"):
        DQNConfig(**{**TINY_KWARGS, "n_step": 0})
