"""Delivering escalation alerts to a Slack-compatible webhook, each at most once.

pending -> sending is committed before the webhook is called, sending -> sent after
it answers 2xx. What happens when it does not:

- it could not be reached (connection refused, DNS), or answered 429, 408 or 5xx:
  nothing was delivered, so the alert goes back to `pending` and is retried with
  exponential backoff (honouring Retry-After) until `max_attempts`, then `failed`;
- it answered another 3xx/4xx (a revoked or mistyped webhook, an archived channel):
  retrying will not help, so `failed` at once, with the receiver's reason;
- it timed out or dropped the connection after the request went out, or Earful
  crashed mid-call (found in `sending` at start-up): the alert MAY have been posted.
  Slack's incoming webhooks keep no idempotency key, so re-sending could post it
  twice; the alert goes to `unknown` for a person, as replies do. A receiver that
  drops repeats of the `X-Earful-Alert-Id` header (set `receiver_dedupes = true`)
  gets these retried instead.

The webhook URL is the credential: it is never logged or stored in an error; logs
name the receiver's host only.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp

from earful.config import EscalationConfig
from earful.display import oneline
from earful.slack import alert_message
from listener.http_errors import is_web_page, page_said
from storage.records import AlertRecord
from storage.store import Store

log = logging.getLogger("earful.alerts")

ALERT_ID_HEADER = "X-Earful-Alert-Id"
MAX_RETRY_WAIT = 3600.0
_RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class AlertSummary:
    receiver: str
    outcomes: dict[str, int] = field(default_factory=dict)  # sent, retry, failed, unknown, ...
    # after the round: the pending alerts held back while one waits for its retry
    # (the receiver failed it), and when that retry is due
    waiting: int = 0
    next_at: str | None = None

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class Delivery:
    """What one webhook call came to."""

    ok: bool
    error: str = ""
    retryable: bool = False  # certainly not delivered: safe to send again
    maybe_delivered: bool = False  # the receiver may have it: resending may duplicate
    wait: float | None = None  # the receiver's Retry-After, in seconds


def alert_key(alert: AlertRecord) -> str:
    """A stable id for the X-Earful-Alert-Id header: one alert per mention, so the
    mention's identity, hashed (native ids are the platform's text)."""
    return hashlib.sha256(f"{alert.platform}:{alert.native_id}".encode()).hexdigest()[:32]


def retry_wait(retry_after: float, attempts: int, receiver_wait: float | None = None) -> float:
    """Exponential from retry_after, capped at an hour; never sooner than the
    receiver asked for."""
    wait = min(retry_after * 2.0 ** max(attempts - 1, 0), MAX_RETRY_WAIT)
    return max(wait, min(receiver_wait or 0.0, MAX_RETRY_WAIT))


def _scrub(message: str, url: str) -> str:
    """An error message without the webhook URL's secret parts (path and query)."""
    parts = urlsplit(url)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.path):
        if secret and secret != "/":
            message = message.replace(secret, "/…")
    return oneline(message, 300)


def _seconds(header: str | None) -> float | None:
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None  # an HTTP date or garbage: our own backoff applies
    return max(seconds, 0.0) if seconds is not None and math.isfinite(seconds) else None


# Seconds to open the webhook's connection (at most half the whole timeout).
CONNECT_TIMEOUT = 10.0


async def post_alert(
    session: aiohttp.ClientSession, settings: EscalationConfig, alert: AlertRecord
) -> Delivery:
    """One POST of the alert's message to the webhook."""
    url = settings.webhook_url or ""
    try:
        payload = alert_message(alert)
    except Exception as exc:  # a bug, not the receiver's fault; nothing was sent
        log.exception("building the message for alert %d failed", alert.id)
        return Delivery(False, f"could not build the message: {type(exc).__name__}: {exc}")
    try:
        async with session.post(
            url,
            json=payload,
            # A fresh connection each time: a pooled one the receiver has quietly
            # closed would fail mid-request and leave the alert `unknown` for nothing.
            headers={ALERT_ID_HEADER: alert_key(alert), "Connection": "close"},
            # a connect timeout of its own: a request that never left is retried,
            # where a timeout after it went out leaves the alert `unknown`
            timeout=aiohttp.ClientTimeout(
                total=settings.timeout, sock_connect=min(CONNECT_TIMEOUT, settings.timeout / 2)
            ),
            # a redirect would carry the alert somewhere the operator did not choose
            allow_redirects=False,
        ) as response:
            said = (await response.content.read(500)).decode("utf-8", "replace")
            if is_web_page(response.headers.get("Content-Type", ""), said):
                said = page_said(said)  # a gateway's error page: named, not quoted
            status = response.status
            wait = _seconds(response.headers.get("Retry-After"))
    except aiohttp.ClientConnectorError as exc:
        return Delivery(False, _scrub(f"cannot connect: {exc}", url), retryable=True)
    except aiohttp.ConnectionTimeoutError:
        return Delivery(False, "connecting timed out", retryable=True)
    except TimeoutError:
        return Delivery(False, f"no answer within {settings.timeout:g}s", maybe_delivered=True)
    except aiohttp.ClientError as exc:  # dropped after the request went out
        error = f"connection lost: {type(exc).__name__}: {exc}"
        return Delivery(False, _scrub(error, url), maybe_delivered=True)
    if 200 <= status < 300:
        return Delivery(True)
    error = _scrub(f"HTTP {status}: {said.strip() or '(no reason given)'}", url)
    retryable = status in _RETRYABLE_STATUS or status >= 500
    return Delivery(False, error, retryable=retryable, wait=wait)


