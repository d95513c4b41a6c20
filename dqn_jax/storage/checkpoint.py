"""Checkpoint files: the full ``TrainState`` of one or many agents, their hyper-parameters and the
metrics so far, written crash-safely and read back bit-exactly.

A file is one line of JSON (the format, the ``DQNConfig``, the agents' batch shape, the number of
logging intervals done, the payload's length and SHA-256) followed by the payload written by
``eqx.tree_serialise_leaves``. Typed PRNG keys do not serialise, so they are stored as
``jax.random.key_data`` and wrapped again on loading. The shapes to load into come from the
config (``dqn_jax.loop.train.abstract_state``), so a file from another config, a truncated file or
a corrupted one is a ``ValueError`` that names the file and the mismatch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import numpy as np

from dqn_jax.config import DQNConfig, HParams
from dqn_jax.loop.train import Metrics, TrainState, abstract_state
from dqn_jax.storage.atomic_file import write_atomic
from dqn_jax.storage.config_file import config_diff, config_from_dict, config_to_dict

FORMAT = "dqn-jax-checkpoint"
VERSION = 2  # 2: TrainState and Metrics carry diverged_at
HEADER_FIELDS = (
    "config",
    "interval",
    "batch_shape",
    "hparams_shape",
    "metrics_dtypes",
    "key_impls",
    "payload_bytes",
    "sha256",
)


class Checkpoint(NamedTuple):
    """What a checkpoint file holds.

    Every leaf of ``state`` has the agents' batch shape in front (``()`` for one unbatched agent,
    ``(seeds,)`` for a seed batch, ``(grid, seeds)`` for a sweep); ``hparams`` leaves have a
    prefix of it (``()`` when all agents share them).
    """

    config: DQNConfig
    state: TrainState
    hparams: HParams
    metrics: Metrics | None  # leaves of shape (*batch_shape, interval), or None
    interval: int  # logging intervals done; the next one to run

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.state.env_steps.shape)


def _is_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _keys_to_data(tree: Any) -> Any:
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _key_impls(tree: Any) -> list[str]:
    return [str(jax.random.key_impl(x)) for x in jax.tree.leaves(tree) if _is_key(x)]


@functools.lru_cache(maxsize=8)
def _one_agent_shapes(config: DQNConfig) -> tuple[Any, Any]:
    """Shapes and dtypes of one agent's state and hparams (traced, not run)."""
    hparams = HParams.from_config(config)
    return abstract_state(config), jax.eval_shape(lambda: hparams)


