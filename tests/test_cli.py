"""The command line as a user drives it: ``python -m dqn_jax ...`` in a subprocess.

Every subprocess pays an import and a compile, so one module-scoped fixture trains the runs that
the eval, plot, render, resume and Python-face tests share, and the subprocesses share a
persistent compilation cache: a seed batch and a sweep of the same size are one program, so the
train step compiles once. The runs are quiet (the progress bar's callback would make a program
the cache does not share between processes; ``test_progress.py`` checks it). Bad input that fails
before anything compiles is checked through ``cli.main`` in this process (the same code path
without a new interpreter), and once through a real subprocess.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import assert_bitwise, subprocess_env
from PIL import Image

import dqn_jax
from dqn_jax import cli
from dqn_jax.storage.config_file import config_from_dict

TINY_FLAGS = [
    "--total-timesteps", "2000", "--buffer-size", "1000", "--batch-size", "32",
    "--learning-starts", "600", "--log-interval", "500", "--eval-episodes", "2",
    "--hidden-sizes", "16,16", "--num-envs", "4", "--train-frequency", "4",
]  # fmt: skip
NUM_POINTS = 4  # 2000 / 500
# Two grid points, one seed: shards 0/2 and 1/2 of one agent each, merged, and the whole sweep
# in chunks of one agent (the shards' program: the persistent cache compiles it once).
SWEEP = ["sweep", "--grid", "learning_rate=1e-3,3e-4", *TINY_FLAGS, "--quiet"]


def run_cli(
    commands: dict[str, list[str]], cwd: Path, env: dict[str, str]
) -> dict[str, subprocess.CompletedProcess]:
    """Runs ``python -m dqn_jax ARGS`` for every named command, side by side (they are
    independent), and returns each one's exit code and output."""
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "dqn_jax", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=600)
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def final_evaluation_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "evaluation over" in line)
    return lines[start:]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def env(workdir) -> dict[str, str]:
    return subprocess_env(
        JAX_COMPILATION_CACHE_DIR=str(workdir / "jax-cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
    )


@pytest.fixture(scope="module")
def runs(workdir, env) -> dict[str, subprocess.CompletedProcess]:
    """Every subprocess of this module, in three waves of independent commands: two seeds
    trained split in two by a resume (``split1``, ``split2``) and in one go (``full``), a sweep
    of the same size, a sweep in two shards (``shard0``, ``shard1``, ``shard0_again``) and in
    chunks of one agent (``chunked``), then ``eval``, ``plot`` and ``render`` of ``full``."""
    out = run_cli(
        {
            "split1": ["train", *TINY_FLAGS, "--seeds", "2", "--out", "runs/split",
                       "--stop-after", "2", "--quiet"],
            "extend1": ["train", *TINY_FLAGS, "--seeds", "2", "--out", "runs/extended",
                        "--stop-after", "2", "--quiet"],
            "unknown_flag": ["train", "--no-such-flag", "3"],
            "shard0": [*SWEEP, "--shard", "0/2", "--out", "runs/sharded"],
        },
        workdir,
        env,
    )  # fmt: skip
    out |= run_cli(
        {
            "split2": ["train", "--resume", "runs/split", "--episodes", "3", "--quiet"],
            "full": ["train", *TINY_FLAGS, "--seeds", "2", "--out", "runs/full", "--episodes",
                     "3", "--quiet"],
            "sweep": ["sweep", "--grid", "learning_rate=1e-3,3e-4", *TINY_FLAGS, "--out",
                      "runs/sweep", "--episodes", "3", "--quiet"],
            "shard1": [*SWEEP, "--shard", "1/2", "--out", "runs/sharded"],
            "shard0_again": [*SWEEP, "--shard", "0/2", "--out", "runs/sharded"],
            "chunked": [*SWEEP, "--chunk-size", "1", "--out", "runs/chunked", "--episodes", "0"],
            "extend2": ["train", "--resume", "runs/extended", "--total-timesteps", "3000",
                        "--episodes", "0", "--quiet"],
        },
        workdir,
        env,
    )  # fmt: skip
    out |= run_cli(
        {
            "eval": ["eval", "runs/full", "--episodes", "3"],
            "plot": ["plot", "runs/full", "--size", "640x400"],
            "render": ["render", "runs/full", "--agent", "1"],
            # the extended plan (its config.json) trained in one go
            "planned": ["train", "--config", "runs/extended/config.json", "--seeds", "2",
                        "--out", "runs/planned", "--episodes", "0", "--quiet"],
        },
        workdir,
        env,
    )  # fmt: skip
    for name in ("split1", "split2", "full"):
        ok(out[name])
    return out


# --- train, resume, progress ----------------------------------------------------------------------


def test_train_saves_a_run_folder(workdir, runs):
    folder = workdir / "runs" / "full"
    assert {"config.json", "metrics.csv", "checkpoint.eqx"} <= {p.name for p in folder.iterdir()}
    data = json.loads((folder / "config.json").read_text())
    assert config_from_dict(data["config"]).hidden_sizes == (16, 16)
    assert data["seeds"] == 2 and data["seed"] == 0 and data["grid"] is None
    assert set(data["versions"]) == {"dqn_jax", "jax", "equinox"}
    columns = dqn_jax.storage.runs.read_metrics(folder)
    assert list(columns)[:1] == ["seed"] and set(dqn_jax.Metrics._fields) <= set(columns)
    assert len(columns["seed"]) == 2 * NUM_POINTS
    assert sorted(set(columns["env_steps"])) == [500, 1000, 1500, 2000]
    stdout = runs["full"].stdout
    assert "env steps    2,000" in stdout and "Greedy evaluation over 3 episodes" in stdout
    assert not list(folder.glob(".*tmp*"))  # no temporary files left behind


def test_quiet_shows_no_progress(runs):
    assert runs["split1"].stderr == runs["split2"].stderr == runs["full"].stderr == ""


def test_resume_is_bit_identical_to_an_uninterrupted_run(workdir, runs):
    assert "Stopped after 2 of 4 logging intervals" in runs["split1"].stdout
    assert "--resume runs/split" in runs["split1"].stdout
    assert "Resuming runs/split at env step 1,000" in runs["split2"].stdout
    config_a, full = dqn_jax.load(workdir / "runs" / "full")
    config_b, split = dqn_jax.load(workdir / "runs" / "split")
    assert config_a == config_b
    assert_bitwise(full.state, split.state)
    assert_bitwise(full.metrics, split.metrics)
    csv_full = (workdir / "runs" / "full" / "metrics.csv").read_bytes()
    assert csv_full == (workdir / "runs" / "split" / "metrics.csv").read_bytes()
    assert final_evaluation_lines(runs["full"].stdout) == final_evaluation_lines(
        runs["split2"].stdout
    )


def test_resume_with_more_steps_extends_the_run(workdir, runs):
    """``train --resume RUN --total-timesteps N``: the metrics go on to N, the config says N and
    where the run was extended, and the run is bit-identical to that plan trained in one go
    (so the schedules it followed are the plan's: ``tests/test_extend.py``)."""
    for name in ("extend1", "extend2", "planned"):
        ok(runs[name])
    assert "Extended runs/extended from 2,000 to 3,000 env steps" in runs["extend2"].stdout
    assert "Resuming runs/extended at env step 1,000 of 3,000" in runs["extend2"].stdout
    folder = workdir / "runs" / "extended"
    config = json.loads((folder / "config.json").read_text())["config"]
    assert config["total_timesteps"] == 3000 and config["extensions"] == [[1000, 2000]]
    columns = dqn_jax.storage.runs.read_metrics(folder)
    steps = [500, 1000, 1500, 2000, 2500, 3000]
    assert columns["env_steps"].tolist() == steps * 2  # two seeds
    # The first two points are the run before the extension's, to the bit.
    before = (workdir / "runs" / "split" / "metrics.csv").read_text().splitlines()
    after = (folder / "metrics.csv").read_text().splitlines()
    assert after[1:3] == before[1:3] and after[7:9] == before[5:7]
    assert after[3] != before[3]  # then the re-targeted learning rate (lower loss, here)
    assert (workdir / "runs" / "planned" / "metrics.csv").read_bytes() == (
        folder / "metrics.csv"
    ).read_bytes()
    config_a, extended = dqn_jax.load(folder)
    config_b, planned = dqn_jax.load(workdir / "runs" / "planned")
    assert config_a == config_b and config_a.extensions == ((1000, 2000),)
    assert_bitwise(extended.state, planned.state)


def test_extending_refuses_a_shorter_run_or_one_whose_rate_reached_0(capsys, workdir, runs):
    full = str(workdir / "runs" / "full")
    before = (workdir / "runs" / "full" / "config.json").read_bytes()
    result = main_in_process(capsys, "train", "--resume", full, "--total-timesteps", "1000")
    assert_one_line_error(result, "total_timesteps=1000", "beyond", "2000")
    result = main_in_process(capsys, "train", "--resume", full, "--total-timesteps", "4000")
    assert_one_line_error(result, "planned end", "lr_decay", "decayed to 0")
    result = main_in_process(
        capsys, "train", "--resume", full, "--total-timesteps", "4000", "--gamma", "0.9"
    )
    assert_one_line_error(result, "different config", "gamma")
    assert (workdir / "runs" / "full" / "config.json").read_bytes() == before


def test_resume_finishes_an_extension_whose_config_json_was_not_written(capsys, workdir, runs):
    """A crash between the extended checkpoint and config.json (written second) is repaired:
    the checkpoint's config, the old one extended, is the run's."""
    import dataclasses

    from dqn_jax.storage.runs import read_config, write_config

    ok(runs["extend2"])
    folder = workdir / "runs" / "extension_crash"
    shutil.copytree(workdir / "runs" / "extended", folder)
    info = read_config(folder)
    old = info.config.replace(total_timesteps=2000, extensions=())
    write_config(folder, dataclasses.replace(info, config=old))  # as before the extension
    cli.main(["train", "--resume", str(folder), "--episodes", "0"])
    assert "trained to its end (3,000 env steps)" in capsys.readouterr().out
    assert read_config(folder).config == info.config  # config.json names the extended plan
    # a checkpoint that is not the recorded config extended is still refused
    write_config(folder, dataclasses.replace(info, config=old.replace(gamma=0.9)))
    result = main_in_process(capsys, "train", "--resume", str(folder), "--episodes", "0")
    assert_one_line_error(result, "different config", "gamma")


# --- eval, plot, render ---------------------------------------------------------------------------


def test_eval_prints_the_final_evaluation_per_seed(runs):
    result = ok(runs["eval"])
    lines = final_evaluation_lines(result.stdout)
    assert lines == final_evaluation_lines(runs["full"].stdout)
    assert [line.split()[:2] for line in lines[1:3]] == [["seed", "0"], ["seed", "1"]]
    assert all(w in lines[1] for w in ("mean", "std", "min"))


def test_plot_writes_a_png_of_the_requested_size(workdir, runs):
    result = ok(runs["plot"])
    path = workdir / "runs" / "full" / "learning_curve.png"
    assert str(Path("runs/full/learning_curve.png")) in result.stdout
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (640, 400)


def test_plot_of_several_runs_in_python(workdir, runs):
    from dqn_jax.viz.plotting import plot_runs

    out = plot_runs(
        [workdir / "runs" / "full", workdir / "runs" / "split"],
        workdir / "both.png",
        metrics=("episode_return", "loss"),
    )
    with Image.open(out) as image:
        assert image.size == (1000, 450)


def test_render_writes_an_animated_gif(workdir, runs):
    result = ok(runs["render"])
    path = workdir / "runs" / "full" / "episode.gif"
    assert "frames" in result.stdout
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames > 1 and gif.size == (480, 320)


# --- sweep ----------------------------------------------------------------------------------------


def test_sweep_saves_hparam_columns(workdir, runs):
    sweep = ok(runs["sweep"])
    assert "2 grid points x 1 seeds" in sweep.stdout
    assert "learning_rate=0.001 seed 0" in sweep.stdout
    assert "learning_rate=0.0003 seed 0" in sweep.stdout
    folder = workdir / "runs" / "sweep"
    columns = dqn_jax.storage.runs.read_metrics(folder)
    assert list(columns)[:2] == ["seed", "learning_rate"]
    assert len(columns["seed"]) == 2 * NUM_POINTS
    assert sorted(set(np.round(columns["learning_rate"], 7))) == [3e-4, 1e-3]
    assert json.loads((folder / "config.json").read_text())["grid"] == {
        "learning_rate": [1e-3, 3e-4]
    }
    checkpoint = dqn_jax.load_checkpoint(folder / "checkpoint.eqx")
    np.testing.assert_array_equal(checkpoint.state.env_steps, [2000, 2000])
    np.testing.assert_allclose(checkpoint.hparams.learning_rate, [1e-3, 3e-4], rtol=1e-6)
    np.testing.assert_allclose(checkpoint.hparams.gamma, [0.995, 0.995], rtol=1e-6)


def test_merged_shards_are_the_sweep_byte_for_byte(capsys, workdir, runs):
    for name in ("shard0", "shard1", "chunked"):
        ok(runs[name])
    assert "agents 1 to 1 of 2" in runs["shard1"].stdout
    assert "dqn-jax merge" in runs["shard1"].stdout
    assert "already saved" in ok(runs["shard0_again"]).stdout
    assert "Trained" not in runs["shard0_again"].stdout  # skipped, not run again
    sharded, chunked = workdir / "runs" / "sharded", workdir / "runs" / "chunked"
    assert sorted(p.name for p in (sharded / "shards").iterdir()) == ["0-of-2", "1-of-2"]
    assert not (sharded / "config.json").exists()  # not a run until merged
    cli.main(["merge", str(sharded)])
    assert "Merged 2 agents" in capsys.readouterr().out
    for name in ("config.json", "metrics.csv", "checkpoint.eqx"):
        assert (sharded / name).read_bytes() == (chunked / name).read_bytes(), name
    # merging again is refused without --overwrite
    assert_one_line_error(main_in_process(capsys, "merge", str(sharded)), "--overwrite")


def test_merge_names_a_missing_or_twice_given_shard(capsys, workdir, runs):
    ok(runs["shard1"])
    folder = workdir / "merge-errors"
    shutil.copytree(workdir / "runs" / "sharded" / "shards", folder / "shards")
    shutil.rmtree(folder / "shards" / "1-of-2")
    assert_one_line_error(main_in_process(capsys, "merge", str(folder)), "shard 1", "missing")
    shutil.copytree(folder / "shards" / "0-of-2", folder / "shards" / "copy")
    assert_one_line_error(
        main_in_process(capsys, "merge", str(folder)), "shard 0 of 2 is given twice", "copy"
    )
    (folder / "shards" / "copy" / "shard.json").unlink()  # as a run killed mid-save leaves it
    assert_one_line_error(main_in_process(capsys, "merge", str(folder)), "copy", "unfinished")
    assert not (folder / "config.json").exists()


def test_a_shard_of_another_sweep_is_refused_before_compiling(capsys, workdir, runs):
    ok(runs["shard1"])
    folder = workdir / "other-sweep"
    shutil.copytree(workdir / "runs" / "sharded" / "shards", folder / "shards")
    folder = str(folder)
    result = main_in_process(capsys, *SWEEP, "--gamma", "0.9", "--shard", "1/2", "--out", folder)
    assert_one_line_error(result, "0-of-2", "another sweep", "gamma: 0.995 != 0.9")
    result = main_in_process(capsys, *SWEEP, "--seed", "5", "--shard", "1/2", "--out", folder)
    assert_one_line_error(result, "seed (0 != 5)")


# --- the Python face on a CLI run -----------------------------------------------------------------


def test_save_load_round_trip_and_act(workdir, runs):
    config, result = dqn_jax.load(workdir / "runs" / "full")
    assert isinstance(result, dqn_jax.TrainResult)
    dqn_jax.save(workdir / "copy", result, config, seed=0)
    config2, result2 = dqn_jax.load(workdir / "copy" / "checkpoint.eqx", config)
    assert config2 == config
    assert_bitwise(result.state, result2.state)
    assert_bitwise(result.q_network, result2.q_network)
    assert (workdir / "copy" / "metrics.csv").read_bytes() == (
        workdir / "runs" / "full" / "metrics.csv"
    ).read_bytes()

    # act on the loaded networks: vmapped over observations, and over the two agents.
    @jax.jit
    def act_all(networks, obs, keys):
        agent0 = jax.tree.map(lambda x: x[0], networks)
        greedy = jax.vmap(dqn_jax.act, in_axes=(None, 0, 0))(agent0, obs, keys)
        per_agent = jax.vmap(dqn_jax.act, in_axes=(0, None, None))(networks, obs[0], keys[0])
        return greedy, jax.vmap(agent0)(obs), per_agent

    obs = jax.random.normal(jax.random.key(0), (5, 4))
    greedy, q, per_agent = act_all(result.q_network, obs, jax.random.split(jax.random.key(1), 5))
    assert greedy.shape == (5,) and greedy.dtype == np.int32 and per_agent.shape == (2,)
    np.testing.assert_array_equal(greedy, np.argmax(q, axis=-1))
    assert int(per_agent[0]) == int(greedy[0])


# --- bad input ------------------------------------------------------------------------------------


def assert_one_line_error(result, *words: str):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_unknown_flag_in_a_subprocess(runs):
    assert_one_line_error(runs["unknown_flag"], "--no-such-flag")


class Exited:
    def __init__(self, code, stderr):
        self.returncode, self.stderr = code, stderr


def main_in_process(capsys, *argv: str) -> Exited:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(list(argv))
    return Exited(exit_info.value.code, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", "--gamma", "1.5"], ["gamma=1.5", "[0, 1]"]),
        (["--total-timesteps", "abc"], ["total_timesteps", "abc"]),
        (["train", "--hidden-sizes", "16,x"], ["hidden_sizes"]),
        (["train", "--double", "maybe"], ["double"]),
        (["train", "--sticky-action-prob", "1"], ["sticky_action_prob=1.0", "[0, 1)"]),
        (["train", "--network", "conv"], ["network='conv'", "(4,)"]),
        (["train", "--conv-channels", "16,0"], ["conv_channels=(16, 0)", ">= 1"]),
        (
            ["train", "--env", "Breakout-MinAtar", "--conv-kernel", "0"],
            ["conv_kernel=0", "[1, inf)"],
        ),
        (["train", "--config", "nowhere.toml"], ["nowhere.toml"]),
        (["sweep", "--grid", "lr=1"], ["lr", "learning_rate"]),
        (["sweep", "--grid", "gamma=0.9,2"], ["gamma=2", "[0, 1]"]),
        (["sweep", "--grid", "gamma=0.9", "--shard", "2/2", "--out", "x"], ["--shard", "[0, 1]"]),
        (["sweep", "--grid", "gamma=0.9", "--shard", "1/0", "--out", "x"], ["--shard", "[1, inf)"]),
        (["sweep", "--grid", "gamma=0.9", "--shard", "3", "--out", "x"], ["--shard", "I/N"]),
        (
            ["sweep", "--grid", "gamma=0.9", "--shard", "0/2", "--out", "x"],
            ["--shard 0/2", "1 agent in 2 shards", "empty"],
        ),
        (["sweep", "--grid", "gamma=0.9", "--shard", "0/1"], ["--shard", "--out"]),
        (["sweep", "--grid", "gamma=0.9", "--ray", "auto"], ["--ray", "--out"]),
        (["sweep", "--grid", "gamma=0.9", "--ray", "auto", "--shard", "0/1"], ["--ray", "--shard"]),
        (["sweep", "--grid", "gamma=0.9", "--ray-cpus", "-1"], ["--ray-cpus", "[0, inf)"]),
        (
            ["sweep", "--grid", "gamma=0.9", "--shard", "0/1", "--out", "x", "--tensorboard"],
            ["--tensorboard", "--shard"],
        ),
        (
            ["sweep", "--grid", "gamma=0.9", "--ray", "auto", "--out", "x", "--wandb", "p"],
            ["--wandb", "--ray"],
        ),
        (["merge", "does/not/exist"], ["does/not/exist"]),
        (["plot"], ["RUN"]),
        (["eval", "does/not/exist"], ["does/not/exist"]),
    ],
)
def test_bad_input_is_one_line(capsys, argv, words):
    assert_one_line_error(main_in_process(capsys, *argv), *words)


