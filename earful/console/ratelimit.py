"""Login attempts, limited per account name and client address: after
`max_failures` wrong passwords within `window`, that pair is refused (even with the
right password) until the oldest failure ages out. An attempt counts from the moment
it is let through (`attempt`), before its password is checked. Kept in memory: a restart
forgets, which is acceptable for slowing down password guessing."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Key = tuple[str, str]


def _now() -> datetime:
    return datetime.now(UTC)


class LoginLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        max_keys: int = 10_000,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[Key, deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(name: str, ip: str | None) -> Key:
        return (name.strip().casefold(), ip or "?")

    def _recent(self, key: Key, now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def attempt(self, key: Key) -> float | None:
        """Count an attempt before its password is checked, or refuse it: the
        seconds until this pair may try again, or None when it may now. Counting
        first means attempts sent in parallel cannot all pass the check while the
        slow hashes run; a right password then clears the count (`succeeded`)."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                return max((times[0] + self.window - now).total_seconds(), 1.0)
            self._add(key, now)
            return None

    def attempts(self, key: Key) -> int:
        """How many recent attempts count against this pair."""
        with self._lock:
            return len(self._recent(key, self.clock()))

    def _add(self, key: Key, now: datetime) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._prune(now)
            if len(self._failures) >= self.max_keys:
                return  # every entry is locked out: keep them, not this new name
        times = self._recent(key, now)
        times.append(now)
        self._failures[key] = times

    def succeeded(self, key: Key) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, now: datetime) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) >= self.max_keys:
            # Still full of live entries: drop half rather than grow without bound
            # under a spray of names. Never a locked-out pair (a spray of junk names
            # would unlock the account it guards), and the fewest failures first.
            open_keys = [k for k, t in self._failures.items() if len(t) < self.max_failures]
            ordered = sorted(
                open_keys, key=lambda k: (len(self._failures[k]), self._failures[k][-1])
            )
            for key in ordered[: len(self._failures) // 2]:
                del self._failures[key]