def _like(
    config: DQNConfig,
    batch_shape: tuple[int, ...],
    hparams_shape: tuple[int, ...],
    interval: int,
    metrics_dtypes: dict[str, str] | None,
) -> dict[str, Any]:
    """Shapes and dtypes of the payload (keys still typed) for ``config`` and these sizes.

    The metrics' dtypes come from the header (tracing ``train.step`` for them costs a second);
    every ``Metrics`` leaf is one scalar per agent and logging point.
    """
    state, hparams = _one_agent_shapes(config)
    metrics = None
    if metrics_dtypes is not None:
        metrics = Metrics(
            **{n: jax.ShapeDtypeStruct((), np.dtype(metrics_dtypes[n])) for n in Metrics._fields}
        )

    def grow(prefix: tuple[int, ...], suffix: tuple[int, ...] = ()):
        return lambda x: jax.ShapeDtypeStruct((*prefix, *x.shape, *suffix), x.dtype)

    return {
        "state": jax.tree.map(grow(batch_shape), state),
        "hparams": jax.tree.map(grow(hparams_shape), hparams),
        "metrics": jax.tree.map(grow(batch_shape, (interval,)), metrics),
    }


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Writes ``checkpoint`` to ``path``: to a temporary file in the same folder, then
    ``os.replace`` (``dqn_jax.storage.atomic_file``), so a crash leaves either the old file or
    the new one, never half of one."""
    path = Path(path)
    state, hparams, metrics = checkpoint.state, checkpoint.hparams, checkpoint.metrics
    batch_shape = checkpoint.batch_shape
    if metrics is not None and metrics.env_steps.shape != (*batch_shape, checkpoint.interval):
        raise ValueError(
            f"metrics of shape {metrics.env_steps.shape} do not match {checkpoint.interval} "
            f"intervals of agents of batch shape {batch_shape}"
        )
    payload_tree = {"state": state, "hparams": hparams, "metrics": metrics}
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, _keys_to_data(payload_tree))
    payload = buffer.getvalue()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_dict(checkpoint.config),
        "interval": int(checkpoint.interval),
        "batch_shape": list(batch_shape),
        "hparams_shape": list(np.shape(hparams.learning_rate)),
        "metrics_dtypes": None
        if metrics is None
        else {n: np.dtype(getattr(metrics, n).dtype).name for n in Metrics._fields},
        "key_impls": _key_impls(payload_tree),
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    write_atomic(path, json.dumps(header).encode() + b"\n", payload)


def check_format(
    header: Any, format_: str, version: int, where: Path, kind: str, not_one: str
) -> None:
    """Raises a ``ValueError`` naming ``where`` unless ``header`` is a dict of our file format
    ``format_`` at ``version`` (``kind`` names the format, ``not_one`` what the file is not)."""
    if not isinstance(header, dict) or header.get("format") != format_:
        raise ValueError(f"{where}: not a dqn-jax {not_one}")
    if header.get("version") != version:
        raise ValueError(
            f"{where}: {kind} format version {header.get('version')!r}, this dqn-jax reads "
            f"version {version}"
        )


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a checkpoint file (cheap: the payload is not read)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            line = f.readline(1 << 20)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the checkpoint ({error.strerror})") from None
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        header = None
    check_format(
        header, FORMAT, VERSION, path, "checkpoint", "checkpoint (corrupted or another file type)"
    )
    missing = [name for name in HEADER_FIELDS if name not in header]
    if missing:
        raise ValueError(f"{path}: corrupted checkpoint header (no field {', '.join(missing)})")
    return header


def load_checkpoint(path: str | Path, config: DQNConfig | None = None) -> Checkpoint:
    """Reads a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the file.
        config: if given, the config the checkpoint must have been made with.

    Raises:
        ValueError: naming ``path``, if the file is missing, truncated, corrupted, of another
            format, or from a config other than ``config`` (the differing fields are named).
    """
    path = Path(path)
    header = read_header(path)
    try:
        saved = config_from_dict(header["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: the checkpoint's config is invalid: {error}") from None
    if config is not None and saved != config:
        differ = {f.name for f in dataclasses.fields(DQNConfig)}
        differ = {n for n in differ if getattr(saved, n) != getattr(config, n)}
        if "total_timesteps" in differ and differ <= {"total_timesteps", "extensions"}:
            raise ValueError(
                f"{path} was saved for total_timesteps={saved.total_timesteps}, not "
                f"{config.total_timesteps}: a run's length sets its schedules. To train it "
                "longer, extend it: dqn_jax.storage.runs.extend(checkpoint, total_timesteps), or "
                "dqn-jax train --resume RUN --total-timesteps N"
            )
        raise ValueError(
            f"{path} was saved with a different config: " + "; ".join(config_diff(saved, config))
        )
    with open(path, "rb") as f:
        f.readline(1 << 20)
        payload = f.read()
    if len(payload) != header["payload_bytes"]:
        raise ValueError(
            f"{path}: truncated or corrupted checkpoint (payload of {len(payload)} bytes, "
            f"expected {header['payload_bytes']})"
        )
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise ValueError(f"{path}: corrupted checkpoint (SHA-256 of the payload does not match)")

    metrics_dtypes = header.get("metrics_dtypes")
    if metrics_dtypes is not None and sorted(metrics_dtypes) != sorted(Metrics._fields):
        raise ValueError(
            f"{path}: the checkpoint's metrics {sorted(metrics_dtypes)} are not this dqn-jax's "
            f"Metrics fields {sorted(Metrics._fields)}"
        )
    like = _like(
        saved,
        tuple(header["batch_shape"]),
        tuple(header["hparams_shape"]),
        int(header["interval"]),
        metrics_dtypes,
    )
    impls = iter(header["key_impls"])
    # Keys are stored as key data: load them in that shape and dtype, then wrap them again.
    like_data = jax.tree.map(
        lambda x: jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x, like
    )
    try:
        tree = eqx.tree_deserialise_leaves(io.BytesIO(payload), like_data)
    except Exception as error:  # numpy's and equinox's errors for a mismatched payload
        raise ValueError(
            f"{path}: the checkpoint does not match its config ({str(error).splitlines()[0]})"
        ) from None
    tree = jax.tree.map(
        lambda x, data: jax.random.wrap_key_data(data, impl=next(impls)) if _is_key(x) else data,
        like,
        tree,
    )
    state, hparams, metrics = tree["state"], tree["hparams"], tree["metrics"]
    interval = int(header["interval"])
    steps = np.asarray(state.env_steps)
    if not np.all(steps == interval * saved.log_interval):
        raise ValueError(
            f"{path}: inconsistent checkpoint: {interval} intervals done but env steps "
            f"{np.unique(steps).tolist()}"
        )
    return Checkpoint(saved, state, hparams, metrics, interval)
