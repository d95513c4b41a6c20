"""MinAtar results: the final networks of saved runs scored against the MinAtar paper's DQN and
gymnax's PPO, with their training curves.

    python scripts/minatar.py --launch Breakout-MinAtar --seeds 3 --label conv \\
        --json docs/minatar.jsonl
    python scripts/minatar.py --launch Breakout-MinAtar --seeds 3 --label "flattened MLP" \\
        --set network=mlp --set "hidden_sizes=(256, 256)" --json docs/minatar.jsonl
    python scripts/minatar.py --run runs/minatar/Asterix-MinAtar-conv --wall-s 5400 \\
        --json docs/minatar.jsonl
    python scripts/minatar.py --from-json docs/minatar.jsonl --write

``--launch GAME`` trains ``python -m dqn_jax train --env-name GAME --seeds N --out
runs/minatar/GAME-LABEL`` (``DQNConfig.for_env(GAME)`` under the ``--set FIELD=VALUE`` changes,
no final evaluation) in a child process, times it, writes the time into the run folder's
``launch.json`` and then scores the run as ``--run`` does.

``--run FOLDER`` (repeatable) scores a finished run folder: every seed's **final** network plays
``--episodes`` episodes (default 100) greedily and at epsilon 0.05, each to its end or the time
limit. The row keeps each seed's mean of each, the mean training return of the last logging
interval, the env steps, the wall time (``--wall-s``, else the folder's ``launch.json``, else the
span from writing ``config.json`` to the last checkpoint, each marked as such) and env steps/s,
the config, and the training-return curve of every seed (so ``--from-json`` needs no run
folders). ``--label`` names a run's settings (default: the folder name after ``GAME-``).

``--write`` renders the rows as the BENCHMARKS.md section "MinAtar" and draws one PNG per game,
``docs/minatar_<game>.png`` (``--plots``): the training return against env steps of every run of
that game, mean over seeds with a 95% band, with the paper's DQN at 1M and 5M frames and gymnax's
PPO as horizontal lines. A folder scored twice keeps its last row.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common
from _common import (
    ROOT,
    add_row_flags,
    append_row,
    header,
    machine,
    parse_overrides,
    read_rows,
    write_rows_section,
)

# Table order; Seaquest last (it simulates about 10x slower in gymnax).
GAMES = ("Asterix", "Breakout", "Freeway", "SpaceInvaders", "Seaquest")
# The MinAtar paper's DQN (Young & Tian, 2019), read from its published curves (about +-1):
# returns at 1M and 5M frames (a frame is one env step; no frame skip in MinAtar).
PAPER_DQN: dict[str, tuple[float, float]] = {
    "Asterix": (11, 17),
    "Breakout": (9, 10),
    "Freeway": (49, 50),
    "Seaquest": (1, 20),
    "SpaceInvaders": (28, 43),
}
# gymnax's published PPO checkpoints (none for Seaquest).
PPO: dict[str, float] = {"Asterix": 15, "Breakout": 28, "Freeway": 58, "SpaceInvaders": 131}
FLOOR_STEPS = 1_000_000  # the floor: the paper's 5M-frame DQN within this many env steps
EPSILON = 0.05
EPISODES = 100
LAUNCH_FILE = "launch.json"
RUNS = ROOT / "runs" / "minatar"
PLOTS = ROOT / "docs"


def game_of(env_name: str) -> str:
    """``"Breakout-MinAtar"`` -> ``"Breakout"``; an env that is not a MinAtar game raises."""
    game = env_name.removesuffix("-MinAtar")
    if game == env_name or game not in GAMES:
        raise ValueError(f"env_name={env_name!r} is not a MinAtar game: {GAMES} + '-MinAtar'")
    return game


# --- scoring a run folder -------------------------------------------------------------------------


def score(config: Any, network: Any, batch_shape: tuple[int, ...], key: Any, episodes: int) -> Any:
    """Returns of every agent's ``network`` over ``episodes`` episodes, greedy and at epsilon
    ``EPSILON``: two arrays of shape ``(agents, episodes)``.

    Agent ``i`` plays ``dqn_jax.evaluate(network_i, config, split(key, agents)[i], episodes,
    epsilon=...)``; both policies use the same keys, and one compiled program (epsilon traced).
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from dqn_jax.loop.evaluation import run_episodes

    spec = config.env_spec
    agents = int(np.prod(batch_shape, dtype=int))
    flat = jax.tree.map(lambda x: x.reshape(agents, *x.shape[len(batch_shape) :]), network)
    keys = jax.random.split(key, agents)
    play = jax.jit(
        jax.vmap(lambda net, k, eps: run_episodes(net, spec, k, episodes, eps), (0, 0, None))
    )
    greedy = np.asarray(play(flat, keys, jnp.float32(0.0)))
    explore = np.asarray(play(flat, keys, jnp.float32(EPSILON)))
    return greedy, explore


