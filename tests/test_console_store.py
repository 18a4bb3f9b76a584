"""What the console adds below the web layer: case steps and stars in the store,
sessions, the console's queries, password hashing, the login limiter, and the
rest."""

from __future__ import annotations

import html
import json
import sqlite3
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from consolekit import Clock
from factories import complaint, mention, noise, praise

from earful.console.passwords import BadHash, hash_password, verify_password
from earful.console.posttext import breakable, post_text, preview
from earful.console.ratelimit import LoginLimiter
from storage import queries
from storage.queries import QueueFilter
from storage.schema import MIGRATIONS, SCHEMA_VERSION
from storage.sessions import end_session, find_session, start_session, why_ended
from storage.store import AlreadyDecided, CaseConflict, EditedSince, NotFound, Store, StoreError


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cstore(db_path: Path, clock: Clock) -> Store:
    s = Store.open(db_path, clock=clock)
    s.add_user("alice", "agent", "x", actor="t")
    s.add_user("vera", "viewer", "x", actor="t")
    return s


def _case(store: Store) -> int:
    store.ingest("x", [complaint(mention(native_id="c1"))], None)
    return int(store.reply(1).case_id or 0)


# -- the schema ------------------------------------------------------------------------


def test_a_version_1_database_gains_the_console_tables(db_path: Path) -> None:
    import sqlite_utils

    conn = sqlite3.connect(db_path, isolation_level=None)
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO mentions (id, platform, native_id, source, text, created_at, fetched_at) "
        "VALUES (1, 'x', '1', 'x', 'down again', '2026-11-20T09:00:00.000Z', 'now')"
    )
    conn.execute(
        "INSERT INTO verdicts VALUES (1, 'interesting_bad', 0, 0, '[]', 'outage', 1, 1, NULL, "
        "'[]', '[]', NULL)"
    )
    conn.close()
    with Store.open(db_path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert s.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
        days = s.conn.execute("SELECT * FROM mention_days").fetchall()
        assert [tuple(d) for d in days] == [
            ("2026-11-20", "interesting_bad", "outage", "x", 1, 0, 0)
        ]


# -- case steps ----------------------------------------------------------------------


def test_case_steps_are_audit_logged(cstore: Store) -> None:
    case_id = _case(cstore)
    assert cstore.assign_case(case_id, "alice", "alice").assignee == "alice"
    assert cstore.escalate_case(case_id, "alice", note="VIP").status == "escalated"
    resolved, _closed = cstore.resolve_case(case_id, "alice")
    assert resolved.status == "resolved" and resolved.resolved_at
    assert [a.action for a in cstore.audit_log(subject=f"case:{case_id}")] == [
        "resolve",
        "escalate",
        "assign",
    ]


def test_a_case_escalated_twice_names_who_did_it_first(cstore: Store) -> None:
    case_id = _case(cstore)
    cstore.escalate_case(case_id, "alice")
    with pytest.raises(CaseConflict, match="escalate by alice"):
        cstore.escalate_case(case_id, "bob")


def test_a_resolved_case_cannot_be_assigned(cstore: Store) -> None:
    case_id = _case(cstore)
    cstore.resolve_case(case_id, "alice")
    with pytest.raises(CaseConflict, match="cannot be assigned: it is resolved"):
        cstore.assign_case(case_id, "alice", "alice")


def test_resolving_a_case_closes_its_open_callback_tasks(cstore: Store) -> None:
    case_id = _case(cstore)
    cstore.ingest("x", [complaint(mention(native_id="other", handle="bo"))], None)
    tasks = [c for c in cstore.callbacks("open") if c.case_id == case_id]
    assert tasks  # the complaint's task is open until the case is resolved
    _resolved, closed = cstore.resolve_case(case_id, "alice")
    assert closed == sorted(task.id for task in tasks)
    for task in tasks:
        done = next(c for c in cstore.callbacks(None) if c.id == task.id)
        assert (done.status, done.done_by) == ("done", "alice")
        (said,) = cstore.audit_log(subject=f"callback:{task.id}")
        assert said.action == "callback-done"
        assert json.loads(said.detail or "{}") == {"case_resolved": case_id}
    # another case's task is not touched
    assert [c.author_handle for c in cstore.callbacks("open")] == ["bo"]


def test_reopening_a_resolved_case_reopens_the_tasks_resolving_closed(cstore: Store) -> None:
    case_id = _case(cstore)
    cstore.ingest("x", [complaint(mention(native_id="other", handle="bo"))], None)
    tasks = sorted(c.id for c in cstore.callbacks("open") if c.case_id == case_id)
    bo_task = next(c.id for c in cstore.callbacks("open") if c.author_handle == "bo")
    cstore.resolve_case(case_id, "alice")
    cstore.complete_callback(bo_task, "carl")  # someone else's, before the undo: stays
    case, reopened = cstore.reopen_case(case_id, "bob")
    assert (case.status, case.resolved_at) == ("open", None)
    assert sorted(reopened) == tasks
    assert sorted(c.id for c in cstore.callbacks("open")) == tasks
    said = cstore.audit_log(subject=f"case:{case_id}")[0]
    assert (said.action, said.actor) == ("reopen", "bob")
    with pytest.raises(CaseConflict, match="cannot be reopened: it is open"):
        cstore.reopen_case(case_id, "bob")


def test_an_escalated_case_reopened_is_escalated_again(cstore: Store) -> None:
    # reopened as merely open, it left the escalations and their count, and the
    # care retention takes of escalated cases
    case_id = _case(cstore)
    cstore.escalate_case(case_id, "alice", note="journalist")
    cstore.resolve_case(case_id, "alice")
    case, _tasks = cstore.reopen_case(case_id, "bob")
    assert (case.status, case.resolved_at) == ("escalated", None)
    # each undo puts back what its own resolve found
    cstore.resolve_case(case_id, "alice")
    assert cstore.reopen_case(case_id, "bob")[0].status == "escalated"
    cstore.ingest("x", [complaint(mention(native_id="c2", handle="ida"))], None)
    (other,) = {c.case_id for c in cstore.callbacks("open") if c.author_handle == "ida"}
    assert other is not None
    cstore.resolve_case(other, "alice")
    assert cstore.reopen_case(other, "bob")[0].status == "open"


def test_a_case_is_not_reopened_beside_a_newer_open_one(cstore: Store) -> None:
    # resolved, then the author complained again in the conversation: a new case
    case_id = _case(cstore)
    cstore.resolve_case(case_id, "alice")
    again = mention("still down", native_id="c2", conversation_id="c1")  # c1's thread
    cstore.ingest("x", [complaint(again)], None)
    with pytest.raises(CaseConflict, match="a newer case is open for the same author"):
        cstore.reopen_case(case_id, "bob")
    assert cstore.case(case_id).status == "resolved"


def test_cases_go_only_to_people_who_can_take_them(cstore: Store) -> None:
    case_id = _case(cstore)
    with pytest.raises(StoreError, match="viewer"):
        cstore.assign_case(case_id, "alice", "vera")
    with pytest.raises(NotFound, match="no user named 'zed'"):
        cstore.assign_case(case_id, "alice", "zed")
    assert cstore.assign_case(case_id, "alice", None).assignee is None


def test_unknown_case_is_not_found(cstore: Store) -> None:
    with pytest.raises(NotFound, match="no case with id 42"):
        cstore.resolve_case(42, "alice")


def test_starring_praise(cstore: Store) -> None:
    cstore.ingest("x", [praise(mention("love it", native_id="p1")), noise()], None)
    cstore.star_praise(1, "vera")
    assert [p.mention_id for p in queries.praise_wall(cstore, starred_only=True)] == [1]
    cstore.star_praise(1, "vera", starred=False)
    assert queries.praise_wall(cstore, starred_only=True) == []
    with pytest.raises(NotFound, match="not on the praise wall"):
        cstore.star_praise(2, "vera")


# -- sessions ---------------------------------------------------------------------------

HOUR, WEEK = timedelta(hours=1), timedelta(days=7)  # the idle limit, the lifetime


def test_sessions_store_only_a_digest_and_expire(cstore: Store, clock: Clock) -> None:
    user_id = cstore.user("alice").id
    token = start_session(cstore, user_id, ttl=HOUR, lifetime=WEEK, ip="127.0.0.1")
    stored = cstore.conn.execute("SELECT token_hash FROM sessions").fetchone()[0]
    assert token not in stored
    session = find_session(cstore, token, ttl=HOUR, lifetime=WEEK)
    assert session is not None and (session.name, session.role) == ("alice", "agent")
    assert find_session(cstore, token + "x", ttl=HOUR, lifetime=WEEK) is None
    clock.now += timedelta(minutes=50)
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is not None  # slides on
    clock.now += timedelta(minutes=50)
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is not None
    clock.now += timedelta(minutes=61)
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is None


def test_a_session_ends_at_its_lifetime_however_much_it_is_used(
    cstore: Store, clock: Clock
) -> None:
    start = clock.now
    token = start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=3 * HOUR, ip=None)
    ends = []
    for minutes in range(50, 180, 50):  # used every 50 minutes: never idle for an hour
        clock.now = start + timedelta(minutes=minutes)
        session = find_session(cstore, token, ttl=HOUR, lifetime=3 * HOUR)
        assert session is not None, minutes
        ends.append(session.expires_at)
    # the idle limit slid on, but not past the lifetime
    assert ends == [
        "2026-11-20T13:50:00.000Z",
        "2026-11-20T14:40:00.000Z",
        "2026-11-20T15:00:00.000Z",
    ]
    clock.now = start + 3 * HOUR
    assert find_session(cstore, token, ttl=HOUR, lifetime=3 * HOUR) is None
    assert why_ended(cstore, token, lifetime=3 * HOUR) == "lifetime"


