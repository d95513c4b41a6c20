"""``dqn-jax sweep`` (one program, a shard of one, or shards as Ray tasks) and
``dqn-jax merge``."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dqn_jax.cli.common import (
    UsageError,
    _agent_labels,
    _config,
    _config_values,
    _evaluate_agents,
    _new_run_folder,
    _print_evaluation,
    _print_table,
    _tracker,
)


def _parse_grid(items: Sequence[str], config: Any) -> dict[str, list[float]]:
    from dqn_jax.config import HPARAM_RANGES, HParams

    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise UsageError(f"--grid {item!r}: expected NAME=V1,V2,...")
        if name not in HPARAM_RANGES:
            raise UsageError(
                f"--grid {name!r} is not a traced hyper-parameter; allowed: "
                + ", ".join(HPARAM_RANGES)
            )
        if name in grid:
            raise UsageError(f"--grid {name!r} given twice")
        try:
            values = [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--grid {item!r}: values must be numbers") from None
        for value in values:
            HParams.from_config(config, **{name: value})  # ValueError naming field and range
        grid[name] = [int(v) if name == "target_update_period" else v for v in values]
    return grid


def _cmd_sweep(args: argparse.Namespace) -> None:
    import jax

    from dqn_jax.loop.progress import DEFAULT_INTERVAL
    from dqn_jax.scale.sweep import sweep
    from dqn_jax.storage.runs import RunInfo

    config = _config(_config_values(args))
    grid = _parse_grid(args.grid, config)
    folder = _new_run_folder(args.out, args.overwrite)
    points = math.prod(len(values) for values in grid.values())
    agents = points * args.seeds
    info = RunInfo(config, args.seed, args.seeds, grid)
    if args.shard is not None or args.ray is not None:
        flag = "--shard" if args.shard is not None else "--ray"
        if folder is None:
            raise UsageError(f"{flag} needs --out: the run folder the parts are saved into")
        if args.tensorboard or args.wandb is not None:
            tracking = "--tensorboard" if args.tensorboard else "--wandb"
            raise UsageError(
                f"{tracking} follows one process's sweep: it cannot be combined with {flag}"
            )
    if args.shard is not None:
        _sweep_shard(args, config, info, folder, agents)
        return
    if args.ray is not None:
        swept, seconds = _sweep_on_ray(args, config, info, folder, agents)
    else:
        print(
            f"Sweeping {points} grid points x {args.seeds} seeds ({agents} agents as one "
            f"program) on {config.env_name} for {config.total_timesteps:,} env steps ...",
            flush=True,
        )
        tracker = _tracker(args, folder, info, 0)
        begin = time.perf_counter()
        try:
            swept = sweep(
                config,
                args.seeds,
                grid,
                key=jax.random.key(args.seed),
                chunk_size=args.chunk_size,
                memory_budget=args.memory_budget,
                progress=False if args.quiet else args.progress_interval or DEFAULT_INTERVAL,
                keep_state=folder is not None,  # the checkpoint needs it; evaluation the networks
                check=False,  # saved first, then checked below
                tracker=tracker,
            )
        finally:
            if tracker is not None:
                tracker.close()
        seconds = time.perf_counter() - begin
    _finish_sweep(args, swept, info, folder, seconds, saved=args.ray is not None)


def _flat_hparams(swept: Any) -> Any:
    """Each agent's hyper-parameters of a sweep, on one flat agents axis (``g * seeds + s``)."""
    import jax

    return jax.tree.map(lambda x: np.repeat(np.asarray(x), swept.num_seeds, axis=0), swept.hparams)


def _finish_sweep(
    args: argparse.Namespace,
    swept: Any,
    info: Any,
    folder: Path | None,
    seconds: float,
    saved: bool,
) -> None:
    """Prints, saves (unless ``saved``), checks for divergence and evaluates a whole sweep."""
    import jax

    from dqn_jax.scale.divergence import check
    from dqn_jax.scale.parts import save_sweep
    from dqn_jax.storage.runs import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE

    agents = swept.num_combos * swept.num_seeds
    # Saved runs keep one flat agents axis (agent g * seeds + s), like a seed batch.
    result = jax.tree.map(lambda x: x.reshape(agents, *x.shape[2:]), swept.result)
    hparams = _flat_hparams(swept)
    _print_table(result.metrics)
    print(f"Trained in {seconds:.1f} s (compile included).")
    if folder is not None:
        if not saved:
            save_sweep(folder, swept, info)
        print(f"Saved {folder}: {CONFIG_FILE}, {METRICS_FILE}, {CHECKPOINT_FILE}")
    # Names each diverged agent by its grid values and seed, as `dqn-jax eval` of the run does.
    labels = _agent_labels(info, hparams, (agents,))
    check(result, labels=labels)
    if args.episodes > 0:
        key = jax.random.key(args.seed + 1)
        returns = _evaluate_agents(info.config, result.q_network, key, args.episodes)
        _print_evaluation(returns, labels, args.episodes)