def test_resume_with_a_different_config_is_refused(capsys, workdir, runs):
    result = main_in_process(
        capsys, "train", "--resume", str(workdir / "runs" / "full"), "--hidden-sizes", "8"
    )
    assert_one_line_error(result, "hidden_sizes", "(16, 16)", "(8,)")


def test_checkpoint_from_another_config_is_refused(capsys, workdir, runs):
    other = workdir / "other"
    shutil.copytree(workdir / "runs" / "full", other)
    data = json.loads((other / "config.json").read_text())
    data["config"]["hidden_sizes"] = [32]
    (other / "config.json").write_text(json.dumps(data))
    for command in ("eval", "render"):
        result = main_in_process(capsys, command, str(other))
        assert_one_line_error(result, "checkpoint.eqx", "different config", "hidden_sizes")


def test_truncated_checkpoint_is_refused(capsys, workdir, runs):
    broken = workdir / "broken"
    shutil.copytree(workdir / "runs" / "full", broken)
    path = broken / "checkpoint.eqx"
    path.write_bytes(path.read_bytes()[:-100])
    result = main_in_process(capsys, "eval", str(broken))
    assert_one_line_error(result, str(path), "truncated")
    result = main_in_process(capsys, "train", "--resume", str(broken))
    assert_one_line_error(result, str(path), "truncated")


