"""Time from ``dqn-jax train`` to its first env step and to its end, with JAX's persistent
compilation cache cold and warm.

    python scripts/warm_start.py --repeats 3 --write

Each run is ``python -m dqn_jax train ARGS`` (default: the default config, with its progress bar
and final evaluation) in a fresh process, its clock started just before the process is spawned.
The bar opens when the step is compiled and the first logging interval is dispatched, so the
moment its first line reaches standard error is the first env step. Cold: an empty cache folder
(``JAX_COMPILATION_CACHE_DIR``); warm: the folder the cold run filled. Also timed: a fresh
interpreter importing what the command imports before it builds anything (``dqn_jax``, its
command line and gymnax), the floor under any start; and one more warm run with
``JAX_LOG_COMPILES`` that says where the time before the first env step goes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import header, run_worker, write_section

BAR = re.compile(r"train[^:\n\r]*:\s+\d+%")
STAGES = {  # JAX_LOG_COMPILES lines: (stage, program, seconds)
    "trace": re.compile(r"Finished tracing (\S+) for jit in ([\d.]+) sec"),
    "lower": re.compile(r"Finished jaxpr to MLIR module conversion jit\((\S+)\) in ([\d.]+) sec"),
    "compile or load": re.compile(r"Finished XLA compilation of jit\((\S+)\) in ([\d.]+) sec"),
}
GOAL_S = 1.5  # before the first env step, cache warm (issue 17)
ROOT = Path(__file__).resolve().parent.parent


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that imports this tree's dqn_jax."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def worker(spawned: float) -> dict[str, float]:
    """In a fresh process: seconds from the parent's spawn to here, and to the imports done."""
    started = time.time() - spawned
    import dqn_jax.cli  # noqa: F401

    ours = time.time() - spawned
    from dqn_jax.blocks.envs import import_gymnax

    import_gymnax()  # as the command does when it builds the env

    return {"interpreter_s": started, "dqn_jax_s": ours, "imports_s": time.time() - spawned}


def run_cli(args: list[str], cache: Path, log_compiles: bool = False) -> dict[str, Any]:
    """``python -m dqn_jax ARGS`` with ``cache`` as its compilation cache: seconds from spawn
    to the bar's first line and to the exit, the run's own "Trained in" figure, its stderr up
    to the bar, and the load average after."""
    env = child_env(JAX_COMPILATION_CACHE_DIR=str(cache))
    if log_compiles:
        env["JAX_LOG_COMPILES"] = "1"
    chunks: list[tuple[float, bytes]] = []
    spawned = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "dqn_jax", "train", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )

    def read() -> None:
        while data := os.read(process.stderr.fileno(), 1 << 16):
            chunks.append((time.perf_counter(), data))

    reader = threading.Thread(target=read)
    reader.start()
    stdout = process.stdout.read().decode()
    process.wait()
    ended = time.perf_counter()
    reader.join()
    stderr = b"".join(data for _, data in chunks).decode(errors="replace")
    if process.returncode:
        raise RuntimeError(f"dqn-jax train exited {process.returncode}:\n{stderr[-3000:]}")
    text, first_step = "", None
    for at, data in chunks:
        text += data.decode(errors="replace")
        if BAR.search(text):
            first_step = at - spawned
            break
    if first_step is None:
        raise RuntimeError(f"no progress bar on standard error:\n{stderr[-3000:]}")
    trained = re.search(r"Trained in ([\d.]+) s", stdout)
    return {
        "first_step_s": first_step,
        "wall_s": ended - spawned,
        "trained_in_s": float(trained.group(1)) if trained else float("nan"),
        "before_bar": text[: BAR.search(text).start()],
        "load": os.getloadavg()[0],
    }


