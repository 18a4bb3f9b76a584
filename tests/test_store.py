"""The store, on real SQLite files."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from factories import at_version, complaint, mention, noise, praise, verdict

from listener.mention import Mention
from responders.drafts import Draft, DraftKind, contact_weight
from rules.verdict import Disposition
from storage import queries
from storage.db import connect, shown_time
from storage.ingest import RAISE_OPEN_TASK, RAISE_PENDING_REPLIES
from storage.queries import QueueFilter
from storage.records import Judged
from storage.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from storage.store import NOT_TAKEN, AlreadyDecided, CaseConflict, NotFound, Store


def count(store: Store, table: str) -> int:
    n: int = store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return n


# -- schema ---------------------------------------------------------------------


def test_new_database_is_migrated_to_the_latest_version(store: Store) -> None:
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_keeps_the_data(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.ingest("x", [complaint()], {"since_id": "5"})
    with Store.open(db_path) as s:
        assert count(s, "mentions") == 1
        assert s.cursor("x") == {"since_id": "5"}


def test_database_from_a_newer_earful_is_refused(db_path: Path) -> None:
    Store.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this Earful"):
        Store.open(db_path)


# -- ingest ---------------------------------------------------------------------


def test_ingest_stores_mention_verdict_drafts_and_cursor_together(store: Store) -> None:
    result = store.ingest("x", [complaint(), praise(), noise()], {"since_id": "9"})
    assert (result.stored, result.replies, result.callbacks) == (3, 2, 1)
    assert count(store, "mentions") == 3
    assert count(store, "verdicts") == 3
    assert count(store, "replies") == 2
    assert count(store, "callbacks") == 1
    assert count(store, "praise") == 1
    assert store.cursor("x") == {"since_id": "9"}


def test_ingest_keeps_the_per_day_roll_up_in_step(store: Store) -> None:
    day1, day2 = datetime(2026, 11, 20, 23, 59, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    store.ingest("x", [complaint(mention(created_at=day1)), praise(mention(created_at=day1))], None)
    store.ingest("x", [complaint(mention(created_at=day1)), noise(mention(created_at=day2))], None)
    store.ingest("x", [complaint(mention(native_id="day-2-only", created_at=day2))], None)
    store.ingest(
        "x", [complaint(mention(native_id="day-2-only", created_at=day2))], None
    )  # a duplicate
    rows = store.conn.execute(
        "SELECT day, disposition, mentions FROM mention_days ORDER BY day, disposition"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("2026-11-20", "interesting_bad", 2),
        ("2026-11-20", "interesting_good", 1),
        ("2026-11-21", "ignore", 1),
        ("2026-11-21", "interesting_bad", 1),
    ]


def test_a_mention_stored_twice_is_kept_once(store: Store) -> None:
    m = mention(native_id="42")
    store.ingest("x", [complaint(m)], None)
    result = store.ingest("x", [complaint(m)], None)
    assert (result.stored, result.duplicates) == (0, 1)
    assert count(store, "mentions") == 1
    assert count(store, "replies") == 1


def edit_of(m: Mention, version_id: str, text: str) -> Mention:
    return replace(m, version_id=version_id, text=text)


def test_an_original_and_its_edit_in_one_batch_store_one_post_reading_as_edited(
    store: Store,
) -> None:
    first = mention("internet down", native_id="100")
    edit = edit_of(first, "105", "internet down, fixed now")
    result = store.ingest("x", [complaint(first)], None, [edit])
    assert (result.stored, result.edited) == (1, 1)
    row = store.conn.execute("SELECT text, judged_text, version_id FROM mentions").fetchone()
    assert tuple(row) == ("internet down, fixed now", "internet down", "105")
    assert count(store, "replies") == 1


def test_an_older_version_read_again_after_a_newer_one_changes_nothing(store: Store) -> None:
    first = mention("internet down", native_id="100")
    store.ingest("x", [complaint(first)], None, [edit_of(first, "105", "v2")])
    later = store.ingest("x", [], None, [edit_of(first, "99", "v0"), edit_of(first, "105", "v2")])
    assert later.edited == 0
    row = store.conn.execute("SELECT text, judged_text, version_id FROM mentions").fetchone()
    assert tuple(row) == ("v2", "internet down", "105")


def test_same_native_id_on_two_platforms_are_two_mentions(store: Store) -> None:
    store.ingest("a", [complaint(mention(native_id="7", platform="x"))], None)
    store.ingest("b", [complaint(mention(native_id="7", platform="reddit"))], None)
    assert count(store, "mentions") == 2


def test_unseen_drops_stored_and_repeated_mentions(store: Store) -> None:
    a, b = mention(native_id="1"), mention(native_id="2")
    store.ingest("x", [complaint(a)], None)
    assert [m.native_id for m in store.unseen([a, b, b])] == ["2"]


def test_failed_ingest_stores_nothing_and_keeps_the_cursor(store: Store) -> None:
    store.ingest("x", [complaint(mention(native_id="1"))], {"since_id": "1"})
    # A real failure inside the transaction: SQLite aborts on the third mention.
    store.conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON mentions WHEN new.native_id = '3' "
        "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    )
    batch = [complaint(mention(native_id=n)) for n in ("2", "3", "4")]
    with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):
        store.ingest("x", batch, {"since_id": "4"})
    assert count(store, "mentions") == 1
    assert count(store, "replies") == 1
    assert store.cursor("x") == {"since_id": "1"}
    store.conn.execute("DROP TRIGGER boom")
    store.ingest("x", batch, {"since_id": "4"})
    assert count(store, "mentions") == 4
    assert count(store, "verdicts") == 4
    assert store.cursor("x") == {"since_id": "4"}


# -- cases ------------------------------------------------------------------------


def test_one_open_case_per_author_and_conversation(store: Store) -> None:
    first = mention("router dead", native_id="10", conversation_id="10")
    follow_up = mention("still dead", native_id="11", conversation_id="10")
    elsewhere = mention("and billing is wrong", native_id="12", conversation_id="12")
    store.ingest("x", [complaint(first), complaint(follow_up), complaint(elsewhere)], None)
    cases = store.conn.execute(
        "SELECT conversation, count(*) FROM mentions m JOIN cases c "
        "ON c.id = m.case_id GROUP BY c.id ORDER BY 1"
    ).fetchall()
    assert [tuple(r) for r in cases] == [("10", 2), ("12", 1)]


def test_noise_opens_no_case_but_joins_an_open_one(store: Store) -> None:
    store.ingest("x", [noise(mention("lunch", native_id="20"))], None)
    assert count(store, "cases") == 0
    store.ingest("x", [complaint(mention("down", native_id="21", conversation_id="21"))], None)
    store.ingest("x", [noise(mention("DM sent", native_id="22", conversation_id="21"))], None)
    rows = store.conn.execute("SELECT native_id, case_id FROM mentions ORDER BY id").fetchall()
    assert rows[0]["case_id"] is None
    assert rows[1]["case_id"] == rows[2]["case_id"] is not None


def test_escalation_marks_the_case_escalated(store: Store) -> None:
    from responders.drafts import Draft, DraftKind

    m = mention("cancelling today, switching to Globex", native_id="30")
    judged = complaint(m, urgency=90)
    judged = Judged(
        m, judged.verdict, (*judged.drafts, Draft(DraftKind.ESCALATION, "urgent", m.key, "u"))
    )
    result = store.ingest("x", [judged], None)
    assert result.alerts == 1
    assert store.conn.execute("SELECT status FROM cases").fetchone()[0] == "escalated"
    assert store.stats().escalated_cases == 1


# -- decisions --------------------------------------------------------------------


def _one_reply(store: Store) -> int:
    store.ingest("x", [complaint()], None)
    return store.replies()[0].id


def test_queue_lists_pending_most_urgent_first(store: Store) -> None:
    store.ingest("x", [complaint(urgency=20), complaint(urgency=90), complaint(urgency=50)], None)
    assert [r.urgency for r in store.replies()] == [90, 50, 20]


def test_approve_with_edit_keeps_the_original_draft_and_audits(store: Store) -> None:
    reply_id = _one_reply(store)
    reply = store.approve(reply_id, "bea", body="Edited reply")
    assert (reply.status, reply.body, reply.decided_by) == ("approved", "Edited reply", "bea")
    assert reply.drafted_body.startswith("Sorry")
    history = store.audit_log(subject=f"reply:{reply_id}")
    assert [(h.actor, h.action) for h in history] == [("bea", "approve")]


def test_second_approval_is_told_who_decided(store: Store) -> None:
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    with pytest.raises(AlreadyDecided, match=r"already approved by bea"):
        store.approve(reply_id, "carl")


def test_rejected_reply_cannot_be_approved(store: Store) -> None:
    reply_id = _one_reply(store)
    store.reject(reply_id, "bea", reason="not our customer")
    with pytest.raises(AlreadyDecided, match="already rejected by bea"):
        store.approve(reply_id, "carl")


def test_unknown_reply_id_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no reply with id 999"):
        store.approve(999, "bea")


def test_concurrent_approvals_from_two_processes_one_wins(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.ingest("x", [complaint()], None)
        reply_id = s.replies()[0].id
    stores = [Store.open(db_path), Store.open(db_path)]  # two connections: two processes' worth
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(store: Store, name: str) -> None:
        barrier.wait()
        try:
            store.approve(reply_id, name)
            outcomes[name] = "won"
        except AlreadyDecided as exc:
            outcomes[name] = str(exc)

    threads = [
        threading.Thread(target=decide, args=(s, n))
        for s, n in zip(stores, ("ana", "bo"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    winners = [n for n, o in outcomes.items() if o == "won"]
    assert len(winners) == 1
    loser = "bo" if winners == ["ana"] else "ana"
    assert f"already approved by {winners[0]}" in outcomes[loser]
    with Store.open(db_path) as s:
        assert len(s.audit_log(subject=f"reply:{reply_id}")) == 1


# -- the outbox -------------------------------------------------------------------


def test_claim_moves_approved_to_sending_once(store: Store) -> None:
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    claims = store.claim_for_posting(dry_run=False)
    assert [c.id for c in claims] == [reply_id]
    assert store.claim_for_posting(dry_run=False) == []
    assert store.reply(reply_id).status == "sending"
    store.mark_sent(reply_id, posted_id="123", posted_url="https://x.com/i/123")
    reply = store.reply(reply_id)
    assert (reply.status, reply.posted_id) == ("sent", "123")


def test_a_claim_released_for_a_rate_limit_stores_the_limit_in_the_same_commit(
    store: Store,
) -> None:
    # two commits: a crash between them left the reply waiting and the limit forgotten,
    # and the next run posted the other replies into it
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    (claim,) = store.claim_for_posting(dry_run=False)
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)  # stored to the millisecond
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    assert store.release_claims([claim.id], until=until, note="429", resting="x") == 1
    store.conn.set_trace_callback(None)
    assert seen.count("COMMIT") == 1
    assert store.publishing_rests() == {"x": until}
    reply = store.reply(reply_id)
    assert (reply.status, reply.last_error) == ("approved", "429")


def test_a_claim_to_post_is_synced_to_disk_before_it_returns(store: Store) -> None:
    # A power cut must not undo the claim of a reply that then gets posted: that
    # commit runs with synchronous = FULL; the others keep NORMAL (synced at checkpoints).
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    assert store.claim_for_posting(dry_run=False)
    store.conn.set_trace_callback(None)
    full, commit = seen.index("PRAGMA synchronous = FULL"), seen.index("COMMIT")
    assert full < seen.index("BEGIN IMMEDIATE") < commit < seen.index("PRAGMA synchronous = NORMAL")
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    seen.clear()
    store.conn.set_trace_callback(seen.append)
    store.ingest("x", [complaint()], None)
    store.approve(store.replies()[0].id, "bea")
    store.conn.set_trace_callback(None)
    assert not any(q.startswith("PRAGMA synchronous") for q in seen)


def test_pending_replies_are_never_claimed(store: Store) -> None:
    _one_reply(store)
    assert store.claim_for_posting(dry_run=False) == []


def test_retryable_failure_goes_back_to_approved_until_attempts_run_out(store: Store) -> None:
    now = [datetime(2026, 11, 20, 12, 0, tzinfo=UTC)]
    store.clock = lambda: now[0]
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    for attempt in (1, 2):
        (claim,) = store.claim_for_posting(dry_run=False)
        assert claim.attempts == attempt
        reply = store.mark_failed(
            reply_id, "503", retryable=True, max_attempts=2, retry_in=timedelta(minutes=1)
        )
        if attempt == 1:
            assert reply.status == "approved"
            assert store.claim_for_posting(dry_run=False) == []  # not due yet
            now[0] += timedelta(minutes=2)
    assert reply.status == "failed"
    assert reply.last_error == "503"


def test_permanent_failure_goes_to_failed_with_the_reason(store: Store) -> None:
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=False)
    reply = store.mark_failed(reply_id, "duplicate content", retryable=False)
    assert (reply.status, reply.last_error) == ("failed", "duplicate content")


def test_a_refused_reply_can_be_changed_and_approved_again(store: Store) -> None:
    # "502 characters with the @mention; shorten it and approve again": that must be
    # something a person can do, not "it is already failed"
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=False)
    store.mark_failed(reply_id, "too long", retryable=False)
    assert store.edit(reply_id, "cy", "shorter").status == "failed"
    again = store.approve(reply_id, "cy", body="shorter still")
    assert (again.status, again.body, again.attempts, again.decided_by) == (
        "approved",
        "shorter still",
        0,
        "cy",
    )
    (claim,) = store.claim_for_posting(dry_run=False)
    assert (claim.id, claim.body) == (reply_id, "shorter still")
    # or given up on; a sent or unknown reply is never changed
    store.mark_failed(reply_id, "too long", retryable=False)
    assert store.reject(reply_id, "cy", reason="answered by phone").status == "rejected"
    with pytest.raises(AlreadyDecided, match="already rejected by cy"):
        store.edit(reply_id, "cy", "x")


def test_unknown_then_retry_by_a_person(store: Store) -> None:
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=False)
    assert store.mark_unknown(reply_id, "crashed while sending").status == "unknown"
    assert store.claim_for_posting(dry_run=False) == []
    store.retry(reply_id, "bea")
    assert [c.id for c in store.claim_for_posting(dry_run=False)] == [reply_id]


def test_in_sending_lists_what_a_crash_left_behind(store: Store) -> None:
    reply_id = _one_reply(store)
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=True)
    (claim,) = store.in_sending()
    assert (claim.id, claim.dry_run) == (reply_id, True)


# -- hostile text -------------------------------------------------------------------

HOSTILE = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "A" * 100_000,
    "nul\x00byte inside",
    "lone \ud800 surrogate and \udfff another",
    "rtl \u202eevil\u202c override and \u2066isolate\u2069",
    "emoji 🔥💀 and ZWJ 👩‍💻 and combining é",
    "",
]


@pytest.mark.parametrize(
    "text", HOSTILE, ids=["html", "100kB", "nul", "surrogate", "rtl", "emoji", "empty"]
)
def test_hostile_text_round_trips_through_the_store(store: Store, text: str) -> None:
    m = mention(text, handle="h\ud800x", raw={"text": text})
    store.ingest("x", [complaint(m)], None)
    reply = store.replies()[0]
    assert reply.text == text
    assert reply.author_handle == "h\ud800x"
    assert store.mention(reply.mention_id).text == text
    columns, rows = store.export("mentions")
    exported = dict(zip(columns, next(rows), strict=True))
    assert exported["text"] == text


def test_hostile_text_in_an_edit_round_trips(store: Store) -> None:
    reply_id = _one_reply(store)
    body = "fixed \ud800 <b>now</b>\x00"
    assert store.approve(reply_id, "bea", body=body).body == body


# -- search and stats ----------------------------------------------------------------


def test_full_text_search_finds_words_in_posts(store: Store) -> None:
    store.ingest("x", [complaint(mention("the router keeps rebooting")), noise()], None)
    assert [m.text for m in store.search("router")] == ["the router keeps rebooting"]


def test_search_with_stray_syntax_does_not_fail(store: Store) -> None:
    store.ingest("x", [complaint(mention('he said "router'))], None)
    assert [m.text for m in store.search('"router')] == ['he said "router']


def test_words_fts_takes_for_operators_are_searched_as_words(store: Store) -> None:
    # "NOT working" or "AND down" found nothing: FTS5 read its operators, failed, and
    # the fallback phrase matched no post
    store.ingest("x", [complaint(mention("wifi down and the app is not working"))], None)
    for query in ("NOT working", "AND down", "Wifi AND app"):
        assert [m.text for m in store.search(query)] == ["wifi down and the app is not working"], (
            query
        )
    searched = queries.queue(store, QueueFilter(search="NOT working"))
    assert [r.text for r in searched] == ["wifi down and the app is not working"]


def test_search_finds_every_post_of_every_batch(store: Store) -> None:
    store.ingest("x", [complaint(mention("router down", native_id="1")), noise()], None)
    again = complaint(mention("router down", native_id="1"))  # a duplicate: stored once
    store.ingest("x", [again, complaint(mention("modem down", native_id="2"))], None)
    assert sorted(m.text for m in store.search("down")) == ["modem down", "router down"]
    assert count(store, "fts_batch") == 0
    # the index holds exactly the stored text, nothing missing, nothing extra
    store.conn.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('integrity-check')")


def test_search_finds_posts_other_writers_insert(store: Store, db_path: Path) -> None:
    store.ingest("x", [complaint(mention("router down", native_id="1"))], None)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute(
        "INSERT INTO mentions (platform, native_id, source, text, fetched_at) "
        "VALUES ('x', '2', 'script', 'modem down', 'now')"
    )
    other.close()
    assert sorted(m.text for m in store.search("down")) == ["modem down", "router down"]


def test_stats_counts_and_net_sentiment(store: Store) -> None:
    store.ingest("x", [complaint(), complaint(), praise(), noise()], None)
    s = store.stats()
    assert s.mentions == 4
    assert s.by_disposition == {"interesting_bad": 2, "ignore": 1, "interesting_good": 1}
    assert s.by_topic == {"outage": 2}
    assert s.net_sentiment == pytest.approx(-25.0)
    assert s.replies_by_status == {"pending": 3}
    assert s.median_first_reply_seconds is None


def test_median_time_to_first_reply(store: Store) -> None:
    posted_at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    store.clock = lambda: posted_at + timedelta(hours=2)
    store.ingest("x", [complaint(mention(created_at=posted_at))], None)
    reply_id = store.replies()[0].id
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=True)
    store.mark_sent(reply_id, posted_id=None)
    s = store.stats()
    assert s.median_first_reply_seconds == pytest.approx(7200, abs=1)
    assert s.replied_cases == 1


def test_a_post_stamped_in_the_future_was_answered_at_once_not_before_it(store: Store) -> None:
    # the platform's clock ran three hours ahead of ours
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    store.clock = lambda: now
    store.ingest("x", [complaint(mention(created_at=now + timedelta(hours=3)))], None)
    reply_id = store.replies()[0].id
    store.approve(reply_id, "bea")
    store.claim_for_posting(dry_run=True)
    store.mark_sent(reply_id, posted_id=None)
    assert store.stats().median_first_reply_seconds == 0.0


def test_an_upgrade_says_so_once_and_a_current_database_says_nothing(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    at_version(db_path, 3).close()
    with caplog.at_level(logging.WARNING, logger="storage.schema"):
        Store.open(db_path).close()
        Store.open(db_path).close()
    (said,) = [r.getMessage() for r in caplog.records]
    assert said == (
        f"upgrading the database {db_path} from schema version 3 to {SCHEMA_VERSION}: "
        "an older Earful cannot open it afterwards"
    )


@pytest.mark.parametrize(
    ("statement", "params", "index"),
    [
        (RAISE_OPEN_TASK, (1, 1), "callbacks_case"),
        (RAISE_PENDING_REPLIES, (1, "x", "a"), "replies_case"),
    ],
)
def test_a_follow_up_finds_its_authors_work_by_case(
    store: Store, statement: str, params: tuple[object, ...], index: str
) -> None:
    # Through the status index SQLite walks every open task for every follow-up: the
    # pipeline benchmark's store time went from 0.22 to 1.9 ms a mention.
    plan = " ".join(
        str(row[3]) for row in store.conn.execute("EXPLAIN QUERY PLAN " + statement, params)
    )
    assert f"USING INDEX {index} (case_id=?)" in plan


def test_contacts_from_before_the_weights_cool_everything(db_path: Path) -> None:
    # a version-5 database's contacts said only when: taken as complaints, they go on
    # cooling every kind of post, as they did
    conn = at_version(db_path, 5)
    conn.execute("INSERT INTO contacts VALUES ('x', 'ana', '2026-11-20T09:00:00.000Z')")
    conn.close()
    with Store.open(db_path) as store:
        (contact,) = store.last_contacts([("x", "ana")]).values()
        assert contact.weight == contact_weight(Disposition.INTERESTING_BAD)


@pytest.mark.parametrize("version", [0, 5])
def test_a_migration_another_process_made_meanwhile_is_not_made_again(
    db_path: Path, version: int
) -> None:
    # Both read the same version; the other one takes the write lock first and
    # migrates. This one must see that under the lock instead of failing on
    # "duplicate column", or on a new database on "not an Earful database" (its
    # tables are the other process's Earful's): both read as a damaged database.
    conn = at_version(db_path, version)
    other = connect(db_path)
    raced: list[int] = []

    seen: list[str] = []

    def the_other_migrates_first(sql: str) -> None:
        # right after this one has read the version, whatever it does next
        if seen[-1:] == ["PRAGMA user_version"] and not raced:
            raced.append(migrate(sqlite_utils.Database(other)))
        seen.append(sql)

    conn.set_trace_callback(the_other_migrates_first)
    assert migrate(sqlite_utils.Database(conn)) == SCHEMA_VERSION
    assert raced == [SCHEMA_VERSION]


def test_stats_add_up_while_a_batch_is_stored_between_its_reads(db_path: Path) -> None:
    # the daemon commits a batch between two of the report's reads: the mention
    # count and the counts by disposition must still be of one moment
    with Store.open(db_path) as store, Store.open(db_path) as daemon:
        store.ingest("x", [complaint()], None)
        stored: list[int] = []

        def a_batch_lands(sql: str) -> None:
            if "FROM mentions" in sql and not stored:
                stored.append(daemon.ingest("x", [praise(), noise()], None).stored)

        store.conn.set_trace_callback(a_batch_lands)
        stats = store.stats()
        store.conn.set_trace_callback(None)
        assert stored == [2]  # the batch did land mid-report
        assert stats.mentions == sum(stats.by_disposition.values()) == 1
        assert store.stats().mentions == 3


def test_an_escalation_by_earful_is_in_the_cases_history(store: Store) -> None:
    urgent = complaint(urgency=90)
    alert = Draft(DraftKind.ESCALATION, "Urgent", urgent.mention.key, "urgency 90 >= 80")
    store.ingest("x", [replace(urgent, drafts=(*urgent.drafts, alert))], None)
    (entry,) = store.audit_log(subject="case:1")
    assert (entry.actor, entry.action) == ("earful", "escalate")
    with pytest.raises(CaseConflict, match=r"it is escalated \(last change: escalate by earful"):
        store.escalate_case(1, "bob")


def test_an_export_carries_only_http_links(store: Store) -> None:
    # a hostile feed's javascript: permalink never became a link on a page; in the
    # praise CSV marketing copies testimonials from, it must not be one either
    for n, url in enumerate(["JaVaScRiPt:alert(1)", " javascript:x", "data:text/html,x"]):
        store.ingest("x", [praise(replace(mention("love it", native_id=str(n)), url=url))], None)
    store.ingest("x", [praise(mention("love it", native_id="9"))], None)
    columns, rows = store.export("praise")
    links = [dict(zip(columns, row, strict=True))["permalink"] for row in rows]
    assert links[:3] == [None, None, None]
    assert links[3] is not None and links[3].startswith("https://")


# -- rejecting with the task, and undoing it --------------------------------------------


def _thread(text: str, n: str) -> Mention:
    return mention(text, native_id=n, handle="una", conversation_id="t9")


def _follow_up(m: Mention) -> Judged:
    # a complaint within the cooldown: no reply of its own, it leans on the case's task
    return Judged(m, verdict(urgency=70), (Draft(DraftKind.FOLLOW_UP, "Call @una", m.key, "f"),))


def test_rejecting_with_the_task_leaves_a_task_a_later_complaint_leans_on(store: Store) -> None:
    store.ingest("x", [complaint(_thread("router down since monday", "a1"))], None)
    store.ingest("x", [_follow_up(_thread("lost a day's pay, CALL me", "a2"))], None)
    (reply,) = store.replies()
    done = store.reject_with_task(reply.id, "alice", reason="a joke")
    assert (done.reply.status, done.closed_tasks) == ("rejected", ())
    (task,) = store.callbacks()
    assert done.kept_tasks == (task.id,) and task.urgency == 70


def test_undoing_a_rejection_reopens_its_task_only_where_it_is_still_wanted(
    store: Store,
) -> None:
    store.ingest("x", [complaint(_thread("router down since monday", "b1"))], None)
    (reply,) = store.replies()
    (task_id,) = store.reject_with_task(reply.id, "alice").closed_tasks
    assert store.reopen(reply.id, "alice") == (store.reply(reply.id), [task_id])
    assert [t.id for t in store.callbacks()] == [task_id]

    # a later complaint made a task of its own meanwhile: one open task a case
    store.reject_with_task(reply.id, "alice")
    store.ingest("x", [_follow_up(_thread("still down", "b2"))], None)
    (newer,) = store.callbacks()
    _reply, reopened = store.reopen(reply.id, "alice")
    assert reopened == [] and [t.id for t in store.callbacks()] == [newer.id]


def test_undoing_a_rejection_in_a_case_resolved_since_leaves_its_task_done(
    store: Store,
) -> None:
    store.ingest("x", [complaint(_thread("router down since monday", "c1"))], None)
    (reply,) = store.replies()
    assert store.reject_with_task(reply.id, "alice").closed_tasks
    store.resolve_case(reply.case_id or 0, "bob")
    again, reopened = store.reopen(reply.id, "alice")
    assert (again.status, reopened, store.callbacks()) == ("pending", [], [])


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2026-12-01T05:32:10.123Z", "2026-12-01 05:32:10 UTC"),
        ("2026-12-01T07:32:10+02:00", "2026-12-01 05:32:10 UTC"),
        ("2026-12-01T05:32:10", "2026-12-01 05:32:10 UTC"),  # no zone: Earful's UTC
        (None, "an unknown time"),
        ("yesterday-ish", "yesterday-ish"),  # not Earful's: as it is
    ],
)
def test_times_in_messages_read_as_a_person_reads_them(stored: str | None, shown: str) -> None:
    assert shown_time(stored) == shown


def test_who_decided_first_is_told_in_a_readable_time(store: Store) -> None:
    store.ingest("x", [complaint()], None)
    (reply,) = store.replies()
    store.approve(reply.id, "bob")
    with pytest.raises(AlreadyDecided, match=r"already approved by bob at \d{4}-\d\d-\d\d \d\d:"):
        store.reject(reply.id, "alice")


def test_the_queue_finds_a_segment_or_a_persons_cases_by_index(store: Store) -> None:
    # filters that match few drafts: without an index the queue read every pending
    # draft to find them (a third of a second at 60,000 pending)
    plans: list[str] = []

    def explain(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM replies r" in sql:
            plan = store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            plans.append(" | ".join(str(row[-1]) for row in plan))

    store.conn.set_trace_callback(explain)
    try:
        queries.queue(store, QueueFilter(segment="white_glove"))
        queries.queue(store, QueueFilter(assignee="ana"))
    finally:
        store.conn.set_trace_callback(None)
    segment, assignee = plans
    assert "verdicts_segment" in segment, segment
    assert "cases_assignee" in assignee, assignee


def test_the_queue_and_tasks_by_who_has_the_case_read_the_cases_once(store: Store) -> None:
    # the queue's "taken by" filter looked up each draft's case in turn, walking every
    # pending draft (about 200 ms at 40,000 of them) for a lead's one click
    store.ingest(
        "x", [complaint(mention(f"{h}: router down", native_id=h, handle=h)) for h in "abc"], None
    )
    store.add_user("alice", "agent", None, actor="admin")
    taken = store.replies()[0].case_id
    assert taken is not None
    store.assign_case(taken, "admin", "alice")
    plans: list[str] = []

    def explained(sql: str) -> None:
        if sql.lstrip().startswith("SELECT") and "assignee" in sql:
            rows = store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            plans.append("\n".join(str(r[-1]) for r in rows))

    store.conn.set_trace_callback(explained)
    try:
        alice = queries.queue(store, QueueFilter(assignee="alice"))
        nobody = queries.queue(store, QueueFilter(assignee=NOT_TAKEN))
        tasks = store.callbacks(assignee="alice")
    finally:
        store.conn.set_trace_callback(None)
    assert [r.case_id for r in alice] == [taken] == [t.case_id for t in tasks]
    assert len(nobody) == 2 and taken not in {r.case_id for r in nobody}
    assert len(plans) == 3
    for plan in plans:  # the cases taken, listed once; not a lookup for each row looked at
        assert "LIST SUBQUERY" in plan, plan
