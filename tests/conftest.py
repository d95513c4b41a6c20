"""Shared tiny configurations: small enough that one compile plus one run takes seconds on CPU."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import numpy as np
import pytest

from dqn_jax import DQNConfig
from dqn_jax.storage import compile_cache

ROOT = Path(__file__).resolve().parent.parent


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python process that runs this tree's dqn_jax (first on
    ``PYTHONPATH``, whichever copy is installed) on the CPU, with ``extra`` on top."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "JAX_PLATFORMS": "cpu", **extra}


# The module whose train loop wires the blocks together. Loop-level tests spy on the names it
# looks up when it is traced (``td_update``, the policies, ``prioritized.sample``, ...), so a move
# of the loop changes only this line.
LOOP = importlib.import_module("dqn_jax.loop.train")

# One CartPole run: 500 rounds of 4 env steps (num_envs=4), 4 logging points. learning_starts is
# past the first logging point so the first interval has no gradient step (loss NaN there).
TINY_KWARGS = dict(
    env_name="CartPole-v1",
    total_timesteps=2000,
    num_envs=4,
    buffer_size=1000,
    batch_size=32,
    learning_starts=600,
    train_frequency=4,
    gradient_steps=1,
    target_update_period=100,
    log_interval=500,
    eval_episodes=2,
    hidden_sizes=(16, 16),
    epsilon_start=1.0,
    epsilon_end=0.05,
    epsilon_decay_steps=1000,
)

# A smaller run for the other environments (compile dominates; the run itself is short).
SMALL_KWARGS = dict(
    total_timesteps=400,
    num_envs=2,
    buffer_size=400,
    batch_size=32,
    learning_starts=64,
    train_frequency=2,
    log_interval=200,
    eval_episodes=1,
    hidden_sizes=(16, 16),
    epsilon_decay_steps=200,
)


@pytest.fixture(scope="session", autouse=True)
def compile_cache_in_a_temporary_folder(tmp_path_factory) -> Iterator[Path]:
    """The folder the command line caches compiled programs in when a test runs it in this
    process (``dqn_jax.cli.main``): a temporary one, not the user's."""
    folder = tmp_path_factory.mktemp("dqn-jax-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compile_cache, "default_cache_dir", lambda: folder)
        yield folder


@pytest.fixture(scope="session")
def tiny_config() -> DQNConfig:
    return DQNConfig(**TINY_KWARGS)


def key(seed: int) -> jax.Array:
    """A typed PRNG key."""
    return jax.random.key(seed)


def brute_force_n_step(rewards, terminated, truncated, gamma):
    """The n-step sample from the definition: sum until the first end, bootstrap unless it
    terminated. Returns ``(return, discount, offset of the step to bootstrap from)``."""
    ret, power = 0.0, 1.0
    for k in range(len(rewards)):
        ret += power * rewards[k]
        power *= gamma
        if terminated[k]:
            return ret, 0.0, k
        if truncated[k]:
            return ret, power, k
    return ret, power, len(rewards) - 1


def array_leaves(tree) -> list[np.ndarray]:
    """The array leaves of ``tree`` on the host, typed PRNG keys as their key data."""

    def data(x):
        is_key = jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
        return np.asarray(jax.random.key_data(x) if is_key else x)

    return [data(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def assert_bitwise(a, b) -> None:
    """``a`` and ``b`` hold the same arrays, bit for bit (NaN equals NaN), keys included."""
    la, lb = array_leaves(a), array_leaves(b)
    assert len(la) == len(lb) > 0
    for x, y in zip(la, lb, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


# --- spying on what the train loop hands to the blocks -------------------------------------------


class Call(NamedTuple):
    """One call the loop made: its arguments by parameter name (arrays as numpy; PRNG keys and
    other traced non-data as ``None``) and its result."""

    name: str
    args: dict[str, Any]
    out: Any


def _is_data(x: Any) -> bool:
    return eqx.is_array(x) and not jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


class LoopSpy:
    """Records every call the train loop makes to the spied functions, with arguments and result.

    ``spy(owner, name)`` replaces ``owner.name`` (an attribute of ``LOOP``, or of a module the
    loop reaches through it, such as ``LOOP.prioritized``) by a wrapper whose
    ``jax.debug.callback`` appends a :class:`Call` to ``calls`` whenever the compiled program
    runs it. Calls arrive in program order, except that under ``jax.vmap`` the callback runs once
    per element in an order of its own (not always the elements' order). The loop looks names up
    while it is traced, so build and trace ``make_train`` inside the ``monkeypatch`` context that
    holds the spies.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls: list[Call] = []

    def spy(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        signature = inspect.signature(original)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            data, static = eqx.partition((dict(bound.arguments), out), _is_data)
            # keep Python values (sizes, kinds); drop keys and other traced non-data
            static = jax.tree.map(lambda x: None if isinstance(x, jax.Array) else x, static)

            def record(data: Any) -> None:
                # copies: no record may alias a buffer the runtime owns
                data = jax.tree.map(lambda x: np.array(x, copy=True), data)
                arguments, result = eqx.combine(data, static)
                self.calls.append(Call(name, arguments, result))

            jax.debug.callback(record, data)
            return out

        self.monkeypatch.setattr(owner, name, wrapper)
