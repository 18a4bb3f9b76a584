"""`earful backup`: a copy of the database that is consistent while the daemon
writes, checked, and written whole or not at all."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import factories
from click.testing import CliRunner, Result
from replayfiles import write_config

from earful import locks
from earful.cli import cli
from earful.config import load_config
from responders.drafts import Draft, DraftKind
from storage.backup import backup
from storage.db import stored_version
from storage.records import Judged
from storage.schema import SCHEMA_VERSION
from storage.store import Store


def earful(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def filled(tmp_path: Path, mentions: int = 30) -> Path:
    """A config whose database holds `mentions` complaints, one ingest each."""
    path = write_config(tmp_path, [])
    with Store.open(load_config(path).db_path) as store:
        for n in range(mentions):
            _ingest_one(store, n)
    return path


def _ingest_one(store: Store, n: int) -> None:
    m = factories.mention(f"lumenet outage number {n}, still down", native_id=str(n))
    store.ingest("replayed", [factories.complaint(m)], {"offset": n + 1})


def read(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_the_copy_holds_everything_and_is_one_searchable_file(tmp_path: Path) -> None:
    config = filled(tmp_path)
    target = tmp_path / "backups" / "earful-copy.db"
    target.parent.mkdir()
    result = earful("backup", "-c", str(config), str(target), "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["mentions"] == 30 and shown["schema_version"] >= 5
    assert shown["bytes"] == target.stat().st_size
    assert sorted(p.name for p in target.parent.iterdir()) == ["earful-copy.db"]  # no -wal
    with Store.open(target) as copy:
        assert len(copy.search("outage")) == 30  # the full-text index came along
        assert len(copy.replies(status=None, limit=100)) == read(
            load_config(config).db_path, "SELECT count(*) FROM replies"
        )


def test_a_backup_while_another_process_writes_is_a_consistent_moment(tmp_path: Path) -> None:
    config = filled(tmp_path, mentions=200)
    db = load_config(config).db_path
    done = threading.Event()

    def keep_writing() -> None:
        with Store.open(db) as writer:  # the daemon: its own connection
            n = 200
            while not done.is_set():
                _ingest_one(writer, n)
                n += 1

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        copies = [tmp_path / f"copy{k}.db" for k in range(5)]
        for copy in copies:
            assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    finally:
        done.set()
        thread.join()
    for copy in copies:
        # one transaction stores a mention, its verdict and the cursor: a copy taken
        # mid-write has all three or none
        mentions = read(copy, "SELECT count(*) FROM mentions")
        assert mentions >= 200
        assert read(copy, "SELECT count(*) FROM verdicts") == mentions
        with Store.open(copy) as store:
            assert store.cursor("replayed") == {"offset": mentions}


def test_a_backup_by_a_newer_earful_is_one_the_older_can_restore(tmp_path: Path) -> None:
    # `pip install --upgrade`, then `earful backup` (check says "back up first"): the
    # copy is the way back, so neither it nor the database may be upgraded by it
    config = write_config(tmp_path, [])
    db = load_config(config).db_path
    conn = factories.at_version(db, 1)
    conn.execute(
        "INSERT INTO mentions (platform, native_id, source, text, fetched_at) "
        "VALUES ('x', '1', 'demo', 'lumenet down', '2026-11-24T10:00:00.000Z')"
    )
    conn.execute(
        "INSERT INTO replies (mention_id, kind, body, drafted_body, status, created_at) "
        "VALUES (1, 'reply', 'Sorry!', 'Sorry!', 'approved', '2026-11-24T10:00:01.000Z')"
    )
    conn.close()
    target = tmp_path / "before-upgrade.db"
    with locks.daemon_lock(db).open("a") as older:  # the older daemon, still running
        fcntl.flock(older, fcntl.LOCK_EX)
        result = earful("backup", "-c", str(config), str(target))
    assert result.exit_code == 0, result.output
    assert "schema v1)" in result.stdout
    assert "a backup does not upgrade" in result.stdout
    assert stored_version(db) == 1 and stored_version(target) == 1
    shown = json.loads(earful("backup", "-c", str(config), str(target), "--force", "--json").stdout)
    assert (shown["schema_version"], shown["mentions"], shown["approved_replies"]) == (1, 1, 1)
    # once upgraded, the database's backups are at this version, and say nothing more
    assert earful("sources", "-c", str(config)).exit_code == 0
    upgraded = earful("backup", "-c", str(config), str(target), "--force")
    assert f"schema v{SCHEMA_VERSION})" in upgraded.stdout
    assert "does not upgrade" not in upgraded.stdout


def test_an_existing_file_is_replaced_only_with_force(tmp_path: Path) -> None:
    config = filled(tmp_path, mentions=3)
    target = tmp_path / "copy.db"
    target.write_bytes(b"last week's backup")
    refused = earful("backup", "-c", str(config), str(target))
    assert refused.exit_code == 2 and "exists; use --force" in refused.output
    assert target.read_bytes() == b"last week's backup"
    assert earful("backup", "-c", str(config), str(target), "--force").exit_code == 0
    assert read(target, "SELECT count(*) FROM mentions") == 3


def test_a_backup_names_the_partial_copies_killed_backups_left(tmp_path: Path) -> None:
    # a nightly backup killed half-way (a reboot at 03:15) left its copy under a
    # hidden name, as big as the database: nothing said so, and nothing deleted it
    config = filled(tmp_path)
    folder = tmp_path / "backups"
    folder.mkdir()
    left = folder / ".earful-2026-12-01.db.partial"
    left.write_bytes(b"\0" * 4096)
    (folder / ".earful-2026-12-01.db.partial-journal").write_bytes(b"\0" * 512)
    made = earful("backup", "-c", str(config), str(folder / "earful-2026-12-02.db"))
    assert made.exit_code == 0, made.output
    assert f"note: {left} (0.0 MB) is a copy an earlier backup left unfinished" in made.stderr
    assert made.stderr.count("left unfinished") == 2  # the journal beside it too
    assert left.exists()  # named, never deleted: it may be a backup running now
    again = earful("backup", "-c", str(config), str(folder / "other.db"), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["mentions"] == 30
    clean = tmp_path / "clean"
    clean.mkdir()
    assert "left unfinished" not in earful("backup", "-c", str(config), str(clean / "b.db")).stderr


def test_a_copy_that_cannot_be_written_leaves_the_old_one_in_place(tmp_path: Path) -> None:
    config = filled(tmp_path, mentions=3)
    target = tmp_path / "copy.db"
    target.write_bytes(b"last week's backup")
    (tmp_path / ".copy.db.partial").mkdir()  # where the new copy would be written
    result = earful("backup", "-c", str(config), str(target), "--force")
    assert result.exit_code == 1
    assert ".copy.db.partial" in result.output
    assert target.read_bytes() == b"last week's backup"


def test_mistakes_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    config = filled(tmp_path, mentions=1)
    db = load_config(config).db_path
    # the database, the files SQLite keeps beside it, the config: never written over
    for own in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), config):
        before = own.read_bytes() if own.exists() else None
        refused = earful("backup", "-c", str(config), str(own), "--force")
        assert refused.exit_code == 2 and "is Earful's own database or config" in refused.output
        assert (own.read_bytes() if own.exists() else None) == before
    unnamed = earful("backup", "-c", str(config), "")
    assert unnamed.exit_code == 2 and "name the file to write" in unnamed.output
    nowhere = earful("backup", "-c", str(config), str(tmp_path / "no" / "such" / "x.db"))
    assert nowhere.exit_code == 2 and "there is no folder" in nowhere.output
    db.unlink()
    missing = earful("backup", "-c", str(config), str(tmp_path / "x.db"))
    assert missing.exit_code == 2 and "there is no database" in missing.output
    assert not (tmp_path / "x.db").exists()


# -- restore -----------------------------------------------------------------------------------


def test_restore_after_a_crash_is_the_copy_not_the_crashed_daemons_last_writes(
    tmp_path: Path,
) -> None:
    config = filled(tmp_path, 10)
    db = load_config(config).db_path
    copy = tmp_path / "copy.db"
    assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    _crash_after_writing(db, range(100, 120))  # 20 more, only in the -wal

    refused = earful("restore", "-c", str(config), str(copy))
    assert refused.exit_code == 2 and "add --force" in refused.output
    result = earful("restore", "-c", str(config), str(copy), "--force")
    assert result.exit_code == 0, result.output
    assert "restored 10 mentions (schema v" in result.output
    assert not db.with_name(db.name + "-wal").exists()
    with Store.open(db) as store:  # as the daemon will open it
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 10


def _crash_after_writing(db: Path, numbers: range) -> None:
    """A daemon that wrote mentions `numbers` and was killed: they are only in the -wal."""
    crashed = (
        "import os, sys, factories\n"
        "from storage.store import Store\n"
        f"store = Store.open({str(db)!r})\n"
        "store.conn.execute('PRAGMA wal_autocheckpoint = 0')\n"
        f"for n in range({numbers.start}, {numbers.stop}):\n"
        "    m = factories.mention(f'lumenet down {n}', native_id=str(n))\n"
        "    store.ingest('replayed', [factories.complaint(m)], {'offset': n})\n"
        "os._exit(0)\n"
    )
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parent)])}
    subprocess.run([sys.executable, "-c", crashed], check=True, env=env)
    assert db.with_name(db.name + "-wal").stat().st_size > 0


def test_restoring_a_moved_database_that_left_its_log_behind_is_refused(tmp_path: Path) -> None:
    # the database was moved while Earful ran; its -wal, with the latest writes, stayed
    # at the old path. Restoring the moved file deleted that log: its writes were lost
    config = filled(tmp_path, 10)
    db = load_config(config).db_path
    _crash_after_writing(db, range(100, 120))
    moved = tmp_path / "moved.db"
    db.rename(moved)
    refused = earful("restore", "-c", str(config), str(moved))
    assert refused.exit_code == 2
    assert "its write-ahead log earful.db-wal is still there" in refused.output
    assert "move it back" in refused.output and "--force" in refused.output
    assert db.with_name(db.name + "-wal").stat().st_size > 0 and not db.exists()
    moved.rename(db)  # what the message says to do: nothing is lost
    assert read(db, "SELECT count(*) FROM mentions") == 30


def test_reading_commands_name_a_moved_database_left_its_log_behind(tmp_path: Path) -> None:
    # the operator's first look after the daemon stopped on a moved database: it said
    # "there is no database yet (`earful run` ... makes it)", the one thing not to do
    config = filled(tmp_path, 10)
    db = load_config(config).db_path
    _crash_after_writing(db, range(100, 120))
    db.rename(tmp_path / "moved.db")
    for command in (["sources"], ["queue", "list"], ["stats"]):
        said = earful(*command, "-c", str(config))
        assert said.exit_code == 1, (command, said.output)
        assert "its write-ahead log earful.db-wal is still there" in said.output
        assert "makes it" not in said.output


def test_a_restore_says_what_the_copy_will_send_when_earful_starts(tmp_path: Path) -> None:
    config = filled(tmp_path, 3)
    db = load_config(config).db_path
    with Store.open(db) as store:
        first = store.replies("pending")[0]
        store.approve(first.id, "ana")
    copy = tmp_path / "copy.db"
    assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    result = CliRunner().invoke(cli, ["restore", "-c", str(config), str(copy), "--force"])
    assert result.exit_code == 0, result.output
    assert "note: the copy holds 1 approved reply and " in result.stderr
    assert "earful queue list --status approved" in result.stderr
    shown = json.loads(earful("restore", "-c", str(config), str(copy), "--force", "--json").output)
    assert shown["approved_replies"] == 1 and shown["pending_alerts"] >= 0
    # found on the platform (it went out after the backup): marked sent, not posted again
    marked = earful("queue", "mark-sent", str(first.id), "-c", str(config), "--as", "ana")
    assert marked.exit_code == 0, marked.output
    with Store.open(db) as store:
        assert store.reply(first.id).status == "sent"
        assert not store.claim_for_posting(dry_run=False)


def test_an_alert_sent_since_the_backup_can_be_marked_sent_after_a_restore(
    tmp_path: Path,
) -> None:
    config = filled(tmp_path, 1)
    db = load_config(config).db_path
    m = factories.mention("lumenet down for everyone, I'm leaving", native_id="urgent")
    escalation = Draft(DraftKind.ESCALATION, "Urgent: @ana", m.key, "vip")
    with Store.open(db) as store:
        store.ingest("replayed", [Judged(m, factories.verdict(), (escalation,))], {})
        alert_id = store.alerts("pending")[0]["id"]
    copy = tmp_path / "copy.db"
    assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    restored = CliRunner().invoke(cli, ["restore", "-c", str(config), str(copy), "--force"])
    assert "1 pending alert" in restored.stderr
    assert "earful alerts mark-sent ID for one already in the channel" in restored.stderr
    # it went out after the backup was taken: found in the channel, not sent again
    marked = earful("alerts", "mark-sent", str(alert_id), "-c", str(config), "--as", "ana")
    assert marked.exit_code == 0, marked.output
    with Store.open(db) as store:
        assert store.alerts("pending") == [] and store.alert(alert_id).status == "sent"
        assert store.audit_log(subject=f"alert:{alert_id}")[0].actor == "ana"


def test_restore_refuses_a_running_daemon_and_a_file_that_is_no_database(tmp_path: Path) -> None:
    config = filled(tmp_path, 3)
    db = load_config(config).db_path
    before = db.read_bytes()
    junk = tmp_path / "notes.db"
    junk.write_text("not a database", encoding="utf-8")
    bad = earful("restore", "-c", str(config), str(junk), "--force")
    assert bad.exit_code == 1 and "is not an Earful database" in bad.output
    copy = tmp_path / "copy.db"
    earful("backup", "-c", str(config), str(copy))
    with locks.held(locks.daemon_lock(db), "a test holds it"):
        busy = earful("restore", "-c", str(config), str(copy), "--force")
    assert busy.exit_code == 1 and "a daemon is running" in busy.output
    itself = earful("restore", "-c", str(config), str(db), "--force")
    assert itself.exit_code == 2 and "is the database itself" in itself.output
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds password hashes and session digests: under the usual umask (022)
    SQLite alone would make it, and its -wal, readable by every user."""
    config = write_config(tmp_path, [])
    old_umask = os.umask(0o022)
    try:
        result = earful("poll", "-c", str(config))
        assert result.exit_code == 0, result.output
        db = load_config(config).db_path
        with Store.open(db) as store:  # open, as the daemon keeps it: -wal and -shm exist
            assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 0
            modes = {p.name: p.stat().st_mode & 0o7777 for p in tmp_path.glob("earful.db*")}
    finally:
        os.umask(old_umask)
    assert modes == {"earful.db": 0o600, "earful.db-wal": 0o600, "earful.db-shm": 0o600}


