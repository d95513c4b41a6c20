"""Live tracking: the host-side hook of the interval loops, its TensorBoard and W&B writers, and the
command line's ``--tensorboard`` / ``--wandb`` on ``train`` and ``sweep``.

Event files are read back with TensorBoard's own ``EventAccumulator``; the offline W&B run is read
back from its transaction log. The two command-line runs are in-process (no new interpreter) and
tiny; each pays one compile.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dqn_jax import Metrics, cli, tracking
from dqn_jax.cli.common import TENSORBOARD_DIR
from dqn_jax.loop.tracking import AgentLabel, TensorBoardTracker, agent_labels, scalars
from dqn_jax.storage import runs

TINY_FLAGS = [
    "--total-timesteps", "2000", "--buffer-size", "1000", "--batch-size", "32",
    "--learning-starts", "600", "--log-interval", "500", "--eval-episodes", "2",
    "--hidden-sizes", "16,16", "--episodes", "0", "--quiet", "--num-envs", "4",
    "--train-frequency", "4",
]  # fmt: skip
STEPS = [500, 1000, 1500, 2000]
TAGS = set(Metrics._fields) - {"env_steps"}


def point(step: int, **fields: list[float]) -> Metrics:
    """One logging point of ``len(values)`` agents; unnamed fields are 0."""
    n = len(next(iter(fields.values())))
    values = {name: np.zeros(n) for name in Metrics._fields}
    values.update({name: np.asarray(v, np.float64) for name, v in fields.items()})
    values["env_steps"] = np.full(n, step)
    return Metrics(**values)


def read_events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of one series folder: ``{tag: [(step, value), ...]}``."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def wandb_history(folder: Path) -> dict[int, dict[str, float]]:
    """The logged rows of the offline W&B run in ``folder/wandb``, by step.

    An offline run keeps its data in ``run-ID.wandb``: W&B's LevelDB-style log (a 7-byte file
    header, then 32 KiB blocks of chunks, each a 7-byte header ``crc32 (4), length (2), type
    (1)``, type 1 a whole record, 2 / 3 / 4 its first / middle / last part) of protobuf
    ``Record`` messages; a ``history`` record is one ``run.log`` call.
    """
    (path,) = (folder / "wandb").glob("offline-run-*/run-*.wandb")
    # W&B's service may still be writing the log when run.finish() has returned: its last
    # record is the run's "exit".
    for _ in range(300):
        records = _wandb_records(path.read_bytes())
        if records and records[-1].WhichOneof("record_type") == "exit":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"{path}: no exit record after 30 s")
    rows = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            row = {
                ".".join(i.nested_key) or i.key: json.loads(i.value_json)
                for i in record.history.item
            }
            rows[int(row["_step"])] = row
    return rows


def _wandb_records(data: bytes) -> list:
    from wandb.proto import wandb_internal_pb2

    assert data[:4] == b":W&B"[: len(data)]
    block, pos, parts, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):
            break  # still being written
        parts += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            records.append(wandb_internal_pb2.Record.FromString(parts))
            parts = b""
    return records


# --- the hook's values ----------------------------------------------------------------------------


def test_labels_lay_agents_out_grid_point_major():
    labels = agent_labels(4, 2, {"learning_rate": np.float32([1e-3, 1e-3, 3e-4, 3e-4])})
    assert [str(a) for a in labels] == [
        "learning_rate=0.001 seed 0",
        "learning_rate=0.001 seed 1",
        "learning_rate=0.0003 seed 0",
        "learning_rate=0.0003 seed 1",
    ]
    assert labels[3].series == "learning_rate=0.0003/seed_1"
    two = AgentLabel(0, (("learning_rate", 1e-3), ("gamma", 0.99)))
    assert two.series == "learning_rate=0.001,gamma=0.99/seed_0"
    assert [a.series for a in agent_labels(2, 2)] == ["seed_0", "seed_1"]


def test_scalars_skip_non_finite_values_and_average_each_grid_point():
    nan = np.nan
    labels = agent_labels(4, 2, {"gamma": [0.9, 0.9, 0.99, 0.99]})
    metrics = point(
        500,
        loss=[1.0, 3.0, nan, nan],
        episode_return=[10.0, nan, 20.0, 40.0],
        temperature=[nan] * 4,
        diverged_at=[-1, 500, -1, -1],
    )
    got = scalars(metrics, labels)
    assert set(got) == {"gamma=0.9/seed_0", "gamma=0.9/seed_1", "gamma=0.9/mean",
                        "gamma=0.99/seed_0", "gamma=0.99/seed_1", "gamma=0.99/mean"}  # fmt: skip
    assert got["gamma=0.9/seed_0"]["loss"] == 1.0
    assert set(got["gamma=0.9/seed_1"]) == TAGS - {"episode_return", "temperature"}
    assert got["gamma=0.9/seed_1"]["diverged_at"] == 500
    assert got["gamma=0.9/mean"]["loss"] == 2.0
    assert got["gamma=0.9/mean"]["episode_return"] == 10.0  # the finite one only
    assert got["gamma=0.99/mean"]["episode_return"] == 30.0
    assert "loss" not in got["gamma=0.99/mean"] and "temperature" not in got["gamma=0.99/mean"]
    assert "diverged_at" not in got["gamma=0.9/mean"]
    # One seed per grid point: no mean series.
    assert set(scalars(point(500, loss=[1.0]), agent_labels(1, 1))) == {"seed_0"}


# --- TensorBoard ----------------------------------------------------------------------------------


def test_tensorboard_points_are_on_disk_as_soon_as_written(tmp_path):
    tracker = TensorBoardTracker(tmp_path)
    labels = agent_labels(2, 2)
    for i, step in enumerate(STEPS[:2]):
        tracker(point(step, loss=[i, 2.0 + i]), labels)
        assert read_events(tmp_path / "seed_1")["loss"] == [
            (s, 2.0 + j) for j, s in enumerate(STEPS[: i + 1])
        ]
        assert read_events(tmp_path / "mean")["loss"][-1] == (step, 1.0 + i)
    tracker.close()


def test_tensorboard_continuing_from_a_checkpoint_drops_the_points_after_it(tmp_path):
    labels = agent_labels(1, 1)
    first = TensorBoardTracker(tmp_path)
    for step in STEPS:  # an interrupted process got past its last checkpoint, at 1000
        first(point(step, loss=[1.0]), labels)
    first.close()
    second = TensorBoardTracker(tmp_path, purge_step=1001)  # at once: in the same second
    for step in STEPS[2:]:
        second(point(step, loss=[2.0]), labels)
    second.close()
    assert read_events(tmp_path / "seed_0")["loss"] == [(500, 1), (1000, 1), (1500, 2), (2000, 2)]


# --- missing extras -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "make", "flags", "hint"),
    [
        ("tensorboard", lambda p: TensorBoardTracker(p), ["--tensorboard"], "[tensorboard]"),
        ("wandb", lambda p: tracking.WandbTracker("p", dir=p), ["--wandb", "p"], "[wandb]"),
    ],
)
def test_a_missing_extra_names_the_pip_command(
    monkeypatch, capsys, tmp_path, module, make, flags, hint
):
    for name in [module, *(n for n in sys.modules if n.startswith(module + "."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing fails as if not installed
    with pytest.raises(ImportError, match=re.escape(f'pip install "dqn-jax{hint}"')):
        make(tmp_path)
    out = tmp_path / "run"
    for command in (["train"], ["sweep", "--grid", "gamma=0.9"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*command, *flags, "--out", str(out / command[0]), *TINY_FLAGS])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f'pip install "dqn-jax{hint}"' in err[0], err
        assert not (out / command[0] / runs.CONFIG_FILE).exists()  # refused before starting


def test_tensorboard_needs_a_run_folder(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--tensorboard", *TINY_FLAGS])
    assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def wandb_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


def test_train_feeds_tensorboard_and_wandb_at_every_logging_point(
    monkeypatch, tmp_path, wandb_offline
):
    """``train --tensorboard --wandb``: the event files and the W&B run hold every agent's
    series and their mean, at the env steps of the logging points, with the values of
    metrics.csv; each point is on disk while the run goes on."""
    seen = []  # at each call: the steps of seed_1's series on disk once written
    write = TensorBoardTracker.__call__

    def spy(self, metrics, agents):
        write(self, metrics, agents)
        seen.append([s for s, _ in read_events(self.logdir / "seed_1")["episode_return"]])

    monkeypatch.setattr(TensorBoardTracker, "__call__", spy)
    out = tmp_path / "runs" / "tracked"
    cli.main(
        [
            "train",
            "--seeds",
            "2",
            "--tensorboard",
            "--wandb",
            "proj",
            "--out",
            str(out),
            *TINY_FLAGS,
        ]
    )
    assert seen == [STEPS[: i + 1] for i in range(4)]

    table = runs.read_metrics(out)
    columns = zip(table["seed"], table["env_steps"], table["episode_return"], strict=True)
    value = {(int(s), int(e)): r for s, e, r in columns}
    logdir = out / TENSORBOARD_DIR
    assert sorted(p.name for p in logdir.iterdir()) == ["mean", "seed_0", "seed_1"]
    seed_1 = read_events(logdir / "seed_1")
    assert set(seed_1) == TAGS - {"temperature"}  # NaN under epsilon-greedy
    assert [s for s, _ in seed_1["loss"]] == STEPS[1:]  # no gradient step before 600
    assert seed_1["episode_return"] == [(s, pytest.approx(value[1, s], rel=1e-6)) for s in STEPS]
    mean = read_events(logdir / "mean")
    assert set(mean) == TAGS - {"temperature", "diverged_at"}
    expected = [(value[0, s] + value[1, s]) / 2 for s in STEPS]
    assert mean["episode_return"] == [
        (s, pytest.approx(e, rel=1e-6)) for s, e in zip(STEPS, expected, strict=True)
    ]

    history = wandb_history(out)
    assert sorted(history) == STEPS
    for s in STEPS:
        assert history[s]["seed_1/episode_return"] == pytest.approx(value[1, s], rel=1e-6)
        assert history[s]["mean/episode_return"] == pytest.approx(
            (value[0, s] + value[1, s]) / 2, rel=1e-6
        )
    assert "seed_0/loss" not in history[500] and "seed_0/loss" in history[1000]


def test_sweep_series_are_labelled_by_grid_point_and_seed(tmp_path):
    out = tmp_path / "runs" / "sweep"
    grid = ["--grid", "learning_rate=1e-3,3e-4", "--seeds", "2"]
    cli.main(["sweep", *grid, "--tensorboard", "--out", str(out), *TINY_FLAGS])
    logdir = out / TENSORBOARD_DIR
    assert sorted(p.name for p in logdir.iterdir()) == [
        "learning_rate=0.0003",
        "learning_rate=0.001",
    ]
    table = runs.read_metrics(out)
    for lr in ("0.001", "0.0003"):
        folder = logdir / f"learning_rate={lr}"
        assert sorted(p.name for p in folder.iterdir()) == ["mean", "seed_0", "seed_1"]
        for seed in (0, 1):
            rows = (table["seed"] == seed) & np.isclose(table["learning_rate"], float(lr))
            loss = read_events(folder / f"seed_{seed}")["loss"]
            assert loss == [
                (s, pytest.approx(v, rel=1e-6))
                for s, v in zip(table["env_steps"][rows][1:], table["loss"][rows][1:], strict=True)
            ]
        assert [s for s, _ in read_events(folder / "mean")["eval_return"]] == STEPS
