"""Checks for notebook 4, beyond DQN: ``double_q_target``, ``dueling_aggregate``,
``per_probabilities`` and ``importance_weights``.

The notebook calls ``double_q_target`` inside ``jax.jit`` of three nested ``jax.vmap``s, on
64 Q-values (padded with -1e9); ``dueling_aggregate`` inside a vmapped, differentiated Equinox
module on a batch of one, ``(1,)`` values and ``(1, 20)`` advantages; ``per_probabilities``
and ``importance_weights`` both eagerly and inside ``jax.jit`` with ``alpha`` and ``beta``
traced.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.homework._common import as_array, call, diagnose, fail, fmt, passed

# --------------------------------------------------------------------------------------------
# Double DQN
# --------------------------------------------------------------------------------------------

# (r, discount, q_next_target, q_next_online): selecting and evaluating with either network,
# and reading the argmax as a value, all give different targets.
_DOUBLE_CASES = (
    (0.5, 0.9, (1.0, 3.0, 2.5, 0.5), (0.2, 0.1, 0.9, 0.3)),
    (1.0, 0.0, (1.0, 3.0, 2.5, 0.5), (0.2, 0.1, 0.9, 0.3)),
    (-1.0, 0.5, (0.3, -0.2, 1.2, 2.0), (1.5, 0.4, -0.3, 0.8)),
)
_ASSUMED_GAMMA = 0.99


def check_double_q_target(fn: Callable[..., Array]) -> None:
    """Checks ``double_q_target(r, discount, q_next_target, q_next_online) -> y`` (one transition).

    Expected: ``a* = argmax_a q_next_online[a]`` and ``y = r + discount * q_next_target[a*]``:
    the online network selects, the target network evaluates. Run under
    ``jax.jit(jax.vmap(...))`` over a batch of transitions.
    """
    __tracebackhide__ = True
    name = "double_q_target"
    r, d, qt, qo = (np.array(x) for x in zip(*_DOUBLE_CASES, strict=True))
    rows = np.arange(len(r))
    out = call(jax.jit(jax.vmap(fn)), name, *(jnp.asarray(x, jnp.float32) for x in (r, d, qt, qo)))
    got = as_array(out, name, "one target per transition under jax.vmap", r.shape)
    best = qo.argmax(axis=1)
    want = r + d * qt[rows, best]
    if np.allclose(got, want, atol=1e-4):
        passed(name, "selects with the online network and evaluates with the target network.")
        return
    hint = diagnose(
        got,
        [
            (
                r + d * qt.max(axis=1),
                "That is the plain DQN target, the max of the target network. Double DQN picks "
                "a* = argmax of the ONLINE values and reads q_next_target[a*].",
            ),
            (
                r + d * qo[rows, qt.argmax(axis=1)],
                "The roles are swapped: the online network selects (argmax q_next_online), the "
                "target network evaluates.",
            ),
            (
                r + d * qo.max(axis=1),
                "You used the online network's own value; evaluate its choice with the target "
                "network: q_next_target[argmax q_next_online].",
            ),
            (
                r + d * best,
                "You used a* = argmax q_next_online, an index, as if it were a value; the target "
                "is the target network's value of that action, q_next_target[a*].",
            ),
            (
                r + _ASSUMED_GAMMA * d * qt[rows, best],
                "`discount` already includes gamma: do not multiply by gamma again.",
            ),
        ],
    )
    lines = [
        f"  r={r[i]}, discount={d[i]}, q_next_target={fmt(qt[i])}, q_next_online={fmt(qo[i])}: "
        f"a* = {best[i]}, y should be {fmt(want[i])}, got {fmt(got[i])}"
        for i in rows
        if not np.isclose(got[i], want[i], atol=1e-4)
    ]
    rule = "y = r + discount * q_next_target[argmax q_next_online]"
    fail(f"{rule} is wrong for\n" + "\n".join(lines) + hint)


# --------------------------------------------------------------------------------------------
# Dueling
# --------------------------------------------------------------------------------------------


def check_dueling_aggregate(fn: Callable[..., Array]) -> None:
    """Checks ``dueling_aggregate(value, advantages) -> q``.

    ``value``: ``(batch,)``; ``advantages``: ``(batch, num_actions)``. Expected:
    ``q = value[:, None] + advantages - mean_a advantages``, shape ``(batch, num_actions)``.
    Run under ``jax.jit``, on a batch of 3 and, as the notebook's network calls it, vmapped
    over states on a batch of one with 20 actions.
    """
    __tracebackhide__ = True
    name = "dueling_aggregate"
    value = np.array([1.0, -2.0, 0.5])
    adv = np.array([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 0.0], [-1.0, 1.0, 0.0, 0.0]])
    rng = np.random.default_rng(0)
    net_value, net_adv = rng.normal(size=(5, 1)), rng.normal(size=(5, 1, 20))  # 5 states

    def both(value, adv, net_value, net_adv):
        return fn(value, adv), jax.vmap(fn)(net_value, net_adv)

    out = call(
        jax.jit(both),
        name,
        *(jnp.asarray(x, jnp.float32) for x in (value, adv, net_value, net_adv)),
        shapes=(
            "value has shape (batch,) and the mean advantage of each row (batch,); give both "
            "an axis to broadcast against (batch, num_actions): value[:, None] and "
            "jnp.mean(advantages, axis=-1, keepdims=True)."
        ),
    )
    got = as_array(out[0], name, "Q-values", adv.shape)
    want = value[:, None] + adv - adv.mean(axis=1, keepdims=True)
    if not np.allclose(got, want, atol=1e-4):
        hint = diagnose(
            got,
            [
                (
                    value[:, None] + adv,
                    "Subtract the mean advantage. Without it V and A are not identifiable: "
                    "V + c and A - c give the same Q for any c.",
                ),
                (
                    value[:, None] + adv - adv.max(axis=1, keepdims=True),
                    "That is the max baseline; this exercise uses the mean: A - mean_a A.",
                ),
                (
                    value[:, None] + adv - adv.mean(axis=0, keepdims=True),
                    "You averaged over the batch axis (axis=0); average each row over its "
                    "actions: jnp.mean(advantages, axis=-1, keepdims=True).",
                ),
                (
                    value[:, None] + adv - adv.mean(),
                    "You averaged over the whole batch; each sample's baseline is the mean of "
                    "its own advantages (axis=-1, keepdims=True).",
                ),
                (
                    adv - adv.mean(axis=1, keepdims=True),
                    "The value V(s) is missing: Q = V + A - mean_a A.",
                ),
            ],
        )
        fail(
            f"with value={fmt(value)} and advantages\n{fmt(adv)}\nQ should be\n{fmt(want)}\n"
            f"got\n{fmt(got)}.{hint}"
        )
    got = as_array(out[1], name, "Q-values of a batch of one, vmapped over 5 states", (5, 1, 20))
    want = net_value[:, :, None] + net_adv - net_adv.mean(axis=-1, keepdims=True)
    if not np.allclose(got, want, atol=1e-4):
        fail(
            f"on a batch of one with 20 actions (how the notebook's network calls it), vmapped "
            f"over 5 states, the Q-values are wrong: Q = V + A - mean_a A must hold for any "
            f"batch size and number of actions (got first row {fmt(got[0, 0, :4])}..., want "
            f"{fmt(want[0, 0, :4])}...)."
        )
    passed(name, "gives Q = V + A - mean_a A, row by row.")


# --------------------------------------------------------------------------------------------
# Prioritized replay
# --------------------------------------------------------------------------------------------


def _per_reference(td_errors: np.ndarray, alpha: float, eps: float) -> np.ndarray:
    p = (np.abs(td_errors) + eps) ** alpha
    return p / p.sum()


def check_per_probabilities(fn: Callable[..., Array]) -> None:
    """Checks ``per_probabilities(td_errors, alpha, eps) -> probs``.

    ``td_errors``: ``(N,)``. Expected: priorities ``p_i = (|delta_i| + eps)^alpha`` and
    ``P(i) = p_i / sum_k p_k``, shape ``(N,)``. Run under ``jax.jit`` with ``alpha`` traced and
    ``eps`` a Python float, as the notebook's Blind Cliffwalk runs it.
    """
    __tracebackhide__ = True
    name = "per_probabilities"
    delta = np.array([2.0, -1.0, 0.0, 0.5, -3.0])
    alpha, eps = 0.6, 0.01
    probs = jax.jit(lambda td_errors, alpha: fn(td_errors, alpha, eps))
    hints = [
        (
            jax.errors.TracerBoolConversionError,
            "A Python `if` on alpha needs a concrete value; the same formula covers alpha=0 "
            "(every priority is then 1).",
        )
    ]
    out = call(probs, name, jnp.asarray(delta, jnp.float32), jnp.float32(alpha), hints=hints)
    raw = np.asarray(out)
    if raw.shape == delta.shape and np.isnan(raw).any():
        fail(
            f"got NaN for the negative TD errors: {fmt(raw)}. A fractional power of a negative "
            f"number is NaN; priorities use the magnitude |delta|."
        )
    got = as_array(out, name, "one probability per transition", delta.shape)
    want = _per_reference(delta, alpha, eps)
    if not np.allclose(got, want, atol=1e-4):
        priorities = (np.abs(delta) + eps) ** alpha
        hint = diagnose(
            got,
            [
                (
                    _per_reference(delta, alpha, 0.0),
                    "The transition with delta=0 got probability 0 and would never be replayed "
                    "again (its priority never updated): add eps before the power, "
                    "(|delta| + eps)**alpha.",
                ),
                (
                    priorities,
                    "These are the priorities; divide by their sum to get probabilities.",
                ),
                (
                    priorities / priorities.max(),
                    "Divide the priorities by their sum, not their max: probabilities sum to 1.",
                ),
                (
                    _per_reference(delta, 1.0, eps),
                    "alpha is missing: p_i = (|delta_i| + eps)**alpha (alpha=0 is uniform, "
                    "alpha=1 proportional).",
                ),
                (
                    (np.abs(delta) ** alpha + eps) / np.sum(np.abs(delta) ** alpha + eps),
                    "Add eps before raising to alpha: (|delta| + eps)**alpha.",
                ),
                (
                    _per_reference(delta**2, alpha, eps),
                    "The priority uses the magnitude |delta|, not delta**2.",
                ),
            ],
        )
        if not hint and abs(float(np.sum(got)) - 1.0) > 1e-4:
            hint = f"\nProbabilities must sum to 1; yours sum to {float(np.sum(got)):.4g}."
        fail(
            f"with td_errors={fmt(delta)}, alpha={alpha}, eps={eps} the probabilities should be "
            f"{fmt(want)}, got {fmt(got)}.{hint}"
        )
    uniform = call(probs, name, jnp.asarray(delta, jnp.float32), jnp.float32(0.0), hints=hints)
    if not np.allclose(np.asarray(uniform), 0.2, atol=1e-4):
        fail(f"with alpha=0 sampling should be uniform (0.2 each), got {fmt(uniform)}.")
    passed(name, "turns |TD errors| into proportional sampling probabilities.")


def check_importance_weights(fn: Callable[..., Array]) -> None:
    """Checks ``importance_weights(probs, beta) -> weights``.

    ``probs``: ``(N,)`` sampling probabilities summing to 1. Expected:
    ``w_i = (N * P(i))^(-beta) / max_j w_j``, shape ``(N,)``. Run under ``jax.jit`` with
    ``beta`` traced, as the notebook runs it.
    """
    __tracebackhide__ = True
    name = "importance_weights"
    probs = np.array([0.5, 0.25, 0.125, 0.125])
    n, beta = probs.shape[0], 0.5
    weights = jax.jit(fn)
    out = call(weights, name, jnp.asarray(probs, jnp.float32), jnp.float32(beta))
    got = as_array(out, name, "one weight per transition", probs.shape)
    raw = (n * probs) ** (-beta)
    want = raw / raw.max()
    if not np.allclose(got, want, atol=1e-4):
        hint = diagnose(
            got,
            [
                (raw, "Normalise by the largest weight (w / max w) so no update is scaled up."),
                (
                    (n * probs) ** beta / np.max((n * probs) ** beta),
                    "The exponent is -beta: transitions sampled MORE often than uniform get "
                    "SMALLER weights.",
                ),
                (raw / raw.sum(), "Normalise by the max, not the sum: the largest weight is 1."),
                (
                    raw / raw.min(),
                    "Normalise by the max, not the min: dividing by the largest weight only "
                    "ever scales updates down.",
                ),
                (
                    1 / (n * probs) / np.max(1 / (n * probs)),
                    "beta is missing: (N * P(i))**(-beta).",
                ),
            ],
        )
        fail(
            f"with probs={fmt(probs)} (N={n}) and beta={beta} the weights should be {fmt(want)}, "
            f"got {fmt(got)}.{hint}"
        )
    ones = call(weights, name, jnp.asarray(probs, jnp.float32), jnp.float32(0.0))
    if not np.allclose(np.asarray(ones), 1.0, atol=1e-4):
        fail(f"with beta=0 (no correction) every weight should be 1, got {fmt(ones)}.")
    passed(name, "corrects the sampling bias and never scales an update up.")