def stages(log: str) -> dict[str, dict[str, float]]:
    """Seconds per stage and program in JAX_LOG_COMPILES lines."""
    out: dict[str, dict[str, float]] = {}
    for stage, pattern in STAGES.items():
        for program, seconds in pattern.findall(log):
            name = program.removeprefix("jit(").rstrip(")")
            out.setdefault(stage, {})
            out[stage][name] = out[stage].get(name, 0.0) + float(seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="warm runs (default 3)")
    parser.add_argument(
        "train_args", nargs="*", help="flags for dqn-jax train (after --; default: none)"
    )
    parser.add_argument("--write", action="store_true", help="write the section to BENCHMARKS.md")
    args = parser.parse_args()
    if args.worker:
        import json

        print(json.dumps(worker(float(args.worker))))
        return

    load_before = os.getloadavg()[0]
    floors = [run_worker(__file__, repr(time.time()), env=child_env()) for _ in range(3)]
    fastest = min(floors, key=lambda f: f["imports_s"])  # other work only adds time
    interpreter, ours, imports = (fastest[k] for k in ("interpreter_s", "dqn_jax_s", "imports_s"))
    print(f"interpreter {interpreter:.2f} s, dqn_jax {ours:.2f} s, gymnax {imports:.2f} s")

    cache = Path(tempfile.mkdtemp(prefix="dqn-jax-warm-start-"))
    try:
        runs = []
        for kind in ["cold"] + ["warm"] * args.repeats:
            run = run_cli(args.train_args, cache)
            run["cache"] = kind
            runs.append(run)
            print(
                f"{kind}: first env step at {run['first_step_s']:.2f} s, exit at "
                f"{run['wall_s']:.2f} s (trained in {run['trained_in_s']:.1f} s), "
                f"load {run['load']:.1f}",
                flush=True,
            )
        logged = run_cli(args.train_args, cache, log_compiles=True)
        entries = sum(1 for p in cache.iterdir() if p.is_file())
        stored = sorted(p.name.split("-")[0] for p in (cache / "programs").glob("*.bin"))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    spent = stages(logged["before_bar"])
    for stage, programs in spent.items():
        ranked = sorted(programs.items(), key=lambda item: -item[1])
        top = ", ".join(f"{name} {seconds:.2f}" for name, seconds in ranked[:4])
        print(f"before the first env step, {stage}: {sum(programs.values()):.2f} s ({top})")

    warm = [r for r in runs if r["cache"] == "warm"]
    best_warm = min(r["first_step_s"] for r in warm)
    lines = header("Start-up with the compilation cache")
    lines += [
        "",
        "`dqn-jax train"
        + "".join(f" {a}" for a in args.train_args)
        + "` (the default config unless flags are shown: 50,000 env steps, the progress bar, "
        "the final evaluation over 100 episodes), each run in a fresh process with "
        "`JAX_COMPILATION_CACHE_DIR` set to a folder that starts empty: the first run fills it "
        "(cold), the next ones load from it (warm): the init and step programs whole from its "
        "`programs` folder (`dqn_jax.storage.programs`, started in the background while the "
        "config is checked), the small ones (keys, conversions) from JAX's cache. *First env "
        "step* is the time from spawning the process to the bar's first line on standard "
        "error: the bar opens when the step is compiled and the first logging interval is "
        "dispatched. *Exit* is the whole command. "
        f"Load average (1 min) on {os.cpu_count()} cores: {load_before:.1f} before, the value "
        "after each run in its row; the machine was shared with other work, which only adds "
        "time.",
        "",
        "| cache | first env step (s) | exit (s) | trained in (s), as printed | load after |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['cache']} | {run['first_step_s']:.2f} | {run['wall_s']:.2f} | "
            f"{run['trained_in_s']:.1f} | {run['load']:.1f} |"
        )
    jax_s = {stage: sum(programs.values()) for stage, programs in spent.items()}
    hits = len(re.findall(r"Persistent compilation cache hit", logged["before_bar"]))
    built = STAGES["compile or load"].findall(logged["before_bar"])
    names = list(dict.fromkeys(name for name, _ in sorted(built, key=lambda b: -float(b[1]))))
    lines += [
        "",
        f"Floor: a fresh interpreter runs after {interpreter:.2f} s, has imported `dqn_jax` "
        f"and its command line (JAX, Equinox, Optax, chex) after {ours:.2f} s and gymnax after "
        f"**{imports:.2f} s** (the fastest of 3), before anything is built. One more warm run "
        "with `JAX_LOG_COMPILES=1` (first env step at "
        f"{logged['first_step_s']:.2f} s) shows what JAX did before its first env step: "
        + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in jax_s.items())
        + f" over {len(built)} programs ({', '.join(names[:3])}, ...), {hits} of them loaded "
        f"from JAX's cache ({entries} entries after all runs), and {len(stored)} stored whole "
        f"({', '.join(stored)}).",
        "",
        f"Goal: <= {GOAL_S} s before the first env step with a warm cache. Fastest warm run: "
        f"{best_warm:.2f} s ({'met' if best_warm <= GOAL_S else 'not met'}).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("warm-start", text)


if __name__ == "__main__":
    main()
