"""The sharded and the chunked sweep of ``test_sweep.py``, run in a subprocess with 4 CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``) while the test process compiles its own
programs.

    python tests/sweep_devices.py SPEC_JSON OUT_DIR

``SPEC_JSON`` holds ``config`` (DQNConfig fields), ``combos``, ``seeds``, ``seed`` and
``interval``. For each of ``sharded`` (all 4 devices, one chunk) and ``chunked`` (device 0, chunks
of 4) it writes ``NAME.npz`` (the leaves of ``SweepResult.result``, in ``jax.tree.leaves``
order) and ``NAME.json`` (the env steps of every progress report, the traces of the train
function and the number of devices the result lives on).
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from pathlib import Path

import jax
import numpy as np

from dqn_jax import DQNConfig

# The module (``dqn_jax.sweep`` is the function of the same name).
sweep_module = importlib.import_module("dqn_jax.scale.sweep")

TRACES = {"train": 0}


def counting_make_train(config, real=sweep_module.make_train, **kwargs):
    train = real(config, **kwargs)

    @functools.wraps(train)
    def counted(key, hparams=None):
        TRACES["train"] += 1
        return train(key, hparams)

    return counted


class Recorder:
    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.reports: list[list[int]] = []

    def __call__(self, env_steps, recent_return) -> None:
        assert np.shape(env_steps) == np.shape(recent_return)
        self.reports.append(np.asarray(env_steps).tolist())


def main() -> None:
    spec, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    assert len(jax.devices()) == 4, jax.devices()
    sweep_module.make_train = counting_make_train
    config = DQNConfig(**spec["config"])
    runs = {"sharded": dict(devices=None), "chunked": dict(devices=jax.devices()[:1], chunk_size=4)}
    for name, kwargs in runs.items():
        before = TRACES["train"]
        recorder = Recorder(spec["interval"])
        result = sweep_module.sweep(
            config,
            spec["seeds"],
            spec["combos"],
            key=jax.random.key(spec["seed"]),
            progress=recorder,
            **kwargs,
        )
        leaves = [np.asarray(x) for x in jax.tree.leaves(result.result)]
        np.savez(out / f"{name}.npz", *leaves)
        info = {
            "reports": recorder.reports,
            "traces": TRACES["train"] - before,
            "devices": len(result.result.metrics.loss.sharding.device_set),
        }
        (out / f"{name}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
