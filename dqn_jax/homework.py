"""Checks for the course notebooks in ``notebooks/``: ``check_<name>(fn)`` tests a student's
``fn`` against a small reference implementation and explains what is wrong.

Every check either prints one line starting with ``"Passed"`` or raises :class:`CheckFailed`
(an ``AssertionError``) whose message names the case that failed, the value expected and the
value got, and where it can, the likely mistake (a missing terminal mask, a gradient through the
target, a max over the wrong axis, ...). A stub that still raises ``NotImplementedError`` gets
a "not implemented yet" message.

The references here are deliberately plain: one equation each, written for readability.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree

from dqn_jax.blocks import replay as replay_lib
from dqn_jax.blocks.networks import QNetwork
from dqn_jax.blocks.replay import ReplayState, Transition
from dqn_jax.blocks.update import QParams
from dqn_jax.config import DQNConfig, HParams
from dqn_jax.viz.stats import t_critical

__all__ = [
    "CheckFailed",
    "check_confidence_band",
    "check_double_q_target",
    "check_dueling_aggregate",
    "check_epsilon_greedy",
    "check_fqi_iteration",
    "check_importance_weights",
    "check_monte_carlo_returns",
    "check_per_probabilities",
    "check_q_learning_target",
    "check_replay_add",
    "check_replay_sample",
    "check_semi_gradient_td_update",
    "check_stack_hparams",
    "check_sync_target",
    "check_td0_update",
    "check_td_loss",
    "check_td_update",
    "t_critical",
]


class CheckFailed(AssertionError):  # noqa: N818 (the name students see)
    """Raised by a ``check_*`` function; the message says what went wrong and how to fix it."""


# --------------------------------------------------------------------------------------------
# Plumbing shared by the checks
# --------------------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    __tracebackhide__ = True  # IPython and pytest hide this frame: the message is the point
    raise CheckFailed(message)


def _passed(name: str, what: str) -> None:
    print(f"Passed: {name} {what}")


def _hint_for(error: Exception) -> str:
    if isinstance(
        error, (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError)
    ):
        return (
            "\nHint: the function runs under jax.jit / jax.vmap / lax.scan, where its inputs are "
            "traced arrays without concrete values. Replace a Python `if` on an array by "
            "arithmetic (e.g. multiply by (1 - terminated)) or jnp.where."
        )
    if isinstance(error, jax.errors.TracerIntegerConversionError):
        return (
            "\nHint: an index or size was computed from a traced array; keep shapes static "
            "(e.g. pass batch_size as a Python int) and index with arrays."
        )
    if isinstance(error, TypeError) and "shape" in str(error).lower():
        return "\nHint: check the shapes and the axis of every reduction (max, mean, sum)."
    return ""


def _call(fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
    """Calls the student's function; turns a stub or a crash into a readable CheckFailed."""
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _fail(
            f"`{name}` is not implemented yet: fill in its body (replace the "
            f"`raise NotImplementedError`), run that cell, then run this check again."
        )
    except CheckFailed:
        raise
    except Exception as error:  # the student's code crashed: say how, not where in JAX
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _fail(f"calling `{name}` raised {type(error).__name__}: {message}{_hint_for(error)}")


def _array(value: Any, name: str, what: str, shape: tuple[int, ...]) -> np.ndarray:
    __tracebackhide__ = True
    try:
        out = np.asarray(value)
    except Exception:
        _fail(f"`{name}` should return {what} (an array of shape {shape}), got {type(value)}")
    if out.shape != shape:
        _fail(f"`{name}` should return {what} of shape {shape}, got shape {out.shape}")
    if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        _fail(f"`{name}` returned non-finite values (NaN or inf) for {what}: {_fmt(out)}")
    return out


def _close(a: Any, b: Any, tol: float = 1e-4) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def _fmt(x: Any) -> str:
    x = np.asarray(x)
    if x.ndim == 0:
        return f"{float(x):.4g}"
    return np.array2string(np.asarray(x, np.float64), precision=4, suppress_small=True)


def _diagnose(got: Any, candidates: Sequence[tuple[Any, str]]) -> str:
    """The message of the first known mistake whose result matches ``got``, else ''."""
    for value, message in candidates:
        if _close(got, value):
            return "\n" + message
    return ""


# --------------------------------------------------------------------------------------------
# 01: tabular Q-learning
# --------------------------------------------------------------------------------------------


def _td0_reference(q, s, a, r, terminated, s_next, alpha, gamma):
    target = r + gamma * (1.0 - terminated) * jnp.max(q[s_next])
    return q.at[s, a].add(alpha * (target - q[s, a]))


