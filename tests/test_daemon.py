"""The daemon: sources fail alone, rate limits and bad credentials are honoured, a
stop lets the batch being stored commit, and the publisher never posts twice.

Sources and publishers here are small in-test platforms implementing the Source and
Publisher protocols; the scheduler, pipeline, rules and SQLite are the real ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pty
import select
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import factories
import pytest
from factories import EARFUL
from fakes.feeds import FakeFeeds, Item, rss
from fakes.server import BLOCK_PAGE, Scripted
from replayfiles import mixed_posts, stored, wait_for, write_config

from earful import daemon as daemon_module
from earful import locks, redaction
from earful.app import Runtime
from earful.config import Config, load_config
from earful.daemon import HOUSEKEEPING_FIRST, Daemon
from earful.http import SharedSession
from earful.pipeline import BatchSummary, build_stages
from listener.base import (
    AuthFailed,
    Cursor,
    FetchResult,
    RateLimited,
    Source,
    SourceContext,
    SourceDown,
    SourceSettings,
)
from listener.http_errors import MAX_RATE_LIMIT_WAIT
from listener.mention import Brand
from listener.rss import Settings as RssSettings
from listener.rss import build as build_rss
from responders.publish.base import Outgoing, Posted, Publisher, PublishError
from storage import health
from storage.db import iso
from storage.store import Store

INTERVAL = 0.05


class InTestSettings(SourceSettings):
    """The settings of a source below: no platform is polled, so it may tick fast."""

    shortest_interval: ClassVar[float] = INTERVAL


# -- in-test platforms ------------------------------------------------------------------


@dataclass
class Platform:
    """A source whose platform serves one new post per fetch, unless `trouble` (asked
    before each fetch) returns an error for it to raise instead."""

    name: str
    trouble: Callable[[int], Exception | None] = lambda fetch: None
    posts: int = 1
    fetched_at: list[datetime] = field(default_factory=list)
    served: int = 0

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        self.fetched_at.append(datetime.now(UTC))
        error = self.trouble(len(self.fetched_at))
        if error is not None:
            raise error
        start = int((cursor or {}).get("next", 0))
        mentions = tuple(
            factories.mention(
                "walked past the lumenet shop today",
                native_id=f"{self.name}-{n}",
                handle=f"{self.name}{n}",
            )
            for n in range(start, start + self.posts)
        )
        self.served += len(mentions)
        return FetchResult(mentions, {"next": start + self.posts})

    async def aclose(self) -> None:
        return None

    @property
    def fetches(self) -> int:
        return len(self.fetched_at)


@dataclass
class Outbox:
    """A publisher's platform: records posts, and what a look-up after a crash finds."""

    platform: str = "x"
    found: Posted | None = None
    lookup_fails: bool = False
    lookup_hangs: bool = False
    posted: list[int] = field(default_factory=list)
    looked_for: list[int] = field(default_factory=list)

    async def post(self, out: Outgoing) -> Posted:
        self.posted.append(out.reply_id)
        return Posted(f"posted-{out.reply_id}", f"https://x.com/LumenetHelp/status/{out.reply_id}")

    async def find_posted(self, out: Outgoing) -> Posted | None:
        self.looked_for.append(out.reply_id)
        if self.lookup_hangs:
            await asyncio.Event().wait()  # a platform that never answers
        if self.lookup_fails:
            raise PublishError("search is down", retryable=True)
        return self.found

    async def aclose(self) -> None:
        return None


def make_config(tmp_path: Path, mode: str = "dry-run") -> Config:
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
        f'[publish]\nmode = "{mode}"\ninterval = "50ms"\n',
        encoding="utf-8",
    )
    return load_config(path, env={})


def make_daemon(
    config: Config,
    sources: Sequence[Source] = (),
    publishers: dict[str, Publisher] | None = None,
    on_batch: Callable[[BatchSummary], None] = lambda summary: None,
) -> Daemon:
    runtime = Runtime(
        config=config,
        store=Store.open(config.db_path),
        stages=build_stages(config),
        sources=list(sources),
        settings=[InTestSettings(name=s.name, type="test", interval=INTERVAL) for s in sources],
        publishers=publishers or {},
    )
    return Daemon(runtime, on_batch=on_batch)


@asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def until(check: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Wait for a condition; the limit only guards against a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def logged(caplog: pytest.LogCaptureFixture, text: str, level: int | None = None) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if text in r.getMessage() and (level is None or r.levelno == level)
    ]


def stored_from(config: Config, source: str) -> int:
    with Store.open(config.db_path) as store:
        row = store.conn.execute("SELECT count(*) FROM mentions WHERE source = ?", (source,))
        return int(row.fetchone()[0])


async def test_a_daemon_with_no_sources_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    config = make_config(tmp_path)
    async with running(make_daemon(config)):
        await until(lambda: bool(logged(caplog, "earful running")), "the daemon to start")
    (warning,) = logged(caplog, "no sources to poll", logging.WARNING)
    assert "add a [[sources]] table" in warning and str(config.path) in warning


