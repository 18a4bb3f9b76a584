"""Each source's health: what a failed poll is recorded as (by the daemon and by
`earful poll`), and what `earful sources` and the console show: every source the
config names with the health last recorded for it, then any recorded source the
config no longer names.

May import: earful.redaction, listener, storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from earful import redaction
from listener.base import AuthFailed, RateLimited
from storage.health import SourceHealth, State

# States that want a person: polling is failing or has stopped.
TROUBLE = ("failing", "rate_limited", "disabled")
NOT_POLLED = "not polled yet"


def failure_state(exc: Exception) -> State:
    """Bad credentials disable a source until a restart; the rest are retried."""
    if isinstance(exc, AuthFailed):
        return "disabled"
    return "rate_limited" if isinstance(exc, RateLimited) else "failing"


def failure_text(exc: Exception, *, unexpected: bool = False) -> str:
    """The failure in a line, with every configured secret masked."""
    text = f"{type(exc).__name__}: {exc}" if unexpected else str(exc) or type(exc).__name__
    return redaction.redact(text)


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
    updated_at: str | None  # when the daemon last wrote this

    @property
    def needs_attention(self) -> bool:
        """Disabled, or failing poll after poll: a person should look (a rate limit
        or a single failure passes by itself)."""
        if self.type is None:
            return False
        return self.state == "disabled" or (self.state == "failing" and self.failures >= 3)

    @property
    def advice(self) -> str:
        """What to do about it, in a few words ("" when nothing)."""
        if self.type is None:
            return "not in this config"
        if self.state == "disabled":
            return "fix its credentials and restart Earful"
        return ""


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
    return SourceStatus(
        name,
        kind,
        h.state,
        h.failures,
        h.error,
        h.last_ok_at,
        h.last_failed_at,
        h.retry_at,
        h.updated_at,
    )
