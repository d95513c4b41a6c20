"""``jax.distributed``: one sweep over the devices of 2 CPU processes (one device each, gloo
collectives) equals, bit for bit, the same sweep on the 2 devices of one process; progress is
drawn by process 0 only; ``import dqn_jax`` leaves JAX's backend unstarted (every worker imports
it before ``jax.distributed.initialize`` and checks); and a killed process ends the other one
with a non-zero exit status within its heartbeat timeout, not a hang.

The processes run ``distributed_worker.py``. The three processes of the equality test start
together (their compiles overlap); the kill test starts two more.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import TINY_KWARGS, subprocess_env

TESTS = Path(__file__).resolve().parent
WORKER = TESTS / "distributed_worker.py"
HEARTBEAT = 5  # seconds: the coordination service's heartbeat timeout in these runs
GRACE = 30  # seconds past the heartbeat timeout before a surviving process counts as hung
# 3 agents (padded to 4, 2 per device), 2 logging points: a small program.
SPEC = dict(
    config={**TINY_KWARGS, "total_timesteps": 1000, "eval_episodes": 0, "hidden_sizes": [8]},
    combos=[{"learning_rate": 1e-3}, {"learning_rate": 3e-3}, {"gamma": 0.9}],
    seeds=1,
    seed=3,
    interval=500,
)


def free_port() -> int:
    """A port no socket holds now, picked by the OS (bind to port 0), and free for IPv6 too:
    the coordinator binds ``[::]:PORT``, and a busy port makes process 0 crash."""
    for _ in range(20):
        with socket.socket(socket.AF_INET) as probe:
            probe.bind(("", 0))
            port = probe.getsockname()[1]
        if not socket.has_ipv6:
            return port
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free TCP port found")


def start(spec: dict, out: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec), str(out)],
        env=subprocess_env(**env),
        cwd=TESTS.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_distributed(out: Path) -> list[subprocess.Popen]:
    coordinator = f"127.0.0.1:{free_port()}"
    return [
        start(
            {**SPEC, "coordinator": coordinator, "num_processes": 2, "process_id": i,
             "heartbeat": HEARTBEAT},
            out,
            {"XLA_FLAGS": "--xla_force_host_platform_device_count=1"},
        )
        for i in range(2)
    ]  # fmt: skip


def finish(process: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stderr


def load(out: Path, name: str) -> list[np.ndarray]:
    with np.load(out / f"result-{name}.npz") as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def test_two_processes_equal_two_devices_of_one(tmp_path):
    local = start(SPEC, tmp_path, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    processes = start_distributed(tmp_path)
    for process in [local, *processes]:
        code, stderr = finish(process, timeout=600)
        assert code == 0, stderr[-3000:]
    assert (tmp_path / "ready-0").read_text() == "2"  # two processes, one device each
    assert (tmp_path / "ready-local").read_text() == "1"
    want = load(tmp_path, "local")
    assert len(want) > 20
    for name in ("0", "1"):  # every process holds the whole result
        got = load(tmp_path, name)
        assert len(got) == len(want)
        for x, y in zip(got, want, strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape
            assert np.array_equal(x, y, equal_nan=True)
    reports = {n: json.loads((tmp_path / f"reports-{n}.json").read_text()) for n in ("0", "1")}
    assert reports["0"] == [[500] * 3, [1000] * 3]  # all agents, the padding dropped
    assert reports["1"] == []
    # the agents differ: the comparison above is not of copies of one agent
    assert any(x.shape[:2] == (3, 1) and not np.array_equal(x[0], x[1]) for x in want)


def test_a_killed_process_ends_the_other(tmp_path):
    """Process 1 killed: process 0, which hosts the coordination service, misses its heartbeats
    and ends. (Killing process 0 instead ends process 1 at once: its coordinator is gone.)"""
    victim = 1
    processes = start_distributed(tmp_path)
    deadline = time.monotonic() + 300
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "the processes did not initialise"
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.1)
    time.sleep(1)  # both are inside the sweep (compiling or running)
    processes[victim].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    code, stderr = finish(processes[1 - victim], timeout=HEARTBEAT + GRACE)
    seconds = time.monotonic() - killed
    processes[victim].communicate()
    assert code != 0, stderr[-2000:]
    assert seconds < HEARTBEAT + GRACE
    assert "Terminating process" in stderr or "distributed" in stderr, stderr[-2000:]
