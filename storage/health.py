"""How each source's polling is going: one row a source, written after every poll by
the daemon (or by `earful poll` when no daemon runs), read by `earful sources` and
the console.

The daemon keeps the live state in memory; this row is its report, so a failing or
disabled source is visible to whoever works the queue, not only in the daemon's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import iso
from storage.records import _FromRow
from storage.store import Store

State = Literal["ok", "failing", "rate_limited", "disabled"]
# An error message is a line of a log, not a payload: long ones are cut.
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class SourceHealth(_FromRow):
    source: str
    state: str  # ok | failing | rate_limited | disabled
    failures: int  # failed polls in a row
    error: str | None  # the latest failure, secrets masked
    last_ok_at: str | None
    last_failed_at: str | None
    retry_at: str | None  # failing or rate-limited: the next attempt
    updated_at: str


def record_ok(store: Store, source: str) -> None:
    """A poll succeeded: the source is healthy; its last error stays for reference."""
    now = iso(store.clock())
    with store._write() as conn:
        conn.execute(
            "INSERT INTO source_health (source, state, failures, last_ok_at, updated_at) "
            "VALUES (?, 'ok', 0, ?, ?) ON CONFLICT (source) DO UPDATE SET state = 'ok', "
            "failures = 0, last_ok_at = excluded.last_ok_at, retry_at = NULL, "
            "updated_at = excluded.updated_at",
            (source, now, now),
        )


def record_failure(
    store: Store, source: str, state: State, *, error: str, retry_at: datetime | None
) -> None:
    """A poll failed: `state` is failing, rate_limited or disabled (no retry). The
    count of failures in a row lives here, so it survives a restart."""
    if state == "ok":
        raise ValueError("a failure's state is failing, rate_limited or disabled")
    now = iso(store.clock())
    if len(error) > MAX_ERROR:
        error = error[: MAX_ERROR - 3] + "..."
    with store._write() as conn:
        conn.execute(
            "INSERT INTO source_health (source, state, failures, error, last_failed_at, "
            "retry_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT (source) DO "
            "UPDATE SET state = excluded.state, failures = source_health.failures + 1, "
            "error = excluded.error, last_failed_at = excluded.last_failed_at, "
            "retry_at = excluded.retry_at, updated_at = excluded.updated_at",
            (source, state, error, now, iso(retry_at), now),
        )


def read(store: Store) -> list[SourceHealth]:
    rows = store._rows("SELECT * FROM source_health ORDER BY source")
    return [SourceHealth.from_row(r) for r in rows]
