"""Live tracking: a host-side hook called at every logging point of a run that is trained
interval by interval (``dqn_jax.storage.runs.train_intervals``,
``dqn_jax.sweep(..., tracker=...)`` and the command line), with TensorBoard and Weights &
Biases as two implementations.

A :class:`Tracker` is any callable ``tracker(metrics, agents)``: ``metrics`` holds one logging
point of every agent (``Metrics`` leaves as NumPy arrays of shape ``(num_agents,)``) and
``agents`` labels them (:class:`AgentLabel`: the seed and the grid point of each). It runs on the
host between two compiled intervals, so it sees every point while the run goes on.

Both implementations write one series per agent (``seed_0``, or
``learning_rate=0.001,gamma=0.99/seed_0`` in a sweep) and, where a grid point has several seeds,
their mean (``mean``, ``learning_rate=0.001,gamma=0.99/mean``), with the env steps as the step.
Every ``Metrics`` field but ``env_steps`` is a tag (``diverged_at`` only per agent); a value
that is not finite (no episode finished yet, no gradient step yet, epsilon under Boltzmann
exploration) is left out, and the mean is over the seeds with a finite value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from dqn_jax.loop.train import Metrics

TENSORBOARD_INSTALL_HINT = 'pip install "dqn-jax[tensorboard]"'
WANDB_INSTALL_HINT = 'pip install "dqn-jax[wandb]"'

MEAN = "mean"
"""The series name of the mean over a grid point's seeds."""


class AgentLabel(NamedTuple):
    """Which agent a column of a tracked ``Metrics`` is: its seed and its grid point."""

    seed: int  # the seed's index within its grid point
    point: tuple[tuple[str, float], ...] = ()  # the swept hyper-parameters' values; () if none

    def __str__(self) -> str:
        """``"learning_rate=0.001 gamma=0.99 seed 0"``, or ``"seed 0"`` without a grid."""
        return " ".join([*(f"{n}={v:.6g}" for n, v in self.point), f"seed {self.seed}"])

    @property
    def group(self) -> str:
        """The grid point as a series prefix, ``"learning_rate=0.001,gamma=0.99"`` (``""``)."""
        return ",".join(f"{n}={v:.6g}" for n, v in self.point)

    @property
    def series(self) -> str:
        """The agent's series: ``"seed_0"``, or ``"learning_rate=0.001,gamma=0.99/seed_0"``."""
        return _join(self.group, f"seed_{self.seed}")


def _join(group: str, name: str) -> str:
    return f"{group}/{name}" if group else name


def agent_labels(
    num_agents: int, seeds: int, swept: Mapping[str, Sequence[float]] | None = None
) -> list[AgentLabel]:
    """The labels of ``num_agents`` agents laid out grid-point-major (agent ``g * seeds + s``
    is seed ``s`` of grid point ``g``), as runs and sweeps lay them out.

    Args:
        num_agents: the number of agents.
        seeds: seeds per grid point.
        swept: the swept hyper-parameters, each with one value per agent (shape
            ``(num_agents,)``), in the order they are named.
    """
    swept = swept or {}
    columns = {name: np.asarray(values).reshape(-1) for name, values in swept.items()}
    return [
        AgentLabel(agent % seeds, tuple((n, columns[n][agent].item()) for n in columns))
        for agent in range(num_agents)
    ]


@runtime_checkable
class Tracker(Protocol):
    """What the interval loops accept as ``tracker=``: a host-side callable, called once per
    logging point with every agent's values."""

    def __call__(self, metrics: Metrics, agents: Sequence[AgentLabel]) -> None:
        """One logging point.

        Args:
            metrics: every ``Metrics`` field as a NumPy array of shape ``(num_agents,)``; all
                agents are at the same ``env_steps``.
            agents: one label per agent, in the same order.
        """
        ...


def scalars(metrics: Metrics, agents: Sequence[AgentLabel]) -> dict[str, dict[str, float]]:
    """The finite values of one logging point by series: ``{series: {tag: value}}``, each
    agent's series and, for grid points of several seeds, their mean."""
    values = {name: np.asarray(getattr(metrics, name), np.float64) for name in Metrics._fields}
    tags = [name for name in Metrics._fields if name != "env_steps"]
    out: dict[str, dict[str, float]] = {}
    for i, agent in enumerate(agents):
        out[agent.series] = {t: float(values[t][i]) for t in tags if math.isfinite(values[t][i])}
    groups: dict[str, list[int]] = {}
    for i, agent in enumerate(agents):
        groups.setdefault(agent.group, []).append(i)
    for group, members in groups.items():
        if len(members) < 2:
            continue
        mean = {}
        for tag in tags:
            if tag == "diverged_at":
                continue
            finite = values[tag][members][np.isfinite(values[tag][members])]
            if finite.size:
                mean[tag] = float(np.mean(finite))
        out[_join(group, MEAN)] = mean
    return out


