"""Learning curves of saved runs: the mean over seeds with a 95% confidence band, to PNG.

Needs matplotlib (``pip install "dqn-jax[plot]"``); importing this module without it raises
``ImportError``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dqn_jax.loop.train import Metrics
from dqn_jax.storage.runs import grid_of, read_config, read_metrics
from dqn_jax.viz.stats import t_critical

DEFAULT_METRICS = ("episode_return", "eval_return")

TITLES = {
    "episode_return": "training episode return",
    "eval_return": "greedy evaluation return",
    "loss": "TD loss",
    "q_mean": "mean Q",
    "grad_norm": "gradient norm",
    "episodes": "episodes per logging interval",
}


def curve_stats(
    values: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and the half-width of its 95% t-interval, ignoring NaNs.

    Args:
        values: shape ``(seeds, points)``.

    Returns:
        ``(mean, half_width)``, each of shape ``(points,)``; the half-width is 0 where fewer than
        two seeds have a value, and the mean NaN where none has.
    """
    count = np.sum(np.isfinite(values), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0, ddof=1)
    t = np.array([t_critical(int(n) - 1) if n > 1 else 0.0 for n in count])
    half = np.where(count > 1, t * std / np.sqrt(np.maximum(count, 1)), 0.0)
    return mean, half


def _curves(folder: Path, metric: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, env_steps, values of shape (seeds, points))`` per grid point of a run."""
    info = read_config(folder)
    columns = read_metrics(folder)
    if metric not in columns:
        available = [n for n in Metrics._fields if n in columns]
        raise ValueError(f"{folder}: no metric {metric!r} in metrics.csv; available: {available}")
    names = [n for n in grid_of(info) if n in columns]
    keys = (
        list(zip(*(columns[n] for n in names), strict=True))
        if names
        else [()] * len(columns[metric])
    )
    curves = []
    for key in dict.fromkeys(keys):
        rows = np.array([k == key for k in keys])
        steps = np.unique(columns["env_steps"][rows])
        seeds = np.unique(columns["seed"][rows])
        values = np.full((len(seeds), len(steps)), np.nan)
        seed_index = np.searchsorted(seeds, columns["seed"][rows])
        step_index = np.searchsorted(steps, columns["env_steps"][rows])
        values[seed_index, step_index] = columns[metric][rows]
        label = folder.name + "".join(f", {n}={v:g}" for n, v in zip(names, key, strict=True))
        curves.append((f"{label} ({len(seeds)} seeds)", steps, values))
    return curves


def plot_runs(
    folders: Sequence[str | Path],
    out: str | Path,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    size: tuple[int, int] = (1000, 450),
    dpi: int = 100,
) -> Path:
    """Draws the learning curves of saved runs side by side, one panel per metric, and writes a
    PNG of exactly ``size`` pixels.

    Every run (and every grid point of a sweep) is one line: the mean over its seeds against env
    steps, with a band of the 95% confidence interval of that mean (Student's t over seeds).

    Args:
        folders: run folders holding ``config.json`` and ``metrics.csv``.
        out: the PNG to write (its folder is created).
        metrics: ``Metrics`` fields, one panel each.
        size: ``(width, height)`` in pixels.
        dpi: resolution used to lay out fonts and lines.

    Returns:
        ``out`` as a ``Path``.
    """
    folders = [Path(f) for f in folders]
    out = Path(out)
    data = {m: [c for f in folders for c in _curves(f, m)] for m in metrics}
    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, (label, steps, values) in enumerate(data[metric]):
            mean, half = curve_stats(values)
            color = f"C{i % 10}"
            ax.plot(steps, mean, color=color, label=label)
            ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2, linewidth=0)
        ax.set_title(TITLES.get(metric, metric))
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        figure.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
