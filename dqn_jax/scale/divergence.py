"""Divergence: a run whose loss, Q-values or parameters turn non-finite never passes as a result.

Inside the jitted run, every gradient step checks that its TD loss, the mean Q-value of its batch
and its gradient norm are finite: three scalars it computes anyway. A finite gradient gives finite
Adam moments and a finite step, so the new parameters are finite too unless they overflow; every
logging point checks them with :func:`all_finite` for that case. The first step that fails is
rejected, its env step is recorded in ``TrainState.diverged_at`` (``-1``: never), and the agent
stops learning: its parameters stay the last finite ones (or, if they overflowed, the ones the
logging point found). ``Metrics.diverged_at`` reports it at every logging point. Those in-run
checks live in :mod:`dqn_jax.loop.finite`.

On the host, :func:`check` turns it into an error naming each diverged agent and its env step.

Checking the loss alone is not enough. ``jnp.argmax`` of NaN Q-values returns action 0, so a
network with NaN parameters still acts: on CartPole-v1 it always pushes left and scores about 9,
which reads like a bad but valid agent. Hence the parameters and Q-values are checked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import PyTree

from dqn_jax.loop.finite import NEVER
from dqn_jax.scale.result import SweepResult


class DivergenceError(ValueError):
    """Some agents' training diverged; ``diverged`` lists ``(agent label, env step)``."""

    def __init__(self, message: str, diverged: list[tuple[str, int]] | None = None) -> None:
        super().__init__(message)
        self.diverged = diverged or []
        self.result: Any = None  # what was checked, where the caller attaches it (sweep does)


def _finite_per_agent(params: PyTree, batch_ndim: int) -> np.ndarray:
    """Host-side: per agent (leading ``batch_ndim`` axes), whether its parameters are finite."""
    ok = None
    for x in jax.tree.leaves(eqx.filter(params, eqx.is_inexact_array)):
        x = np.asarray(x)
        leaf_ok = np.isfinite(x).reshape(*x.shape[:batch_ndim], -1).all(axis=-1)
        ok = leaf_ok if ok is None else ok & leaf_ok
    return ok


def _parts(result: Any) -> tuple[Any, Any, Any]:
    """``(diverged_at, online params or None, sweep or None)`` of anything :func:`check` takes."""
    sweep = None
    if isinstance(result, SweepResult):
        sweep, result = result, result.result
    state = getattr(result, "state", None)
    if state is None and hasattr(result, "params") and hasattr(result, "diverged_at"):
        state = result  # a TrainState
    if state is not None and hasattr(state, "diverged_at"):
        return np.asarray(state.diverged_at), state.params.online, sweep
    metrics = getattr(result, "metrics", result)
    if hasattr(metrics, "diverged_at"):
        # without the state (a sweep's default), the final networks are what is left to check
        network = getattr(result, "q_network", None)
        return np.asarray(metrics.diverged_at)[..., -1], network, sweep
    raise ValueError(
        "check() takes a TrainResult, TrainState, Metrics, Checkpoint or SweepResult, got "
        f"{type(result).__name__}"
    )


def _labels(batch_shape: tuple[int, ...], seeds: Sequence[int] | None, sweep: Any) -> list[str]:
    num = int(np.prod(batch_shape, dtype=int))
    if sweep is not None:
        combos = sweep.combos()
        labels = []
        for index in np.ndindex(*batch_shape):
            values = ", ".join(f"{n}={v:g}" for n, v in combos[index[0]].items())
            labels.append(f"combo {index[0]}" + (f" ({values})" if values else ""))
            labels[-1] += f" seed {index[1]}"
        return labels
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if len(set(seeds)) == num:
            return [f"seed {s}" for s in seeds]
        return [f"agent {i} (seed {s})" for i, s in enumerate(seeds)]
    if len(batch_shape) <= 1:
        return [f"seed {i}" for i in range(num)]
    return [f"agent {index}" for index in np.ndindex(*batch_shape)]


def check(
    result: Any, seeds: Sequence[int] | None = None, labels: Sequence[str] | None = None
) -> Any:
    """Raises :class:`DivergenceError` if any agent of ``result`` diverged; returns ``result``.

    Args:
        result: what ``train`` returns (single or vmapped), a ``TrainState``, ``Metrics``, a
            ``Checkpoint`` or a ``SweepResult``. An agent diverged if its ``diverged_at`` is
            not ``-1`` (a non-finite loss, Q-value or parameter during training), or if its
            final online parameters are not finite.
        seeds: the seed of each agent, flattened in order (default: its index in the batch),
            used to name the agents.
        labels: a name for each agent, flattened in order, used instead of ``seeds`` (e.g.
            ``"learning_rate=0.001 seed 0"`` for a saved sweep).

    Raises:
        DivergenceError: a ``ValueError`` whose one-line message names, for each diverged
            agent, its seed (or combination and seed) and the env step of divergence.
    """
    diverged_at, params, sweep = _parts(result)
    batch_shape = diverged_at.shape
    num = int(np.prod(batch_shape, dtype=int))
    if seeds is not None and len(seeds) != num:
        raise ValueError(f"seeds has {len(seeds)} entries, the result has {num} agent(s)")
    if labels is not None and len(labels) != num:
        raise ValueError(f"labels has {len(labels)} entries, the result has {num} agent(s)")
    bad_step = diverged_at.reshape(-1) != NEVER
    bad_params = np.zeros_like(bad_step)
    if params is not None:
        bad_params = ~_finite_per_agent(params, len(batch_shape)).reshape(-1)
    if not (bad_step.any() or bad_params.any()):
        return result
    labels = list(labels) if labels is not None else _labels(batch_shape, seeds, sweep)
    diverged, parts = [], []
    for i in np.flatnonzero(bad_step | bad_params):
        step = int(diverged_at.reshape(-1)[i])
        diverged.append((labels[i], step))
        where = f"at env step {step:,}" if step != NEVER else "with non-finite parameters"
        parts.append(f"{labels[i]} {where}" if len(labels) > 1 else where)
    who = f"{len(diverged)} of {num} agents: " if num > 1 else ""
    message = (
        f"training diverged (non-finite loss, Q-values or parameters) {who}"
        + "; ".join(parts)
        + ". A diverged agent stops learning from that step on; try a lower learning_rate or "
        "max_grad_norm."
    )
    raise DivergenceError(message, diverged)


def check_and_attach(result: Any, whole: Any = None, **labels: Any) -> Any:
    """:func:`check` of ``result``, with ``whole`` (default ``result``) attached to the error as
    ``error.result``, so a caller that catches it keeps every agent's run; returns ``whole``.

    ``labels`` go to :func:`check` (``seeds`` or ``labels``)."""
    whole = result if whole is None else whole
    try:
        check(result, **labels)
    except DivergenceError as error:
        error.result = whole
        raise
    return whole