def test_an_idle_session_is_told_from_one_at_its_lifetime(cstore: Store, clock: Clock) -> None:
    token = start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=WEEK, ip=None)
    clock.now += HOUR
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is None
    assert why_ended(cstore, token, lifetime=WEEK) == "idle"
    assert why_ended(cstore, "no such token", lifetime=WEEK) == "ended"


def test_a_lifetime_shorter_than_the_idle_limit_ends_the_session_first(
    cstore: Store, clock: Clock
) -> None:
    token = start_session(cstore, cstore.user("alice").id, ttl=WEEK, lifetime=HOUR, ip=None)
    session = find_session(cstore, token, ttl=WEEK, lifetime=HOUR)
    assert session is not None and session.expires_at == "2026-11-20T13:00:00.000Z"
    clock.now += HOUR
    assert find_session(cstore, token, ttl=WEEK, lifetime=HOUR) is None
    assert why_ended(cstore, token, lifetime=HOUR) == "lifetime"


def test_a_shorter_lifetime_applies_to_sessions_already_open(cstore: Store, clock: Clock) -> None:
    # logged in under a week's lifetime; then [console] session_lifetime = "2h"
    token = start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=WEEK, ip=None)
    clock.now += timedelta(minutes=50)
    assert find_session(cstore, token, ttl=HOUR, lifetime=2 * HOUR) is not None
    clock.now += timedelta(minutes=50)
    assert find_session(cstore, token, ttl=HOUR, lifetime=2 * HOUR) is not None
    clock.now += timedelta(minutes=20)  # 2 hours since the login
    assert find_session(cstore, token, ttl=HOUR, lifetime=2 * HOUR) is None
    assert why_ended(cstore, token, lifetime=2 * HOUR) == "lifetime"


