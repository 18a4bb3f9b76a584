"""The draft editor's live count, computed by responders/limits.py itself: the
platforms' rules are context-sensitive (X weighs links, emoji sequences and
scripts; Bluesky counts grapheme clusters), so the browser asks the server rather
than re-implementing them and drifting."""

from __future__ import annotations

from typing import Any

from responders.context import READ_ONLY_PLATFORMS
from responders.limits import LIMITS, as_posted, reply_problem


def limits_for_browser() -> dict[str, Any]:
    return {
        "platforms": {
            platform: {"max": maximum, "unit": unit}
            for platform, (maximum, _count, unit) in LIMITS.items()
        },
        "read_only": sorted(READ_ONLY_PLATFORMS),
    }


def count_for(platform: str, body: str, author: str | None = None) -> dict[str, Any]:
    """How long `body` is on `platform` as it will be posted to `author` (Mastodon
    adds their @mention), its limit, and why it cannot be posted (None when it can)."""
    limit = LIMITS.get(platform)
    posted = as_posted(platform, body, author)
    return {
        "platform": platform,
        "count": limit[1](posted) if limit else len(body),
        "max": limit[0] if limit else None,
        "unit": limit[2] if limit else "characters",
        "problem": reply_problem(platform, body, author),
    }
