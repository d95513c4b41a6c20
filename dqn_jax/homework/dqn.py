"""Checks for notebook 3, DQN from scratch: ``replay_add``, ``replay_sample``,
``q_learning_target``, ``td_loss``, ``td_update`` and ``sync_target``.

The notebook's training run is ``jax.jit(jax.vmap(train))`` over seeds, a ``lax.scan`` whose
carry holds the replay buffer, both parameter pytrees and the optimizer state. CartPole-v1 has
4-number observations and 2 actions; 4 environments add 4 transitions per iteration; the
Q-network is an ``eqx.nn.MLP`` split by ``eqx.partition``; the optimizer is Adam with gradient
clipping and a learning-rate schedule; ``gamma`` and ``tau`` are Python floats. The checks run
the functions the same way: vmapped over a seed axis, jitted, with those shapes and dtypes, and
every carried output must keep the shapes and dtypes it came in with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree

from dqn_jax.blocks.replay import ReplayState, Transition
from dqn_jax.blocks.update import QParams
from dqn_jax.homework._common import (
    as_array,
    call,
    close,
    diagnose,
    fail,
    fmt,
    passed,
    same_types,
)

OBS_DIM, NUM_ACTIONS, NUM_ENVS = 4, 2, 4  # CartPole-v1, and the notebook's parallel envs
SEEDS = 2  # the seed axis the notebook vmaps train over


# Inputs and references are built with NumPy: every eager JAX operation on a new shape would
# compile a small program of its own.


def _seeds(tree: Any, seeds: int = SEEDS) -> Any:
    """``tree`` repeated along a new leading seed axis."""
    return jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (seeds, *np.shape(x))), tree)


def _seed0(tree: Any) -> Any:
    return jax.tree.map(lambda x: np.asarray(x)[0], tree)


def _first_leaf(tree: PyTree) -> np.ndarray:
    return np.asarray(jax.tree.leaves(tree)[0])


def _all_close(a: PyTree, b: PyTree, tol: float = 1e-4) -> bool:
    return all(
        close(x, y, tol) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


# --------------------------------------------------------------------------------------------
# Replay
# --------------------------------------------------------------------------------------------

_CAPACITY = 10  # not a multiple of NUM_ENVS, so a batch wraps round the end of the buffer
_FIELDS = len(Transition._fields)  # what len(state.storage) gives: 6, not the capacity


def _marked(marks: np.ndarray) -> Transition:
    """Transitions whose fields are marked with their number (0 for an empty slot)."""
    marks = np.asarray(marks, np.float32)
    return Transition(
        obs=np.stack([marks] * OBS_DIM, axis=1),
        action=marks.astype(np.int32),
        reward=marks * 10.0,
        terminated=np.zeros_like(marks),
        truncated=np.zeros_like(marks),
        next_obs=np.stack([-marks] * OBS_DIM, axis=1),
    )


def _example_transitions(start: int, n: int) -> Transition:
    """``n`` transitions marked with their numbers ``start + 1, ..., start + n``."""
    return _marked(np.arange(start + 1, start + n + 1))


def _replay(marks: list[int], position: int, size: int) -> ReplayState:
    """A buffer whose slots hold the transitions numbered ``marks``, as ``replay.init`` and
    ``replay.add`` would have left it."""
    return ReplayState(_marked(np.array(marks)), np.int32(position), np.int32(size))


def _empty_replay(capacity: int) -> ReplayState:
    return _replay([0] * capacity, 0, 0)


def _ring(capacity: int, batches: int, mode: str = "right") -> list[tuple[list[int], int, int]]:
    """(slot marks, position, size) after each batch of NUM_ENVS writes, by rule ``mode``:
    ``"right"``; ``"dropped"``: slots position + i, writes past the end lost; ``"clamped"``:
    ``lax.dynamic_update_slice``, which moves the start back so the batch fits; ``"first"``: only
    the first transition of each batch written."""
    slots, position, size, out = [0] * capacity, 0, 0, []
    for b in range(batches):
        marks = list(range(b * NUM_ENVS + 1, (b + 1) * NUM_ENVS + 1))
        if mode == "right":
            index = [(position + i) % capacity for i in range(NUM_ENVS)]
        elif mode == "dropped":
            index = [position + i for i in range(NUM_ENVS)]
        elif mode == "clamped":
            start = min(position, capacity - NUM_ENVS)
            index = [start + i for i in range(NUM_ENVS)]
        else:
            index, marks = [position], marks[:1]
        for i, m in zip(index, marks, strict=True):
            if i < capacity:
                slots[i] = m
        position, size = (position + NUM_ENVS) % capacity, min(size + NUM_ENVS, capacity)
        out.append((list(slots), position, size))
    return out


def check_replay_add(fn: Callable[..., Any]) -> None:
    """Checks ``replay_add(state, transitions) -> state``.

    ``state``: a :class:`~dqn_jax.blocks.replay.ReplayState` whose storage leaves have a leading
    ``capacity`` axis; ``transitions``: a :class:`~dqn_jax.blocks.replay.Transition` of ``n`` steps
    (leading axis ``n``). Expected: slots ``(position + i) % capacity`` written, ``position``
    advanced modulo capacity, ``size`` capped at capacity. Run as the training loop runs it:
    ``jax.jit(jax.vmap(...))`` over seeds, 4 CartPole transitions at a time, the returned state
    of the same shapes and dtypes (``lax.scan`` carries it).
    """
    __tracebackhide__ = True
    name = "replay_add"
    batches = 3  # 12 transitions into 10 slots: the third batch wraps round
    add = jax.jit(jax.vmap(fn))
    state = _seeds(_empty_replay(_CAPACITY))
    right = _ring(_CAPACITY, batches)
    for b in range(batches):
        added = (b + 1) * NUM_ENVS
        new = call(
            add,
            name,
            state,
            _seeds(_example_transitions(b * NUM_ENVS, NUM_ENVS)),
            hints=[
                (
                    jax.errors.TracerBoolConversionError,
                    "A Python `if` on position or size needs a concrete True or False. Wrap "
                    "with % capacity and cap with jnp.minimum(size + n, capacity) instead.",
                )
            ],
            shapes=(
                f"n is the length of the transitions' leading axis (here {NUM_ENVS}) and "
                f"capacity that of the storage's (here {_CAPACITY}): "
                f"jax.tree.leaves(transitions)[0].shape[0]. len(transitions) is the number of "
                f"fields of a Transition, {_FIELDS}."
            ),
        )
        if not isinstance(new, ReplayState):
            fail(
                f"`{name}` should return a ReplayState(storage, position, size), got "
                f"{type(new).__name__}. Build it with ReplayState(storage=..., position=..., "
                f"size=...) or state._replace(...)."
            )
        same_types(_seed0(new), _seed0(state), name, "the ReplayState")
        state = new
        marks, position, size = (
            (np.asarray(state.storage.reward[0]) / 10.0).astype(int).tolist(),
            int(state.position[0]),
            int(state.size[0]),
        )
        want_marks, want_position, want_size = right[b]
        where = (
            f"after adding {added} transitions in batches of {NUM_ENVS} to a buffer of "
            f"capacity {_CAPACITY}"
        )
        if size != want_size:
            hint = ""
            if size > _CAPACITY:
                hint = " Cap it: jnp.minimum(size + n, capacity)."
            elif size == min(added, _FIELDS):
                hint = (
                    f" The size stopped at {_FIELDS}, the number of fields of a Transition "
                    f"(len(state.storage)): the capacity is the length of the storage's "
                    f"leading axis, jax.tree.leaves(state.storage)[0].shape[0]."
                )
            fail(f"{where}, size should be {want_size}, got {size}.{hint}")
        if position != want_position:
            hint = ""
            if position >= _CAPACITY:
                hint = " Wrap it: (position + n) % capacity."
            elif position == added % _FIELDS:
                hint = (
                    f" The position wrapped at {_FIELDS}, the number of fields of a Transition "
                    f"(len(state.storage)): the capacity is the length of the storage's "
                    f"leading axis, jax.tree.leaves(state.storage)[0].shape[0]."
                )
            fail(
                f"{where}, position (the next slot to write) should be {want_position}, got "
                f"{position}.{hint}"
            )
        if marks != want_marks:
            hint = ""
            if marks == _ring(_CAPACITY, batches, "dropped")[b][0]:
                hint = (
                    "\nThe transitions past the end of the buffer were lost (JAX drops "
                    "out-of-range writes silently): wrap the slot indices, (position + "
                    "jnp.arange(n)) % capacity, so the newest transitions overwrite the oldest."
                )
            elif marks == _ring(_CAPACITY, batches, "clamped")[b][0]:
                hint = (
                    "\nThe batch was moved back to fit before the end of the buffer (what "
                    "lax.dynamic_update_slice does) instead of wrapping round: write to slots "
                    "(position + jnp.arange(n)) % capacity."
                )
            elif marks == _ring(_CAPACITY, batches, "first")[b][0]:
                hint = (
                    "\nOnly the first transition of each batch was written: write all n, at "
                    "slots (position + jnp.arange(n)) % capacity."
                )
            fail(
                f"{where}, the slots should hold transitions number {want_marks} (0 = empty), "
                f"got {marks}.{hint}"
            )
        for field in ("obs", "action", "next_obs", "terminated", "truncated"):
            got_field = np.asarray(getattr(state.storage, field)[0])
            marks_field = np.asarray(want_marks, float)
            want_field = {
                "obs": np.stack([marks_field] * OBS_DIM, axis=1),
                "action": marks_field,
                "next_obs": -np.stack([marks_field] * OBS_DIM, axis=1),
            }.get(field, np.zeros(_CAPACITY))
            if not np.array_equal(got_field, want_field):
                fail(f"{where}, the `{field}` storage is wrong: write every field of the batch.")
    passed(name, "writes a ring buffer that wraps round and caps its size, under jit and vmap.")


_SAMPLE_SEEDS, _SAMPLE_BATCH, _SAMPLE_CAPACITY = 32, 128, 8  # 128: the notebook's batch size


def _sample_marks(sample: Callable[..., Any], name: str, state: ReplayState) -> np.ndarray:
    """The marks of the transitions ``sample`` (the jitted, vmapped student function) draws
    from ``state``, one row per seed, each seed with its own key."""
    __tracebackhide__ = True
    keys = jax.random.split(jax.random.key(0), _SAMPLE_SEEDS)
    states = _seeds(state, _SAMPLE_SEEDS)
    traced_size = (
        "state.size is a traced int32 (in the notebook every seed's buffer has its own size), "
        "so jax.random.choice(key, state.size, ...), jax.random.permutation(key, "
        "state.size), jnp.arange(state.size) and int(state.size) fail: they need a concrete "
        "number. Draw the indices with jax.random.randint(key, (batch_size,), 0, state.size), "
        "which accepts a traced upper bound."
    )
    batch = call(
        sample,
        name,
        states,
        keys,
        hints=[
            (jax.errors.ConcretizationTypeError, traced_size),
            (jax.errors.TracerIntegerConversionError, traced_size),
            (
                lambda e: any(m in str(e) for m in ("tuple indices", "to a scalar index")),
                "state.storage is a Transition, a NamedTuple of arrays; index every leaf the "
                "same way: jax.tree.map(lambda x: x[index], state.storage).",
            ),
        ],
    )
    try:
        reward, obs = np.asarray(batch.reward), np.asarray(batch.obs)
    except AttributeError:
        fail(f"`{name}` should return a Transition, got {type(batch).__name__}")
    if reward.shape != (_SAMPLE_SEEDS, _SAMPLE_BATCH) or obs.shape[-2:] != (
        _SAMPLE_BATCH,
        OBS_DIM,
    ):
        fail(
            f"`{name}(state, key, {_SAMPLE_BATCH})` should return leaves with leading axis "
            f"{_SAMPLE_BATCH} (reward {(_SAMPLE_BATCH,)}, obs {(_SAMPLE_BATCH, OBS_DIM)}), got "
            f"reward {reward.shape[1:]} and obs {obs.shape[1:]}"
        )
    if not np.array_equal(obs[..., 0] * 10.0, reward):
        fail(f"`{name}` mixed fields of different transitions: index every leaf the same way.")
    return (reward / 10.0).astype(int)


def check_replay_sample(fn: Callable[..., Any]) -> None:
    """Checks ``replay_sample(state, key, batch_size) -> Transition``.

    Expected: ``batch_size`` transitions drawn uniformly with replacement among the written slots
    ``[0, size)``, each leaf with leading axis ``batch_size``. Run as the training loop runs it:
    under ``jax.jit(jax.vmap(...))`` over seeds, so ``state.size`` is traced, with the
    notebook's batch size, 128.
    """
    __tracebackhide__ = True
    name = "replay_sample"
    capacity, tol = _SAMPLE_CAPACITY, 0.05
    sample = jax.jit(jax.vmap(lambda state, key: fn(state, key, _SAMPLE_BATCH)))
    partial = _replay([1, 2, 3] + [0] * (capacity - 3), 3, 3)
    marks = _sample_marks(sample, name, partial)
    draws = marks.size
    if (marks == 0).any():
        fail(
            f"with 3 transitions in a buffer of capacity {capacity}, {np.mean(marks == 0):.0%} "
            f"of the samples were empty slots: draw indices in [0, size), not [0, capacity)."
        )
    if len({tuple(row) for row in marks}) == 1:
        fail(
            f"`{name}` returned the same samples for {_SAMPLE_SEEDS} different keys: draw the "
            f"indices with the key it is given."
        )
    freq = np.bincount(marks.ravel(), minlength=4)[1:] / draws
    if np.max(np.abs(freq - 1 / 3)) > tol:
        hint = ""
        if freq[2] == 0:
            hint = (
                " Transition 3, the last one written, never came up: randint's upper bound is "
                "excluded, so draw with jax.random.randint(key, (batch_size,), 0, state.size)."
            )
        elif freq[0] == 0:
            hint = " Slot 0 never came up: draw indices from 0, randint(key, shape, 0, size)."
        fail(
            f"with 3 transitions stored each should be drawn about 1/3 of the time, got "
            f"{np.round(freq, 3).tolist()} over {draws} draws.{hint}"
        )

    wrapped = _replay([9, 10, 11, 12, 5, 6, 7, 8], 4, capacity)  # 12 added: it wrapped round
    marks = _sample_marks(sample, name, wrapped)
    present = sorted(set(marks.ravel().tolist()))
    if len(present) != capacity:
        fail(
            f"after 12 transitions in a buffer of capacity {capacity} (it wrapped round: "
            f"position=4, size={capacity}), every slot holds data, but only transitions "
            f"{present} were drawn: draw indices in [0, size), not [0, position)."
        )
    passed(name, "draws uniformly among the written slots, under jit and vmap over seeds.")


# --------------------------------------------------------------------------------------------
# The TD target
# --------------------------------------------------------------------------------------------

# (r, discount, q_next) of 4 transitions; q_next has CartPole's 2 actions. Across them, the
# max, the first entry, the min, the argmax, the mean and the sum of q_next all differ.
_Q_CASES = (
    (0.5, 0.99, (-0.5, 2.0)),
    (1.0, 0.0, (3.0, 1.0)),
    (-1.0, 0.5, (1.5, 4.0)),
    (0.0, 0.9, (2.5, 0.5)),
)
_ASSUMED_GAMMA = 0.99  # the notebook's GAMMA, which a student might multiply by again


def check_q_learning_target(fn: Callable[..., Array]) -> None:
    """Checks ``q_learning_target(r, discount, q_next) -> y`` for ONE transition.

    ``r``, ``discount``: scalars (``discount = gamma * (1 - terminated)``, gamma included);
    ``q_next``: ``(num_actions,)`` target-network values at the next observation. Expected:
    ``y = r + discount * max_a q_next[a]``, a scalar. Run as ``td_loss`` uses it:
    ``jax.jit(jax.vmap(q_learning_target))`` over a batch of transitions.
    """
    __tracebackhide__ = True
    name = "q_learning_target"
    r = np.array([c[0] for c in _Q_CASES])
    d = np.array([c[1] for c in _Q_CASES])
    q = np.array([c[2] for c in _Q_CASES])
    out = call(
        jax.jit(jax.vmap(fn)),
        name,
        jnp.asarray(r, jnp.float32),
        jnp.asarray(d, jnp.float32),
        jnp.asarray(q, jnp.float32),
        shapes=(
            "write it for ONE transition: q_next has shape (num_actions,), a single axis "
            "(jax.vmap adds the batch), so take jnp.max(q_next)."
        ),
    )
    if np.shape(out) == q.shape:
        fail(
            f"`{name}` should return one scalar y per transition, got an array of shape "
            f"{q.shape[1:]}: take the max over the actions, jnp.max(q_next)."
        )
    got = as_array(out, name, "one target per transition under jax.vmap", r.shape)
    want = r + d * q.max(axis=1)
    if np.allclose(got, want, atol=1e-4):
        passed(name, "computes r + discount * max_a Q_target(s', a) for one transition.")
        return
    hint = diagnose(
        got,
        [
            (
                r + d * q.mean(axis=1),
                "You averaged over actions; Q-learning takes the max: jnp.max(q_next).",
            ),
            (
                r + d * q[:, 0],
                "You used the first action's value; take the max over all actions: "
                "jnp.max(q_next).",
            ),
            (
                r + d * q.argmax(axis=1),
                "You used argmax, the index of the best action, as if it were a value; the "
                "target needs the value itself: jnp.max(q_next).",
            ),
            (
                r + d * q.min(axis=1),
                "You took the min over actions; Q-learning bootstraps from the best action: "
                "jnp.max(q_next).",
            ),
            (
                r + d * q.sum(axis=1),
                "You summed over actions; Q-learning takes the max: jnp.max(q_next).",
            ),
            (
                r + _ASSUMED_GAMMA * d * q.max(axis=1),
                "`discount` already includes gamma: do not multiply by gamma again.",
            ),
            (
                r + (1 - d) * q.max(axis=1),
                "`discount` is the bootstrap factor gamma * (1 - terminated) itself: "
                "y = r + discount * max q_next.",
            ),
            (
                r + _ASSUMED_GAMMA * q.max(axis=1),
                "A terminal transition (discount=0) bootstrapped: use the `discount` argument, "
                "which is 0 after a termination, instead of a fixed gamma.",
            ),
        ],
    )
    lines = [
        f"  r={r[i]}, discount={d[i]}, q_next={fmt(q[i])}: y should be {fmt(want[i])}, got "
        f"{fmt(got[i])}"
        for i in range(len(r))
        if not np.isclose(got[i], want[i], atol=1e-4)
    ]
    fail("y = r + discount * max_a q_next[a] is wrong for\n" + "\n".join(lines) + hint)


# --------------------------------------------------------------------------------------------
# The TD loss and update
# --------------------------------------------------------------------------------------------

_TD_GAMMA = 0.9  # a Python float, as the notebook's GAMMA; below 0.99 so a lost gamma shows


@functools.cache
def _td_problem() -> tuple[PyTree, PyTree, PyTree, Transition]:
    """Online and target parameters of the notebook's network (an ``eqx.nn.MLP``, smaller),
    its static part, and a batch of 8 CartPole-shaped transitions."""

    def network(key: Array) -> eqx.nn.MLP:
        return eqx.nn.MLP(OBS_DIM, NUM_ACTIONS, width_size=8, depth=2, key=key)

    # The network's structure without running its initialisation (which compiles slowly),
    # then NumPy values for its parameters.
    shapes = eqx.filter_eval_shape(network, jax.random.key(0))
    shapes, static = eqx.partition(shapes, lambda x: isinstance(x, jax.ShapeDtypeStruct))
    rng = np.random.default_rng(2)
    online, target = (
        jax.tree.map(lambda s: rng.uniform(-0.6, 0.6, s.shape).astype(s.dtype), shapes)
        for _ in range(2)
    )
    n = 8
    batch = Transition(
        obs=rng.normal(size=(n, OBS_DIM)).astype(np.float32),
        action=np.array([0, 1, 1, 0, 1, 0, 0, 1], np.int32),
        reward=rng.normal(size=n).astype(np.float32),
        terminated=np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], np.float32),
        truncated=np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0], np.float32),
        next_obs=rng.normal(size=(n, OBS_DIM)).astype(np.float32),
    )
    return online, target, static, batch


def _td_loss_variant(
    online: PyTree,
    target: PyTree,
    static: PyTree,
    batch: Transition,
    gamma: float,
    *,
    bootstrap: str = "target",
    mask: str = "terminated",
    discount: bool = True,
    next_max: str = "sample",
    q_of: str = "action",
    swap_obs: bool = False,
    half: bool = True,
    reduce: str = "mean",
) -> Float[Array, ""]:
    """The TD loss and its usual misspellings (the reference is the all-default call)."""
    online_net = eqx.combine(online, static)
    boot_net = online_net if bootstrap == "online" else eqx.combine(target, static)
    obs, next_obs = (batch.next_obs, batch.obs) if swap_obs else (batch.obs, batch.next_obs)
    q = jax.vmap(online_net)(obs)
    q_a = {
        "action": jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0],
        "max": jnp.max(q, axis=1),
        "mean": jnp.mean(q, axis=1),
        "all": q[:, batch.action],  # (batch, batch): every sample's Q of every taken action
    }[q_of]
    alive = {
        "terminated": 1.0 - batch.terminated,
        "none": jnp.ones_like(batch.terminated),
        "both": (1.0 - batch.terminated) * (1.0 - batch.truncated),
        "truncated": 1.0 - batch.truncated,
        "inverted": batch.terminated,
    }[mask]
    q_next = jax.vmap(boot_net)(next_obs)
    best = jnp.max(q_next, axis=1) if next_max == "sample" else jnp.max(q_next)
    y = batch.reward + (gamma if discount else 1.0) * alive * best
    y = y[:, None] if q_of == "all" else y
    sq = (jax.lax.stop_gradient(y) - q_a) ** 2 * (0.5 if half else 1.0)
    return jnp.mean(sq) if reduce == "mean" else jnp.sum(sq)


_TD_LOSS_MISTAKES: tuple[tuple[dict[str, Any], str], ...] = (
    (
        dict(bootstrap="online"),
        "The target bootstrapped from the online network. Use the target network: "
        "Q_target(s', .) = vmap(eqx.combine(target_params, static)).",
    ),
    (
        dict(mask="none"),
        "Terminal transitions bootstrapped: multiply the next value by (1 - batch.terminated).",
    ),
    (
        dict(mask="both"),
        "Truncated transitions stopped bootstrapping. Truncation (a time limit) is not "
        "termination: only batch.terminated masks the bootstrap.",
    ),
    (
        dict(mask="truncated"),
        "You masked with batch.truncated; the mask is (1 - batch.terminated). Truncation (a "
        "time limit) keeps bootstrapping, termination ends it.",
    ),
    (
        dict(mask="inverted"),
        "The mask is inverted: (1 - batch.terminated) keeps the bootstrap of the transitions "
        "that did not terminate; you multiplied by batch.terminated.",
    ),
    (
        dict(discount=False),
        "Did you forget gamma? The discount passed to the target is gamma * (1 - terminated).",
    ),
    (
        dict(next_max="batch"),
        "The max ran over the whole batch of next Q-values; take it per transition over the "
        "actions: jnp.max(q_next, axis=1), or jax.vmap(q_learning_target).",
    ),
    (
        dict(q_of="max"),
        "The prediction is Q_online(s, a) of the action taken (batch.action), not max_a "
        "Q_online(s, a): use jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0].",
    ),
    (
        dict(q_of="mean"),
        "The prediction is Q_online(s, a) of the action taken, not an average over actions.",
    ),
    (
        dict(q_of="all"),
        "q[:, batch.action] picks every taken action for every sample, a (batch, batch) "
        "array; pick one entry per row: q[jnp.arange(batch_size), batch.action] or "
        "jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0].",
    ),
    (
        dict(swap_obs=True),
        "obs and next_obs are swapped: the prediction is Q_online(batch.obs, a), the target "
        "bootstraps from Q_target(batch.next_obs, .).",
    ),
    (dict(half=False), "The loss is 0.5 * delta**2 (the 1/2 makes its gradient delta)."),
    (
        dict(reduce="sum"),
        "Average over the batch (jnp.mean), do not sum: the step size would grow with the "
        "batch size.",
    ),
)


@functools.cache
def _td_loss_references() -> tuple[float, list[tuple[float, str]], PyTree]:
    """The right loss, every mistake's loss with its hint, and the right gradient."""
    online, target, static, batch = _td_problem()

    @jax.jit
    def losses(online, target, batch):
        right = jax.value_and_grad(_td_loss_variant)(online, target, static, batch, _TD_GAMMA)
        wrong = [
            _td_loss_variant(online, target, static, batch, _TD_GAMMA, **kw)
            for kw, _ in _TD_LOSS_MISTAKES
        ]
        return right, wrong

    (loss, grads), wrong = losses(online, target, batch)
    return (
        float(loss),
        [(float(w), hint) for w, (_, hint) in zip(wrong, _TD_LOSS_MISTAKES, strict=True)],
        grads,
    )


