"""Sweep parts on disk: a run folder that shards fill one by one, and the merge into one run.

``runs/NAME/shards/I-of-N/`` holds shard ``I`` of ``N`` (``dqn_jax.scale.shards``):

- ``checkpoint.eqx``: its agents' final training states, hyper-parameters and metrics (a
  ``dqn_jax.storage.checkpoint`` file of batch shape ``(agents in the shard,)``);
- ``shard.json``: what identifies the sweep (config, seed, seeds, grid, key, versions), the
  shard, its agents and the program that ran them. It is written last: a part folder without it
  is unfinished (a run killed mid-save), and is run again.

Both files are written crash-safely (``dqn_jax.storage.atomic_file``). :func:`merge_run` checks
that the parts come from one sweep and that none is missing or given twice, then writes
``config.json``, ``metrics.csv`` and ``checkpoint.eqx`` into ``runs/NAME`` exactly as
``dqn-jax sweep --out`` does, so ``dqn-jax eval``, ``plot`` and ``render`` work on the merged run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dqn_jax.config import HParams
from dqn_jax.loop.train import TrainResult
from dqn_jax.scale.result import SweepResult
from dqn_jax.scale.shards import Shard, SweepPart, merge_sweeps, versions
from dqn_jax.storage.atomic_file import write_atomic
from dqn_jax.storage.checkpoint import (
    Checkpoint,
    check_format,
    load_checkpoint,
    save_checkpoint,
)
from dqn_jax.storage.config_file import config_diff, config_from_dict, config_to_dict
from dqn_jax.storage.runs import (
    CHECKPOINT_FILE,
    RunInfo,
    grid_of,
    q_network,
    write_config,
    write_metrics,
)

SHARDS_DIR = "shards"
PART_FILE = "shard.json"
FORMAT = "dqn-jax-shard"
VERSION = 1


def part_folder(folder: str | Path, shard: Shard) -> Path:
    """``folder/shards/I-of-N``: where shard ``(I, N)`` of the run in ``folder`` is saved."""
    return Path(folder) / SHARDS_DIR / f"{shard[0]}-of-{shard[1]}"


def _header(part: SweepPart, info: RunInfo) -> dict[str, Any]:
    chunk, devices, kind = part.program
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_dict(part.config),
        "seed": info.seed,
        "seeds": part.num_seeds,
        "grid": info.grid,
        "combos": [[[name, value] for name, value in combo] for combo in part.grid],
        "shard": list(part.shard),
        "agents": list(part.agents),
        "key": [part.key[0], list(part.key[1])],
        "versions": dict(part.versions),
        "program": {"agents_per_call": chunk, "devices": devices, "device_kind": kind},
    }


def _agent_hparams(part: SweepPart) -> HParams:
    """Each agent's hyper-parameters, leaves of shape ``(agents in the part,)``."""
    combo = np.arange(*part.agents) // part.num_seeds
    return jax.tree.map(lambda x: np.asarray(x)[combo], part.hparams)


def write_part(folder: str | Path, part: SweepPart, info: RunInfo) -> Path:
    """Saves ``part`` (of a sweep with ``keep_state=True``) into ``folder/shards/I-of-N``.

    Args:
        folder: the run folder the shards fill.
        part: what ``sweep(..., shard=(I, N), keep_state=True)`` returned.
        info: the run's seed and grid as ``config.json`` records them.

    Returns:
        The part folder.
    """
    if part.result.state is None:
        raise ValueError("a part is saved with its training states: sweep(..., keep_state=True)")
    path = part_folder(folder, part.shard)
    path.mkdir(parents=True, exist_ok=True)
    (path / PART_FILE).unlink(missing_ok=True)  # unfinished until the new header is in
    result = part.result
    checkpoint = Checkpoint(
        part.config, result.state, _agent_hparams(part), result.metrics, part.config.num_logs
    )
    save_checkpoint(path / CHECKPOINT_FILE, checkpoint)
    write_atomic(path / PART_FILE, (json.dumps(_header(part, info), indent=2) + "\n").encode())
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """The ``shard.json`` of a part folder.

    Raises:
        ValueError: naming the folder when it is unfinished or the file is not a part header.
    """
    path = Path(path)
    try:
        header = json.loads((path / PART_FILE).read_text())
    except FileNotFoundError:
        raise ValueError(
            f"{path}: unfinished part (no {PART_FILE}); run that shard again"
        ) from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{path / PART_FILE}: unreadable ({error})") from None
    check_format(header, FORMAT, VERSION, path / PART_FILE, "shard", "shard header")
    return header


