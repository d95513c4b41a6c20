"""What a sweep returns: :class:`SweepResult`, whose leaves lead with the named axes
``("combo", "seed")``, and :func:`to_table`, the same as one row per run and logging point."""

from __future__ import annotations

import equinox as eqx
import numpy as np

from dqn_jax.config import HParams
from dqn_jax.loop.train import Metrics, TrainResult

AXES = ("combo", "seed")
"""The named leading axes of a :class:`SweepResult`'s leaves."""


class SweepResult(eqx.Module):
    """What :func:`sweep` returns: a pytree whose array leaves lead with ``AXES``.

    ``result``'s leaves have shape ``(num_combos, num_seeds, ...)``: ``result.metrics`` fields are
    ``(num_combos, num_seeds, num_logs)``, ``result.q_network`` holds every agent's final
    network, and ``result.state`` is the final ``TrainState`` (``None`` unless
    ``keep_state=True``). ``hparams`` holds every field of each combination, leaves of shape
    ``(num_combos,)``; ``grid`` the values given, ``((name, value), ...)`` per combination.
    """

    result: TrainResult
    hparams: HParams
    grid: tuple[tuple[tuple[str, float], ...], ...] = eqx.field(static=True)  # values given
    axes: tuple[str, ...] = eqx.field(static=True, default=AXES)

    @property
    def num_combos(self) -> int:
        return len(self.grid)

    @property
    def num_seeds(self) -> int:
        return int(self.result.metrics.env_steps.shape[1])

    @property
    def swept(self) -> tuple[str, ...]:
        """The hyper-parameters the grid names, in order of first appearance."""
        return tuple(dict.fromkeys(name for combo in self.grid for name, _ in combo))

    def combos(self) -> list[dict[str, float]]:
        """The values given for each combination, in order (the others are the config's)."""
        return [dict(combo) for combo in self.grid]


def to_table(result: SweepResult) -> dict[str, np.ndarray]:
    """The sweep as a tidy table: one row per run and logging point.

    Returns:
        Columns of equal length ``num_combos * num_seeds * num_logs`` (combination-major, then
        seed, then logging point): ``combo``, ``seed``, one column per swept hyper-parameter,
        then every ``Metrics`` field. ``pandas.DataFrame(to_table(result))`` makes a data frame.
    """
    if not isinstance(result, SweepResult):
        raise ValueError(f"result must be a SweepResult, got {type(result).__name__}")
    metrics: Metrics = result.result.metrics
    combos, seeds, logs = np.shape(metrics.env_steps)
    combo, seed, _ = np.meshgrid(
        np.arange(combos), np.arange(seeds), np.arange(logs), indexing="ij"
    )
    table = {"combo": combo.reshape(-1), "seed": seed.reshape(-1)}
    for name in result.swept:
        table[name] = np.asarray(getattr(result.hparams, name))[table["combo"]]
    for name in Metrics._fields:
        table[name] = np.asarray(getattr(metrics, name)).reshape(-1)
    return table