# -- sources fail alone -------------------------------------------------------------------


async def test_a_failing_source_does_not_stop_the_others_and_logs_once_then_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="earful")
    healthy = Platform("healthy")
    # down until the healthy source has been polled five times: it can only recover
    # if the other kept running meanwhile
    flaky = Platform(
        "flaky", trouble=lambda n: SourceDown("502 Bad Gateway") if healthy.fetches < 5 else None
    )
    config = make_config(tmp_path)
    async with running(make_daemon(config, [flaky, healthy])):
        await until(lambda: flaky.served >= 2, "the flaky source to recover")
    failures = flaky.fetches - flaky.served
    assert failures >= 1 and healthy.served >= 5
    assert len(logged(caplog, "source flaky failed: 502 Bad Gateway", logging.WARNING)) == 1
    assert len(logged(caplog, "source flaky failed again", logging.DEBUG)) == failures - 1
    assert logged(caplog, "source flaky recovered", logging.INFO) == [
        f"source flaky recovered after {failures} failed poll{'s' if failures > 1 else ''}"
    ]
    assert not logged(caplog, "source healthy failed")
    assert stored_from(config, "healthy") == healthy.served
    assert stored_from(config, "flaky") == flaky.served


async def test_a_recovery_after_one_failure_says_one_failed_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    once = Platform("once", trouble=lambda n: SourceDown("timed out") if n == 1 else None)
    async with running(make_daemon(make_config(tmp_path), [once])):
        await until(lambda: once.served >= 1, "the source to recover")
    assert logged(caplog, "source once recovered", logging.INFO) == [
        "source once recovered after 1 failed poll"
    ]


async def test_a_failure_that_changes_kind_is_logged_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 500s turned into 429s: the journal showed only the 500, the rate limit was debug
    caplog.set_level(logging.DEBUG, logger="earful")

    def trouble(n: int) -> Exception | None:
        if n <= 2:
            return SourceDown("HTTP 500")
        return RateLimited("HTTP 429", datetime.now(UTC)) if n <= 4 else None

    source = Platform("flaky", trouble=trouble)
    async with running(make_daemon(make_config(tmp_path), [source])):
        await until(lambda: source.served >= 1, "the source to recover")
    assert len(logged(caplog, "source flaky failed: HTTP 500", logging.WARNING)) == 1
    assert len(logged(caplog, "source flaky rate-limited until", logging.WARNING)) == 1
    assert len(logged(caplog, "source flaky rate-limited until", logging.DEBUG)) == 1


async def test_an_unexpected_error_in_a_source_is_logged_once_with_its_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    broken = Platform("broken", trouble=lambda n: KeyError("data") if n <= 3 else None)
    async with running(make_daemon(make_config(tmp_path), [broken])):
        await until(lambda: broken.served >= 1, "the broken source to recover")
    (record,) = [r for r in caplog.records if "source broken failed" in r.getMessage()]
    assert record.exc_info is not None and record.exc_info[0] is KeyError


async def test_rate_limited_source_waits_for_the_reset_while_others_keep_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    resets: list[datetime] = []

    def rate_limited_once(n: int) -> Exception | None:
        # the reset counts from the first fetch, however long the daemon took to start
        if n != 1:
            return None
        resets.append(datetime.now(UTC) + timedelta(seconds=1.5))
        return RateLimited("429 Too Many Requests", resets[0])

    limited = Platform("limited", trouble=rate_limited_once)
    other = Platform("other")
    async with running(make_daemon(make_config(tmp_path), [limited, other])):
        await until(lambda: limited.fetches >= 2, "the rate-limited source to poll again")
    (reset_at,) = resets
    first, second = limited.fetched_at[:2]
    assert second >= reset_at
    assert sum(first < t < second for t in other.fetched_at) >= 2
    (line,) = logged(caplog, "source limited rate-limited until", logging.WARNING)
    # the time as a person reads it in other messages, not ISO 8601's "+00:00"
    assert reset_at.strftime("%Y-%m-%d %H:%M:%S UTC") in line and "429" in line


async def test_a_rate_limit_is_never_shorter_than_the_backoff_nor_longer_than_an_hour(
    tmp_path: Path,
) -> None:
    # "Retry-After: 0" (or minus) on every answer must not make a busy loop, and a
    # reset in the year 2058 must not silence the source until then
    soon = Platform(
        "soon", trouble=lambda n: RateLimited("429", datetime.now(UTC)) if n <= 4 else None
    )
    never = Platform(
        "never", trouble=lambda n: RateLimited("429", datetime(2058, 1, 1, tzinfo=UTC))
    )
    daemon = make_daemon(make_config(tmp_path), [soon, never])
    async with running(daemon):
        await until(lambda: soon.served >= 1 and never.fetches >= 1, "both to be polled")
        job = daemon.scheduler.get_job("source:never")
        assert job is not None
        assert job.next_run_time <= datetime.now(UTC) + timedelta(seconds=MAX_RATE_LIMIT_WAIT)
    gaps = [(b - a).total_seconds() for a, b in pairwise(soon.fetched_at[:5])]
    # each wait is the backoff at least: the interval, doubling per failure (+-20%)
    assert all(gap >= 0.8 * INTERVAL * 2**k for k, gap in enumerate(gaps)), gaps


