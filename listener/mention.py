"""The normalized post every source produces. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Platforms Earful knows. A Mention's platform is where the post lives, which is
# not always the source that found it (the replay source serves every platform).
PLATFORMS = ("x", "reddit", "mastodon", "bluesky", "hackernews", "rss")
# What people call the platforms, for "did you mean" (difflib finds typos, not these)
PLATFORM_NICKNAMES = {"twitter": "x", "bsky": "bluesky", "hn": "hackernews"}


@dataclass(frozen=True, slots=True)
class Brand:
    """Who Earful listens for: the name, search keywords, and the brand's own handle
    per platform (its own posts are never queued)."""

    name: str
    keywords: tuple[str, ...] = ()
    handles: Mapping[str, str] = field(default_factory=dict)

    def is_own(self, platform: str, handle: str | None) -> bool:
        own = self.handles.get(platform)
        if not own or not handle:
            return False
        return own.lstrip("@").casefold() == handle.lstrip("@").casefold()


@dataclass(frozen=True, slots=True)
class Author:
    handle: str | None
    name: str | None = None
    followers: int | None = None
    verified: bool | None = None
    native_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    platform: str
    native_id: str
    text: str
    author: Author
    url: str | None = None
    created_at: datetime | None = None
    lang: str | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    conversation_id: str | None = None
    in_reply_to: str | None = None
    # Text the post quotes or answers (a quoted tweet, the parent of a reply): shown
    # to people for context, never judged as the author's own words.
    context: str | None = None
    # The id of this version of the post, when the platform gives each edit of a post
    # an id of its own (X); None for a post never edited. native_id is then the first
    # version's id, so an edited post stays the one post Earful judged: an edit
    # revises the stored text and is not judged or answered again.
    version_id: str | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.native_id)

    @property
    def engagement(self) -> int:
        return (self.likes or 0) + (self.reposts or 0) + (self.replies or 0)


def as_utc(value: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime; naive values are taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def shown_utc(moment: datetime) -> str:
    """A moment as messages and logs show it to a person: "2026-11-18 10:00:00 UTC"
    (not ISO 8601's "2026-11-18T10:00:00+00:00", which is for machines). A naive
    moment is UTC already, as the store writes it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_time(value: Any) -> datetime | None:
    """Platform timestamps (ISO 8601 with Z, or epoch seconds) to UTC; junk to None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str) and value:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError, OSError):
        return None
    return None


# The largest count stored: SQLite's integers are signed 64-bit.
MAX_COUNT = 2**63 - 1


def as_int(value: Any) -> int | None:
    """A count from a payload, or None when absent, not a number, negative, or too
    large to be one (JSON's 1e999 is infinity; a 40-digit count would not fit the
    database): one post's junk count must not fail the page it came in."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= MAX_COUNT else None