def test_ending_a_users_sessions_ends_every_one_of_theirs_and_no_one_elses(
    cstore: Store,
) -> None:
    alice = [
        start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=WEEK, ip=ip)
        for ip in ("10.0.0.1", "10.0.0.2")
    ]
    vera = start_session(cstore, cstore.user("vera").id, ttl=HOUR, lifetime=WEEK, ip=None)
    assert cstore.end_sessions("alice", actor="alice") == 2
    assert [find_session(cstore, t, ttl=HOUR, lifetime=WEEK) for t in alice] == [None, None]
    assert why_ended(cstore, alice[0], lifetime=WEEK) == "ended"
    assert find_session(cstore, vera, ttl=HOUR, lifetime=WEEK) is not None
    entry = cstore.audit_log(subject="user:alice")[0]
    assert (entry.action, entry.actor, entry.detail) == (
        "user-logout-everywhere",
        "alice",
        '{"sessions":2}',
    )
    assert cstore.end_sessions("alice", actor="root") == 0
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        cstore.end_sessions("nobody", actor="root")


def test_logout_and_a_new_password_end_sessions(cstore: Store) -> None:
    user_id = cstore.user("alice").id
    one = start_session(cstore, user_id, ttl=HOUR, lifetime=WEEK, ip=None)
    two = start_session(cstore, user_id, ttl=HOUR, lifetime=WEEK, ip=None)
    end_session(cstore, one)
    assert find_session(cstore, one, ttl=HOUR, lifetime=WEEK) is None
    assert find_session(cstore, two, ttl=HOUR, lifetime=WEEK) is not None
    cstore.set_password("alice", hash_password("another long one"), actor="root")
    assert find_session(cstore, two, ttl=HOUR, lifetime=WEEK) is None


