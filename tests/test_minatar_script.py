"""scripts/minatar.py: a tiny Breakout-MinAtar run launched, scored, rendered and plotted.

One run of 2 seeds x 2,000 env steps is trained once (a child ``python -m dqn_jax train``, as
``--launch`` runs it); every number of its row is checked against a direct evaluation or the
run's files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys

import jax
import numpy as np
import pytest
from conftest import ROOT, subprocess_env

from dqn_jax.loop.evaluation import evaluate
from dqn_jax.storage.runs import load, read_metrics, save

SCRIPTS = ROOT / "scripts"
TINY = {
    "total_timesteps": 2000,
    "buffer_size": 1000,
    "learning_starts": 400,
    "log_interval": 400,
    "eval_episodes": 0,
}
EPISODES = 20
EVAL_SEED = 7


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(SCRIPTS))  # the scripts import their _common
    try:
        spec = importlib.util.spec_from_file_location("minatar_script", SCRIPTS / "minatar.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(SCRIPTS))


@pytest.fixture(scope="module")
def launched(script, tmp_path_factory):
    """The folder of the tiny run, trained by ``launch`` in a child process."""
    runs = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("jax-cache")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in subprocess_env(JAX_COMPILATION_CACHE_DIR=str(cache)).items():
            patch.setenv(name, value)
        return script.launch(
            "Breakout-MinAtar", seeds=2, label="tiny conv", overrides=TINY, runs=runs
        )


@pytest.fixture(scope="module")
def row(script, launched, tmp_path_factory):
    """The row ``main`` appends for the run (``--run``, ``--label``, ``--json``)."""
    rows = tmp_path_factory.mktemp("rows") / "minatar.jsonl"
    args = ["--run", str(launched), "--label", "tiny conv", "--json", str(rows)]
    script.main([*args, "--episodes", str(EPISODES), "--eval-seed", str(EVAL_SEED)])
    (line,) = rows.read_text().splitlines()
    return json.loads(line)


def test_launch_trains_the_tuned_settings_under_the_changes_and_records_its_time(launched):
    assert launched.name == "Breakout-MinAtar-tiny-conv"
    config, result = load(launched)
    assert config.total_timesteps == 2000 and config.log_interval == 400
    assert config.network == "conv" and config.conv_channels == (16,)  # for_env's, kept
    assert config.batch_size == 32 and config.eval_episodes == 0
    np.testing.assert_array_equal(result.state.env_steps, [2000, 2000])
    launch = json.loads((launched / "launch.json").read_text())
    assert launch["overrides"] == TINY
    assert launch["command"] == (
        "python -m dqn_jax train --env-name Breakout-MinAtar --total-timesteps 2000 "
        "--buffer-size 1000 --learning-starts 400 --log-interval 400 --eval-episodes 0 "
        f"--seeds 2 --seed 0 --out {launched} --episodes 0"
    )
    assert 0 < launch["train_s"] <= launch["wall_s"]


def test_the_row_scores_every_final_network_as_evaluate_does(row, launched):
    config, result = load(launched)
    keys = jax.random.split(jax.random.key(EVAL_SEED), 2)
    for seed in range(2):
        network = jax.tree.map(lambda x, seed=seed: x[seed], result.q_network)
        greedy = evaluate(network, config, keys[seed], EPISODES)
        explore = evaluate(network, config, keys[seed], EPISODES, epsilon=0.05)
        assert row["greedy"][seed] == pytest.approx(float(greedy.mean()), abs=1e-4)
        assert row["epsilon_greedy"][seed] == pytest.approx(float(explore.mean()), abs=1e-4)
    assert (row["game"], row["label"], row["seeds"]) == ("Breakout", "tiny conv", 2)
    assert (row["episodes"], row["epsilon"], row["env_steps"]) == (EPISODES, 0.05, 2000)


def test_the_row_reads_the_curve_wall_time_and_settings_from_the_run(row, launched):
    metrics = read_metrics(launched)
    assert row["curve"]["env_steps"] == [400, 800, 1200, 1600, 2000]
    for seed in range(2):
        returns = metrics["episode_return"][metrics["seed"] == seed]
        np.testing.assert_allclose(row["curve"]["episode_return"][seed], returns, atol=1e-4)
        assert row["train_return"][seed] == pytest.approx(returns[-1], abs=1e-4)
    launch = json.loads((launched / "launch.json").read_text())
    assert (row["wall_s"], row["wall_source"]) == (launch["wall_s"], "launch")
    assert (row["machine"], row["command"]) == (launch["machine"], launch["command"])
    assert row["env_steps_per_s"] == pytest.approx(2 * 2000 / launch["wall_s"], rel=1e-3)
    assert row["config"]["buffer_size"] == 1000
    assert row["settings"].startswith("conv 16 (3x3) + 128 LN; lr 0.00025; batch 32")


def test_wall_time_is_given_else_launched_else_the_files_span(script, launched, tmp_path):
    assert script.wall_time(launched, 100.0)[:2] == (100.0, "given")
    copy = tmp_path / "copy"
    shutil.copytree(launched, copy)  # keeps the files' modification times
    (copy / "launch.json").unlink()
    seconds, source, _ = script.wall_time(copy, None)
    span = os.stat(copy / "checkpoint.eqx").st_mtime - os.stat(copy / "config.json").st_mtime
    assert (seconds, source) == (pytest.approx(span), "file times")
    assert seconds > 0


def test_an_unfinished_run_a_sweep_and_another_env_are_refused(script, launched, tmp_path):
    config, result = load(launched)
    state = result.state._replace(env_steps=result.state.env_steps * 0 + 1200)
    metrics = jax.tree.map(lambda x: x[:, :3], result.metrics)  # 3 of 5 logging points
    save(tmp_path / "half", result._replace(state=state, metrics=metrics), config)
    with pytest.raises(ValueError, match="not finished \\(1,200 of 2,000 env steps\\)"):
        script.measure(tmp_path / "half")
    info = json.loads((launched / "config.json").read_text())
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "config.json").write_text(json.dumps({**info, "grid": {"tau": [1]}}))
    with pytest.raises(ValueError, match="a sweep"):
        script.measure(tmp_path / "sweep")
    with pytest.raises(ValueError, match="env_name='CartPole-v1' is not a MinAtar game"):
        script.game_of("CartPole-v1")


def fake(row, **changes):
    """Another row like ``row``: ``changes`` on top."""
    return {**row, **changes}


def test_verdicts_judge_the_lower_of_greedy_and_epsilon(script, row):
    assert script.verdict(row) == "floor missed (10); goal missed (28)"
    both = fake(row, greedy=[30.0, 32.0], epsilon_greedy=[29.0, 31.0], env_steps=1_000_000)
    assert script.verdict(both) == "floor met (10); goal met (28)"
    lower = fake(both, epsilon_greedy=[20.0, 20.0])  # greedy 31, epsilon 20: judged on 20
    assert script.verdict(lower) == "floor met (10); goal missed (28)"
    assert script.verdict(fake(lower, env_steps=5_000_000)) == (
        "floor: n/a (> 1M steps); goal missed (28)"
    )
    seaquest = fake(row, game="Seaquest", greedy=[21.0], epsilon_greedy=[20.0])
    assert script.verdict(seaquest) == "floor met (20)"  # no PPO number for Seaquest


def test_write_renders_the_section_and_a_plot_per_game(script, row, tmp_path, monkeypatch):
    benchmarks = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(script._common, "BENCHMARKS", benchmarks)
    mlp = fake(row, label="flattened MLP", folder="runs/x", greedy=[1.0, 2.0])
    freeway = fake(row, game="Freeway", label="conv", folder="runs/y", wall_s=5400.0)
    rows = tmp_path / "rows.jsonl"
    old = fake(row, greedy=[99.0, 99.0])  # the same folder scored earlier: replaced
    rows.write_text("".join(json.dumps(r) + "\n" for r in (old, row, mlp, freeway)))
    plots = tmp_path / "plots"
    script.main(["--from-json", str(rows), "--write", "--plots", str(plots), "--command", "cmd"])
    text = benchmarks.read_text()
    assert "<!-- minatar:start -->\n## MinAtar\n" in text and "Command: `cmd`." in text
    greedy = np.array(row["greedy"])
    assert (
        f"| Breakout | tiny conv | 2 | 2,000 | {greedy.mean():.1f} +- {greedy.std(ddof=1):.1f} |"
        in text
    )
    assert "| Breakout | flattened MLP | 2 | 2,000 | 1.5 +- 0.7 |" in text
    assert "99.0" not in text
    assert "| 90 min | " in text and "| 9 | 10 | 28 | floor missed (10); goal missed (28) |" in text
    assert "| 49 | 50 | 58 | floor missed (50); goal missed (58) |" in text
    assert text.index("| Freeway |") > text.index("| Breakout | flattened MLP")  # game order
    assert f"- **tiny conv** (Breakout): {row['settings']}." in text
    for game in ("Breakout", "Freeway"):
        png = plots / f"minatar_{game.lower()}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"![{game}-MinAtar]({os.path.relpath(png, tmp_path)})" in text


def test_rows_from_two_machines_each_name_theirs(script, row):
    other = fake(row, label="other", folder="runs/z", machine="Other CPU, 2 cores")
    text = script.section([row, other], command_line="cmd")
    assert "| verdict | machine |" in text
    lines = text.splitlines()
    named = next(x for x in lines if x.startswith("Machine: "))
    assert named in (  # in the table's order of rows, which sorts the labels
        f"Machine: (a) {row['machine']}; (b) Other CPU, 2 cores.",
        f"Machine: (a) Other CPU, 2 cores; (b) {row['machine']}.",
    )
    ours, theirs = ("a", "b") if named.startswith(f"Machine: (a) {row['machine']}") else ("b", "a")
    assert next(x for x in lines if x.startswith("| Breakout | tiny conv |")).endswith(f" {ours} |")
    assert next(x for x in lines if x.startswith("| Breakout | other |")).endswith(f" {theirs} |")
    alone = script.section([row], command_line="cmd")  # one machine: no column, no letters
    assert f"Machine: {row['machine']}." in alone and "| machine |" not in alone
