"""Retention: deleting posts older than a cutoff with everything stored about them,
except where a person still has work.

A case goes whole or not at all: its history must not lose its first posts while its
last ones stay. A case stays while any of its posts is newer than the cutoff, while
any of its drafts waits for a person (pending, approved, sending, unknown, failed),
any callback task is open or any alert is still to be sent or in doubt, while it is
escalated, while it holds praise someone starred, and for a day after anyone last
worked on it (a decision, a task done, an assignment): a rejection made by mistake
can still be undone. Posts without a case (noise, which never has a draft) go on
their age alone. A post's age is its own time, or when it was fetched when the
platform gave none.

The newest post, case, draft, task and alert of all are kept, whatever their age:
SQLite gives a new row the highest id plus one, and the audit log names rows by id,
so a deleted newest row's id would be given again and its history read as the new
row's.

What stays: the audit log (who decided what), the charts' daily counts
(`mention_days`), authors' cooldowns (`contacts`), sources' cursors. Each deleted
post's key is kept in `pruned_posts` (schema v8), so that it is not stored again when
a source delivers it once more.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

_OPEN_REPLY = "('pending', 'approved', 'sending', 'unknown', 'failed')"
# an alert that failed for good is not work: its case is escalated (kept) until a
# person resolves it
_OPEN_ALERT = "('pending', 'sending', 'unknown')"

# A case that may go: old, settled, not escalated, nothing starred, nobody worked on
# it since :recent. Each test walks an index (mentions_case, replies_mention,
# alerts' and praise's mention keys, callbacks_case, replies_case).
_CASE_MAY_GO = f"""
    SELECT c.id FROM cases c
    WHERE c.id = :case AND c.status != 'escalated'
    AND c.updated_at < :recent AND coalesce(c.resolved_at, '') < :recent
    AND NOT EXISTS (
        SELECT 1 FROM mentions m WHERE m.case_id = c.id
        AND (coalesce(m.created_at, m.fetched_at) >= :cutoff
             OR EXISTS (SELECT 1 FROM replies r
                        WHERE r.mention_id = m.id AND r.status IN {_OPEN_REPLY})
             OR EXISTS (SELECT 1 FROM alerts a
                        WHERE a.mention_id = m.id AND a.status IN {_OPEN_ALERT})
             OR EXISTS (SELECT 1 FROM praise p WHERE p.mention_id = m.id AND p.starred))
    )
    AND NOT EXISTS (
        SELECT 1 FROM callbacks k WHERE k.case_id = c.id
        AND (k.status = 'open' OR coalesce(k.done_at, '') >= :recent)
    )
    AND NOT EXISTS (
        SELECT 1 FROM replies r WHERE r.case_id = c.id
        AND max(coalesce(r.decided_at, ''), coalesce(r.sent_at, '')) >= :recent
    )
"""

# The rows holding each table's highest id, and so their posts and cases.
_NEWEST = """
    SELECT id, case_id FROM mentions WHERE id = (SELECT max(id) FROM mentions)
                                        OR id = (SELECT mention_id FROM replies
                                                 WHERE id = (SELECT max(id) FROM replies))
                                        OR id = (SELECT mention_id FROM callbacks
                                                 WHERE id = (SELECT max(id) FROM callbacks))
                                        OR id = (SELECT mention_id FROM alerts
                                                 WHERE id = (SELECT max(id) FROM alerts))
    UNION ALL SELECT NULL, max(id) FROM cases
"""

# Oldest first, after the last one looked at: posts kept for open work are passed
# over instead of read again by every later step.
_OLD_DATED = """
    SELECT id, case_id, created_at FROM mentions
    WHERE created_at < :cutoff AND (created_at, id) > (:at, :id)
    ORDER BY created_at, id LIMIT :n
"""
_OLD_UNDATED = """
    SELECT id, case_id, NULL FROM mentions
    WHERE created_at IS NULL AND id > :id AND fetched_at < :cutoff
    ORDER BY id LIMIT :n