def test_render_refuses_other_envs(capsys, workdir, runs):
    other = workdir / "acrobot"
    other.mkdir()
    data = json.loads((workdir / "runs" / "full" / "config.json").read_text())
    data["config"]["env_name"] = "Acrobot-v1"
    (other / "config.json").write_text(json.dumps(data))
    result = main_in_process(capsys, "render", str(other))
    assert_one_line_error(result, "CartPole-v1 and images of 0/1 channels", "Acrobot-v1", "(6,)")


def test_out_folder_holding_a_run_is_not_overwritten(capsys, workdir, runs):
    result = main_in_process(capsys, "train", "--out", str(workdir / "runs" / "full"))
    assert_one_line_error(result, "--resume", "--overwrite")


def test_plot_without_matplotlib_names_the_extra(capsys, monkeypatch, workdir, runs):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "dqn_jax.viz.plotting", raising=False)
    monkeypatch.delattr(dqn_jax.viz, "plotting", raising=False)
    result = main_in_process(capsys, "plot", str(workdir / "runs" / "full"))
    assert_one_line_error(result, 'pip install "dqn-jax[plot]"')


def test_ray_without_ray_names_the_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = main_in_process(capsys, "sweep", "--grid", "gamma=0.9", "--ray", "auto", "--out",
                             str(tmp_path / "run"))  # fmt: skip
    assert_one_line_error(result, "--ray", 'pip install "dqn-jax[ray]"')