def test_disabling_a_user_ends_their_sessions_and_enabling_lets_them_back(
    cstore: Store,
) -> None:
    token = start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=WEEK, ip=None)
    account = cstore.set_disabled("alice", True, actor="root")
    assert (account.name, account.disabled) == ("alice", 1)
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is None
    cstore.set_disabled("alice", False, actor="root")
    again = start_session(cstore, cstore.user("alice").id, ttl=HOUR, lifetime=WEEK, ip=None)
    assert find_session(cstore, again, ttl=HOUR, lifetime=WEEK) is not None
    actions = [e.action for e in cstore.audit_log(subject="user:alice")]
    assert actions[:3] == ["login", "user-enable", "user-disable"]


def test_a_new_role_ends_the_users_sessions_and_the_next_login_has_it(cstore: Store) -> None:
    token = start_session(cstore, cstore.user("vera").id, ttl=HOUR, lifetime=WEEK, ip=None)
    assert cstore.set_role("vera", "agent", actor="root").role == "agent"
    assert find_session(cstore, token, ttl=HOUR, lifetime=WEEK) is None
    assert why_ended(cstore, token, lifetime=WEEK) == "ended"
    again = start_session(cstore, cstore.user("vera").id, ttl=HOUR, lifetime=WEEK, ip=None)
    session = find_session(cstore, again, ttl=HOUR, lifetime=WEEK)
    assert session is not None and session.role == "agent"
    entry = cstore.audit_log(subject="user:vera")[1]  # the new login came after it
    assert (entry.action, entry.actor, entry.detail) == ("user-role", "root", '{"role":"agent"}')
    with pytest.raises(StoreError, match="role must be one of admin, agent, viewer"):
        cstore.set_role("vera", "owner", actor="root")
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        cstore.set_disabled("nobody", True, actor="root")


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(cstore: Store) -> None:
    cstore.add_user("root", "admin", "x", actor="t")
    with pytest.raises(StoreError, match="root is the last enabled admin"):
        cstore.set_disabled("root", True, actor="root")
    with pytest.raises(StoreError, match="root is the last enabled admin"):
        cstore.set_role("root", "agent", actor="root")
    assert cstore.user("root").role == "admin" and not cstore.user("root").disabled
    cstore.set_role("alice", "admin", actor="root")
    cstore.set_disabled("root", True, actor="alice")  # another admin remains
    with pytest.raises(StoreError, match="alice is the last enabled admin"):
        cstore.set_role("alice", "viewer", actor="alice")


def test_accounts_never_carry_the_password_hash(cstore: Store) -> None:
    cstore.set_password("alice", hash_password("a long password"), actor="t")
    accounts = cstore.accounts()
    assert [a.name for a in accounts] == ["alice", "vera"]
    assert all("password_hash" not in dir(a) for a in accounts)


