"""Checkpoint files and the Python face (``save``, ``load``, ``act``) on states that need no
training: round trips are bit-exact (typed keys included), and a truncated, corrupted, foreign or
mismatched file is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import TINY_KWARGS, assert_bitwise

import dqn_jax
from dqn_jax import Checkpoint, DQNConfig, HParams, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def config() -> DQNConfig:
    return DQNConfig(**TINY_KWARGS)


@pytest.fixture(scope="module")
def states(config):
    """Two agents' initial states (run eagerly: no compile), stacked on a leading axis."""
    train = dqn_jax.make_train(config)
    hparams = HParams.from_config(config)
    one = [train.init(jax.random.key(seed), hparams) for seed in (0, 1)]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *one)


@pytest.fixture
def saved(tmp_path, config, states):
    hparams = HParams.from_config(config)
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, Checkpoint(config, states, hparams, None, 0))
    return path


def test_round_trip_is_bit_exact_with_typed_keys(saved, config, states):
    checkpoint = load_checkpoint(saved, config)
    assert checkpoint.config == config and checkpoint.interval == 0
    assert checkpoint.metrics is None and checkpoint.batch_shape == (2,)
    assert jax.dtypes.issubdtype(checkpoint.state.key.dtype, jax.dtypes.prng_key)
    assert_bitwise(checkpoint.state, states)
    assert_bitwise(checkpoint.hparams, HParams.from_config(config))
    assert not [p for p in saved.parent.iterdir() if p.name != saved.name]  # no temp files


def test_save_and_load_a_run_folder(tmp_path, config, states):
    dqn_jax.save(tmp_path / "run", states, config)
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"config.json", "checkpoint.eqx"}
    loaded_config, state = dqn_jax.load(tmp_path / "run")
    assert loaded_config == config and isinstance(state, dqn_jax.TrainState)
    assert_bitwise(state, states)


def test_truncated_file_names_the_file(saved, config):
    saved.write_bytes(saved.read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated") as error:
        load_checkpoint(saved, config)
    assert str(saved) in str(error.value)


def test_corrupted_payload_names_the_file(saved, config):
    data = bytearray(saved.read_bytes())
    data[-10] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted") as error:
        load_checkpoint(saved, config)
    assert str(saved) in str(error.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", b"\x00\x01\x02"])
def test_other_files_are_refused(tmp_path, content):
    path = tmp_path / "junk.eqx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a dqn-jax checkpoint") as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\.eqx"):
        load_checkpoint(tmp_path / "nothing.eqx")


def test_checkpoint_from_another_config_names_the_fields(saved, config):
    other = config.replace(hidden_sizes=(8,), gamma=0.9)
    with pytest.raises(ValueError, match="different config") as error:
        load_checkpoint(saved, other)
    message = str(error.value)
    assert str(saved) in message and "hidden_sizes" in message and "gamma" in message


def test_a_failed_write_keeps_the_old_file(saved, config, states, monkeypatch):
    before = saved.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    later = jax.tree.map(lambda x: x, states)._replace(env_steps=jnp.array([500, 500]))
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(saved, Checkpoint(config, later, HParams.from_config(config), None, 1))
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_act_is_greedy_and_vmaps(config):
    spec = dqn_jax.make_env(config.env_name)
    net = dqn_jax.QNetwork(spec.obs_dim, spec.num_actions, (8,), key=jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (6, spec.obs_dim))
    keys = jax.random.split(jax.random.key(2), 6)
    actions = jax.jit(jax.vmap(dqn_jax.act, in_axes=(None, 0, 0)))(net, obs, keys)
    assert actions.shape == (6,) and actions.dtype == jnp.int32
    np.testing.assert_array_equal(actions, np.argmax(jax.vmap(net)(obs), axis=-1))
    explore = jax.jit(jax.vmap(dqn_jax.act, in_axes=(None, 0, 0, None)))
    random = explore(net, jnp.zeros((64, spec.obs_dim)), jax.random.split(keys[0], 64), 1.0)
    assert set(np.asarray(random).tolist()) == set(range(spec.num_actions))


# A writer that stalls once the new checkpoint's bytes are in its temporary file (before they
# are synced and renamed), so the test can kill it in the middle of the save.
STALLING_WRITER = """
import os, sys, time
from dqn_jax import HParams, load_checkpoint, save_checkpoint

path = sys.argv[1]
old = load_checkpoint(path)
def stall(fd):
    print("written", flush=True)
    time.sleep(120)
os.fsync = stall
save_checkpoint(path, old._replace(hparams=HParams.from_config(old.config, gamma=0.5)))
"""


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint_loadable(saved, config, states):
    before = saved.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", STALLING_WRITER, str(saved)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    try:
        line = writer.stdout.readline()
        assert line == "written\n", writer.stderr.read()
        temporary = [p for p in saved.parent.iterdir() if p.name.endswith(".tmp")]
        assert len(temporary) == 1 and temporary[0].stat().st_size > len(before) // 2
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert saved.read_bytes() == before
    checkpoint = load_checkpoint(saved, config)
    assert_bitwise(checkpoint.state, states)
    assert_bitwise(checkpoint.hparams, HParams.from_config(config))
    # the next save replaces the file and removes the killed writer's temporary file
    save_checkpoint(saved, checkpoint._replace(hparams=HParams.from_config(config, gamma=0.5)))
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    np.testing.assert_allclose(load_checkpoint(saved, config).hparams.gamma, 0.5)


def test_header_from_another_format_version_names_both_versions(saved, config):
    header, payload = saved.read_bytes().split(b"\n", 1)
    data = json.loads(header)
    data["version"] = 1
    saved.write_bytes(json.dumps(data).encode() + b"\n" + payload)
    with pytest.raises(
        ValueError, match="checkpoint format version 1, this dqn-jax reads"
    ) as error:
        load_checkpoint(saved, config)
    assert str(saved) in str(error.value)


@pytest.mark.parametrize("field", ["payload_bytes", "sha256", "batch_shape", "config"])
def test_header_missing_a_field_names_the_file_and_field(saved, config, field):
    header, payload = saved.read_bytes().split(b"\n", 1)
    data = json.loads(header)
    del data[field]
    saved.write_bytes(json.dumps(data).encode() + b"\n" + payload)
    with pytest.raises(ValueError, match=f"no field {field}") as error:
        load_checkpoint(saved)
    assert str(saved) in str(error.value)


def test_payload_of_other_shapes_names_the_mismatch(saved, config):
    """A header that promises 3 agents over a payload of 2 (the SHA-256 of the payload holds)."""
    header, payload = saved.read_bytes().split(b"\n", 1)
    data = json.loads(header)
    data["batch_shape"] = [3]
    saved.write_bytes(json.dumps(data).encode() + b"\n" + payload)
    with pytest.raises(ValueError, match="does not match its config") as error:
        load_checkpoint(saved, config)
    assert str(saved) in str(error.value)


def test_env_steps_inconsistent_with_the_interval_names_both(tmp_path, config, states):
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, Checkpoint(config, states, HParams.from_config(config), None, 1))
    with pytest.raises(ValueError, match=r"1 intervals done but env steps \[0\]") as error:
        load_checkpoint(path, config)
    assert str(path) in str(error.value)
