"""Sweeps (``dqn_jax.sweep``): a vmapped sweep matches its runs one by one, sharded and chunked
sweeps match the plain one, and so does a tracked one (interval by interval), new hyper-parameter
values compile nothing, progress is one host call per report, shards of the agents axis merge back
into the sweep (``dqn_jax.scale.shards``), the tidy table, bytes per agent, and bad input refused
before anything compiles.

Vmapped, chunked and sharded programs may round batched matmuls differently, so bit-identity is
not promised: on these runs the largest observed gap over every metric and network weight is
4e-6 (run alone vs vmapped; sharded 1.4e-6, chunked 0), and the tolerance is 1e-4 absolute plus
1e-4 relative (``ATOL``, ``RTOL``). Compiles dominate the time, so each program is built once:
here the 6-agent sweep and the single run; the sharded sweep (4 CPU devices) and the chunked one
(chunks of 4) run in a subprocess (``sweep_devices.py``) started first, so its compiles overlap
with these. Shards of one program shape merge bit-for-bit into the sweep run in chunks of that
shape; against other shapes they are held to the same tolerance.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib
import json
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
from conftest import TINY_KWARGS, assert_bitwise, subprocess_env

import dqn_jax
from dqn_jax import (
    DivergenceError,
    DQNConfig,
    HParams,
    Metrics,
    SweepPart,
    SweepResult,
    bytes_per_agent,
    merge_sweeps,
    sweep,
    to_table,
)
from dqn_jax.loop.tracking import AgentLabel
from dqn_jax.scale.shards import check_part, shard_range

# The module (``dqn_jax.sweep`` is the function of the same name).
sweep_module = importlib.import_module("dqn_jax.scale.sweep")

ATOL = RTOL = 1e-4

# No evaluation episodes: a smaller program (eval_return is NaN throughout).
KWARGS = {**TINY_KWARGS, "total_timesteps": 1500, "eval_episodes": 0}
# Three combinations naming different fields (the others keep the config's values), 2 seeds each:
# 6 agents, which 4 devices or chunks of 4 must pad to 8.
COMBOS = [
    {"learning_rate": 1e-3},
    {"learning_rate": 1e-2, "gamma": 0.9},
    {"gamma": 0.95, "tau": 0.5},
]
SEEDS = 2
SEED = 7
REPORT_INTERVAL = 500


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def assert_close(a, b) -> None:
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_allclose(x, y, atol=ATOL, rtol=RTOL, equal_nan=True)


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> DQNConfig:
    return DQNConfig(**KWARGS)


@pytest.fixture(scope="module", autouse=True)
def devices_run(tmp_path_factory):
    """``sweep_devices.py`` in a subprocess with 4 CPU devices, started before any compile here."""
    out = tmp_path_factory.mktemp("sweep_devices")
    spec = dict(config=KWARGS, combos=COMBOS, seeds=SEEDS, seed=SEED, interval=REPORT_INTERVAL)
    env = subprocess_env(XLA_FLAGS="--xla_force_host_platform_device_count=4")
    tests = Path(__file__).resolve().parent
    process = subprocess.Popen(
        [sys.executable, str(tests / "sweep_devices.py"), json.dumps(spec), str(out)],
        env=env,
        cwd=tests.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process, out
    if process.poll() is None:
        process.kill()
        process.communicate()


def devices_result(devices_run, name: str) -> tuple[list[np.ndarray], dict]:
    """The leaves and the report of run ``name`` of the subprocess (waits for it)."""
    process, out = devices_run
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    with np.load(out / f"{name}.npz") as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    return arrays, json.loads((out / f"{name}.json").read_text())


def assert_leaves_close(got: list[np.ndarray], result: SweepResult) -> None:
    want = [np.asarray(x) for x in jax.tree.leaves(result.result)]
    assert len(got) == len(want) > 0
    for x, y in zip(got, want, strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_allclose(x, y, atol=ATOL, rtol=RTOL, equal_nan=True)


@pytest.fixture(scope="module")
def traces():
    """Counts traces of the train function inside every program ``sweep`` builds: the Python
    body runs only while jax traces, so a count that does not grow means nothing recompiled."""
    count = collections.Counter()
    real_make_train = sweep_module.make_train

    def counting_make_train(config, **kwargs):
        train = real_make_train(config, **kwargs)

        @functools.wraps(train)  # keeps train.init and the other attributes
        def counted(key, hparams=None):
            count["train"] += 1
            return train(key, hparams)

        return counted

    sweep_module._program.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sweep_module, "make_train", counting_make_train)
        yield count
    sweep_module._program.cache_clear()


@pytest.fixture(scope="module")
def base(config, traces) -> SweepResult:
    """The 6-agent sweep on one device, in one chunk."""
    result = sweep(config, SEEDS, COMBOS, key=jax.random.key(SEED), devices=jax.devices()[:1])
    assert traces["train"] == 1
    return result


# --- the sweep against its runs -------------------------------------------------------------------


def test_result_has_named_axes(base, config):
    assert base.axes == ("combo", "seed")
    assert (base.num_combos, base.num_seeds) == (3, 2)
    assert base.combos() == COMBOS
    assert base.swept == ("learning_rate", "gamma", "tau")
    assert base.result.metrics.loss.shape == (3, 2, config.num_logs)
    assert base.result.state is None  # keep_state=False
    np.testing.assert_allclose(base.hparams.learning_rate, [1e-3, 1e-2, config.learning_rate])
    np.testing.assert_allclose(base.hparams.gamma, [config.gamma, 0.9, 0.95], rtol=1e-6)
    assert np.all(np.asarray(base.result.metrics.env_steps)[..., -1] == config.total_timesteps)


def test_sweep_matches_each_run_alone_and_new_values_do_not_retrace(base, config):
    traces = 0
    train = dqn_jax.make_train(config)

    @jax.jit
    def alone(key, hparams):
        nonlocal traces
        traces += 1
        return train(key, hparams)

    keys = jax.random.split(jax.random.key(SEED), SEEDS)
    for c, combo in enumerate(COMBOS):
        for s in range(SEEDS):
            result = alone(keys[s], HParams.from_config(config, **combo))
            agent = jax.tree.map(lambda x, c=c, s=s: x[c, s], base.result)
            assert_close(result.metrics, agent.metrics)
            assert_close(result.q_network, agent.q_network)
    assert traces == 1  # six hyper-parameter combinations and seeds, one compile
    # The combinations really differ (the comparison above is not vacuous).
    loss = np.asarray(base.result.metrics.loss)[:, 0, -1]
    assert len(set(loss.tolist())) == 3


def test_new_values_reuse_the_compiled_sweep(base, config, traces):
    before = traces["train"]
    grid = {"learning_rate": [5e-4, 2e-3, 7e-3], "epsilon_end": [0.1]}  # a product: 3 combos
    other = sweep(config, SEEDS, grid, key=jax.random.key(SEED + 1), devices=jax.devices()[:1])
    assert traces["train"] == before
    assert other.combos() == [
        {"learning_rate": lr, "epsilon_end": 0.1} for lr in grid["learning_rate"]
    ]
    assert not np.allclose(other.result.metrics.loss[:, :, -1], base.result.metrics.loss[:, :, -1])


def test_sharded_matches_unsharded_with_one_report_per_point(base, devices_run):
    leaves, info = devices_result(devices_run, "sharded")
    assert info["devices"] == 4  # 6 agents padded to 8, two per device
    assert info["traces"] == 1
    assert_leaves_close(leaves, base)
    # One host call per report with every real agent's values (padding dropped), not one per
    # agent or per device.
    assert info["reports"] == [[n] * 6 for n in (500, 1000, 1500)]


def test_chunked_matches_unchunked_with_one_program(base, config, devices_run):
    leaves, info = devices_result(devices_run, "chunked")
    assert info["devices"] == 1
    assert info["traces"] == 1  # two chunks of 4 (the second padded), one program
    assert_leaves_close(leaves, base)
    # Reports count on across chunks: the second chunk starts at total_timesteps.
    total = config.total_timesteps
    assert info["reports"] == [[n] * 4 for n in (500, 1000, 1500)] + [
        [total + n] * 2 for n in (500, 1000, 1500)
    ]


# --- shards ---------------------------------------------------------------------------------------


def one_device(config, **kwargs):
    return sweep(
        config, SEEDS, COMBOS, key=jax.random.key(SEED), devices=jax.devices()[:1], **kwargs
    )


@pytest.fixture(scope="module")
def shards_of_two(config, traces) -> tuple[dict[int, SweepPart], SweepResult]:
    """The 6 agents cut into 3 shards of 2 (run out of order), and the whole sweep in chunks of
    2: one program serves all four."""
    before = traces["train"]
    parts = {i: one_device(config, shard=(i, 3)) for i in (2, 0, 1)}
    whole = one_device(config, chunk_size=2)
    assert traces["train"] == before + 1
    return parts, whole


def test_shard_ranges_are_chunks_of_the_sweep():
    assert [shard_range(6, (i, 3)) for i in range(3)] == [(0, 2, 2), (2, 4, 2), (4, 6, 2)]
    assert [shard_range(7, (i, 3)) for i in range(3)] == [(0, 3, 3), (3, 6, 3), (6, 7, 3)]
    assert shard_range(5, (0, 1)) == (0, 5, 5)
    with pytest.raises(ValueError, match=r"leave shards 3 to 4 empty; .* such as 3"):
        shard_range(6, (0, 5))  # shards of 2 fill only 3


def test_shards_merge_into_the_sweep_bit_for_bit(config, shards_of_two, base):
    parts, whole = shards_of_two
    assert [parts[i].agents for i in range(3)] == [(0, 2), (2, 4), (4, 6)]
    assert parts[1].result.metrics.loss.shape == (2, config.num_logs)
    assert parts[1].program == (2, 1, jax.devices()[0].device_kind)
    merged = merge_sweeps([parts[2], parts[0], parts[1]])
    assert isinstance(merged, SweepResult) and merged.combos() == COMBOS
    assert_bitwise(merged, whole)  # every agent's key and hyper-parameters, whatever the cut
    # One chunk of all six agents is another program shape: equal within the tolerance.
    assert_close(merged.result, base.result)
    assert_bitwise(merged.hparams, base.hparams)


def test_an_uneven_cut_keeps_every_agent(config, shards_of_two, traces):
    """2 shards of 3, each in chunks of 2 (its second chunk padded): the same program as the
    whole sweep in chunks of 2, with other agents side by side in a batch."""
    _, whole = shards_of_two
    before = traces["train"]
    parts = [one_device(config, shard=(i, 2), chunk_size=2) for i in range(2)]
    assert traces["train"] == before
    assert [p.agents for p in parts] == [(0, 3), (3, 6)]
    assert_close(merge_sweeps(parts).result, whole.result)


def _missing(p):
    return [p[0], p[2]]


def _twice(p):
    return [p[0], p[1], p[1], p[2]]


def _changed(**changes):
    return lambda p: [p[0], dataclasses.replace(p[1], **changes), p[2]]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_missing, ["1 of 3 shards missing: shard 1"]),
        (_twice, ["shard 1 of 3 is given twice"]),
        (_changed(config=DQNConfig(**{**KWARGS, "total_timesteps": 2000})),
         ["shard 1 of 3 is from another sweep", "config", "total_timesteps: 2000 != 1500"]),
        (_changed(grid=((("gamma", 0.5),),) * 3), ["shard 1 of 3", "grid"]),
        (_changed(num_seeds=3), ["shard 1 of 3", "seeds (3 != 2)"]),
        (_changed(key=("fry", (0, 8))), ["shard 1 of 3", "key"]),
        (_changed(shard=(1, 4)), ["shard 1 of 4", "shard count (4 != 3)"]),
        (_changed(versions=(("dqn-jax", "0.0.1"),)), ["shard 1 of 3", "versions", "0.0.1"]),
        (_changed(agents=(1, 3)), ["shard 1 of 3 holds agents 1 to 2", "is agents 2 to 3"]),
        (lambda p: [p[0], p[1], p[0].result], ["parts[2]", "TrainResult", "SweepPart"]),
    ],
)  # fmt: skip
def test_merge_refuses_a_missing_twice_given_or_mismatched_shard(shards_of_two, make, words):
    parts, _ = shards_of_two
    with pytest.raises(ValueError) as error:
        merge_sweeps(make(parts))
    for word in words:
        assert word in str(error.value)


def test_a_diverged_agent_of_a_shard_is_named_by_its_place_in_the_sweep(shards_of_two):
    parts, _ = shards_of_two
    # shard 1 holds agents 2 and 3: seeds 0 and 1 of combination 1
    diverged = np.asarray(parts[1].result.metrics.diverged_at).copy()
    diverged[1, -1] = 700
    bad = eqx.tree_at(lambda p: p.result.metrics.diverged_at, parts[1], diverged)
    name = r"combo 1 \(learning_rate=0.01, gamma=0.9\) seed 1 at env step 700"
    with pytest.raises(DivergenceError, match=name) as error:
        check_part(bad)
    assert error.value.result is bad
    with pytest.raises(DivergenceError, match=name) as error:
        merge_sweeps([parts[0], bad, parts[2]])
    assert isinstance(error.value.result, SweepResult)
    assert merge_sweeps([parts[0], bad, parts[2]], check=False).num_seeds == SEEDS


class Reports:
    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.steps: list[list[int]] = []
        self.returns: list[np.ndarray] = []

    def __call__(self, env_steps, recent_return) -> None:
        self.steps.append(np.asarray(env_steps).tolist())
        self.returns.append(np.asarray(recent_return))


def test_a_tracked_shard_is_the_untracked_shard_with_its_agents_labelled_globally(
    config, shards_of_two
):
    """shard= and tracker= together: the tracker sees shard 1's agents (global agents 2 and 3:
    seeds 0 and 1 of combination 1) under their places in the whole sweep, and the part is the
    untracked one, bit for bit (the same program of 2 agents, run interval by interval)."""
    parts, _ = shards_of_two
    calls = []
    part = sweep(
        config,
        SEEDS,
        COMBOS,
        key=jax.random.key(SEED),
        devices=jax.devices()[:1],
        shard=(1, 3),
        tracker=lambda metrics, agents: calls.append(agents),
    )
    assert part.agents == parts[1].agents == (2, 4)
    assert_bitwise(part.result.metrics, parts[1].result.metrics)
    assert_bitwise(part.result.q_network, parts[1].result.q_network)
    point = tuple(
        (name, COMBOS[1].get(name, getattr(config, name)))
        for name in ("learning_rate", "gamma", "tau")
    )
    assert calls == [[AgentLabel(0, point), AgentLabel(1, point)]] * config.num_logs


def test_tracked_sweep_matches_the_one_program_sweep(base, config):
    """With a tracker the sweep runs interval by interval, its two chunks taking turns: the
    tracker sees every agent at every logging point, and the result is the same."""
    calls = []
    progress = Reports(500)
    tracked = sweep(
        config,
        SEEDS,
        COMBOS,
        key=jax.random.key(SEED),
        devices=jax.devices()[:1],
        chunk_size=4,  # 6 agents: a chunk of 4 and a padded one of 2
        progress=progress,
        tracker=lambda metrics, agents: calls.append((metrics, agents)),
    )
    assert_leaves_close([np.asarray(x) for x in jax.tree.leaves(tracked.result)], base)
    steps = [500, 1000, 1500]
    assert [m.env_steps.tolist() for m, _ in calls] == [[n] * 6 for n in steps]
    for i, (metrics, _) in enumerate(calls):
        for name in Metrics._fields:
            want = np.asarray(getattr(tracked.result.metrics, name))[..., i].reshape(-1)
            np.testing.assert_array_equal(getattr(metrics, name), want)
    lr, gamma, tau = config.learning_rate, config.gamma, config.tau
    points = [(1e-3, gamma, tau), (1e-2, 0.9, tau), (lr, 0.95, 0.5)]
    assert calls[0][1] == [
        AgentLabel(s, tuple(zip(("learning_rate", "gamma", "tau"), p, strict=True)))
        for p in points
        for s in range(SEEDS)
    ]
    # The bar counts both chunks' runs, interval by interval: (i, c) is at (2 i + c + 1) * 500.
    assert progress.steps == [
        [1000 * i + 500 * c + 500] * n for i in range(3) for c, n in ((0, 4), (1, 2))
    ]
    # ... with each chunk's real agents' recent returns at that logging point
    returns = np.asarray(tracked.result.metrics.episode_return).reshape(6, 3)
    want = [returns[agents, i] for i in range(3) for agents in (slice(0, 4), slice(4, 6))]
    assert len(progress.returns) == len(want)
    for got, expected in zip(progress.returns, want, strict=True):
        np.testing.assert_array_equal(got, expected)


# --- the table and the memory figure --------------------------------------------------------------


def test_to_table_has_one_row_per_run_and_logging_point(base, config):
    table = to_table(base)
    logs = config.num_logs
    rows = 3 * SEEDS * logs
    assert list(table) == ["combo", "seed", "learning_rate", "gamma", "tau", *Metrics._fields]
    assert all(len(column) == rows for column in table.values())
    assert table["combo"].tolist() == [c for c in range(3) for _ in range(SEEDS * logs)]
    assert table["seed"].tolist() == [
        s for _ in range(3) for s in range(SEEDS) for _ in range(logs)
    ]
    np.testing.assert_allclose(table["tau"][-1], 0.5)
    np.testing.assert_allclose(table["tau"][0], config.tau)
    np.testing.assert_array_equal(table["loss"], np.asarray(base.result.metrics.loss).reshape(-1))
    assert table["env_steps"][:logs].tolist() == [500, 1000, 1500]


def test_bytes_per_agent_is_dominated_by_the_replay(config):
    # A CartPole transition: obs and next_obs (4 float32 each), action, reward, terminated and
    # truncated (4 bytes each): 48 bytes a slot.
    total = bytes_per_agent(config)
    replay = config.buffer_size * 48
    assert replay < total < 2 * replay
    bigger = bytes_per_agent(config.replace(buffer_size=2 * config.buffer_size))
    assert bigger - total == replay


def test_memory_budget_picks_the_fewest_balanced_chunks():
    per_agent = 1000
    chunk = functools.partial(sweep_module._chunk, agent_bytes=lambda: per_agent)
    assert chunk(6, 1, None, None) == 6
    assert chunk(6, 1, None, 4 * per_agent) == 3  # 2 chunks of 3, not 4 + 2
    assert chunk(6, 4, None, 10 * per_agent) == 8  # one chunk, padded to the devices
    assert chunk(12, 4, None, 2.5 * per_agent) == 8  # 2 per device: chunks of 8 and 4 + 4 pad
    assert chunk(6, 4, None, 1.5 * per_agent) == 4  # 1 per device
    assert chunk(6, 4, None, None) == 8  # padded to the devices
    assert chunk(6, 4, 3, None) == 4  # chunk_size rounded up to the devices
    assert chunk(512, 1, None, 1e9) == 512


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(hparams_grid={"lr": [1e-3]}), ["lr", "learning_rate"]),
        (dict(hparams_grid=[{"gamma": 0.9}, {"gamma": 1.5}]), ["combination 1", "gamma=1.5",
                                                              "[0, 1]"]),
        (dict(hparams_grid={"gamma": ["high"]}), ["gamma='high'", "[0, 1]"]),
        (dict(hparams_grid={"gamma": []}), ["gamma", "empty"]),
        (dict(hparams_grid={"gamma": 0.9}), ["gamma", "list"]),
        (dict(num_seeds=0), ["num_seeds=0", "[1, inf)"]),
        (dict(chunk_size=0), ["chunk_size=0", "[1, inf)"]),
        (dict(chunk_size=-2), ["chunk_size=-2", "[1, inf)"]),
        (dict(memory_budget=10), ["memory_budget=10", "inf)"]),
        (dict(chunk_size=2, memory_budget=1e9), ["chunk_size", "memory_budget"]),
        (dict(key=0), ["key=0", "jax.random.key"]),
        (dict(devices=[]), ["devices"]),
        (dict(progress=0), ["progress=0", "[1, inf)"]),
        (dict(shard=(3, 3)), ["shard=(3, 3)", "index 3", "[0, 2]"]),
        (dict(shard=(0, 0)), ["shard=(0, 0)", "count 0", "[1, inf)"]),
        (dict(shard="1/2"), ["shard='1/2'", "(index, count)"]),
        (dict(shard=(True, 2)), ["(index, count)"]),
        (dict(shard=(0, 2)), ["shard=(0, 2)", "1 agent in 2 shards", "shard 1 empty"]),
        (dict(tracker="tb"), ["tracker='tb'", "callable"]),
    ],
)  # fmt: skip
def test_bad_input_raises_before_compiling(config, traces, kwargs, words):
    before = traces["train"]
    args = {"num_seeds": 1, "hparams_grid": None, "key": jax.random.key(0), **kwargs}
    with pytest.raises(ValueError) as error:
        sweep(config, **args)
    for word in words:
        assert word in str(error.value)
    assert traces["train"] == before
