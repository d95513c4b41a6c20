"""Crash-safe file writes: a temporary file in the same folder, synced, then ``os.replace``.

``os.replace`` within one file system is atomic, so a reader (or a run killed mid-save) sees the
old file or the new one, never half of one. The temporary file is named ``.NAME.PID.tmp``; one
left behind by a killed writer is removed by the next successful write of the same file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":
        return True  # on Windows, os.kill(pid, 0) sends CTRL_C_EVENT: never probe there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists (another user's), or cannot tell: keep its file
    return True


def _remove_stale(path: Path) -> None:
    """Temporary files of ``path`` whose writer process is gone."""
    prefix, suffix = f".{path.name}.", ".tmp"
    for tmp in path.parent.iterdir():
        pid = tmp.name[len(prefix) : -len(suffix)]
        ours = tmp.name.startswith(prefix) and tmp.name.endswith(suffix) and pid.isdigit()
        if ours and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, *parts: bytes) -> None:
    """Writes ``parts`` one after the other to ``path`` (no joined copy of them is made) so that
    a crash at any moment leaves either the old file (or none) or the complete new one.

    Raises:
        OSError: if the folder is missing or not writable; ``path`` is then unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    # Persist the rename itself; not every platform can open a folder.
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _remove_stale(path)