def check_td0_update(fn: Callable[..., Array]) -> None:
    """Checks ``td0_update(q, s, a, r, terminated, s_next, alpha, gamma) -> q_new``.

    ``q``: the table, shape ``(num_states, num_actions)``; the rest are scalars, ``terminated``
    a float 0.0 or 1.0. Expected: ``Q[s, a] += alpha * (r + gamma * (1 - terminated) *
    max_a' Q[s_next, a'] - Q[s, a])`` and every other entry unchanged.
    """
    __tracebackhide__ = True
    name = "td0_update"
    q = jnp.asarray(np.round(np.random.default_rng(0).uniform(-1, 2, (6, 4)), 2), jnp.float32)
    q = q.at[3].set(jnp.array([0.5, 1.5, -0.5, 0.25])).at[0].set(jnp.array([2.0, 1.0, 0.0, 0.5]))
    alpha, gamma = 0.5, 0.9

    # A step inside an episode.
    s, a, r, s_next = 1, 2, -1.0, 3
    want = _td0_reference(q, s, a, r, 0.0, s_next, alpha, gamma)
    got = _array(_call(fn, name, q, s, a, r, 0.0, s_next, alpha, gamma), name, "the table", (6, 4))
    changed = np.argwhere(~np.isclose(got, np.asarray(q)))
    others = [tuple(int(i) for i in ij) for ij in changed if tuple(ij) != (s, a)]
    if others:
        _fail(
            f"only Q[s, a] = Q[{s}, {a}] may change in a TD(0) update, but entries {others} "
            f"changed too. Update one entry: q.at[s, a].set(...) or q.at[s, a].add(...)."
        )
    if not _close(got[s, a], want[s, a]):
        q_sa, best_next = float(q[s, a]), float(jnp.max(q[s_next]))
        target = r + gamma * best_next
        implied = q_sa + (float(got[s, a]) - q_sa) / alpha
        hint = _diagnose(
            got[s, a],
            [
                (
                    target,
                    "It looks like Q[s, a] was set to the target itself. TD(0) moves it a "
                    "fraction alpha of the way: Q[s, a] + alpha * (target - Q[s, a]).",
                ),
                (
                    q_sa - alpha * (target - q_sa),
                    "The step goes the wrong way: Q[s, a] moves "
                    "towards the target, Q[s, a] + alpha * (target - Q[s, a]).",
                ),
                (
                    q_sa + alpha * (r + gamma * float(q[s_next, a]) - q_sa),
                    "You bootstrapped from "
                    "Q[s_next, a], the same action; Q-learning bootstraps from the best next "
                    "action, "
                    "max over a' of Q[s_next, a'].",
                ),
                (
                    q_sa + alpha * (r + gamma * float(jnp.max(q[s])) - q_sa),
                    "You bootstrapped from "
                    "the current state s; the target uses the next state: max_a' Q[s_next, a'].",
                ),
                (
                    q_sa + alpha * (r + best_next - q_sa),
                    "Did you forget gamma? The target is r + gamma * max_a' Q[s_next, a'].",
                ),
                (
                    q_sa + alpha * (r + gamma * float(jnp.max(q)) - q_sa),
                    "The max ran over the "
                    "whole table; take it over the actions of the next state only: "
                    "jnp.max(q[s_next]).",
                ),
            ],
        )
        _fail(
            f"for a non-terminal step (s={s}, a={a}, r={r}, s_next={s_next}, alpha={alpha}, "
            f"gamma={gamma}) Q[{s}, {a}] should become {_fmt(want[s, a])} (target "
            f"r + gamma * max_a' Q[s_next, a'] = {target:.4g}), got {_fmt(got[s, a])} "
            f"(the target you used was {implied:.4g}).{hint}"
        )

    # The last step of an episode: the next state's values must not count.
    s, a, r, s_next = 4, 0, 1.0, 0
    want = _td0_reference(q, s, a, r, 1.0, s_next, alpha, gamma)
    got = _array(_call(fn, name, q, s, a, r, 1.0, s_next, alpha, gamma), name, "the table", (6, 4))
    if not _close(got[s, a], want[s, a]):
        q_sa = float(q[s, a])
        implied = q_sa + (float(got[s, a]) - q_sa) / alpha
        mask_hint = ""
        if _close(implied, r + gamma * float(jnp.max(q[s_next]))):
            mask_hint = " Did you mask the bootstrap with (1 - terminated)?"
        _fail(
            f"the target for a terminal transition should be r={r} (nothing follows the end of "
            f"an episode), got {implied:.4g}: Q[{s}, {a}] should become {_fmt(want[s, a])}, got "
            f"{_fmt(got[s, a])}.{mask_hint}"
        )

    # Inside lax.scan every argument is a traced array.
    traced = _call(
        jax.jit(fn),
        name,
        q,
        jnp.int32(1),
        jnp.int32(2),
        jnp.float32(-1.0),
        jnp.float32(0.0),
        jnp.int32(3),
        jnp.float32(alpha),
        jnp.float32(gamma),
    )
    if not _close(traced, _td0_reference(q, 1, 2, -1.0, 0.0, 3, alpha, gamma)):
        _fail(f"`{name}` gives a different result under jax.jit; avoid Python control flow.")
    _passed(name, "updates Q[s, a] by TD(0), masks terminal bootstraps and works under jax.jit.")


def check_epsilon_greedy(fn: Callable[..., Array]) -> None:
    """Checks ``epsilon_greedy(key, q_values, epsilon) -> action``.

    ``q_values``: shape ``(num_actions,)``. Expected: with probability ``epsilon`` an action drawn
    uniformly from all actions (the greedy one included), else ``argmax q_values``; an integer
    scalar; usable under ``jax.vmap`` over keys.
    """
    __tracebackhide__ = True
    name = "epsilon_greedy"
    q = jnp.array([0.1, 0.5, -0.2, 0.3])
    greedy, num_actions, n = 1, 4, 4000
    keys = jax.random.split(jax.random.key(0), n)

    batched = jax.jit(jax.vmap(fn, in_axes=(0, None, None)))

    def draw(q_values: Array, epsilon: float) -> np.ndarray:
        out = _call(batched, name, keys, q_values, jnp.float32(epsilon))
        out = _array(out, name, f"one action per key under jax.vmap ({n} keys)", (n,))
        if out.dtype.kind not in "iu":
            _fail(f"`{name}` should return an integer action, got dtype {out.dtype}")
        if out.min() < 0 or out.max() >= num_actions:
            _fail(f"`{name}` returned actions outside [0, {num_actions}): {sorted(set(out))}")
        return out

    for q_values in (q, jnp.array([0.0, -1.0, 2.0, 1.0])):
        best = int(jnp.argmax(q_values))
        share = float(np.mean(draw(q_values, 0.0) == best))
        if share < 1.0:
            flipped = (
                " Is the comparison reversed? Explore when uniform < epsilon."
                if share < 0.5
                else ""
            )
            _fail(
                f"with epsilon=0 the action must always be the greedy one, argmax Q = {best} for "
                f"Q = {_fmt(q_values)}; it was chosen in {share:.0%} of {n} calls.{flipped}"
            )

    freq = np.bincount(draw(q, 1.0), minlength=num_actions) / n
    if freq[greedy] < 0.1:
        _fail(
            f"with epsilon=1 the greedy action should still come up about 1/{num_actions} of the "
            f"time (a random action is uniform over all {num_actions} actions, the greedy one "
            f"included), got {freq[greedy]:.1%}. Draw the random action with "
            f"jax.random.randint(key, (), 0, num_actions)."
        )
    if np.max(np.abs(freq - 1 / num_actions)) > 0.04:
        _fail(
            f"with epsilon=1 every action should be chosen about 25% of the time, got "
            f"frequencies {np.round(freq, 3).tolist()}."
        )

    share = float(np.mean(draw(q, 0.5) == greedy))
    want = 1 - 0.5 + 0.5 / num_actions
    if abs(share - want) > 0.04:
        hint = ""
        if abs(share - 0.5) < 0.04:
            hint = " (0.5 means the random action never repeats the greedy one.)"
        if abs(share - (0.5 / num_actions)) < 0.04 or abs(share - 0.375) < 0.04:
            hint = " Is the comparison reversed? Explore when uniform < epsilon."
        _fail(
            f"with epsilon=0.5 the greedy action should be chosen with probability "
            f"1 - eps + eps/|A| = {want:.3f}, got {share:.3f} over {n} keys.{hint} Use two "
            f"independent keys (jax.random.split) for the coin flip and the random action."
        )
    _passed(name, "is greedy at epsilon=0, uniform at epsilon=1, and right in between.")


