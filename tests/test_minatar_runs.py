"""The command line on an image environment: a tiny Breakout-MinAtar run (conv network, bit-packed
replay) trained, resumed, evaluated, plotted, rendered and swept, as test_cli.py does CartPole-v1.

The commands run in this process (``cli.main``, the code path of ``dqn-jax``); the runs share
their compiled programs through the persistent compilation cache the command line turns on.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import assert_bitwise
from PIL import Image

import dqn_jax
from dqn_jax import cli
from dqn_jax.viz import render

GAME = "Breakout-MinAtar"
# 4 logging points of 128 env steps (4 envs), learning from step 128, a 4-filter conv; no
# greedy evaluation at the logging points (a program of its own: the compile is the cost).
OVERRIDES = dict(
    total_timesteps=512,
    num_envs=4,
    train_frequency=4,
    buffer_size=512,
    batch_size=16,
    learning_starts=128,
    log_interval=128,
    eval_episodes=0,
    target_update_period=64,
    epsilon_decay_steps=256,
    conv_channels=(4,),
    hidden_sizes=(16,),
)
FLAGS = ["--env-name", GAME] + [
    f"--{name.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
    for name, v in OVERRIDES.items()
]


def run(*argv: str) -> str:
    """``dqn-jax ARGV`` in this process; its standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(list(argv))
    return out.getvalue()


def final_evaluation_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "evaluation over" in line)
    return lines[start:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Two seeds trained in one go (``full``) and split by a resume (``split``), then ``eval``,
    ``plot`` and ``render`` of ``full``. (A sweep of an image env is the same vmapped program
    as a sweep of CartPole's, which tests/test_sweep.py covers.)"""
    folder = tmp_path_factory.mktemp("minatar")
    full, split = str(folder / "full"), str(folder / "split")
    out = {
        "full": run("train", *FLAGS, "--seeds", "2", "--out", full, "--episodes", "2", "--quiet"),
        "split1": run("train", *FLAGS, "--seeds", "2", "--out", split, "--stop-after", "2",
                      "--quiet"),
        "split2": run("train", "--resume", split, "--episodes", "2", "--quiet"),
        "eval": run("eval", full, "--episodes", "2"),
        "plot": run("plot", full, "--size", "640x400"),
        "render": run("render", full, "--agent", "1", "--out", str(folder / "episode.gif")),
    }  # fmt: skip
    return folder, out


def test_a_run_names_its_game_and_trains_its_tuned_settings(runs):
    folder, out = runs
    assert f"Training DQN on {GAME}" in out["full"]
    data = json.loads((folder / "full" / "config.json").read_text())
    config, result = dqn_jax.load(folder / "full")
    assert config == dqn_jax.DQNConfig.for_env(GAME, **OVERRIDES)
    assert data["seeds"] == 2 and config.network == "conv" and config.loss == "mse"
    assert config.learning_rate == 2.5e-4  # Breakout's tuned value, not CartPole-v1's 4e-3
    assert isinstance(result.q_network, dqn_jax.ConvQNetwork)
    assert result.q_network.kernels[0].shape == (2, 3, 3, 4, 4)  # two agents' 4 filters
    storage = result.state.replay.storage
    assert storage.obs.dtype == np.uint8 and storage.obs.shape == (2, 512, 50)  # bit-packed
    np.testing.assert_array_equal(result.state.env_steps, [512, 512])
    columns = dqn_jax.storage.runs.read_metrics(folder / "full")
    assert columns["env_steps"].tolist() == [128, 256, 384, 512] * 2
    assert np.isfinite(columns["loss"][columns["env_steps"] > 128]).all()


def test_resume_is_bit_identical_to_an_uninterrupted_run(runs):
    folder, out = runs
    assert "Stopped after 2 of 4 logging intervals" in out["split1"]
    assert "at env step 256" in out["split2"]
    config_a, full = dqn_jax.load(folder / "full")
    config_b, split = dqn_jax.load(folder / "split")
    assert config_a == config_b
    assert_bitwise(full.state, split.state)
    assert (folder / "full" / "metrics.csv").read_bytes() == (
        folder / "split" / "metrics.csv"
    ).read_bytes()
    assert final_evaluation_lines(out["full"]) == final_evaluation_lines(out["split2"])


def test_eval_and_plot_of_a_minatar_run(runs):
    folder, out = runs
    assert final_evaluation_lines(out["eval"]) == final_evaluation_lines(out["full"])
    with Image.open(folder / "full" / "learning_curve.png") as image:
        assert image.format == "PNG" and image.size == (640, 400)


def test_render_writes_one_frame_per_observation_of_the_episode(runs):
    """As many frames as the greedy episode of the agent asked for (seed 0) has observations,
    the first the reset observation drawn channel by channel."""
    folder, out = runs
    config, result = dqn_jax.load(folder / "full")
    agent = jax.tree.map(lambda x: x[1], result.q_network)
    observations, rewards = render.play_episode(agent, config, jax.random.key(0))
    assert observations.shape == (len(rewards) + 1, 10, 10, 4)
    assert f"{len(observations)} frames, return {rewards.sum():.0f}" in out["render"]
    with Image.open(folder / "episode.gif") as gif:
        assert gif.format == "GIF" and gif.size == (480, 320)
        assert gif.n_frames == len(observations) > 1
        assert gif.info["duration"] == round(1000 / render.DEFAULT_FPS[render.CHANNELS])
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
    cells = render.channel_image(observations[0])
    for row in range(10):
        for col in range(10):
            x0, y0, x1, y1 = render.cell_box((10, 10, 4), (480, 320), row, col)
            assert (first[y0:y1, x0:x1] == cells[row, col]).all(), (row, col)


def test_a_loaded_agent_acts_on_an_image(runs):
    folder, _ = runs
    _, result = dqn_jax.load(folder / "full")
    spec = dqn_jax.make_env(GAME)
    obs, _ = spec.env.reset(jax.random.key(3), spec.env_params)
    keys = jax.random.split(jax.random.key(4), 2)
    actions = jax.jit(jax.vmap(dqn_jax.act, in_axes=(0, None, 0)))(result.q_network, obs, keys)
    q = jax.vmap(lambda net: net(obs))(result.q_network)
    np.testing.assert_array_equal(actions, np.argmax(q, axis=-1))