def read_part(path: str | Path) -> tuple[SweepPart, RunInfo]:
    """The part saved in the part folder ``path``, and its run's ``RunInfo``.

    Raises:
        ValueError: naming the folder for an unfinished, truncated or corrupted part.
    """
    path = Path(path)
    header = read_header(path)
    try:
        config = config_from_dict(header["config"], source=str(path / PART_FILE))
        combos = [dict((name, value) for name, value in combo) for combo in header["combos"]]
        checkpoint = load_checkpoint(path / CHECKPOINT_FILE, config)
        hparams = [HParams.from_config(config, **combo) for combo in combos]
        part = SweepPart(
            result=TrainResult(
                q_network(config, checkpoint.state), checkpoint.metrics, checkpoint.state
            ),
            # as sweep builds them: stacked on the host, then arrays
            hparams=jax.tree.map(lambda *xs: jnp.asarray(np.stack(xs)), *hparams),
            grid=tuple(tuple(combo.items()) for combo in combos),
            num_seeds=int(header["seeds"]),
            shard=(int(header["shard"][0]), int(header["shard"][1])),
            agents=(int(header["agents"][0]), int(header["agents"][1])),
            config=config,
            key=(str(header["key"][0]), tuple(int(x) for x in header["key"][1])),
            versions=tuple((str(k), str(v)) for k, v in header["versions"].items()),
            program=(
                int(header["program"]["agents_per_call"]),
                int(header["program"]["devices"]),
                str(header["program"]["device_kind"]),
            ),
        )
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path / PART_FILE}: malformed shard header ({error!r})") from None
    info = RunInfo(config, header["seed"], part.num_seeds, header["grid"])
    return part, info


def part_folders(folder: str | Path) -> list[Path]:
    """Every part folder under ``folder/shards`` (finished or not), sorted by name."""
    shards = Path(folder) / SHARDS_DIR
    if not shards.is_dir():
        return []
    return sorted(p for p in shards.iterdir() if p.is_dir())


def check_compatible(folder: str | Path, info: RunInfo, count: int) -> list[Path]:
    """Checks that every finished part in ``folder`` is a shard of ``count`` of the sweep
    ``info`` describes, with this dqn-jax's versions (nothing is read but the headers).

    Returns:
        The finished part folders.

    Raises:
        ValueError: naming the first part folder that belongs to another sweep and what differs.
    """
    want = {
        "seed": info.seed,
        "seeds": info.seeds,
        "grid": info.grid,
        "shard count": count,
        "versions": dict(versions()),
    }
    finished = []
    for path in part_folders(folder):
        if not (path / PART_FILE).exists():
            continue
        header = read_header(path)
        have = {**header, "shard count": header["shard"][1]}
        diffs = [
            f"{name} ({have.get(name)!r} != {value!r})"
            for name, value in want.items()
            if have.get(name) != value
        ]
        config = config_from_dict(header["config"], source=str(path / PART_FILE))
        if config != info.config:
            diffs.insert(0, "config (" + "; ".join(config_diff(config, info.config)) + ")")
        if diffs:
            raise ValueError(
                f"{path} holds a part of another sweep: differs in " + "; ".join(diffs)
            )
        finished.append(path)
    return finished


def save_sweep(folder: str | Path, swept: SweepResult, info: RunInfo) -> None:
    """Writes the run folder of a whole sweep (with its states): ``config.json``,
    ``checkpoint.eqx`` and ``metrics.csv``, with one flat agents axis (agent ``g * seeds + s``)."""
    if swept.result.state is None:
        raise ValueError("a sweep is saved with its training states: sweep(..., keep_state=True)")
    folder = Path(folder)
    agents = swept.num_combos * swept.num_seeds
    result = jax.tree.map(lambda x: x.reshape(agents, *x.shape[2:]), swept.result)
    hparams = jax.tree.map(
        lambda x: np.repeat(np.asarray(x), swept.num_seeds, axis=0), swept.hparams
    )
    config = info.config
    write_config(folder, info)
    checkpoint = Checkpoint(config, result.state, hparams, result.metrics, config.num_logs)
    save_checkpoint(folder / CHECKPOINT_FILE, checkpoint)
    write_metrics(folder, result.metrics, hparams, grid_of(info), swept.num_seeds)


def merge_run(folder: str | Path) -> tuple[SweepResult, RunInfo]:
    """Merges the parts in ``folder/shards`` into the run folder ``folder`` (``config.json``,
    ``metrics.csv``, ``checkpoint.eqx``), as if one machine had run the whole sweep.

    Returns:
        The merged sweep (not checked for divergence) and its ``RunInfo``.

    Raises:
        ValueError: nothing is written when there are no parts, a part is unfinished or
            unreadable, comes from another sweep (naming it and what differs), or a shard is
            missing or given twice.
    """
    folder = Path(folder)
    paths = part_folders(folder)
    if not paths:
        raise ValueError(f"{folder}: no shards to merge (no {SHARDS_DIR}/ folder with parts)")
    read = [read_part(path) for path in paths]
    parts = [part for part, _ in read]
    infos = {(info.seed, json.dumps(info.grid, sort_keys=True)) for _, info in read}
    if len(infos) > 1:
        raise ValueError(f"{folder}: the parts record different seeds or grids: {sorted(infos)}")
    swept = merge_sweeps(parts, names=[str(p) for p in paths], check=False)
    info = read[0][1]
    save_sweep(folder, swept, info)
    return swept, info
