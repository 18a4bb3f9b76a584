"""Each source's health: what a poll's failure is recorded as (by the daemon, and by
`earful poll` and `earful demo --once` when no daemon runs), and what `earful
sources` and the console show: every source the config names with the health last
recorded for it, then any recorded source the config no longer names.

May import: earful.display, earful.redaction, listener, storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from earful import redaction
from earful.display import duration
from listener.base import AuthFailed, RateLimited
from storage import health
from storage.db import from_iso
from storage.health import SourceHealth, State
from storage.store import Store

NOT_POLLED = "not polled yet"
# failed polls in a row before a failing source wants a person: one or two pass
# by themselves (a timeout, a deploy on the platform's side)
ATTENTION_AFTER = 3
# an attempt this late is not under way: the daemon is not polling (it is longer
# than any source's timeout plus the scheduler's slack)
OVERDUE = 10 * 60.0


def failure_state(exc: Exception) -> State:
    """Bad credentials disable a source until a restart; the rest are retried."""
    if isinstance(exc, AuthFailed):
        return "disabled"
    return "rate_limited" if isinstance(exc, RateLimited) else "failing"


def failure_text(exc: Exception, *, unexpected: bool = False) -> str:
    """The failure in a line, with every configured secret masked."""
    text = f"{type(exc).__name__}: {exc}" if unexpected else str(exc) or type(exc).__name__
    return redaction.redact(text)


def record_failure(
    store: Store,
    source: str,
    exc: Exception,
    *,
    retry_at: datetime | None,
    unexpected: bool = False,
) -> None:
    health.record_failure(
        store,
        source,
        failure_state(exc),
        error=failure_text(exc, unexpected=unexpected),
        retry_at=retry_at,
    )


def record_outcome(store: Store, source: str, trouble: str | None) -> None:
    """A poll that read what it could: ok, or "failing" when part of the source
    failed (FetchResult.trouble), so that one dead feed of several is not "ok"."""
    if trouble is None:
        health.record_ok(store, source)
    else:
        health.record_failure(
            store, source, "failing", error=redaction.redact(trouble), retry_at=None
        )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    type: str | None  # None: recorded, but not in this config
    state: str  # ok | failing | rate_limited | disabled | not polled yet
    failures: int  # failed polls in a row
    error: str | None  # the latest failure, secrets masked
    last_ok_at: str | None
    last_failed_at: str | None
    retry_at: str | None  # failing or rate-limited: the next attempt
    updated_at: str | None  # when it was last recorded

    @property
    def needs_attention(self) -> bool:
        """Disabled, or failing poll after poll: a person should look (a rate limit
        or a single failure passes by itself)."""
        if self.type is None:
            return False
        failing = self.state == "failing" and self.failures >= ATTENTION_AFTER
        return self.state == "disabled" or failing

    @property
    def advice(self) -> str:
        """What to do about it, in a few words ("" when nothing)."""
        if self.type is None:
            return "not in this config"
        if self.state == "disabled":
            return "fix its credentials and restart Earful"
        return ""

    def notes(self, now: datetime) -> list[str]:
        """The lines a person reads under the source: its error, what to do, and
        when it is tried again."""
        out = [self.error] if self.error and self.state != "ok" else []
        out += [self.advice] if self.advice else []
        # a source taken out of the config is polled no more, whatever was planned
        planned = self.state != "ok" and self.type is not None
        when = from_iso(self.retry_at) if planned else None
        if when is not None:
            wait = (when - now).total_seconds()
            if wait >= 0:
                out.append(f"next attempt in {duration(wait)}")
            elif wait > -OVERDUE:  # an attempt under way (a slow platform) takes a while
                out.append("next attempt due now")
            else:
                out.append(f"next attempt was due {duration(-wait)} ago: is the daemon running?")
        return out


def statuses(
    configured: Sequence[tuple[str, str]], recorded: Iterable[SourceHealth]
) -> list[SourceStatus]:
    """`configured`: (name, type) of each source in the config, in its order."""
    by_name = {h.source: h for h in recorded}
    out = [_status(name, kind, by_name.pop(name, None)) for name, kind in configured]
    out += [_status(name, None, h) for name, h in sorted(by_name.items())]
    return out


def _status(name: str, kind: str | None, h: SourceHealth | None) -> SourceStatus:
    if h is None:
        return SourceStatus(name, kind, NOT_POLLED, 0, None, None, None, None, None)
    recorded = {k: v for k, v in asdict(h).items() if k != "source"}
    return SourceStatus(name=name, type=kind, **recorded)
