"""A database this user may not write stops the commands that write it at start-up,
with the file named: SQLite would open it read-only without a word, and a daemon
would say "earful running" and then fail every poll.

The commands run as child processes. Run as root (as CI may be), a child gives up
the capabilities that let root write whatever the modes say (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH), so a file of mode 0444 is as unwritable to it as to the
service user in the field."""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import EARFUL
from replayfiles import mixed_posts, wait_for, write_config

from earful import locks
from earful.cli import cli
from storage.store import Store

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def _held_to_file_modes() -> None:
    """In the child, before it runs Earful: root without the two capabilities is held
    to the files' modes like any user (os.access included). Dropped from the bounding
    set, they are gone from what the exec'd program gets."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def start(args: list[str], log: Path, cwd: Path) -> tuple[int | None, str]:
    """Run `earful ARGS` as a user bound by file modes until it exits, or until it
    says the daemon is running (then it is stopped: None is its exit code)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(EARFUL), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={k: v for k, v in os.environ.items() if k != "EARFUL_CONFIG"},
            preexec_fn=_held_to_file_modes if os.geteuid() == 0 else None,
        )
    try:
        wait_for(
            lambda: proc.poll() is not None or "earful running" in log.read_text("utf-8"),
            "the command to exit or the daemon to start",
        )
    finally:
        running = proc.poll() is None
        if running:
            proc.terminate()
            proc.wait(timeout=60)
    return None if running else proc.returncode, log.read_text("utf-8")


@contextmanager
def made_unwritable(path: Path) -> Iterator[Path]:
    """`path` read-only (a folder: no new files in it) for the block."""
    mode = path.stat().st_mode & 0o7777
    path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield path
    finally:
        path.chmod(mode)  # so that the test's files can be cleaned up


def setup(tmp_path: Path, extra: str = "") -> tuple[Path, Path]:
    """A config whose database, in its own folder, exists (schema made)."""
    (tmp_path / "data").mkdir()
    config = write_config(
        tmp_path,
        mixed_posts(40),
        batch=5,
        interval="20ms",
        extra='[storage]\npath = "data/earful.db"\n' + extra,
    )
    db = tmp_path / "data" / "earful.db"
    Store.open(db).close()
    locks.daemon_lock(db).touch()  # as any daemon run before leaves it
    return config, db


def assert_refused(code: int | None, text: str, unwritable: Path) -> None:
    assert code == 1, text
    assert "earful running" not in text
    assert "earful: cannot write to the database (storage.path in " in text
    assert f"{unwritable} (owned by " in text and "is not writable by " in text
    assert "run it as the user who owns them" in text
    assert "Traceback" not in text


WHICH: dict[str, Callable[[Path], Path]] = {
    "the database": lambda db: db,
    "its -wal": lambda db: db.with_name(db.name + "-wal"),
    "its folder": lambda db: db.parent,
    # what `sudo earful restore` leaves when there was none: root's
    "the daemon's lock": locks.daemon_lock,
}


@pytest.mark.parametrize("which", list(WHICH))
def test_earful_run_refuses_a_database_it_cannot_write(tmp_path: Path, which: str) -> None:
    config, db = setup(tmp_path)
    # another connection keeps the -wal there (as a crashed daemon's would be)
    with Store.open(db) as store, made_unwritable(WHICH[which](db)) as unwritable:
        assert db.with_name(db.name + "-wal").exists()
        code, text = start(
            ["run", "--no-console", "-c", str(config)], tmp_path / "run.log", tmp_path
        )
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 0
    assert_refused(code, text, unwritable)


@pytest.mark.parametrize("command", ["poll", "publish", "alerts send"])
def test_the_commands_that_write_from_cron_refuse_it_too(tmp_path: Path, command: str) -> None:
    hook = '[escalation]\nwebhook_url = "http://127.0.0.1:9/hook"\n'
    config, db = setup(tmp_path, extra=hook)
    with made_unwritable(db):
        code, text = start([*command.split(), "-c", str(config)], tmp_path / "out.log", tmp_path)
    assert_refused(code, text, db)


def test_earful_demo_refuses_it_too(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(folder)])
    assert first.exit_code == 0, first.output
    db = folder / "earful.db"
    with made_unwritable(db):
        code, text = start(
            ["demo", "--keep", "--no-console", "--dir", str(folder)],
            tmp_path / "demo.log",
            tmp_path,
        )
    assert_refused(code, text, db)


def test_a_symlinked_path_is_checked_where_it_leads(tmp_path: Path) -> None:
    # storage.path through a symlink into a folder this user may not write: the
    # -wal and -shm go beside the real file, so that folder is the one to check
    config, db = setup(tmp_path)
    (tmp_path / "link").mkdir()
    alias = tmp_path / "link" / "earful.db"
    alias.symlink_to(db)
    other = config.read_text("utf-8").replace('path = "data/earful.db"', f'path = "{alias}"')
    config.write_text(other, "utf-8")
    with made_unwritable(db.parent) as unwritable:
        code, text = start(["poll", "-c", str(config)], tmp_path / "poll.log", tmp_path)
    assert_refused(code, text, unwritable)


@pytest.mark.parametrize("command", ["queue list", "sources", "backup copy.db"])
def test_a_reading_command_names_a_database_this_user_may_not_open(
    tmp_path: Path, command: str
) -> None:
    # `sudo -u earful earful queue list` on a database root copied into place (mode
    # 0600, root's): SQLite says only "unable to open database file"
    config, db = setup(tmp_path)
    mode = db.stat().st_mode & 0o7777
    db.chmod(0)
    try:
        code, text = start([*command.split(), "-c", str(config)], tmp_path / "out.log", tmp_path)
    finally:
        db.chmod(mode)
    assert code == 1, text
    assert f"earful: cannot use the database {db} (storage.path in " in text
    assert f"{db} (owned by " in text and "mode 0000) is not writable by " in text
    assert "run it as the user who owns them" in text and "Traceback" not in text


@pytest.mark.parametrize("command", ["export praise -o", "export mentions -o"])
def test_a_file_it_may_not_write_is_named_as_the_user_named_it(
    tmp_path: Path, command: str
) -> None:
    # written beside the target through a hidden .NAME.partial, which nobody named
    # (`backup` says so in its own words: storage/backup.py)
    config, _ = setup(tmp_path)
    folder = tmp_path / "locked"
    folder.mkdir()
    with made_unwritable(folder):
        code, text = start(
            [*command.split(), str(folder / "out.file"), "-c", str(config)],
            tmp_path / "out.log",
            tmp_path,
        )
    assert code == 1, text
    assert f"earful: {folder / 'out.file'}: Permission denied" in text
    assert ".partial" not in text