# -- queries ------------------------------------------------------------------------------


def test_queue_filters_and_search(cstore: Store) -> None:
    cstore.ingest(
        "x",
        [
            complaint(mention("router exploded", native_id="1", platform="x"), urgency=50),
            complaint(mention("billing is wrong", native_id="2", platform="reddit"), urgency=70),
            praise(mention("great router", native_id="3")),
        ],
        None,
    )
    everything = queries.queue(cstore, QueueFilter())
    assert [r.urgency for r in everything] == sorted((r.urgency for r in everything), reverse=True)
    assert [r.platform for r in queries.queue(cstore, QueueFilter(platform="reddit"))] == ["reddit"]
    assert {r.text for r in queries.queue(cstore, QueueFilter(search="router"))} == {
        "router exploded",
        "great router",
    }
    assert queries.queue(cstore, QueueFilter(search='router" OR:')) == []  # no crash
    good = queries.queue(cstore, QueueFilter(disposition="interesting_good"))
    assert [r.text for r in good] == ["great router"]


def test_a_search_of_one_handle_finds_the_authors_posts_and_posts_naming_them(
    cstore: Store,
) -> None:
    cstore.ingest(
        "x",
        [
            complaint(mention("router exploded", native_id="1", handle="Ana_B")),
            complaint(mention("@ana_b is right, mine too", native_id="2", handle="bo")),
            complaint(mention("billing is wrong", native_id="3", handle="ana_bee")),
        ],
        None,
    )
    by_handle = {r.text for r in queries.queue(cstore, QueueFilter(search="@ana_b"))}
    assert by_handle == {"router exploded", "@ana_b is right, mine too"}
    # the word alone reads post text, as before
    assert {r.text for r in queries.queue(cstore, QueueFilter(search="ana_b"))} == {
        "@ana_b is right, mine too"
    }
    # Store.search: her own posts first, then the posts naming her
    assert [m.text for m in cstore.search("@ANA_B")] == [
        "router exploded",
        "@ana_b is right, mine too",
    ]
    assert [m.text for m in cstore.search("@ana_b", limit=1)] == ["router exploded"]
    assert queries.queue(cstore, QueueFilter(search="@nobody")) == []
    # an @handle among other words is those words, as the posts were indexed (as one
    # phrase, FTS's fallback for the "@" it cannot parse, it found nothing)
    for query in ("@ana_b right", "right @ana_b", "@ana_b mine right"):
        assert [r.text for r in queries.queue(cstore, QueueFilter(search=query))] == [
            "@ana_b is right, mine too"
        ], query
        assert [m.text for m in cstore.search(query)] == ["@ana_b is right, mine too"], query
    assert cstore.search("@ana_b wrong") == []


def test_neighbours_follow_queue_order(cstore: Store) -> None:
    cstore.ingest(
        "x",
        [complaint(mention(native_id=str(n)), urgency=u) for n, u in ((1, 10), (2, 90), (3, 50))],
        None,
    )
    order = [r.id for r in queries.queue(cstore, QueueFilter())]
    middle = cstore.reply(order[1])
    around = queries.neighbours(cstore, middle)
    assert (around.previous, around.next) == (order[0], order[2])


def test_series_counts_by_day_and_week(cstore: Store, clock: Clock) -> None:
    today = clock.now
    cstore.ingest(
        "x",
        [
            complaint(mention(native_id="1", created_at=today)),
            praise(mention("love it", native_id="2", created_at=today)),
            complaint(mention(native_id="3", created_at=today - timedelta(days=1))),
            complaint(mention(native_id="4", created_at=today - timedelta(days=40))),
        ],
        None,
    )
    s = queries.series(cstore, days=7)
    assert s.days[-1] == today.date().isoformat() and len(s.days) == 7
    assert s.by_disposition["interesting_bad"][-1] == 1
    assert s.by_disposition["interesting_bad"][-2] == 1
    assert s.net_sentiment[-1] == 0.0 and s.net_sentiment[-2] == -100.0
    assert sum(sum(v) for v in s.topics_by_week.values()) == 2
    assert s.mentions == 3