def curve(folder: Path) -> tuple[list[int], list[list[float]]]:
    """``(env_steps, returns)`` of a run's ``metrics.csv``: the logging points' env steps and
    every seed's training episode return at each (``returns[seed][point]``, NaN where no
    episode finished)."""
    import numpy as np

    from dqn_jax.storage.runs import read_metrics

    columns = read_metrics(folder)
    steps = np.unique(columns["env_steps"])
    seeds = np.unique(columns["seed"])
    values = np.full((len(seeds), len(steps)), np.nan)
    values[
        np.searchsorted(seeds, columns["seed"]), np.searchsorted(steps, columns["env_steps"])
    ] = columns["episode_return"]
    return [int(s) for s in steps], values.tolist()


def wall_time(folder: Path, wall_s: float | None) -> tuple[float, str, dict[str, Any]]:
    """``(seconds, source, launch)``: ``wall_s`` when given; else the time ``launch.json``
    recorded; else the span from writing ``config.json`` (before compiling) to writing
    ``checkpoint.eqx`` the last time (after the last interval), from the files' modification
    times (wrong for a run resumed later, or a folder copied without its times). ``launch``
    is the folder's ``launch.json`` (empty without one)."""
    from dqn_jax.storage.runs import CHECKPOINT_FILE, CONFIG_FILE

    launch_file = folder / LAUNCH_FILE
    launch = json.loads(launch_file.read_text()) if launch_file.exists() else {}
    if wall_s is not None:
        return float(wall_s), "given", launch
    if launch:
        return float(launch["wall_s"]), "launch", launch
    start = (folder / CONFIG_FILE).stat().st_mtime
    end = (folder / CHECKPOINT_FILE).stat().st_mtime
    return end - start, "file times", launch


def settings_of(config: dict[str, Any]) -> str:
    """The key settings of a run's config (as ``config_to_dict`` writes it), in one line."""
    if config["network"] == "mlp":
        torso = "flattened MLP"
    else:
        torso = (
            "conv "
            + "-".join(map(str, config["conv_channels"]))
            + f" ({config['conv_kernel']}x{config['conv_kernel']})"
        )
    head = "-".join(map(str, config["hidden_sizes"])) + (" LN" if config["layer_norm"] else "")
    dueling = f", dueling {config['dueling']}" if config.get("dueling") else ""
    per = f", PER {config['prioritized']}" if config.get("prioritized") else ""
    target = (
        f"hard every {config['target_update_period']:,}"
        if config["tau"] == 1.0
        else f"tau {config['tau']:g} every {config['target_update_period']:,}"
    )
    return (
        f"{torso} + {head}{dueling}; lr {config['learning_rate']:g}"
        + (" decayed" if config["lr_decay"] else "")
        + f"; batch {config['batch_size']}; replay {config['buffer_size']:,}; "
        f"{config['gradient_steps']} update(s) per {config['train_frequency']} env steps "
        f"({config['num_envs']} envs); target {target}; {config['n_step']}-step"
        + (" Double" if config["double"] else "")
        + f" {config['loss']}{per}; epsilon {config['epsilon_start']:g} -> "
        f"{config['epsilon_end']:g} over {config['epsilon_decay_steps']:,}; sticky "
        f"{config['sticky_action_prob']:g}"
    )


