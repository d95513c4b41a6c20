"""Checks for notebook 1, tabular Q-learning: ``td0_update`` and ``epsilon_greedy``."""

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
