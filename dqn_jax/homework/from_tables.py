"""Checks for notebook 2, from tables to networks: ``monte_carlo_returns``,
``semi_gradient_td_update`` and ``fqi_iteration``.

The notebook calls the first two inside ``jax.jit(jax.vmap(learn_walk))`` on streams of 60,000
random-walk steps (4,000 in fast mode), ``semi_gradient_td_update`` inside ``lax.scan`` with a
traced ``alpha``; it calls ``jax.jit(fqi_iteration)``, so ``gamma`` and ``ridge`` are traced.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.homework._common import as_array, call, diagnose, fail, fmt, passed

# --------------------------------------------------------------------------------------------
# Monte Carlo returns
# --------------------------------------------------------------------------------------------

_MC_GAMMA = 0.9  # not the notebook's 1.0, under which a forgotten discount would not show
# Two streams of 6 steps: one episode that ends with the stream, and two episodes (ends at
# t=1 and t=4) followed by the start of a third that the stream cuts off.
_MC_REWARDS = np.array([[1.0, 0.0, 2.0, 1.0, -1.0, 3.0], [1.0, 2.0, 1.0, 0.5, 1.0, 2.0]])
_MC_DONES = np.array([[0.0, 0, 0, 0, 0, 1], [0.0, 1, 0, 0, 1, 0]])
_MC_PROBE_STEPS = 1_000  # a stream this long must not trace one operation per step


def _returns(rewards: np.ndarray, dones: np.ndarray, gamma: float, *, inverted: bool = False):
    """G_t = r_t + gamma * (1 - done_t) * G_{t+1} (``inverted``: times done_t) along axis -1."""
    g, out = np.zeros(rewards.shape[:-1]), np.zeros_like(rewards)
    for t in reversed(range(rewards.shape[-1])):
        keep = dones[..., t] if inverted else 1 - dones[..., t]
        g = rewards[..., t] + gamma * keep * g
        out[..., t] = g
    return out


def check_monte_carlo_returns(fn: Callable[..., Array]) -> None:
    """Checks ``monte_carlo_returns(rewards, dones, gamma) -> returns``.

    ``rewards``, ``dones``: shape ``(T,)``, a stream of steps where ``dones[t] = 1`` marks the
    last step of an episode (the stream ends after its last step). Expected:
    ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}`` with ``G_T = 0``, shape ``(T,)``. Run under
    ``jax.jit(jax.vmap(...))`` with ``gamma`` a Python float, as in the notebook, and traced on a
    long stream to make sure the loop is compiled once, not unrolled step by step.
    """
    __tracebackhide__ = True
    name = "monte_carlo_returns"
    r, d, gamma = _MC_REWARDS, _MC_DONES, _MC_GAMMA
    out = call(
        jax.jit(jax.vmap(lambda r, d: fn(r, d, gamma))),
        name,
        jnp.asarray(r, jnp.float32),
        jnp.asarray(d, jnp.float32),
        hints=[
            (
                jax.errors.TracerBoolConversionError,
                "A Python `if` on `dones` needs a concrete True or False. Multiply by "
                "(1 - done_t) instead: G_t = r_t + gamma * (1 - done_t) * G_{t+1}.",
            )
        ],
    )
    got = as_array(out, name, "one return per step", r.shape)
    want = _returns(r, d, gamma)
    if not np.allclose(got, want, atol=1e-4):
        steps = np.arange(r.shape[1])
        hint = diagnose(
            got,
            [
                (
                    _returns(r, np.zeros_like(d), gamma),
                    "The sum ran across episode boundaries: a return stops at the end of its "
                    "episode, G_t = r_t + gamma * (1 - done_t) * G_{t+1}.",
                ),
                (
                    _returns(r, d, 1.0),
                    "Did you forget to discount? G_t = r_t + gamma * (1 - done_t) * G_{t+1}.",
                ),
                (
                    _returns(r, d, gamma, inverted=True),
                    "The mask is inverted: (1 - done_t) stops the sum at the end of an "
                    "episode; you multiplied by done_t.",
                ),
                (
                    (1 - d) * _returns(r, d, gamma),
                    "The last step of an episode got return 0: the mask multiplies the future "
                    "G_{t+1}, not the reward, G_t = r_t + gamma * (1 - done_t) * G_{t+1}.",
                ),
                (
                    np.cumsum(r, axis=1),
                    "These are running sums of past rewards. G_t looks forward: the discounted "
                    "sum of the rewards from t to the end of the episode (scan backwards: "
                    "jax.lax.scan(..., reverse=True)).",
                ),
                (
                    np.cumsum(r * gamma**steps, axis=1),
                    "These sums run forward from the start; G_t is the discounted sum of the "
                    "rewards from t onward (scan backwards: jax.lax.scan(..., reverse=True)).",
                ),
                (
                    want[:, ::-1],
                    "The returns are right but in reverse time order: flip them back, or let "
                    "jax.lax.scan(..., reverse=True) do the backward pass, which keeps time order.",
                ),
            ],
        )
        cases = []
        for i in range(r.shape[0]):
            if not np.allclose(got[i], want[i], atol=1e-4):
                cases.append(
                    f"  rewards {fmt(r[i])}, dones {fmt(d[i])}:\n    should be {fmt(want[i])}\n"
                    f"    got       {fmt(got[i])}"
                )
        fail(f"with gamma={gamma} the returns are wrong:\n" + "\n".join(cases) + hint)

    probe = jax.ShapeDtypeStruct((_MC_PROBE_STEPS,), jnp.float32)
    jaxpr = call(jax.make_jaxpr(lambda r, d: fn(r, d, 1.0)), name, probe, probe)
    if len(jaxpr.eqns) > 200:
        fail(
            f"`{name}` gives the right returns but unrolls a Python loop: on a stream of "
            f"{_MC_PROBE_STEPS:,} steps it traced {len(jaxpr.eqns):,} operations, and the "
            f"notebook's streams have 60,000 steps (4,000 in fast mode), which would take "
            f"minutes to compile. Loop with jax.lax.scan(f, init, (rewards, dones), "
            f"reverse=True), which compiles its body once."
        )
    passed(name, "computes discounted returns that stop at episode ends, compiled once.")


# --------------------------------------------------------------------------------------------
# Semi-gradient TD(0)
# --------------------------------------------------------------------------------------------

_SG_W = np.array([0.5, -1.0, 2.0])
_SG_PHI = np.array([1.0, 0.0, 0.5])
_SG_PHI_NEXT = np.array([0.0, 1.0, 1.0])
_SG_R, _SG_DONE = np.array([1.0, 1.0]), np.array([0.0, 1.0])  # a step inside, the last step
_SG_ALPHA, _SG_GAMMA = 0.1, 0.9


def check_semi_gradient_td_update(fn: Callable[..., Array]) -> None:
    """Checks ``semi_gradient_td_update(w, phi, r, done, phi_next, alpha, gamma) -> w_new``.

    Linear values ``v(s) = phi(s) . w``; ``w``, ``phi``, ``phi_next``: shape ``(d,)``. Expected:
    ``delta = r + gamma * (1 - done) * phi_next . w - phi . w`` and ``w + alpha * delta * phi``
    (the target is a constant: no gradient through ``phi_next . w``). Run under
    ``jax.jit(jax.vmap(...))`` with ``alpha`` traced and ``gamma`` a Python float, as in the
    notebook.
    """
    __tracebackhide__ = True
    name = "semi_gradient_td_update"
    w, phi, phi_next, alpha, gamma = _SG_W, _SG_PHI, _SG_PHI_NEXT, _SG_ALPHA, _SG_GAMMA
    r, done = _SG_R, _SG_DONE
    cases = r.shape[0]

    def update(w, phi, r, done, phi_next, alpha):
        return fn(w, phi, r, done, phi_next, alpha, gamma)

    tile = lambda x: jnp.asarray(np.broadcast_to(x, (cases, *x.shape)), jnp.float32)  # noqa: E731
    out = call(
        jax.jit(jax.vmap(update, in_axes=(0, 0, 0, 0, 0, None))),
        name,
        tile(w),
        tile(phi),
        jnp.asarray(r, jnp.float32),
        jnp.asarray(done, jnp.float32),
        tile(phi_next),
        jnp.float32(alpha),
        hints=[
            (
                jax.errors.TracerBoolConversionError,
                "A Python `if` on `done` needs a concrete True or False. Multiply the "
                "bootstrap by (1 - done) instead.",
            )
        ],
    )
    got = as_array(out, name, "the new weights, one row per case", (cases, w.shape[0]))
    v, v_next = phi @ w, phi_next @ w
    delta = (r + gamma * (1 - done) * v_next - v)[:, None]
    want = w + alpha * delta * phi
    if np.allclose(got, want, atol=1e-4):
        passed(name, "takes a semi-gradient TD(0) step with a constant, masked target.")
        return

    def step(target: np.ndarray, direction: np.ndarray = phi, scale: float = alpha):
        return w + scale * (target - v)[:, None] * direction

    hint = diagnose(
        got,
        [
            (
                w + alpha * delta * (phi - gamma * (1 - done)[:, None] * phi_next),
                "Your update also moves the target r + gamma * v(s'): that is the residual "
                "gradient, not TD. Semi-gradient TD treats the target as a constant; with "
                "jax.grad, wrap the target in jax.lax.stop_gradient.",
            ),
            (
                step(r + gamma * v_next),
                "The episode ended (done=1), so the target is just r: multiply the bootstrap "
                "by (1 - done).",
            ),
            (
                step(r + gamma * done * v_next),
                "The mask is inverted: (1 - done) keeps the bootstrap inside an episode and "
                "removes it at the end; you multiplied by done.",
            ),
            (
                w - alpha * delta * phi,
                "The step goes the wrong way: w + alpha * delta * phi moves v(s) towards the "
                "target.",
            ),
            (
                w + alpha * delta,
                "The step must follow the gradient of v(s) = phi . w, which is phi: "
                "w + alpha * delta * phi.",
            ),
            (
                step(r + gamma * (1 - done) * v_next, direction=phi_next),
                "The step moved along phi(s'), the next state's features; it follows the "
                "gradient of the prediction v(s) = phi(s) . w, which is phi(s).",
            ),
            (
                step(r + (1 - done) * v_next),
                "Did you forget gamma? The target is r + gamma * (1 - done) * phi(s') . w.",
            ),
            (
                step(r + gamma * (1 - done) * v_next, scale=2 * alpha),
                "The step is twice too large: the gradient of delta**2 is 2 * delta * phi. "
                "Differentiate 0.5 * delta**2, or step by alpha * delta * phi directly.",
            ),
        ],
    )
    lines = []
    for i in range(cases):
        if not np.allclose(got[i], want[i], atol=1e-4):
            lines.append(
                f"  r={r[i]}, done={done[i]}: delta = {delta[i, 0]:.4g}, the new weights should "
                f"be {fmt(want[i])}, got {fmt(got[i])}"
            )
    fail(
        f"with w={fmt(w)}, phi={fmt(phi)}, phi_next={fmt(phi_next)}, alpha={alpha}, "
        f"gamma={gamma}:\n" + "\n".join(lines) + hint
    )


# --------------------------------------------------------------------------------------------
# Fitted Q-iteration
# --------------------------------------------------------------------------------------------


def _fqi_problem() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    n, d = 12, 3
    weights = rng.normal(size=(d, 2))
    phi = rng.uniform(0, 1, (n, d))
    phi_next = rng.uniform(0, 1, (n, d))
    actions = np.array([0, 1] * (n // 2))
    rewards = rng.normal(size=n)
    terminated = np.array([0.0] * (n - 3) + [1.0] * 3)
    return weights, phi, actions, rewards, terminated, phi_next


def _fqi(
    weights,
    phi,
    actions,
    rewards,
    terminated,
    phi_next,
    gamma,
    ridge,
    *,
    target: str = "max",
    by_action: bool = True,
    masked_gram: bool = True,
) -> np.ndarray:
    """Linear FQI in NumPy, and its usual misspellings (the defaults are the right one)."""
    q_next = phi_next @ weights
    bootstrap = {
        "max": q_next.max(axis=1),
        "taken": q_next[np.arange(len(actions)), actions],
        "current": (phi @ weights).max(axis=1),
    }[target]
    y = rewards + gamma * (1 - terminated) * bootstrap
    columns = []
    for a in range(weights.shape[1]):
        m = (actions == a).astype(float) if by_action else np.ones(len(actions))
        gram = (phi * m[:, None]).T @ phi if masked_gram else phi.T @ phi
        columns.append(np.linalg.solve(gram + ridge * np.eye(phi.shape[1]), phi.T @ (m * y)))
    return np.stack(columns, axis=1)


def check_fqi_iteration(fn: Callable[..., Array]) -> None:
    """Checks ``fqi_iteration(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge)``.

    ``weights``: ``(d, num_actions)``, ``Q(s, a) = phi(s) . weights[:, a]``; ``phi``,
    ``phi_next``: ``(N, d)``; ``actions``, ``rewards``, ``terminated``: ``(N,)``. Expected: the
    targets ``y = r + gamma * (1 - terminated) * max_a' Q(s', a')`` under the *old* weights, then
    for every action ``a`` the ridge regression of ``y`` on ``phi`` over the samples with action
    ``a``: ``(Phi_a^T Phi_a + ridge I)^{-1} Phi_a^T y_a``. Returns ``(d, num_actions)``. Run as
    the notebook runs it, ``jax.jit(fqi_iteration)``: every argument traced.
    """
    __tracebackhide__ = True
    name = "fqi_iteration"
    weights, phi, actions, rewards, terminated, phi_next = _fqi_problem()
    gamma, ridge = 0.9, 0.5
    (n, d), num_actions = phi.shape, weights.shape[1]
    args = (weights, phi, actions, rewards, terminated, phi_next, gamma, ridge)
    out = call(
        jax.jit(fn),
        name,
        *(jnp.asarray(x, jnp.int32 if x is actions else jnp.float32) for x in args),
        hints=[
            (
                jax.errors.NonConcreteBooleanIndexError,
                "Boolean indexing (phi[actions == a]) makes an array whose length depends on "
                "the data, which cannot be compiled. Weight the rows instead: with m = (actions "
                "== a), solve (phi.T @ (phi * m[:, None]) + ridge * I) w = phi.T @ (m * y).",
            ),
            (
                jax.errors.TracerBoolConversionError,
                "A Python `if` on an array needs a concrete True or False. Mask with "
                "arithmetic: (1 - terminated) for the bootstrap, (actions == a) for the rows.",
            ),
        ],
        shapes=(
            "phi_next @ weights has shape (N, num_actions): take the max over axis 1, the "
            "actions, to get one target per sample."
        ),
    )
    if np.shape(out) == (num_actions, d):
        fail(
            f"`{name}` should return weights of shape (d, num_actions) = {(d, num_actions)}, "
            f"got shape {(num_actions, d)}: put the action's weights in the columns "
            f"(jnp.stack(columns, axis=1), or jax.vmap(fit, out_axes=1))."
        )
    got = as_array(out, name, "the new weights", (d, num_actions))
    want = _fqi(*args)
    if np.allclose(got, want, atol=1e-3, rtol=1e-3):
        passed(name, "regresses each action on its own samples towards masked max targets.")
        return
    hint = diagnose(
        got,
        [
            (
                _fqi(*args, by_action=False),
                "Every action got the same weights: each action's column must be fitted only "
                "on the samples where that action was taken (weight the rows by "
                "(actions == a)).",
            ),
            (
                _fqi(*args, masked_gram=False),
                "You masked the targets by (actions == a) but not the features in "
                "Phi_a^T Phi_a: the regression of action a uses only its samples on both "
                "sides, phi.T @ (phi * m[:, None]).",
            ),
            (
                _fqi(weights, phi, actions, rewards, 0 * terminated, phi_next, gamma, ridge),
                "The terminal samples bootstrapped: mask the next value with (1 - terminated).",
            ),
            (
                _fqi(weights, phi, actions, rewards, 1 - terminated, phi_next, gamma, ridge),
                "The mask is inverted: (1 - terminated) keeps the bootstrap of the samples "
                "that did not terminate; you multiplied by terminated.",
            ),
            (
                _fqi(weights, phi, actions, rewards, terminated, phi_next, gamma, 0.0),
                "Did you forget the ridge term? Solve (Phi_a^T Phi_a + ridge * I) w = Phi_a^T y_a.",
            ),
            (
                _fqi(weights, phi, actions, rewards, terminated, phi_next, 1.0, ridge),
                "Did you forget gamma? y = r + gamma * (1 - terminated) * max_a' Q(s', a').",
            ),
            (
                _fqi(*args, target="taken"),
                "The target used Q(s', a) for the action taken at s; Q-iteration bootstraps "
                "from the best next action: max over axis 1 of phi_next @ weights.",
            ),
            (
                _fqi(*args, target="current"),
                "The target bootstrapped from phi, the current state's features; it uses the "
                "next state's: max over axis 1 of phi_next @ weights.",
            ),
        ],
        tol=1e-3,
    )
    fail(
        f"on a dataset of {n} transitions (d={d} features, {num_actions} actions, gamma={gamma}, "
        f"ridge={ridge}) the new weights should be\n{fmt(want)}\ngot\n{fmt(got)}.{hint}"
    )
