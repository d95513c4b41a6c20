"""Checks for notebook 3, DQN from scratch: ``replay_add``, ``replay_sample``,
``q_learning_target``, ``td_loss``, ``td_update`` and ``sync_target``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree

from dqn_jax import replay as replay_lib
from dqn_jax.homework._common import (
    _array,
    _call,
    _close,
    _diagnose,
    _fail,
    _fmt,
    _passed,
)
from dqn_jax.networks import QNetwork
from dqn_jax.replay import ReplayState, Transition
from dqn_jax.update import QParams


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
