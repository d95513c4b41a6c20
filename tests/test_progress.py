"""The progress bar: host-side merging of reports (one agent's, or a batch's), and the callback
that make_train compiles in only when asked, once however many agents are vmapped (traced, not
compiled: a jaxpr is enough)."""

from __future__ import annotations

import io

import jax
import numpy as np
import pytest
from conftest import TINY_KWARGS

import dqn_jax
from dqn_jax import DQNConfig, HParams, ProgressBar


def test_reports_of_many_agents_make_one_bar():
    out = io.StringIO()
    bar = ProgressBar(2000, 500, agents=3, file=out)
    for steps in (500, 1000, 1500, 2000):  # what vmap does: every agent reports each point
        for agent in range(3):
            bar(steps, float("nan") if steps == 500 else 10.0 * (agent + 1))
    bar.close()
    text = out.getvalue()
    assert "train (3 agents)" in text and "2.00k/2.00k" in text
    assert "return 20.0" in text  # the mean over agents
    assert "6.00k" not in text


def test_bar_rejects_a_bad_interval():
    with pytest.raises(ValueError, match="interval"):
        ProgressBar(100, 0)


def test_nothing_reported_means_no_bar():
    out = io.StringIO()
    ProgressBar(100, 10, file=out).close()
    assert out.getvalue() == ""


def count_callbacks(jaxpr) -> int:
    return str(jaxpr).count("debug_callback[")


@pytest.mark.parametrize("agents", [None, 2, 512])
def test_callback_is_compiled_in_only_with_progress(agents):
    config = DQNConfig(**TINY_KWARGS)
    hparams = HParams.from_config(config)
    key = jax.random.key(0) if agents is None else jax.random.split(jax.random.key(0), agents)
    counts = []
    for progress in (None, ProgressBar(config.total_timesteps, 100)):
        train = dqn_jax.make_train(config, progress=progress)
        state = jax.eval_shape(train.init, jax.random.key(0), hparams)
        step = train.step
        if agents is not None:
            state = jax.eval_shape(jax.vmap(train.init, in_axes=(0, None)), key, hparams)
            step = jax.vmap(train.step, in_axes=(0, None, None))
        jaxpr = jax.make_jaxpr(step)(state, hparams, 0)
        counts.append(count_callbacks(jaxpr))
        if progress is not None:
            assert "cond" in str(jaxpr)
    # One callback however many agents (a plain debug callback would be unrolled once per
    # agent); without progress there is none.
    assert counts == [0, 1]


def test_batched_reports_make_one_bar():
    out = io.StringIO()
    bar = ProgressBar(1000, 500, agents=512, file=out)
    for steps in (500, 1000):  # what a vmapped program sends: one report with every agent
        bar(np.full(512, steps, np.int32), np.arange(512, dtype=np.float32))
    bar.close()
    text = out.getvalue()
    assert "train (512 agents)" in text and "1.00k/1.00k" in text
    assert "return 255.5" in text  # the mean over agents
    assert text.count("\n") == 1  # one line, redrawn in place


class Recorder:
    """A progress report target that keeps the env steps of every report."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.env_steps: list[int] = []

    def __call__(self, env_steps, recent_return) -> None:
        self.env_steps.append(int(env_steps))


@pytest.mark.parametrize(("interval", "every"), [(12, 12), (2, 4), (6, 4)])
def test_the_loop_reports_every_interval_and_at_the_end(interval, every):
    # 12: 3 rounds of 4 env steps per report, and 2,000 is not a multiple of 12, so the end is
    # extra; 2: shorter than a round, so every round reports; 6: a round and a half, so every
    # whole round within it reports
    config = DQNConfig(**TINY_KWARGS)
    assert config.train_frequency == 4
    recorder = Recorder(interval=interval)
    jax.block_until_ready(jax.jit(dqn_jax.make_train(config, progress=recorder))(jax.random.key(0)))
    jax.effects_barrier()
    expected = sorted({*range(every, config.total_timesteps, every), config.total_timesteps})
    assert sorted(recorder.env_steps) == expected  # debug callbacks are unordered effects
