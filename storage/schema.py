"""Tables, indexes and numbered migrations. The database's PRAGMA user_version is the
number of the last migration applied; opening a store applies the rest, each in its
own transaction, so a crash mid-migration leaves the previous version intact."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import sqlite_utils

REPLY_STATUSES = ("pending", "approved", "sending", "sent", "rejected", "failed", "unknown")
CASE_STATUSES = ("open", "escalated", "waiting", "resolved")
ROLES = ("admin", "agent", "viewer")

log = logging.getLogger(__name__)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: sqlite3's executescript() would first COMMIT the
    transaction a migration runs in, and a crash would leave half a schema."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:80]}")


def _v1_initial(db: sqlite_utils.Database) -> None:
    run_script(
        db.conn,
        f"""
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            author_handle TEXT,
            conversation TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN {_in(CASE_STATUSES)}),
            disposition TEXT,
            topic TEXT,
            urgency INTEGER NOT NULL DEFAULT 0,
            assignee TEXT,
            first_mention_at TEXT,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            resolved_at TEXT
        );
        -- one open case per author and conversation; resolved cases are history
        CREATE UNIQUE INDEX cases_one_open
            ON cases (platform, coalesce(author_handle, ''), conversation)
            WHERE status != 'resolved';
        CREATE INDEX cases_status ON cases (status);

        CREATE TABLE mentions (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            native_id TEXT NOT NULL,
            source TEXT NOT NULL,
            url TEXT,
            author_handle TEXT,
            author_name TEXT,
            author_followers INTEGER,
            author_verified INTEGER,
            author_id TEXT,
            author_url TEXT,
            text TEXT NOT NULL,
            context TEXT,
            created_at TEXT,
            fetched_at TEXT NOT NULL,
            lang TEXT,
            likes INTEGER,
            reposts INTEGER,
            replies INTEGER,
            conversation_id TEXT,
            in_reply_to TEXT,
            case_id INTEGER REFERENCES cases (id),
            raw TEXT,
            UNIQUE (platform, native_id)
        );
        CREATE INDEX mentions_author ON mentions (platform, author_handle, created_at);
        CREATE INDEX mentions_case ON mentions (case_id);
        CREATE INDEX mentions_created ON mentions (created_at);

        CREATE TABLE verdicts (
            mention_id INTEGER PRIMARY KEY REFERENCES mentions (id),
            disposition TEXT NOT NULL,
            compound REAL NOT NULL,
            score REAL NOT NULL,
            labels TEXT NOT NULL,
            topic TEXT,
            urgency INTEGER NOT NULL,
            interest INTEGER NOT NULL,
            segment TEXT,
            actions TEXT NOT NULL,
            reasons TEXT NOT NULL,
            lang TEXT
        );
        CREATE INDEX verdicts_disposition ON verdicts (disposition);

        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            case_id INTEGER REFERENCES cases (id),
            mention_id INTEGER NOT NULL REFERENCES mentions (id),
            kind TEXT NOT NULL CHECK (kind IN ('reply', 'thanks')),
            body TEXT NOT NULL,
            drafted_body TEXT NOT NULL,
            reason TEXT,
            template TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN {_in(REPLY_STATUSES)}),
            -- copied from the verdict so the queue orders on one index
            urgency INTEGER NOT NULL DEFAULT 0,
            interest INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            decided_by TEXT,
            decided_at TEXT,
            reject_reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            posted_id TEXT,
            posted_url TEXT,
            dry_run INTEGER,
            sent_at TEXT
        );
        CREATE INDEX replies_queue ON replies (status, urgency DESC, interest DESC, id);
        CREATE INDEX replies_mention ON replies (mention_id);
        CREATE INDEX replies_case ON replies (case_id);

        CREATE TABLE callbacks (
            id INTEGER PRIMARY KEY,
            case_id INTEGER REFERENCES cases (id),
            mention_id INTEGER NOT NULL REFERENCES mentions (id),
            body TEXT NOT NULL,
            reason TEXT,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
            urgency INTEGER NOT NULL DEFAULT 0,
            assignee TEXT,
            created_at TEXT NOT NULL,
            done_by TEXT,
            done_at TEXT
        );
        CREATE INDEX callbacks_status ON callbacks (status, urgency DESC, id);

        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            case_id INTEGER REFERENCES cases (id),
            mention_id INTEGER NOT NULL REFERENCES mentions (id),
            body TEXT NOT NULL,
            reason TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (mention_id)
        );
        CREATE INDEX alerts_status ON alerts (status, id);

        CREATE TABLE praise (
            mention_id INTEGER PRIMARY KEY REFERENCES mentions (id),
            starred INTEGER NOT NULL DEFAULT 0,
            starred_by TEXT,
            starred_at TEXT
        );

        -- when an author was last drafted to, for the responders' cooldown
        CREATE TABLE contacts (
            platform TEXT NOT NULL,
            author_handle TEXT NOT NULL,
            last_draft_at TEXT NOT NULL,
            PRIMARY KEY (platform, author_handle)
        );

        CREATE TABLE cursors (
            source TEXT PRIMARY KEY,
            cursor TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN {_in(ROLES)}),
            password_hash TEXT,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX audit_subject ON audit (subject, id);

        -- full-text search on post text, laid out as sqlite-utils' enable_fts()
        -- lays it out, so `sqlite-utils search earful.db mentions ...` works too
        CREATE VIRTUAL TABLE mentions_fts USING FTS5 (
            text, content=[mentions], tokenize='unicode61'
        );
        CREATE TRIGGER mentions_ai AFTER INSERT ON mentions BEGIN
            INSERT INTO mentions_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER mentions_ad AFTER DELETE ON mentions BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER mentions_au AFTER UPDATE OF text ON mentions BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
            INSERT INTO mentions_fts (rowid, text) VALUES (new.id, new.text);
        END;
        """,
    )


ALERT_STATUSES = ("pending", "sending", "sent", "failed", "unknown", "skipped")


def _v2_alert_outbox(db: sqlite_utils.Database) -> None:
    """Alerts become an outbox like replies: `sending` (claimed, maybe delivered),
    `unknown` (a crash or timeout while sending; for a person), `skipped` (below the
    webhook's min_urgency), a due time for retries, and when the claim was made.
    SQLite cannot change a CHECK constraint in place, so the table is rebuilt
    (nothing references it)."""
    run_script(
        db.conn,
        f"""
        CREATE TABLE alerts_v2 (
            id INTEGER PRIMARY KEY,
            case_id INTEGER REFERENCES cases (id),
            mention_id INTEGER NOT NULL REFERENCES mentions (id),
            body TEXT NOT NULL,
            reason TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN {_in(ALERT_STATUSES)}),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            next_attempt_at TEXT,
            claimed_at TEXT,
            UNIQUE (mention_id)
        );
        INSERT INTO alerts_v2 (id, case_id, mention_id, body, reason, status, attempts,
                               last_error, created_at, sent_at)
            SELECT id, case_id, mention_id, body, reason, status, attempts, last_error,
                   created_at, sent_at
            FROM alerts;
        DROP TABLE alerts;
        ALTER TABLE alerts_v2 RENAME TO alerts;
        CREATE INDEX alerts_status ON alerts (status, id);
        """,
    )


def _v3_console(db: sqlite_utils.Database) -> None:
    """The approval console: login sessions, and indexes for its pages."""
    run_script(
        db.conn,
        """
        -- token_hash is the SHA-256 of the cookie's value: a copy of the database
        -- holds no usable session
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ip TEXT
        );
        CREATE INDEX sessions_user ON sessions (user_id);
        CREATE INDEX sessions_expires ON sessions (expires_at);
        -- the praise wall, newest first, optionally only the starred
        CREATE INDEX praise_starred ON praise (starred, mention_id);
        -- time to first reply over a window of days (covering: no table lookups)
        CREATE INDEX replies_sent ON replies (sent_at, case_id) WHERE status = 'sent';
        CREATE INDEX audit_actor ON audit (actor, id);

        -- mentions per day (UTC, of the post's own time) by disposition and topic,
        -- kept up to date as verdicts are stored, so the console's charts read a
        -- few hundred rows whatever the size of the store
        CREATE TABLE mention_days (
            day TEXT NOT NULL,
            disposition TEXT NOT NULL,
            topic TEXT NOT NULL DEFAULT '',
            mentions INTEGER NOT NULL,
            PRIMARY KEY (day, disposition, topic)
        ) WITHOUT ROWID;
        INSERT INTO mention_days (day, disposition, topic, mentions)
            SELECT substr(m.created_at, 1, 10), v.disposition, coalesce(v.topic, ''), count(*)
            FROM mentions m JOIN verdicts v ON v.mention_id = m.id
            WHERE m.created_at IS NOT NULL GROUP BY 1, 2, 3;
        """,
    )


def _v4_batch_search_index(db: sqlite_utils.Database) -> None:
    """Ingest indexes a batch's post text for search with one statement instead of
    the per-row insert trigger, which cost about 50 microseconds a mention (a third
    of storing it). The trigger stays for every other writer (a script, sqlite-utils,
    an older Earful): it only skips the id range in fts_batch, a row ingest writes
    and deletes inside its own transaction, so no other connection ever sees one."""
    run_script(
        db.conn,
        """
        CREATE TABLE fts_batch (
            first_id INTEGER NOT NULL,
            last_id INTEGER NOT NULL
        );
        DROP TRIGGER mentions_ai;
        CREATE TRIGGER mentions_ai AFTER INSERT ON mentions
        WHEN NOT EXISTS (
            SELECT 1 FROM fts_batch WHERE new.id BETWEEN first_id AND last_id
        ) BEGIN
            INSERT INTO mentions_fts (rowid, text) VALUES (new.id, new.text);
        END;
        """,
    )


def _v5_source_health(db: sqlite_utils.Database) -> None:
    """How each source's polling is going, written by the daemon after each poll, so
    that `earful sources` and the console can show a source that is failing or was
    disabled for bad credentials (the daemon's log is not where an agent looks)."""
    run_script(
        db.conn,
        """
        CREATE TABLE source_health (
            source TEXT PRIMARY KEY,
            state TEXT NOT NULL
                CHECK (state IN ('ok', 'failing', 'rate_limited', 'disabled')),
            failures INTEGER NOT NULL DEFAULT 0,  -- failed polls in a row
            error TEXT,  -- the latest failure, secrets masked
            last_ok_at TEXT,
            last_failed_at TEXT,
            retry_at TEXT,  -- failing or rate-limited: the next attempt
            updated_at TEXT NOT NULL
        );
        """,
    )


# Append only: a released migration is never edited, a new one is added.
def _v6_contact_weight(db: sqlite_utils.Database) -> None:
    """What an author's last draft answered, so the cooldown lets a complaint through
    after a thank-you (responders.drafts.CONTACT_WEIGHT). Contacts from before are
    taken as complaints: they cool everything, as they did."""
    run_script(db.conn, "ALTER TABLE contacts ADD COLUMN weight INTEGER NOT NULL DEFAULT 3;")


def _v7_callbacks_by_case(db: sqlite_utils.Database) -> None:
    """A complaint within the cooldown raises its author's open callback tasks (see
    storage.ingest): found by case, not by scanning every open task."""
    run_script(db.conn, "CREATE INDEX callbacks_case ON callbacks (case_id);")


def _v8_retention(db: sqlite_utils.Database) -> None:
    """Retention (`earful prune`, storage.retention): each deleted post's key is kept,
    so that a source delivering it again (a feed lists its old items on every poll, a
    backfill after a cursor reset) does not queue a year-old complaint as new."""
    run_script(
        db.conn,
        """
        CREATE TABLE pruned_posts (
            platform TEXT NOT NULL,
            native_id TEXT NOT NULL,
            PRIMARY KEY (platform, native_id)
        ) WITHOUT ROWID;
        -- Deleting a post or a case makes SQLite look for rows still referring to
        -- it (foreign keys): without these, each deletion read every task or alert,
        -- and pruning 25,000 posts took two minutes instead of seconds.
        CREATE INDEX callbacks_mention ON callbacks (mention_id);
        CREATE INDEX alerts_case ON alerts (case_id);
        """,
    )


def _v9_report_counts(db: sqlite_utils.Database) -> None:
    """Reports leave the brand's own posts and spam out of net sentiment, so the
    per-day roll-up counts them apart; an undated post counts on the day it was
    fetched (as its case's first_mention_at already did) instead of never; the time to
    first reply is measured per kind of reply; and the praise wall is ordered by the
    post's own time, through indexes of its own."""
    run_script(
        db.conn,
        """
        ALTER TABLE mention_days ADD COLUMN own INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE mention_days ADD COLUMN spam INTEGER NOT NULL DEFAULT 0;
        -- Dated posts are in the roll-up already, with any pruned since (which stay
        -- counted, as others'): only their own and spam counts are new.
        INSERT INTO mention_days (day, disposition, topic, mentions, own, spam)
            SELECT substr(m.created_at, 1, 10), v.disposition, coalesce(v.topic, ''),
                count(*), sum(v.reasons LIKE '%"rule":"own_post"%'),
                sum(v.labels LIKE '%"spam"%' AND v.reasons NOT LIKE '%"rule":"own_post"%')
            FROM mentions m JOIN verdicts v ON v.mention_id = m.id
            WHERE m.created_at IS NOT NULL GROUP BY 1, 2, 3
            ON CONFLICT (day, disposition, topic) DO UPDATE SET
                mentions = max(mentions, excluded.mentions),
                own = excluded.own, spam = excluded.spam;
        -- Undated posts were never counted: they come on the day they were fetched.
        INSERT INTO mention_days (day, disposition, topic, mentions, own, spam)
            SELECT substr(m.fetched_at, 1, 10), v.disposition, coalesce(v.topic, ''),
                count(*), sum(v.reasons LIKE '%"rule":"own_post"%'),
                sum(v.labels LIKE '%"spam"%' AND v.reasons NOT LIKE '%"rule":"own_post"%')
            FROM mentions m JOIN verdicts v ON v.mention_id = m.id
            WHERE m.created_at IS NULL GROUP BY 1, 2, 3
            ON CONFLICT (day, disposition, topic) DO UPDATE SET
                mentions = mentions + excluded.mentions,
                own = own + excluded.own, spam = spam + excluded.spam;
        -- the time to first reply is per kind (a reply to a complaint, a thank-you):
        -- the index of the stats window covers it
        DROP INDEX replies_sent;
        CREATE INDEX replies_sent ON replies (sent_at, case_id, kind) WHERE status = 'sent';
        -- the post's own time, else when it was fetched: the praise wall's order
        ALTER TABLE praise ADD COLUMN posted_at TEXT;
        UPDATE praise SET posted_at = (
            SELECT coalesce(m.created_at, m.fetched_at) FROM mentions m
            WHERE m.id = praise.mention_id
        );
        DROP INDEX praise_starred;
        CREATE INDEX praise_posted ON praise (posted_at, mention_id);
        CREATE INDEX praise_starred_posted ON praise (posted_at, mention_id) WHERE starred = 1;
        """,
    )


# The verdict's stored JSON, read as Verdict.is_own_post and is_spam read the verdict
# (schema v9 counted the same way): a reason's rule name and a label are identifiers,
# and text inside a reason's detail is JSON-escaped, so these match nothing else.
OWN_POST_SQL = 'v.reasons LIKE \'%"rule":"own_post"%\''
SPAM_SQL = f"v.labels LIKE '%\"spam\"%' AND NOT ({OWN_POST_SQL})"


def _v10_platform_days(db: sqlite_utils.Database) -> None:
    """The per-day roll-up learns each post's platform, so a window of days has its
    figures per platform too (marketing compares X with Reddit over a month). The
    stored posts are counted again by platform; what the roll-up counted beyond them
    (posts pruned since, whose platform is gone) stays counted under platform ''."""
    run_script(
        db.conn,
        f"""
        CREATE TABLE mention_days_v10 (
            day TEXT NOT NULL,
            disposition TEXT NOT NULL,
            topic TEXT NOT NULL DEFAULT '',
            platform TEXT NOT NULL DEFAULT '',
            mentions INTEGER NOT NULL,
            own INTEGER NOT NULL DEFAULT 0,
            spam INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, disposition, topic, platform)
        ) WITHOUT ROWID;
        -- a dated post on its own day, an undated one on the day it was fetched
        INSERT INTO mention_days_v10 (day, disposition, topic, platform, mentions, own, spam)
            SELECT substr(coalesce(m.created_at, m.fetched_at), 1, 10), v.disposition,
                coalesce(v.topic, ''), m.platform, count(*), sum({OWN_POST_SQL}), sum({SPAM_SQL})
            FROM mentions m JOIN verdicts v ON v.mention_id = m.id GROUP BY 1, 2, 3, 4;
        INSERT INTO mention_days_v10 (day, disposition, topic, platform, mentions, own, spam)
            SELECT o.day, o.disposition, o.topic, '', o.mentions - coalesce(n.mentions, 0),
                max(o.own - coalesce(n.own, 0), 0), max(o.spam - coalesce(n.spam, 0), 0)
            FROM mention_days o LEFT JOIN (
                SELECT day, disposition, topic, sum(mentions) AS mentions, sum(own) AS own,
                    sum(spam) AS spam
                FROM mention_days_v10 GROUP BY 1, 2, 3
            ) n USING (day, disposition, topic)
            WHERE o.mentions > coalesce(n.mentions, 0);
        DROP TABLE mention_days;
        ALTER TABLE mention_days_v10 RENAME TO mention_days;
        """,
    )


def _v11_publish_rests(db: sqlite_utils.Database) -> None:
    """When each platform's posting rate limit ends, so that every publisher run
    waits it out: the daemon's next tick, and `earful publish` from cron, which is a
    new process each time (a limit kept in memory would be posted into by every run).
    And an index for a search of one @handle, which finds that author's posts in any
    case: without it, each such search read every post."""
    run_script(
        db.conn,
        """
        CREATE TABLE publish_rests (
            platform TEXT PRIMARY KEY,
            until TEXT NOT NULL  -- nothing is posted to the platform before this
        ) WITHOUT ROWID;
        CREATE INDEX mentions_handle ON mentions (author_handle COLLATE NOCASE);
        """,
    )


def _v12_edited_posts(db: sqlite_utils.Database) -> None:
    """An edited post stays the one post Earful judged (X gives each edit a new id):
    the stored text becomes the newest version's, `version_id` names that version
    (replies go to it: X answers only the newest), `edited_at` says when it was
    made, and `judged_text` keeps the text the verdict and drafts were made from."""
    run_script(
        db.conn,
        """
        ALTER TABLE mentions ADD COLUMN version_id TEXT;
        ALTER TABLE mentions ADD COLUMN edited_at TEXT;
        ALTER TABLE mentions ADD COLUMN judged_text TEXT;
        """,
    )


def _v13_rare_filter_indexes(db: sqlite_utils.Database) -> None:
    """The queue filtered by a segment or by who has the case: those match few
    drafts, and without an index the queue read every pending draft to find them
    (a third of a second at 60,000 pending, more on an outage day); and who holds
    open cases, read for the queue's and the tasks' filter lists. Partial, so
    the many posts without a segment and cases nobody took cost ingest nothing."""
    run_script(
        db.conn,
        """
        CREATE INDEX verdicts_segment ON verdicts (segment) WHERE segment IS NOT NULL;
        CREATE INDEX cases_assignee ON cases (assignee) WHERE assignee IS NOT NULL;
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _v1_initial,
    _v2_alert_outbox,
    _v3_console,
    _v4_batch_search_index,
    _v5_source_health,
    _v6_contact_weight,
    _v7_callbacks_by_case,
    _v8_retention,
    _v9_report_counts,
    _v10_platform_days,
    _v11_publish_rests,
    _v12_edited_posts,
    _v13_rare_filter_indexes,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass


class NotEarfulDatabase(RuntimeError):
    """A database with tables of its own and no Earful schema: someone else's."""


def _refuse_foreign(conn: sqlite3.Connection) -> None:
    """A database with no Earful schema yet must be empty: a mistyped storage.path
    pointing at another program's database would get Earful's tables written into
    it, a surprise for that program's owner."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotEarfulDatabase(
            f"it is not an Earful database (it holds other tables: {shown}); "
            "point storage.path at a new file or at Earful's own database"
        )


def migrate(db: sqlite_utils.Database, *, upgrade: bool = True) -> int:
    """Apply the migrations this database lacks; return the resulting version.
    Without `upgrade`, a database an older Earful made is left at its version (and
    that is returned): a backup taken by a newer Earful must still be one the older
    can restore, the way back from the upgrade."""
    conn: sqlite3.Connection = db.conn
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database is at schema version {current}, newer than this Earful "
            f"understands ({SCHEMA_VERSION}); upgrade Earful, or, to go back to this "
            "version, `earful restore` the backup taken before the upgrade"
        )
    if current and not upgrade:
        return int(current)
    if 0 < current < SCHEMA_VERSION:
        # said once, where an operator looks: the Earful that wrote this file cannot
        # open it after this (a backup that Earful took keeps the old version)
        file = conn.execute("PRAGMA database_list").fetchone()[2] or "(in memory)"
        log.warning(
            "upgrading the database %s from schema version %d to %d: an older Earful "
            "cannot open it afterwards",
            file,
            current,
            SCHEMA_VERSION,
        )
    for number in range(current + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # another process (the daemon starting beside a cron job) may have
            # migrated while this one waited for the lock: the version read above is
            # stale, and the tables it made are Earful's, not another program's
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("COMMIT")
                continue
            if number == 1:
                _refuse_foreign(conn)
            MIGRATIONS[number - 1](db)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
