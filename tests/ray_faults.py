"""Progress for the Ray tasks of ``test_ray_sweep.py``, imported by the Ray workers.

:class:`KillOnce` is the ``task_progress`` of ``sweep_on_ray``: every shard reports at the same
interval (one program for all), and the worker running shard ``victim`` kills itself at its first
report on the first attempt (a marker file tells a retry from the first attempt): a worker process
dying in the middle of its run, as a lost machine does.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


class Silent:
    """A progress that draws nothing (the program still reports every ``interval`` steps)."""

    def __init__(self, interval: int) -> None:
        self.interval = interval

    def __call__(self, env_steps, recent_return) -> None:
        pass


class _KillAtFirstReport(Silent):
    def __init__(self, interval: int, marker: str) -> None:
        super().__init__(interval)
        self.marker = marker

    def __call__(self, env_steps, recent_return) -> None:
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


class KillOnce:
    """``task_progress``: the task of shard ``victim`` dies at its first report, once."""

    def __init__(self, interval: int, victim: int, marker: str) -> None:
        self.interval, self.victim, self.marker = interval, victim, marker

    def __call__(self, shard: tuple[int, int]) -> Silent:
        if shard[0] == self.victim:
            return _KillAtFirstReport(self.interval, self.marker)
        return Silent(self.interval)