async def deliver_due(
    store: Store, settings: EscalationConfig, session: aiohttp.ClientSession, *, limit: int = 100
) -> AlertSummary:
    """Send every alert that is due, most urgent first; stop the round at the first
    retryable failure, and start none while an alert waits for its retry (the
    receiver is struggling: the rest wait, attempts intact, until the retry is due
    and tells whether it is back)."""
    outcomes: Counter[str] = Counter()
    if not settings.webhook_url:
        return AlertSummary(settings.receiver)
    for _ in range(limit):
        # before every claim: the alert just sent may make its case's others moot
        for alert_id, why in store.skip_alerts(
            min_urgency=settings.min_urgency,
            stale_before=store.clock() - timedelta(seconds=settings.max_age),
        ):
            log.info("alert %d skipped: %s", alert_id, why)
            outcomes["skipped"] += 1
        if store.alerts_resting() is not None:
            break
        alert = store.claim_alert()
        if alert is None:
            break
        outcome = await _deliver_one(store, settings, session, alert)
        outcomes[outcome] += 1
        if outcome == "retry":
            break
    waiting, next_at = store.alerts_resting() or (0, None)
    return AlertSummary(settings.receiver, dict(outcomes), waiting=waiting, next_at=next_at)


async def _deliver_one(
    store: Store, settings: EscalationConfig, session: aiohttp.ClientSession, alert: AlertRecord
) -> str:
    who = f"@{oneline(alert.author_handle, 40)}" if alert.author_handle else "an unknown author"
    where = f"alert {alert.id} (urgency {alert.urgency}, {alert.platform} post by {who})"
    try:
        result = await post_alert(session, settings, alert)
    except Exception as exc:  # a bug mid-call: the receiver may or may not have it
        result = Delivery(False, f"sending raised {type(exc).__name__}", maybe_delivered=True)
        log.error("%s: sending raised an unexpected error", where, exc_info=True)
    if result.ok:
        store.mark_alert_sent(alert.id)
        log.info("%s delivered to %s", where, settings.receiver)
        return "sent"
    if result.maybe_delivered and not settings.receiver_dedupes:
        store.mark_alert_unknown(
            alert.id,
            f"{result.error}; it may have been delivered. Check the channel, then "
            f"`earful alerts mark-sent {alert.id}` or `earful alerts retry {alert.id}`",
        )
        log.error(
            "%s: %s from %s; it may have been delivered, so it is not re-sent: "
            "marked unknown for a person to check",
            where,
            result.error,
            settings.receiver,
        )
        return "unknown"
    wait = retry_wait(settings.retry_after, alert.attempts, result.wait)
    record = store.mark_alert_failed(
        alert.id,
        result.error,
        retryable=result.retryable or result.maybe_delivered,
        max_attempts=settings.max_attempts,
        retry_in=timedelta(seconds=wait),
    )
    if record.status == "pending":
        log.warning(
            "%s not delivered to %s (%s); retrying in %.0fs (attempt %d of %d)",
            where,
            settings.receiver,
            result.error,
            wait,
            alert.attempts,
            settings.max_attempts,
        )
        return "retry"
    log.error(
        "%s failed after %d attempt(s) to %s: %s",
        where,
        record.attempts,
        settings.receiver,
        result.error,
    )
    return "failed"


def reconcile_alerts(store: Store, settings: EscalationConfig) -> AlertSummary:
    """Start-up: settle alerts a crash left in `sending`. Slack cannot tell whether it
    has one, so they go to `unknown`; a deduplicating receiver gets them again."""
    outcomes: Counter[str] = Counter()
    for alert in store.alerts_in_sending():
        if settings.receiver_dedupes and settings.webhook_url:
            store.release_alert(alert.id, "found in sending at start-up; sent again")
            log.info("alert %d was being sent at the last stop; sending it again", alert.id)
            outcomes["released"] += 1
        else:
            store.mark_alert_unknown(
                alert.id,
                "found in sending at start-up: it may have been delivered. Check the "
                f"channel, then `earful alerts mark-sent {alert.id}` or "
                f"`earful alerts retry {alert.id}`",
            )
            log.warning(
                "alert %d was being sent at the last stop and may have been delivered; "
                "marked unknown for a person to check",
                alert.id,
            )
            outcomes["unknown"] += 1
    return AlertSummary(settings.receiver, dict(outcomes))