# -- passwords, limiter, counting ------------------------------------------------------


def test_password_hashes_describe_themselves_and_verify() -> None:
    stored = hash_password("correct horse battery")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "1") and salt and key
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("correct horse battery") != stored  # salted
    with pytest.raises(BadHash):
        verify_password("x", "md5$abc")
    with pytest.raises(BadHash, match="out of range"):
        verify_password("x", "scrypt$4294967296$8$1$AAAA$AAAA")


def test_limiter_locks_a_name_and_address_for_the_window(clock: Clock) -> None:
    limiter = LoginLimiter(max_failures=3, window=timedelta(minutes=10), clock=clock)
    key = limiter.key("Alice ", "10.0.0.1")
    for _ in range(3):
        assert limiter.attempt(key) is None
    assert limiter.attempt(key) == 600.0
    assert limiter.attempt(limiter.key("alice", "10.0.0.2")) is None
    clock.now += timedelta(minutes=10, seconds=1)
    assert limiter.attempt(key) is None


def test_limiter_counts_an_attempt_before_its_password_is_checked(clock: Clock) -> None:
    limiter = LoginLimiter(max_failures=3, window=timedelta(minutes=10), clock=clock)
    key = limiter.key("alice", "10.0.0.1")
    assert [limiter.attempt(key) for _ in range(3)] == [None, None, None]
    assert limiter.attempt(key) == 600.0  # the fourth, still being checked or not
    assert limiter.attempts(key) == 3  # a refusal is not counted
    limiter.succeeded(key)
    assert limiter.attempt(key) is None and limiter.attempts(key) == 1


def test_limiter_memory_is_bounded(clock: Clock) -> None:
    limiter = LoginLimiter(max_keys=10, clock=clock)
    for n in range(100):
        limiter.attempt(limiter.key(f"user{n}", "ip"))
    assert len(limiter._failures) <= 10


def test_a_spray_of_junk_names_does_not_unlock_an_account(clock: Clock) -> None:
    # the table fills up and is halved: the locked-out pair must not be what goes,
    # nor one with failures counted against it before the junk
    limiter = LoginLimiter(max_failures=3, max_keys=10, clock=clock)
    locked, counting = limiter.key("admin", "ip"), limiter.key("bob", "ip")
    for _ in range(3):
        assert limiter.attempt(locked) is None
    for _ in range(2):
        assert limiter.attempt(counting) is None
    for n in range(100):
        limiter.attempt(limiter.key(f"junk{n}", "ip"))
    assert limiter.attempt(locked) is not None
    assert limiter.attempts(counting) == 2
    assert len(limiter._failures) <= 10


def test_series_median_time_to_first_reply(cstore: Store, clock: Clock) -> None:
    posted = clock.now - timedelta(hours=3)
    cstore.ingest("x", [complaint(mention(native_id="1", created_at=posted))], None)
    cstore.approve(1, "alice")
    cstore.claim_for_posting(dry_run=True)
    cstore.mark_sent(1, posted_id=None)
    s = queries.series(cstore, days=7)
    assert s.replied_cases == 1
    assert s.median_first_reply_seconds == pytest.approx(3 * 3600, abs=1)
    assert s.first_reply_by_week[-1] == pytest.approx(3 * 3600, abs=1)


