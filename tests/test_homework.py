"""Every check in dqn_jax.homework passes the notebooks' own solutions and stops plausible wrong
answers with the hint meant for that mistake, and shows only its message when it fails.

The right answers are the solution code of ``scripts/notebooks/``; the wrong ones are in
``WRONG`` below, one row per mistake, each with a phrase only its intended hint contains.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dqn_jax import QParams, ReplayState, Transition, homework
from dqn_jax.homework import CheckFailed

SOURCES = Path(__file__).resolve().parents[1] / "scripts" / "notebooks"


def _solutions() -> SimpleNamespace:
    """Every exercise's solution, executed as the solved notebooks define it (one namespace,
    so td_update finds td_loss and td_loss finds q_learning_target)."""
    sys.path.insert(0, str(SOURCES))
    try:
        namespace = dict(
            jax=jax,
            jnp=jnp,
            math=math,
            eqx=eqx,
            optax=optax,
            QParams=QParams,
            ReplayState=ReplayState,
            Transition=Transition,
            t_critical=homework.t_critical,
        )
        for path in sorted(SOURCES.glob("nb[0-9][0-9]_*.py")):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for cell in module.CELLS:
                if "exercise" in cell.tags:
                    exec(cell.text(solution=True), namespace)
    finally:
        sys.path.remove(str(SOURCES))
    return SimpleNamespace(**namespace)


S = _solutions()

CHECKED = {
    "td0_update": homework.check_td0_update,
    "epsilon_greedy": homework.check_epsilon_greedy,
    "monte_carlo_returns": homework.check_monte_carlo_returns,
    "semi_gradient_td_update": homework.check_semi_gradient_td_update,
    "fqi_iteration": homework.check_fqi_iteration,
    "replay_add": homework.check_replay_add,
    "replay_sample": homework.check_replay_sample,
    "q_learning_target": homework.check_q_learning_target,
    "td_loss": homework.check_td_loss,
    "td_update": homework.check_td_update,
    "sync_target": homework.check_sync_target,
    "double_q_target": homework.check_double_q_target,
    "dueling_aggregate": homework.check_dueling_aggregate,
    "per_probabilities": homework.check_per_probabilities,
    "importance_weights": homework.check_importance_weights,
    "confidence_band": homework.check_confidence_band,
    "stack_hparams": homework.check_stack_hparams,
    "conv3x3_same": homework.check_conv3x3_same,
    "conv_q_values": homework.check_conv_q_values,
    "pack_observation": homework.check_pack_observation,
    "unpack_observation": homework.check_unpack_observation,
}


def rejection(check, fn) -> str:
    with pytest.raises(CheckFailed) as info:
        check(fn)
    return str(info.value)


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_the_solution_passes(name, capsys):
    CHECKED[name](getattr(S, name))
    assert capsys.readouterr().out.startswith("Passed")


def test_every_exercise_has_a_check_and_every_check_is_exported():
    exercises = {n for n, v in vars(S).items() if callable(v) and n[0].islower()}
    exercises -= {"jax", "jnp", "math", "eqx", "optax", "t_critical"}
    assert exercises == set(CHECKED)
    assert {f"check_{n}" for n in CHECKED} | {"CheckFailed", "t_critical"} == set(homework.__all__)


# --------------------------------------------------------------------------------------------
# The wrong answers: (exercise, answer, a phrase of the hint it must get)
# --------------------------------------------------------------------------------------------


def td0(q, s, a, r, terminated, s_next, alpha, gamma, *, bootstrap=None, mask=None, step=None):
    """td0_update with one piece replaced by a wrong one."""
    best = jnp.max(q[s_next]) if bootstrap is None else bootstrap(q, s, a, s_next)
    keep = 1.0 - terminated if mask is None else mask(terminated)
    target = r + gamma * keep * best
    if step is not None:
        return q.at[s, a].set(step(q[s, a], target, alpha))
    return q.at[s, a].add(alpha * (target - q[s, a]))


def td0_python_if(q, s, a, r, terminated, s_next, alpha, gamma):
    bootstrap = 0.0 if terminated else jnp.max(q[s_next])
    return q.at[s, a].add(alpha * (r + gamma * bootstrap - q[s, a]))


def eps_greedy(key, q, epsilon, *, greedy=jnp.argmax, num_actions=None, explore_if=None):
    explore_key, action_key = jax.random.split(key)
    n = q.shape[-1] if num_actions is None else num_actions
    random_action = jax.random.randint(action_key, (), 0, n)
    coin = jax.random.uniform(explore_key)
    explore = coin < epsilon if explore_if is None else explore_if(coin, epsilon)
    return jnp.where(explore, random_action, greedy(q))


def eps_never_greedy(key, q, epsilon):
    explore_key, action_key = jax.random.split(key)
    greedy = jnp.argmax(q)
    other = (greedy + jax.random.randint(action_key, (), 1, q.shape[-1])) % q.shape[-1]
    return jnp.where(jax.random.uniform(explore_key) < epsilon, other, greedy)


def eps_python_if(key, q, epsilon):
    explore_key, action_key = jax.random.split(key)
    if jax.random.uniform(explore_key) < epsilon:
        return jax.random.randint(action_key, (), 0, q.shape[-1])
    return jnp.argmax(q)


def mc_unrolled(rewards, dones, gamma):
    g, returns = 0.0, []
    for t in reversed(range(rewards.shape[0])):
        g = rewards[t] + gamma * (1 - dones[t]) * g
        returns.append(g)
    return jnp.stack(returns[::-1])


def mc_forward_over_reversed(rewards, dones, gamma):
    def body(g, x):
        g = x[0] + gamma * (1 - x[1]) * g
        return g, g

    return jax.lax.scan(body, 0.0, (rewards[::-1], dones[::-1]))[1]


def sg(w, phi, r, done, phi_next, alpha, gamma, *, keep=None, direction=None, scale=1.0):
    target = r + gamma * ((1 - done) if keep is None else keep(done)) * phi_next @ w
    delta = target - phi @ w
    return w + scale * alpha * delta * (phi if direction is None else direction(phi, phi_next))


def sg_residual(w, phi, r, done, phi_next, alpha, gamma):
    loss = lambda w: 0.5 * (r + gamma * (1 - done) * phi_next @ w - phi @ w) ** 2  # noqa: E731
    return w - alpha * jax.grad(loss)(w)


def sg_squared(w, phi, r, done, phi_next, alpha, gamma):
    def loss(w):
        return (jax.lax.stop_gradient(r + gamma * (1 - done) * phi_next @ w) - phi @ w) ** 2

    return w - alpha * jax.grad(loss)(w)


def fqi(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge, **wrong):
    """fqi_iteration with one piece replaced (``wrong``: target, action_mask, stack_axis)."""
    q_next = phi_next @ weights
    best = wrong.get("target", lambda q, a: jnp.max(q, axis=1))(q_next, actions)
    y = rewards + gamma * (1 - terminated) * best
    columns = []
    for a in range(weights.shape[1]):
        m = wrong.get("action_mask", lambda actions, a: (actions == a).astype(phi.dtype))(
            actions, a
        )
        gram = phi.T @ (phi * m[:, None]) + ridge * jnp.eye(phi.shape[1])
        columns.append(jnp.linalg.solve(gram, phi.T @ (m * y)))
    return jnp.stack(columns, axis=wrong.get("stack_axis", 1))


def fqi_boolean_index(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
    y = rewards + gamma * (1 - terminated) * jnp.max(phi_next @ weights, axis=1)
    columns = []
    for a in range(weights.shape[1]):
        phi_a, y_a = phi[actions == a], y[actions == a]
        gram = phi_a.T @ phi_a + ridge * jnp.eye(phi.shape[1])
        columns.append(jnp.linalg.solve(gram, phi_a.T @ y_a))
    return jnp.stack(columns, axis=1)


def ring_add(state, transitions, *, slots=None, position=None, size=None, capacity=None):
    """replay_add with one piece replaced by a wrong one."""
    cap = jax.tree.leaves(state.storage)[0].shape[0] if capacity is None else capacity(state)
    n = jax.tree.leaves(transitions)[0].shape[0]
    index = (state.position + jnp.arange(n)) % cap if slots is None else slots(state, n, cap)
    storage = jax.tree.map(lambda s, x: s.at[index].set(x), state.storage, transitions)
    return ReplayState(
        storage,
        (state.position + n) % cap if position is None else position(state, n, cap),
        jnp.minimum(state.size + n, cap) if size is None else size(state, n, cap),
    )


def ring_add_dynamic_slice(state, transitions):
    capacity = jax.tree.leaves(state.storage)[0].shape[0]
    n = jax.tree.leaves(transitions)[0].shape[0]
    storage = jax.tree.map(
        lambda s, x: jax.lax.dynamic_update_slice_in_dim(s, x, state.position, axis=0),
        state.storage,
        transitions,
    )
    return ReplayState(
        storage, (state.position + n) % capacity, jnp.minimum(state.size + n, capacity)
    )


def sample_with(indices):
    def replay_sample(state, key, batch_size):
        index = indices(state, key, batch_size)
        return jax.tree.map(lambda s: s[index], state.storage)

    return replay_sample


def td_loss_with(*, terminated=None, gamma_factor=None, predict=None, stop_gradient=True):
    """td_loss with one piece replaced: the mask's flag, gamma, or the prediction."""

    def td_loss(online_params, target_params, static, batch, gamma):
        online = eqx.combine(online_params, static)
        target = eqx.combine(target_params, static)
        q = jax.vmap(online)(batch.obs)
        q_taken = (
            jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]
            if predict is None
            else predict(q, batch)
        )
        q_next = jax.vmap(target)(batch.next_obs)
        alive = 1.0 - batch.terminated if terminated is None else terminated(batch)
        discount = (gamma if gamma_factor is None else gamma_factor) * alive
        y = jax.vmap(S.q_learning_target)(batch.reward, discount, q_next)
        y = jax.lax.stop_gradient(y) if stop_gradient else y
        if q_taken.ndim == 2:
            y = y[:, None]
        return jnp.mean(0.5 * (y - q_taken) ** 2)

    return td_loss


