"""JAX's persistent compilation cache: compiled programs kept on disk, so that a later process
building the same program (same config and shapes, same devices, same JAX) loads it instead of
compiling it again.

JAX never caches a program that holds a host callback: ``make_train(config, progress=...)``
compiles its progress report in as one, so a program built that way compiles in every process.
The interval loops (``dqn_jax.storage.runs.train_intervals``, a tracked ``dqn_jax.sweep`` and the
command line) report progress from the host between compiled intervals instead.

From Python, one line before the first compile turns the cache on::

    dqn_jax.use_compile_cache()  # ~/.cache/dqn-jax/jax, or JAX_COMPILATION_CACHE_DIR if set

The ``dqn-jax`` command does this for itself (``--no-compile-cache`` turns it off), and keeps its
init and step programs whole in the cache folder's ``programs`` subfolder instead
(``dqn_jax.storage.programs``): JAX's cache spares the compile of the small programs, the stored
ones spare tracing and lowering too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import jax

DIR_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
PROGRAMS = "programs"  # the subfolder of whole programs; JAX's own files lie beside it
# JAX's own defaults keep only programs that took over 1 s to compile; these keep every one (our
# init and evaluation programs compile in less), unless the environment sets them.
THRESHOLDS = {
    "jax_persistent_cache_min_compile_time_secs": 0.0,
    "jax_persistent_cache_min_entry_size_bytes": -1,  # -1: no size limit
}
_SETTINGS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache", *THRESHOLDS)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dqn-jax/jax`` (``~/.cache/dqn-jax/jax`` when it is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dqn-jax" / "jax"


def cache_dir() -> Path:
    """Where :func:`use_compile_cache` keeps programs: JAX's cache directory if one is set
    (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``), else :func:`default_cache_dir`."""
    chosen = jax.config.jax_compilation_cache_dir or os.environ.get(DIR_VARIABLE)
    return Path(chosen) if chosen else default_cache_dir()


def programs_dir() -> Path | None:
    """Where whole programs are stored (``dqn_jax.storage.programs``) while the persistent cache
    is on: the ``programs`` folder inside JAX's cache folder; ``None`` while it is off."""
    folder = jax.config.jax_compilation_cache_dir
    if not (jax.config.jax_enable_compilation_cache and folder):
        return None
    return Path(folder) / PROGRAMS


def use_compile_cache(path: str | Path | None = None) -> Path:
    """Turns JAX's persistent compilation cache on for this process.

    Call it before the first compile. Every program is cached whatever its compile time and
    size, unless ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` or
    ``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES`` say otherwise. The folder grows with every new
    program; deleting it is always safe.

    Args:
        path: the cache folder (default: :func:`cache_dir`).

    Returns:
        The cache folder.
    """
    from jax.experimental.compilation_cache import compilation_cache

    folder = Path(path) if path is not None else cache_dir()
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_enable_compilation_cache", True)
    for name, value in THRESHOLDS.items():
        if name.upper() not in os.environ:
            jax.config.update(name, value)
    compilation_cache.reset_cache()  # a cache already opened on another folder is reopened
    return folder


@contextlib.contextmanager
def compile_cache(enabled: bool = True) -> Iterator[Path | None]:
    """:func:`use_compile_cache` while the block runs (``enabled=False``: no persistent cache at
    all, even a ``JAX_COMPILATION_CACHE_DIR``), then JAX's settings as they were.

    Yields:
        The cache folder, or ``None`` when disabled.
    """
    from jax.experimental.compilation_cache import compilation_cache

    before = {name: getattr(jax.config, name) for name in _SETTINGS}
    try:
        if enabled:
            yield use_compile_cache()
        else:
            jax.config.update("jax_enable_compilation_cache", False)
            compilation_cache.reset_cache()
            yield None
    finally:
        for name, value in before.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
