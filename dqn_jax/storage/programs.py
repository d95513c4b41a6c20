"""Compiled programs kept on disk whole: a later process that runs the same program loads its
executable instead of tracing, lowering and compiling it again.

JAX's persistent compilation cache (``dqn_jax.storage.compile_cache``) skips only the XLA
compile: it is keyed on the lowered program, so every process still traces and lowers the train
step first (most of a second for the default config on 2 CPU cores). A program stored here is the
executable itself (``jax.experimental.serialize_executable``), found by a key that holds
everything that could change it:

- the caller's description of the program (for the train loop: its name, the ``DQNConfig``, the
  agents' batch shape and the hyper-parameters' rank),
- the shapes and dtypes of its arguments,
- the source of the ``dqn_jax`` package and the versions of the packages it builds on,
- the devices (platform, kind, count, processes), this CPU's instruction-set flags, ``XLA_FLAGS``
  and the JAX settings that change what a program computes.

A stored program takes and returns flat lists of arrays, so loading one needs no pytree
structure, and so none of the modules (the env's, the optimizer's) that would define it.

Only load programs that this user's own processes wrote: as with any pickle, reading a program
from an untrusted file can run arbitrary code. Deleting the folder is always safe.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import jax

from dqn_jax.storage.atomic_file import write_atomic
from dqn_jax.storage.compile_cache import compile_cache

FORMAT = 1  # of the files; a file of another format is compiled anew
PACKAGES = ("jax", "jaxlib", "equinox", "optax", "gymnax", "chex", "numpy")
# JAX settings under which the same Python code lowers to a different program.
JAX_SETTINGS = (
    "jax_enable_x64",
    "jax_default_matmul_precision",
    "jax_default_prng_impl",
    "jax_threefry_partitionable",
    "jax_numpy_rank_promotion",
    "jax_numpy_dtype_promotion",
)
PACKAGE_DIR = Path(__file__).resolve().parent.parent


@functools.cache
def _source_digest() -> str:
    """SHA-256 of every ``.py`` file of the ``dqn_jax`` package, with its relative path."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _cpu_flags() -> str:
    """The instruction-set flags of this machine's CPU (Linux), or ``""`` where unknown: an
    executable compiled for one CPU may not run on another."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@functools.cache
def _machine() -> dict[str, Any]:
    """What outside the arguments decides how a program compiles."""

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    devices = jax.devices()
    return {
        "packages": {name: version(name) for name in PACKAGES},
        "source": _source_digest(),
        "backend": jax.default_backend(),
        "platform_version": devices[0].client.platform_version,
        "device_kind": devices[0].device_kind,
        "devices": len(devices),
        "processes": jax.process_count(),
        "process": jax.process_index(),
        "cpu": hashlib.sha256(_cpu_flags().encode()).hexdigest(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax": {name: str(getattr(jax.config, name, None)) for name in JAX_SETTINGS},
    }


def program_key(description: Any, args: Sequence[Any]) -> str:
    """The key of a program: SHA-256 (hex) of ``description`` (JSON-able), the shape and dtype
    of every leaf of ``args`` and ``_machine()``."""
    avals = [(tuple(x.shape), str(x.dtype)) for x in jax.tree.leaves(args)]
    text = json.dumps([FORMAT, description, avals, _machine()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ProgramStore:
    """A folder of stored programs.

    ``get`` loads a program stored under its key, or compiles and stores it. ``prefetch`` starts
    loading, in a background thread, the programs that were used last time under a hint (for
    the command line: its flags), so that the load overlaps the imports and checks that come
    before the first program is needed; the key still decides what is used.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._used: list[str] = []
        self._loading: dict[str, concurrent.futures.Future[Any]] = {}

    def get(
        self,
        name: str,
        build: Callable[[], Callable[..., Any]],
        args: Sequence[Any],
        description: Any,
    ) -> Any:
        """The compiled program ``jax.jit(build())`` for ``args``: loaded if stored under its
        key (``program_key(description, args)``), else compiled and stored.

        Args:
            name: the program's name, the start of its file name.
            build: makes the function to compile; called only when the program is not stored.
                It takes ``*args`` and returns tuples and lists of arrays (no other nodes).
            args: example arguments: arrays, and tuples or lists of arrays.
            description: JSON-able description of what ``build`` makes, the rest of the key.

        Returns:
            A ``jax.stages.Compiled``, called as ``program(*args)``.
        """
        file = f"{name}-{program_key(description, args)[:40]}.bin"
        path = self.folder / file
        self._used.append(file)
        loading = self._loading.pop(file, None)
        if loading is not None or path.exists():
            try:
                program = loading.result() if loading is not None else _load(path)
                _check_args(program, args)
                return program
            except Exception as error:  # a corrupt or foreign file: compile again, replacing it
                warnings.warn(
                    f"compiling again: stored program {path} unusable ({error})", stacklevel=2
                )
        # Compiled afresh, never taken from JAX's persistent cache: an executable JAX loaded
        # from its cache serialises without some of its kernels on CPU, and the stored copy
        # then fails in a later process ("Function wrapped_slice not found").
        with compile_cache(enabled=False):
            program = jax.jit(build()).lower(*args).compile()
        _store(path, program)
        return program

    def prefetch(self, hint: str) -> None:
        """Starts loading the programs ``remember(hint)`` recorded, in a background thread."""
        try:
            files = json.loads(self._hint_path(hint).read_text())
        except (OSError, ValueError):
            return
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dqn-jax-prefetch")
        for file in files:
            if isinstance(file, str) and (self.folder / file).exists():
                self._loading[file] = pool.submit(_load, self.folder / file)
        pool.shutdown(wait=False)

    def remember(self, hint: str) -> None:
        """Records the programs got so far as those to ``prefetch`` for ``hint`` (none got:
        nothing is recorded)."""
        if not self._used:
            return
        path, text = self._hint_path(hint), json.dumps(self._used)
        if path.exists() and path.read_text() == text:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode())

    def _hint_path(self, hint: str) -> Path:
        return self.folder / f"hint-{hashlib.sha256(hint.encode()).hexdigest()[:40]}.json"


