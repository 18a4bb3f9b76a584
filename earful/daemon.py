"""The daemon: APScheduler runs one job per source, one publisher job and a
housekeeping job on one asyncio loop.

Failure handling lives here, in one place: a source that raises is backed off
(until the platform's rate-limit reset, or exponentially with jitter) while the
others keep polling; bad credentials disable that source; each failure streak is
logged once, and its recovery once; each poll's outcome is recorded as the source's
health (earful sources, the console). SIGINT, SIGTERM and SIGHUP stop new work,
cancel fetches that have not reached the database, and wait for batches being stored
(SIGHUP does not reload the config: nothing is re-read while running); once the
stop of `earful run` is complete they are ignored until the process ends. A database
file deleted or replaced under the daemon stops it (Daemon.failure, exit code 1).

A source that can stream (listener.base.StreamingSource) also gets a long-lived
task, StreamRunner, that stores each streamed batch through the same path as a
poll; the interval poll keeps running beside it as the safety net.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from earful import locks
from earful.alerts import deliver_due, reconcile_alerts
from earful.app import Runtime
from earful.display import counted, duration, tallied
from earful.outbox import publish_due, reconcile_sending
from earful.pipeline import BatchSummary, Stages, store_batch
from earful.source_status import record_failure, record_outcome
from listener.base import (
    AuthFailed,
    FetchResult,
    RateLimited,
    Source,
    SourceDown,
    SourceError,
    SourceSettings,
    StreamingSource,
)
from listener.http_errors import MAX_RATE_LIMIT_WAIT, Refused, wait_until
from listener.mention import shown_utc
from storage.db import BUSY_WAIT
from storage.store import Store

T = TypeVar("T")

log = logging.getLogger("earful.daemon")


def _not_an_expected_skip(record: logging.LogRecord) -> bool:
    # Each job runs one at a time by design: a post slower than the publish interval
    # makes APScheduler skip the next turn, which is no news worth a warning every
    # few seconds.
    return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_not_an_expected_skip)

MAX_BACKOFF = 15 * 60.0
DEFAULT_RATE_LIMIT_WAIT = 60.0
# How long a stop waits for a batch being stored or a reply being posted.
SHUTDOWN_WAIT = 60.0
# Streams reconnect after 1 s, doubling per failed attempt up to 2 min; a connection
# that stayed up a minute counts as healthy and starts the doubling over.
STREAM_RETRY = 1.0
STREAM_MAX_BACKOFF = 120.0
STREAM_HEALTHY = 60.0
# A stream's posts are logged as a count at most this often, not a line a post.
STREAM_LOG_EVERY = 60.0
# Refusals in a row after which a stream stops while its poll is still answered: the
# token lacks what streaming needs (a scope), and asking every 2 minutes will not help.
STREAM_REFUSALS = 3
# A stream endpoint answering these is not there (no streaming on this server)
NO_STREAM_HERE = frozenset({404, 405, 410, 501})
# How often the daemon checks that its database file is still the one at its path:
# a stat call each time, against how many batches go into a deleted file meanwhile.
DATABASE_WATCH = 5.0
# The hourly housekeeping (retention) first runs this long after start-up.
HOUSEKEEPING_FIRST = timedelta(minutes=5)


# Each stops the daemon the same clean way. SIGHUP too: Python's default for it is to
# die on the spot, so closing the SSH session of an `earful run` killed it as kill -9 (a
# reply being posted cut off, left for the next start's reconcile).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _StopSignals:
    """STOP_SIGNALS handed to the loop while a daemon runs.

    Installed with signal.signal, not loop.add_signal_handler: asyncio puts Python's
    defaults back when a handler is removed and again when the loop closes, so a
    second Ctrl-C landing just after a clean stop raised KeyboardInterrupt ("Aborted!",
    exit 1) or killed the process, and systemd's Restart=on-failure would start again
    a daemon its operator had just stopped. A handler set with signal.signal gives way
    to SIG_IGN in one step and stays so until the process is gone."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, handle: Callable[[signal.Signals], None]
    ) -> None:
        self._loop = loop
        self._handle = handle
        self._previous: dict[signal.Signals, Any] = {}

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            try:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._received)
            except ValueError:
                # not the main thread (tests): stop via the event instead
                self._previous.pop(sig, None)
                return

    def _received(self, signum: int, frame: object) -> None:
        # Python runs this in the main thread between two bytecodes, possibly in the
        # middle of the loop's own code: the loop acts on it at its next turn.
        self._loop.call_soon_threadsafe(self._handle, signal.Signals(signum))

    def release(self, *, ignore: bool) -> None:
        """Put the previous handlers back, or ignore these signals from now on (for a
        process that ends when the daemon does)."""
        for sig, previous in self._previous.items():
            if ignore:
                signal.signal(sig, signal.SIG_IGN)
            else:  # None: a handler set outside Python, which cannot be put back
                signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()