# --- parsing --------------------------------------------------------------------------------------


def parse(*argv: str):
    return cli.build_parser().parse_args(cli.normalise_argv(list(argv)))


def test_no_arguments_train_the_default_config():
    args = parse()
    assert args.command == "train" and args.episodes == 100 and not args.quiet
    assert args.seeds == 1 and args.out is None and args.resume is None
    assert config_from_dict(cli.common._config_values(args)) == dqn_jax.DQNConfig()


def test_flags_are_generated_from_every_config_field():
    args = parse(
        "--hidden-sizes", "32,32,32", "--double", "false", "--layer-norm", "--dueling", "none",
        "--learning-rate", "3e-4",
        "--total-timesteps", "1e5",
    )  # fmt: skip
    config = config_from_dict(cli.common._config_values(args))
    assert config.hidden_sizes == (32, 32, 32) and config.double is False
    assert config.layer_norm is True and config.dueling is None
    assert parse("--env-kwargs", "a=1,b=x,c=0.5").env_kwargs == (("a", 1), ("b", "x"), ("c", 0.5))
    assert config.learning_rate == 3e-4 and config.total_timesteps == 100_000
    assert parse("--dueling", "max").dueling == "max"
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for name in dqn_jax.DQNConfig.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in help_text


def test_naming_a_minatar_game_starts_from_its_tuned_settings_and_flags_win():
    config = cli.common._config(cli.common._config_values(parse("--env-name", "Breakout-MinAtar")))
    assert config == dqn_jax.DQNConfig.for_env("Breakout-MinAtar")
    assert config.network == "conv" and config.batch_size == 32  # not CartPole's settings
    args = parse("--env", "Breakout-MinAtar", "--batch-size", "64", "--conv-channels", "32,16")
    config = cli.common._config(cli.common._config_values(args))
    assert config == dqn_jax.DQNConfig.for_env(
        "Breakout-MinAtar", batch_size=64, conv_channels=(32, 16)
    )
    assert cli.common._config(cli.common._config_values(parse())) == dqn_jax.DQNConfig()


