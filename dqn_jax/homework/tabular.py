"""Checks for notebook 1, tabular Q-learning: ``td0_update`` and ``epsilon_greedy``.

The notebook's gridworld has 48 states and 4 actions; its training run calls both functions
inside ``lax.scan`` under ``jax.jit(jax.vmap(jax.vmap(train)))``, with traced int32 states and
actions, float32 rewards and terminal flags, and ``alpha``, ``gamma``, ``epsilon`` fixed Python
floats. ``epsilon_greedy`` is used again in notebook 3 on CartPole (2 actions), vmapped over
environments with a traced, decaying ``epsilon``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.homework._common import as_array, call, diagnose, fail, fmt, passed, same_types

NUM_STATES, NUM_ACTIONS = 48, 4  # notebook 1's gridworld
ALPHA, GAMMA = 0.5, 0.95  # notebook 1's step size and discount


def _td0_table() -> np.ndarray:
    """A Q-table whose rows used by the cases make every usual mistake give its own result."""
    q = np.round(np.random.default_rng(0).uniform(-1.0, 1.0, (NUM_STATES, NUM_ACTIONS)), 2)
    q[9] = [0.2, 1.1, -0.6, 0.5]  # s of the step inside an episode: Q[9, 2] = -0.6
    q[17] = [0.4, -0.3, 0.9, 1.7]  # its s_next: max 1.7 at action 3, Q[17, 2] = 0.9
    q[30] = [0.3, 0.6, -0.1, 0.2]  # s of the last step of an episode
    q[0] = [0.8, 1.3, -0.2, 0.1]  # START, its s_next after the reset
    q[44] = [2.4, 0.0, 0.0, 0.0]  # the largest entry of the table, in no case's rows
    return q.astype(np.float32)


# (s, a, r, terminated, s_next): a step inside an episode and the step that reaches the goal
# (the environment resets, so s_next is the start state).
_TD0_CASES = ((9, 2, -1.0, 0.0, 17), (30, 1, -1.0, 1.0, 0))


def _td0_variants(q: np.ndarray) -> dict[str, tuple[np.ndarray, str]]:
    """New Q[s, a] of every case under the right update and under each usual mistake."""
    s, a, r, t, s_next = (np.array(c, float) for c in zip(*_TD0_CASES, strict=True))
    s, a, s_next = s.astype(int), a.astype(int), s_next.astype(int)
    q_sa, best_next = q[s, a], q[s_next].max(axis=1)

    def step(target: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
        return q_sa + alpha * (target - q_sa)

    y = r + GAMMA * (1 - t) * best_next
    return {
        "right": (step(y), ""),
        "no mask": (
            step(r + GAMMA * best_next),
            "The terminal step bootstrapped from the next state (here the start of the next "
            "episode): multiply the bootstrap by (1 - terminated).",
        ),
        "inverted mask": (
            step(r + GAMMA * t * best_next),
            "The mask is inverted: (1 - terminated) keeps the bootstrap inside an episode and "
            "removes it after the last step; you multiplied by terminated.",
        ),
        "no bootstrap": (
            step(r),
            "The target is only r: the bootstrap term gamma * (1 - terminated) * max_a' "
            "Q[s_next, a'] is missing.",
        ),
        "no alpha": (
            y,
            "Q[s, a] was set to the target itself. TD(0) moves it a fraction alpha of the way: "
            "Q[s, a] + alpha * (target - Q[s, a]).",
        ),
        "sign": (
            q_sa - ALPHA * (y - q_sa),
            "The step goes the wrong way: Q[s, a] moves towards the target, "
            "Q[s, a] + alpha * (target - Q[s, a]), and you subtracted alpha * (target - Q[s, a]).",
        ),
        "same action": (
            step(r + GAMMA * (1 - t) * q[s_next, a]),
            "You bootstrapped from Q[s_next, a], the same action; Q-learning bootstraps from "
            "the best next action, max over a' of Q[s_next, a'].",
        ),
        "argmax": (
            step(r + GAMMA * (1 - t) * q[s_next].argmax(axis=1)),
            "You used argmax, the index of the best next action, as if it were a value; the "
            "target needs its value: jnp.max(q[s_next]).",
        ),
        "mean": (
            step(r + GAMMA * (1 - t) * q[s_next].mean(axis=1)),
            "You averaged over the next actions; Q-learning takes the max: jnp.max(q[s_next]).",
        ),
        "current state": (
            step(r + GAMMA * (1 - t) * q[s].max(axis=1)),
            "You bootstrapped from the current state s; the target uses the next state: "
            "max_a' Q[s_next, a'].",
        ),
        "no gamma": (
            step(r + (1 - t) * best_next),
            "Did you forget gamma? The target is r + gamma * (1 - terminated) * max_a' "
            "Q[s_next, a'].",
        ),
        "whole table": (
            step(r + GAMMA * (1 - t) * q.max()),
            "The max ran over the whole table; take it over the actions of the next state "
            "only: jnp.max(q[s_next]).",
        ),
    }


def check_td0_update(fn: Callable[..., Array]) -> None:
    """Checks ``td0_update(q, s, a, r, terminated, s_next, alpha, gamma) -> q_new``.

    ``q``: the table, shape ``(num_states, num_actions)``; the rest are scalars, ``terminated``
    a float 0.0 or 1.0. Expected: ``Q[s, a] += alpha * (r + gamma * (1 - terminated) *
    max_a' Q[s_next, a'] - Q[s, a])`` and every other entry unchanged. Run as the training
    loop runs it: under ``jax.jit(jax.vmap(...))`` on the gridworld's (48, 4) table.
    """
    __tracebackhide__ = True
    name = "td0_update"
    q = _td0_table()
    cases = len(_TD0_CASES)
    s, a, r, t, s_next = (np.array(c) for c in zip(*_TD0_CASES, strict=True))

    def update(q, s, a, r, terminated, s_next):
        return fn(q, s, a, r, terminated, s_next, ALPHA, GAMMA)

    out = call(
        jax.jit(jax.vmap(update)),
        name,
        np.broadcast_to(q, (cases, *q.shape)),
        jnp.asarray(s, jnp.int32),
        jnp.asarray(a, jnp.int32),
        jnp.asarray(r, jnp.float32),
        jnp.asarray(t, jnp.float32),
        jnp.asarray(s_next, jnp.int32),
        hints=[
            (
                jax.errors.TracerBoolConversionError,
                "A Python `if` on `terminated` needs a concrete True or False. Multiply the "
                "bootstrap by (1 - terminated) instead (or choose with jnp.where).",
            ),
            (
                jax.errors.TracerIntegerConversionError,
                "s, a and s_next are traced int32 scalars: index with them directly, q[s_next] "
                "or q.at[s, a], not with int(s).",
            ),
        ],
    )
    same_types(jax.tree.map(lambda x: np.asarray(x)[0], out), q, name, "the table")
    got = as_array(out, name, "the table", (cases, NUM_STATES, NUM_ACTIONS))
    for i in range(cases):
        changed = np.argwhere(~np.isclose(got[i], q))
        others = [tuple(int(j) for j in ij) for ij in changed if tuple(ij) != (s[i], a[i])]
        if others:
            fail(
                f"only Q[s, a] = Q[{s[i]}, {a[i]}] may change in a TD(0) update, but entries "
                f"{others} changed too. Update one entry: q.at[s, a].set(...) or "
                f"q.at[s, a].add(...)."
            )
    got_sa = got[np.arange(cases), s, a]
    variants = _td0_variants(q)
    want = variants.pop("right")[0]
    wrong = [i for i in range(cases) if not np.isclose(got_sa[i], want[i], atol=1e-4)]
    if not wrong:
        passed(name, "updates Q[s, a] by TD(0), masks terminal bootstraps and runs under jit.")
        return
    hint = diagnose(got_sa, list(variants.values()))
    lines = []
    for i in wrong:
        kind = "the last step of an episode" if t[i] else "a step inside an episode"
        target = r[i] + GAMMA * (1 - t[i]) * q[s_next[i]].max()
        lines.append(
            f"  {kind} (s={s[i]}, a={a[i]}, r={r[i]}, terminated={t[i]}, s_next={s_next[i]}): "
            f"target {target:.4g}, Q[{s[i]}, {a[i]}] = {fmt(q[s[i], a[i]])} should become "
            f"{fmt(want[i])}, got {fmt(got_sa[i])}"
        )
    fail(
        f"with alpha={ALPHA}, gamma={GAMMA} and target r + gamma * (1 - terminated) * "
        f"max_a' Q[s_next, a']:\n" + "\n".join(lines) + hint
    )


_EPSILONS = (0.0, 1.0, 0.5)
# Greedy action 1 of 4 (argmin 2) and greedy action 0 of 2: never the last action, so a draw
# that misses the last action is told apart from one that misses the greedy one.
_EPS_Q = (np.array([0.1, 0.5, -0.2, 0.3], np.float32), np.array([0.3, -0.4], np.float32))


def _action_counts(fn: Callable[..., Array], name: str, num_keys: int) -> list[np.ndarray]:
    """For each Q-vector of ``_EPS_Q``: how often each action was chosen over ``num_keys`` keys,
    one row per epsilon of ``_EPSILONS``.

    Run like notebook 3's acting step: vmapped over keys and Q-values, epsilon traced; one
    compiled program for both numbers of actions and every epsilon.
    """
    __tracebackhide__ = True
    keys = jax.random.split(jax.random.key(0), num_keys)

    def act(keys, q_values, epsilons):
        return [
            jax.vmap(lambda eps, q=q: jax.vmap(fn, in_axes=(0, 0, None))(keys, q, eps))(epsilons)
            for q in q_values
        ]

    out = call(
        jax.jit(act),
        name,
        keys,
        [np.broadcast_to(q, (num_keys, q.shape[0])) for q in _EPS_Q],
        np.array(_EPSILONS, np.float32),
        hints=[
            (
                jax.errors.TracerBoolConversionError,
                "A Python `if` on the coin flip needs a concrete True or False; choose "
                "between the random and the greedy action with jnp.where(explore, "
                "random_action, greedy_action).",
            )
        ],
        shapes="return one action, an int32 scalar of shape (), for one state.",
    )
    counts = []
    for q, actions in zip(_EPS_Q, out, strict=True):
        num_actions = q.shape[0]
        raw = np.asarray(actions)
        if raw.shape[-1:] == (num_keys,) and raw.dtype.kind == "f" and np.isin(raw, q).all():
            fail(
                f"`{name}` returned Q-values ({fmt(np.unique(raw))}), not actions: the greedy "
                f"action is jnp.argmax(q_values), the index of the largest value."
            )
        what = f"one action per key under jax.vmap ({num_keys} keys)"
        actions = as_array(actions, name, what, (len(_EPSILONS), num_keys), kind="iu")
        if actions.min() < 0 or actions.max() >= num_actions:
            fail(
                f"with {num_actions} actions (Q-values {fmt(q)}), `{name}` returned actions "
                f"outside [0, {num_actions}): {sorted(set(actions.ravel().tolist()))}. Take the "
                f"number of actions from the input, q_values.shape[-1]."
            )
        counts.append(
            {
                eps: np.bincount(row, minlength=num_actions) / num_keys
                for eps, row in zip(_EPSILONS, actions, strict=True)
            }
        )
    return counts


def check_epsilon_greedy(fn: Callable[..., Array]) -> None:
    """Checks ``epsilon_greedy(key, q_values, epsilon) -> action``.

    ``q_values``: shape ``(num_actions,)``. Expected: with probability ``epsilon`` an action drawn
    uniformly from all actions (the greedy one included), else ``argmax q_values``; an integer
    scalar. Run as the notebooks run it: ``jax.jit(jax.vmap(...))`` over keys and Q-values,
    with 4 actions (the gridworld) and 2 (CartPole), ``epsilon`` traced.
    """
    __tracebackhide__ = True
    name = "epsilon_greedy"
    num_keys, tol = 4000, 0.04
    for q, counts in zip(_EPS_Q, _action_counts(fn, name, num_keys), strict=True):
        num_actions, greedy, worst = q.shape[0], int(np.argmax(q)), int(np.argmin(q))
        uniform = np.full(num_actions, 1 / num_actions)
        setting = f"with {num_actions} actions and Q-values {fmt(q)} (greedy action {greedy})"

        share = counts[0.0][greedy]
        if share < 1.0:
            hint = ""
            if counts[0.0][worst] == 1.0:
                hint = (
                    f"\nIt always chose action {worst}, the worst one: the greedy action is "
                    f"jnp.argmax(q_values), not argmin."
                )
            elif np.abs(counts[0.0] - uniform).max() < tol:
                hint = (
                    "\nAt epsilon=0 the actions were uniformly random: the comparison is "
                    "reversed. Explore when jax.random.uniform(key) < epsilon."
                )
            fail(
                f"{setting}, epsilon=0 must always give the greedy action; it was chosen in "
                f"{share:.0%} of {num_keys} calls (frequencies of the actions: "
                f"{np.round(counts[0.0], 3).tolist()}).{hint}"
            )

        freq = counts[1.0]
        if np.abs(freq - uniform).max() > tol:
            hint = ""
            others = np.delete(freq, greedy)
            rest = np.delete(freq, num_actions - 1)
            if freq[greedy] == 0 and np.abs(others - 1 / (num_actions - 1)).max() < tol:
                hint = (
                    f"\nThe greedy action never came up: the random action is uniform over all "
                    f"{num_actions} actions, the greedy one included. Draw it with "
                    f"jax.random.randint(key, (), 0, num_actions)."
                )
            elif freq[-1] == 0 and np.abs(rest - 1 / (num_actions - 1)).max() < tol:
                hint = (
                    f"\nThe last action, {num_actions - 1}, never came up: randint's upper "
                    f"bound is excluded, so draw with jax.random.randint(key, (), 0, "
                    f"num_actions)."
                )
            elif freq[greedy] == 1.0:
                hint = (
                    "\nAt epsilon=1 it always chose the greedy action: the comparison is "
                    "reversed. Explore when jax.random.uniform(key) < epsilon."
                )
            fail(
                f"{setting}, epsilon=1 must choose every action about {1 / num_actions:.0%} of "
                f"the time, got frequencies {np.round(freq, 3).tolist()} over {num_keys} "
                f"calls.{hint}"
            )

        share = counts[0.5][greedy]
        want = 1 - 0.5 + 0.5 / num_actions
        if abs(share - want) > tol:
            fail(
                f"{setting}, epsilon=0.5 must choose the greedy action with probability "
                f"1 - eps + eps/|A| = {want:.3f}, got {share:.3f} over {num_keys} calls. Explore "
                f"with probability epsilon (jax.random.uniform(explore_key) < epsilon), and draw "
                f"the random action with its own key (jax.random.split)."
            )
    passed(name, "is greedy at epsilon=0, uniform at epsilon=1, right in between, under jit.")
