"""One process of the ``jax.distributed`` sweep of ``test_distributed.py`` (or, with ``local``, the
same sweep on the 2 devices of one process).

    python tests/distributed_worker.py SPEC_JSON OUT_DIR

``SPEC_JSON`` holds ``config`` (DQNConfig fields), ``combos``, ``seeds``, ``seed``, ``interval``
and, for a process of a distributed run, ``coordinator``, ``num_processes``, ``process_id`` and
``heartbeat`` (seconds). ``dqn_jax`` is imported before ``jax.distributed.initialize`` on
purpose. The process (ID: its process id, or ``local``) writes ``ready-ID`` once initialised,
then ``result-ID.npz`` (the leaves of the result,
typed keys as key data, in ``jax.tree.leaves`` order) and ``reports-ID.json`` (the env steps of
every progress report it drew).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np
from jax._src import xla_bridge

import dqn_jax  # before initialize: importing dqn_jax must not start the backend
from dqn_jax import sweep

# The probe: importing dqn_jax (and gymnax with it) must leave JAX's backend unstarted, or
# jax.distributed.initialize below would refuse to run.
assert not xla_bridge.backends_are_initialized(), "importing dqn_jax started JAX's backend"


class Recorder:
    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.reports: list[list[int]] = []

    def __call__(self, env_steps, recent_return) -> None:
        self.reports.append(np.asarray(env_steps).tolist())


def main() -> None:
    spec, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    index = spec.get("process_id", "local")
    if "coordinator" in spec:
        jax.distributed.initialize(
            coordinator_address=spec["coordinator"],
            num_processes=spec["num_processes"],
            process_id=index,
            heartbeat_timeout_seconds=spec["heartbeat"],
            initialization_timeout=60,
        )
    (out / f"ready-{index}").write_text(str(jax.process_count()))
    assert len(jax.devices()) == 2, jax.devices()
    recorder = Recorder(spec["interval"])
    result = sweep(
        dqn_jax.DQNConfig(**spec["config"]),
        spec["seeds"],
        spec["combos"],
        key=jax.random.key(spec["seed"]),
        keep_state=True,
        progress=recorder,
    )
    leaves = []
    for x in jax.tree.leaves(result):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        leaves.append(np.asarray(x))
    np.savez(out / f"result-{index}.npz", *leaves)
    (out / f"reports-{index}.json").write_text(json.dumps(recorder.reports))


if __name__ == "__main__":
    main()
