"""Exploration: the linear schedule, epsilon-greedy and Boltzmann policies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import key

from dqn_jax import boltzmann, epsilon_greedy, linear_schedule


@pytest.mark.parametrize(
    ("t", "expected"),
    [(0, 1.0), (250, 0.7625), (500, 0.525), (1000, 0.05), (1001, 0.05), (10**6, 0.05)],
)
def test_linear_schedule_values(t, expected):
    np.testing.assert_allclose(linear_schedule(1.0, 0.05, 1000, t), expected, rtol=1e-6)


@pytest.mark.parametrize("duration", [3, 100, 1000])
def test_linear_schedule_is_exactly_its_end_from_the_duration_on(duration):
    """In float32, 1 + (0.05 - 1) is 0.050000012, not 0.05: the end must not be computed."""
    assert np.float32(1.0) + (np.float32(0.05) - np.float32(1.0)) != np.float32(0.05)
    for t in (duration, duration + 1, 10 * duration):
        assert float(linear_schedule(1.0, 0.05, duration, t)) == np.float32(0.05), t


def test_linear_schedule_increasing_direction():
    np.testing.assert_allclose(linear_schedule(0.0, 2.0, 10, 5), 1.0, rtol=1e-6)


def test_linear_schedule_zero_duration_is_end_from_the_start():
    np.testing.assert_allclose(linear_schedule(1.0, 0.1, 0, 0), 0.1, rtol=1e-6)
    np.testing.assert_allclose(linear_schedule(1.0, 0.1, 0, 7), 0.1, rtol=1e-6)


def test_linear_schedule_fractional_duration_divides_by_it():
    # a traced duration need not be whole: below 2 steps too, the fraction is t / duration
    np.testing.assert_allclose(linear_schedule(1.0, 0.0, 1.5, 1), 1 - 1 / 1.5, rtol=1e-6)
    np.testing.assert_allclose(linear_schedule(1.0, 0.0, 0.5, 0), 1.0, rtol=1e-6)


def test_linear_schedule_traced_under_jit_and_vmap():
    f = jax.jit(jax.vmap(linear_schedule))
    start = jnp.array([1.0, 1.0, 0.5, 0.2])
    end = jnp.array([0.0, 0.1, 0.5, 0.4])
    duration = jnp.array([100.0, 0.0, 10.0, 40.0])
    t = jnp.array([25, 3, 5, 10])
    np.testing.assert_allclose(f(start, end, duration, t), [0.75, 0.1, 0.5, 0.25], rtol=1e-6)


Q = jnp.array([0.1, -1.0, 2.0, 0.5])  # greedy action 2, A = 4
N_DRAWS = 20_000


_batched_epsilon_greedy = jax.jit(jax.vmap(epsilon_greedy, in_axes=(0, None, None)))


def _draw(epsilon, q=Q, n=N_DRAWS, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    return np.asarray(_batched_epsilon_greedy(keys, q, jnp.float32(epsilon)))


def test_epsilon_zero_is_always_argmax():
    actions = _draw(0.0, n=2000)
    assert actions.dtype == np.int32
    np.testing.assert_array_equal(actions, 2)


# A key whose exploration draw is exactly 0.0, the one value of uniform [0, 1) that epsilon = 0
# must not count as "below epsilon" (found by searching key(0), key(1), ...).
ZERO_DRAW_KEY = 3_353_848


def test_epsilon_zero_is_greedy_even_when_the_draw_is_exactly_zero():
    key = jax.random.key(ZERO_DRAW_KEY)
    explore_key, action_key = jax.random.split(key)
    assert float(jax.random.uniform(explore_key)) == 0.0
    assert int(jax.random.randint(action_key, (), 0, 3)) == 2  # the random action is not greedy
    q = jnp.array([0.0, 1.0, 0.0])
    assert int(epsilon_greedy(key, q, 0.0)) == 1
    assert int(jax.jit(epsilon_greedy)(key, q, 0.0)) == 1


def test_epsilon_zero_follows_the_argmax_of_other_values():
    np.testing.assert_array_equal(_draw(0.0, q=jnp.array([3.0, 1.0, 0.0]), n=200), 0)


def test_epsilon_one_is_uniform():
    actions = _draw(1.0)
    freq = np.bincount(actions, minlength=4) / N_DRAWS
    # each frequency has sd sqrt(0.25 * 0.75 / 20000) ~ 0.003; tolerance 0.02 is ~6.5 sd
    np.testing.assert_allclose(freq, 0.25, atol=0.02)
    # chi-square with 3 dof: 0.999 quantile is 16.3
    expected = N_DRAWS / 4
    chi2 = np.sum((np.bincount(actions, minlength=4) - expected) ** 2 / expected)
    assert chi2 < 16.3, chi2


def test_epsilon_point_three_mixes_greedy_and_uniform():
    actions = _draw(0.3, seed=1)
    freq = np.bincount(actions, minlength=4) / N_DRAWS
    # greedy: 0.7 + 0.3/4 = 0.775; each other action 0.3/4 = 0.075; sd <= 0.003, tolerance 0.02
    np.testing.assert_allclose(freq, [0.075, 0.075, 0.775, 0.075], atol=0.02)


def test_epsilon_greedy_traced_epsilon_under_vmap():
    keys = jax.random.split(jax.random.key(2), 4000)
    eps = jnp.where(jnp.arange(4000) < 2000, 0.0, 1.0)
    actions = np.asarray(jax.jit(jax.vmap(epsilon_greedy, in_axes=(0, None, 0)))(keys, Q, eps))
    np.testing.assert_array_equal(actions[:2000], 2)
    assert np.mean(actions[2000:] == 2) < 0.4  # ~0.25 when uniform


def test_epsilon_greedy_rejects_batched_q_values():
    with pytest.raises(AssertionError):
        epsilon_greedy(jax.random.key(0), jnp.ones((2, 3)), 0.1)


def test_boltzmann_frequencies_match_the_softmax():
    q = jnp.array([1.0, 2.0, 0.0, 1.5])
    temperature = 0.7
    actions = jax.vmap(boltzmann, in_axes=(0, None, None))(
        jax.random.split(key(5), 40_000), q, temperature
    )
    freq = np.bincount(np.asarray(actions), minlength=4) / 40_000
    expected = np.exp(np.asarray(q) / temperature)
    expected /= expected.sum()
    # 5 standard errors of a binomial proportion at n = 40,000
    np.testing.assert_allclose(freq, expected, atol=5 * np.sqrt(0.25 / 40_000))


def test_boltzmann_low_temperature_is_greedy_and_high_is_uniform():
    q = jnp.array([0.0, 3.0, 1.0])
    keys = jax.random.split(key(6), 3000)
    cold = jax.vmap(boltzmann, in_axes=(0, None, None))(keys, q, 1e-3)
    assert np.all(np.asarray(cold) == 1)
    hot = jax.vmap(boltzmann, in_axes=(0, None, None))(keys, q, 1e4)
    np.testing.assert_allclose(np.bincount(np.asarray(hot)) / 3000, 1 / 3, atol=0.05)


def test_boltzmann_traced_temperature_under_vmap():
    temps = jnp.array([1e-3, 1e-3])
    qs = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    actions = jax.jit(jax.vmap(boltzmann))(jax.random.split(key(7), 2), qs, temps)
    np.testing.assert_array_equal(actions, [1, 0])
    assert actions.dtype == jnp.int32


_batched_boltzmann = jax.jit(jax.vmap(boltzmann, in_axes=(0, None, None)))


@pytest.mark.parametrize(
    ("q", "greedy"),
    [
        ([1.0, 2.0, 0.5], 1),  # q / T overflows to inf for every action: not action 0
        ([-3.0, -1.0, -2.0, -1.5], 1),  # all negative: q / T is -inf for every action
        ([0.0, 0.0, 1e-30], 2),  # a gap far below the temperature's scale still counts
        ([5.0, 4.0], 0),
    ],
)
# 1e-38 and 1e-45 are below float32's smallest normal number: XLA on CPU flushes them to 0.
@pytest.mark.parametrize("temperature", [1e-36, 1e-38, 1e-45])
def test_boltzmann_at_a_tiny_temperature_is_greedy(q, greedy, temperature):
    actions = _batched_boltzmann(jax.random.split(key(8), 2000), jnp.array(q), temperature)
    np.testing.assert_array_equal(actions, greedy)


def test_boltzmann_at_a_tiny_temperature_splits_ties_between_the_maxima_only():
    q = jnp.array([0.0, 2.0, -1.0, 2.0])
    actions = np.asarray(_batched_boltzmann(jax.random.split(key(9), 4000), q, 1e-38))
    counts = np.bincount(actions, minlength=4)
    assert counts[0] == counts[2] == 0
    # each tied action has probability 1/2: sd sqrt(0.25 / 4000) ~ 0.008, tolerance ~ 6 sd
    np.testing.assert_allclose(counts[[1, 3]] / 4000, 0.5, atol=0.05)


@pytest.mark.parametrize("temperature", [0.05, 0.7, 5.0])
def test_boltzmann_matches_the_exact_softmax_at_usual_temperatures(temperature):
    q = np.array([1.0, 1.1, 0.0, 0.95])
    actions = _batched_boltzmann(jax.random.split(key(10), 40_000), jnp.asarray(q), temperature)
    freq = np.bincount(np.asarray(actions), minlength=4) / 40_000
    logits = q / temperature
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    np.testing.assert_allclose(freq, expected, atol=5 * np.sqrt(0.25 / 40_000))


def test_the_loop_acts_greedily_at_a_tiny_temperature(tiny_config):
    """Through the train loop's policy: with no gradient step yet, every stored action is the
    argmax of the initial network's Q-values."""
    from dataclasses import replace

    import equinox as eqx

    from dqn_jax import HParams, make_train

    config = replace(
        tiny_config, exploration="boltzmann", temperature_start=1e-38, temperature_end=1e-38
    )
    train = make_train(config)
    hparams = HParams.from_config(config)
    state = train.init(key(12), hparams)  # a network that is greedy on both actions
    network = eqx.combine(state.params.online, train.q_static)
    state, _ = jax.jit(train.step)(state, hparams, 0)  # 500 env steps, learning starts at 600
    stored = jax.tree.map(lambda x: x[: int(state.replay.size)], state.replay.storage)
    greedy = np.argmax(np.asarray(jax.vmap(network)(stored.obs)), axis=-1)
    assert 0 < np.mean(greedy) < 1  # both actions are greedy somewhere: action 0 alone fails
    np.testing.assert_array_equal(stored.action, greedy)
