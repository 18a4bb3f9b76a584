"""A copy of the database that is consistent while the daemon keeps writing, and
putting such a copy back (with the owner and mode of the file it replaces).

`VACUUM INTO` reads the whole database in one read transaction (in WAL mode that
blocks no writer) and writes a compact copy; SQLite's page-by-page backup would
start over each time the daemon commits, and might never finish on a busy store.
The copy is written beside the target and renamed into place (storage.files), so
a crash leaves either the old target or the whole new one, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

from storage.db import connect, database_files
from storage.files import make_empty, replaced
from storage.schema import SCHEMA_VERSION
from storage.store import Store


class BackupError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    bytes: int
    mentions: int
    schema_version: int
    # what the daemon sends as soon as it runs on this copy: after a restore, those
    # sent since the backup was taken go out again
    approved_replies: int = 0
    pending_alerts: int = 0


def backup(store: Store, target: Path) -> BackupResult:
    """Write a checked copy of `store` to `target` (replacing it)."""
    target = target.resolve()
    with replaced(target) as partial:
        _no_wider(partial, store.path)
        try:
            with store._lock:
                store.conn.execute("VACUUM INTO ?", (str(partial),))
        except sqlite3.OperationalError as exc:  # a full disk, a folder it may not write
            raise BackupError(f"cannot write the copy {partial}: {exc}") from None
        checked = _verify(partial)
    return BackupResult(target, target.stat().st_size, *checked)


def unfinished_copies(folder: Path) -> list[tuple[Path, int]]:
    """The hidden partial copies (storage.files) in `folder`, with their sizes: once
    a backup has put its own in place, each is a backup stopped half-way (killed, a
    reboot), the size of the database and never deleted by anything, or one running
    now beside it (which may finish and go while this looks: it is left out)."""
    found = []
    for path in sorted(folder.glob(".*.partial*")):
        try:
            info = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((path, info.st_size))
    return found


def restore(copy: Path, db: Path) -> BackupResult:
    """Put `copy` (an `earful backup`) in place as the database `db`, which no process
    may have open. The copy is checked before anything is replaced; the old
    database's -wal and -shm go, or SQLite would play a crashed daemon's last
    transactions over the restored copy."""
    db = db.resolve()
    with replaced(db) as partial:
        try:
            shutil.copyfile(copy, partial)
        except OSError as exc:
            raise BackupError(f"cannot copy {copy} to {partial}: {exc}") from None
        try:
            checked = _verify(partial)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{copy} is not an Earful database: {exc}") from None
        if checked[1] > SCHEMA_VERSION:
            raise BackupError(
                f"{copy} is at schema version {checked[1]}, newer than this Earful "
                f"understands ({SCHEMA_VERSION}); restore it with a newer Earful"
            )
        if db.exists():
            _take_over(db, partial)
        for leftover in database_files(db)[1:]:
            leftover.unlink(missing_ok=True)
    return BackupResult(db, db.stat().st_size, *checked)


def _no_wider(copy: Path, db: Path | None) -> None:
    """Make the (empty) copy with no permission the database does not have, before
    VACUUM INTO fills it (SQLite takes an empty file): the copy holds the same
    password hashes, and `sudo earful backup` under sudo's umask (022) would
    otherwise leave a 0600 database's copy, or a half-written one a killed backup
    leaves behind, readable by every user of the machine."""
    try:
        allowed = stat.S_IMODE(db.stat().st_mode) if db is not None else 0o666
    except OSError:  # gone meanwhile: the copy gets what the umask gives
        allowed = 0o666
    # the umask applies as well: what it allows, less what the database lacks
    make_empty(copy, allowed & 0o666)  # a folder it may not write: VACUUM INTO says so


def _take_over(old: Path, new: Path) -> None:
    """Give `new` the owner and mode of the file it replaces: `sudo earful restore`
    must not hand the daemon's user a root-owned file it cannot write (SQLite would
    open it read-only), nor widen a 0600 database that holds password hashes.
    Best effort: only root may give a file away, and a user restoring their own
    database keeps it anyway."""
    info = old.stat()
    with contextlib.suppress(PermissionError):
        os.chown(new, info.st_uid, info.st_gid)
    with contextlib.suppress(PermissionError):  # after chown, which may clear mode bits
        os.chmod(new, stat.S_IMODE(info.st_mode))


def _verify(path: Path) -> tuple[int, int, int, int]:
    """The copy's mention count, schema version, approved replies and pending alerts,
    after SQLite's quick check."""
    conn = connect(path)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed SQLite's check: {'; '.join(problems[:3])}")
        mentions = conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        to_send = (
            _count(conn, "SELECT count(*) FROM replies WHERE status = 'approved'"),
            _count(conn, "SELECT count(*) FROM alerts WHERE status = 'pending'"),
        )
        # the copy is one file: no -wal beside it for whoever moves it
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    return int(mentions), int(version), int(to_send[0]), int(to_send[1])


def _count(conn: sqlite3.Connection, sql: str) -> int:
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # a copy from a version before that table
        return 0