def check_td_loss(fn: Callable[..., Array]) -> None:
    """Checks ``td_loss(online_params, target_params, static, batch, gamma) -> loss``.

    ``static`` is the non-array part of the Q-network (``eqx.partition``); ``batch`` a
    :class:`~dqn_jax.blocks.replay.Transition` with leading axis ``batch``. Expected:
    ``y = r + gamma * (1 - terminated) * max_a Q_target(s', a)`` (truncation keeps
    bootstrapping), ``delta = y - Q_online(s, a)`` for the action taken,
    ``loss = mean(0.5 * delta**2)``, and no gradient into the target parameters. Run as
    ``td_update`` uses it in the training loop: its value and gradient, under
    ``jax.jit(jax.vmap(...))`` over seeds, on an ``eqx.nn.MLP`` with CartPole's shapes and
    ``gamma`` a Python float.
    """
    __tracebackhide__ = True
    name = "td_loss"
    online, target, static, batch = _td_problem()

    def loss_and_grads(online, target, batch):
        return jax.value_and_grad(lambda o, t: fn(o, t, static, batch, _TD_GAMMA), argnums=(0, 1))(
            online, target
        )

    out = call(
        jax.jit(jax.vmap(loss_and_grads)),
        name,
        _seeds(online),
        _seeds(target),
        _seeds(batch),
        shapes=(
            "q = jax.vmap(online)(batch.obs) has shape (batch, num_actions): pick the taken "
            "action per row, take the max of q_next over axis 1, and return a scalar."
        ),
    )
    loss, (grads, grads_target) = out
    got = as_array(loss, name, "the loss (a scalar per seed under jax.vmap)", (SEEDS,))[0]
    want, mistakes, want_grads = _td_loss_references()
    if not close(got, want):
        hint = diagnose(got, mistakes)
        fail(f"on a batch of 8 transitions the loss should be {fmt(want)}, got {fmt(got)}.{hint}")
    if any(np.abs(np.asarray(g)).max() > 0 for g in jax.tree.leaves(grads_target)):
        fail(
            "the loss is right, but its gradient flows into target_params: the target y is a "
            "constant for the update. Wrap it in jax.lax.stop_gradient(y)."
        )
    grads = _seed0(grads)
    if not _all_close(grads, want_grads):
        hint = ""
        if all(np.abs(np.asarray(g)).max() == 0 for g in jax.tree.leaves(grads)):
            hint = (
                " It is zero: stop_gradient was applied to the prediction (or the whole loss); "
                "apply it to the target y only."
            )
        fail(
            "the loss value is right but its gradient with respect to online_params is not."
            f"{hint} Differentiate only the prediction Q_online(s, a); the target "
            "jax.lax.stop_gradient(y) is a constant."
        )
    passed(name, "is the mean of 0.5 * (y - Q(s, a))**2 with a constant, masked target.")