def _finite(values: Any) -> Any:
    """Floats rounded for the JSON file, NaN as ``None``."""
    if isinstance(values, list):
        return [_finite(v) for v in values]
    return None if math.isnan(values) else round(float(values), 4)


def measure(
    folder: str | Path,
    label: str | None = None,
    *,
    wall_s: float | None = None,
    episodes: int = EPISODES,
    eval_seed: int = 1000,
    machine_line: str | None = None,
) -> dict[str, Any]:
    """The row of one finished run folder (every seed scored, see ``score``). The machine named
    is the one that trained it: ``machine_line``, else the one ``launch.json`` names, else this
    one.

    Raises:
        ValueError: for a folder that is not a finished run of a MinAtar game, or a sweep.
    """
    import jax
    import numpy as np

    from dqn_jax.storage.config_file import config_to_dict
    from dqn_jax.storage.runs import load, read_config

    folder = Path(folder)
    info = read_config(folder)
    if info.grid:
        raise ValueError(f"{folder}: a sweep (grid {sorted(info.grid)}); give one run of seeds")
    game = game_of(info.config.env_name)
    config, result = load(folder, info.config)
    if not hasattr(result, "q_network"):
        raise ValueError(f"{folder}: its checkpoint holds no metrics (not a training run)")
    steps = np.asarray(result.state.env_steps)
    if int(steps.min()) < config.total_timesteps:
        raise ValueError(
            f"{folder}: not finished ({int(steps.min()):,} of {config.total_timesteps:,} env "
            f"steps); continue it with: dqn-jax train --resume {folder}"
        )
    wall, source, launch = wall_time(folder, wall_s)
    start = time.perf_counter()
    greedy, explore = score(
        config, result.q_network, steps.shape, jax.random.key(eval_seed), episodes
    )
    eval_s = time.perf_counter() - start
    env_steps, returns = curve(folder)
    seeds = int(steps.size)
    if label is None:
        label = folder.name.removeprefix(f"{config.env_name}-")
    values = config_to_dict(config)
    return {
        "game": game,
        "env_name": config.env_name,
        "label": label,
        "folder": str(folder),
        "seeds": seeds,
        "seed": info.seed,
        "env_steps": int(steps.reshape(-1)[0]),
        "updates": config.num_updates,
        "episodes": episodes,
        "epsilon": EPSILON,
        "eval_seed": eval_seed,
        "greedy": _finite(greedy.mean(axis=1).tolist()),
        "epsilon_greedy": _finite(explore.mean(axis=1).tolist()),
        "train_return": _finite([r[-1] for r in returns]),
        "wall_s": round(wall, 1),
        "wall_source": source,
        "train_s": launch.get("train_s"),
        "env_steps_per_s": round(seeds * config.total_timesteps / wall, 1),
        "eval_s": round(eval_s, 1),
        "settings": settings_of(values),
        "config": values,
        "curve": {"env_steps": env_steps, "episode_return": _finite(returns)},
        "machine": machine_line or launch.get("machine") or machine(),
        "command": launch.get("command"),
    }


# --- launching a run ------------------------------------------------------------------------------


