"""Checks for notebook 5, seed sweeps: ``confidence_band`` and ``stack_hparams``."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.config import DQNConfig, HParams
from dqn_jax.homework._common import (
    _array,
    _call,
    _close,
    _diagnose,
    _fail,
    _fmt,
    _passed,
)
from dqn_jax.stats import t_critical


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