def _td_optimizer() -> optax.GradientTransformation:
    """The notebook's optimizer: clipping, then Adam on a decaying learning rate (a larger
    rate here, so that one step moves every parameter visibly)."""
    return optax.chain(
        optax.clip_by_global_norm(10.0), optax.adam(optax.linear_schedule(0.05, 0.0, 100))
    )


@functools.cache
def _td_update_reference() -> tuple[Any, ...]:
    """The optimizer, its initial state, the loss before the step, the updates, the state and
    parameters after it, and the loss after it."""
    online, target, static, batch = _td_problem()
    optimizer = _td_optimizer()

    @jax.jit
    def reference(online, target, batch):
        opt_state = optimizer.init(online)
        loss, grads = jax.value_and_grad(_td_loss_variant)(online, target, static, batch, _TD_GAMMA)
        updates, new_opt_state = optimizer.update(grads, opt_state, online)
        new_online = optax.apply_updates(online, updates)
        loss_after = _td_loss_variant(new_online, target, static, batch, _TD_GAMMA)
        return opt_state, loss, updates, new_opt_state, new_online, loss_after

    out = jax.tree.map(np.asarray, reference(online, target, batch))
    return optimizer, *out


def check_td_update(fn: Callable[..., Any]) -> None:
    """Checks ``td_update(params, opt_state, batch, gamma, *, static, optimizer)``.

    ``params``: :class:`~dqn_jax.blocks.update.QParams` ``(online, target)``; ``optimizer`` an optax
    ``GradientTransformation`` whose state ``opt_state`` is. Expected: one optimizer step on
    the online parameters along the gradient of the TD loss, the target unchanged; returns
    ``(QParams, new_opt_state, loss before the step)``. Run as the training loop runs it: under
    ``jax.jit(jax.vmap(...))`` over seeds, with the notebook's kind of optimizer (gradient
    clipping, then Adam on a schedule), params and opt_state of unchanged shapes and dtypes.
    """
    __tracebackhide__ = True
    name = "td_update"
    online, target, static, batch = _td_problem()
    optimizer, opt_state, want_loss, updates, want_opt_state, want_online, loss_after = (
        _td_update_reference()
    )
    params = QParams(online, target)

    def step(params, opt_state, batch):
        return fn(params, opt_state, batch, _TD_GAMMA, static=static, optimizer=optimizer)

    out = call(
        jax.jit(jax.vmap(step)),
        name,
        _seeds(params),
        _seeds(opt_state),
        _seeds(batch),
        hints=[
            (
                jax.errors.ConcretizationTypeError,
                "float(loss) and loss.item() need a concrete number: return the loss array "
                "itself, and the notebook turns it into numbers after training.",
            )
        ],
    )
    if not (isinstance(out, tuple) and len(out) == 3):
        fail(f"`{name}` should return a tuple (params, opt_state, loss), got {type(out).__name__}")
    new_params, new_opt_state, loss = out
    if not isinstance(new_params, QParams):
        fail(
            f"`{name}` should return QParams(online, target) first, got {type(new_params).__name__}"
        )
    same_types(_seed0(new_params), params, name, "the parameters")
    same_types(_seed0(new_opt_state), opt_state, name, "the optimizer state")
    loss = as_array(loss, name, "the loss (a scalar per seed under jax.vmap)", (SEEDS,))[0]
    new_params, new_opt_state = _seed0(new_params), _seed0(new_opt_state)

    if not close(loss, want_loss):
        hint = (
            " That is the loss after the step: compute it before applying the updates "
            "(jax.value_and_grad gives both at once)."
            if close(loss, loss_after)
            else " Compute it with td_loss on the online parameters (check td_loss first if its "
            "check has not passed)."
        )
        fail(
            f"the loss returned should be the TD loss before the step, {fmt(want_loss)}, got "
            f"{fmt(loss)}.{hint}"
        )
    if not _all_close(new_params.target, target):
        hint = (
            " It was set to the new online parameters"
            if _all_close(new_params.target, new_params.online)
            else " It moved"
        )
        fail(
            f"the target parameters changed.{hint}: td_update takes a gradient step on the "
            f"online parameters only; the target moves only when sync_target updates it."
        )
    if _all_close(new_params.online, online):
        fail(
            "the online parameters did not change: apply the optimizer's updates with "
            "optax.apply_updates(params.online, updates)."
        )
    ascent = optax.apply_updates(online, jax.tree.map(lambda u: -u, updates))
    twice = optax.apply_updates(want_online, updates)
    if _all_close(new_params.online, ascent):
        fail(
            "the online parameters moved up the loss (gradient ascent): optimizer.update "
            "already negates the gradient, so add its updates, optax.apply_updates(params."
            "online, updates), and do not subtract them."
        )
    if _all_close(new_params.online, twice):
        fail("the optimizer's updates were applied twice: apply them once per step.")
    if not _all_close(new_params.online, want_online):
        hint = ""
        if _all_close(new_opt_state, opt_state):
            hint = (
                " The optimizer's state did not change either: the step did not go through "
                "the optimizer passed in (updates, opt_state = optimizer.update(grads, "
                "opt_state, params.online))."
            )
        fail(
            "the online parameters should move by one step of the optimizer passed in along "
            f"the gradient of the TD loss with respect to params.online, but they moved "
            f"differently.{hint}"
        )
    if not _all_close(new_opt_state, want_opt_state):
        hint = (
            " It is the old one: return the opt_state that optimizer.update gives back (Adam "
            "keeps its moments and step count there)."
            if _all_close(new_opt_state, opt_state)
            else ""
        )
        fail(f"the optimizer state returned is not the one after this step.{hint}")
    passed(name, "takes one optimizer step on the online parameters and leaves the target.")


