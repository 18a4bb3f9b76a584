"""Posting approved replies, at most once each, and reconciling after a crash.

approved -> sending is committed before anything goes out; sending -> sent after the
platform confirms. A reply found in `sending` at start-up crashed somewhere in
between: it is looked for on the platform and marked sent when found, and otherwise
goes to `unknown` for a person. Nothing is ever re-posted automatically.

A platform's rate limit is stored when met, and every later run waits it out too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from earful import redaction
from earful.config import PublishConfig
from listener.base import SourceDown
from listener.mention import shown_utc
from responders.publish.base import Outgoing, Posted, Publisher, PublishError
from storage.records import Claimed
from storage.store import Store

log = logging.getLogger("earful.publish")

# A platform's rate limit is waited out, but never for longer than this: a reset
# time far off is more likely a bad header than a day-long ban.
MAX_REST = timedelta(hours=1)


@dataclass(frozen=True)
class PublishSummary:
    outcomes: dict[str, int] = field(default_factory=dict)  # sent, dry-run, retry, failed, unknown
    # approved replies not yet due (a retry's wait), and when the first one is
    waiting: int = 0
    next_at: str | None = None
    # `earful publish`: replies left for a person after the run, this run's and
    # earlier ones' (failed, unknown), counted until someone settles them
    unsettled: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def outgoing(claim: Claimed) -> Outgoing:
    try:
        raw = json.loads(claim.raw) if claim.raw else None
    except ValueError:
        raw = None
    return Outgoing(
        reply_id=claim.id,
        kind=claim.kind,
        body=claim.body,
        platform=claim.platform,
        target_id=claim.native_id,
        target_url=claim.url,
        target_author=claim.author_handle,
        conversation_id=claim.conversation_id,
        target_raw=raw,
    )


async def publish_due(
    store: Store,
    publishers: Mapping[str, Publisher],
    settings: PublishConfig,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> PublishSummary:
    """Post every approved reply that is due, one claim batch at a time. When
    `stopping` turns true, the reply being posted is finished and the rest of the
    batch goes back to `approved` for the next run. The database is used from a
    worker thread: a database another process has locked must not stall the loop."""
    dry_run = settings.mode == "dry-run"
    # Live replies are claimed one at a time: a crash while one is posted leaves that
    # one `sending` for a person to check, not the untried rest of a batch with it.
    per_claim = settings.batch if dry_run else 1
    outcomes: Counter[str] = Counter()
    # platform -> when its rate limit ends: stored, so that a limit met by an earlier
    # run (the daemon's last tick, another `earful publish`) holds this one too
    resting: dict[str, datetime] = (
        {} if dry_run else await asyncio.to_thread(store.publishing_rests)
    )
    while not stopping():
        claims = await asyncio.to_thread(store.claim_for_posting, limit=per_claim, dry_run=dry_run)
        for done, claim in enumerate(claims):
            if stopping():
                left = [c.id for c in claims[done:]]
                released = await asyncio.to_thread(store.release_claims, left)
                log.info(
                    "stopping: %d approved repl%s left for the next run",
                    released,
                    "y" if released == 1 else "ies",
                )
                break
            try:
                until = resting.get(claim.platform)
                # the platform said to wait: nothing is tried (a rest over meanwhile is
                # not, or the reply released would be claimed again at once, forever)
                if until is not None and until > store.clock():
                    await _wait_out_rest(store, claim, until)
                    outcomes["retry"] += 1
                    continue
                outcomes[await _post_one(store, publishers, settings, claim, resting)] += 1
            except Exception:
                # The store failed (a full disk, say) around this reply, which stays
                # `sending` for the start-up reconcile; the rest of the batch was never
                # tried and goes back to `approved`, not to `unknown` for a person.
                await _release_untried(store, [c.id for c in claims[done + 1 :]])
                raise
        if len(claims) < per_claim:
            break
    return PublishSummary(dict(outcomes))


def _where(claim: Claimed) -> str:
    return f"reply {claim.id} to {claim.url or claim.native_id} on {claim.platform}"


async def _wait_out_rest(store: Store, claim: Claimed, until: datetime) -> None:
    """Back to `approved` until the platform's rate limit ends, the attempt not counted."""
    note = f"waiting out {claim.platform}'s rate limit until {shown_utc(until)}"
    await asyncio.to_thread(store.release_claims, [claim.id], until=until, note=note)
    log.info("%s: %s (not tried)", _where(claim), note)


async def _release_untried(store: Store, reply_ids: list[int]) -> None:
    if not reply_ids:
        return
    try:
        await asyncio.to_thread(store.release_claims, reply_ids)
    except Exception as exc:  # the same fault: the start-up reconcile settles them
        log.warning("could not put %d untried replies back to approved: %s", len(reply_ids), exc)