def td_update_with(*, apply=None, new_opt_state=None, loss_after=False, target=None):
    """td_update with one piece replaced."""

    def td_update(params, opt_state, batch, gamma, *, static, optimizer):
        loss, grads = jax.value_and_grad(S.td_loss)(
            params.online, params.target, static, batch, gamma
        )
        updates, next_opt_state = optimizer.update(grads, opt_state, params.online)
        online = (
            optax.apply_updates(params.online, updates)
            if apply is None
            else apply(params.online, updates, grads)
        )
        if loss_after:
            loss = S.td_loss(online, params.target, static, batch, gamma)
        new_target = params.target if target is None else target(online, params.target)
        next_opt_state = next_opt_state if new_opt_state is None else opt_state
        return QParams(online, new_target), next_opt_state, loss

    return td_update


def td_update_float_loss(params, opt_state, batch, gamma, *, static, optimizer):
    new_params, opt_state, loss = S.td_update(
        params, opt_state, batch, gamma, static=static, optimizer=optimizer
    )
    return new_params, opt_state, float(loss)


def sync_dict(online, target, tau):
    return {k: tau * online[k] + (1 - tau) * target[k] for k in online}


def dueling_no_keepdims(value, advantages):
    return value[:, None] + advantages - jnp.mean(advantages, axis=-1)