def test_a_config_file_naming_a_minatar_game_starts_from_its_tuned_settings(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('env_name = "Freeway-MinAtar"\nconv_kernel = 5\nsticky_action_prob = 0.1\n')
    args = parse("--config", str(toml), "--learning-rate", "1e-4")
    config = cli.common._config(cli.common._config_values(args))
    assert config == dqn_jax.DQNConfig.for_env(
        "Freeway-MinAtar", conv_kernel=5, sticky_action_prob=0.1, learning_rate=1e-4
    )


def test_train_writes_the_tuned_settings_of_the_game_it_names(capsys, tmp_path, monkeypatch):
    """The train command itself (stopped before training): its config.json is the game's."""
    seen = []
    monkeypatch.setattr(cli.train, "_run", lambda config, *rest: seen.append(config))
    folder = tmp_path / "breakout"
    cli.main(["train", "--env-name", "Breakout-MinAtar", "--out", str(folder), "--quiet"])
    assert "settings tuned for Breakout-MinAtar" in capsys.readouterr().out
    saved = config_from_dict(json.loads((folder / "config.json").read_text())["config"])
    assert saved == seen[0] == dqn_jax.DQNConfig.for_env("Breakout-MinAtar")


def test_config_file_with_flags_on_top(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('hidden_sizes = [8]\nlearning_rate = 0.01\ndueling = "mean"\n')
    config = config_from_dict(
        cli.common._config_values(parse("--config", str(toml), "--gamma", "0.9"))
    )
    assert config.hidden_sizes == (8,) and config.learning_rate == 0.01
    assert config.dueling == "mean" and config.gamma == 0.9
    yaml = tmp_path / "c.yaml"
    yaml.write_text("config:\n  hidden_sizes: [8]\n  double: false\n")
    pytest.importorskip("yaml")
    config = config_from_dict(cli.common._config_values(parse("--config", str(yaml))))
    assert config.hidden_sizes == (8,) and config.double is False
