"""The Store: every read and write Earful makes, as verbs a user would recognise.

Writes run in explicit `BEGIN IMMEDIATE` transactions; every state change of a reply
is one guarded `UPDATE ... WHERE status = <expected>` so that two people (or two
processes) deciding at once cannot both win, and each decision is audit-logged in
the same transaction as the change it records.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlite_utils

from listener.mention import Mention
from listener.normalize import http_url
from responders.drafts import Contact
from responders.templating import PLATFORM_NAMES
from storage import retention
from storage.db import connect, dumps, from_iso, iso, loads, shown_time, text
from storage.ingest import last_drafts, stored_keys, write_batch
from storage.records import (
    FLAGS,
    Account,
    AlertRecord,
    AuditEntry,
    CallbackRecord,
    CaseRecord,
    Claimed,
    IngestResult,
    Judged,
    MentionRecord,
    Rejection,
    ReplyDetail,
    ReplyRecord,
    Stats,
    UserRecord,
    VerdictRecord,
)
from storage.schema import OWN_POST_SQL, ROLES, SPAM_SQL, migrate

Clock = Callable[[], datetime]


# posts by others that are not spam: what net sentiment is made of
_OTHERS = f"NOT ({OWN_POST_SQL}) AND v.labels NOT LIKE '%\"spam\"%'"

# What a time to first reply measures, in replies r of cases c: support's answers to
# complaints, and thank-yous (marketing's, often days later in a batch) on their own.
# The replies the time to first reply counts, and what their wait runs from. A reply
# counts when it answers a complaint (not a question: a thread that opened with a
# question, answered, and turned into a complaint later is one case), a thank-you when
# it answers praise; each from the case's first post of that kind. A case's posts go
# with it or not at all (storage.retention), so its first one is there.
_ANSWERED = "CASE {r}.kind WHEN 'reply' THEN 'interesting_bad' ELSE 'interesting_good' END"


def first_sent(r: str) -> str:
    """Whether the reply `r` (a table alias) is one the time to first reply counts."""
    return (
        f"({r}.kind IN ('reply', 'thanks') AND EXISTS (SELECT 1 FROM verdicts a "
        f"WHERE a.mention_id = {r}.mention_id AND a.disposition = {_ANSWERED.format(r=r)}))"
    )


# INDEXED BY: the case's own posts, a few; without ANALYZE figures the planner
# walked every complaint's verdict for each reply (12 s for 3,000 replies)
FIRST_ASKED = (
    "(SELECT min(coalesce(m.created_at, m.fetched_at)) FROM mentions m INDEXED BY mentions_case "
    "JOIN verdicts v ON v.mention_id = m.id "
    f"WHERE m.case_id = r.case_id AND v.disposition = {_ANSWERED.format(r='r')})"
)


# when a post was posted, or (undated) fetched: the day an export or a chart puts it on
_POSTED = ("coalesce(m.created_at, m.fetched_at)",)


def _in_days(since: date | None, until: date | None) -> tuple[str, list[str]]:
    """A condition on a time column `{c}` (empty: no bounds) and its parameters:
    from the UTC day `since` on, up to the UTC day `until` included."""
    conditions, params = [], []
    if since is not None:
        conditions.append("{c} >= ?")
        params.append(since.isoformat())
    if until is not None:
        conditions.append("{c} < ?")  # before the next day: ISO text sorts by time
        params.append((until + timedelta(days=1)).isoformat())
    return " AND ".join(conditions), params


# The days a report or an export may be asked for: a window's date arithmetic (a
# year back, a day on) stays inside Python's dates, and no post is dated outside.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


def day_problem(day: date) -> str | None:
    """What is wrong with asking for `day`, or None."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"expected a day from {FIRST_DAY} to {LAST_DAY}, got {day}"


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def net_sentiment(good: int, bad: int, others: int) -> float | None:
    """Praise minus complaints per 100 posts by others (None: no such posts)."""
    return round(100.0 * (good - bad) / others, 1) if others > 0 else None


class StoreError(Exception):
    pass


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """Someone else changed it first; the message says who and when, where known."""


class CaseConflict(Conflict):
    """A case was not in a state the change applies to; the message says why and,
    when the audit log knows, who changed it last."""


# The reason of an alert a person raised by escalating a case: sent whatever the
# case's urgency (escalation.min_urgency is for the alerts Earful raises itself).
PERSON_ESCALATED = "escalated by "

# An alert a person sent again (`alerts retry`, "Send again"): none of the rules that
# skip alerts holds it back, or the person's decision would be undone at once.
_RETRIED = "EXISTS (SELECT 1 FROM audit WHERE subject = 'alert:' || a.id AND action = 'retried')"

# An alert that went out (or may have), for the one-alert rules: a `failed` one does
# not count, so the next alert is still sent.
_ALERTED = "('sent', 'sending', 'unknown')"

# The first alert that went out about the same author on the same platform for
# another case that is not resolved, at this alert's urgency or above: senior staff
# have them already (an angry customer who posts ten times opens ten cases on X),
# but not a later post that is worse (a churn threat after a grumble). `a` is the
# alert, `m` its post, `v` its verdict.
_AUTHOR_ALERTED = f"""
    (SELECT min(b.id) FROM alerts b
     JOIN mentions bm ON bm.id = b.mention_id
     JOIN cases bc ON bc.id = b.case_id
     JOIN verdicts bv ON bv.mention_id = b.mention_id
     WHERE b.status IN {_ALERTED} AND b.case_id != a.case_id AND bc.status != 'resolved'
       AND bm.platform = m.platform AND bm.author_handle = m.author_handle
       AND bv.urgency >= v.urgency)
"""


def _author_alerted(handle: str, platform: str, alert_id: int) -> str:
    """Why an alert about an author senior staff already have is skipped."""
    where = PLATFORM_NAMES.get(platform, platform)
    return (
        f"@{handle} on {where} already escalated by alert {alert_id}, as urgent or more, "
        "in a case not resolved"
    )


@dataclass(frozen=True, slots=True)
class SeenAssignee:
    """Whom a person saw a case assigned to (None: nobody) when they changed it."""

    assignee: str | None


# A person's change to a reply after its approval, which keeps the approver as who
# decided it: a conflict with it names who made it, not the approval it followed.
_SETTLED_AS = {"retry": "retried", "confirm-sent": "marked sent"}


class AlreadyDecided(Conflict):
    """The reply was not in the state the caller expected: someone else got there
    first. The message names who and when: `settled`, the latest of a person's
    changes to it, when it was a retry or a mark-sent."""

    def __init__(
        self,
        reply: ReplyRecord,
        wanted: str,
        expected: Sequence[str] = (),
        settled: AuditEntry | None = None,
    ) -> None:
        if settled is not None and settled.action in _SETTLED_AS:
            how = f"{_SETTLED_AS[settled.action]} by {settled.actor} at {shown_time(settled.at)}"
            state = f"it is already {reply.status} ({how})"
        elif reply.decided_by:
            when = f" at {shown_time(reply.decided_at)}" if reply.decided_at else ""
            if reply.status in ("approved", "rejected"):
                state = f"it was already {reply.status} by {reply.decided_by}{when}"
            else:  # the publisher moved it on: the person decided only the approval
                state = f"it is already {reply.status} (approved by {reply.decided_by}{when})"
        else:  # nobody decided it yet: say which states the change needs
            needed = f" (expected {' or '.join(expected)})" if expected else ""
            state = f"it is {reply.status}{needed}"
        super().__init__(f"reply {reply.id} cannot be {wanted}: {state}")
        self.reply = reply


class EditedSince(Conflict):
    """A draft's text is no longer the text the person decided on: someone saved an
    edit after they read it. The message names who and when."""

    def __init__(self, reply: ReplyRecord, wanted: str, last_edit: AuditEntry | None) -> None:
        who = (
            f"{last_edit.actor} changed its text at {shown_time(last_edit.at)}"
            if last_edit
            else ("its text was changed")
        )
        super().__init__(
            f"reply {reply.id} not {wanted}: {who}, after you opened it. "
            "Read the new text, then decide again."
        )
        self.reply = reply


# What EditedSince says was not done, by the action refused.
_NOT_DONE = {"approve": "approved", "edit": "saved"}
# Export columns holding a post's link: only http(s) ones are exported
# the mentions export's flags: the brand's own post, spam (each as reports count them)
_EXPORT_FLAGS = frozenset({"own_post", "spam"})
_LINKS = frozenset({"url", "permalink", "in_reply_to_url", "posted_url", "author_url"})
# What a person may approve, edit or reject: a draft, and a reply the platform
# refused ("too long: shorten it and approve again" must be something they can do).
DECIDABLE = ("pending", "failed")

# A case someone worked on within this stays through a prune: a rejection made by
# mistake can still be undone (storage.retention).
RECENT_WORK = timedelta(days=1)

# FTS5's time grows fast with the terms of a query: thousands of them take seconds
# to minutes, and the console's search box is open to every viewer.
MAX_SEARCH = 200