# --------------------------------------------------------------------------------------------
# 02: from tables to networks
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# 03: DQN from scratch
# --------------------------------------------------------------------------------------------


def _example_transitions(start: int, n: int, obs_dim: int = 2) -> Transition:
    """``n`` transitions whose fields are marked with their number ``start + i`` (from 1)."""
    marks = jnp.arange(start, start + n, dtype=jnp.float32) + 1.0
    return Transition(
        obs=jnp.stack([marks] * obs_dim, axis=1),
        action=marks.astype(jnp.int32),
        reward=marks * 10.0,
        terminated=jnp.zeros(n),
        truncated=jnp.zeros(n),
        next_obs=jnp.stack([-marks] * obs_dim, axis=1),
    )


def _empty_replay(capacity: int) -> ReplayState:
    example = jax.tree.map(lambda x: x[0], _example_transitions(0, 1))
    return replay_lib.init(example, capacity)


def _replay_fields(state: Any, name: str) -> tuple[Transition, int, int]:
    __tracebackhide__ = True
    try:
        return state.storage, int(state.position), int(state.size)
    except Exception:
        _fail(
            f"`{name}` should return a ReplayState(storage, position, size), got "
            f"{type(state).__name__}"
        )


def check_replay_add(fn: Callable[..., Any]) -> None:
    """Checks ``replay_add(state, transitions) -> state``.

    ``state``: a :class:`~dqn_jax.replay.ReplayState` whose storage leaves have a leading
    ``capacity`` axis; ``transitions``: a :class:`~dqn_jax.replay.Transition` of ``n`` steps
    (leading axis ``n``). Expected: slots ``(position + i) % capacity`` written, ``position``
    advanced modulo capacity, ``size`` capped at capacity.
    """
    __tracebackhide__ = True
    name = "replay_add"
    capacity = 5
    state, oracle = _empty_replay(capacity), _empty_replay(capacity)
    added = 0
    for n in (3, 3, 4):
        batch = _example_transitions(added, n)
        state = _call(fn, name, state, batch)
        oracle = replay_lib.add(oracle, batch)
        added += n
        storage, position, size = _replay_fields(state, name)
        _, want_position, want_size = _replay_fields(oracle, name)
        where = (
            f"after adding {added} transitions in batches of (3, 3, 4) to a buffer of "
            f"capacity {capacity}"
        )
        if size != want_size:
            hint = " Cap it: jnp.minimum(size + n, capacity)." if size > capacity else ""
            _fail(f"{where}, size should be {want_size}, got {size}.{hint}")
        if position != want_position:
            hint = " Wrap it: (position + n) % capacity." if position >= capacity else ""
            _fail(
                f"{where}, position (the next slot to write) should be {want_position}, got "
                f"{position}.{hint}"
            )
        got_marks = np.asarray(storage.reward) / 10.0
        want_marks = np.asarray(oracle.storage.reward) / 10.0
        if got_marks.shape != want_marks.shape:
            _fail(
                f"{where}, the storage should keep its shape (capacity {capacity} first), got "
                f"reward storage of shape {got_marks.shape}"
            )
        if not np.array_equal(got_marks, want_marks):
            hint = ""
            if added > capacity:
                hint = (
                    " Once the buffer is full the newest transitions overwrite the oldest: write "
                    "to slots (position + jnp.arange(n)) % capacity."
                )
            _fail(
                f"{where}, the slots should hold transitions number "
                f"{want_marks.astype(int).tolist()} "
                f"(0 = empty), got {got_marks.astype(int).tolist()}.{hint}"
            )
        for field in ("obs", "action", "next_obs"):
            if not np.array_equal(getattr(storage, field), getattr(oracle.storage, field)):
                _fail(f"{where}, the `{field}` storage is wrong: write every field of the batch.")
    jitted = _call(jax.jit(fn), name, _empty_replay(capacity), _example_transitions(0, 3))
    if int(jitted.size) != 3:
        _fail(f"`{name}` gives a different result under jax.jit; avoid Python control flow.")
    _passed(name, "writes a ring buffer that wraps round and caps its size.")


