"""The ``dqn-jax`` command line (also ``python -m dqn_jax``).

    dqn-jax train  [--config FILE] [--FIELD VALUE ...] [--seeds N] [--out runs/NAME]
    dqn-jax train  --resume runs/NAME [--total-timesteps N]
    dqn-jax sweep  --grid learning_rate=1e-3,3e-4 gamma=0.99,0.995 [--seeds N] [--chunk-size K]
    dqn-jax sweep  ... --shard I/N --out runs/NAME     (one part of N; then: dqn-jax merge)
    dqn-jax sweep  ... --ray auto|local|ADDRESS --out runs/NAME   (shards as Ray tasks)
    dqn-jax merge  runs/NAME
    dqn-jax eval   runs/NAME [--episodes 100]
    dqn-jax plot   runs/NAME [runs/OTHER ...] [--out curves.png]
    dqn-jax render runs/NAME [--out episode.gif]     (CartPole-v1, or a MinAtar game's channels)

With no subcommand it trains: ``python -m dqn_jax`` trains the default config on CartPole-v1,
prints the table of logging points and the final greedy evaluation over 100 episodes. Bad input
ends the program with one line on standard error and a non-zero exit code.

Modules: ``main`` (the entry point), ``parser`` (the flags), ``common`` (what the subcommands
share), one per subcommand family: ``train``, ``sweep`` (and ``merge``), ``results`` (``eval``,
``plot``, ``render``).
"""

from dqn_jax.cli.main import main, normalise_argv
from dqn_jax.cli.parser import build_parser

__all__ = ["build_parser", "main", "normalise_argv"]