def search_words(query: str) -> str:
    """A search as FTS5 can take it: control characters (NUL cuts FTS5's reading
    of the query short: "unterminated string") become spaces, which is what the
    tokenizer makes of them in the posts anyway."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in query).strip()


def searched_author(query: str) -> str | None:
    """The handle a search of one @word names ("@ana", "@ana@other.social"), whose
    own posts it finds too: FTS reads what posts say, not who wrote them."""
    if query.startswith("@") and len(query) > 1 and not any(ch.isspace() for ch in query):
        return query[1:]
    return None


# An "@" that starts a word: FTS5 takes it for syntax, and the posts' words are
# indexed without it ("@ana" is "ana"), so "@ana refund" is the words "ana refund".
_AT_WORD = re.compile(r"(?<!\S)[@＠](?=\S)")


# FTS5's operators, which it knows only in capitals: a person typing "NOT working"
# or "AND down" means the words (searches are words, not a query language)
_OPERATOR = re.compile(r"\b(AND|OR|NOT|NEAR)\b")


def fts_words(query: str) -> str:
    """The search as FTS5 reads the posts' words: "@ana refund" finds a post naming
    @ana that says refund (as one phrase, FTS's fallback, it found none), and "NOT
    working" a post that says not working (FTS5 took NOT for its operator)."""
    return _OPERATOR.sub(lambda m: m[1].lower(), _AT_WORD.sub("", query))


def fts_phrase(query: str) -> str:
    """FTS syntax the person did not mean (a stray quote or colon) searched as one
    phrase instead of failing."""
    return '"' + query.replace('"', '""') + '"'


# A mention by the author a search of one @handle names (searched_author), any case:
# index mentions_handle (schema v11).
BY_AUTHOR = "author_handle = CAST(? AS TEXT) COLLATE NOCASE"


def posted_id_problem(posted_id: str) -> str | None:
    """Why a reply's id on the platform, as a person typed it, cannot be one: ids
    are printable and have no spaces (numbers, at:// URIs, t1_ names)."""
    if all(ch.isprintable() and not ch.isspace() for ch in posted_id):
        return None
    return "a posted id is printable text without spaces"


def check_search(query: str) -> None:
    if len(query) > MAX_SEARCH:
        raise StoreError(
            f"a search is at most {MAX_SEARCH} characters (this one has {len(query):,})"
        )


def _rest(conn: sqlite3.Connection, platform: str, until: datetime) -> None:
    conn.execute(
        "INSERT INTO publish_rests (platform, until) VALUES (?, ?) "
        "ON CONFLICT (platform) DO UPDATE SET until = excluded.until",
        (platform, iso(until)),
    )


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _utcnow() -> datetime:
    return datetime.now(UTC)


_REPLY_SELECT = """
    SELECT r.*, m.source, m.platform, m.native_id, m.url, m.author_handle, m.author_name,
           m.text, m.conversation_id, v.disposition, v.topic, v.segment
    FROM replies r
    JOIN mentions m ON m.id = r.mention_id
    JOIN verdicts v ON v.mention_id = r.mention_id
"""

_ALERT_SELECT = """
    SELECT a.*, m.platform, m.native_id, m.url, m.author_handle, m.author_name,
           m.author_followers, m.text, v.disposition, v.urgency, v.topic, v.segment,
           v.labels, v.actions, v.reasons
    FROM alerts a
    JOIN mentions m ON m.id = a.mention_id
    JOIN verdicts v ON v.mention_id = a.mention_id
"""

# A task is worked by whoever has its case: callbacks.assignee was never written,
# and a listing that said null for every task hid who was calling whom.
_CALLBACK_SELECT = """
    SELECT c.id, c.case_id, c.mention_id, c.body, c.reason, c.status, c.urgency,
           coalesce(c.assignee, k.assignee) AS assignee, c.created_at, c.done_by,
           c.done_at, m.platform, m.author_handle, m.url
    FROM callbacks c JOIN mentions m ON m.id = c.mention_id
    LEFT JOIN cases k ON k.id = c.case_id
"""

# The filter value for work nobody has taken: a name holds no space (see
# earful.console.passwords.name_problem), so no account can be called this.
NOT_TAKEN = "not taken"


def taken_by(case_id: str, assignee: str | None) -> tuple[str, list[Any]]:
    """SQL (and its parameters) keeping rows whose case (`case_id`, a column) is taken
    by `assignee`, or by nobody for NOT_TAKEN; ("", []) for None, every row. The
    taken cases are listed once, not looked up for each row: the queue walked every
    pending draft's case for a lead's one click (200 ms at 40,000 drafts)."""
    if assignee is None:
        return "", []
    if assignee == NOT_TAKEN:
        return (
            f"({case_id} IS NULL OR {case_id} NOT IN "
            "(SELECT id FROM cases WHERE assignee IS NOT NULL))",
            [],
        )
    return f"{case_id} IN (SELECT id FROM cases WHERE assignee = CAST(? AS TEXT))", [assignee]


# A task a rejection closed, open again: not in a case resolved since, nor beside
# another open task of its case.
_REOPEN_TASK = """
    UPDATE callbacks SET status = 'open', done_by = NULL, done_at = NULL
    WHERE id = ? AND status = 'done'
    AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = callbacks.case_id
                    AND c.status = 'resolved')
    AND NOT EXISTS (SELECT 1 FROM callbacks other WHERE other.case_id = callbacks.case_id
                    AND other.status = 'open')
"""

# The open tasks drafted with a reply, and whether a later complaint in the case
# leans on each.
_OWN_TASKS = """
    SELECT k.id, EXISTS (
        SELECT 1 FROM mentions m JOIN verdicts v ON v.mention_id = m.id
        WHERE m.case_id = k.case_id AND m.id > r.mention_id
        AND v.disposition = 'interesting_bad'
    )
    FROM replies r JOIN callbacks k ON k.mention_id = r.mention_id
    WHERE r.id = ? AND k.status = 'open' ORDER BY k.id
"""


class Store:
    """One SQLite file. Safe to share between the daemon's threads (one lock around
    the connection); other processes open their own Store on the same file."""

    def __init__(
        self, conn: sqlite3.Connection, *, clock: Clock = _utcnow, path: Path | None = None
    ) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.clock = clock
        self._lock = threading.RLock()
        self.path = path
        # which file was opened: a path can come to name another one (or none)
        self._file_identity = _file_id(path) if path is not None else None

    @classmethod
    def open(cls, path: str | Path, *, clock: Clock = _utcnow, upgrade: bool = True) -> Store:
        """`upgrade`: see schema.migrate (False only to copy the file as it is)."""
        conn = connect(path)
        try:
            migrate(sqlite_utils.Database(conn), upgrade=upgrade)
        except BaseException:
            conn.close()
            raise
        return cls(conn, clock=clock, path=None if str(path) == ":memory:" else Path(path))

    def file_problem(self) -> str | None:
        """Why the file this store has open is no longer the one at its path (deleted,
        moved away, replaced by a restored copy), or None. Whatever is written then
        goes where nobody will read it."""
        if self.path is None or self._file_identity is None:
            return None
        current = _file_id(self.path)
        if current is None:
            return f"the database {self.path} was deleted or moved away"
        if current != self._file_identity:
            return f"the database {self.path} was replaced by another file"
        return None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def tidy(self) -> None:
        """Hourly upkeep: refresh the query planner's statistics and move what the
        write-ahead log holds into the database file, without waiting on readers."""
        with self._lock:
            self.conn.execute("PRAGMA optimize")
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads that see one moment: a batch committed between two of them would
        make figures that do not add up (54 mentions, 52 by disposition)."""
        with self._lock:
            self.conn.execute("BEGIN")
            try:
                yield
            finally:
                self.conn.execute("COMMIT")

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction. `durable`: its COMMIT is synced to disk before it
        returns. Other commits wait for the next checkpoint's sync (WAL with
        synchronous=NORMAL), so a power cut can undo the last of them; a claim to
        post must not be undone that way, or the reply would be posted again."""
        with self._lock:
            if durable:
                self.conn.execute("PRAGMA synchronous = FULL")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous = NORMAL")

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def _audit(
        self, conn: sqlite3.Connection, actor: str, action: str, subject: str, **detail: Any
    ) -> None:
        conn.execute(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, "
            "CAST(? AS TEXT))",
            (iso(self.clock()), actor, action, subject, dumps(detail) if detail else None),
        )

    # -- ingest ---------------------------------------------------------------

    def cursor(self, source: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT cursor FROM cursors WHERE source = ?", (source,))
        return loads(rows[0]["cursor"]) if rows else None

    def unseen(self, mentions: Iterable[Mention]) -> list[Mention]:
        """The mentions not stored yet (nor pruned), each once, in their original
        order."""
        batch: dict[tuple[str, str], Mention] = {}
        for m in mentions:
            batch.setdefault(m.key, m)
        if not batch:
            return []
        with self._lock:
            stored = stored_keys(self.conn, list(batch))
        return [m for key, m in batch.items() if key not in stored]

    def last_contacts(
        self, authors: Iterable[tuple[str, str | None]]
    ) -> dict[tuple[str, str], Contact]:
        """When each (platform, handle) was last drafted to, and for what, for the
        cooldown."""
        with self._lock:
            stored = last_drafts(self.conn, authors)
        return {
            key: Contact(moment, weight)
            for key, (at, weight) in stored.items()
            if (moment := from_iso(at)) is not None
        }

    def ingest(
        self,
        source: str,
        batch: Sequence[Judged],
        cursor: Mapping[str, Any] | None,
        edits: Sequence[Mention] = (),
    ) -> IngestResult:
        """Store mentions, verdicts, drafts and the source's new cursor in ONE
        transaction: a crash before COMMIT leaves none of it, so the same page is
        fetched again and stored once. `edits` (posts with a version_id) revise the
        text of the posts they edit, when stored."""
        now = iso(self.clock())
        with self._write() as conn:
            return write_batch(conn, source, batch, cursor, now, edits)

    # -- retention ------------------------------------------------------------

    def old_posts(self, older_than: timedelta) -> int:
        """How many stored posts are older than `older_than`."""
        with self._lock:
            return retention.old_posts(self.conn, iso(self.clock() - older_than))

    def prune(
        self,
        older_than: timedelta,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] = lambda: False,
        step: int = 500,
    ) -> retention.Pruned:
        """Delete posts older than `older_than` with everything about them, except
        where a person still has work (storage.retention). One transaction a step of
        `step` posts, so the daemon's writes go on in between; `progress` hears how
        many posts each step looked at; `stopping` true ends it after a step (the next
        prune goes on from there). `dry_run`: count, delete nothing."""
        now = self.clock()
        bounds = retention.Bounds(cutoff=iso(now - older_than), recent=iso(now - RECENT_WORK))
        with self._lock:
            retention.start(self.conn)
        total = retention.Pruned(bounds.cutoff)
        position: retention.Position | None = retention.Position()
        while position is not None and not stopping():
            with self._snapshot() if dry_run else self._write():
                pruned, looked, position = retention.prune_step(
                    self.conn, bounds, position, limit=step, dry_run=dry_run
                )
            total = total.plus(pruned)
            if progress is not None and looked:
                progress(looked)
        return total

    # -- the queue ------------------------------------------------------------

    def replies(
        self,
        status: str | None = "pending",
        *,
        limit: int = 50,
        offset: int = 0,
        platform: str | None = None,
    ) -> list[ReplyRecord]:
        """Drafts most urgent first (then most interesting, then oldest)."""
        where, params = [], []
        if status:
            where.append("r.status = ?")
            params.append(status)
        if platform:
            where.append("m.platform = ?")
            params.append(platform)
        sql = _REPLY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY r.urgency DESC, r.interest DESC, r.id LIMIT ? OFFSET ?"
        return [ReplyRecord.from_row(r) for r in self._rows(sql, [*params, limit, offset])]

    def reply(self, reply_id: int) -> ReplyRecord:
        rows = self._rows(_REPLY_SELECT + " WHERE r.id = ?", (reply_id,))
        if not rows:
            raise NotFound(f"no reply with id {reply_id}")
        return ReplyRecord.from_row(rows[0])

    def detail(self, reply_id: int) -> ReplyDetail:
        reply = self.reply(reply_id)
        mention = self.mention(reply.mention_id)
        verdict = self.verdict(reply.mention_id)
        case = thread = None
        callbacks: tuple[CallbackRecord, ...] = ()
        if reply.case_id is not None:
            case = CaseRecord.from_row(
                self._rows("SELECT * FROM cases WHERE id = ?", (reply.case_id,))[0]
            )
            thread = tuple(
                MentionRecord.from_row(r)
                for r in self._rows(
                    "SELECT * FROM mentions WHERE case_id = ? AND id != ? ORDER BY created_at, id",
                    (reply.case_id, reply.mention_id),
                )
            )
            callbacks = tuple(
                CallbackRecord.from_row(r)
                for r in self._rows(
                    _CALLBACK_SELECT + " WHERE c.case_id = ? ORDER BY c.id", (reply.case_id,)
                )
            )
        history = tuple(
            AuditEntry.from_row(r)
            for r in self._rows(
                "SELECT * FROM audit WHERE subject = ? ORDER BY id", (f"reply:{reply_id}",)
            )
        )
        return ReplyDetail(reply, mention, verdict, case, thread or (), callbacks, history)

    def mention(self, mention_id: int) -> MentionRecord:
        rows = self._rows("SELECT * FROM mentions WHERE id = ?", (mention_id,))
        if not rows:
            raise NotFound(f"no mention with id {mention_id}")
        return MentionRecord.from_row(rows[0])

    def verdict(self, mention_id: int) -> VerdictRecord:
        rows = self._rows("SELECT * FROM verdicts WHERE mention_id = ?", (mention_id,))
        if not rows:
            raise NotFound(f"no verdict for mention {mention_id}")
        r = rows[0]
        return VerdictRecord(
            disposition=r["disposition"],
            compound=r["compound"],
            score=r["score"],
            labels=tuple(loads(r["labels"]) or ()),
            topic=r["topic"],
            urgency=r["urgency"],
            interest=r["interest"],
            segment=r["segment"],
            actions=tuple(loads(r["actions"]) or ()),
            reasons=tuple(loads(r["reasons"]) or ()),
            lang=r["lang"],
        )

    def search(self, query: str, *, limit: int = 50) -> list[MentionRecord]:
        """Full-text search on post text (FTS5 query syntax; plain words work). A
        search of one @handle finds that author's posts first, newest first."""
        query = search_words(query)
        check_search(query)
        if not query:
            return []
        rows: list[sqlite3.Row] = []
        author = searched_author(query)
        if author is not None:
            rows = self._rows(
                f"SELECT * FROM mentions WHERE {BY_AUTHOR} ORDER BY id DESC LIMIT ?",
                (text(author), limit),
            )
        sql = (
            "SELECT m.* FROM mentions_fts f JOIN mentions m ON m.id = f.rowid "
            "WHERE mentions_fts MATCH CAST(? AS TEXT) ORDER BY f.rank LIMIT ?"
        )
        try:
            found = self._rows(sql, (text(fts_words(query)), limit))
        except sqlite3.OperationalError:
            found = self._rows(sql, (text(fts_phrase(query)), limit))
        seen = {r["id"] for r in rows}
        rows += [r for r in found if r["id"] not in seen]
        return [MentionRecord.from_row(r) for r in rows[:limit]]

    def drafts_of(self, mention_ids: Sequence[int]) -> dict[int, list[int]]:
        """The reply ids drafted for each of these mentions (mentions with none are
        left out), oldest first."""
        found: dict[int, list[int]] = {}
        for start in range(0, len(mention_ids), 500):  # under SQLite's variable limit
            chunk = list(mention_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(
                f"SELECT mention_id, id FROM replies WHERE mention_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                found.setdefault(row["mention_id"], []).append(row["id"])
        return found

    # -- decisions (guarded transitions, audit-logged) ---------------------------

    def _transition(
        self,
        reply_id: int,
        *,
        actor: str,
        action: str,
        wanted: str,
        expected: tuple[str, ...],
        assignments: str,
        params: Sequence[Any],
        detail: Mapping[str, Any] | None = None,
        body_was: str | None = None,
        then: Callable[[sqlite3.Connection], object] | None = None,
    ) -> ReplyRecord:
        """`body_was`: the text the person decided on; the change applies only while
        the draft still holds exactly that text (EditedSince otherwise). `then`: more
        to write in the same transaction, when the change was made."""
        placeholders = ", ".join("?" * len(expected))
        where = f"id = ? AND status IN ({placeholders})"
        guard: tuple[Any, ...] = (reply_id, *expected)
        if body_was is not None:
            where += " AND body = CAST(? AS TEXT)"
            guard += (text(body_was),)
        with self._write() as conn:
            changed = conn.execute(
                f"UPDATE replies SET {assignments} WHERE {where}", (*params, *guard)
            ).rowcount
            if changed:
                self._audit(conn, actor, action, f"reply:{reply_id}", **(detail or {}))
                if then is not None:
                    then(conn)
        current = self.reply(reply_id)  # raises NotFound for an unknown id
        if not changed:
            if current.status in expected and body_was is not None and current.body != body_was:
                raise EditedSince(current, _NOT_DONE[action], self.last_edit(reply_id))
            raise AlreadyDecided(current, wanted, expected, self._last_by_a_person(reply_id))
        return current

    def _last_by_a_person(self, reply_id: int) -> AuditEntry | None:
        """The latest change a person (not the publisher) made to a reply."""
        rows = self._rows(
            "SELECT * FROM audit WHERE subject = ? AND actor != 'publisher' "
            "ORDER BY id DESC LIMIT 1",
            (f"reply:{reply_id}",),
        )
        return AuditEntry.from_row(rows[0]) if rows else None

    def last_edit(self, reply_id: int) -> AuditEntry | None:
        """The latest change to a reply's text: who and when (a saved edit, or an
        approval with an edited text)."""
        rows = self._rows(
            "SELECT * FROM audit WHERE subject = ? AND (action = 'edit' OR (action = 'approve' "
            "AND json_extract(detail, '$.edited') = 1)) ORDER BY id DESC LIMIT 1",
            (f"reply:{reply_id}",),
        )
        return AuditEntry.from_row(rows[0]) if rows else None

    def approve(
        self,
        reply_id: int,
        actor: str,
        *,
        body: str | None = None,
        body_was: str | None = None,
    ) -> ReplyRecord:
        """pending (or failed) -> approved, optionally with an edited body.
        `body_was`: the text the approver read; if someone saved another since,
        nothing is approved."""
        now = iso(self.clock())
        detail = {"edited": True, "body": body} if body is not None else {}
        return self._transition(
            reply_id,
            actor=actor,
            action="approve",
            wanted="approved",
            expected=DECIDABLE,
            assignments="status = 'approved', body = coalesce(CAST(? AS TEXT), body), "
            "decided_by = ?, decided_at = ?, attempts = 0, next_attempt_at = NULL",
            params=(text(body), actor, now),
            detail=detail,
            body_was=body_was,
        )

    def reject(
        self, reply_id: int, actor: str, *, reason: str | None = None, not_posted: bool = False
    ) -> ReplyRecord:
        """A draft (or a failed reply) is never to be posted. `not_posted`: settle a
        reply in doubt (`unknown`) instead: a person found it is not on the platform
        and does not want it sent; the audit log records that."""
        return self._reject(reply_id, actor, reason, not_posted=not_posted)

    def reject_with_task(
        self, reply_id: int, actor: str, *, reason: str | None = None, not_posted: bool = False
    ) -> Rejection:
        """Reject a draft (`not_posted`: a reply in doubt, as `reject`) and close the
        callback tasks drafted with it that are still open (a false alarm: nobody
        should call), in one transaction. A task stays open when a later complaint in
        its case leans on it: a follow-up raises the case's open task instead of
        making its own."""
        closed: list[int] = []
        kept: list[int] = []

        def close_tasks(conn: sqlite3.Connection) -> None:
            for task, later in conn.execute(_OWN_TASKS, (reply_id,)).fetchall():
                (kept if later else closed).append(task)
            self._close_tasks(conn, closed, actor, reply_rejected=reply_id)

        reply = self._reject(reply_id, actor, reason, not_posted=not_posted, then=close_tasks)
        return Rejection(reply, tuple(closed), tuple(kept))

    def _reject(
        self,
        reply_id: int,
        actor: str,
        reason: str | None,
        *,
        not_posted: bool = False,
        then: Callable[[sqlite3.Connection], object] | None = None,
    ) -> ReplyRecord:
        now = iso(self.clock())
        detail: dict[str, Any] = {"reason": reason} if reason else {}
        if not_posted:  # who settled the doubt, and that it was settled as not posted
            detail["not_posted"] = True
        return self._transition(
            reply_id,
            actor=actor,
            action="reject",
            wanted="rejected",
            expected=("unknown",) if not_posted else DECIDABLE,
            assignments="status = 'rejected', reject_reason = CAST(? AS TEXT), "
            "decided_by = ?, decided_at = ?",
            params=(text(reason), actor, now),
            detail=detail or None,
            then=then,
        )

    def reopen(self, reply_id: int, actor: str) -> tuple[ReplyRecord, list[int]]:
        """Undo a rejection: the draft is pending again, and the callback tasks closed
        with it (`reject_with_task`) are open again, unless its case was resolved
        since or has an open task again (a later complaint made one); the tasks
        reopened."""
        reopened: list[int] = []

        def reopen_tasks(conn: sqlite3.Connection) -> None:
            reopened.extend(
                self._reopen_closed_by(
                    conn, f"reply:{reply_id}", "reject", "reply_rejected", actor, _REOPEN_TASK,
                    reply=reply_id,
                )
            )  # fmt: skip

        reply = self._transition(
            reply_id,
            actor=actor,
            action="reopen",
            wanted="reopened",
            expected=("rejected",),
            assignments="status = 'pending', reject_reason = NULL, decided_by = NULL, "
            "decided_at = NULL",
            params=(),
            then=reopen_tasks,
        )
        return reply, reopened

    def _reopen_closed_by(
        self,
        conn: sqlite3.Connection,
        subject: str,
        action: str,
        marker: str,
        actor: str,
        reopen_sql: str,
        **why: Any,
    ) -> list[int]:
        """The callback tasks the latest `action` on `subject` closed, opened again by
        `reopen_sql` (its guards may keep some closed), each audited; those reopened.
        They are the acting person's callback-done rows from its moment on, marked
        `marker` with the subject's id (see _close_tasks): found along audit_actor,
        not by reading the whole log."""
        done = conn.execute(
            "SELECT id, actor FROM audit WHERE subject = ? AND action = ? ORDER BY id DESC LIMIT 1",
            (subject, action),
        ).fetchone()
        if done is None:
            return []
        reopened = []
        for row in conn.execute(
            "SELECT subject FROM audit WHERE actor = ? AND id > ? "
            "AND action = 'callback-done' AND json_extract(detail, ?) = ?",
            (done["actor"], done["id"], f"$.{marker}", int(subject.split(":", 1)[1])),
        ).fetchall():
            task = int(row["subject"].removeprefix("callback:"))
            if conn.execute(reopen_sql, (task,)).rowcount:
                reopened.append(task)
                self._audit(conn, actor, "callback-reopen", row["subject"], **why)
        return reopened

    def _close_tasks(
        self, conn: sqlite3.Connection, tasks: Sequence[int], actor: str, **why: Any
    ) -> None:
        """Mark these open callback tasks done by `actor`, each audited with why."""
        now = iso(self.clock())
        for task in tasks:
            conn.execute(
                "UPDATE callbacks SET status = 'done', done_by = ?, done_at = ? "
                "WHERE id = ? AND status = 'open'",
                (actor, now, task),
            )
            self._audit(conn, actor, "callback-done", f"callback:{task}", **why)

    def edit(
        self, reply_id: int, actor: str, body: str, *, body_was: str | None = None
    ) -> ReplyRecord:
        """Change a pending (or failed) draft's text without deciding on it.
        `body_was`: the text the editor started from; if someone saved another
        since, nothing is saved."""
        return self._transition(
            reply_id,
            actor=actor,
            action="edit",
            wanted="edited",
            expected=DECIDABLE,
            assignments="body = CAST(? AS TEXT)",
            params=(text(body),),
            detail={"body": body},
            body_was=body_was,
        )

    def retry(self, reply_id: int, actor: str) -> ReplyRecord:
        """failed/unknown -> approved: a person has checked it did not go out."""
        return self._transition(
            reply_id,
            actor=actor,
            action="retry",
            wanted="retried",
            expected=("failed", "unknown"),
            assignments="status = 'approved', next_attempt_at = NULL, attempts = 0",
            params=(),
        )

    def confirm_sent(
        self, reply_id: int, actor: str, *, posted_id: str | None = None
    ) -> ReplyRecord:
        """unknown/failed/approved -> sent: a person found the reply on the platform
        (approved: after a restore put back a reply that had gone out since the
        backup; the publisher would post it again)."""
        now = iso(self.clock())
        return self._transition(
            reply_id,
            actor=actor,
            action="confirm-sent",
            wanted="marked sent",
            expected=("unknown", "failed", "approved"),
            assignments="status = 'sent', posted_id = coalesce(CAST(? AS TEXT), posted_id), "
            "sent_at = ?",
            params=(text(posted_id), now),
            detail={"posted_id": posted_id} if posted_id else None,
        )

    # -- the outbox ---------------------------------------------------------------

    def claim_for_posting(self, *, limit: int = 10, dry_run: bool) -> list[Claimed]:
        """approved -> sending for up to `limit` replies that are due. The claim is
        committed before anything is posted: a crash after it leaves the reply in
        `sending`, which start-up reconciles instead of posting twice."""
        now = iso(self.clock())
        with self._write(durable=True) as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM replies WHERE status = 'approved' "
                    "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                    "ORDER BY urgency DESC, id LIMIT ?",
                    (now, limit),
                )
            ]
            conn.executemany(
                "UPDATE replies SET status = 'sending', attempts = attempts + 1, dry_run = ? "
                "WHERE id = ? AND status = 'approved'",
                [(int(dry_run), i) for i in ids],
            )
        marks = ",".join("?" * len(ids))
        return self._claimed(f"r.id IN ({marks})", ids) if ids else []

    def approved_later(self) -> tuple[int, str | None]:
        """Approved replies waiting for a retry time still to come, and the first
        such time: not due, so no publisher run takes them yet."""
        row = self._rows(
            "SELECT count(*), min(next_attempt_at) FROM replies "
            "WHERE status = 'approved' AND next_attempt_at > ?",
            (iso(self.clock()),),
        )[0]
        return int(row[0]), row[1]

    def release_claims(
        self,
        reply_ids: Sequence[int],
        *,
        until: datetime | None = None,
        note: str | None = None,
        resting: str | None = None,
    ) -> int:
        """sending -> approved for claims nothing was posted for, their attempt not
        counted: a stop came first (due again at once), or the platform's rate limit
        (due at `until`, the `note` saying so; `resting`: that platform, which nothing
        is posted to before `until`, as rest_publishing, in the same transaction: a
        crash between the two would leave the reply waiting and the limit forgotten).
        Returns how many were released."""
        if not reply_ids:
            return 0
        marks = ",".join("?" * len(reply_ids))
        with self._write(durable=True) as conn:
            if resting is not None and until is not None:
                _rest(conn, resting, until)
            return conn.execute(
                "UPDATE replies SET status = 'approved', attempts = MAX(attempts - 1, 0), "
                "next_attempt_at = ?, last_error = COALESCE(CAST(? AS TEXT), last_error) "
                f"WHERE status = 'sending' AND id IN ({marks})",
                [iso(until), text(note), *reply_ids],
            ).rowcount

    def rest_publishing(self, platform: str, until: datetime) -> None:
        """Nothing is posted to `platform` before `until` (its rate limit's end), by
        this publisher run or any later one, in this process or another."""
        with self._write() as conn:
            _rest(conn, platform, until)

    def publishing_rests(self) -> dict[str, datetime]:
        """platform -> when its rate limit ends, for those not yet over."""
        rows = self._rows(
            "SELECT platform, until FROM publish_rests WHERE until > ?", (iso(self.clock()),)
        )
        return {r["platform"]: datetime.fromisoformat(r["until"]) for r in rows}

    def in_sending(self) -> list[Claimed]:
        return self._claimed("r.status = 'sending'", ())

    def _claimed(self, where: str, params: Sequence[Any]) -> list[Claimed]:
        rows = self._rows(
            "SELECT r.id, r.kind, r.body, r.attempts, r.dry_run, m.source, m.platform, "
            # an edited post is answered at its newest version (X refuses the others)
            "coalesce(m.version_id, m.native_id) AS native_id, m.url, m.author_handle, "
            "m.conversation_id, m.raw "
            f"FROM replies r JOIN mentions m ON m.id = r.mention_id WHERE {where} ORDER BY r.id",
            params,
        )
        return [
            Claimed(
                id=r["id"],
                kind=r["kind"],
                body=r["body"],
                attempts=r["attempts"],
                source=r["source"],
                platform=r["platform"],
                native_id=r["native_id"],
                url=r["url"],
                author_handle=r["author_handle"],
                conversation_id=r["conversation_id"],
                raw=r["raw"],
                dry_run=bool(r["dry_run"]),
            )
            for r in rows
        ]

    def mark_sent(
        self,
        reply_id: int,
        *,
        posted_id: str | None,
        posted_url: str | None = None,
        actor: str = "publisher",
        note: str | None = None,
    ) -> ReplyRecord:
        now = iso(self.clock())
        detail = {k: v for k, v in {"posted_id": posted_id, "note": note}.items() if v}
        return self._transition(
            reply_id,
            actor=actor,
            action="sent",
            wanted="marked sent",
            expected=("sending",),
            assignments="status = 'sent', posted_id = ?, posted_url = ?, sent_at = ?, "
            "last_error = NULL",
            params=(posted_id, posted_url, now),
            detail=detail,
        )

    def mark_failed(
        self,
        reply_id: int,
        error: str,
        *,
        retryable: bool,
        max_attempts: int = 5,
        retry_in: timedelta = timedelta(minutes=1),
    ) -> ReplyRecord:
        """sending -> approved (retryable, attempts left; due again after retry_in)
        or sending -> failed (for a person)."""
        current = self.reply(reply_id)
        again = retryable and current.attempts < max_attempts
        due = iso(self.clock() + retry_in) if again else None
        return self._transition(
            reply_id,
            actor="publisher",
            action="retry-later" if again else "failed",
            wanted="marked failed",
            expected=("sending",),
            assignments="status = ?, last_error = CAST(? AS TEXT), next_attempt_at = ?",
            params=("approved" if again else "failed", text(error), due),
            detail={"error": error, "attempt": current.attempts},
        )

    def mark_unknown(self, reply_id: int, note: str) -> ReplyRecord:
        """sending -> unknown: it may or may not have gone out; never re-posted
        automatically. A person checks, then `retry` or `confirm_sent`."""
        return self._transition(
            reply_id,
            actor="publisher",
            action="unknown",
            wanted="marked unknown",
            expected=("sending",),
            assignments="status = 'unknown', last_error = CAST(? AS TEXT)",
            params=(text(note),),
            detail={"note": note},
        )

    # -- callbacks, cases, alerts ------------------------------------------------

    def callbacks(
        self,
        status: str | None = "open",
        *,
        limit: int = 100,
        offset: int = 0,
        assignee: str | None = None,
    ) -> list[CallbackRecord]:
        """Callback tasks, most urgent first; with `assignee`, only those whose case
        that person has (NOT_TAKEN: nobody)."""
        taken, params = taken_by("c.case_id", assignee)
        conditions = [*(["c.status = ?"] if status else []), *([taken] if taken else [])]
        params = [*([status] if status else []), *params]
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        rows = self._rows(
            _CALLBACK_SELECT + where + " ORDER BY c.urgency DESC, c.id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [CallbackRecord.from_row(r) for r in rows]

    def complete_callback(self, callback_id: int, actor: str) -> None:
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE callbacks SET status = 'done', done_by = ?, done_at = ? "
                "WHERE id = ? AND status = 'open'",
                (actor, iso(self.clock()), callback_id),
            ).rowcount
            if changed:
                self._audit(conn, actor, "callback-done", f"callback:{callback_id}")
        if not changed:
            rows = self._rows("SELECT done_by, done_at FROM callbacks WHERE id = ?", (callback_id,))
            if not rows:
                raise NotFound(f"no callback with id {callback_id}")
            raise Conflict(
                f"callback {callback_id} was already done by {rows[0]['done_by']} "
                f"at {shown_time(rows[0]['done_at'])}"
            )

    def case(self, case_id: int) -> CaseRecord:
        rows = self._rows("SELECT * FROM cases WHERE id = ?", (case_id,))
        if not rows:
            raise NotFound(f"no case with id {case_id}")
        return CaseRecord.from_row(rows[0])

    def _case_change(
        self,
        case_id: int,
        *,
        actor: str,
        action: str,
        wanted: str,
        where: str,
        assignments: str,
        params: Sequence[Any],
        detail: Mapping[str, Any],
        where_params: Sequence[Any] = (),
        then: Callable[[sqlite3.Connection], object] | None = None,
    ) -> CaseRecord:
        """One guarded UPDATE of a case, audit-logged (and `then`, in the same
        transaction); CaseConflict when the case is not in a state `where` accepts
        (someone else changed it first)."""
        with self._write() as conn:
            changed = conn.execute(
                f"UPDATE cases SET {assignments}, updated_at = ? WHERE id = ? AND ({where})",
                (*params, iso(self.clock()), case_id, *where_params),
            ).rowcount
            if changed:
                self._audit(conn, actor, action, f"case:{case_id}", **detail)
                if then is not None:
                    then(conn)
        current = self.case(case_id)
        if not changed:
            last = self.audit_log(limit=1, subject=f"case:{case_id}")
            who = (
                f" (last change: {last[0].action} by {last[0].actor} at {shown_time(last[0].at)})"
                if last
                else ""
            )
            raise CaseConflict(f"case {case_id} cannot be {wanted}: it is {current.status}{who}")
        return current

    def assign_case(
        self, case_id: int, actor: str, assignee: str | None, *, seen: SeenAssignee | None = None
    ) -> CaseRecord:
        """Give an open case to a person (None: take it back to the pool). `seen`:
        whom the person saw it assigned to; if someone else took it since, nothing
        changes (CaseConflict names them). None: not checked."""
        if assignee is not None:
            user = self.user(assignee)
            if user.disabled or user.role == "viewer":
                raise StoreError(f"{assignee} cannot take cases (disabled or a viewer)")
        current = self.case(case_id)
        if current.already_with(assignee):
            return current  # `m` pressed twice: no second "case assign" in the history
        where, params = "status != 'resolved'", [assignee]
        if seen is not None:
            where += " AND coalesce(assignee, '') = coalesce(CAST(? AS TEXT), '')"
        try:
            return self._case_change(
                case_id,
                actor=actor,
                action="assign",
                wanted="assigned",
                where=where,
                assignments="assignee = ?",
                params=params,
                detail={"assignee": assignee},
                where_params=() if seen is None else (seen.assignee,),
            )
        except CaseConflict:
            current = self.case(case_id)
            if seen is None or current.status == "resolved" or current.assignee == seen.assignee:
                raise
            last = self.audit_log(limit=1, subject=f"case:{case_id}")
            when = (
                f" ({last[0].action} by {last[0].actor} at {shown_time(last[0].at)})"
                if last
                else ""
            )
            raise CaseConflict(
                f"case {case_id} was not assigned: it is {current.assignee or 'nobody'}'s now, "
                f"not {seen.assignee or 'nobody'}'s as your page showed{when}"
            ) from None

    def escalate_case(
        self, case_id: int, actor: str, *, note: str | None = None, alert: str | None = None
    ) -> CaseRecord:
        """A person escalates a case. `alert`: the message for senior staff, queued
        for the webhook like the alerts Earful raises (on the case's latest post;
        none when that post has its alert already)."""
        now = iso(self.clock())

        def raise_alert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO alerts (case_id, mention_id, body, reason, created_at) "
                "SELECT ?, id, CAST(? AS TEXT), CAST(? AS TEXT), ? FROM mentions "
                "WHERE id = (SELECT max(id) FROM mentions WHERE case_id = ?) "
                "ON CONFLICT (mention_id) DO NOTHING",
                (case_id, text(alert), PERSON_ESCALATED + actor, now, case_id),
            )

        return self._case_change(
            case_id,
            actor=actor,
            action="escalate",
            wanted="escalated",
            where="status IN ('open', 'waiting')",
            assignments="status = 'escalated'",
            params=(),
            detail={"note": note} if note else {},
            then=raise_alert if alert else None,
        )

    def resolve_case(
        self, case_id: int, actor: str, *, note: str | None = None
    ) -> tuple[CaseRecord, list[int]]:
        """Close a case. Its drafts keep their state: a pending thank-you can still
        be approved or rejected on its own. Its open callback tasks are done with it
        (by the person resolving, audited), or they would be worked a second time;
        the tasks closed."""
        now = iso(self.clock())
        closed: list[int] = []
        # what the case was, for a reopen to put back: an escalated case reopened as
        # merely open would leave the escalations and their count, and retention's care
        was = self.case(case_id).status
        detail: dict[str, Any] = {"note": note} if note else {}
        if was not in ("open", "resolved"):
            detail["was"] = was

        def close_tasks(conn: sqlite3.Connection) -> None:
            closed.extend(
                r[0]
                for r in conn.execute(
                    "SELECT id FROM callbacks WHERE case_id = ? AND status = 'open' ORDER BY id",
                    (case_id,),
                )
            )
            self._close_tasks(conn, closed, actor, case_resolved=case_id)

        case = self._case_change(
            case_id,
            actor=actor,
            action="resolve",
            wanted="resolved",
            where="status != 'resolved'",
            assignments="status = 'resolved', resolved_at = ?",
            params=(now,),
            detail=detail,
            then=close_tasks,
        )
        return case, closed

    def reopen_case(self, case_id: int, actor: str) -> tuple[CaseRecord, list[int]]:
        """Undo a resolve: the case is as it was before it (open, escalated or
        waiting), and the callback tasks its resolving closed are open again; the
        tasks reopened. CaseConflict when it is
        not resolved, or a newer case is open for the same author and conversation (a
        later complaint opened one: that one is to be worked)."""
        reopened: list[int] = []

        def reopen_tasks(conn: sqlite3.Connection) -> None:
            reopened.extend(
                self._reopen_closed_by(
                    conn, f"case:{case_id}", "resolve", "case_resolved", actor,
                    "UPDATE callbacks SET status = 'open', done_by = NULL, done_at = NULL "
                    "WHERE id = ? AND status = 'done'",
                    case=case_id,
                )
            )  # fmt: skip

        try:
            case = self._case_change(
                case_id,
                actor=actor,
                action="reopen",
                wanted="reopened",
                where="status = 'resolved'",
                # as it was before the resolve (escalated, waiting), else open
                assignments=(
                    "status = coalesce((SELECT json_extract(detail, '$.was') FROM audit "
                    "WHERE subject = ? AND action = 'resolve' ORDER BY id DESC LIMIT 1), "
                    "'open'), resolved_at = NULL"
                ),
                params=(f"case:{case_id}",),
                detail={},
                then=reopen_tasks,
            )
        except sqlite3.IntegrityError:  # cases_one_open: one open case per conversation
            raise CaseConflict(
                f"case {case_id} cannot be reopened: a newer case is open for the same "
                "author and conversation; work that one"
            ) from None
        return case, reopened

    def star_praise(self, mention_id: int, actor: str, *, starred: bool = True) -> None:
        """Mark a praise mention as a testimonial (or take the mark off)."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE praise SET starred = ?, starred_by = ?, starred_at = ? "
                "WHERE mention_id = ?",
                (
                    int(starred),
                    actor if starred else None,
                    iso(self.clock()) if starred else None,
                    mention_id,
                ),
            ).rowcount
            if changed:
                self._audit(conn, actor, "star" if starred else "unstar", f"mention:{mention_id}")
        if not changed:
            raise NotFound(f"mention {mention_id} is not on the praise wall")

    def alerts(self, status: str = "pending") -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self._rows("SELECT * FROM alerts WHERE status = ? ORDER BY id", (status,))
        ]

    # -- the alert outbox ---------------------------------------------------------
    # pending -> sending -> sent, like replies: the claim is committed before the
    # webhook is called, so a crash mid-call leaves the alert in `sending` and it is
    # never sent twice by accident. Retryable failures go back to `pending` with a due
    # time; the rest, and alerts out of attempts, end `failed` for a person.

    def alert_list(self, status: str | None = None, *, limit: int = 50) -> list[AlertRecord]:
        """Alerts newest first, with their post and verdict."""
        where = " WHERE a.status = ?" if status else ""
        params: list[Any] = [status] if status else []
        rows = self._rows(_ALERT_SELECT + where + " ORDER BY a.id DESC LIMIT ?", [*params, limit])
        return [AlertRecord.from_row(r) for r in rows]

    def alert(self, alert_id: int) -> AlertRecord:
        rows = self._rows(_ALERT_SELECT + " WHERE a.id = ?", (alert_id,))
        if not rows:
            raise NotFound(f"no alert with id {alert_id}")
        return AlertRecord.from_row(rows[0])

    def skip_alerts(
        self, *, min_urgency: int | None = None, stale_before: datetime | None = None
    ) -> list[tuple[int, str]]:
        """pending -> skipped, with the reason, for alerts the webhook should not get:
        below `min_urgency` (unless a rule or a person asked for the escalation); never tried and
        created before `stale_before` (a backlog is not urgent news); or in a case
        another alert already went out for (one alert per case, not one per post); or
        about an author another alert went out for, in a case of theirs not resolved
        (unless a person escalated this one). Never an alert a person sent again.
        Returns (id, reason) for each."""
        stale = iso(stale_before) if stale_before else None
        skipped: list[tuple[int, str]] = []
        with self._write() as conn:
            rows = conn.execute(
                "SELECT a.id, a.case_id, a.attempts, a.created_at, v.urgency, m.platform, "
                "m.author_handle, a.reason LIKE ? || '%' AS person, "
                "EXISTS (SELECT 1 FROM json_each(v.actions) WHERE value = 'escalate') AS ruled, "
                "(SELECT min(b.id) FROM alerts b WHERE b.case_id = a.case_id AND b.id != a.id "
                f"AND b.status IN {_ALERTED}) AS earlier, {_AUTHOR_ALERTED} AS by_author "
                "FROM alerts a JOIN verdicts v ON v.mention_id = a.mention_id "
                "JOIN mentions m ON m.id = a.mention_id "
                f"WHERE a.status = 'pending' AND NOT {_RETRIED} ORDER BY a.id",
                (PERSON_ESCALATED,),
            ).fetchall()
            for r in rows:
                if r["earlier"] is not None:
                    why = f"case {r['case_id']} already escalated by alert {r['earlier']}"
                elif r["by_author"] is not None and not r["person"]:
                    why = _author_alerted(r["author_handle"], r["platform"], r["by_author"])
                elif (
                    min_urgency is not None
                    and r["urgency"] < min_urgency
                    and not (r["person"] or r["ruled"])
                ):
                    why = f"urgency {r['urgency']} below escalation.min_urgency {min_urgency}"
                elif stale and r["attempts"] == 0 and r["created_at"] < stale:
                    why = "older than escalation.max_age when it was first due"
                else:
                    continue
                conn.execute(
                    "UPDATE alerts SET status = 'skipped', last_error = ? "
                    "WHERE id = ? AND status = 'pending'",
                    (why, r["id"]),
                )
                self._audit(conn, "alerts", "skipped", f"alert:{r['id']}", reason=why)
                skipped.append((r["id"], why))
        return skipped

    def alerts_resting(self) -> tuple[int, str] | None:
        """None, or when an alert waits for its retry: the receiver failed it lately,
        and trying the others meanwhile would only spend their attempts on it. Then
        (how many pending alerts wait, it among them; when its retry is due)."""
        row = self._rows(
            "SELECT count(*), min(CASE WHEN next_attempt_at > ? THEN next_attempt_at END) "
            "FROM alerts WHERE status = 'pending'",
            (iso(self.clock()),),
        )[0]
        return None if row[1] is None else (int(row[0]), row[1])

    def claim_alert(self) -> AlertRecord | None:
        """pending -> sending for the most urgent alert that is due, or None. Synced
        before it returns, like a reply's claim: an alert is sent at most once."""
        now = iso(self.clock())
        with self._write(durable=True) as conn:
            row = conn.execute(
                "SELECT a.id FROM alerts a JOIN verdicts v ON v.mention_id = a.mention_id "
                "JOIN mentions m ON m.id = a.mention_id "
                "WHERE a.status = 'pending' AND (a.next_attempt_at IS NULL "
                "OR a.next_attempt_at <= ?) "
                # one alert per case and per author with a case open, checked in the
                # claim's own transaction: another process (`alerts send` beside the
                # daemon) may have claimed its sibling
                f"AND ({_RETRIED} OR (NOT EXISTS (SELECT 1 FROM alerts b "
                f"WHERE b.case_id = a.case_id AND b.id != a.id AND b.status IN {_ALERTED}) "
                f"AND (a.reason LIKE ? || '%' OR {_AUTHOR_ALERTED} IS NULL))) "
                "ORDER BY v.urgency DESC, a.id LIMIT 1",
                (now, PERSON_ESCALATED),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE alerts SET status = 'sending', attempts = attempts + 1, claimed_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (now, row[0]),
            )
        return self.alert(row[0])

    def alerts_in_sending(self) -> list[AlertRecord]:
        rows = self._rows(_ALERT_SELECT + " WHERE a.status = 'sending' ORDER BY a.id")
        return [AlertRecord.from_row(r) for r in rows]

    def _alert_transition(
        self,
        alert_id: int,
        *,
        actor: str,
        action: str,
        expected: tuple[str, ...],
        assignments: str,
        params: Sequence[Any],
        detail: Mapping[str, Any] | None = None,
    ) -> AlertRecord:
        placeholders = ", ".join("?" * len(expected))
        with self._write() as conn:
            changed = conn.execute(
                f"UPDATE alerts SET {assignments} WHERE id = ? AND status IN ({placeholders})",
                (*params, alert_id, *expected),
            ).rowcount
            if changed:
                self._audit(conn, actor, action, f"alert:{alert_id}", **(detail or {}))
        current = self.alert(alert_id)  # raises NotFound for an unknown id
        if not changed:
            raise StoreError(
                f"alert {alert_id} cannot be {action}: it is {current.status} "
                f"(expected {' or '.join(expected)})"
            )
        return current

    def mark_alert_sent(
        self, alert_id: int, *, actor: str = "alerts", note: str | None = None
    ) -> AlertRecord:
        return self._alert_transition(
            alert_id,
            actor=actor,
            action="sent",
            expected=("sending",),
            assignments="status = 'sent', sent_at = ?, last_error = NULL, next_attempt_at = NULL",
            params=(iso(self.clock()),),
            detail={"note": note} if note else None,
        )

    def mark_alert_failed(
        self,
        alert_id: int,
        error: str,
        *,
        retryable: bool,
        max_attempts: int,
        retry_in: timedelta,
    ) -> AlertRecord:
        """sending -> pending (retryable, attempts left; due after retry_in) or
        sending -> failed."""
        current = self.alert(alert_id)
        again = retryable and current.attempts < max_attempts
        return self._alert_transition(
            alert_id,
            actor="alerts",
            action="retry-later" if again else "failed",
            expected=("sending",),
            assignments="status = ?, last_error = CAST(? AS TEXT), next_attempt_at = ?",
            params=(
                "pending" if again else "failed",
                text(error),
                iso(self.clock() + retry_in) if again else None,
            ),
            detail={"error": error, "attempt": current.attempts},
        )

    def mark_alert_unknown(self, alert_id: int, note: str) -> AlertRecord:
        """sending -> unknown: it may have been delivered; never re-sent automatically."""
        return self._alert_transition(
            alert_id,
            actor="alerts",
            action="unknown",
            expected=("sending",),
            assignments="status = 'unknown', last_error = CAST(? AS TEXT)",
            params=(text(note),),
            detail={"note": note},
        )

    def release_alert(self, alert_id: int, note: str) -> AlertRecord:
        """sending -> pending, due now: only for receivers that drop duplicates."""
        return self._alert_transition(
            alert_id,
            actor="alerts",
            action="released",
            expected=("sending",),
            assignments="status = 'pending', next_attempt_at = NULL, last_error = CAST(? AS TEXT)",
            params=(text(note),),
            detail={"note": note},
        )

    def retry_alert(self, alert_id: int, actor: str) -> AlertRecord:
        """failed/unknown/skipped -> pending: a person wants it sent (again)."""
        return self._alert_transition(
            alert_id,
            actor=actor,
            action="retried",
            expected=("failed", "unknown", "skipped"),
            assignments="status = 'pending', attempts = 0, next_attempt_at = NULL",
            params=(),
        )

    def confirm_alert_sent(
        self, alert_id: int, actor: str, *, pending: bool = False
    ) -> AlertRecord:
        """unknown/failed -> sent: a person found it in the channel. `pending` too:
        after a restore put back an alert that had gone out since the backup, the
        next run would send it again (the console leaves it out: there a pending
        alert is one someone just chose to send again)."""
        expected = ("unknown", "failed", "pending") if pending else ("unknown", "failed")
        return self._alert_transition(
            alert_id,
            actor=actor,
            action="confirmed sent",
            expected=expected,
            assignments="status = 'sent', sent_at = ?",
            params=(iso(self.clock()),),
        )

    # -- users and audit -----------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str | None, *, actor: str) -> int:
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        with self._write() as conn:
            self._refuse_a_name_like(conn, name)
            try:
                user_id = conn.execute(
                    "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (name, role, password_hash, iso(self.clock())),
                ).lastrowid
            except sqlite3.IntegrityError:
                raise StoreError(f"a user named {name!r} already exists") from None
            self._audit(conn, actor, "user-add", f"user:{name}", role=role)
        return int(user_id or 0)

    @staticmethod
    def _refuse_a_name_like(conn: sqlite3.Connection, name: str) -> None:
        """Names are told apart ignoring case: "Bob" and "bob" as two accounts
        would share one login lockout (kept per name, case-folded), and people
        would mix them up in the audit log."""
        for (existing,) in conn.execute("SELECT name FROM users"):
            if existing != name and existing.casefold() == name.casefold():
                raise StoreError(
                    f"a user named {existing!r} already exists; {name!r} differs from it "
                    "only in upper and lower case: choose another name"
                )

    def user(self, name: str) -> UserRecord:
        # text(): a name no UTF-8 can carry (a lone surrogate) is simply not found
        rows = self._rows("SELECT * FROM users WHERE name = CAST(? AS TEXT)", (text(name),))
        if not rows:
            raise NotFound(f"no user named {name!r}")
        return UserRecord.from_row(rows[0])

    def accounts(self) -> list[Account]:
        """Every console account, by name; never the password hashes."""
        rows = self._rows("SELECT id, name, role, disabled, created_at FROM users ORDER BY name")
        return [Account.from_row(r) for r in rows]

    def set_role(self, name: str, role: str, *, actor: str) -> Account:
        """A new role; the user's sessions end, so they log in again to work with it."""
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        return self._change_account(
            name,
            actor,
            "user-role",
            "role = ?",
            (role,),
            demotes=role != "admin",
            ends_sessions=True,
            role=role,
        )

    def set_disabled(self, name: str, disabled: bool, *, actor: str) -> Account:
        """Disabled: the user cannot log in and every session of theirs ends now."""
        action = "user-disable" if disabled else "user-enable"
        return self._change_account(
            name,
            actor,
            action,
            "disabled = ?",
            (int(disabled),),
            demotes=disabled,
            ends_sessions=disabled,
        )

    def _change_account(
        self,
        name: str,
        actor: str,
        action: str,
        assignment: str,
        params: Sequence[Any],
        *,
        demotes: bool,
        ends_sessions: bool,
        **detail: Any,
    ) -> Account:
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, role, disabled FROM users WHERE name = CAST(? AS TEXT)", (text(name),)
            ).fetchone()
            if row is None:
                raise NotFound(f"no user named {name!r}")
            user_id, role, disabled = row
            if demotes and role == "admin" and not disabled:
                others = conn.execute(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?",
                    (user_id,),
                ).fetchone()[0]
                if not others:
                    raise StoreError(
                        f"{name} is the last enabled admin: make someone else admin first, "
                        "or nobody could manage accounts from the console"
                    )
            conn.execute(f"UPDATE users SET {assignment} WHERE id = ?", (*params, user_id))
            if ends_sessions:
                self._end_sessions(conn, user_id)
            self._audit(conn, actor, action, f"user:{name}", **detail)
        return self.account(user_id)

    def account(self, user_id: int) -> Account:
        rows = self._rows(
            "SELECT id, name, role, disabled, created_at FROM users WHERE id = ?", (user_id,)
        )
        if not rows:
            raise NotFound(f"no user with id {user_id}")
        return Account.from_row(rows[0])

    def set_password(self, name: str, password_hash: str, *, actor: str) -> None:
        """A new password; every session of that user ends with the old one."""
        with self._write() as conn:
            user_id = self._user_id(conn, name)
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
            )
            self._end_sessions(conn, user_id)
            self._audit(conn, actor, "user-password", f"user:{name}")

    def end_sessions(self, name: str, *, actor: str) -> int:
        """Log NAME out everywhere: every console session of theirs ends now (a
        person who left a browser logged in somewhere, or an admin who fears a
        stolen cookie). Returns how many there were."""
        with self._write() as conn:
            ended = self._end_sessions(conn, self._user_id(conn, name))
            self._audit(conn, actor, "user-logout-everywhere", f"user:{name}", sessions=ended)
        return ended

    @staticmethod
    def _user_id(conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute(
            "SELECT id FROM users WHERE name = CAST(? AS TEXT)", (text(name),)
        ).fetchone()
        if row is None:
            raise NotFound(f"no user named {name!r}")
        return int(row[0])

    @staticmethod
    def _end_sessions(conn: sqlite3.Connection, user_id: int) -> int:
        return conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount

    def audit_log(self, *, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
        where = " WHERE subject = ?" if subject else ""
        params: list[Any] = [subject] if subject else []
        rows = self._rows(f"SELECT * FROM audit{where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [AuditEntry.from_row(r) for r in rows]

    # -- reports --------------------------------------------------------------

    def stats(self) -> Stats:
        with self._snapshot():
            return self._stats()

    def _stats(self) -> Stats:
        def counts(sql: str) -> dict[str, int]:
            return {(r[0] if r[0] is not None else "none"): r[1] for r in self._rows(sql)}

        by_disposition = counts(
            "SELECT disposition, count(*) FROM verdicts GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        # net sentiment is what other people say: the brand's own posts and spam are
        # counted apart (Verdict.is_own_post, is_spam; the SQL matches the stored JSON)
        platforms = self._rows(
            f"SELECT m.platform, count(*), count(*) FILTER (WHERE {OWN_POST_SQL}), "
            f"count(*) FILTER (WHERE {SPAM_SQL}), "
            f"count(*) FILTER (WHERE disposition = 'interesting_good' AND {_OTHERS}), "
            f"count(*) FILTER (WHERE disposition = 'interesting_bad' AND {_OTHERS}) "
            "FROM mentions m JOIN verdicts v ON v.mention_id = m.id "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        total, own, spam, good, bad = (sum(p[i] for p in platforms) for i in range(1, 6))
        others = total - own - spam
        replies, thanks = self._first_sent()
        return Stats(
            mentions=total,
            own_posts=own,
            spam=spam,
            by_disposition=by_disposition,
            by_topic=counts(
                "SELECT topic, count(*) FROM verdicts WHERE disposition = 'interesting_bad' "
                "GROUP BY 1 ORDER BY 2 DESC, 1"
            ),
            by_platform={p[0]: p[1] for p in platforms},
            net_sentiment=net_sentiment(good, bad, others),
            net_by_platform={
                name: net_sentiment(good_n, bad_n, n - own_n - spam_n)
                for name, n, own_n, spam_n, good_n, bad_n in platforms
            },
            replies_by_status=counts("SELECT status, count(*) FROM replies GROUP BY 1 ORDER BY 1"),
            open_callbacks=self._rows("SELECT count(*) FROM callbacks WHERE status = 'open'")[0][0],
            escalated_cases=self._rows("SELECT count(*) FROM cases WHERE status = 'escalated'")[0][
                0
            ],
            median_first_reply_seconds=median(replies),
            replied_cases=len(replies),
            median_first_thanks_seconds=median(thanks),
            thanked_cases=len(thanks),
        )

    def _first_sent(self) -> tuple[list[float], list[float]]:
        """Seconds from each case's first complaint to its first reply sent to a
        complaint, and from its first praise to its first thank-you sent (a like, on X)."""
        waits: dict[str, list[float]] = {"reply": [], "thanks": []}
        for kind, days in self._rows(
            f"SELECT r.kind, julianday(min(r.sent_at)) - julianday({FIRST_ASKED}) "
            f"FROM replies r WHERE r.status = 'sent' AND {first_sent('r')} "
            "GROUP BY r.case_id, r.kind"
        ):
            if days is not None:
                # a post stamped in the future (a skewed clock) was answered at once,
                # not before it was written; the console's charts count it the same way
                waits[kind].append(max(days * 86400.0, 0.0))
        return waits["reply"], waits["thanks"]

    # A column added later goes last: a spreadsheet or script that reads an export's
    # columns by position keeps working (fetched_at, starred_by, posted_url...).
    EXPORTS: ClassVar[dict[str, str]] = {
        "mentions": """
            SELECT m.id, m.platform, m.native_id, m.source, m.url, m.author_handle,
                   m.author_name, m.author_followers, m.created_at, m.lang, m.likes,
                   m.reposts, m.replies, m.text, v.disposition, v.topic, v.urgency,
                   v.interest, v.segment, ROUND(v.compound, 4) AS compound,
                   ROUND(v.score, 4) AS score, v.labels, m.case_id,
                   """
        + f"({OWN_POST_SQL}) AS own_post, ({SPAM_SQL}) AS spam, m.fetched_at"
        + """
            FROM mentions m JOIN verdicts v ON v.mention_id = m.id""",
        "praise": """
            SELECT m.id, m.platform, m.url AS permalink, m.author_handle, m.author_name,
                   m.author_followers, m.author_verified, m.created_at, m.likes, m.reposts,
                   m.text, ROUND(v.score, 4) AS score, v.interest, p.starred, m.fetched_at,
                   p.starred_by, p.starred_at
            FROM praise p JOIN mentions m ON m.id = p.mention_id
            JOIN verdicts v ON v.mention_id = m.id""",
        "replies": """
            SELECT r.id, r.kind, r.status, m.platform, m.url AS in_reply_to_url,
                   m.author_handle, r.body, r.drafted_body, r.created_at, r.decided_by,
                   r.decided_at, r.reject_reason, r.sent_at, r.posted_id, r.dry_run,
                   r.attempts, r.last_error, r.mention_id, r.case_id,
                   m.created_at AS posted_at, r.posted_url
            FROM replies r JOIN mentions m ON m.id = r.mention_id""",
    }
    _EXPORT_ORDER: ClassVar[dict[str, str]] = {
        "mentions": "m.id",
        "praise": "p.starred DESC, v.interest DESC, m.id",
        "replies": "r.id",
    }

    def export(
        self,
        kind: str,
        *,
        since: date | None = None,
        until: date | None = None,
        starred_only: bool = False,
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Column names and a row iterator, streamed: exports can be large. `since`
        and `until`: only posts from that UTC day on, and up to that one included
        (undated ones by when they were fetched), and for replies, those drafted or
        sent in those days (a week's "what we replied" holds replies to older posts);
        `starred_only`: only praise someone starred (praise only). `labels` is a
        list, flags are booleans."""
        if kind not in self.EXPORTS:
            raise StoreError(f"export must be one of {', '.join(self.EXPORTS)}, got {kind!r}")
        if starred_only and kind != "praise":
            raise StoreError(f"only praise is starred, not {kind}")
        where, params = [], []
        times = ("r.created_at", "r.sent_at") if kind == "replies" else _POSTED
        days, bounds = _in_days(since, until)
        if days:
            # a reply drafted in the days, or sent in them
            where.append("(" + " OR ".join(f"({days.format(c=c)})" for c in times) + ")")
            params += bounds * len(times)
        if starred_only:
            where.append("p.starred = 1")
        sql = self.EXPORTS[kind] + (" WHERE " + " AND ".join(where) if where else "")
        cursor = self.conn.execute(sql + " ORDER BY " + self._EXPORT_ORDER[kind], params)
        columns = [d[0] for d in cursor.description]
        flags = [i for i, name in enumerate(columns) if name in FLAGS or name in _EXPORT_FLAGS]
        links = [i for i, name in enumerate(columns) if name in _LINKS]
        lists = [i for i, name in enumerate(columns) if name == "labels"]

        def typed(row: tuple[Any, ...]) -> tuple[Any, ...]:
            cells = list(row)
            for i in flags:
                cells[i] = None if cells[i] is None else bool(cells[i])
            for i in links:
                cells[i] = http_url(cells[i])
            for i in lists:
                cells[i] = loads(cells[i]) or []
            return tuple(cells)

        return columns, (typed(row) for row in cursor)
