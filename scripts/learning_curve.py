"""The README's learning curve, made with the command line as a user would make it.

    python scripts/learning_curve.py --seeds 10 --out docs/learning_curve.png

runs, in order,

    dqn-jax train --seeds 10 --out runs/default --quiet     # DQNConfig(), split(key(0), 10)
    dqn-jax eval runs/default --episodes 100                # each final network, 100 episodes
    dqn-jax plot runs/default --out docs/learning_curve.png # mean and 95% CI band over seeds

The seeds are those of the end-to-end test (``tests/test_solves_cartpole.py``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dqn_jax.cli import main as dqn_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--run", type=Path, default=Path("runs/default"))
    parser.add_argument("--out", type=Path, default=Path("docs/learning_curve.png"))
    args = parser.parse_args()

    shutil.rmtree(args.run, ignore_errors=True)
    dqn_jax(["train", "--seeds", str(args.seeds), "--out", str(args.run), "--quiet"])
    dqn_jax(["eval", str(args.run), "--episodes", "100"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    dqn_jax(["plot", str(args.run), "--out", str(args.out)])


if __name__ == "__main__":
    main()
