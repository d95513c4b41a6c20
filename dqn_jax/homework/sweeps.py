"""Checks for notebook 5, seed sweeps: ``confidence_band`` and ``stack_hparams``.

The notebook calls both eagerly (outside ``jax.jit``), so the checks do too:
``confidence_band`` on float32 arrays of shape ``(num_seeds, num_points)``, ``stack_hparams``
on a list of ``HParams`` whose result ``jax.vmap(make_train(config))`` then takes, which needs
every field stacked with its own dtype.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.config import DQNConfig, HParams
from dqn_jax.homework._common import as_array, call, diagnose, fail, fmt, passed
from dqn_jax.viz.stats import t_critical


def check_confidence_band(fn: Callable[..., tuple[Array, Array]]) -> None:
    """Checks ``confidence_band(curves) -> (mean, half_width)``.

    ``curves``: ``(num_seeds, num_points)``. Expected: the mean over seeds and the half-width of
    its 95% Student-t interval, ``t_{0.975, n-1} * std(ddof=1) / sqrt(n)``, each ``(num_points,)``.
    """
    __tracebackhide__ = True
    name = "confidence_band"
    # 5 seeds: with 4, sqrt(n) = 2 and the whole width 2 t s / sqrt(n) would equal t s.
    curves = np.array(
        [
            [10.0, 50.0, 200.0],
            [20.0, 80.0, 500.0],
            [15.0, 40.0, 480.0],
            [5.0, 90.0, 300.0],
            [25.0, 60.0, 350.0],
        ]
    )
    n, points = curves.shape
    out = call(fn, name, jnp.asarray(curves, jnp.float32))
    if not (isinstance(out, tuple) and len(out) == 2):
        fail(f"`{name}` should return a tuple (mean, half_width), got {type(out).__name__}")
    mean = as_array(out[0], name, "the mean over seeds", (points,))
    half = as_array(out[1], name, "the half-width over seeds", (points,))
    want_mean = curves.mean(axis=0)
    if not np.allclose(mean, want_mean, rtol=1e-4):
        fail(f"the mean over the {n} seeds (axis 0) should be {fmt(want_mean)}, got {fmt(mean)}.")
    t = t_critical(n - 1)
    std = curves.std(axis=0, ddof=1)
    want = t * std / math.sqrt(n)
    if not np.allclose(half, want, rtol=2e-3):
        hint = diagnose(
            half,
            [
                (
                    t * curves.std(axis=0) / math.sqrt(n),
                    "Use the sample standard deviation, std(ddof=1): the mean was estimated "
                    "from the same seeds.",
                ),
                (
                    1.96 * std / math.sqrt(n),
                    f"1.96 is the normal quantile; with {n} seeds use the Student-t quantile "
                    f"t_(0.975, {n - 1}) = {t:.2f}, t_critical(n - 1).",
                ),
                (
                    t_critical(n) * std / math.sqrt(n),
                    f"The t quantile has n - 1 = {n - 1} degrees of freedom, not n: "
                    f"t_critical(n - 1).",
                ),
                (t * std / n, "The standard error of the mean is std / sqrt(n), not std / n."),
                (
                    t * std,
                    "That is the spread of single runs; the uncertainty of the mean is smaller "
                    "by sqrt(n): t * std / sqrt(n).",
                ),
                (
                    2 * want,
                    "That is the whole width of the interval; return the half-width, the "
                    "distance from the mean to either end.",
                ),
                (
                    t * curves.var(axis=0, ddof=1) / math.sqrt(n),
                    "That uses the variance; the interval uses the standard deviation, "
                    "std(ddof=1).",
                ),
            ],
            tol=2e-3,
        )
        fail(
            f"for {n} seeds the 95% half-width should be t_(0.975, {n - 1}) * std(ddof=1) / "
            f"sqrt({n}) = {fmt(want)} (t = {t:.3f}), got {fmt(half)}.{hint}"
        )
    passed(name, "gives the mean and its 95% Student-t interval over seeds.")


def check_stack_hparams(fn: Callable[[Sequence[HParams]], HParams]) -> None:
    """Checks ``stack_hparams(list_of_hparams) -> HParams`` whose every field has a leading axis
    of length ``len(list_of_hparams)``, entry ``i`` from item ``i``, with its own dtype."""
    __tracebackhide__ = True
    name = "stack_hparams"
    lrs = (1e-4, 1e-3, 3e-3)
    config = DQNConfig(gamma=0.99)
    items = [
        HParams.from_config(config, learning_rate=lr, target_update_period=100 * (i + 1))
        for i, lr in enumerate(lrs)
    ]
    out = call(fn, name, items)
    if not isinstance(out, HParams):
        hint = (
            " It is a list of HParams with one-element fields: jax.tree.map(f, hparams_list) "
            "maps over the list as ONE tree. Unpack it, jax.tree.map(f, *hparams_list), so f "
            "gets the corresponding leaves of all of them."
            if isinstance(out, list)
            and out
            and isinstance(out[0], HParams)
            and np.shape(out[0].learning_rate) == (1,)
            else " jax.tree.map(lambda *xs: jnp.stack(xs), *hparams_list) stacks every field."
        )
        fail(
            f"`{name}` should return one HParams whose fields have a leading axis, got "
            f"{type(out).__name__}.{hint}"
        )
    for field in dataclasses.fields(HParams):
        got = getattr(out, field.name)
        values = np.array([np.asarray(getattr(item, field.name)) for item in items])
        if np.shape(got) != (len(items),):
            fail(
                f"stacking {len(items)} HParams should give fields of shape ({len(items)},), "
                f"got {field.name} of shape {np.shape(got)}"
            )
        if np.asarray(got).dtype != values.dtype:
            fail(
                f"{field.name} changed dtype from {values.dtype} to {np.asarray(got).dtype}: "
                f"stack every field as it is (jnp.stack keeps the dtype)."
            )
        if not np.allclose(np.asarray(got, float), values.astype(float), rtol=1e-6):
            fail(
                f"the stacked {field.name} should be {values.tolist()}, entry i from item i, "
                f"got {np.asarray(got).tolist()}"
            )
    passed(name, "stacks every field along a new leading axis.")