async def _post_one(
    store: Store,
    publishers: Mapping[str, Publisher],
    settings: PublishConfig,
    claim: Claimed,
    resting: dict[str, datetime],
) -> str:
    where = _where(claim)
    if claim.dry_run:
        # in double quotes whatever it holds (repr switches to single quotes), one line
        log.info("dry-run: would post %s: %s", where, json.dumps(claim.body, ensure_ascii=False))
        await asyncio.to_thread(
            store.mark_sent, claim.id, posted_id=None, note="dry-run: not posted"
        )
        return "dry-run"
    publisher = publishers.get(claim.platform)
    if publisher is None:
        await asyncio.to_thread(
            store.mark_failed,
            claim.id,
            f"no publisher for {claim.platform}: configure a source of type "
            f"{claim.platform} with posting credentials",
            retryable=False,
        )
        log.error("cannot post %s: no %s publisher configured", where, claim.platform)
        return "failed"
    try:
        posted = await publisher.post(outgoing(claim))
    except PublishError as exc:
        if exc.rate_limited:
            until = _rest_until(store.clock(), exc.retry_at, settings)
            resting[claim.platform] = until
            await asyncio.to_thread(
                store.release_claims,
                [claim.id],
                until=until,
                note=_said(exc),
                resting=claim.platform,  # with the limit, in one transaction
            )
            log.warning(
                "posting %s: %s; %s replies wait until %s (the attempt is not counted)",
                where,
                exc,
                claim.platform,
                shown_utc(until),
            )
            return "retry"
        reply = await asyncio.to_thread(
            store.mark_failed,
            claim.id,
            _said(exc),
            retryable=exc.retryable,
            max_attempts=settings.max_attempts,
            retry_in=timedelta(seconds=settings.retry_after),
        )
        if reply.status == "approved":
            log.warning(
                "posting %s failed (attempt %d of %d; trying again in %.0f s): %s",
                where,
                reply.attempts,
                settings.max_attempts,
                settings.retry_after,
                exc,
            )
            return "retry"
        log.warning(
            "posting %s failed for good after %d attempt(s): %s; a person decides "
            "(earful queue list --status failed)",
            where,
            reply.attempts,
            exc,
        )
        return "failed"
    except SourceDown as exc:
        # how a publisher says the platform may have taken it (a timeout or a 5xx
        # after the request went out): expected, so one line for a person to act on
        await asyncio.to_thread(store.mark_unknown, claim.id, _said(exc))
        log.warning(
            "posting %s: %s. It may have gone out, so it is not sent again: look in its thread "
            "on %s, then "
            "`earful queue mark-sent %d` if it is there, `earful queue retry %d` to send "
            "it again, or `earful queue reject %d` if it should not be (or the draft's page "
            "in the console)",
            where,
            exc,
            claim.platform,
            claim.id,
            claim.id,
            claim.id,
        )
        return "unknown"
    except Exception as exc:  # a bug: the platform may or may not have taken it
        note = redaction.redact(f"posting raised {type(exc).__name__}: {exc}")
        await asyncio.to_thread(store.mark_unknown, claim.id, note)
        log.error("posting %s ended in an unexpected error; marked unknown", where, exc_info=True)
        return "unknown"
    await asyncio.to_thread(
        store.mark_sent, claim.id, posted_id=posted.native_id, posted_url=posted.url
    )
    log.info("posted %s as %s", where, posted.native_id)
    return "sent"


def _said(exc: Exception) -> str:
    """A publisher's error as stored with the reply: the platform's own words may
    quote a credential back, and the reply's error is shown to every console user
    and kept in the database and its backups, so the secrets are masked as in the log."""
    return redaction.redact(str(exc))


def _rest_until(now: datetime, reset: datetime | None, settings: PublishConfig) -> datetime:
    """When to try a rate-limited platform again: its reset time if it gave one (at
    least retry_after from now, at most MAX_REST), else retry_after from now."""
    soonest = now + timedelta(seconds=settings.retry_after)
    if reset is None:
        return soonest
    return min(max(reset, soonest), now + MAX_REST)


async def reconcile_sending(store: Store, publishers: Mapping[str, Publisher]) -> PublishSummary:
    """Start-up: settle replies a crash left in `sending`."""
    outcomes: Counter[str] = Counter()
    for claim in store.in_sending():
        where = f"reply {claim.id} on {claim.platform}"
        if claim.dry_run:
            store.mark_sent(claim.id, posted_id=None, note="dry-run; settled at start-up")
            outcomes["dry-run"] += 1
            continue
        found: Posted | None = None
        publisher = publishers.get(claim.platform)
        note = "found in sending at start-up; no publisher to check the platform with"
        if publisher is not None:
            try:
                found = await publisher.find_posted(outgoing(claim))
                note = "found in sending at start-up; not found on the platform"
            except Exception as exc:
                note = f"found in sending at start-up; the platform could not tell ({_said(exc)})"
        if found is not None:
            store.mark_sent(
                claim.id, posted_id=found.native_id, posted_url=found.url, note="reconciled"
            )
            log.info("%s was posted before the restart (%s); marked sent", where, found.native_id)
            outcomes["reconciled"] += 1
        else:
            store.mark_unknown(claim.id, note)
            log.warning("%s: %s; marked unknown for a person to check", where, note)
            outcomes["unknown"] += 1
    return PublishSummary(dict(outcomes))
