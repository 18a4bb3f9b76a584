"""Opening the SQLite file, and the few conversions every query needs."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from listener.mention import shown_utc


def database_files(path: Path) -> tuple[Path, Path, Path]:
    """The database and the two files SQLite keeps beside it in WAL mode; they are one
    database: deleting or overwriting one of them corrupts the others."""
    return path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def orphaned_log(path: Path) -> Path | None:
    """The write-ahead log of a database file that is gone (deleted or moved while in
    use), when it holds anything: the latest writes of that database are in it, so
    neither a new database nor a restored copy may take its place unasked."""
    db, wal, _ = database_files(path)
    if db.exists() or not wal.exists() or wal.stat().st_size == 0:
        return None
    return wal


def stored_version(path: Path) -> int | None:
    """The schema version of the database at `path` (its user_version), read without
    opening it for writing or upgrading it, and without making its -wal or -shm;
    None when there is no file, 0 for an empty one. Raises sqlite3.DatabaseError for
    a file that is not an SQLite database. Not in a process with a connection of its
    own open on it: closing the file this opens drops that connection's POSIX locks,
    and another process would then take the database for unused (and checkpoint or
    remove its log under it)."""
    if not path.exists():
        return None
    with path.open("rb") as f:
        header = f.read(100)
    if not header:
        return 0
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise sqlite3.DatabaseError("file is not a database")
    wal = database_files(path)[1]
    if not wal.exists() or wal.stat().st_size == 0:
        return int.from_bytes(header[60:64], "big")  # the header field user_version is
    # the log may hold a newer version than the file's header: ask SQLite, which reads
    # both (the -shm is there beside a live log)
    return version_in_use(path)


def version_in_use(path: Path) -> int:
    """The schema version of a database that may be in use (its log and -shm there),
    read through a read-only SQLite connection: safe in a process with connections of
    its own open on it, as SQLite keeps their locks when this one closes."""
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


# what to do about a write_problem, said wherever one stops a command
WRITE_ADVICE = (
    "Earful writes the database, its -wal, -shm and lock files and their folder: "
    "run it as the user who owns them, or give them back to that user (chown)"
)


def write_problem(path: Path, *, beside: Iterable[Path] = ()) -> str | None:
    """Why this process cannot write the database at `path`, or None when it can (or
    when the folder is not there: that is the caller's to report). `beside`: other
    files the caller writes when they are there (the daemon's lock).

    SQLite opens a file it may not write read-only without a word, and every write
    then fails with "attempt to write a readonly database": a daemon would start and
    fail every poll. So the file, its -wal and -shm when they are there, and their
    folder (where SQLite makes and removes those two) must each be writable.
    os.access lets root write whatever the modes say, as SQLite will; it says no to
    root too on a read-only filesystem. A symlinked path is checked where it leads:
    SQLite makes the -wal and -shm beside the real file."""
    path = path.resolve()
    folder = path.parent
    if not folder.is_dir():
        return None
    for file in (*database_files(path), *beside, folder):
        if file.exists() and not os.access(file, os.W_OK | (os.X_OK if file.is_dir() else 0)):
            return f"{file} {_why_unwritable(file)}"
    return None


def _why_unwritable(file: Path) -> str:
    """The owner and mode (what a `sudo` or a restore as root gets wrong), or the
    read-only filesystem."""
    if os.statvfs(file).f_flag & os.ST_RDONLY:
        return "is on a read-only filesystem"
    info = file.stat()
    return (
        f"(owned by {_user(info.st_uid)}, mode {info.st_mode & 0o7777:04o}) is not "
        f"writable by {_user(os.getuid())}, the user Earful runs as"
    )


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's user id with no account
        return f"uid {uid}"


# Seconds a write waits for another process's write to end before it fails.
BUSY_WAIT = 10.0


def connect(path: str | Path, *, timeout: float = BUSY_WAIT) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit BEGIN IMMEDIATE),
    WAL, foreign keys on, and a busy timeout so a CLI command and the daemon can
    write the same file without "database is locked"."""
    conn = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.text_factory = _decode_text
    conn.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL makes NORMAL durable against application crashes; only an OS crash
        # or power loss can lose the last transactions, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Fold the WAL back into the file every ~40 MB (10,000 pages) instead of
        # SQLite's 4 MB: each batch rewrites a few hundred scattered index pages,
        # and a rarer checkpoint writes each of them (and syncs) once for many
        # batches instead of once every three. Ingest: ~300 -> ~225 us a mention.
        # The price: an OS crash or power loss can lose more of the last
        # transactions (still never a half-stored batch, and the daemon's hourly
        # housekeeping checkpoints regardless).
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
    return conn


def _decode_text(raw: bytes) -> str:
    # surrogatepass: posts may carry lone surrogates (valid JSON "\ud800" escapes);
    # they are stored as their surrogatepass bytes and must come back intact.
    return raw.decode("utf-8", "surrogatepass")


def text(value: str | None) -> str | bytes | None:
    """A parameter for a TEXT column bound as CAST(? AS TEXT). sqlite3 refuses strings
    that are not valid Unicode (lone surrogates); those go in as surrogatepass bytes,
    which the CAST stores as TEXT and _decode_text turns back into the same string."""
    if value is None or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")
    return value


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """UTC timestamps as sortable ISO 8601 text, which SQLite's date functions read."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shown_time(value: str | None) -> str:
    """A stored time as a person reads it in a message: "2026-12-01 05:32:10 UTC"
    (the console shows its pages' times in the viewer's zone; a message is text)."""
    try:
        moment = from_iso(value)
    except ValueError:
        return str(value)  # not one Earful wrote: shown as it is
    if moment is None:
        return "an unknown time"
    return shown_utc(moment)


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ASCII JSON: always valid UTF-8, whatever odd Unicode the platform sent. One
# encoder for every call: json.dumps with non-default arguments builds a new
# JSONEncoder each time, and ingest encodes four values a mention.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def loads(value: str | None) -> Any:
    return json.loads(value) if value else None