def load_or_compile(
    name: str,
    build: Callable[[], Callable[..., Any]],
    args: Sequence[Any],
    description: Any,
    store: ProgramStore | str | Path | None,
) -> Any:
    """``store.get(name, build, args, description)`` (a folder is a new ``ProgramStore``), or
    with ``store=None`` the program compiled in this process and not stored."""
    if store is None:
        return jax.jit(build()).lower(*args).compile()
    if not isinstance(store, ProgramStore):
        store = ProgramStore(store)
    return store.get(name, build, args, description)


def _store(path: Path, compiled: Any) -> None:
    from jax.experimental.serialize_executable import serialize

    try:
        executable, in_tree, out_tree = serialize(compiled)
    except (ValueError, NotImplementedError):  # this backend cannot serialise: not stored
        return
    # Skeletons of tuples, lists and ints: a PyTreeDef itself does not always survive pickling.
    stored = {
        "format": FORMAT,
        "executable": executable,
        "in": jax.tree.unflatten(in_tree, range(in_tree.num_leaves)),
        "out": jax.tree.unflatten(out_tree, range(out_tree.num_leaves)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, pickle.dumps(stored))


def _load(path: Path) -> Any:
    from jax.experimental.serialize_executable import deserialize_and_load

    stored = pickle.loads(path.read_bytes())
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise ValueError(f"not a program file of format {FORMAT}")
    in_tree, out_tree = jax.tree.structure(stored["in"]), jax.tree.structure(stored["out"])
    return deserialize_and_load(stored["executable"], in_tree, out_tree)


def _check_args(program: Any, args: Sequence[Any]) -> None:
    """Raises ``ValueError`` unless ``args`` have the structure, shapes and dtypes the program
    was compiled for."""
    expected = jax.tree.structure(((*args,), {}))
    if program.in_tree != expected:
        raise ValueError(f"arguments {expected}, compiled for {program.in_tree}")
    infos = jax.tree.leaves(program.args_info)
    for info, x in zip(infos, jax.tree.leaves(args), strict=True):
        if tuple(info.shape) != tuple(x.shape) or info.dtype != x.dtype:
            raise ValueError(f"an argument of {x.shape} {x.dtype}, compiled for {info}")
