"""Ray (``dqn_jax.scale.ray_sweep``, ``dqn-jax sweep --ray``) on a local Ray instance of 2 CPUs.

A sweep of 6 agents in 3 shards: shard 0 is already saved in the run folder (as a driver that
died after it finished would leave it), shard 1's worker kills itself at its first progress report
(first attempt only) and is retried, shard 2 runs once. The merged result equals, bit for bit,
the same sweep run in one process in chunks of 2 agents (the shards' program), and so does the
run folder that every finished shard was saved into. ``dqn-jax sweep --ray`` then finds every
shard saved, runs nothing and writes the merged run.

Skipped only where Ray is not installed (CI installs it with the test extra).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jax
import pytest
from conftest import TINY_KWARGS, assert_bitwise
from ray_faults import KillOnce, Silent

import dqn_jax
from dqn_jax import DQNConfig, cli, sweep
from dqn_jax.scale.parts import merge_run, part_folders, read_part, write_part
from dqn_jax.storage.runs import RunInfo

ray = pytest.importorskip(
    "ray", reason='Ray is not installed here (pip install "dqn-jax[ray]"; CI installs it)'
)
from dqn_jax.scale.ray_sweep import sweep_on_ray  # noqa: E402

TESTS = Path(__file__).resolve().parent
KWARGS = {**TINY_KWARGS, "total_timesteps": 1000, "eval_episodes": 0, "hidden_sizes": (8,)}
GRID = {"learning_rate": [1e-3, 3e-3, 1e-2]}
SEEDS, SEED, SHARDS, INTERVAL = 2, 5, 3, 500


@pytest.fixture(scope="module")
def local_ray():
    repo = str(TESTS.parent)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 2**20,
        runtime_env={
            "env_vars": {
                "PYTHONPATH": os.pathsep.join([repo, str(TESTS)]),
                "JAX_PLATFORMS": "cpu",
            }
        },
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def config() -> DQNConfig:
    return DQNConfig(**KWARGS)


@pytest.fixture(scope="module")
def retried(local_ray, config, tmp_path_factory):
    """The Ray sweep with shard 0 saved beforehand and shard 1's first worker killed."""
    folder = tmp_path_factory.mktemp("ray") / "run"
    info = RunInfo(config, SEED, SEEDS, GRID)
    key = jax.random.key(SEED)
    first = sweep(config, SEEDS, GRID, key=key, shard=(0, SHARDS), keep_state=True,
                  progress=Silent(INTERVAL))  # fmt: skip
    write_part(folder, first, info)
    done = [read_part(path)[0] for path in part_folders(folder)]
    marker = folder.parent / "killed"
    saved = []

    def save(part):
        write_part(folder, part, info)
        saved.append(part.shard)

    result = sweep_on_ray(
        config,
        SEEDS,
        GRID,
        key=key,
        num_shards=SHARDS,
        done=done,
        on_part=save,
        max_retries=2,
        task_progress=KillOnce(INTERVAL, victim=1, marker=str(marker)),
    )
    return result, folder, marker, saved


@pytest.fixture(scope="module")
def one_process(config, retried):
    """The same sweep in one process, in chunks of 2 agents: the program each shard ran."""
    return sweep(config, SEEDS, GRID, key=jax.random.key(SEED), chunk_size=2, keep_state=True,
                 progress=Silent(INTERVAL))  # fmt: skip


def test_a_killed_worker_is_retried_and_the_merge_equals_one_process(retried, one_process):
    result, _, marker, saved = retried
    assert marker.exists()  # shard 1's first worker did die
    assert int(marker.read_text()) != os.getpid()
    assert sorted(saved) == [(1, SHARDS), (2, SHARDS)]  # shard 0 was not run again
    assert result.combos() == [{"learning_rate": lr} for lr in GRID["learning_rate"]]
    assert_bitwise(result, one_process)


def test_every_finished_shard_is_in_the_run_folder(retried, one_process):
    _, folder, _, _ = retried
    assert [p.name for p in part_folders(folder)] == [f"{i}-of-{SHARDS}" for i in range(SHARDS)]
    merged, _ = merge_run(folder)
    assert_bitwise(merged, one_process)


def command(folder: Path, seed: int = SEED) -> list[str]:
    flags = []
    for name, value in KWARGS.items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        flags += ["--" + name.replace("_", "-"), text]
    grid = ["--grid", "learning_rate=1e-3,3e-3,1e-2"]
    seeds = ["--seeds", str(SEEDS), "--seed", str(seed)]
    return [
        "sweep",
        *grid,
        *seeds,
        *flags,
        "--ray",
        "auto",
        "--out",
        str(folder),
        "--episodes",
        "0",
    ]


def test_the_command_line_skips_saved_shards(capsys, retried, one_process, config):
    _, folder, _, _ = retried
    other = folder.parent / "other"
    shutil.copytree(folder / "shards", other / "shards")
    cli.main(command(other))
    out = capsys.readouterr().out
    assert f"as {SHARDS} Ray tasks" in out and f"({SHARDS} already saved)" in out
    assert "saved\n" not in out  # no task ran
    _, result = dqn_jax.load(other, config)
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), one_process.result)
    assert_bitwise(result.state, flat.state)
    assert_bitwise(result.metrics, flat.metrics)


def test_the_command_line_refuses_shards_of_another_sweep(capsys, retried):
    _, folder, _, _ = retried
    other = folder.parent / "another-seed"
    shutil.copytree(folder / "shards", other / "shards")
    with pytest.raises(SystemExit):
        cli.main(command(other, seed=SEED + 1))
    err = capsys.readouterr().err
    assert "0-of-3 holds a part of another sweep" in err and "seed (5 != 6)" in err