def check_replay_sample(fn: Callable[..., Any]) -> None:
    """Checks ``replay_sample(state, key, batch_size) -> Transition``.

    Expected: ``batch_size`` transitions drawn uniformly with replacement among the written slots
    ``[0, size)``, each leaf with leading axis ``batch_size``.
    """
    __tracebackhide__ = True
    name = "replay_sample"
    capacity, batch_size = 8, 4000

    def marks_of(state: ReplayState, key: Array) -> np.ndarray:
        batch = _call(fn, name, state, key, batch_size)
        try:
            reward, obs = np.asarray(batch.reward), np.asarray(batch.obs)
        except AttributeError:
            _fail(f"`{name}` should return a Transition, got {type(batch).__name__}")
        if reward.shape != (batch_size,) or obs.shape != (batch_size, 2):
            _fail(
                f"`{name}(state, key, {batch_size})` should return leaves with leading axis "
                f"{batch_size} (reward {(batch_size,)}, obs {(batch_size, 2)}), got reward "
                f"{reward.shape} and obs {obs.shape}"
            )
        if not np.array_equal(obs[:, 0] * 10.0, reward):
            _fail(f"`{name}` mixed fields of different transitions: index every leaf the same way.")
        return (reward / 10.0).astype(int)

    partial = replay_lib.add(_empty_replay(capacity), _example_transitions(0, 3))
    marks = marks_of(partial, jax.random.key(0))
    if (marks == 0).any():
        _fail(
            f"with 3 transitions in a buffer of capacity {capacity}, {np.mean(marks == 0):.0%} of "
            f"the samples were empty slots: draw indices in [0, size), not [0, capacity)."
        )
    freq = np.bincount(marks, minlength=4)[1:] / batch_size
    if np.max(np.abs(freq - 1 / 3)) > 0.05:
        _fail(
            f"with 3 transitions stored each should be drawn about 1/3 of the time, got "
            f"{np.round(freq, 3).tolist()}: sample uniformly with jax.random.randint."
        )
    again = marks_of(partial, jax.random.key(1))
    if np.array_equal(marks, again):
        _fail(f"`{name}` returned the same samples for two different keys: use the key.")

    wrapped = _empty_replay(capacity)
    for start in (0, 6):
        wrapped = replay_lib.add(wrapped, _example_transitions(start, 6))  # position 4, size 8
    marks = marks_of(wrapped, jax.random.key(2))
    present = sorted(set(marks.tolist()))
    if len(present) != capacity:
        _fail(
            f"after 12 transitions in a buffer of capacity {capacity} (it wrapped round: "
            f"position=4, size={capacity}), every slot holds data, but only transitions "
            f"{present} were drawn: draw indices in [0, size), not [0, position)."
        )
    _passed(name, "draws uniformly among the written slots.")


def _q_target_reference(r, discount, q_next):
    return r + discount * jnp.max(q_next)


def check_q_learning_target(fn: Callable[..., Array]) -> None:
    """Checks ``q_learning_target(r, discount, q_next) -> y`` for ONE transition.

    ``r``, ``discount``: scalars (``discount = gamma * (1 - terminated)``, gamma included);
    ``q_next``: ``(num_actions,)`` target-network values at the next observation. Expected:
    ``y = r + discount * max_a q_next[a]``, a scalar; batches come from ``jax.vmap``.
    """
    __tracebackhide__ = True
    name = "q_learning_target"
    q_next = jnp.array([1.0, 3.0, -2.0, 0.5])
    for r, discount in ((0.5, 0.99), (1.0, 0.0)):
        want = _q_target_reference(r, discount, q_next)
        got = _array(_call(fn, name, jnp.float32(r), jnp.float32(discount), q_next), name, "y", ())
        if _close(got, want):
            continue
        hint = _diagnose(
            got,
            [
                (
                    r + discount * jnp.mean(q_next),
                    "You averaged over actions; Q-learning takes the max: jnp.max(q_next).",
                ),
                (
                    r + discount * q_next[0],
                    "You used the first action's value; take the max "
                    "over all actions: jnp.max(q_next).",
                ),
                (
                    r + 0.99 * discount * jnp.max(q_next),
                    "`discount` already includes gamma: do not multiply by gamma again.",
                ),
                (
                    r + (1 - discount) * jnp.max(q_next),
                    "`discount` is the bootstrap factor "
                    "gamma * (1 - terminated) itself: y = r + discount * max q_next.",
                ),
                (
                    r + 0.99 * jnp.max(q_next),
                    "The episode ended (discount=0): the target is r. "
                    "Use the `discount` argument, which is 0 after a termination.",
                ),
            ],
        )
        _fail(
            f"with r={r}, discount={discount} and q_next={_fmt(q_next)}, y should be "
            f"{_fmt(want)}, got {_fmt(got)}.{hint}"
        )
    batch_q = jnp.array([[1.0, 3.0], [0.0, -1.0], [2.0, 2.5]])
    r, d = jnp.array([0.0, 1.0, -1.0]), jnp.array([0.9, 0.0, 0.5])
    got = _call(jax.vmap(fn), name, r, d, batch_q)
    want = jax.vmap(_q_target_reference)(r, d, batch_q)
    if not _close(got, want):
        _fail(
            f"under jax.vmap over a batch of 3 transitions the targets should be {_fmt(want)}, "
            f"got {_fmt(got)}: write the function for one transition (q_next of shape "
            f"(num_actions,)) and take the max over its only axis."
        )
    _passed(name, "computes r + discount * max_a Q_target(s', a) for one transition.")