def test_a_case_first_answered_before_the_window_is_not_first_answered_in_it(
    cstore: Store, clock: Clock
) -> None:
    # answered in 5 minutes on day 1; the author came back to the still-open case and
    # got a second reply 45 days later: that is no 45-day wait for a first reply
    start = clock.now
    first = mention(native_id="1", created_at=start, conversation_id="c1")
    cstore.ingest("x", [complaint(first)], None)
    clock.now = start + timedelta(minutes=5)
    cstore.approve(1, "alice")
    cstore.claim_for_posting(dry_run=True)
    cstore.mark_sent(1, posted_id=None)
    clock.now = start + timedelta(days=45)
    again = mention("still broken", native_id="2", created_at=clock.now, conversation_id="c1")
    cstore.ingest("x", [complaint(again)], None)
    (second,) = cstore.replies()
    assert cstore.reply(second.id).case_id == cstore.reply(1).case_id
    cstore.approve(second.id, "alice")
    cstore.claim_for_posting(dry_run=True)
    cstore.mark_sent(second.id, posted_id=None)
    s = queries.series(cstore, days=30)
    assert (s.replied_cases, s.median_first_reply_seconds) == (0, None)
    assert queries.series(cstore, days=60).median_first_reply_seconds == pytest.approx(300)


def test_a_decision_on_a_text_edited_meanwhile_changes_nothing(cstore: Store) -> None:
    """The guard is in the UPDATE itself: an edit saved between the console's read
    and its write is not overwritten."""
    _case(cstore)
    reply = cstore.reply(1)
    cstore.edit(reply.id, "bob", "Bob's text")
    with pytest.raises(EditedSince, match="bob changed its text at"):
        cstore.approve(reply.id, "alice", body_was=reply.body)
    with pytest.raises(EditedSince, match="not saved: bob changed"):
        cstore.edit(reply.id, "alice", "Alice's text", body_was=reply.body)
    assert (cstore.reply(reply.id).status, cstore.reply(reply.id).body) == ("pending", "Bob's text")
    approved = cstore.approve(reply.id, "alice", body_was="Bob's text")
    assert approved.status == "approved"
    with pytest.raises(AlreadyDecided):  # decided: the older complaint, not a stale text
        cstore.approve(reply.id, "alice", body_was=reply.body)


def test_odd_strings_are_not_found_rather_than_failing(cstore: Store) -> None:
    _case(cstore)
    with pytest.raises(NotFound):
        cstore.user("\ud800")
    for query in ("\ud800", "\x00", " \x00", '"\x00"', "a\x00b"):
        assert cstore.search(query) == [], repr(query)
    assert queries.queue(cstore, QueueFilter(status=None, search="\x01 \x00"))


# -- post text on the pages (posttext.py) ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100,
        "e\u0301" * 60,
        "👍🏽" * 50,
        "👩\u200d👩\u200d👧" * 30,
        "x<y>&" * 30,
        "\ud800" * 45,
        ("a" * 30 + "\u00a0") * 3,  # a no-break space is no break for a browser
    ],
)
def test_break_points_keep_the_text_and_never_split_a_character(text: str) -> None:
    marked = str(breakable(text))
    assert "<wbr>" in marked
    assert html.unescape(marked.replace("<wbr>", "")) == text
    for piece in marked.split("<wbr>")[1:]:
        first = html.unescape(piece)[0]
        assert unicodedata.category(first) not in ("Mn", "Mc", "Me", "Cf"), repr(first)
        assert not "\U0001f3fb" <= first <= "\U0001f3ff"


def test_a_short_post_is_only_escaped_and_a_long_one_shows_the_rest_on_demand() -> None:
    assert str(post_text("hi <b> there")) == "hi &lt;b&gt; there"
    long = "word " * 5000  # 25,000 characters
    shown = str(post_text(long))
    head, rest = shown.split('<details class="more-text"><summary>', 1)
    assert (
        html.unescape(head) + html.unescape(rest.split("</summary>", 1)[1][: -len("</details>")])
        == long
    )
    assert rest.startswith("Show the other 5,000 characters</summary>")


def test_a_preview_is_one_line_cut_after_a_word_and_never_inside_a_character() -> None:
    assert preview("down\n\n\n\n again\t\tnow ") == "down again now"
    assert preview("word " * 100, 20) == "word word word..."
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one character as read
    # the 17th character is a joiner inside the first family: the cut waits for its end
    assert preview("A" * 15 + family * 3, 20) == "A" * 15 + family + "..."
    assert preview("lone \ud83d here") == "lone \\ud83d here"  # as the page writes it
    assert preview(None) == ""
