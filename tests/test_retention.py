"""Retention (storage.retention, `earful prune`): old posts go with everything about
them, except where a person still has work; what went is not stored again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import complaint, mention, noise, praise

from listener.mention import Mention
from responders.drafts import Draft, DraftKind
from storage.records import Judged
from storage.retention import Pruned
from storage.store import Store

OLD = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(OLD)


@pytest.fixture
def store(db_path: Path, clock: Clock) -> Iterator[Store]:
    with Store.open(db_path, clock=clock) as s:
        yield s


def old(text: str, **kw: object) -> Mention:
    return mention(text, created_at=OLD, **kw)  # type: ignore[arg-type]


def count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def settle(store: Store) -> None:
    """Every draft decided and every task done, as a year of work leaves them."""
    for reply in store.replies(status="pending", limit=1000):
        store.reject(reply.id, "agent", reason="handled by phone")
    for task in store.callbacks(limit=1000):
        store.complete_callback(task.id, "agent")


def ingest(store: Store, *items: Judged) -> None:
    store.ingest("test", list(items), None)


def today(store: Store, clock: Clock) -> None:
    """A complaint posted now: the newest post, case, draft and task are not the old
    ones (the newest of each are kept whatever their age, so ids are not reused)."""
    clock.moment = NOW
    ingest(store, complaint(mention("fresh trouble today", handle="now", created_at=NOW)))


def a_year_on(store: Store, clock: Clock, *, dry_run: bool = False, step: int = 500) -> Pruned:
    today(store, clock)
    return store.prune(YEAR, dry_run=dry_run, step=step)


def test_a_settled_old_case_goes_with_everything_about_it(store: Store, clock: Clock) -> None:
    ingest(store, complaint(old("router dead since monday, refund me")))
    ingest(store, complaint(old("still no refund", handle="bo")))
    settle(store)
    today(store, clock)
    audit_before = count(store, "audit")
    days_before = store.conn.execute("SELECT * FROM mention_days").fetchall()

    pruned = store.prune(YEAR)

    assert pruned == dataclasses.replace(
        pruned, mentions=2, cases=2, replies=2, callbacks=2, alerts=0, kept=0
    )
    for table in ("mentions", "verdicts", "replies", "callbacks", "cases"):
        assert count(store, table) == 1, table  # today's
    assert store.search("refund") == []
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # who decided what stays on record; the charts' daily counts keep counting
    assert count(store, "audit") == audit_before
    assert store.conn.execute("SELECT * FROM mention_days").fetchall() == days_before


def test_noise_goes_on_its_age_alone(store: Store, clock: Clock) -> None:
    ingest(store, noise(old("lunch at the acme tower", handle="cy")))
    ingest(store, noise(mention("dinner at the acme tower", handle="dee", created_at=NOW)))

    pruned = a_year_on(store, clock)

    assert (pruned.mentions, pruned.cases, pruned.kept) == (1, 0, 0)
    assert [m.text for m in store.search("tower")] == ["dinner at the acme tower"]


def _escalated(m: Mention) -> Judged:
    item = complaint(m)
    return dataclasses.replace(
        item, drafts=(*item.drafts, Draft(DraftKind.ESCALATION, "urgent", m.key, "urgency"))
    )


def _pending(store: Store) -> None:
    for task in store.callbacks(limit=10):
        store.complete_callback(task.id, "agent")


def _approved(store: Store) -> None:
    _pending(store)
    store.approve(store.replies(limit=1)[0].id, "agent")


def _failed(store: Store) -> None:
    _approved(store)
    claimed = store.claim_for_posting(dry_run=False)
    store.mark_failed(claimed[0].id, "HTTP 403", retryable=False)


def _open_task(store: Store) -> None:
    store.reject(store.replies(limit=1)[0].id, "agent")


def _alert_sent(store: Store) -> None:
    settle(store)
    alert = store.claim_alert()
    assert alert is not None
    store.mark_alert_sent(alert.id)


def _alert_unsent(store: Store) -> None:
    settle(store)
    store.resolve_case(store.search("wifi")[0].case_id or 0, "agent")


def _starred(store: Store) -> None:
    for reply in store.replies(limit=10):
        store.reject(reply.id, "agent")
    store.star_praise(store.search("love")[0].id, "marketing")


WORK: dict[str, tuple[Callable[[Mention], Judged], Callable[[Store], None]]] = {
    "a pending reply": (complaint, _pending),
    "an approved reply": (complaint, _approved),
    "a reply that failed to post": (complaint, _failed),
    "an open callback task": (complaint, _open_task),
    "an escalated case (its alert sent)": (_escalated, _alert_sent),
    "an alert not sent yet (its case resolved)": (_escalated, _alert_unsent),
    "starred praise": (praise, _starred),
}


@pytest.mark.parametrize("work", WORK)
def test_a_case_with_work_for_a_person_is_kept_whole(store: Store, clock: Clock, work: str) -> None:
    judged, leave = WORK[work]
    thread = {"handle": "ed", "conversation_id": "t1"}
    ingest(store, judged(old("i love acme but the wifi keeps dropping, love it", **thread)))
    ingest(store, noise(old("and my neighbour's too", **thread)))  # the same case
    leave(store)

    pruned = a_year_on(store, clock)

    assert (pruned.mentions, pruned.cases, pruned.kept) == (0, 0, 2)
    assert count(store, "mentions") == 3 and count(store, "cases") == 2


def test_a_case_with_a_recent_post_keeps_its_old_ones(store: Store, clock: Clock) -> None:
    ingest(store, complaint(old("outage again", handle="fay", conversation_id="c1")))
    recent = mention("still out", handle="fay", conversation_id="c1", created_at=NOW)
    ingest(store, noise(recent))
    settle(store)

    pruned = a_year_on(store, clock)

    assert (pruned.mentions, pruned.cases, pruned.kept) == (0, 0, 1)
    assert count(store, "mentions") == 3


def test_a_post_without_a_time_is_as_old_as_its_fetch(store: Store, clock: Clock) -> None:
    undated = dataclasses.replace(mention("no date on this one", handle="gus"), created_at=None)
    ingest(store, noise(undated))  # fetched at OLD, the clock's time
    clock.moment = NOW - timedelta(days=10)
    ingest(store, noise(dataclasses.replace(mention("nor this", handle="hal"), created_at=None)))

    pruned = a_year_on(store, clock)

    assert pruned.mentions == 1
    assert [m.text for m in store.search("this")] == ["nor this"]


def test_a_pruned_post_is_not_stored_again(store: Store, clock: Clock) -> None:
    post = old("charged twice, fix it", handle="ivy")
    undated = dataclasses.replace(mention("no date, still broken", handle="ned"), created_at=None)
    ingest(store, complaint(post), complaint(undated))
    settle(store)
    assert a_year_on(store, clock).mentions == 2

    # a feed lists its old items on every poll; a backfill reaches further back
    assert store.unseen([post, undated]) == []
    result = store.ingest("test", [complaint(post), complaint(undated)], None)
    assert (result.stored, result.duplicates) == (0, 2)
    # a post never stored is taken in, however old it says it is (a client's clock
    # can be years wrong), and so is a new post from the same author
    never_seen = old("my first post about acme", handle="ivy")
    fresh = mention("charged twice again", handle="ivy", created_at=NOW)
    assert store.unseen([never_seen, fresh]) == [never_seen, fresh]
    assert store.ingest("test", [complaint(never_seen), complaint(fresh)], None).stored == 2


def test_ids_are_not_given_again_after_a_prune(store: Store, clock: Clock) -> None:
    # the audit log names rows by id: a reused id would show an old decision's
    # history on a new draft
    ingest(store, complaint(old("old trouble", handle="oz")))
    settle(store)
    clock.moment = NOW
    newest = store.prune(YEAR)
    assert (newest.mentions, newest.kept) == (0, 1)  # the newest rows of all
    (old_reply,) = store.replies(status="rejected")
    ingest(store, complaint(mention("new trouble", handle="pat", created_at=NOW)))
    (new_reply,) = store.replies()
    assert new_reply.id > old_reply.id
    assert store.detail(new_reply.id).history == ()
    assert store.prune(YEAR).mentions == 1  # no longer the newest: it goes


def _rejected_today(store: Store, clock: Clock) -> None:
    store.complete_callback(store.callbacks()[0].id, "agent")
    clock.moment = NOW
    store.reject(store.replies()[0].id, "agent")


def _task_done_today(store: Store, clock: Clock) -> None:
    store.reject(store.replies()[0].id, "agent")
    clock.moment = NOW
    store.complete_callback(store.callbacks()[0].id, "agent")


def _taken_today(store: Store, clock: Clock) -> None:
    settle(store)
    store.add_user("agent", "agent", None, actor="tests")
    clock.moment = NOW
    store.assign_case(store.search("outage")[0].case_id or 0, "agent", "agent")


LAST_WORK = {
    "its draft rejected today": _rejected_today,
    "its task done today": _task_done_today,
    "it was taken today": _taken_today,
}


@pytest.mark.parametrize("work", LAST_WORK)
def test_a_case_someone_worked_on_today_stays_a_day(store: Store, clock: Clock, work: str) -> None:
    ingest(store, complaint(old("outage again", handle="quin")))
    LAST_WORK[work](store, clock)  # the rest of the work done long ago
    today(store, clock)
    assert store.prune(YEAR).mentions == 0  # a mistake made today can still be undone
    clock.moment = NOW + timedelta(days=1, minutes=1)
    assert store.prune(YEAR).mentions == 1


def _a_busy_year(store: Store) -> None:
    for i in range(12):
        handle = f"user{i % 5}"  # some authors come back: cases with several posts
        ingest(store, complaint(old(f"down again {i}", handle=handle, conversation_id=handle)))
        ingest(store, noise(old(f"lunch {i}", handle=None)))
    ingest(store, praise(old("love the new app", handle="lee")))
    settle(store)
    ingest(store, complaint(old("router dead", handle="mo")))  # pending: kept


@pytest.mark.parametrize("step", [1, 3, 500])
def test_a_dry_run_counts_what_the_prune_then_deletes(
    db_path: Path, clock: Clock, step: int
) -> None:
    with Store.open(db_path, clock=clock) as store:
        _a_busy_year(store)
        today(store, clock)
        old_posts = count(store, "mentions") - 1
        dry = store.prune(YEAR, dry_run=True, step=step)
        assert count(store, "mentions") == old_posts + 1
        looked: list[int] = []
        real = store.prune(YEAR, step=step, progress=looked.append)

    assert dry == real
    assert real == dataclasses.replace(
        real, mentions=old_posts - 1, cases=6, replies=13, callbacks=12, kept=1
    )
    # every old post looked at once, whatever the step (those of a case that went
    # with an earlier post are not looked at again)
    assert len(looked) >= 1 and sum(looked) <= old_posts
    if step == 500:
        assert looked == [old_posts]


def test_the_daemons_hourly_upkeep_prunes_only_when_keep_for_is_set(
    store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from earful.daemon import housekeeping

    ingest(store, noise(old("lunch at the acme tower", handle="cy")))
    today(store, clock)
    housekeeping(store, None)
    assert count(store, "mentions") == 2

    housekeeping(store, YEAR.total_seconds(), stopping=lambda: True)  # the daemon stopping
    assert count(store, "mentions") == 2
    with caplog.at_level("INFO", logger="earful.daemon"):
        housekeeping(store, YEAR.total_seconds())
    assert count(store, "mentions") == 1
    assert "retention: deleted 1 post from before 2025-11-20T09:00:00.000Z" in caplog.text