def _log_stop(signum: signal.Signals) -> None:
    if signum == signal.SIGHUP:
        # daemons often reload on SIGHUP; whoever sent it for that must learn otherwise
        log.warning(
            "stopping on SIGHUP; Earful does not reload its config: restart it to apply changes"
        )
    else:
        log.info("stopping on %s", signum.name)


def _now() -> datetime:
    return datetime.now(UTC)


def _rate_limit_end(exc: RateLimited, at_least: float) -> datetime:
    """When to try a rate-limited source again: the platform's reset (or a minute, if
    it named none), but no sooner than `at_least` seconds and no later than
    MAX_RATE_LIMIT_WAIT."""
    now = _now()
    until = exc.reset_at or now + timedelta(seconds=DEFAULT_RATE_LIMIT_WAIT)
    return min(max(until, now + timedelta(seconds=at_least)), wait_until(now, MAX_RATE_LIMIT_WAIT))


def database_busy(exc: Exception) -> str | None:
    """What a write that waited out SQLite's busy timeout means, said for a person:
    another process held a write on the database all that time (a `sqlite3` shell
    in a transaction, a VACUUM). Not a bug in Earful, so no traceback; None for
    any other error."""
    said = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in said or "busy" in said):
        return (
            f"the database is busy ({said}): another process held a write on it for "
            f"longer than Earful waits ({BUSY_WAIT:g} s)"
        )
    return None


def backoff_delay(interval: float, failures: int, rng: random.Random | None = None) -> float:
    """Exponential from the source's own interval, capped, with +-20% jitter so
    sources that failed together do not retry together."""
    base = min(interval * (2.0 ** max(failures - 1, 0)), MAX_BACKOFF)
    return base * (rng or random).uniform(0.8, 1.2)