# --------------------------------------------------------------------------------------------
# The target network
# --------------------------------------------------------------------------------------------

_TAU = 0.25  # below 1, so that copying, keeping and swapping all give different results


def check_sync_target(fn: Callable[..., PyTree]) -> None:
    """Checks ``sync_target(online, target, tau) -> new_target`` on parameter pytrees.

    Expected: ``tau * online + (1 - tau) * target`` leaf by leaf (``tau = 1`` is a hard copy).
    Run as the training loop runs it: on the parameters of an ``eqx.nn.MLP`` (from
    ``eqx.partition``), under ``jax.jit(jax.vmap(...))`` over seeds, ``tau`` a Python float.
    """
    __tracebackhide__ = True
    name = "sync_target"
    online, target, _, _ = _td_problem()

    def both(online, target):
        return fn(online, target, _TAU), fn(online, target, 1.0)

    out = call(
        jax.jit(jax.vmap(both)),
        name,
        _seeds(online),
        _seeds(target),
        hints=[
            (
                lambda e: (
                    isinstance(e, (TypeError, AttributeError, KeyError))
                    and not isinstance(e, jax.errors.JAXTypeError)
                ),
                "The parameters are a pytree (here the arrays of an Equinox MLP, with None "
                "where eqx.partition left out the rest), not a dict or an array: "
                "jax.tree.map(lambda o, t: tau * o + (1 - tau) * t, online, target) combines "
                "them leaf by leaf.",
            )
        ],
    )
    got, copy = out
    same_types(_seed0(got), target, name, "the target parameters")
    got, copy = _seed0(got), _seed0(copy)

    def mix(a: float, b: float) -> PyTree:
        return jax.tree.map(lambda o, t: a * o + b * t, online, target)

    want = mix(_TAU, 1 - _TAU)
    if not _all_close(got, want):
        hint = ""
        for value, message in [
            (target, "It is the target unchanged: the online parameters must move into it."),
            (
                online,
                "You returned the online parameters, a hard copy: with tau < 1 it is a Polyak "
                "average.",
            ),
            (mix(1 - _TAU, _TAU), "The roles are swapped: tau weights the online parameters."),
            (mix(_TAU, 0.0), "The (1 - tau) * target term is missing."),
            (mix(_TAU, 1.0), "The target's weight is 1 - tau, not 1."),
        ]:
            if _all_close(got, value):
                hint = " " + message
        o, t, w, g = (_first_leaf(x).ravel()[:3] for x in (online, target, want, got))
        fail(
            f"with tau={_TAU} the new target should be tau * online + (1 - tau) * target in "
            f"every leaf; in the first weight matrix, online {fmt(o)}... and target "
            f"{fmt(t)}... should give {fmt(w)}..., got {fmt(g)}....{hint} Use "
            f"jax.tree.map(lambda o, t: tau * o + (1 - tau) * t, online, target)."
        )
    if not _all_close(copy, online):
        fail("with tau=1 the new target should be a copy of the online parameters.")
    passed(name, "copies (tau=1) or Polyak-averages (tau<1) every leaf, under jit and vmap.")
