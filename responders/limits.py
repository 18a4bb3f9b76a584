"""How long a reply may be on each platform, checked when a person approves or edits
a draft, so an over-long reply is refused with a clear message instead of failing
at the platform."""

from __future__ import annotations

from collections.abc import Callable

from responders.context import READ_ONLY_PLATFORMS
from responders.graphemes import count_graphemes


def _characters(text: str) -> int:
    return len(text)


# platform -> (maximum, how that platform counts, the unit's name)
LIMITS: dict[str, tuple[int, Callable[[str], int], str]] = {
    "x": (280, _characters, "characters"),
    "reddit": (10_000, _characters, "characters"),
    "mastodon": (500, _characters, "characters"),
    "bluesky": (300, count_graphemes, "graphemes"),
}


def reply_problem(platform: str, body: str) -> str | None:
    """Why this reply cannot be posted as it is, or None when it can."""
    if not body.strip():
        return "the reply is empty"
    if platform in READ_ONLY_PLATFORMS:
        return f"{platform} is read-only: Earful cannot post there; use the callback task"
    limit = LIMITS.get(platform)
    if limit is None:
        return None
    maximum, count, unit = limit
    length = count(body)
    if length > maximum:
        return f"the reply is {length} {unit}; {platform} allows {maximum}"
    return None