@dataclass
class SourceRunner:
    """Polls one source and decides, after each poll, when the next one is."""

    source: Source
    settings: SourceSettings
    store: Store
    stages: Stages
    reschedule: Callable[[str, datetime | None], None]  # None: disable the source
    on_batch: Callable[[BatchSummary], None] = lambda summary: None
    failures: int = 0
    failing_with: type[Exception] | None = None  # the kind of the latest failure
    disabled: bool = False
    summaries: list[BatchSummary] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.settings.name

    def is_disabled(self) -> bool:
        return self.disabled

    async def tick(self, track: Callable[[str], None]) -> None:
        if self.disabled:
            return
        track("fetch")
        try:
            # off the loop: another process's write can hold the database for the
            # busy wait (10 s), and the console, the other sources and signals wait
            # for nothing meanwhile
            cursor = await asyncio.to_thread(self.store.cursor, self.name)
            result = await self.source.fetch(cursor)
        except SourceError as exc:
            await self._failed(exc)
            return
        except Exception as exc:  # a bug or an unexpected payload: same treatment, with a trace
            await self._failed(exc, unexpected=True)
            return
        track("store")
        try:
            summary = await asyncio.to_thread(
                store_batch, self.name, result, self.store, self.stages
            )
        except Exception as exc:
            # Nothing was committed, the cursor included: the page is fetched again
            # after the backoff. A full disk must not log a traceback every tick.
            busy = database_busy(exc)
            if busy is not None:  # the platform answered: say it is the database
                await self._failed(SourceDown(f"its batch could not be stored: {busy}"))
            else:
                await self._failed(exc, unexpected=True)
            return
        self._recovered()
        await self._report(record_outcome, self.store, self.name, summary.trouble)
        self.on_batch(summary)
        if summary.new:
            counts = tallied(dict(sorted(summary.dispositions.items())))
            log.info(
                "%s: %d new (%s); drafted: replies %d, callbacks %d, alerts %d",
                self.name,
                summary.new,
                counts,
                summary.ingest.replies,
                summary.ingest.callbacks,
                summary.ingest.alerts,
            )
        if summary.more:
            self.reschedule(self.name, _now())
        elif summary.next_poll_in is not None:
            self.reschedule(self.name, _now() + timedelta(seconds=summary.next_poll_in))

    async def _failed(self, exc: Exception, *, unexpected: bool = False) -> None:
        until = self._back_off(exc, unexpected=unexpected)
        await self._report(
            record_failure, self.store, self.name, exc, retry_at=until, unexpected=unexpected
        )

    async def _report(self, write: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Write the source's health for `earful sources` and the console. Polling
        goes on when that write fails (a locked or full database is logged by the
        batch that meets it)."""
        try:
            await asyncio.to_thread(write, *args, **kwargs)
        except Exception as exc:
            log.debug("source %s: could not record its health: %s", self.name, exc)

    def _back_off(self, exc: Exception, *, unexpected: bool = False) -> datetime | None:
        """Log the failure and schedule the next attempt (none for bad credentials,
        which disable the source); return when it is."""
        self.failures += 1
        # the first failure, or one of another kind (500s turned into 429s): the
        # journal says so once; the same again is debug
        first = self.failures == 1 or type(exc) is not self.failing_with
        self.failing_with = type(exc)
        if isinstance(exc, AuthFailed):
            self.disabled = True
            log.error(
                "source %s disabled: %s. Fix its credentials and restart Earful; "
                "other sources keep running.",
                self.name,
                exc,
            )
            self.reschedule(self.name, None)
            return None
        if isinstance(exc, RateLimited):
            # Never sooner than the backoff (a "Retry-After: 0" loop), never later than
            # an hour (a reset time in 2058 is a platform's bug).
            until = _rate_limit_end(exc, backoff_delay(self.settings.interval, self.failures))
            level = logging.WARNING if first else logging.DEBUG
            log.log(
                level,
                "source %s rate-limited until %s: %s",
                self.name,
                shown_utc(until),
                exc,
            )
        else:
            until = _now() + timedelta(seconds=backoff_delay(self.settings.interval, self.failures))
            if first:
                log.warning(
                    "source %s failed: %s; retrying with backoff (logged once until it recovers)",
                    self.name,
                    exc or type(exc).__name__,
                    exc_info=unexpected,
                )
            else:
                log.debug("source %s failed again (%d): %s", self.name, self.failures, exc)
        self.reschedule(self.name, until)
        return until

    def _recovered(self) -> None:
        if self.failures:
            log.info(
                "source %s recovered after %s", self.name, counted(self.failures, "failed poll")
            )
        self.failures = 0
        self.failing_with = None


@dataclass
class StreamRunner:
    """Keeps one streaming source connected and stores each batch it yields the way
    a poll's is stored (dedupe, judge, respond, one transaction). A dropped stream
    is reconnected with backoff, and the source back-fills from the stored cursor
    on each connect, so what was posted in between is not lost."""

    source: StreamingSource
    settings: SourceSettings
    store: Store
    stages: Stages
    stopping: Callable[[], bool]
    on_batch: Callable[[BatchSummary], None] = lambda summary: None
    # the source's poll has disabled it (its credentials were refused): stream no more
    disabled: Callable[[], bool] = lambda: False
    retry: float = STREAM_RETRY
    failures: int = 0
    refusals: int = 0  # of the token, in a row
    # posts stored since the last log line, by disposition, and when that line was
    unlogged: Counter[str] = field(default_factory=Counter)
    logged_at: float = 0.0

    @property
    def name(self) -> str:
        return self.settings.name

    async def run(self, track: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        self.logged_at = loop.time()
        try:
            await self._stream(loop, track)
        finally:
            self._log_stored()

    async def _stream(self, loop: asyncio.AbstractEventLoop, track: Callable[[str], None]) -> None:
        while not self.stopping():
            if self.disabled():
                log.info("stream %s stopped: its source is disabled", self.name)
                return
            track("fetch")
            unexpected = False
            try:
                await self._connection(track)
                failure: Exception = SourceDown("the stream ended")
            except SourceError as exc:
                failure = exc
            except Exception as exc:  # a bug or an unexpected payload: same, with a trace
                failure, unexpected = exc, True
            if self.stopping():
                return
            delay = self._failed(failure, unexpected=unexpected)
            if delay is None:
                return
            track("fetch")
            await asyncio.sleep(delay)

    async def _connection(self, track: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        cursor = await asyncio.to_thread(self.store.cursor, self.name)
        held: asyncio.TimerHandle | None = None
        try:
            async with aclosing(self.source.stream(cursor)) as batches:
                async for result in batches:
                    if held is None and self.failures:
                        # connected (the first batch is the back-fill): a quiet stream
                        # may store nothing for hours, so one that holds a minute says
                        # it recovered then, not at its next post
                        held = loop.call_later(STREAM_HEALTHY, self._held)
                    await self._store(result, track)
                    if self.stopping():
                        return
        finally:
            if held is not None:
                held.cancel()

    async def _store(self, result: FetchResult, track: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        track("store")
        summary = await asyncio.to_thread(store_batch, self.name, result, self.store, self.stages)
        self.on_batch(summary)
        self.unlogged.update(summary.dispositions)
        if loop.time() - self.logged_at >= STREAM_LOG_EVERY:
            self._log_stored()
        track("fetch")

    def _held(self) -> None:
        """The connection has stayed up STREAM_HEALTHY: the drops are over."""
        log.info("stream %s recovered after %s", self.name, counted(self.failures, "drop"))
        self.failures = 0

    def _log_stored(self) -> None:
        """One line for the posts the stream stored since the last, as a poll's."""
        if self.unlogged:
            counts = tallied(dict(sorted(self.unlogged.items())))
            log.info("%s (stream): %d new (%s)", self.name, self.unlogged.total(), counts)
            self.unlogged.clear()
        self.logged_at = asyncio.get_running_loop().time()

    def _failed(self, exc: Exception, *, unexpected: bool) -> float | None:
        """Seconds until the next connection attempt, or None to stop streaming."""
        self.failures += 1
        if not isinstance(exc, AuthFailed):
            self.refusals = 0
        else:
            # Not stopped for good on one refusal (a proxy's blip): the source's poll
            # asks with the same token, and a token really refused disables the
            # source, which stops the stream at its next attempt. Refused again and
            # again while the poll is answered, the token lacks streaming's scope.
            self.refusals += 1
            if self.refusals >= STREAM_REFUSALS:
                log.error(
                    "stream %s stopped: %s, %d times in a row, while its poll is answered: "
                    "the token may lack the scope streaming needs (read:statuses for a "
                    "hashtag, read:notifications for mentions). The source is still polled; "
                    "fix the token and restart Earful to stream again.",
                    self.name,
                    exc,
                    self.refusals,
                )
                return None
            delay = STREAM_MAX_BACKOFF
            if self.refusals == 1:
                log.warning(
                    "stream %s refused: %s; trying again in %.0f s while the poll goes on "
                    "(a refused token disables the source, and its stream with it)",
                    self.name,
                    exc,
                    delay,
                )
            return delay
        if isinstance(exc, Refused) and exc.status in NO_STREAM_HERE:
            # no streaming API at this address: asking again forever would only hide it
            log.warning(
                "stream %s stopped: %s: the server streams nothing here; the source is "
                "polled every %s instead (set stream = false to say so)",
                self.name,
                exc,
                duration(self.settings.interval),
            )
            return None
        if isinstance(exc, RateLimited):
            backoff = min(backoff_delay(self.retry, self.failures), STREAM_MAX_BACKOFF)
            delay = (_rate_limit_end(exc, backoff) - _now()).total_seconds()
        else:
            delay = min(backoff_delay(self.retry, self.failures), STREAM_MAX_BACKOFF)
        if self.failures == 1:
            log.warning(
                "stream %s dropped: %s; reconnecting in %.0f s with backoff, polling "
                "continues meanwhile (logged once until it recovers)",
                self.name,
                exc or type(exc).__name__,
                delay,
                exc_info=unexpected,
            )
        else:
            log.debug("stream %s dropped again (%d): %s", self.name, self.failures, exc)
        return delay


def housekeeping(
    store: Store, keep_for: float | None, *, stopping: Callable[[], bool] = lambda: False
) -> None:
    """Hourly upkeep: with storage.keep_for, delete the posts that have grown older
    than that (storage.retention); then the store's own tidying. `stopping`: the
    daemon is stopping, so a long prune ends after its current step."""
    if keep_for is not None:
        pruned = store.prune(timedelta(seconds=keep_for), stopping=stopping)
        if pruned.mentions:
            log.info(
                "retention: deleted %s from before %s with %s and %s; %s kept for open work",
                counted(pruned.mentions, "post"),
                pruned.cutoff,
                counted(pruned.cases, "case"),
                counted(pruned.replies + pruned.callbacks + pruned.alerts, "draft"),
                counted(pruned.kept, "older post"),
            )
    if not stopping():
        store.tidy()


class Daemon:
    """Owns the scheduler; sources and publishers are plain objects given to it."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        services: Sequence[Callable[[], Awaitable[Callable[[], Awaitable[None]]]]] = (),
        on_batch: Callable[[BatchSummary], None] = lambda summary: None,
    ) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.store = runtime.store
        self.publishers = runtime.publishers
        # extra services (the console): each is started with `await start()`, which
        # returns its async stop function
        self.services = list(services)
        self.failure: str | None = None  # why the daemon stopped itself, if it did
        self._failing_jobs: set[str] = set()
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.runners = {
            s.name: SourceRunner(
                source=source,
                settings=s,
                store=runtime.store,
                stages=runtime.stages,
                reschedule=self._reschedule,
                on_batch=on_batch,
            )
            for source, s in zip(runtime.sources, runtime.settings, strict=True)
        }
        self.streams = {
            name: StreamRunner(
                source=runner.source,
                settings=runner.settings,
                store=runtime.store,
                stages=runtime.stages,
                stopping=lambda: self._stopping,
                on_batch=on_batch,
                disabled=runner.is_disabled,
            )
            for name, runner in self.runners.items()
            if isinstance(runner.source, StreamingSource)
        }
        self._stream_tasks: list[asyncio.Task[None]] = []
        self._inflight: dict[asyncio.Task[Any], str] = {}
        self._stopping = False
        self._stopped = False

    # -- jobs -----------------------------------------------------------------

    def _reschedule(self, name: str, when: datetime | None) -> None:
        job = self.scheduler.get_job(f"source:{name}")
        if job is None:
            return
        if when is None:
            job.remove()
        else:
            job.modify(next_run_time=when)

    async def _tracked(
        self, job: Callable[[Callable[[str], None]], Awaitable[None]], name: str = "job"
    ) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        assert task is not None

        def track(phase: str) -> None:
            self._inflight[task] = phase

        track("start")
        try:
            await job(track)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        except Exception as exc:
            # once per failure streak, with its trace; a full disk fails every turn
            busy = database_busy(exc)
            if name in self._failing_jobs:
                log.debug("the %s job failed again: %s", name, exc)
            elif busy is not None:
                self._failing_jobs.add(name)
                log.warning(
                    "the %s job could not run: %s; it will run again (logged once until it "
                    "recovers)",
                    name,
                    busy,
                )
            else:
                self._failing_jobs.add(name)
                log.exception(
                    "the %s job failed unexpectedly; it will run again (logged once until "
                    "it recovers)",
                    name,
                )
        else:
            if name in self._failing_jobs:
                self._failing_jobs.discard(name)
                log.info("the %s job recovered", name)
        finally:
            self._inflight.pop(task, None)

    async def _source_job(self, name: str) -> None:
        await self._tracked(self.runners[name].tick, f"source {name}")

    async def _publish_job(self) -> None:
        async def job(track: Callable[[str], None]) -> None:
            track("store")  # posting must never be cut off half-way
            summary = await publish_due(
                self.store,
                self.publishers,
                self.config.publish,
                stopping=lambda: self._stopping,
            )
            if summary.total:
                log.info("publisher: %s", tallied(summary.outcomes))

        await self._tracked(job, "publisher")

    async def _alerts_job(self) -> None:
        async def job(track: Callable[[str], None]) -> None:
            track("store")  # like posting: a webhook call is never cut off half-way
            session = await self.runtime.http.get()
            summary = await deliver_due(self.store, self.config.escalation, session)
            if summary.total:
                log.info("alerts: %s", tallied(summary.outcomes))

        await self._tracked(job, "alerts")

    async def _housekeeping_job(self) -> None:
        async def job(track: Callable[[str], None]) -> None:
            # waited for at shutdown like a batch being stored: a prune ends after
            # the step in hand (under a second), not with the connection closed under it
            track("store")
            await asyncio.to_thread(
                housekeeping,
                self.store,
                self.config.storage.keep_for,
                stopping=lambda: self._stopping,
            )

        await self._tracked(job, "housekeeping")

    def _every(
        self,
        job: Callable[..., Awaitable[None]],
        seconds: float,
        *,
        job_id: str,
        name: str,
        first_run: datetime | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        # Every job: a run that falls due while the last one is still going is
        # skipped, and missed runs collapse into one, however late.
        when = {} if first_run is None else {"next_run_time": first_run}
        self.scheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds),
            args=args,
            id=job_id,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            **when,
        )

    def _schedule(self) -> None:
        now = _now()
        for index, (name, runner) in enumerate(self.runners.items()):
            self._every(
                self._source_job,
                runner.settings.interval,
                args=(name,),
                job_id=f"source:{name}",
                name=f"poll {name}",
                # stagger the first polls a little so sources do not all start at once
                first_run=now + timedelta(seconds=0.2 * index),
            )
        self._every(
            self._publish_job,
            self.config.publish.interval,
            job_id="publish",
            name="publish approved replies",
            first_run=now,
        )
        if self.config.escalation.webhook_url:
            self._every(
                self._alerts_job,
                self.config.escalation.interval,
                job_id="alerts",
                name="send escalation alerts",
                first_run=now,
            )
        # not at start-up, which is busy enough, but not an hour after it either: a
        # daemon restarted more often than that (a nightly deploy is not, a crash
        # loop or a laptop is) would never prune
        self._every(
            self._housekeeping_job,
            3600,
            job_id="housekeeping",
            name="housekeeping",
            first_run=now + HOUSEKEEPING_FIRST,
        )

    def _start_streams(self) -> None:
        # _tracked registers each task as in flight: shutdown cancels it while it
        # waits on the network and lets it finish a batch it is storing
        for name, runner in self.streams.items():
            task = asyncio.create_task(self._tracked(runner.run), name=f"stream {name}")
            self._stream_tasks.append(task)

    # -- life cycle ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None, *, exiting: bool = False) -> None:
        """Run until `stop` is set or SIGINT, SIGTERM or SIGHUP arrives. One daemon per
        database: a second one's start-up reconcile would take the first one's reply in
        flight for a crash (locks.Busy). `exiting`: the process ends when this returns
        (`earful run`), so once the stop is complete those signals are ignored rather
        than handed back to Python's defaults, and a late one cannot turn a clean
        stop's exit code 0 into a KeyboardInterrupt or a death by signal."""
        db = self.config.db_path
        busy = (
            f"another Earful daemon is already running on {db}; stop it first (two would "
            "each take the other's replies in flight for a crash)"
        )
        with locks.held(locks.daemon_lock(db), busy):
            await self._run(stop or asyncio.Event(), exiting=exiting)

    @staticmethod
    async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
        """`work`'s result, or None when `stop` comes first (then `work` is cancelled):
        a platform that never answers must not hold a stop for minutes."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not task.done():  # stopped, or this coroutine itself was cancelled
                task.cancel()
        await asyncio.wait({task})  # until it has finished cancelling; a cancel of ours raises
        return None if task.cancelled() else task.result()

    def _signalled(self, stop: asyncio.Event, signum: signal.Signals) -> None:
        if self._stopped:
            return  # nothing is left to stop or to abandon
        if not stop.is_set():
            _log_stop(signum)
            stop.set()
            return
        if signum == signal.SIGHUP:
            # A hangup is no person in a hurry: a closing terminal may send several, and
            # systemd's SendSIGHUP=yes sends one right after its SIGTERM. Only a second
            # SIGINT or SIGTERM abandons the reply being posted.
            return
        # a second Ctrl-C: the person will not wait for replies being posted
        log.warning(
            "stopping now: work in flight is abandoned; a reply being posted is checked "
            "for on the platform at the next start"
        )
        for task in list(self._inflight):
            task.cancel()

    async def _run(self, stop: asyncio.Event, *, exiting: bool) -> None:
        signals = _StopSignals(
            asyncio.get_running_loop(), lambda signum: self._signalled(stop, signum)
        )
        signals.install()
        stoppers = []
        try:
            summary = await self._until_stopped(
                reconcile_sending(self.store, self.publishers), stop
            )
            if summary is None:
                log.info(
                    "stopped during the start-up check of replies in flight; those not yet "
                    "checked are checked at the next start"
                )
                return
            if summary.total:
                log.info("start-up check of replies in flight: %s", tallied(summary.outcomes))
            alerts = reconcile_alerts(self.store, self.config.escalation)
            if alerts.total:
                log.info("start-up check of alerts in flight: %s", tallied(alerts.outcomes))
            for start in self.services:
                stoppers.append(await start())
            self._schedule()
            self.scheduler.start()
            self._start_streams()
            names = ", ".join(self.runners) or "none"
            log.info("earful running: sources %s; publish mode %s", names, self.config.publish.mode)
            if not self.runners:
                log.warning(
                    "no sources to poll: add a [[sources]] table to %s (`earful init "
                    "--example FILE` writes config.example.toml: one of each type); the "
                    "console and the publisher run meanwhile",
                    self.config.path,
                )
            escalation = self.config.escalation
            log.info(
                "escalation alerts: %s",
                f"sent to {escalation.receiver}"
                if escalation.webhook_url
                else "kept in the store (no escalation.webhook_url)",
            )
            watch = asyncio.create_task(self._watch_database(stop))
            await stop.wait()
            watch.cancel()
            log.info("stopping: finishing the batch in flight")
        finally:
            try:
                await self._shutdown(stoppers)
            finally:
                # even after a failed shutdown: the handlers hand signals to this loop,
                # which is about to close
                signals.release(ignore=exiting)

    async def _watch_database(self, stop: asyncio.Event) -> None:
        """Stop when the database file is deleted, moved or replaced under the daemon:
        its writes would go to a file nobody can read any more (and its lock with it,
        so a second daemon could start)."""
        while not stop.is_set():
            await asyncio.sleep(DATABASE_WATCH)
            problem = await asyncio.to_thread(self.store.file_problem)
            if problem is not None:
                self.failure = (
                    f"{problem} while Earful was running; stopped so that nothing more is "
                    "written where no one can read it. If it was moved, move it back (its "
                    "-wal beside the old path holds the latest writes); else `earful "
                    "restore BACKUP` (or fix storage.path); then start Earful again"
                )
                log.error("%s", self.failure)
                stop.set()

    async def _shutdown(self, stoppers: list[Callable[[], Awaitable[None]]]) -> None:
        self._stopping = True
        # Pause, not shut down, until the work in flight is done: APScheduler's asyncio
        # executor cancels every running job on shutdown, which would cut off a batch
        # being stored or a reply being posted.
        if self.scheduler.running:
            self.scheduler.pause()
        # Fetches have written nothing: cancel them. Batches being stored and replies
        # being posted finish, so what was fetched is committed and nothing is left
        # half-posted.
        for task, phase in list(self._inflight.items()):
            if phase in ("start", "fetch"):
                task.cancel()
        if self._inflight:
            _, pending = await asyncio.wait(list(self._inflight), timeout=SHUTDOWN_WAIT)
            if pending:
                log.warning(
                    "%d job(s) still running after %.0f s were abandoned; a reply being "
                    "posted is checked for on the platform at the next start",
                    len(pending),
                    SHUTDOWN_WAIT,
                )
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for stopper in reversed(stoppers):
            await stopper()
        await self.runtime.aclose()
        self._stopped = True
        log.info("stopped")