def test_a_backup_is_never_readable_by_more_users_than_the_database(tmp_path: Path) -> None:
    """Under sudo's umask (022) a copy of a 0600 database would be world-readable,
    password hashes and all."""
    config = filled(tmp_path, 3)
    db = load_config(config).db_path
    db.chmod(0o600)
    copy = tmp_path / "copy.db"
    old_umask = os.umask(0o022)
    try:
        assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    finally:
        os.umask(old_umask)
    assert copy.stat().st_mode & 0o7777 == 0o600
    db.chmod(0o640)  # a group may read the database: its copy, no more than the umask gives
    os.umask(0o027)
    try:
        assert earful("backup", "-c", str(config), str(copy), "--force").exit_code == 0
    finally:
        os.umask(old_umask)
    assert copy.stat().st_mode & 0o7777 == 0o640


def test_the_partial_copy_is_no_wider_than_the_database_while_sqlite_fills_it(
    tmp_path: Path,
) -> None:
    """A backup killed half-way leaves its partial copy behind, password hashes and
    all: it must be narrow from the start, not only once finished. SQLite calls a
    progress handler on the store's connection while VACUUM INTO writes, which is
    when the test looks at the partial copy."""
    config = filled(tmp_path, 200)
    db = load_config(config).db_path
    db.chmod(0o600)
    seen: list[tuple[int, int]] = []  # (mode, size) of the partial copy

    def look() -> int:
        for partial in tmp_path.glob(".copy.db.partial*"):
            info = partial.stat()
            seen.append((info.st_mode & 0o7777, info.st_size))
        return 0  # go on

    old_umask = os.umask(0o022)  # sudo's: a file SQLite made itself would be 0644
    try:
        with Store.open(db) as store:
            store.conn.set_progress_handler(look, 50)
            backup(store, tmp_path / "copy.db")
    finally:
        os.umask(old_umask)
    assert any(size > 0 for _, size in seen), "never saw SQLite writing the copy"
    assert {mode for mode, _ in seen} == {0o600}


def test_restore_keeps_the_owner_and_mode_of_the_database_it_replaces(tmp_path: Path) -> None:
    """`sudo earful restore` must leave the daemon's user a file it can write (and a
    0660 database no wider than it was)."""
    config = filled(tmp_path, 3)
    db = load_config(config).db_path
    copy = tmp_path / "copy.db"
    assert earful("backup", "-c", str(config), str(copy)).exit_code == 0
    # The daemon's user's file. Run as root, the test gives it to another user, as a
    # service account's would be; otherwise only root could, and it stays the tester's.
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(db, *owner)
    db.chmod(0o660)  # not what the usual umasks (022, 027, 077) give a new file
    result = earful("restore", "-c", str(config), str(copy), "--force")
    assert result.exit_code == 0, result.output
    restored = db.stat()
    assert (restored.st_uid, restored.st_gid) == owner
    assert restored.st_mode & 0o7777 == 0o660
    with Store.open(db) as store:
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 3
