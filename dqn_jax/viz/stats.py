"""Confidence intervals over seeds: the Student-t quantile behind every 95% band."""

from __future__ import annotations

import functools

import jax


@functools.lru_cache(maxsize=256)
def t_critical(dof: int, level: float = 0.95) -> float:
    """Two-sided Student-t critical value: ``P(|T| <= t) = level`` for ``T ~ t(dof)``.

    Uses ``P(|T| <= t) = 1 - I_{dof / (dof + t^2)}(dof / 2, 1 / 2)`` (regularised incomplete
    beta) and bisection.
    """
    if dof < 1:
        raise ValueError(f"dof={dof} must be at least 1")
    lo, hi = 0.0, 1000.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        inside = 1.0 - float(jax.scipy.special.betainc(dof / 2, 0.5, dof / (dof + mid**2)))
        lo, hi = (mid, hi) if inside < level else (lo, mid)
    return 0.5 * (lo + hi)