"""

# What one step takes, in the order foreign keys allow (each reference first). A dry
# run counts the same rows instead.
_DELETES = (
    "DELETE FROM replies WHERE mention_id IN (SELECT id FROM temp.prune_mentions)",
    "DELETE FROM callbacks WHERE case_id IN (SELECT id FROM temp.prune_cases)",
    "DELETE FROM alerts WHERE mention_id IN (SELECT id FROM temp.prune_mentions)",
    "DELETE FROM praise WHERE mention_id IN (SELECT id FROM temp.prune_mentions)",
    "DELETE FROM verdicts WHERE mention_id IN (SELECT id FROM temp.prune_mentions)",
    # the delete trigger takes each post out of the search index
    "DELETE FROM mentions WHERE id IN (SELECT id FROM temp.prune_mentions)",
    "DELETE FROM cases WHERE id IN (SELECT id FROM temp.prune_cases)",
)
_COUNTS = tuple(sql.replace("DELETE FROM", "SELECT count(*) FROM", 1) for sql in _DELETES)


@dataclass(frozen=True)
class Pruned:
    """What a prune deleted (or, dry, would delete), and how many posts older than
    the cutoff it kept for open work."""

    cutoff: str
    mentions: int = 0
    cases: int = 0
    replies: int = 0
    callbacks: int = 0
    alerts: int = 0
    kept: int = 0

    def plus(self, other: Pruned) -> Pruned:
        fields = ("mentions", "cases", "replies", "callbacks", "alerts", "kept")
        return Pruned(self.cutoff, *(getattr(self, k) + getattr(other, k) for k in fields))


@dataclass(frozen=True)
class Position:
    """Where the walk over old posts has got to: dated posts by (time, id), then the
    undated ones by id."""

    at: str = ""
    id: int = 0
    undated: bool = False


def old_posts(conn: sqlite3.Connection, cutoff: str) -> int:
    """How many stored posts are older than the cutoff (a progress bar's total)."""
    dated = conn.execute("SELECT count(*) FROM mentions WHERE created_at < ?", (cutoff,))
    undated = conn.execute(
        "SELECT count(*) FROM mentions WHERE created_at IS NULL AND fetched_at < ?", (cutoff,)
    )
    return int(dated.fetchone()[0]) + int(undated.fetchone()[0])


def start(conn: sqlite3.Connection) -> None:
    """Make this connection's scratch tables (temporary: no other connection sees
    them, and writing them takes no lock on the database)."""
    for table in ("prune_cases", "prune_mentions", "prune_counted"):
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY)")
        conn.execute(f"DELETE FROM temp.{table}")


@dataclass(frozen=True)
class Bounds:
    """Posts older than `cutoff` may go; a case anyone worked on since `recent`
    stays. Both ISO UTC, as the store writes times."""

    cutoff: str
    recent: str


def prune_step(
    conn: sqlite3.Connection, bounds: Bounds, position: Position, *, limit: int, dry_run: bool
) -> tuple[Pruned, int, Position | None]:
    """Delete what may go among the next `limit` old posts, inside the caller's
    transaction (`dry_run`: count it instead): what went, how many posts were looked
    at, and where the next step starts (None: no old posts are left)."""
    params = {"cutoff": bounds.cutoff, "at": position.at, "id": position.id, "n": limit}
    rows = [] if position.undated else conn.execute(_OLD_DATED, params).fetchall()
    if len(rows) < limit:
        undated_from = position.id if position.undated else 0
        params.update(id=undated_from, n=limit - len(rows))
        rows += conn.execute(_OLD_UNDATED, params).fetchall()
    if not rows:
        return Pruned(bounds.cutoff), 0, None
    last = rows[-1]
    following = Position(last[2] or "", last[0], undated=last[2] is None)
    return _take(conn, bounds, rows, dry_run=dry_run), len(rows), following


def _take(
    conn: sqlite3.Connection, bounds: Bounds, rows: Sequence[sqlite3.Row], *, dry_run: bool
) -> Pruned:
    newest_posts: set[int] = set()
    newest_cases: set[int] = set()
    for post, case in conn.execute(_NEWEST):
        if post is not None:
            newest_posts.add(post)
        if case is not None:
            newest_cases.add(case)
    cases = {row[1] for row in rows if row[1] is not None}
    if dry_run:
        # nothing is deleted, so a case counted earlier comes round again
        cases = {c for c in cases if not _row(conn, "temp.prune_counted", c)}
    going = [
        (case,)
        for case in sorted(cases - newest_cases)
        if conn.execute(
            _CASE_MAY_GO, {"case": case, "cutoff": bounds.cutoff, "recent": bounds.recent}
        ).fetchone()
        is not None
    ]
    caseless = [row[0] for row in rows if row[1] is None]
    conn.execute("DELETE FROM temp.prune_cases")
    conn.execute("DELETE FROM temp.prune_mentions")
    conn.executemany("INSERT INTO temp.prune_cases VALUES (?)", going)
    # every post of a case that goes, some perhaps further on in the walk
    conn.execute(
        "INSERT INTO temp.prune_mentions SELECT id FROM mentions "
        "WHERE case_id IN (SELECT id FROM temp.prune_cases)"
    )
    conn.executemany(
        "INSERT INTO temp.prune_mentions VALUES (?)",
        [(post,) for post in caseless if post not in newest_posts],
    )
    if dry_run:
        counts = [int(conn.execute(sql).fetchone()[0]) for sql in _COUNTS]
        conn.executemany("INSERT INTO temp.prune_counted VALUES (?)", going)
    else:
        conn.execute(_REMEMBER)
        counts = [conn.execute(sql).rowcount for sql in _DELETES]
    replies, callbacks, alerts, _praise, _verdicts, mentions, taken = counts
    gone = {case for (case,) in going}
    kept = sum(1 for row in rows if row[1] in cases and row[1] not in gone)
    kept += sum(1 for post in caseless if post in newest_posts)
    return Pruned(bounds.cutoff, mentions, taken, replies, callbacks, alerts, kept)


# A deleted post's key, so that the post is not stored again (storage.ingest).
_REMEMBER = """
    INSERT OR IGNORE INTO pruned_posts (platform, native_id)
    SELECT platform, native_id FROM mentions WHERE id IN (SELECT id FROM temp.prune_mentions)
"""


def _row(conn: sqlite3.Connection, table: str, key: int) -> bool:
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (key,)).fetchone() is not None
