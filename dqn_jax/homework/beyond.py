"""Checks for notebook 4, beyond DQN: ``double_q_target``, ``dueling_aggregate``,
``per_probabilities`` and ``importance_weights``."""

from __future__ import annotations

from collections.abc import Callable

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