async def test_housekeeping_first_runs_minutes_after_start_up_not_an_hour(
    tmp_path: Path,
) -> None:
    # a daemon restarted more often than hourly used to never prune
    daemon = make_daemon(make_config(tmp_path), [Platform("one")])
    started = datetime.now(UTC)
    async with running(daemon):
        await until(lambda: daemon.scheduler.get_job("housekeeping"), "the jobs to be scheduled")
        job = daemon.scheduler.get_job("housekeeping")
        # not at start-up itself either (a busy moment), and not an hour on
        assert started + HOUSEKEEPING_FIRST <= job.next_run_time
        assert job.next_run_time <= datetime.now(UTC) + HOUSEKEEPING_FIRST
        assert job.trigger.interval == timedelta(hours=1)


async def test_bad_credentials_disable_only_that_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    refused = Platform("refused", trouble=lambda n: AuthFailed("401 Unauthorized: bad token"))
    fine = Platform("fine")
    config = make_config(tmp_path)
    daemon = make_daemon(config, [refused, fine])
    async with running(daemon):
        await until(lambda: fine.served >= 8, "the other source to keep polling")
        assert daemon.scheduler.get_job("source:refused") is None
        assert daemon.scheduler.get_job("source:fine") is not None
    assert refused.fetches == 1
    assert daemon.runners["refused"].disabled and not daemon.runners["fine"].disabled
    (line,) = logged(caplog, "source refused disabled", logging.ERROR)
    assert "401 Unauthorized" in line and "Fix its credentials" in line
    assert stored_from(config, "fine") == fine.served


async def test_a_lone_feed_refused_once_is_polled_again_not_disabled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the repro: one HTML 403 disabled the source until a restart, "Fix its credentials"
    caplog.set_level(logging.INFO, logger="earful")
    config = make_config(tmp_path)
    http = SharedSession(timeout=5.0)
    try:
        async with FakeFeeds() as feeds:
            url = feeds.publish("news", rss("News", [Item("tag:n,1", "Lumenet down again")]))
            feeds.script("/feeds/news", Scripted(403, BLOCK_PAGE, content_type="text/html"))
            settings = RssSettings(name="news", type="rss", urls=[url])
            news = build_rss(
                settings, SourceContext(brand=Brand("Lumenet", ("lumenet",)), http=http.get)
            )
            daemon = make_daemon(config, [news])
            async with running(daemon):
                await until(lambda: stored_from(config, "news") == 1, "the feed to be read")
    finally:
        await http.aclose()
    assert not daemon.runners["news"].disabled
    assert len(feeds.seen("/feeds/news")) >= 2
    (line,) = logged(caplog, "source news failed", logging.WARNING)
    assert "HTTP 403, refused to answer" in line and "retrying with backoff" in line
    assert not logged(caplog, "disabled") and "credentials" not in caplog.text
    with Store.open(config.db_path) as store:
        (row,) = health.read(store)
    assert (row.state, row.failures) == ("ok", 0) and "HTTP 403" in (row.error or "")


async def test_each_source_health_is_recorded_for_people_to_see(tmp_path: Path) -> None:
    token = "tok-9f8e7d6c5b4a"
    refused = Platform("refused", trouble=lambda n: AuthFailed(f"401 Unauthorized: {token}"))
    flaky = Platform("flaky", trouble=lambda n: SourceDown("502 Bad Gateway") if n <= 2 else None)
    reset_at = datetime.now(UTC) + timedelta(minutes=30)
    limited = Platform("limited", trouble=lambda n: RateLimited("429 Too Many Requests", reset_at))
    fine = Platform("fine")
    config = make_config(tmp_path)
    redaction.install([token], handlers=[])  # as `earful run` does with the config's secrets
    try:
        async with running(make_daemon(config, [refused, flaky, limited, fine])):
            await until(lambda: flaky.served >= 1 and fine.served >= 3, "the flaky one to recover")
    finally:
        redaction.uninstall()
    with Store.open(config.db_path) as store:
        rows = {h.source: h for h in health.read(store)}
    assert (rows["refused"].state, rows["refused"].failures) == ("disabled", 1)
    assert rows["refused"].error == "401 Unauthorized: ***"  # never the token
    assert rows["refused"].retry_at is None and rows["refused"].last_ok_at is None
    # recovered: ok again, with its last error kept for whoever asks why it was down
    assert (rows["flaky"].state, rows["flaky"].failures) == ("ok", 0)
    assert rows["flaky"].error == "502 Bad Gateway"
    assert rows["flaky"].last_failed_at is not None and rows["flaky"].last_ok_at is not None
    assert rows["flaky"].last_failed_at < rows["flaky"].last_ok_at
    assert rows["limited"].state == "rate_limited" and rows["limited"].failures == 1
    assert rows["limited"].retry_at == iso(reset_at)  # the platform's reset
    assert (rows["fine"].state, rows["fine"].error) == ("ok", None)