def per_python_if(td_errors, alpha, eps):
    if alpha == 0:
        return jnp.full(td_errors.shape, 1 / td_errors.shape[0])
    return S.per_probabilities(td_errors, alpha, eps)


def band_with(quantile=None, std=None, divide=None, axis=0, scale=1.0):
    def confidence_band(curves):
        n = curves.shape[axis]
        t = homework.t_critical(n - 1) if quantile is None else quantile(n)
        s = jnp.std(curves, axis=axis, ddof=1) if std is None else std(curves)
        half = scale * t * s / (jnp.sqrt(n) if divide is None else divide(n))
        return jnp.mean(curves, axis=axis), half

    return confidence_band


def conv_with(*, pad=((1, 1), (1, 1), (0, 0)), stack=False, order="ij", valid=False):
    """conv3x3_same with one piece replaced by a wrong one."""

    def conv(x, kernel, bias):
        if valid:
            y = jax.lax.conv_general_dilated(
                x[None], kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            return y[0] + bias
        height, width, c_in = x.shape
        padded = jnp.pad(x, pad)
        taps = [(i, j) for i in range(3) for j in range(3)]
        if order == "ji":
            taps = [(i, j) for j in range(3) for i in range(3)]
        slices = [padded[i : i + height, j : j + width] for i, j in taps]
        if stack:
            patches = jnp.stack(slices, axis=-1).reshape(height, width, -1)
        else:
            patches = jnp.concatenate(slices, axis=-1)
        return jnp.einsum("hwp,po->hwo", patches, kernel.reshape(9 * c_in, -1)) + bias

    return conv


def conv_ten_by_ten(x, kernel, bias):
    padded = jnp.pad(x, ((1, 1), (1, 1), (0, 0)))
    patches = jnp.concatenate(
        [padded[i : i + 10, j : j + 10] for i in range(3) for j in range(3)], axis=-1
    )
    return jnp.einsum("hwp,po->hwo", patches, kernel.reshape(36, 16)) + bias


def q_with(*, conv_act=jax.nn.relu, hidden_act=jax.nn.relu, out_act=None, channels_first=False):
    """conv_q_values with one piece replaced by a wrong one."""

    def q(params, obs):
        features = conv_act(S.conv3x3_same(obs, params.kernel, params.bias))
        if channels_first:
            features = features.transpose(2, 0, 1)
        out = hidden_act(features.reshape(-1) @ params.w1 + params.b1) @ params.w2 + params.b2
        return out if out_act is None else out_act(out)

    return q


def unpack_little(packed, obs_shape):
    bits = jnp.unpackbits(packed, count=math.prod(obs_shape), bitorder="little")
    return bits.astype(jnp.float32).reshape(obs_shape)


WRONG = [
    # --- 1 · tabular: td0_update -------------------------------------------------------------
    ("td0_update", lambda *a: td0(*a, mask=lambda t: 1.0), "multiply the bootstrap by (1 - ter"),
    ("td0_update", lambda *a: td0(*a, mask=lambda t: t), "The mask is inverted"),
    (
        "td0_update",
        lambda *a: td0(*a, step=lambda q_sa, y, alpha: q_sa - alpha * (y - q_sa)),
        "The step goes the wrong way",
    ),
    (
        "td0_update",
        lambda *a: td0(*a, bootstrap=lambda q, s, a, s_next: q[s_next, a]),
        "Q[s_next, a], the same action",
    ),
    (
        "td0_update",
        lambda *a: td0(*a, bootstrap=lambda q, s, a, s_next: jnp.argmax(q[s_next])),
        "You used argmax, the index",
    ),
    ("td0_update", lambda *a: td0(*a, step=lambda q_sa, y, alpha: y), "fraction alpha"),
    ("td0_update", lambda *a: td0(*a[:7], 1.0), "forget gamma"),
    (
        "td0_update",
        lambda *a: td0(*a, bootstrap=lambda q, s, a, s_next: jnp.max(q)),
        "over the whole table",
    ),
    (
        "td0_update",
        lambda *a: td0(*a, bootstrap=lambda q, s, a, s_next: jnp.max(q[s])),
        "the current state s",
    ),
    ("td0_update", td0_python_if, "Multiply the bootstrap by (1 - terminated) instead"),
    (
        "td0_update",
        lambda q, s, a, r, t, s_next, alpha, gamma: q.at[s].add(
            alpha * (r + gamma * (1 - t) * jnp.max(q[s_next]) - q[s, a])
        ),
        "changed too",
    ),
    # --- 1 and 3 · epsilon_greedy ------------------------------------------------------------
    ("epsilon_greedy", lambda k, q, e: eps_greedy(k, q, e, greedy=jnp.argmin), "not argmin"),
    (
        "epsilon_greedy",
        lambda k, q, e: eps_greedy(k, q, e, explore_if=lambda coin, eps: coin > eps),
        "the comparison is reversed",
    ),
    ("epsilon_greedy", eps_never_greedy, "the greedy one included"),
    ("epsilon_greedy", eps_python_if, "jnp.where(explore, random_action"),
    ("epsilon_greedy", lambda k, q, e: eps_greedy(k, q, e, num_actions=4), "q_values.shape[-1]"),
    (
        "epsilon_greedy",
        lambda k, q, e: eps_greedy(k, q, e, num_actions=q.shape[-1] - 1),
        "upper bound is excluded",
    ),
    (
        "epsilon_greedy",
        lambda k, q, e: jnp.where(jax.random.uniform(k) < e, q[0], jnp.max(q)),
        "returned Q-values",
    ),
    # --- 2 · from tables to networks ---------------------------------------------------------
    (
        "monte_carlo_returns",
        lambda r, d, g: S.monte_carlo_returns(r, jnp.zeros_like(d), g),
        "across episode boundaries",
    ),
    ("monte_carlo_returns", lambda r, d, g: jnp.cumsum(r), "running sums of past rewards"),
    (
        "monte_carlo_returns",
        lambda r, d, g: S.monte_carlo_returns(r, d, 1.0),
        "forget to discount",
    ),
    ("monte_carlo_returns", lambda r, d, g: S.monte_carlo_returns(r, 1 - d, g), "mask is inver"),
    ("monte_carlo_returns", mc_unrolled, "unrolls a Python loop"),
    ("monte_carlo_returns", mc_forward_over_reversed, "in reverse time order"),
    ("semi_gradient_td_update", sg_residual, "residual gradient"),
    ("semi_gradient_td_update", lambda *a: sg(*a, keep=lambda d: 1.0), "(1 - done)"),
    ("semi_gradient_td_update", lambda *a: sg(*a, keep=lambda d: d), "The mask is inverted"),
    (
        "semi_gradient_td_update",
        lambda *a: sg(*a, direction=lambda phi, phi_next: 1.0),
        "gradient of v(s)",
    ),
    ("semi_gradient_td_update", lambda *a: sg(*a, scale=-1.0), "wrong way"),
    ("semi_gradient_td_update", sg_squared, "twice too large"),
    (
        "fqi_iteration",
        lambda *a: fqi(*a, action_mask=lambda actions, a: jnp.ones(actions.shape)),
        "(actions == a)",
    ),
    ("fqi_iteration", fqi_boolean_index, "Weight the rows instead"),
    (
        "fqi_iteration",
        lambda w, p, a, r, t, *rest: fqi(w, p, a, r, 0 * t, *rest),
        "terminal samples bootstrapped",
    ),
    (
        "fqi_iteration",
        lambda *a: fqi(*a, target=lambda q, actions: jnp.max(q, axis=0)),
        "take the max over axis 1",
    ),
    (
        "fqi_iteration",
        lambda *a: fqi(
            *a, target=lambda q, actions: jnp.take_along_axis(q, actions[:, None], 1)[:, 0]
        ),
        "the action taken at s",
    ),
    ("fqi_iteration", lambda *a: fqi(*a, stack_axis=0), "in the columns"),
    # --- 3 · DQN from scratch ----------------------------------------------------------------
    ("replay_add", lambda s, t: ring_add(s, t, size=lambda s, n, c: s.size + n), "Cap it"),
    (
        "replay_add",
        lambda s, t: ring_add(s, t, position=lambda s, n, c: s.position + n),
        "Wrap it",
    ),
    (
        "replay_add",
        lambda s, t: ring_add(s, t, slots=lambda s, n, c: s.position + jnp.arange(n)),
        "out-of-range writes",
    ),
    ("replay_add", ring_add_dynamic_slice, "lax.dynamic_update_slice"),
    (
        "replay_add",
        lambda s, t: ring_add(s, t, capacity=lambda s: len(s.storage)),
        "number of fields of a Transition",
    ),
    (
        "replay_add",
        lambda s, t: ring_add(s, t, size=lambda s, n, c: jnp.minimum(s.size + n, c) * 1.0),
        "changed the type",
    ),
    (
        "replay_sample",
        sample_with(lambda s, k, b: jax.random.randint(k, (b,), 0, s.storage.reward.shape[0])),
        "empty slots",
    ),
    (
        "replay_sample",
        sample_with(lambda s, k, b: jax.random.randint(k, (b,), 0, jnp.maximum(s.position, 1))),
        "not [0, position)",
    ),
    (
        "replay_sample",
        sample_with(lambda s, k, b: jax.random.choice(k, s.size, (b,))),
        "accepts a traced upper bound",
    ),
    (
        "replay_sample",
        sample_with(lambda s, k, b: jax.random.randint(k, (b,), 0, s.size - 1)),
        "upper bound is excluded",
    ),
    (
        "replay_sample",
        sample_with(lambda s, k, b: jax.random.randint(jax.random.key(0), (b,), 0, s.size)),
        "with the key it is given",
    ),
    (
        "replay_sample",
        lambda s, k, b: s.storage[jax.random.randint(k, (b,), 0, s.size)],
        "index every leaf",
    ),
    ("q_learning_target", lambda r, d, q: r + d * jnp.argmax(q), "You used argmax, the index"),
    ("q_learning_target", lambda r, d, q: r + d * q[0], "first action's value"),
    ("q_learning_target", lambda r, d, q: r + d * jnp.mean(q), "averaged over actions"),
    ("q_learning_target", lambda r, d, q: r + 0.99 * d * jnp.max(q), "already includes gamma"),
    ("q_learning_target", lambda r, d, q: r + d * q, "one scalar y per transition"),
    (
        "td_loss",
        lambda on, tg, st, b, g: S.td_loss(on, on, st, b, g),
        "bootstrapped from the online network",
    ),
    (
        "td_loss",
        td_loss_with(terminated=lambda b: jnp.ones_like(b.terminated)),
        "(1 - batch.terminated)",
    ),
    ("td_loss", td_loss_with(terminated=lambda b: 1 - b.truncated), "masked with batch.trunc"),
    (
        "td_loss",
        td_loss_with(terminated=lambda b: (1 - b.terminated) * (1 - b.truncated)),
        "Truncated transitions stopped bootstrapping",
    ),
    ("td_loss", td_loss_with(terminated=lambda b: b.terminated), "The mask is inverted"),
    ("td_loss", td_loss_with(gamma_factor=1.0), "forget gamma"),
    ("td_loss", td_loss_with(stop_gradient=False), "stop_gradient(y)"),
    ("td_loss", td_loss_with(predict=lambda q, b: q[:, b.action]), "(batch, batch)"),
    ("td_loss", td_loss_with(predict=lambda q, b: jnp.max(q, axis=1)), "of the action taken"),
    (
        "td_update",
        td_update_with(target=lambda online, target: online),
        "set to the new online parameters",
    ),
    (
        "td_update",
        td_update_with(apply=lambda p, u, g: jax.tree.map(lambda p, u: p - u, p, u)),
        "gradient ascent",
    ),
    ("td_update", td_update_with(apply=lambda p, u, g: p), "did not change"),
    ("td_update", td_update_with(new_opt_state="old"), "It is the old one"),
    ("td_update", td_update_with(loss_after=True), "loss after the step"),
    ("td_update", td_update_float_loss, "return the loss array"),
    ("sync_target", lambda o, t, tau: t, "the target unchanged"),
    ("sync_target", lambda o, t, tau: S.sync_target(t, o, tau), "roles are swapped"),
    ("sync_target", lambda o, t, tau: o, "Polyak average"),
    ("sync_target", sync_dict, "not a dict"),
    (
        "sync_target",
        lambda o, t, tau: jax.tree.map(lambda o, t: tau * o, o, t),
        "(1 - tau) * target term is missing",
    ),
    # --- 4 · beyond DQN ----------------------------------------------------------------------
    ("double_q_target", lambda r, d, qt, qo: r + d * jnp.max(qt), "plain DQN target"),
    ("double_q_target", lambda r, d, qt, qo: r + d * qo[jnp.argmax(qt)], "roles are swapped"),
    ("double_q_target", lambda r, d, qt, qo: r + d * jnp.argmax(qo), "an index, as if it were"),
    ("double_q_target", lambda r, d, qt, qo: r + d * jnp.max(qo), "online network's own value"),
    ("dueling_aggregate", lambda v, a: v[:, None] + a, "not identifiable"),
    (
        "dueling_aggregate",
        lambda v, a: v[:, None] + a - jnp.mean(a, axis=0, keepdims=True),
        "batch axis (axis=0)",
    ),
    (
        "dueling_aggregate",
        lambda v, a: v[:, None] + a - jnp.max(a, axis=-1, keepdims=True),
        "max baseline",
    ),
    ("dueling_aggregate", dueling_no_keepdims, "keepdims=True"),
    (
        "per_probabilities",
        lambda d, a, e: (d + e) ** a / jnp.sum((d + e) ** a),
        "magnitude |delta|",
    ),
    ("per_probabilities", lambda d, a, e: S.per_probabilities(d, a, 0.0), "never be replayed"),
    ("per_probabilities", lambda d, a, e: (jnp.abs(d) + e) ** a, "divide by their sum"),
    ("per_probabilities", per_python_if, "same formula covers alpha=0"),
    ("per_probabilities", lambda d, a, e: S.per_probabilities(d**2, a, e), "not delta**2"),
    ("importance_weights", lambda p, b: (p.shape[0] * p) ** -b, "largest weight"),
    ("importance_weights", lambda p, b: S.importance_weights(p, -b), "exponent is -beta"),
    (
        "importance_weights",
        lambda p, b: (p.shape[0] * p) ** -b / jnp.sum((p.shape[0] * p) ** -b),
        "not the sum",
    ),
    # --- 5 · seed sweeps ---------------------------------------------------------------------
    ("confidence_band", band_with(quantile=lambda n: 1.96), "Student-t quantile"),
    ("confidence_band", band_with(std=lambda c: jnp.std(c, axis=0)), "std(ddof=1)"),
    (
        "confidence_band",
        band_with(quantile=lambda n: homework.t_critical(n)),
        "degrees of freedom",
    ),
    ("confidence_band", band_with(divide=lambda n: n), "not std / n"),
    ("confidence_band", band_with(scale=2.0), "return the half-width"),
    ("confidence_band", band_with(axis=1), "of shape (3,)"),
    ("stack_hparams", lambda hps: list(hps), "one HParams"),
    ("stack_hparams", lambda hps: jax.tree.map(lambda *xs: jnp.stack(xs), hps), "Unpack it"),
    (
        "stack_hparams",
        lambda hps: jax.tree.map(lambda *xs: jnp.stack(xs).astype(jnp.float32), *hps),
        "changed dtype",
    ),
    # --- 6 · from pixels -----------------------------------------------------------------------
    ("conv3x3_same", lambda x, k, b: S.conv3x3_same(x, k, 0 * b), "bias is missing"),
    ("conv3x3_same", lambda x, k, b: S.conv3x3_same(x, k[::-1, ::-1], b), "flipped the kernel"),
    ("conv3x3_same", conv_with(order="ji"), "ordered (j, i)"),
    ("conv3x3_same", conv_with(stack=True), "(channel, tap)"),
    ("conv3x3_same", conv_with(valid=True), "VALID convolution"),
    ("conv3x3_same", conv_with(pad=((0, 2), (0, 2), (0, 0))), "padded on one side only"),
    ("conv3x3_same", conv_with(pad=((1, 1), (1, 1), (1, 1))), "pad only the two spatial axes"),
    ("conv3x3_same", conv_ten_by_ten, "take height, width and c_in from x.shape"),
    ("conv_q_values", q_with(conv_act=lambda x: x), "ReLU after the convolution"),
    ("conv_q_values", q_with(hidden_act=lambda x: x), "ReLU of the hidden layer"),
    ("conv_q_values", q_with(out_act=jax.nn.relu), "the last layer is linear"),
    ("conv_q_values", q_with(channels_first=True), "flattened the map channels first"),
    ("pack_observation", lambda o: jnp.packbits(o.reshape(-1)), "integers or booleans"),
    ("pack_observation", lambda o: jnp.packbits(o != 0, axis=-1), "along the last axis only"),
    ("pack_observation", lambda o: (o.reshape(-1) != 0).astype(jnp.uint8), "one per element"),
    (
        "pack_observation",
        lambda o: jnp.packbits(o.reshape(-1) != 0, bitorder="little"),
        "little-endian order",
    ),
    (
        "unpack_observation",
        lambda p, s: jnp.unpackbits(p).astype(jnp.float32).reshape(s),
        "keep only the first math.prod(obs_shape)",
    ),
    (
        "unpack_observation",
        lambda p, s: jnp.unpackbits(p, count=math.prod(s)).reshape(s),
        "the network sees float32",
    ),
    (
        "unpack_observation",
        lambda p, s: jnp.unpackbits(p, count=math.prod(s)).astype(jnp.float32),
        "reshape them to obs_shape",
    ),
    ("unpack_observation", unpack_little, "little-endian order"),
]


def _id(row) -> str:
    return f"{row[0]}:{row[2][:30]}"


@pytest.mark.parametrize(("name", "answer", "phrase"), WRONG, ids=[_id(r) for r in WRONG])
def test_a_wrong_answer_gets_its_hint(name, answer, phrase):
    message = rejection(CHECKED[name], answer)
    assert phrase in message, f"{phrase!r} not in message:\n{message}"


def test_the_table_covers_every_notebook():
    assert len(WRONG) >= 30
    assert {name for name, _, _ in WRONG} == set(CHECKED)


def test_no_hint_names_a_mistake_that_was_not_made():
    """Answers right except for something no hint describes get the failure without a hint."""
    message = rejection(
        homework.check_td0_update,
        lambda *a: td0(*a, step=lambda q_sa, y, alpha: q_sa + 0.3 * (y - q_sa)),
    )
    assert "Hint" not in message and "\n" in message and "target you used" not in message
    message = rejection(homework.check_sync_target, lambda o, t, tau: S.sync_target(o, t, 0.5))
    assert "swapped" not in message and "unchanged" not in message


def test_the_no_python_if_hint_speaks_of_a_mask_only_where_there_is_one():
    message = rejection(homework.check_epsilon_greedy, eps_python_if)
    assert "terminated" not in message and "jnp.where" in message
    message = rejection(homework.check_td0_update, td0_python_if)
    assert "(1 - terminated)" in message


# --------------------------------------------------------------------------------------------
# How a failure is shown
# --------------------------------------------------------------------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError("fill in td0_update")


def test_a_stub_gets_a_not_implemented_message_without_a_chained_traceback():
    with pytest.raises(CheckFailed) as info:
        homework.check_td0_update(stub)
    assert "`td0_update` is not implemented yet" in str(info.value)
    assert info.value.__context__ is None or info.value.__suppress_context__
    shown = "".join(traceback.format_exception(info.value))
    assert "During handling" not in shown and "fill in td0_update" not in shown


def test_a_crash_is_reported_with_its_type_and_no_chained_traceback():
    with pytest.raises(CheckFailed) as info:
        homework.check_td0_update(lambda q, s, a, r, t, s_next, alpha, gamma: q[s_next, :, 0])
    assert "raised IndexError" in str(info.value)
    assert "During handling" not in "".join(traceback.format_exception(info.value))


def test_in_ipython_a_failure_shows_only_its_message():
    error = CheckFailed("first line\nsecond line")
    assert error._render_traceback_() == ["CheckFailed: first line", "second line"]
    assert issubclass(CheckFailed, AssertionError)


def test_in_ipython_a_failing_check_cell_prints_no_traceback(capsys):
    """IPython's own traceback machinery, run on a cell whose check fails."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.user_ns.update(homework=homework, td0_update=stub)
        shell.run_cell("homework.check_td0_update(td0_update)")
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "CheckFailed: `td0_update` is not implemented yet" in text
    assert "Traceback" not in text and "homework" not in text.replace("homework.check", "")


# --------------------------------------------------------------------------------------------
# Details
# --------------------------------------------------------------------------------------------


def test_t_critical_matches_tables():
    assert homework.t_critical(1) == pytest.approx(12.706, abs=1e-2)
    assert homework.t_critical(3) == pytest.approx(3.182, abs=1e-3)
    assert homework.t_critical(31) == pytest.approx(2.040, abs=1e-3)


def test_a_check_runs_again_on_the_same_function(capsys):
    for _ in range(2):
        homework.check_confidence_band(S.confidence_band)
        assert capsys.readouterr().out.startswith("Passed")


def test_replay_sample_runs_under_jit_as_the_training_loop_calls_it(capsys):
    """The answer the issue found: fine eagerly, but it needs a concrete size."""

    def choice(state, key, batch_size):
        index = jax.random.choice(key, state.size, (batch_size,))
        return jax.tree.map(lambda s: s[index], state.storage)

    state = homework.dqn._empty_replay(8)._replace(size=jnp.int32(3))
    assert np.asarray(choice(state, jax.random.key(0), 4).reward).shape == (4,)  # eager: fine
    message = rejection(homework.check_replay_sample, choice)
    assert "ConcretizationTypeError" in message and "traced" in message