def slug(label: str) -> str:
    """A folder-name form of ``label``: runs of anything but letters, digits, ``.``, ``_`` and
    ``-`` become one ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")


def flags_of(overrides: dict[str, Any]) -> list[str]:
    """``dqn-jax train`` flags of config changes: ``{"hidden_sizes": (256, 256)}`` ->
    ``["--hidden-sizes", "256,256"]``."""
    flags = []
    for name, value in overrides.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = str(value).lower()
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def launch(
    env_name: str,
    *,
    seeds: int,
    label: str,
    overrides: dict[str, Any],
    seed: int = 0,
    runs: Path = RUNS,
) -> Path:
    """Trains ``env_name`` in a child ``python -m dqn_jax train`` (settings
    ``DQNConfig.for_env(env_name)`` under ``overrides``, written to a ``--config`` file) into
    ``runs/ENV-LABEL``, and writes ``launch.json`` there: the command, the child's wall time
    (start to exit: import, compile, training and saving; no final evaluation), the time the
    command printed for compiling and training, the machine and the load average at the end.

    Returns:
        The run folder.
    """
    game_of(env_name)
    folder = (runs / f"{env_name}-{slug(label)}").resolve()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(overrides, f)
    argv = [
        sys.executable,
        "-m",
        "dqn_jax",
        "train",
        "--env-name",
        env_name,
        "--config",
        f.name,
        "--seeds",
        str(seeds),
        "--seed",
        str(seed),
        "--out",
        str(folder),
        "--episodes",
        "0",
    ]
    # The same run with the changes as flags (what the child reads from --config):
    shown = "python " + shlex.join([*argv[1:6], *flags_of(overrides), *argv[8:]])
    print(f"launching: {shown}", flush=True)
    started = time.time()
    begin = time.perf_counter()
    try:
        child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        lines = []
        for line in child.stdout:  # the progress bar goes to stderr, straight through
            print(line, end="", flush=True)
            lines.append(line)
        code = child.wait()
    finally:
        os.unlink(f.name)
    wall = time.perf_counter() - begin
    if code:
        raise RuntimeError(f"dqn_jax train exited with status {code}")
    trained = re.search(r"Trained in ([0-9.]+) s", "".join(lines))
    record = {
        "command": shown,
        "overrides": overrides,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "wall_s": round(wall, 1),
        "train_s": float(trained.group(1)) if trained else None,
        "machine": machine(),  # after the child: JAX is loaded here only now
        "loadavg": round(os.getloadavg()[0], 1),
    }
    (folder / LAUNCH_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return folder


# --- the section and the plots --------------------------------------------------------------------


def latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows in table order (game, env steps, label), a folder's last row only."""
    last = {r["folder"]: r for r in rows}
    return sorted(last.values(), key=lambda r: (GAMES.index(r["game"]), r["env_steps"], r["label"]))