def _td_problem() -> tuple[PyTree, PyTree, PyTree, Transition, float]:
    online_net = QNetwork(3, 4, (8,), key=jax.random.key(0))
    target_net = QNetwork(3, 4, (8,), key=jax.random.key(1))
    online, static = eqx.partition(online_net, eqx.is_array)
    target, _ = eqx.partition(target_net, eqx.is_array)
    k1, k2, k3 = jax.random.split(jax.random.key(2), 3)
    n = 6
    batch = Transition(
        obs=jax.random.normal(k1, (n, 3)),
        action=jnp.array([0, 1, 2, 3, 1, 2], jnp.int32),
        reward=jax.random.normal(k2, (n,)),
        terminated=jnp.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
        truncated=jnp.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
        next_obs=jax.random.normal(k3, (n, 3)),
    )
    return online, target, static, batch, 0.9


def _td_loss_variant(
    online: PyTree,
    target: PyTree,
    static: PyTree,
    batch: Transition,
    gamma: float,
    *,
    bootstrap_online: bool = False,
    mask: str = "terminated",
    reduce: str = "mean",
    half: bool = True,
    q_of: str = "action",
) -> Float[Array, ""]:
    """The TD loss and its usual misspellings (the reference is the all-default call)."""
    online_net = eqx.combine(online, static)
    boot_net = online_net if bootstrap_online else eqx.combine(target, static)
    q = jax.vmap(online_net)(batch.obs)
    q_a = {
        "action": jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0],
        "max": jnp.max(q, axis=1),
        "mean": jnp.mean(q, axis=1),
    }[q_of]
    alive = {
        "terminated": 1.0 - batch.terminated,
        "none": jnp.ones_like(batch.terminated),
        "both": (1.0 - batch.terminated) * (1.0 - batch.truncated),
    }[mask]
    y = batch.reward + gamma * alive * jnp.max(jax.vmap(boot_net)(batch.next_obs), axis=1)
    sq = (jax.lax.stop_gradient(y) - q_a) ** 2 * (0.5 if half else 1.0)
    return jnp.mean(sq) if reduce == "mean" else jnp.sum(sq)


def check_td_loss(fn: Callable[..., Array]) -> None:
    """Checks ``td_loss(online_params, target_params, static, batch, gamma) -> loss``.

    ``static`` is the non-array part of the Q-network (``eqx.partition``); ``batch`` a
    :class:`~dqn_jax.replay.Transition` with leading axis ``batch``. Expected: ``y = r + gamma *
    (1 - terminated) * max_a Q_target(s', a)`` (truncation keeps bootstrapping), ``delta = y -
    Q_online(s, a)`` for the action taken, ``loss = mean(0.5 * delta**2)``, and no gradient into
    the target parameters.
    """
    __tracebackhide__ = True
    name = "td_loss"
    online, target, static, batch, gamma = _td_problem()
    want = _td_loss_variant(online, target, static, batch, gamma)
    got = _array(
        _call(jax.jit(fn), name, online, target, static, batch, gamma), name, "the loss", ()
    )
    if not _close(got, want):
        variants = [
            (
                dict(bootstrap_online=True),
                "The target bootstrapped from the online network. Use "
                "the target network: Q_target(s', .) = vmap(eqx.combine(target_params, static)).",
            ),
            (
                dict(mask="none"),
                "Terminal transitions bootstrapped: multiply the next value by "
                "(1 - batch.terminated).",
            ),
            (
                dict(mask="both"),
                "Truncated transitions stopped bootstrapping. Truncation (a time "
                "limit) is not termination: only batch.terminated masks the bootstrap.",
            ),
            (dict(half=False), "The loss is 0.5 * delta**2 (the 1/2 makes its gradient delta)."),
            (
                dict(reduce="sum"),
                "Average over the batch (jnp.mean), do not sum: the step size "
                "would grow with the batch size.",
            ),
            (
                dict(q_of="max"),
                "The prediction is Q_online(s, a) of the action taken "
                "(batch.action), not max_a Q_online(s, a): use jnp.take_along_axis or "
                "q[jnp.arange(batch_size), batch.action].",
            ),
            (
                dict(q_of="mean"),
                "The prediction is Q_online(s, a) of the action taken, not an "
                "average over actions.",
            ),
        ]
        hint = _diagnose(
            got,
            [
                (_td_loss_variant(online, target, static, batch, gamma, **kw), msg)
                for kw, msg in variants
            ],
        )
        _fail(
            f"on a batch of 6 transitions the loss should be {_fmt(want)}, got {_fmt(got)}.{hint}"
        )

    grad_target = _call(
        jax.jit(jax.grad(fn, argnums=1)), name, online, target, static, batch, gamma
    )
    if max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grad_target)) > 0:
        _fail(
            "the gradient of your loss flows into target_params: the target y is a constant for "
            "the update. Wrap it in jax.lax.stop_gradient(y)."
        )
    grads = _call(jax.jit(jax.grad(fn)), name, online, target, static, batch, gamma)
    want_grads = jax.jit(jax.grad(_td_loss_variant))(online, target, static, batch, gamma)
    if not all(
        _close(a, b)
        for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads), strict=True)
    ):
        _fail(
            "the loss value is right but its gradient with respect to online_params is not: "
            "stop the gradient at the target (jax.lax.stop_gradient(y)) and differentiate only "
            "the prediction Q_online(s, a)."
        )
    _passed(name, "is the mean of 0.5 * (y - Q(s, a))**2 with a constant, masked target.")


