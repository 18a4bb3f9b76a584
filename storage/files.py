"""Writing a file whole or not at all: written beside its target, synced, renamed
over it. A crash, a full disk or an error half-way leaves the old file (and no
partial one); permissions are what the umask gives, as for any file a user writes
(storage.backup narrows a copy's to the database's, and a new database is made
owner-only: make_empty makes the file SQLite then fills)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced(target: Path) -> Iterator[Path]:
    """The path to write `target` through; it becomes `target` when the block ends
    without an error, and is removed when it raises."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        with partial.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut once the folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_empty(path: Path, mode: int) -> None:
    """Make `path` an empty file with at most `mode` (the umask narrows it further),
    for SQLite to fill: it keeps the mode of a file it finds, and would make a new one
    with whatever the umask allows. A file already there, or a folder this user may
    not write, is left for SQLite to report as it always has."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
