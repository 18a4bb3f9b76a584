"""The per-platform reply limits of responders/limits.py, in a form the draft
editor's JavaScript can apply exactly: the maximum, the unit, and the code points
the platform's counting function does not count. Derived by running the real
counting functions, so the browser's live count and the server's check agree."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from responders.context import READ_ONLY_PLATFORMS
from responders.limits import LIMITS


@functools.cache
def _uncounted(count: Callable[[str], int]) -> tuple[tuple[int, int], ...]:
    """Ranges [start, end] of code points that count as nothing on their own."""
    ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(sys.maxunicode + 1):
        zero = count(chr(cp)) == 0
        if zero and start is None:
            start = cp
        elif not zero and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode))
    return tuple(ranges)


def limits_for_browser() -> dict[str, Any]:
    return {
        "platforms": {
            platform: {"max": maximum, "unit": unit, "uncounted": _uncounted(count)}
            for platform, (maximum, count, unit) in LIMITS.items()
        },
        "read_only": sorted(READ_ONLY_PLATFORMS),
    }