async def test_another_process_holding_the_database_never_freezes_the_event_loop(
    tmp_path: Path,
) -> None:
    one = Platform("one")
    # a source that fails each poll ticks again and again, reading its cursor each time
    two = Platform("two", trouble=lambda n: SourceDown("502") if n > 2 else None)
    config = make_config(tmp_path)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            beats += 1
            await asyncio.sleep(0.01)

    async with running(make_daemon(config, [one, two])):
        await until(lambda: one.served >= 2 and two.served >= 2, "both sources to poll")
        other = sqlite3.connect(config.db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a CLI command's write, held for a while
        beating = asyncio.create_task(heartbeat())
        try:
            # a batch's store waits on the lock (holding the Store's own lock);
            # the other source's next poll must not wait for it on the loop
            await asyncio.sleep(1.5)
            during = beats
        finally:
            other.execute("ROLLBACK")
            other.close()
            beating.cancel()
    assert during >= 20, during  # the loop ran (every 10 ms) while the database was held


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_the_daemon_stops_when_its_database_file_is_taken_away(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    monkeypatch.setattr(daemon_module, "DATABASE_WATCH", 0.05)
    source = Platform("one")
    config = make_config(tmp_path)
    daemon = make_daemon(config, [source])
    task = asyncio.create_task(daemon.run(asyncio.Event()))
    await until(lambda: source.served >= 2, "a few polls")
    db = config.db_path
    if how == "deleted":
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
    else:  # a restored copy put in place while the daemon runs
        copy = tmp_path / "copy.db"
        with Store.open(tmp_path / "other.db") as other:
            other.conn.execute("VACUUM INTO ?", (str(copy),))
        copy.replace(db)
    await asyncio.wait_for(task, timeout=30)  # it stopped by itself
    verb = "deleted or moved away" if how == "deleted" else "replaced by another file"
    assert daemon.failure is not None and f"the database {db} was {verb}" in daemon.failure
    assert "If it was moved, move it back" in caplog.text


async def test_a_batch_that_cannot_be_stored_is_retried_with_backoff_and_stored_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="earful")
    config = make_config(tmp_path)
    with Store.open(config.db_path) as store:
        # a storage fault (a full disk, a corrupt index...) for as long as `fault` has a row
        store.conn.executescript(
            "CREATE TABLE fault (x); INSERT INTO fault VALUES (1);"
            "CREATE TRIGGER fault BEFORE INSERT ON mentions WHEN EXISTS (SELECT 1 FROM fault) "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
        )
    source = Platform("steady", posts=3)
    async with running(make_daemon(config, [source])):
        await until(lambda: source.fetches >= 4, "a few failed attempts")
        with Store.open(config.db_path) as store:
            store.conn.execute("DELETE FROM fault")
        await until(lambda: stored_from(config, "steady") >= 3, "the batch to be stored")
    failures = [r for r in caplog.records if "source steady failed:" in r.getMessage()]
    assert len(failures) == 1 and "database or disk is full" in failures[0].getMessage()
    assert failures[0].exc_info is not None  # unexpected: logged once, with its trace
    assert logged(caplog, "source steady recovered after", logging.INFO)
    assert not logged(caplog, "job failed unexpectedly")
    # every attempt re-fetched the same page from the same cursor: stored once
    with Store.open(config.db_path) as store:
        rows = store.conn.execute("SELECT native_id FROM mentions ORDER BY id").fetchall()
        assert [r[0] for r in rows][:3] == ["steady-0", "steady-1", "steady-2"]
        assert len(rows) == len({r[0] for r in rows}) == stored_from(config, "steady")


async def test_a_database_held_by_another_process_is_one_warning_without_a_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a `sqlite3` shell left in a transaction: every write waits out the busy timeout.
    # It was an ERROR with a traceback ("a bug in Earful: please report it"), and the
    # source was said to have failed, as if its platform had
    caplog.set_level(logging.INFO, logger="earful")
    config = make_config(tmp_path)
    source = Platform("steady")
    daemon = make_daemon(config, [source])
    daemon.runtime.store.conn.execute("PRAGMA busy_timeout = 50")  # not 10 s, in a test
    other = sqlite3.connect(config.db_path, isolation_level=None)
    try:
        async with running(daemon):
            await until(lambda: bool(logged(caplog, "earful running")), "the daemon to start")
            other.execute("BEGIN IMMEDIATE")
            fetched = source.fetches
            await until(lambda: source.fetches >= fetched + 2, "a poll that cannot store")
            await until(lambda: bool(logged(caplog, "publisher job could not")), "a publish")
            other.execute("ROLLBACK")
            await until(lambda: bool(logged(caplog, "source steady recovered")), "the recovery")
    finally:
        other.close()
    (failed,) = [r for r in caplog.records if "source steady failed" in r.getMessage()]
    assert failed.getMessage().startswith(
        "source steady failed: its batch could not be stored: the database is busy "
        "(database is locked): another process held a write on it"
    )
    (publisher,) = logged(caplog, "the publisher job could not run", logging.WARNING)
    assert "the database is busy (database is locked)" in publisher
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    with Store.open(config.db_path) as store:  # the page refused was fetched again, once
        rows = store.conn.execute("SELECT native_id FROM mentions").fetchall()
    ids = [r[0] for r in rows]
    assert ids and ids[0] == "steady-0" and len(ids) == len(set(ids))


# -- stopping -------------------------------------------------------------------------------


@dataclass
class MidBatch:
    """A daemon run that received `signals` while it stored a 1,500-post page."""

    handled: list[bool]  # per fetch: the daemon, not Python's default, had them
    batches: list[BatchSummary]
    config: Config
    source: Platform


async def signalled_mid_batch(tmp_path: Path, signals: tuple[signal.Signals, ...]) -> MidBatch:
    handled: list[bool] = []

    class Signalled(Platform):
        async def fetch(self, cursor: Cursor | None) -> FetchResult:
            result = await super().fetch(cursor)
            # The page is fetched; the signals arrive now (the operator's SIGTERM, a
            # closed SSH session's SIGHUP), and the daemon handles them while the
            # batch is judged and written.
            handled.append(all(signal.getsignal(s) is not signal.SIG_DFL for s in signals))
            if handled[-1]:
                for signum in signals:
                    os.kill(os.getpid(), signum)
            else:
                stop.set()  # fail in the test instead of killing the test run
            return result

    stop = asyncio.Event()
    big = Signalled("big", posts=1500)
    batches: list[BatchSummary] = []
    config = make_config(tmp_path)
    daemon = make_daemon(config, [big], on_batch=batches.append)
    await asyncio.wait_for(daemon.run(stop), timeout=60)  # returns only once stopped
    return MidBatch(handled, batches, config, big)


async def test_sigterm_while_a_batch_is_stored_lets_it_commit_then_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    run = await signalled_mid_batch(tmp_path, (signal.SIGTERM,))
    assert run.handled == [True]  # the daemon, not Python's default, handled the signal
    assert run.source.fetches == 1
    assert [b.ingest.stored for b in run.batches] == [1500]
    with Store.open(run.config.db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 1500
        assert store.cursor("big") == {"next": 1500}
    assert logged(caplog, "stopping: finishing the batch in flight")
    assert [r.getMessage() for r in caplog.records if r.name == "earful.daemon"][-1] == "stopped"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler removed again


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGHUP,), (signal.SIGHUP, signal.SIGHUP), (signal.SIGTERM, signal.SIGHUP)],
    ids=["SIGHUP", "SIGHUP twice", "SIGTERM then SIGHUP, as systemd's SendSIGHUP"],
)
async def test_a_hangup_stops_cleanly_and_never_abandons_the_batch_in_flight(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, signals: tuple[signal.Signals, ...]
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    run = await signalled_mid_batch(tmp_path, signals)
    assert run.handled == [True]
    assert [b.ingest.stored for b in run.batches] == [1500]  # stored, not abandoned
    with Store.open(run.config.db_path) as store:
        assert store.cursor("big") == {"next": 1500}
    assert not logged(caplog, "stopping now")
    hangups = logged(caplog, "stopping on SIGHUP", logging.WARNING)
    assert len(hangups) == (signals[0] == signal.SIGHUP)
    assert all("does not reload its config: restart it" in line for line in hangups)
    assert [r.getMessage() for r in caplog.records if r.name == "earful.daemon"][-1] == "stopped"
    assert all(signal.getsignal(s) is signal.SIG_DFL for s in signals)  # handlers removed


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_earful_run_stops_cleanly_on_a_signal_with_exit_code_0(
    tmp_path: Path, signum: signal.Signals
) -> None:
    path = write_config(tmp_path, mixed_posts(400), batch=20, interval="20ms")
    db = tmp_path / "earful.db"
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(EARFUL), "run", "-c", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: stored(db) > 0 or proc.poll() is not None, "a first batch")
        finally:
            proc.send_signal(signum)
            code = proc.wait(timeout=60)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert code == 0, lines
    assert lines[-1].endswith("earful.daemon: stopped")
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line]
    assert [line for line in lines if f"stopping on {signum.name}" in line]
    with Store.open(db) as store:
        cursor = store.cursor("replayed")
        assert cursor is not None and cursor["line"] == stored(db)


