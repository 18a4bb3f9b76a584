"""One process at a time: advisory file locks (flock) between Earful processes on
this machine. A lock ends with its process, however that ends.

The daemon's lock (daemon_lock) is also held by `earful publish` and `earful
restore` while they run, so no daemon starts under them; `earful poll` reads it as
"a daemon runs" and leaves source health to that process meanwhile."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The locks this process holds (held): its own lock is not another process's.
_OURS: set[Path] = set()


class Busy(Exception):
    """Another process holds the lock; the message says who and what to do."""


def daemon_lock(db: Path) -> Path:
    """The lock a running daemon holds on its database: beside the real file, so a
    path through a symlink finds the same lock. (A hard link is another name for
    the file that nothing can trace back: do not give a database two.)"""
    real = db.resolve()
    return real.with_name(real.name + ".daemon.lock")


def held_elsewhere(path: Path) -> bool:
    """True while another process holds the lock on `path` (this one's own, taken
    through `held`, does not count)."""
    return path.resolve() not in _OURS and is_held(path)


def is_held(path: Path) -> bool:
    """True while a process holds the lock on `path`, this one included."""
    try:
        lock_file = path.open("r")
    except FileNotFoundError:
        return False
    with lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return False


@contextmanager
def held(path: Path, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made if missing) for the block; `busy` is
    the Busy message when another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(busy) from None
        ours = path.resolve()
        _OURS.add(ours)
        try:
            yield
        finally:
            _OURS.discard(ours)
