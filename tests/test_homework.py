"""Every check in dqn_jax.homework passes a correct implementation and rejects realistic wrong
ones with a message that names the mistake."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import pytest

from dqn_jax import QParams, homework
from dqn_jax.homework import CheckFailed


def assert_rejects(check, fn, *fragments: str) -> str:
    """``check(fn)`` raises CheckFailed whose message contains every fragment."""
    with pytest.raises(CheckFailed) as info:
        check(fn)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in message:\n{message}"
    return message


def assert_passes(check, fn, capsys) -> None:
    check(fn)
    assert capsys.readouterr().out.startswith("Passed")


def test_check_failed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)


def test_stub_gets_a_not_implemented_message():
    def stub(*args, **kwargs):
        raise NotImplementedError

    message = assert_rejects(homework.check_td0_update, stub, "not implemented yet")
    assert "td0_update" in message


def test_crash_is_reported_with_its_type():
    def crashes(q, s, a, r, terminated, s_next, alpha, gamma):
        return q[s_next, :, 0]

    assert_rejects(homework.check_td0_update, crashes, "raised IndexError")


# --- 01: tabular -----------------------------------------------------------------------------


def td0(q, s, a, r, terminated, s_next, alpha, gamma):
    target = r + gamma * (1 - terminated) * jnp.max(q[s_next])
    return q.at[s, a].add(alpha * (target - q[s, a]))


def test_td0_update(capsys):
    assert_passes(homework.check_td0_update, td0, capsys)

    def no_mask(q, s, a, r, terminated, s_next, alpha, gamma):
        return td0(q, s, a, r, 0.0, s_next, alpha, gamma)

    assert_rejects(homework.check_td0_update, no_mask, "should be r=1.0", "(1 - terminated)")

    def sarsa_like(q, s, a, r, terminated, s_next, alpha, gamma):
        target = r + gamma * (1 - terminated) * q[s_next, a]
        return q.at[s, a].add(alpha * (target - q[s, a]))

    assert_rejects(homework.check_td0_update, sarsa_like, "Q[s_next, a], the same action")

    def no_alpha(q, s, a, r, terminated, s_next, alpha, gamma):
        return q.at[s, a].set(r + gamma * (1 - terminated) * jnp.max(q[s_next]))

    assert_rejects(homework.check_td0_update, no_alpha, "fraction alpha")

    def python_if(q, s, a, r, terminated, s_next, alpha, gamma):
        bootstrap = 0.0 if terminated else jnp.max(q[s_next])
        return q.at[s, a].add(alpha * (r + gamma * bootstrap - q[s, a]))

    assert_rejects(homework.check_td0_update, python_if, "traced arrays")


def eps_greedy(key, q_values, epsilon):
    explore_key, action_key = jax.random.split(key)
    random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
    return jnp.where(jax.random.uniform(explore_key) < epsilon, random_action, jnp.argmax(q_values))


def test_epsilon_greedy(capsys):
    assert_passes(homework.check_epsilon_greedy, eps_greedy, capsys)

    def reversed_coin(key, q_values, epsilon):
        return eps_greedy(key, q_values, 1.0 - epsilon)

    assert_rejects(homework.check_epsilon_greedy, reversed_coin, "reversed")

    def only_non_greedy(key, q_values, epsilon):
        explore_key, action_key = jax.random.split(key)
        greedy = jnp.argmax(q_values)
        other = (greedy + jax.random.randint(action_key, (), 1, q_values.shape[-1])) % 4
        return jnp.where(jax.random.uniform(explore_key) < epsilon, other, greedy)

    assert_rejects(homework.check_epsilon_greedy, only_non_greedy, "the greedy one included")

    def python_branch(key, q_values, epsilon):
        if jax.random.uniform(key) < epsilon:
            return jax.random.randint(key, (), 0, 4)
        return jnp.argmax(q_values)

    assert_rejects(homework.check_epsilon_greedy, python_branch, "jnp.where")


# --- 02: tables to networks ------------------------------------------------------------------


def mc_returns(rewards, dones, gamma):
    def body(g_next, x):
        r, d = x
        g = r + gamma * (1 - d) * g_next
        return g, g

    return jax.lax.scan(body, jnp.float32(0.0), (rewards, dones), reverse=True)[1]


def test_monte_carlo_returns(capsys):
    assert_passes(homework.check_monte_carlo_returns, mc_returns, capsys)

    def no_reset(rewards, dones, gamma):
        return mc_returns(rewards, jnp.zeros_like(dones), gamma)

    assert_rejects(homework.check_monte_carlo_returns, no_reset, "episode boundary")

    def forward(rewards, dones, gamma):
        return jnp.cumsum(rewards)

    assert_rejects(homework.check_monte_carlo_returns, forward, "reverse=True")

    def undiscounted(rewards, dones, gamma):
        return mc_returns(rewards, dones, 1.0)

    assert_rejects(homework.check_monte_carlo_returns, undiscounted, "forget to discount")


def semi_gradient(w, phi, r, done, phi_next, alpha, gamma):
    target = r + gamma * (1 - done) * phi_next @ w
    return w + alpha * (target - phi @ w) * phi


def test_semi_gradient_td_update(capsys):
    assert_passes(homework.check_semi_gradient_td_update, semi_gradient, capsys)

    def residual(w, phi, r, done, phi_next, alpha, gamma):
        loss = lambda w: 0.5 * (r + gamma * (1 - done) * phi_next @ w - phi @ w) ** 2  # noqa: E731
        return w - alpha * jax.grad(loss)(w)

    assert_rejects(
        homework.check_semi_gradient_td_update, residual, "residual gradient", "stop_gradient"
    )

    def no_mask(w, phi, r, done, phi_next, alpha, gamma):
        return semi_gradient(w, phi, r, 0.0, phi_next, alpha, gamma)

    assert_rejects(homework.check_semi_gradient_td_update, no_mask, "(1 - done)")

    def no_feature(w, phi, r, done, phi_next, alpha, gamma):
        return w + alpha * (r + gamma * (1 - done) * phi_next @ w - phi @ w)

    assert_rejects(homework.check_semi_gradient_td_update, no_feature, "gradient of v(s)")


def fqi(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
    y = rewards + gamma * (1 - terminated) * jnp.max(phi_next @ weights, axis=1)
    columns = []
    for a in range(weights.shape[1]):
        m = (actions == a).astype(phi.dtype)
        gram = phi.T @ (phi * m[:, None]) + ridge * jnp.eye(phi.shape[1])
        columns.append(jnp.linalg.solve(gram, phi.T @ (m * y)))
    return jnp.stack(columns, axis=1)


def test_fqi_iteration(capsys):
    assert_passes(homework.check_fqi_iteration, fqi, capsys)

    def no_action_mask(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
        return fqi(weights, phi, 0 * actions, rewards, terminated, phi_next, gamma, ridge)[
            :, [0] * weights.shape[1]
        ]

    assert_rejects(homework.check_fqi_iteration, no_action_mask, "(actions == a)")

    def no_mask(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
        return fqi(weights, phi, actions, rewards, 0 * terminated, phi_next, gamma, ridge)

    assert_rejects(homework.check_fqi_iteration, no_mask, "(1 - terminated)")

    def wrong_axis(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
        y = rewards + gamma * (1 - terminated) * jnp.max(phi_next @ weights, axis=0)
        return jnp.stack([jnp.linalg.solve(phi.T @ phi, phi.T @ y)] * 2, axis=1)

    assert_rejects(homework.check_fqi_iteration, wrong_axis, "raised", "axis")


# --- 03: DQN from scratch --------------------------------------------------------------------


def replay_add(state, transitions):
    capacity = jax.tree.leaves(state.storage)[0].shape[0]
    n = jax.tree.leaves(transitions)[0].shape[0]
    index = (state.position + jnp.arange(n)) % capacity
    storage = jax.tree.map(lambda s, x: s.at[index].set(x), state.storage, transitions)
    return state._replace(
        storage=storage,
        position=(state.position + n) % capacity,
        size=jnp.minimum(state.size + n, capacity),
    )


def test_replay_add(capsys):
    assert_passes(homework.check_replay_add, replay_add, capsys)

    def no_wrap(state, transitions):
        n = jax.tree.leaves(transitions)[0].shape[0]
        index = state.position + jnp.arange(n)
        storage = jax.tree.map(lambda s, x: s.at[index].set(x), state.storage, transitions)
        return state._replace(storage=storage, position=state.position + n, size=state.size + n)

    assert_rejects(homework.check_replay_add, no_wrap, "jnp.minimum(size + n, capacity)")

    def wrong_slots(state, transitions):
        capacity = jax.tree.leaves(state.storage)[0].shape[0]
        n = jax.tree.leaves(transitions)[0].shape[0]
        new = replay_add(state, transitions)
        storage = jax.tree.map(
            lambda s, x: s.at[jnp.minimum(state.position + jnp.arange(n), capacity - 1)].set(x),
            state.storage,
            transitions,
        )
        return new._replace(storage=storage)

    assert_rejects(homework.check_replay_add, wrong_slots, "overwrite the oldest")


def replay_sample(state, key, batch_size):
    index = jax.random.randint(key, (batch_size,), 0, state.size)
    return jax.tree.map(lambda s: s[index], state.storage)


def test_replay_sample(capsys):
    assert_passes(homework.check_replay_sample, replay_sample, capsys)

    def from_capacity(state, key, batch_size):
        capacity = jax.tree.leaves(state.storage)[0].shape[0]
        index = jax.random.randint(key, (batch_size,), 0, capacity)
        return jax.tree.map(lambda s: s[index], state.storage)

    assert_rejects(homework.check_replay_sample, from_capacity, "[0, size)", "empty slots")

    def from_position(state, key, batch_size):
        index = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.position, 1))
        return jax.tree.map(lambda s: s[index], state.storage)

    assert_rejects(homework.check_replay_sample, from_position, "not [0, position)")


def q_target(r, discount, q_next):
    return r + discount * jnp.max(q_next)


def test_q_learning_target(capsys):
    assert_passes(homework.check_q_learning_target, q_target, capsys)
    assert_rejects(
        homework.check_q_learning_target,
        lambda r, d, q: r + d * jnp.mean(q),
        "jnp.max(q_next)",
    )
    assert_rejects(
        homework.check_q_learning_target,
        lambda r, d, q: r + 0.99 * d * jnp.max(q),
        "already includes gamma",
    )
    assert_rejects(
        homework.check_q_learning_target,
        lambda r, d, q: r + d * q[0],
        "first action",
    )


def td_loss(online_params, target_params, static, batch, gamma):
    online = eqx.combine(online_params, static)
    target = eqx.combine(target_params, static)
    q = jax.vmap(online)(batch.obs)
    q_a = jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]
    q_next = jax.vmap(target)(batch.next_obs)
    y = batch.reward + gamma * (1 - batch.terminated) * jnp.max(q_next, axis=1)
    return jnp.mean(0.5 * (jax.lax.stop_gradient(y) - q_a) ** 2)


def test_td_loss(capsys):
    assert_passes(homework.check_td_loss, td_loss, capsys)

    def from_online(online_params, target_params, static, batch, gamma):
        return td_loss(online_params, online_params, static, batch, gamma)

    assert_rejects(homework.check_td_loss, from_online, "bootstrapped from the online network")

    def no_mask(online_params, target_params, static, batch, gamma):
        return td_loss(
            online_params, target_params, static, batch._replace(terminated=0 * batch.reward), gamma
        )

    assert_rejects(homework.check_td_loss, no_mask, "(1 - batch.terminated)")

    def grad_through_target(online_params, target_params, static, batch, gamma):
        online = eqx.combine(online_params, static)
        target = eqx.combine(target_params, static)
        q_a = jnp.take_along_axis(jax.vmap(online)(batch.obs), batch.action[:, None], axis=1)[:, 0]
        y = batch.reward + gamma * (1 - batch.terminated) * jnp.max(
            jax.vmap(target)(batch.next_obs), axis=1
        )
        return jnp.mean(0.5 * (y - q_a) ** 2)

    assert_rejects(homework.check_td_loss, grad_through_target, "stop_gradient")

    def max_over_batch(online_params, target_params, static, batch, gamma):
        online = eqx.combine(online_params, static)
        target = eqx.combine(target_params, static)
        q_a = jnp.max(jax.vmap(online)(batch.obs), axis=1)
        y = batch.reward + gamma * (1 - batch.terminated) * jnp.max(
            jax.vmap(target)(batch.next_obs), axis=1
        )
        return jnp.mean(0.5 * (jax.lax.stop_gradient(y) - q_a) ** 2)

    assert_rejects(homework.check_td_loss, max_over_batch, "of the action taken")


def td_update(params, opt_state, batch, gamma, *, static, optimizer):
    loss, grads = jax.value_and_grad(td_loss)(params.online, params.target, static, batch, gamma)
    updates, opt_state = optimizer.update(grads, opt_state, params.online)
    return QParams(optax.apply_updates(params.online, updates), params.target), opt_state, loss


def test_td_update(capsys):
    assert_passes(homework.check_td_update, td_update, capsys)

    def moves_target(params, opt_state, batch, gamma, *, static, optimizer):
        new, opt_state, loss = td_update(
            params, opt_state, batch, gamma, static=static, optimizer=optimizer
        )
        return QParams(new.online, new.online), opt_state, loss

    assert_rejects(homework.check_td_update, moves_target, "target parameters changed")

    def ascent(params, opt_state, batch, gamma, *, static, optimizer):
        loss, grads = jax.value_and_grad(td_loss)(
            params.online, params.target, static, batch, gamma
        )
        online = jax.tree.map(lambda p, g: p + 0.1 * g, params.online, grads)
        return QParams(online, params.target), opt_state, loss

    assert_rejects(homework.check_td_update, ascent, "gradient ascent")

    def not_applied(params, opt_state, batch, gamma, *, static, optimizer):
        loss, grads = jax.value_and_grad(td_loss)(
            params.online, params.target, static, batch, gamma
        )
        _, opt_state = optimizer.update(grads, opt_state, params.online)
        return params, opt_state, loss

    assert_rejects(homework.check_td_update, not_applied, "did not change")


def sync(online, target, tau):
    return jax.tree.map(lambda o, t: tau * o + (1 - tau) * t, online, target)


def test_sync_target(capsys):
    assert_passes(homework.check_sync_target, sync, capsys)
    assert_rejects(homework.check_sync_target, lambda o, t, tau: sync(t, o, tau), "swapped")
    assert_rejects(homework.check_sync_target, lambda o, t, tau: o, "Polyak average")


# --- 04: beyond DQN --------------------------------------------------------------------------


def test_double_q_target(capsys):
    def double(r, discount, q_next_target, q_next_online):
        return r + discount * q_next_target[jnp.argmax(q_next_online)]

    assert_passes(homework.check_double_q_target, double, capsys)
    assert_rejects(
        homework.check_double_q_target,
        lambda r, d, qt, qo: r + d * jnp.max(qt),
        "plain DQN target",
    )
    assert_rejects(
        homework.check_double_q_target,
        lambda r, d, qt, qo: r + d * qo[jnp.argmax(qt)],
        "roles are swapped",
    )


def test_dueling_aggregate(capsys):
    def dueling(value, advantages):
        return value[:, None] + advantages - jnp.mean(advantages, axis=-1, keepdims=True)

    assert_passes(homework.check_dueling_aggregate, dueling, capsys)
    assert_rejects(
        homework.check_dueling_aggregate, lambda v, a: v[:, None] + a, "not identifiable"
    )
    assert_rejects(
        homework.check_dueling_aggregate,
        lambda v, a: v[:, None] + a - jnp.mean(a, axis=0, keepdims=True),
        "batch axis (axis=0)",
    )
    assert_rejects(
        homework.check_dueling_aggregate,
        lambda v, a: v[:, None] + a - jnp.max(a, axis=-1, keepdims=True),
        "max baseline",
    )


def test_per_probabilities(capsys):
    def probs(td_errors, alpha, eps):
        p = (jnp.abs(td_errors) + eps) ** alpha
        return p / jnp.sum(p)

    assert_passes(homework.check_per_probabilities, probs, capsys)

    def no_abs(td_errors, alpha, eps):
        p = (td_errors + eps) ** alpha
        return p / jnp.sum(p)

    assert_rejects(homework.check_per_probabilities, no_abs, "NaN", "|delta|")

    def no_eps(td_errors, alpha, eps):
        return probs(td_errors, alpha, 0.0)

    assert_rejects(homework.check_per_probabilities, no_eps, "never be replayed")

    def unnormalised(td_errors, alpha, eps):
        return (jnp.abs(td_errors) + eps) ** alpha

    assert_rejects(homework.check_per_probabilities, unnormalised, "divide by their sum")


def test_importance_weights(capsys):
    def weights(probs, beta):
        w = (probs.shape[0] * probs) ** (-beta)
        return w / jnp.max(w)

    assert_passes(homework.check_importance_weights, weights, capsys)
    assert_rejects(
        homework.check_importance_weights,
        lambda p, beta: (p.shape[0] * p) ** (-beta),
        "largest weight",
    )
    assert_rejects(
        homework.check_importance_weights,
        lambda p, beta: weights(p, -beta),
        "exponent is -beta",
    )
    assert_rejects(
        homework.check_importance_weights,
        lambda p, beta: (p.shape[0] * p) ** (-beta) / jnp.sum((p.shape[0] * p) ** (-beta)),
        "not the sum",
    )


# --- 05: seed sweeps -------------------------------------------------------------------------


def test_t_critical_matches_tables():
    assert homework.t_critical(1) == pytest.approx(12.706, abs=1e-2)
    assert homework.t_critical(3) == pytest.approx(3.182, abs=1e-3)
    assert homework.t_critical(31) == pytest.approx(2.040, abs=1e-3)


def test_confidence_band(capsys):
    def band(curves):
        n = curves.shape[0]
        half = homework.t_critical(n - 1) * jnp.std(curves, axis=0, ddof=1) / jnp.sqrt(n)
        return jnp.mean(curves, axis=0), half

    assert_passes(homework.check_confidence_band, band, capsys)

    def normal_quantile(curves):
        n = curves.shape[0]
        return jnp.mean(curves, axis=0), 1.96 * jnp.std(curves, axis=0, ddof=1) / jnp.sqrt(n)

    assert_rejects(homework.check_confidence_band, normal_quantile, "Student-t quantile")

    def population_std(curves):
        n = curves.shape[0]
        half = homework.t_critical(n - 1) * jnp.std(curves, axis=0) / jnp.sqrt(n)
        return jnp.mean(curves, axis=0), half

    assert_rejects(homework.check_confidence_band, population_std, "ddof=1")

    def over_time(curves):
        return jnp.mean(curves, axis=1), jnp.std(curves, axis=1)

    assert_rejects(homework.check_confidence_band, over_time, "of shape (3,)")


def test_stack_hparams(capsys):
    def stack(hparams_list):
        return jax.tree.map(lambda *xs: jnp.stack(xs), *hparams_list)

    assert_passes(homework.check_stack_hparams, stack, capsys)
    assert_rejects(homework.check_stack_hparams, lambda hps: list(hps), "one HParams")
    assert_rejects(
        homework.check_stack_hparams,
        lambda hps: jax.tree.map(lambda *xs: jnp.concatenate(xs), *hps),
        "raised",
    )
