"""The command line's programs in JAX's persistent compilation cache
(``dqn_jax.storage.compile_cache``): a ``dqn-jax train`` with its progress bar writes its
small programs on a first run (JAX refuses any program that holds a host callback), and its init
and step whole into the ``programs`` folder beside them (``dqn_jax.storage.programs``); a second
process loads those without tracing them and compiles nothing, ``--no-compile-cache`` writes
nothing, and the bar is fed from the host at the start and at every logging point.

Three subprocesses in two waves (``python -m dqn_jax``, JAX logging its compiles and cache
misses); the rest runs in this process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import TINY_KWARGS, subprocess_env

from dqn_jax import DQNConfig, HParams
from dqn_jax.cli import build_parser
from dqn_jax.scale.sweep import _interval_programs
from dqn_jax.storage import compile_cache
from dqn_jax.storage.compile_cache import default_cache_dir  # before conftest replaces it
from dqn_jax.storage.runs import agent_hparams, agent_keys, train_intervals

TINY_FLAGS = [
    "--total-timesteps", "2000", "--buffer-size", "1000", "--batch-size", "32",
    "--learning-starts", "600", "--log-interval", "500", "--eval-episodes", "2",
    "--hidden-sizes", "16,16", "--episodes", "2", "--num-envs", "4", "--train-frequency", "4",
]  # fmt: skip
TRAIN = ["train", *TINY_FLAGS]
THRESHOLD_VARIABLES = [name.upper() for name in compile_cache.THRESHOLDS]


def run_cli(commands: dict[str, tuple[list[str], Path]]) -> dict[str, subprocess.CompletedProcess]:
    """Runs ``python -m dqn_jax ARGS`` with ``JAX_COMPILATION_CACHE_DIR=DIR`` for every named
    ``(ARGS, DIR)``, side by side, with JAX logging every cache hit and miss."""
    env = subprocess_env(JAX_LOG_COMPILES="1", JAX_EXPLAIN_CACHE_MISSES="1")
    env = {k: v for k, v in env.items() if k not in THRESHOLD_VARIABLES}
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "dqn_jax", *args],
            env={**env, compile_cache.DIR_VARIABLE: str(folder)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, folder) in commands.items()
    }
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=600)
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if process.returncode:
            raise AssertionError(f"{name}: exit {process.returncode}\n{stdout}\n{stderr}")
    return done


def entries(folder: Path) -> dict[str, float]:
    """The cache's files (its subfolders' too) and their modification times."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


def programs(folder: Path) -> set[str]:
    """The names of the programs cached in ``folder`` by JAX (``jit_step``, ...)."""
    return {p.name.rsplit("-", 2)[0] for p in folder.iterdir() if p.is_file()}


def stored(folder: Path) -> set[str]:
    """The names of the whole programs stored in ``folder``'s ``programs`` subfolder."""
    return {p.name.split("-")[0] for p in (folder / compile_cache.PROGRAMS).glob("*.bin")}


def traced(stderr: str) -> set[str]:
    """The functions JAX logged tracing for jit."""
    return set(re.findall(r"Finished tracing (\S+) for jit", stderr))


def lowered(stderr: str) -> set[str]:
    """The programs JAX logged lowering to MLIR (``jit_step``, ...)."""
    return set(re.findall(r"MLIR module conversion jit\((\S+)\)", stderr))


def log_lines(stderr: str, kind: str) -> set[str]:
    """The programs JAX's compiler logged as a cache ``"hit"`` or ``"miss"``."""
    pattern = {
        "hit": r"Persistent compilation cache hit for '([^']+)'",
        "miss": r"PERSISTENT COMPILATION CACHE MISS for '([^']+)'",
    }[kind]
    return set(re.findall(pattern, stderr))


