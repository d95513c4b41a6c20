"""``dqn-jax train``: a new run, a resumed one, or one extended to more env steps."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from dqn_jax.cli.common import (
    UsageError,
    _config,
    _config_values,
    _new_run_folder,
    _program_store,
    _run,
    _tracker,
)


def _cmd_train(args: argparse.Namespace) -> None:
    from dqn_jax.storage.checkpoint import save_checkpoint
    from dqn_jax.storage.config_file import config_diff, config_to_dict
    from dqn_jax.storage.runs import (
        CHECKPOINT_FILE,
        RunInfo,
        agent_hparams,
        agent_keys,
        extend,
        load_checkpoint,
        read_config,
        write_config,
    )

    values = _config_values(args)
    if args.resume is None:
        # The programs this command line used last time start loading while it is checked.
        store = _program_store()
        hint = json.dumps({"values": values, "seeds": args.seeds}, sort_keys=True, default=str)
        if store is not None:
            store.prefetch(hint)
    else:
        folder = Path(args.resume)
        info = read_config(folder)
        wanted = info.config
        if values:
            wanted = _config({**config_to_dict(info.config), **values}, tuned=False)
            length = {"total_timesteps": info.config.total_timesteps}  # may change: extension
            if config_to_dict(wanted) | length != config_to_dict(info.config):
                raise UsageError(
                    f"{folder} was trained with a different config: "
                    + "; ".join(config_diff(info.config, wanted))
                )
        checkpoint = load_checkpoint(folder / CHECKPOINT_FILE)
        if checkpoint.config != info.config:
            if _extension_of(checkpoint.config, info.config):
                # An extension saved its checkpoint but not yet config.json: finish it.
                if wanted.total_timesteps == info.config.total_timesteps:
                    wanted = checkpoint.config
                info = dataclasses.replace(info, config=checkpoint.config)
                write_config(folder, info)
            else:
                load_checkpoint(folder / CHECKPOINT_FILE, info.config)  # names the difference
        before = info.config.total_timesteps
        if wanted.total_timesteps != before:
            checkpoint = extend(checkpoint, wanted.total_timesteps)
            info = dataclasses.replace(info, config=checkpoint.config)
        config = info.config
        tracker = _tracker(args, folder, info, checkpoint.interval * config.log_interval)
        if config.total_timesteps != before:
            # The checkpoint first: config.json then never names a plan the checkpoint lacks.
            save_checkpoint(folder / CHECKPOINT_FILE, checkpoint)
            write_config(folder, info)
            print(
                f"Extended {folder} from {before:,} to {config.total_timesteps:,} env steps: the "
                "learning-rate decay and PER's beta now end there; epsilon keeps its schedule"
            )
        if checkpoint.interval >= config.num_logs:
            print(f"{folder} is trained to its end ({config.total_timesteps:,} env steps)")
        else:
            print(
                f"Resuming {folder} at env step {checkpoint.interval * config.log_interval:,} of "
                f"{config.total_timesteps:,} ...",
                flush=True,
            )
        _run(config, checkpoint, info, folder, args, tracker)
        return

    config = _config(values)
    folder = _new_run_folder(args.out, args.overwrite)
    agents = None if args.seeds == 1 else args.seeds
    info = RunInfo(config, args.seed, args.seeds, None)
    tracker = _tracker(args, folder, info, 0)
    if folder is not None:
        write_config(folder, info)
    batch = f" with {args.seeds} seeds as one program" if args.seeds > 1 else ""
    print(
        f"Training DQN on {config.env_name} for {config.total_timesteps:,} env steps{batch} "
        f"({_settings_of(config.env_name)}) ...",
        flush=True,
    )
    hparams = agent_hparams(config, agents)
    start = (agent_keys(args.seed, agents), hparams)
    _run(config, start, info, folder, args, tracker, store, hint)


def _settings_of(env_name: str) -> str:
    """Where a new run's settings come from, for its first line."""
    from dqn_jax.tuned import has_tuned_settings

    if has_tuned_settings(env_name):
        return f"settings tuned for {env_name}, DQNConfig.for_env, under any flags given"
    return "DQNConfig defaults, tuned for CartPole-v1: none are tuned for this env"


def _extension_of(extended: Any, config: Any) -> bool:
    """Whether ``extended`` is ``config`` extended once (``DQNConfig.extend``)."""
    if not extended.extensions or extended.extensions[-1][1] != config.total_timesteps:
        return False
    at = extended.extensions[-1][0]
    try:
        return config.extend(at, extended.total_timesteps) == extended
    except ValueError:
        return False
