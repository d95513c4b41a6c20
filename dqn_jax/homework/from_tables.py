"""Checks for notebook 2, from tables to networks: ``monte_carlo_returns``,
``semi_gradient_td_update`` and ``fqi_iteration``."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.homework._common import (
    _array,
    _call,
    _close,
    _diagnose,
    _fail,
    _fmt,
    _passed,
)


def _mc_reference(rewards, dones, gamma):
    def body(g_next, x):
        r, d = x
        g = r + gamma * (1.0 - d) * g_next
        return g, g

    _, g = jax.lax.scan(body, jnp.float32(0.0), (rewards, dones), reverse=True)
    return g


def check_monte_carlo_returns(fn: Callable[..., Array]) -> None:
    """Checks ``monte_carlo_returns(rewards, dones, gamma) -> returns``.

    ``rewards``, ``dones``: shape ``(T,)``, a stream of steps where ``dones[t] = 1`` marks the
    last step of an episode (the stream ends after its last step). Expected:
    ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}`` with ``G_T = 0``, shape ``(T,)``.
    """
    __tracebackhide__ = True
    name = "monte_carlo_returns"
    gamma = 0.9

    rewards = jnp.array([1.0, 0.0, 2.0, 1.0])
    dones = jnp.array([0.0, 0.0, 0.0, 1.0])
    want = _mc_reference(rewards, dones, gamma)
    got = _array(_call(fn, name, rewards, dones, gamma), name, "one return per step", (4,))
    if not _close(got, want):
        hint = _diagnose(
            got,
            [
                (
                    jnp.cumsum(rewards),
                    "These are running sums of past rewards. G_t looks "
                    "forward: the discounted sum of the rewards from t to the end of the episode "
                    "(scan backwards: jax.lax.scan(..., reverse=True)).",
                ),
                (
                    _mc_reference(rewards, dones, 1.0),
                    "Did you forget to discount? G_t = r_t + gamma * G_{t+1}.",
                ),
                (
                    jnp.cumsum(rewards * gamma ** jnp.arange(4)),
                    "These sums run forward from the "
                    "start; G_t is the discounted sum of the rewards from t onward.",
                ),
            ],
        )
        _fail(
            f"for one episode with rewards {_fmt(rewards)} and gamma={gamma} the returns should "
            f"be {_fmt(want)}, got {_fmt(got)}.{hint}"
        )

    rewards = jnp.ones(5)
    dones = jnp.array([0.0, 1.0, 0.0, 0.0, 1.0])
    want = _mc_reference(rewards, dones, gamma)
    got = _array(_call(fn, name, rewards, dones, gamma), name, "one return per step", (5,))
    if not _close(got, want):
        hint = ""
        if _close(got, _mc_reference(rewards, jnp.zeros(5), gamma)):
            hint = (
                "\nThe sum ran across the episode boundary at t=1: a return stops at the end "
                "of its episode, G_t = r_t + gamma * (1 - done_t) * G_{t+1}."
            )
        _fail(
            f"for a stream of two episodes (rewards {_fmt(rewards)}, dones {_fmt(dones)}, "
            f"gamma={gamma}) the returns should be {_fmt(want)}, got {_fmt(got)}.{hint}"
        )

    got = _call(jax.jit(fn), name, rewards, dones, jnp.float32(gamma))
    if not _close(got, want):
        _fail(f"`{name}` gives a different result under jax.jit; avoid Python control flow.")
    _passed(name, "computes discounted returns that stop at episode ends.")


def _semi_gradient_reference(w, phi, r, done, phi_next, alpha, gamma):
    target = r + gamma * (1.0 - done) * jnp.dot(phi_next, w)
    return w + alpha * (target - jnp.dot(phi, w)) * phi


def check_semi_gradient_td_update(fn: Callable[..., Array]) -> None:
    """Checks ``semi_gradient_td_update(w, phi, r, done, phi_next, alpha, gamma) -> w_new``.

    Linear values ``v(s) = phi(s) . w``; ``w``, ``phi``, ``phi_next``: shape ``(d,)``. Expected:
    ``delta = r + gamma * (1 - done) * phi_next . w - phi . w`` and ``w + alpha * delta * phi``
    (the target is a constant: no gradient through ``phi_next . w``).
    """
    __tracebackhide__ = True
    name = "semi_gradient_td_update"
    w = jnp.array([0.5, -1.0, 2.0])
    phi = jnp.array([1.0, 0.0, 0.5])
    phi_next = jnp.array([0.0, 1.0, 1.0])
    alpha, gamma = 0.1, 0.9

    for r, done in ((1.0, 0.0), (1.0, 1.0)):
        want = _semi_gradient_reference(w, phi, r, done, phi_next, alpha, gamma)
        got = _call(fn, name, w, phi, r, done, phi_next, alpha, gamma)
        got = _array(got, name, "the new weights", (3,))
        if _close(got, want):
            continue
        v, v_next = float(phi @ w), float(phi_next @ w)
        delta = r + gamma * (1 - done) * v_next - v
        hint = _diagnose(
            got,
            [
                (
                    w + alpha * delta * (phi - gamma * (1 - done) * phi_next),
                    "Your update also "
                    "moves the target r + gamma * v(s'): that is the residual gradient, not TD. "
                    "Semi-gradient TD treats the target as a constant; with jax.grad, wrap the "
                    "target in jax.lax.stop_gradient.",
                ),
                (
                    _semi_gradient_reference(w, phi, r, 0.0, phi_next, alpha, gamma),
                    "The "
                    "episode ended (done=1), so the target is just r: multiply the bootstrap by "
                    "(1 - done).",
                ),
                (
                    w - alpha * delta * phi,
                    "The step goes the wrong way: w + alpha * delta * phi "
                    "moves v(s) towards the target.",
                ),
                (
                    w + alpha * delta,
                    "The step must follow the gradient of v(s) = phi . w, which "
                    "is phi: w + alpha * delta * phi.",
                ),
            ],
        )
        _fail(
            f"with w={_fmt(w)}, phi={_fmt(phi)}, phi_next={_fmt(phi_next)}, r={r}, done={done}, "
            f"alpha={alpha}, gamma={gamma}: delta = {delta:.4g}, so the new weights should be "
            f"{_fmt(want)}, got {_fmt(got)}.{hint}"
        )
    _passed(name, "takes a semi-gradient TD(0) step with a constant, masked target.")


def _fqi_reference(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
    y = rewards + gamma * (1.0 - terminated) * jnp.max(phi_next @ weights, axis=1)

    def fit(a):
        m = (actions == a).astype(phi.dtype)
        gram = (phi * m[:, None]).T @ phi + ridge * jnp.eye(phi.shape[1])
        return jnp.linalg.solve(gram, phi.T @ (m * y))

    return jax.vmap(fit, out_axes=1)(jnp.arange(weights.shape[1]))


def check_fqi_iteration(fn: Callable[..., Array]) -> None:
    """Checks ``fqi_iteration(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge)``.

    ``weights``: ``(d, num_actions)``, ``Q(s, a) = phi(s) . weights[:, a]``; ``phi``,
    ``phi_next``: ``(N, d)``; ``actions``, ``rewards``, ``terminated``: ``(N,)``. Expected: the
    targets ``y = r + gamma * (1 - terminated) * max_a' Q(s', a')`` under the *old* weights, then
    for every action ``a`` the ridge regression of ``y`` on ``phi`` over the samples with action
    ``a``: ``(Phi_a^T Phi_a + ridge I)^{-1} Phi_a^T y_a``. Returns ``(d, num_actions)``.
    """
    __tracebackhide__ = True
    name = "fqi_iteration"
    rng = np.random.default_rng(1)
    n, d, num_actions = 12, 3, 2
    weights = jnp.asarray(rng.normal(size=(d, num_actions)), jnp.float32)
    phi = jnp.asarray(rng.uniform(0, 1, (n, d)), jnp.float32)
    phi_next = jnp.asarray(rng.uniform(0, 1, (n, d)), jnp.float32)
    actions = jnp.array([0, 1] * (n // 2), jnp.int32)
    rewards = jnp.asarray(rng.normal(size=n), jnp.float32)
    terminated = jnp.array([0.0] * (n - 3) + [1.0] * 3)
    gamma, ridge = 0.9, 0.5
    args = (weights, phi, actions, rewards, terminated, phi_next, gamma, ridge)

    want = _fqi_reference(*args)
    got = _array(_call(fn, name, *args), name, "the new weights", (d, num_actions))
    if _close(got, want):
        _passed(name, "regresses each action on its own samples towards masked max targets.")
        return
    y = rewards + gamma * (1 - terminated) * jnp.max(phi_next @ weights, axis=1)
    gram = phi.T @ phi + ridge * jnp.eye(d)
    all_samples = jnp.linalg.solve(gram, phi.T @ y)
    q_next_taken = jnp.take_along_axis(phi_next @ weights, actions[:, None], axis=1)[:, 0]
    hint = _diagnose(
        got,
        [
            (
                jnp.stack([all_samples] * num_actions, axis=1),
                "Every action got the same "
                "weights: each action's column must be fitted only on the samples where that "
                "action was taken (weight the rows by (actions == a)).",
            ),
            (
                _fqi_reference(
                    weights, phi, actions, rewards, 0 * terminated, phi_next, gamma, ridge
                ),
                "The terminal samples bootstrapped: mask the next value with (1 - terminated).",
            ),
            (
                _fqi_reference(weights, phi, actions, rewards, terminated, phi_next, gamma, 0.0),
                "Did you forget the ridge term? Solve (Phi_a^T Phi_a + ridge * I) w = Phi_a^T y_a.",
            ),
        ],
    )
    if not hint:
        sarsa = jax.vmap(
            lambda a: jnp.linalg.solve(
                (phi * (actions == a)[:, None]).T @ phi + ridge * jnp.eye(d),
                phi.T @ ((actions == a) * (rewards + gamma * (1 - terminated) * q_next_taken)),
            ),
            out_axes=1,
        )(jnp.arange(num_actions))
        hint = _diagnose(
            got,
            [
                (
                    sarsa,
                    "The target used Q(s', a) for the action taken at s; Q-iteration "
                    "bootstraps from the best next action: max over axis 1 of phi_next @ weights.",
                ),
            ],
        )
    _fail(
        f"on a dataset of {n} transitions (d={d} features, {num_actions} actions, gamma={gamma}, "
        f"ridge={ridge}) the new weights should be\n{_fmt(want)}\ngot\n{_fmt(got)}.{hint}"
    )