def check_td_update(fn: Callable[..., Any]) -> None:
    """Checks ``td_update(params, opt_state, batch, gamma, *, static, optimizer)``.

    ``params``: :class:`~dqn_jax.update.QParams` ``(online, target)``; ``optimizer`` an optax
    ``GradientTransformation`` whose state ``opt_state`` is. Expected: one optimizer step on
    the online parameters along the gradient of the TD loss, the target unchanged; returns
    ``(QParams, new_opt_state, loss before the step)``.
    """
    __tracebackhide__ = True
    name = "td_update"
    online, target, static, batch, gamma = _td_problem()
    optimizer = optax.sgd(0.1)
    params = QParams(online, target)
    opt_state = optimizer.init(online)

    def call(p: QParams, o: Any, b: Transition) -> Any:
        return fn(p, o, b, gamma, static=static, optimizer=optimizer)

    out = _call(jax.jit(call), name, params, opt_state, batch)
    if not (isinstance(out, tuple) and len(out) == 3):
        _fail(f"`{name}` should return a tuple (params, opt_state, loss), got {type(out).__name__}")
    new_params, _, loss = out
    if not hasattr(new_params, "online") or not hasattr(new_params, "target"):
        _fail(
            f"`{name}` should return QParams(online, target) first, got {type(new_params).__name__}"
        )

    want_loss, grads = jax.value_and_grad(_td_loss_variant)(online, target, static, batch, gamma)
    if not _close(loss, want_loss):
        _fail(
            f"the loss returned should be the TD loss before the step, {_fmt(want_loss)}, got "
            f"{_fmt(loss)}. Compute it with td_loss on the online parameters (check td_loss "
            f"first if its check has not passed)."
        )
    leaves = lambda tree: jax.tree.leaves(tree)  # noqa: E731
    if not all(
        _close(a, b) for a, b in zip(leaves(new_params.target), leaves(target), strict=True)
    ):
        _fail(
            "the target parameters changed: td_update takes a gradient step on the online "
            "parameters only; the target moves only when sync_target copies the online network."
        )
    want_online = optax.apply_updates(online, jax.tree.map(lambda g: -0.1 * g, grads))
    if all(_close(a, b) for a, b in zip(leaves(new_params.online), leaves(online), strict=True)):
        _fail(
            "the online parameters did not change: apply the optimizer's updates with "
            "optax.apply_updates(params.online, updates)."
        )
    ascent = optax.apply_updates(online, jax.tree.map(lambda g: 0.1 * g, grads))
    if all(_close(a, b) for a, b in zip(leaves(new_params.online), leaves(ascent), strict=True)):
        _fail(
            "the online parameters moved up the loss (gradient ascent). optimizer.update "
            "already negates the gradient: updates, opt_state = optimizer.update(grads, "
            "opt_state, params.online); online = optax.apply_updates(params.online, updates)."
        )
    if not all(
        _close(a, b) for a, b in zip(leaves(new_params.online), leaves(want_online), strict=True)
    ):
        _fail(
            "with optax.sgd(0.1) the online parameters should move by -0.1 * gradient of the TD "
            "loss, but they moved differently: differentiate td_loss with respect to "
            "params.online (jax.grad(td_loss)(params.online, params.target, ...)) and apply "
            "the optimizer's updates once."
        )
    _passed(name, "takes one optimizer step on the online parameters and leaves the target.")


def check_sync_target(fn: Callable[..., PyTree]) -> None:
    """Checks ``sync_target(online, target, tau) -> new_target`` on parameter pytrees.

    Expected: ``tau * online + (1 - tau) * target`` leaf by leaf (``tau = 1`` is a hard copy).
    """
    __tracebackhide__ = True
    name = "sync_target"
    online = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "b": jnp.array([1.0, -1.0])}
    target = {"w": jnp.zeros((2, 2)), "b": jnp.array([5.0, 5.0])}
    for tau in (1.0, 0.25):
        want = jax.tree.map(lambda o, t, tau=tau: tau * o + (1 - tau) * t, online, target)
        got = _call(jax.jit(fn), name, online, target, jnp.float32(tau))
        try:
            ok = all(_close(got[k], want[k]) for k in want)
        except Exception:
            _fail(f"`{name}` should return a pytree like its inputs (here a dict with w and b)")
        if ok:
            continue
        swapped = jax.tree.map(lambda o, t, tau=tau: tau * t + (1 - tau) * o, online, target)
        hint = ""
        if all(_close(got[k], swapped[k]) for k in want):
            hint = " The roles are swapped: tau weights the online parameters."
        elif all(_close(got[k], online[k]) for k in want):
            hint = " You returned the online parameters: with tau < 1 it is a Polyak average."
        _fail(
            f"with tau={tau} the new target should be tau * online + (1 - tau) * target = "
            f"{jax.tree.map(lambda x: np.asarray(x).tolist(), want)}, got "
            f"{jax.tree.map(lambda x: np.asarray(x).tolist(), got)}.{hint} Use "
            f"jax.tree.map(lambda o, t: tau * o + (1 - tau) * t, online, target)."
        )
    _passed(name, "copies (tau=1) or Polyak-averages (tau<1) every leaf.")


# --------------------------------------------------------------------------------------------
# 04: beyond DQN
# --------------------------------------------------------------------------------------------


def check_double_q_target(fn: Callable[..., Array]) -> None:
    """Checks ``double_q_target(r, discount, q_next_target, q_next_online) -> y`` (one transition).

    Expected: ``a* = argmax_a q_next_online[a]`` and ``y = r + discount * q_next_target[a*]``:
    the online network selects, the target network evaluates.
    """
    __tracebackhide__ = True
    name = "double_q_target"
    q_target = jnp.array([1.0, 3.0, 2.0, 0.5])
    q_online = jnp.array([0.2, 0.1, 0.9, 0.3])
    r, discount = 0.5, 0.9
    want = r + discount * q_target[jnp.argmax(q_online)]
    got = _array(
        _call(fn, name, jnp.float32(r), jnp.float32(discount), q_target, q_online), name, "y", ()
    )
    if not _close(got, want):
        hint = _diagnose(
            got,
            [
                (
                    r + discount * jnp.max(q_target),
                    "That is the plain DQN target, the max of the "
                    "target network. Double DQN picks a* = argmax of the ONLINE values and reads "
                    "q_next_target[a*].",
                ),
                (
                    r + discount * q_online[jnp.argmax(q_target)],
                    "The roles are swapped: the online "
                    "network selects (argmax q_next_online), the target network evaluates.",
                ),
                (
                    r + discount * jnp.max(q_online),
                    "You used the online network's own value; "
                    "evaluate its choice with the target network: "
                    "q_next_target[argmax q_next_online].",
                ),
            ],
        )
        _fail(
            f"with q_next_target={_fmt(q_target)}, q_next_online={_fmt(q_online)}, r={r}, "
            f"discount={discount}: a* = argmax q_next_online = 2, so y = r + discount * "
            f"q_next_target[2] = {_fmt(want)}, got {_fmt(got)}.{hint}"
        )
    got = _call(fn, name, jnp.float32(1.0), jnp.float32(0.0), q_target, q_online)
    if not _close(got, 1.0):
        _fail(
            f"with discount=0 (a terminal transition) the target should be r = 1.0, got "
            f"{_fmt(got)}."
        )
    _passed(name, "selects with the online network and evaluates with the target network.")