async def test_a_daemon_ending_its_process_ignores_stop_signals_once_stopped(
    tmp_path: Path,
) -> None:
    before = {s: signal.getsignal(s) for s in daemon_module.STOP_SIGNALS}
    steady = Platform("steady")
    daemon = make_daemon(make_config(tmp_path), [steady])
    try:
        task = asyncio.create_task(daemon.run(exiting=True))
        await until(lambda: steady.fetches > 0, "a first poll")
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the daemon: a clean stop
        await asyncio.wait_for(task, timeout=60)
        # not handed back to Python's defaults (KeyboardInterrupt, death by signal):
        # `earful run` exits 0 whatever comes between the stop and its end
        assert all(signal.getsignal(s) is signal.SIG_IGN for s in before)
        for signum in before:
            os.kill(os.getpid(), signum)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@contextmanager
def earful_run(tmp_path: Path, *, batch: int, interval: str) -> Iterator[subprocess.Popen[bytes]]:
    """`earful run --no-console` replaying 400 posts, its output in run.log, from its
    first batch stored; killed if the test leaves it running."""
    path = write_config(tmp_path, mixed_posts(400), batch=batch, interval=interval)
    with (tmp_path / "run.log").open("wb") as out:
        proc = subprocess.Popen(
            [str(EARFUL), "run", "--no-console", "-c", str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            db = tmp_path / "earful.db"
            wait_for(lambda: stored(db) > 0 or proc.poll() is not None, "a first batch")
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)


def test_signals_after_earful_run_has_stopped_leave_its_exit_code_0(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with earful_run(tmp_path, batch=20, interval="20ms") as proc:
        proc.send_signal(signal.SIGTERM)
        wait_for(
            lambda: "earful.daemon: stopped" in log.read_text("utf-8") or proc.poll() is not None,
            "the stop",
        )
        # Ctrl-C pressed over and over until the process is gone: some land after the
        # daemon's run has returned, on the way out of `earful run`
        while proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert proc.returncode == 0, lines
    assert lines[-1].endswith("earful.daemon: stopped")
    assert not [line for line in lines if "stopping now" in line]  # nothing was left


def test_closing_the_terminal_of_earful_run_stops_it_cleanly(tmp_path: Path) -> None:
    """An `earful run` in an SSH session that closes: its terminal hangs up (SIGHUP to
    the foreground job), and whatever it logs after goes nowhere."""
    path = write_config(tmp_path, mixed_posts(4000), batch=20, interval="20ms")
    db = tmp_path / "earful.db"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session with this terminal as its own
        try:
            os.execv(str(EARFUL), [str(EARFUL), "run", "--no-console", "-c", str(path)])
        finally:
            os._exit(127)  # never back into the test run
    shown = bytearray()

    def running() -> bool:
        if select.select([terminal], [], [], 0.05)[0]:
            shown.extend(os.read(terminal, 4096))  # EIO if it ended: the test fails
        return b"earful running" in shown

    try:
        wait_for(running, "the daemon to start")
        wait_for(lambda: stored(db) > 0, "a first batch")
    finally:
        os.close(terminal)  # the session ends
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # not -SIGHUP: it stopped itself
    with Store.open(db) as store:
        cursor = store.cursor("replayed")
        assert cursor is not None and cursor["line"] == stored(db)


def test_earful_run_exits_1_when_its_database_is_deleted_under_it(tmp_path: Path) -> None:
    db = tmp_path / "earful.db"
    with earful_run(tmp_path, batch=5, interval="50ms") as proc:
        for name in ("earful.db", "earful.db-wal", "earful.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        code = proc.wait(timeout=60)  # the daemon's own watch stops it
    text = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert code == 1, text
    assert f"earful: the database {db} was deleted or moved away while Earful" in text


async def test_stop_during_a_fetch_cancels_it_and_writes_nothing(tmp_path: Path) -> None:
    cancelled = asyncio.Event()
    fetching = asyncio.Event()

    class Hanging(Platform):
        async def fetch(self, cursor: Cursor | None) -> FetchResult:
            fetching.set()
            try:
                await asyncio.Event().wait()  # the platform never answers
            except asyncio.CancelledError:
                cancelled.set()
                raise
            raise AssertionError("unreachable")

    config = make_config(tmp_path)
    async with running(make_daemon(config, [Hanging("hanging")])):
        await until(fetching.is_set, "the fetch to start")
    assert cancelled.is_set()
    with Store.open(config.db_path) as store:
        assert store.cursor("hanging") is None
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == 0


# -- the publisher ----------------------------------------------------------------------------


def queued_complaints(config: Config, n: int) -> list[int]:
    """n complaints in the store with pending reply drafts; their reply ids."""
    with Store.open(config.db_path) as store:
        store.ingest("seed", [factories.complaint() for _ in range(n)], None)
        return [r.id for r in store.replies("pending")]


def reply_status(config: Config, reply_id: int) -> str:
    with Store.open(config.db_path) as store:
        return store.reply(reply_id).status


async def test_dry_run_marks_approved_replies_sent_and_logs_what_would_be_posted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    config = make_config(tmp_path, "dry-run")
    approved, waiting = queued_complaints(config, 2)
    with Store.open(config.db_path) as store:
        store.approve(approved, "alice", body="Sorry, Ana:\nwe are on it.")
    outbox = Outbox()
    async with running(make_daemon(config, publishers={"x": outbox})):
        await until(lambda: reply_status(config, approved) == "sent", "the dry-run publish")
    with Store.open(config.db_path) as store:
        sent = store.reply(approved)
        assert (sent.dry_run, sent.posted_id) == (1, None)
        assert store.reply(waiting).status == "pending"
    assert outbox.posted == []  # dry run: the platform is never called
    (line,) = logged(caplog, "dry-run: would post", logging.INFO)
    assert f"reply {approved} to {sent.url} on x" in line
    assert '"Sorry, Ana:\\nwe are on it."' in line  # quoted alike whatever it holds; one line


async def test_a_stop_while_a_reply_is_being_posted_lets_the_post_finish(tmp_path: Path) -> None:
    config = make_config(tmp_path, "live")
    (reply_id,) = queued_complaints(config, 1)
    with Store.open(config.db_path) as store:
        store.approve(reply_id, "alice")
    stop = asyncio.Event()

    class SlowOutbox(Outbox):
        async def post(self, out: Outgoing) -> Posted:
            stop.set()  # the operator stops Earful while the platform is answering
            for _ in range(20):  # loop turns enough for the daemon to act on the stop
                await asyncio.sleep(0)
            return await super().post(out)

    outbox = SlowOutbox()
    await asyncio.wait_for(make_daemon(config, publishers={"x": outbox}).run(stop), timeout=60)
    assert outbox.posted == [reply_id]
    assert reply_status(config, reply_id) == "sent"  # not left in `sending`


async def test_a_store_failing_while_publishing_is_logged_once_and_loses_no_reply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="earful")
    config = make_config(tmp_path, "live")
    ids = queued_complaints(config, 3)
    with Store.open(config.db_path) as store:
        for reply_id in ids:
            store.approve(reply_id, "alice")
        # SQLite refuses to record a reply as sent, the way a full disk would
        store.conn.execute(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF status ON replies "
            "WHEN new.status = 'sent' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )

    class SpaceAgainByTheThird(Outbox):
        # the disk has room again when the third reply is posted: decided by the
        # posts themselves, not by how fast the test notices the first two
        async def post(self, out: Outgoing) -> Posted:
            if len(self.posted) == 2:
                with Store.open(config.db_path) as store:
                    store.conn.execute("DROP TRIGGER disk_full")
            return await super().post(out)

    outbox = SpaceAgainByTheThird()
    async with running(make_daemon(config, publishers={"x": outbox})):
        await until(lambda: len(outbox.posted) == 3, "three turns of the publisher")
        await until(lambda: reply_status(config, outbox.posted[-1]) == "sent", "it recorded")
    assert sorted(outbox.posted) == sorted(ids)  # each posted once, none lost
    statuses = [reply_status(config, reply_id) for reply_id in outbox.posted]
    # posted but not recorded: `sending`, for the start-up reconcile to look up
    assert statuses == ["sending", "sending", "sent"]
    assert len(logged(caplog, "the publisher job failed unexpectedly", logging.ERROR)) == 1
    assert logged(caplog, "the publisher job failed again", logging.DEBUG)
    assert len(logged(caplog, "the publisher job recovered", logging.INFO)) == 1


async def test_a_publisher_bug_is_unknown_and_logged_as_an_error_with_its_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Only a publisher's own bug gets the traceback; a platform that may have taken
    # the post says so with SourceDown, one WARNING line (tests of each platform).
    config = make_config(tmp_path, "live")
    (reply_id,) = queued_complaints(config, 1)
    with Store.open(config.db_path) as store:
        store.approve(reply_id, "alice")

    class Buggy(Outbox):
        async def post(self, out: Outgoing) -> Posted:
            self.posted.append(out.reply_id)
            return Posted({"id": "1"}["posted_id"])  # a KeyError, as bugs are

    outbox = Buggy()
    async with running(make_daemon(config, publishers={"x": outbox})):
        await until(lambda: reply_status(config, reply_id) == "unknown", "the publisher")
    assert outbox.posted == [reply_id]
    (record,) = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    with Store.open(config.db_path) as store:
        assert store.reply(reply_id).last_error == "posting raised KeyError: 'posted_id'"


async def test_a_stop_leaves_the_rest_of_a_claimed_batch_approved(tmp_path: Path) -> None:
    config = make_config(tmp_path, "live")
    ids = queued_complaints(config, 4)
    with Store.open(config.db_path) as store:
        for reply_id in ids:
            store.approve(reply_id, "alice")
    stop = asyncio.Event()

    class SlowOutbox(Outbox):
        async def post(self, out: Outgoing) -> Posted:
            stop.set()  # the stop comes while the first of the batch is being posted
            for _ in range(20):
                await asyncio.sleep(0)
            return await super().post(out)

    outbox = SlowOutbox()
    await asyncio.wait_for(make_daemon(config, publishers={"x": outbox}).run(stop), timeout=60)
    (posted,) = outbox.posted
    with Store.open(config.db_path) as store:
        rest = [store.reply(i) for i in ids if i != posted]
    # not `sending`, which the next start-up would take for a crash and hand to a person
    assert [(r.status, r.attempts) for r in rest] == [("approved", 0)] * 3
    assert reply_status(config, posted) == "sent"


async def test_a_second_daemon_on_the_same_database_is_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    one = Platform("one")
    async with running(make_daemon(config, [one])):
        await until(lambda: one.fetches >= 1, "the first daemon to be running")
        with pytest.raises(locks.Busy, match="another Earful daemon is already running on"):
            await make_daemon(config, [Platform("two")]).run(asyncio.Event())
    # and once the first has stopped, a daemon may start again
    async with running(make_daemon(config, [Platform("three")])):
        pass


async def crash_while_sending(config: Config) -> tuple[int, int]:
    """Two approved replies; the first was claimed for posting when Earful died."""
    ids = queued_complaints(config, 2)
    with Store.open(config.db_path) as store:
        for reply_id in ids:
            store.approve(reply_id, "alice")
        (claimed,) = store.claim_for_posting(limit=1, dry_run=False)
    (other,) = [i for i in ids if i != claimed.id]
    return claimed.id, other


async def test_a_reply_left_sending_is_never_reposted_and_goes_to_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful")
    config = make_config(tmp_path, "live")
    crashed, other = await crash_while_sending(config)
    outbox = Outbox(found=None)
    for _restart in range(2):
        async with running(make_daemon(config, publishers={"x": outbox})):
            # the publisher job has run once `other` is posted
            await until(lambda: reply_status(config, other) == "sent", "the publisher to run")
    assert outbox.posted == [other]  # posted once, and `crashed` never
    assert outbox.looked_for == [crashed]  # looked for once, at the first start-up
    with Store.open(config.db_path) as store:
        unknown = store.reply(crashed)
        assert unknown.status == "unknown"
        assert "not found on the platform" in (unknown.last_error or "")
    assert logged(caplog, f"reply {crashed} on x: found in sending at start-up", logging.WARNING)


async def test_a_reply_left_sending_that_the_platform_has_is_marked_sent(tmp_path: Path) -> None:
    config = make_config(tmp_path, "live")
    crashed, other = await crash_while_sending(config)
    outbox = Outbox(found=Posted("1999", "https://x.com/LumenetHelp/status/1999"))
    async with running(make_daemon(config, publishers={"x": outbox})):
        await until(lambda: reply_status(config, other) == "sent", "the publisher to run")
    assert outbox.posted == [other]
    with Store.open(config.db_path) as store:
        reconciled = store.reply(crashed)
        assert (reconciled.status, reconciled.posted_id) == ("sent", "1999")
        assert reconciled.posted_url == "https://x.com/LumenetHelp/status/1999"


async def test_a_stop_during_the_start_up_check_is_not_held_by_the_platform(
    tmp_path: Path,
) -> None:
    # the check of replies in flight asks a platform that never answers: the stop
    # still stops (a restart loop under systemd waited minutes per start)
    config = make_config(tmp_path, "live")
    crashed, _ = await crash_while_sending(config)
    outbox = Outbox(lookup_hangs=True)
    daemon = make_daemon(config, publishers={"x": outbox})
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    await until(lambda: outbox.looked_for == [crashed], "the start-up check to ask")
    stop.set()
    await asyncio.wait_for(task, timeout=60)  # guards against a hang; no speed asserted
    assert reply_status(config, crashed) == "sending"  # checked again at the next start
    assert outbox.posted == []


async def test_a_reply_left_sending_is_unknown_when_the_platform_cannot_tell(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, "live")
    crashed, other = await crash_while_sending(config)
    outbox = Outbox(lookup_fails=True)
    async with running(make_daemon(config, publishers={"x": outbox})):
        await until(lambda: reply_status(config, other) == "sent", "the publisher to run")
    assert outbox.posted == [other]
    with Store.open(config.db_path) as store:
        unknown = store.reply(crashed)
        assert unknown.status == "unknown"
        assert "could not tell (search is down)" in (unknown.last_error or "")
