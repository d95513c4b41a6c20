"""The entry point: the command line parsed, run, and its errors turned into one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dqn_jax.cli.common import SUBCOMMANDS, UsageError
from dqn_jax.cli.parser import build_parser

# --- entry point ----------------------------------------------------------------------------------


def _fail(message: str, code: int, prog: str = "dqn-jax") -> None:
    line = " ".join(str(message).split())
    print(f"{prog}: error: {line}", file=sys.stderr)
    sys.exit(code)


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``train`` in front when it names no subcommand (and is not a help request):
    ``dqn-jax`` alone and ``dqn-jax --seed 3`` train."""
    argv = list(argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        return ["train", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the command line ``argv`` (default ``sys.argv[1:]``); no subcommand means train.

    Compiled programs are read from and written to JAX's persistent compilation cache
    (``dqn_jax.storage.compile_cache``) unless ``--no-compile-cache``; JAX's settings are as they
    were when it returns."""
    argv = normalise_argv(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        from dqn_jax.storage.compile_cache import compile_cache  # loads JAX: not for --help

        with compile_cache(enabled=not args.no_compile_cache):
            args.handler(args)
    except UsageError as error:
        _fail(str(error), 2, error.prog)
    except (ValueError, OSError) as error:
        _fail(str(error), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
