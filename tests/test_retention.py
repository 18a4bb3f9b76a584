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


def a_year_on(store: Store, clock: Clock, *, dry_run: bool = False, step: int = 500) -> Pruned:
    clock.moment = NOW
    return store.prune(YEAR, dry_run=dry_run, step=step)


def test_a_settled_old_case_goes_with_everything_about_it(store: Store, clock: Clock) -> None:
    ingest(store, complaint(old("router dead since monday, refund me")))
    ingest(store, complaint(old("still no refund", handle="bo")))
    settle(store)
    audit_before = count(store, "audit")
    days_before = store.conn.execute("SELECT * FROM mention_days").fetchall()

    pruned = a_year_on(store, clock)

    assert pruned == dataclasses.replace(
        pruned, mentions=2, cases=2, replies=2, callbacks=2, alerts=0, kept=0
    )
    for table in ("mentions", "verdicts", "replies", "callbacks", "cases"):
        assert count(store, table) == 0, table
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
    assert count(store, "mentions") == 2 and count(store, "cases") == 1


def test_a_case_with_a_recent_post_keeps_its_old_ones(store: Store, clock: Clock) -> None:
    ingest(store, complaint(old("outage again", handle="fay", conversation_id="c1")))
    recent = mention("still out", handle="fay", conversation_id="c1", created_at=NOW)
    ingest(store, noise(recent))
    settle(store)

    pruned = a_year_on(store, clock)

    assert (pruned.mentions, pruned.cases, pruned.kept) == (0, 0, 1)
    assert count(store, "mentions") == 2


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
    ingest(store, complaint(post))
    settle(store)
    a_year_on(store, clock)

    # a feed lists its old items on every poll; a backfill reaches further back
    assert store.unseen([post, old("older than the year", handle="jo")]) == []
    result = store.ingest("test", [complaint(post)], None)
    assert result.stored == 0 and count(store, "mentions") == 0
    fresh = mention("charged twice again", handle="ivy", created_at=NOW)
    assert store.unseen([fresh]) == [fresh]
    assert store.ingest("test", [complaint(fresh)], None).stored == 1


def test_a_longer_retention_later_does_not_bring_back_what_went(store: Store, clock: Clock) -> None:
    a_year_on(store, clock)
    store.prune(YEAR * 2)
    two_years_ago = old("from before the first cutoff", handle="kim")
    assert store.unseen([dataclasses.replace(two_years_ago, created_at=NOW - YEAR * 1.5)]) == []


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
        before = count(store, "mentions")
        dry = a_year_on(store, clock, dry_run=True, step=step)
        assert count(store, "mentions") == before
        assert store.unseen([old("lunch 0", handle=None, native_id="new")]) != []
        looked: list[int] = []
        real = store.prune(YEAR, step=step, progress=looked.append)

    assert dry == real
    assert real == dataclasses.replace(
        real, mentions=before - 1, cases=6, replies=13, callbacks=12, kept=1
    )
    # every old post looked at once, whatever the step (those of a case that went
    # with an earlier post are not looked at again)
    assert len(looked) >= 1 and sum(looked) <= before
    if step == 500:
        assert looked == [before]


def test_the_daemons_hourly_upkeep_prunes_only_when_keep_for_is_set(
    store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from earful.daemon import housekeeping

    ingest(store, noise(old("lunch at the acme tower", handle="cy")))
    clock.moment = NOW
    housekeeping(store, None)
    assert count(store, "mentions") == 1

    with caplog.at_level("INFO", logger="earful.daemon"):
        housekeeping(store, YEAR.total_seconds())
    assert count(store, "mentions") == 0
    assert "retention: deleted 1 post from before 2025-11-20T09:00:00.000Z" in caplog.text