def _shard_count(agents: int, shard: tuple[int, int], flag: str) -> tuple[int, int, int]:
    """``shards.shard_range`` with a usage error naming ``flag``."""
    from dqn_jax.scale.shards import shard_range

    try:
        return shard_range(agents, shard, name=flag)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _sweep_shard(
    args: argparse.Namespace, config: Any, info: Any, folder: Path, agents: int
) -> None:
    """``sweep --shard I/N --out RUN``: runs one shard and saves it into ``RUN/shards/I-of-N``."""
    import jax

    from dqn_jax.loop.progress import DEFAULT_INTERVAL
    from dqn_jax.scale.parts import PART_FILE, check_compatible, part_folder, write_part
    from dqn_jax.scale.shards import check_part
    from dqn_jax.scale.sweep import sweep
    from dqn_jax.storage.runs import CHECKPOINT_FILE

    index, count = args.shard
    start, stop, _ = _shard_count(agents, args.shard, "--shard")
    path = part_folder(folder, args.shard)
    if not args.overwrite:
        try:
            finished = check_compatible(folder, info, count)
        except ValueError as error:
            raise UsageError(f"--out {folder}: {error}; pass --overwrite to replace it") from None
        if path in finished:
            print(f"Shard {index}/{count} is already saved in {path}; nothing to do.")
            return
    print(
        f"Sweeping shard {index}/{count}: agents {start} to {stop - 1} of {agents} "
        f"on {config.env_name} for {config.total_timesteps:,} env steps ...",
        flush=True,
    )
    begin = time.perf_counter()
    part = sweep(
        config,
        args.seeds,
        info.grid,
        key=jax.random.key(args.seed),
        chunk_size=args.chunk_size,
        memory_budget=args.memory_budget,
        progress=False if args.quiet else args.progress_interval or DEFAULT_INTERVAL,
        keep_state=True,
        check=False,  # saved first, then checked below
        shard=args.shard,
    )
    seconds = time.perf_counter() - begin
    _print_table(part.result.metrics)
    print(f"Trained in {seconds:.1f} s (compile included).")
    write_part(folder, part, info)
    print(f"Saved {path}: {CHECKPOINT_FILE}, {PART_FILE}")
    print(f"When all {count} shards are saved: dqn-jax merge {folder}")
    check_part(part)


def _sweep_on_ray(
    args: argparse.Namespace, config: Any, info: Any, folder: Path, agents: int
) -> tuple[Any, float]:
    """``sweep --ray ADDRESS --out RUN``: the shards as Ray tasks, each saved as it finishes;
    returns the merged sweep (saved into ``RUN``) and the seconds it took."""
    import jax

    from dqn_jax.scale.parts import (
        PART_FILE,
        check_compatible,
        part_folders,
        read_header,
        read_part,
        save_sweep,
        write_part,
    )

    try:
        from dqn_jax.scale.ray_sweep import import_ray, sweep_on_ray

        ray = import_ray()
    except ImportError as error:
        raise UsageError(f"--ray: {error}") from None
    counts = set()
    if not args.overwrite:
        for path in part_folders(folder):
            if (path / PART_FILE).exists():
                counts.add(read_header(path)["shard"][1])
    if args.chunk_size is not None:
        count = -(-agents // args.chunk_size)
    elif len(counts) == 1:
        count = counts.pop()  # a rerun continues the cut it started with
    else:
        count = None
    if not ray.is_initialized():
        ray.init(address=None if args.ray == "local" else args.ray, log_to_driver=False)
    if count is None:
        resources = ray.cluster_resources()
        slots = resources.get("CPU", 1) / max(args.ray_cpus, 1e-9)
        if args.ray_gpus > 0:
            slots = min(slots, resources.get("GPU", 0) / args.ray_gpus)
        count = max(1, min(agents, int(slots)))
    size = -(-agents // count)
    count = -(-agents // size)  # a count that leaves no shard empty
    done = []
    if not args.overwrite:
        try:
            done = [read_part(p)[0] for p in check_compatible(folder, info, count)]
        except ValueError as error:
            raise UsageError(f"--out {folder}: {error}; pass --overwrite to replace it") from None
    print(
        f"Sweeping {agents} agents as {count} Ray tasks of up to {size} agents "
        f"({len(done)} already saved) on {config.env_name} for "
        f"{config.total_timesteps:,} env steps ...",
        flush=True,
    )

    def save(part: Any) -> None:
        write_part(folder, part, info)
        print(f"  shard {part.shard[0]}/{part.shard[1]} saved", flush=True)

    begin = time.perf_counter()
    try:
        swept = sweep_on_ray(
            config,
            args.seeds,
            info.grid,
            key=jax.random.key(args.seed),
            num_shards=count,
            done=done,
            on_part=save,
            num_cpus=args.ray_cpus,
            num_gpus=args.ray_gpus,
            max_retries=args.ray_retries,
            memory_budget=args.memory_budget,
            check=False,  # saved first, then checked
        )
    except RuntimeError as error:  # failed tasks; the finished shards are saved
        raise ValueError(f"{error}. Run the same command again to rerun them.") from None
    seconds = time.perf_counter() - begin
    save_sweep(folder, swept, info)
    return swept, seconds


def _cmd_merge(args: argparse.Namespace) -> None:
    from dqn_jax.scale.divergence import check
    from dqn_jax.scale.parts import merge_run
    from dqn_jax.storage.runs import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE

    folder = Path(args.run)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such run folder")
    if (folder / CONFIG_FILE).exists() and not args.overwrite:
        raise UsageError(f"{folder} already holds a merged run: pass --overwrite to merge again")
    swept, info = merge_run(folder)
    agents = swept.num_combos * swept.num_seeds
    print(f"Merged {agents} agents into {folder}: {CONFIG_FILE}, {METRICS_FILE}, {CHECKPOINT_FILE}")
    check(swept.result, labels=_agent_labels(info, _flat_hparams(swept), (agents,)))