def mean_std(values: list[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite values."""
    import numpy as np

    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0


def judged(row: dict[str, Any]) -> float:
    """The return a row is judged on: the lower of its greedy and epsilon-0.05 means."""
    return min(mean_std(row["greedy"])[0], mean_std(row["epsilon_greedy"])[0])


def verdict(row: dict[str, Any]) -> str:
    """Against the floor (the paper's 5M-frame DQN within 1M env steps) and the goal (gymnax's
    PPO), judged on ``judged(row)``."""
    value, game, parts = judged(row), row["game"], []
    if game in PAPER_DQN:
        floor = PAPER_DQN[game][1]
        if row["env_steps"] > FLOOR_STEPS:
            parts.append(f"floor: n/a (> {FLOOR_STEPS / 1e6:g}M steps)")
        else:
            parts.append(f"floor {'met' if value >= floor else 'missed'} ({floor:g})")
    if game in PPO:
        parts.append(f"goal {'met' if value >= PPO[game] else 'missed'} ({PPO[game]:g})")
    return "; ".join(parts)


def _pm(values: list[float | None]) -> str:
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "-"
    return f"{mean:.1f}" if len(values) == 1 else f"{mean:.1f} +- {std:.1f}"


def _wall(row: dict[str, Any]) -> str:
    seconds = row["wall_s"]
    text = f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds:.0f} s"
    return text + (" (file times)" if row["wall_source"] == "file times" else "")


def plot_path(game: str, plots: Path = PLOTS) -> Path:
    """``plots/minatar_<game>.png``, the game in lower case."""
    return plots / f"minatar_{game.lower()}.png"


def _steps_label(x: float, _: Any = None) -> str:
    return f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k" if x else "0"


def plot_game(rows: list[dict[str, Any]], game: str, out: Path) -> Path:
    """Draws the training return of every row of ``game`` against env steps (mean over seeds,
    95% t-band), with the paper's DQN at 1M and 5M frames and gymnax's PPO as horizontal lines,
    into the PNG ``out``."""
    import numpy as np

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "dqn-jax[plot]"') from None
    from dqn_jax.viz.plotting import curve_stats

    figure = Figure(figsize=(9, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    for i, r in enumerate(r for r in rows if r["game"] == game):
        steps = np.array(r["curve"]["env_steps"])
        values = np.array(
            [[np.nan if v is None else v for v in seed] for seed in r["curve"]["episode_return"]]
        )
        mean, half = curve_stats(values)
        color = f"C{i % 10}"
        ax.plot(steps, mean, color=color, label=f"{r['label']} ({r['seeds']} seeds)")
        ax.fill_between(steps, mean - half, mean + half, color=color, alpha=0.2, linewidth=0)
    if game in PAPER_DQN:
        at_1m, at_5m = PAPER_DQN[game]
        ax.axhline(at_1m, color="0.5", linestyle=":", label=f"paper DQN, 1M frames ({at_1m:g})")
        ax.axhline(at_5m, color="0.3", linestyle="--", label=f"paper DQN, 5M frames ({at_5m:g})")
    if game in PPO:
        ax.axhline(PPO[game], color="k", linestyle="-.", label=f"gymnax PPO ({PPO[game]:g})")
    ax.set_title(f"{game}-MinAtar: training episode return")
    ax.set_xlabel("env steps")
    ax.xaxis.set_major_formatter(_steps_label)
    ax.set_ylabel("return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    return out


def section(rows: list[dict[str, Any]], command_line: str = "", plots: Path = PLOTS) -> str:
    """The BENCHMARKS.md section of ``rows``, linking the plots in ``plots``."""
    rows = latest(rows)
    machines = list(dict.fromkeys(r["machine"] for r in rows))
    # With rows from more than one machine, each row names its machine by a letter.
    letters = {m: chr(ord("a") + i) for i, m in enumerate(machines)} if len(machines) > 1 else {}
    machine_line = "; ".join(f"({letters[m]}) {m}" for m in machines) if letters else machines[0]
    episodes = ", ".join(str(e) for e in dict.fromkeys(r["episodes"] for r in rows))
    lines = [
        *header("MinAtar", command_line, machine_line),
        "Each row is one run of `dqn-jax train --env-name GAME --seeds N`, the seeds as one "
        "vmapped program, with `DQNConfig.for_env(GAME)` under the changes its settings name "
        "(listed under the table). Every seed's **final** network (no best-so-far pick) plays "
        f"{episodes} episodes greedily and at epsilon {EPSILON:g}, each to its end or gymnax's "
        "time limit; a return is the mean over seeds of each seed's mean, +- the standard "
        "deviation over seeds (ddof 1). *Training* is the mean return of the episodes that "
        "ended in the last logging interval under the behaviour policy (epsilon at its end "
        "value), the measure closest to the paper's. Wall time: the `dqn-jax train` process "
        "from start to exit (import, compile, training, saving), or a time given with the run; "
        "(file times): from writing `config.json` to the last checkpoint. Env steps/s: all "
        "seeds' env steps over that wall time, compile included."
        + (" The last column names the machine of each row (above)." if letters else ""),
        "",
        "References: the MinAtar paper's DQN (Young & Tian, 2019; read from its published "
        "curves, about +-1; 100-episode moving averages of training returns over 30 seeds, "
        "sticky actions 0.1, the original MinAtar with all 6 actions) at 1M and 5M frames (a "
        "frame is one env step), and gymnax's published PPO checkpoints. Verdict, judged on "
        f"the lower of the greedy and epsilon-{EPSILON:g} means: the floor is the paper's "
        f"5M-frame DQN within {FLOOR_STEPS:,} env steps; the goal is PPO's return.",
        "",
        "| game | settings | seeds | env steps | greedy | epsilon 0.05 | training "
        "| wall | env steps/s (all seeds) | paper DQN 1M | paper DQN 5M | gymnax PPO | verdict |"
        + (" machine |" if letters else ""),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        + ("---|" if letters else ""),
    ]
    for r in rows:
        game = r["game"]
        at_1m, at_5m = PAPER_DQN.get(game, ("-", "-"))
        lines.append(
            f"| {game} | {r['label']} | {r['seeds']} | {r['env_steps']:,} | {_pm(r['greedy'])} "
            f"| {_pm(r['epsilon_greedy'])} | {_pm(r['train_return'])} | {_wall(r)} "
            f"| {r['env_steps_per_s']:,.0f} | {at_1m} | {at_5m} | {PPO.get(game, '-')} "
            f"| {verdict(r)} |" + (f" {letters[r['machine']]} |" if letters else "")
        )
    lines += ["", "Settings:"]
    for (label, settings), games in _settings_groups(rows).items():
        lines.append(f"- **{label}** ({', '.join(games)}): {settings}.")
    lines += ["", "Training curves (mean over seeds, 95% band):", ""]
    relative = os.path.relpath(plots, _common.BENCHMARKS.parent)
    for game in dict.fromkeys(r["game"] for r in rows):
        lines.append(f"![{game}-MinAtar]({Path(relative, plot_path(game, Path()).name)})")
    return "\n".join(lines)


def _settings_groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        games = groups.setdefault((r["label"], r["settings"]), [])
        if r["game"] not in games:
            games.append(r["game"])
    return groups


def report(row: dict[str, Any]) -> None:
    """Prints one measured row."""
    print(
        f"{row['game']} | {row['label']} | {row['seeds']} seeds x {row['env_steps']:,} env steps: "
        f"greedy {_pm(row['greedy'])}, epsilon {EPSILON:g} {_pm(row['epsilon_greedy'])}, "
        f"training {_pm(row['train_return'])}; wall {_wall(row)}, "
        f"{row['env_steps_per_s']:,.0f} env steps/s; {verdict(row)}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", action="append", default=[], help="a finished run folder")
    parser.add_argument(
        "--wall-s", type=float, action="append", help="wall time of each --run, in order"
    )
    parser.add_argument("--label", action="append", help="settings label of each --run/--launch")
    parser.add_argument("--launch", metavar="GAME", help="train GAME (e.g. Breakout-MinAtar)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of --launch (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="integer seed of --launch")
    parser.add_argument(
        "--set", action="append", default=[], help="FIELD=VALUE change of --launch's settings"
    )
    parser.add_argument("--runs", type=Path, default=RUNS, help="folder of --launch's runs")
    parser.add_argument("--episodes", type=int, default=EPISODES, help="episodes per seed")
    parser.add_argument("--eval-seed", type=int, default=1000, help="key of the evaluation")
    parser.add_argument("--plots", type=Path, default=PLOTS, help="folder of the PNGs")
    parser.add_argument(
        "--machine", help="the machine that trained the --run folders (default: this one)"
    )
    add_row_flags(parser)
    args = parser.parse_args(argv)
    runs = list(args.run)
    labels = args.label or [None] * (len(runs) + bool(args.launch))
    walls = args.wall_s or [None] * len(runs)
    if len(labels) != len(runs) + bool(args.launch) or len(walls) != len(runs):
        parser.error("give --label (and --wall-s) once for every --run (and --launch), or never")
    if args.launch:
        folder = launch(
            args.launch,
            seeds=args.seeds,
            label=labels[-1] or "tuned",
            overrides=parse_overrides(args.set),
            seed=args.seed,
            runs=args.runs,
        )
        runs.append(folder)
        walls.append(None)
    rows = read_rows(args.from_json)
    for folder, label, wall in zip(runs, labels, walls, strict=True):
        row = measure(folder, label, wall_s=wall, episodes=args.episodes, eval_seed=args.eval_seed)
        rows.append(row)
        append_row(args.json, row)
    for row in latest(rows):
        report(row)
    write_rows_section(
        "minatar", lambda rows, command: section(rows, command, args.plots), rows, args
    )
    if args.write:
        for game in dict.fromkeys(r["game"] for r in latest(rows)):
            print(f"wrote {plot_game(latest(rows), game, plot_path(game, args.plots))}")


if __name__ == "__main__":
    main()