def _step(metrics: Metrics) -> int:
    return int(np.max(metrics.env_steps))


class TensorBoardTracker:
    """Writes every logging point to TensorBoard event files (with ``tensorboard``'s own event
    file writer): one subfolder of ``logdir`` per series, so TensorBoard draws the agents of a
    tag in one chart.

    View them with ``tensorboard --logdir LOGDIR``. Each point is on disk when the call returns.
    """

    def __init__(self, logdir: str | Path, *, purge_step: int | None = None) -> None:
        """Args:
        logdir: the folder of the series' subfolders (e.g. ``runs/NAME/tensorboard``).
        purge_step: when continuing a run from a checkpoint, its env step plus 1: TensorBoard
            then drops the points at and after it that an earlier, interrupted process wrote.

        Raises:
            ImportError: naming the pip command, when ``tensorboard`` is not installed.
        """
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError:
            raise ImportError(
                f"TensorBoard tracking needs tensorboard: {TENSORBOARD_INSTALL_HINT}"
            ) from None
        self._event, self._summary = event_pb2, summary_pb2
        self._writer_class = EventFileWriter
        self.logdir = Path(logdir)
        self.purge_step = purge_step
        self._writers: dict[str, Any] = {}

    def _writer(self, series: str) -> Any:
        if series not in self._writers:
            writer = self._writer_class(str(self.logdir / series))
            if self.purge_step is not None:
                # What TensorBoard reads as a restart: earlier points from purge_step on go.
                start = self._event.SessionLog(status=self._event.SessionLog.START)
                writer.add_event(
                    self._event.Event(
                        wall_time=time.time(), step=self.purge_step, session_log=start
                    )
                )
            self._writers[series] = writer
        return self._writers[series]

    def __call__(self, metrics: Metrics, agents: Sequence[AgentLabel]) -> None:
        step, now = _step(metrics), time.time()
        for series, values in scalars(metrics, agents).items():
            writer = self._writer(series)
            summary = self._summary.Summary(
                value=[
                    self._summary.Summary.Value(tag=t, simple_value=v) for t, v in values.items()
                ]
            )
            writer.add_event(self._event.Event(wall_time=now, step=step, summary=summary))
            writer.flush()  # waits until the queued events are written

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class WandbTracker:
    """Logs every logging point to one Weights & Biases run, as ``SERIES/TAG`` keys
    (``seed_0/episode_return``, ``mean/loss``) at step ``env_steps``.

    ``WANDB_MODE=offline`` keeps the run in ``dir`` (``wandb sync`` uploads it later).
    """

    def __init__(
        self,
        project: str,
        *,
        name: str | None = None,
        dir: str | Path | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Args:
        project: the W&B project.
        name: the run's name (default: W&B's).
        dir: the folder W&B writes its ``wandb/`` files into (default: W&B's).
        config: what the run records as its config (e.g. the ``DQNConfig`` fields).

        Raises:
            ImportError: naming the pip command, when ``wandb`` is not installed.
        """
        try:
            import wandb
        except ImportError:
            raise ImportError(f"W&B tracking needs wandb: {WANDB_INSTALL_HINT}") from None
        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project,
            name=name,
            dir=None if dir is None else str(dir),
            config=dict(config or {}),
        )

    def __call__(self, metrics: Metrics, agents: Sequence[AgentLabel]) -> None:
        data = {
            _join(series, tag): value
            for series, values in scalars(metrics, agents).items()
            for tag, value in values.items()
        }
        self.run.log(data, step=_step(metrics))

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """Several trackers as one: each is called in turn, and ``close`` closes those that can."""

    def __init__(self, trackers: Iterable[Tracker]) -> None:
        self.trackers = list(trackers)

    def __call__(self, metrics: Metrics, agents: Sequence[AgentLabel]) -> None:
        for tracker in self.trackers:
            tracker(metrics, agents)

    def close(self) -> None:
        for tracker in self.trackers:
            close = getattr(tracker, "close", None)
            if close is not None:
                close()


def flat_metrics(metrics: Metrics) -> Metrics:
    """One logging point of batched agents as a tracker receives it: NumPy leaves of shape
    ``(num_agents,)`` (agents flattened in row-major order)."""
    return Metrics(*(np.asarray(x).reshape(-1) for x in metrics))