def check_dueling_aggregate(fn: Callable[..., Array]) -> None:
    """Checks ``dueling_aggregate(value, advantages) -> q``.

    ``value``: ``(batch,)``; ``advantages``: ``(batch, num_actions)``. Expected:
    ``q = value[:, None] + advantages - mean_a advantages``, shape ``(batch, num_actions)``.
    """
    __tracebackhide__ = True
    name = "dueling_aggregate"
    value = jnp.array([1.0, -2.0, 0.5])
    adv = jnp.array([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 0.0], [-1.0, 1.0, 0.0, 0.0]])
    want = value[:, None] + adv - jnp.mean(adv, axis=1, keepdims=True)
    got = _array(_call(fn, name, value, adv), name, "Q-values", (3, 4))
    if not _close(got, want):
        hint = _diagnose(
            got,
            [
                (
                    value[:, None] + adv,
                    "Subtract the mean advantage. Without it V and A are not "
                    "identifiable: V + c and A - c give the same Q for any c.",
                ),
                (
                    value[:, None] + adv - jnp.max(adv, axis=1, keepdims=True),
                    "That is the max baseline; this exercise uses the mean: A - mean_a A.",
                ),
                (
                    value[:, None] + adv - jnp.mean(adv, axis=0, keepdims=True),
                    "You averaged over "
                    "the batch axis (axis=0); average each row over its actions: "
                    "jnp.mean(advantages, axis=-1, keepdims=True).",
                ),
                (
                    value[:, None] + adv - jnp.mean(adv),
                    "You averaged over the whole batch; each "
                    "sample's baseline is the mean of its own advantages (axis=-1, keepdims=True).",
                ),
            ],
        )
        _fail(
            f"with value={_fmt(value)} and advantages\n{_fmt(adv)}\nQ should be\n{_fmt(want)}\n"
            f"got\n{_fmt(got)}.{hint}"
        )
    _passed(name, "gives Q = V + A - mean_a A, row by row.")


def _per_reference(td_errors, alpha, eps):
    p = (jnp.abs(td_errors) + eps) ** alpha
    return p / jnp.sum(p)


def check_per_probabilities(fn: Callable[..., Array]) -> None:
    """Checks ``per_probabilities(td_errors, alpha, eps) -> probs``.

    ``td_errors``: ``(N,)``. Expected: priorities ``p_i = (|delta_i| + eps)^alpha`` and
    ``P(i) = p_i / sum_k p_k``, shape ``(N,)``.
    """
    __tracebackhide__ = True
    name = "per_probabilities"
    delta = jnp.array([2.0, -1.0, 0.0, 0.5, -3.0])
    alpha, eps = 0.6, 0.01
    want = _per_reference(delta, alpha, eps)
    out = _call(fn, name, delta, alpha, eps)
    raw = np.asarray(out)
    if raw.shape == (5,) and np.isnan(raw).any():
        _fail(
            f"got NaN for the negative TD errors: {_fmt(raw)}. A fractional power of a negative "
            f"number is NaN; priorities use the magnitude |delta|."
        )
    got = _array(out, name, "one probability per transition", (5,))
    if not _close(got, want):
        unnormalized = (jnp.abs(delta) + eps) ** alpha
        hint = _diagnose(
            got,
            [
                (
                    _per_reference(delta, alpha, 0.0),
                    "The transition with delta=0 got probability "
                    "0 and would never be replayed again (its priority never updated): add eps "
                    "before the power, (|delta| + eps)**alpha.",
                ),
                (
                    unnormalized,
                    "These are the priorities; divide by their sum to get probabilities.",
                ),
                (
                    (jnp.abs(delta) + eps) / jnp.sum(jnp.abs(delta) + eps),
                    "alpha is missing: "
                    "p_i = (|delta_i| + eps)**alpha (alpha=0 is uniform, alpha=1 proportional).",
                ),
                (
                    (jnp.abs(delta) ** alpha + eps) / jnp.sum(jnp.abs(delta) ** alpha + eps),
                    "Add eps before raising to alpha: (|delta| + eps)**alpha.",
                ),
            ],
        )
        if not hint and abs(float(np.sum(got)) - 1.0) > 1e-4:
            hint = f"\nProbabilities must sum to 1; yours sum to {float(np.sum(got)):.4g}."
        _fail(
            f"with td_errors={_fmt(delta)}, alpha={alpha}, eps={eps} the probabilities should be "
            f"{_fmt(want)}, got {_fmt(got)}.{hint}"
        )
    uniform = _call(fn, name, delta, 0.0, eps)
    if not _close(uniform, jnp.full(5, 0.2)):
        _fail(f"with alpha=0 sampling should be uniform (0.2 each), got {_fmt(uniform)}.")
    _passed(name, "turns |TD errors| into proportional sampling probabilities.")


