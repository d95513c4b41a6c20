"""Progress of a jitted run: the host side of the ``jax.debug.callback`` that ``make_train`` places
inside its round loop when given ``progress=``.

The compiled program calls ``progress(env_steps, recent_return)`` every ``progress.interval`` env
steps, through :func:`report`. A plain ``jax.debug.callback`` under ``jax.vmap`` is unrolled into
one host call per agent (512 calls per report for a 512-agent sweep); :func:`report` batches
instead, so each report is ONE host call with the values of every agent, shape ``(*batch)``.
:class:`ProgressBar` reduces them on the host: all agents advance in lockstep, and one bar shows
the env steps of each agent, the steps per second and the mean recent return over agents.

A program holding the callback is never kept by JAX's persistent compilation cache. The interval
loops (``dqn_jax.storage.runs.train_intervals``, a tracked sweep, the command line) therefore call
a ``ProgressBar`` from the host between compiled logging intervals instead, with the same
arguments.
"""

from __future__ import annotations

import math
import sys
import threading
from typing import IO, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

DEFAULT_INTERVAL = 1_000
"""Env steps between two progress reports."""


@runtime_checkable
class Progress(Protocol):
    """What ``make_train(config, progress=...)`` accepts: a host-side callable with an interval."""

    interval: int
    """Env steps between reports; rounded down to whole rounds of ``train_frequency`` steps."""

    def __call__(self, env_steps: np.ndarray, recent_return: np.ndarray) -> None:
        """One report of every agent of the program.

        Args:
            env_steps: shape ``(*batch)`` (``()`` for one unbatched agent), int32: env steps
                each agent has taken so far.
            recent_return: shape ``(*batch)``, float32: mean return of the episodes each agent
                finished since its last logging point (NaN if none).
        """
        ...


def report(progress: Progress, env_steps: Int[Array, ""], recent_return: Float[Array, ""]) -> None:
    """Calls ``progress(env_steps, recent_return)`` from inside a traced program.

    Written for one agent (scalar arguments). Under ``jax.vmap`` (nested or not) the host
    receives one call per report with the values of every agent stacked, shape ``(*batch)``,
    not one call per agent; under a sharded ``jax.jit`` it receives the whole batch once.
    """

    @jax.custom_batching.custom_vmap
    def call(steps: Array, ret: Array) -> Array:
        jax.debug.callback(progress, steps, ret)
        return jnp.zeros((), jnp.int32)  # custom_vmap needs an output; nothing uses it

    @call.def_vmap
    def call_batched(
        axis_size: int, in_batched: list[bool], steps: Array, ret: Array
    ) -> tuple[Array, bool]:
        steps, ret = (
            x if batched else jnp.broadcast_to(x, (axis_size, *x.shape))
            for x, batched in zip((steps, ret), in_batched, strict=True)
        )
        return call(steps, ret), False  # an enclosing vmap batches this call again

    call(env_steps, recent_return)


class ProgressBar:
    """A tqdm bar fed by the reports of one or many agents.

    The bar appears at the first report, so compile time counts neither into its clock nor into
    its steps per second. A report holds one agent or a batch of them (agents advance in
    lockstep; the bar follows the furthest), and reports for the same env-step count are merged:
    the bar moves when a larger count arrives, and the shown return is the mean over the agents
    that reported a finite one.
    """

    def __init__(
        self,
        total_steps: int,
        interval: int = DEFAULT_INTERVAL,
        *,
        agents: int = 1,
        desc: str = "train",
        file: IO[str] | None = None,
    ) -> None:
        """Args:
        total_steps: env steps of one agent's whole run (the bar's end).
        interval: env steps between reports, at least 1.
        agents: number of agents reporting (shown in the description only).
        desc: the bar's label.
        file: where the bar is drawn; standard error by default.
        """
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval={interval!r} is outside the allowed range [1, inf)")
        self.interval = interval
        self.total_steps = int(total_steps)
        self._desc = desc if agents == 1 else f"{desc} ({agents} agents)"
        self._file = file if file is not None else sys.stderr
        self._bar = None
        self._steps = -1
        self._returns: list[float] = []
        self._shown_return = math.nan
        self._lock = threading.Lock()  # callbacks may arrive on a runtime thread

    def __call__(self, env_steps: np.ndarray, recent_return: np.ndarray) -> None:
        steps = int(np.max(env_steps))
        returns = np.asarray(recent_return, dtype=np.float64).reshape(-1)
        with self._lock:
            if self._bar is None:
                from tqdm.auto import tqdm

                self._bar = tqdm(
                    total=self.total_steps,
                    initial=steps,
                    desc=self._desc,
                    unit=" steps",
                    unit_scale=True,
                    dynamic_ncols=True,
                    file=self._file,
                )
                self._steps = steps
            elif steps > self._steps:
                self._flush_return()
                self._bar.update(steps - self._steps)
                self._steps = steps
            self._returns.extend(returns[np.isfinite(returns)].tolist())

    def _flush_return(self) -> None:
        if self._returns:
            self._shown_return = float(np.mean(self._returns))
            self._returns = []
        if math.isfinite(self._shown_return):
            self._bar.set_postfix_str(f"return {self._shown_return:.1f}", refresh=False)

    def close(self) -> None:
        """Shows the last report and ends the bar's line (a no-op if nothing was reported)."""
        with self._lock:
            if self._bar is not None:
                self._flush_return()
                self._bar.close()
                self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