def table(stdout: str) -> list[str]:
    """The printed logging points and final evaluation (everything but the timing)."""
    return [line for line in stdout.splitlines() if not line.startswith("Trained in")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """``first`` and ``off`` (``--no-compile-cache``) side by side, then ``second`` in a fresh
    process on ``first``'s cache."""
    root = tmp_path_factory.mktemp("compile-cache")
    cache, unused = root / "cache", root / "unused"
    out = run_cli({"first": (TRAIN, cache), "off": ([*TRAIN, "--no-compile-cache"], unused)})
    after_first = entries(cache)
    out |= run_cli({"second": (TRAIN, cache)})
    return dict(out, cache=cache, unused=unused, after_first=after_first)


def test_a_first_run_with_the_bar_writes_its_programs(runs):
    # init and step are stored whole, compiled afresh: not looked up in JAX's cache (an
    # executable JAX loads from there does not serialise whole on CPU), nor written to it
    assert stored(runs["cache"]) == {"init", "step"}
    looked_up = log_lines(runs["first"].stderr, "miss") | log_lines(runs["first"].stderr, "hit")
    assert not {"jit_init", "jit_step"} & (looked_up | programs(runs["cache"]))
    assert looked_up and programs(runs["cache"])  # the small programs (keys, conversions)
    # ... and which it used, for the next run of the same command line to load in advance
    (hint,) = (runs["cache"] / compile_cache.PROGRAMS).glob("hint-*.json")
    files = {p.name for p in (runs["cache"] / compile_cache.PROGRAMS).glob("*.bin")}
    assert set(json.loads(hint.read_text())) == files
    assert "2.00k/2.00k" in runs["first"].stderr  # the bar was drawn, to its end


def test_a_second_process_loads_the_programs_instead_of_compiling(runs):
    stderr = runs["second"].stderr
    assert {"init", "step"} <= lowered(runs["first"].stderr)
    assert not {"init", "step"} & lowered(stderr)  # loaded whole: neither lowered nor compiled
    # The step is not even traced; the init is, for its state's structure, but only once the
    # first interval runs.
    assert "step" not in traced(stderr)
    assert log_lines(stderr, "hit")  # the small programs (keys, conversions) from JAX's cache
    assert not log_lines(stderr, "miss")  # every program, the small ones too
    assert entries(runs["cache"]) == runs["after_first"]  # nothing written or rewritten
    assert table(runs["second"].stdout) == table(runs["first"].stdout)
    assert "2.00k/2.00k" in stderr


def test_no_compile_cache_reads_and_writes_nothing(runs):
    assert entries(runs["unused"]) == {}  # not even the JAX_COMPILATION_CACHE_DIR it was given
    assert not log_lines(runs["off"].stderr, "hit") | log_lines(runs["off"].stderr, "miss")
    assert table(runs["off"].stdout) == table(runs["first"].stdout)


# --- in this process ------------------------------------------------------------------------------


def test_progress_comes_from_the_host_at_the_start_and_every_logging_point(tiny_config):
    """``train_intervals``: one report once the step is compiled (the starting env steps, NaN
    returns), then one per logging point with its env steps and mean episode return, for every
    agent; a resumed run starts from its checkpoint's env steps (its step loaded from the
    persistent cache the first call wrote)."""
    calls = []
    progress = lambda steps, returns: calls.append((np.array(steps), np.array(returns)))  # noqa: E731
    start = (agent_keys(0, 2), agent_hparams(tiny_config, 2))
    with compile_cache.compile_cache():
        half = train_intervals(tiny_config, start, stop=2, progress=progress)
        whole = train_intervals(tiny_config, half, progress=progress)
    assert [steps.tolist() for steps, _ in calls] == [
        [0, 0], [500, 500], [1000, 1000], [1000, 1000], [1500, 1500], [2000, 2000]
    ]  # fmt: skip
    for i in (0, 3):
        assert np.isnan(calls[i][1]).all() and calls[i][1].shape == (2,)
    reported = [returns for i, (_, returns) in enumerate(calls) if i not in (0, 3)]
    np.testing.assert_array_equal(np.stack(reported, -1), whole.metrics.episode_return)


def test_the_tracked_sweep_step_holds_no_callback():
    """A tracked sweep's interval program (progress is reported from the host) lowers without
    a host callback, so the persistent cache can keep it."""
    config = DQNConfig(**TINY_KWARGS)
    init, step, _, _ = _interval_programs(config, 2, tuple(jax.devices()[:1]))
    keys = jax.random.split(jax.random.key(0), 2)
    hparams = jax.tree.map(lambda x: np.stack([x, x]), HParams.from_config(config))
    state = jax.eval_shape(init, keys, hparams)
    text = step.lower(state, hparams, np.int32(0)).as_text()
    assert "callback" not in text and "while" in text  # the program itself is there


def test_default_folder_honours_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "dqn-jax" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "dqn-jax" / "jax"


def test_jax_compilation_cache_dir_wins_over_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv(compile_cache.DIR_VARIABLE, raising=False)
    before = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        assert compile_cache.cache_dir() == compile_cache.default_cache_dir()
        monkeypatch.setenv(compile_cache.DIR_VARIABLE, str(tmp_path / "mine"))
        with compile_cache.compile_cache() as folder:
            assert folder == tmp_path / "mine"
            assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
        assert jax.config.jax_compilation_cache_dir is None
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def test_the_cache_keeps_every_program_and_leaves_jax_as_it_was(monkeypatch):
    before = {name: getattr(jax.config, name) for name in compile_cache._SETTINGS}
    for name in THRESHOLD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    expected = compile_cache.cache_dir()  # the default folder in this test session
    with compile_cache.compile_cache() as folder:
        assert folder == expected
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
        assert jax.config.jax_persistent_cache_min_entry_size_bytes == -1
    assert {name: getattr(jax.config, name) for name in compile_cache._SETTINGS} == before
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "2")  # the user's wins
    with compile_cache.compile_cache():
        assert (
            jax.config.jax_persistent_cache_min_compile_time_secs
            == before["jax_persistent_cache_min_compile_time_secs"]
        )
    with compile_cache.compile_cache(enabled=False) as folder:
        assert folder is None and not jax.config.jax_enable_compilation_cache
    assert {name: getattr(jax.config, name) for name in compile_cache._SETTINGS} == before


@pytest.mark.parametrize(
    "argv",
    [["train"], ["sweep", "--grid", "gamma=0.9"], ["merge", "RUN"], ["eval", "RUN"],
     ["plot", "RUN"], ["render", "RUN"]],
)  # fmt: skip
def test_every_subcommand_takes_no_compile_cache(argv):
    assert build_parser().parse_args([*argv, "--no-compile-cache"]).no_compile_cache
    assert not build_parser().parse_args(argv).no_compile_cache