def check_importance_weights(fn: Callable[..., Array]) -> None:
    """Checks ``importance_weights(probs, beta) -> weights``.

    ``probs``: ``(N,)`` sampling probabilities summing to 1. Expected:
    ``w_i = (N * P(i))^(-beta) / max_j w_j``, shape ``(N,)``.
    """
    __tracebackhide__ = True
    name = "importance_weights"
    probs = jnp.array([0.5, 0.25, 0.125, 0.125])
    n, beta = 4, 0.5
    raw = (n * probs) ** (-beta)
    want = raw / jnp.max(raw)
    got = _array(_call(fn, name, probs, beta), name, "one weight per transition", (4,))
    if not _close(got, want):
        hint = _diagnose(
            got,
            [
                (raw, "Normalise by the largest weight (w / max w) so no update is scaled up."),
                (
                    (n * probs) ** beta / jnp.max((n * probs) ** beta),
                    "The exponent is -beta: "
                    "transitions sampled MORE often than uniform get SMALLER weights.",
                ),
                (raw / jnp.sum(raw), "Normalise by the max, not the sum: the largest weight is 1."),
                (
                    1 / (n * probs) / jnp.max(1 / (n * probs)),
                    "beta is missing: (N * P(i))**(-beta).",
                ),
            ],
        )
        _fail(
            f"with probs={_fmt(probs)} (N={n}) and beta={beta} the weights should be {_fmt(want)}, "
            f"got {_fmt(got)}.{hint}"
        )
    ones = _call(fn, name, probs, 0.0)
    if not _close(ones, jnp.ones(4)):
        _fail(f"with beta=0 (no correction) every weight should be 1, got {_fmt(ones)}.")
    _passed(name, "corrects the sampling bias and never scales an update up.")


# --------------------------------------------------------------------------------------------
# 05: seed sweeps
# --------------------------------------------------------------------------------------------


@functools.cache
def check_confidence_band(fn: Callable[..., tuple[Array, Array]]) -> None:
    """Checks ``confidence_band(curves) -> (mean, half_width)``.

    ``curves``: ``(num_seeds, num_points)``. Expected: the mean over seeds and the half-width of
    its 95% Student-t interval, ``t_{0.975, n-1} * std(ddof=1) / sqrt(n)``, each ``(num_points,)``.
    """
    __tracebackhide__ = True
    name = "confidence_band"
    curves = jnp.array(
        [[10.0, 50.0, 200.0], [20.0, 80.0, 500.0], [15.0, 40.0, 480.0], [5.0, 90.0, 300.0]]
    )
    n = curves.shape[0]
    out = _call(fn, name, curves)
    if not (isinstance(out, tuple) and len(out) == 2):
        _fail(f"`{name}` should return a tuple (mean, half_width), got {type(out).__name__}")
    mean = _array(out[0], name, "the mean over seeds", (3,))
    half = _array(out[1], name, "the half-width over seeds", (3,))
    want_mean = np.asarray(curves).mean(axis=0)
    if not _close(mean, want_mean):
        _fail(
            f"the mean over the {n} seeds (axis 0) should be {_fmt(want_mean)}, got {_fmt(mean)}."
        )
    t = t_critical(n - 1)
    std = np.asarray(curves).std(axis=0, ddof=1)
    want = t * std / math.sqrt(n)
    if not _close(half, want, tol=2e-3):
        std0 = np.asarray(curves).std(axis=0)
        hint = _diagnose(
            half,
            [
                (
                    t * std0 / math.sqrt(n),
                    "Use the sample standard deviation, std(ddof=1): "
                    "the mean was estimated from the same seeds.",
                ),
                (
                    1.96 * std / math.sqrt(n),
                    f"1.96 is the normal quantile; with {n} seeds use "
                    f"the Student-t quantile t_(0.975, {n - 1}) = {t:.2f}, t_critical(n - 1).",
                ),
                (t * std / n, "The standard error of the mean is std / sqrt(n), not std / n."),
                (
                    t * std,
                    "That is the spread of single runs; the uncertainty of the mean is "
                    "smaller by sqrt(n): t * std / sqrt(n).",
                ),
            ],
        )
        _fail(
            f"for {n} seeds the 95% half-width should be t_(0.975, {n - 1}) * std(ddof=1) / "
            f"sqrt({n}) = {_fmt(want)} (t = {t:.3f}), got {_fmt(half)}.{hint}"
        )
    _passed(name, "gives the mean and its 95% Student-t interval over seeds.")


def check_stack_hparams(fn: Callable[[Sequence[HParams]], HParams]) -> None:
    """Checks ``stack_hparams(list_of_hparams) -> HParams`` whose every field has a leading axis
    of length ``len(list_of_hparams)``."""
    __tracebackhide__ = True
    name = "stack_hparams"
    lrs = (1e-4, 1e-3, 3e-3)
    config = DQNConfig(gamma=0.99)
    items = [HParams.from_config(config, learning_rate=lr) for lr in lrs]
    out = _call(fn, name, items)
    if not isinstance(out, HParams):
        _fail(
            f"`{name}` should return one HParams whose fields have a leading axis, got "
            f"{type(out).__name__}. jax.tree.map(lambda *xs: jnp.stack(xs), *hparams_list) "
            f"stacks every field."
        )
    shape = np.shape(out.learning_rate)
    if shape != (3,):
        _fail(f"stacking 3 HParams should give fields of shape (3,), got learning_rate {shape}")
    if not _close(out.learning_rate, jnp.array(lrs)) or not _close(out.gamma, jnp.full(3, 0.99)):
        _fail(
            f"the stacked learning rates should be {list(lrs)} in order and every gamma 0.99, got "
            f"{np.asarray(out.learning_rate).tolist()} and {np.asarray(out.gamma).tolist()}"
        )
    if np.asarray(out.target_update_period).dtype.kind not in "iu":
        _fail("target_update_period must stay an integer field after stacking")
    _passed(name, "stacks every field along a new leading axis.")
