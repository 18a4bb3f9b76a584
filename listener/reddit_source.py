"""Polling Reddit listings through praw: one feed per subreddit (or the inbox), each
read newest first until it reaches where the last poll stopped.

Reddit listings have no since_id, so the cursor keeps, per feed, the newest
`created_utc` seen and the fullnames seen at exactly that second:

    {"feeds": {"new:LumenetUK": {"created_utc": 1795081500.0, "ids": ["t3_1pq45bv"]}}}

A poll pages through a feed (100 a page, following `after`) and stops at the first
post older than the edge; posts at the edge second are new unless their fullname is
listed. The first poll of a feed (no edge yet) takes at most `backfill` posts. A feed
that fails alone (a private, banned or vanished subreddit) keeps its edge and is
skipped with a logged reason while the others go on.

praw is synchronous, so the whole poll runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import praw
import prawcore
import requests
from praw.exceptions import PRAWException

from listener.base import (
    AuthFailed,
    Cursor,
    FetchResult,
    RateLimited,
    SourceDown,
)
from listener.mention import Mention, parse_time, shown_utc
from listener.normalize import MalformedPost, as_list, as_mapping, as_str
from listener.reddit_client import (
    RateBudget,
    block_page,
    is_token_failure,
    response_reason,
    source_error,
)

log = logging.getLogger("earful.reddit")

PAGE = 100  # the most Reddit returns per listing page


@dataclass(frozen=True, slots=True)
class Feed:
    """One listing Earful reads: a subreddit's search, /new or /comments, or the inbox."""

    key: str  # names the feed in the cursor: "<mode>:<subreddit>" or "mentions"
    label: str  # for people: "r/LumenetUK (new posts)"
    path: str
    params: Mapping[str, str]
    subreddit: str | None = None  # None for the inbox


@dataclass(frozen=True, slots=True)
class Edge:
    created_utc: float
    ids: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        return {"created_utc": self.created_utc, "ids": sorted(self.ids)}


def feeds_for(mode: str, subreddits: Sequence[str], query: str) -> tuple[Feed, ...]:
    if mode == "mentions":
        return (Feed("mentions", "inbox mentions", "message/mentions", {}),)
    feeds = []
    for sub in subreddits:
        if mode == "search":
            params = {
                "q": query,
                "sort": "new",
                "t": "all",
                "restrict_sr": "false" if sub.lower() == "all" else "true",
            }
            feeds.append(
                Feed(f"search:{sub}", f"r/{sub} (search)", f"r/{sub}/search/", params, sub)
            )
        elif mode == "submissions":
            feeds.append(Feed(f"new:{sub}", f"r/{sub} (new posts)", f"r/{sub}/new", {}, sub))
        else:
            feeds.append(
                Feed(f"comments:{sub}", f"r/{sub} (new comments)", f"r/{sub}/comments/", {}, sub)
            )
    return tuple(feeds)


def keyword_matcher(keywords: Sequence[str]) -> Callable[[str], bool]:
    """Whole-word, case-insensitive: "acme" matches "Acme's router" but not "acmelab"."""
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return lambda text: True
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )
    return lambda text: pattern.search(text) is not None


class _Skipped(Exception):
    """This feed alone cannot be read now."""


class RedditSource:
    def __init__(
        self,
        name: str,
        reddit: praw.Reddit,
        session: requests.Session,
        budget: RateBudget,
        feeds: Sequence[Feed],
        normalize: Callable[[Mapping[str, Any]], Mention],
        *,
        match: Callable[[str], bool] | None = None,
        backfill: int = 100,
        max_per_poll: int = 1000,
    ) -> None:
        self.name = name
        self.reddit = reddit
        self.session = session
        self.budget = budget
        self.feeds = tuple(feeds)
        self.normalize = normalize
        self.match = match
        self.backfill = backfill
        self.max_per_poll = max_per_poll
        self._skipping: dict[str, str] = {}  # feed key -> reason, to log each streak once

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        return await asyncio.to_thread(self._fetch, cursor)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.session.close)

    # -- one poll ----------------------------------------------------------------

    def _fetch(self, cursor: Cursor | None) -> FetchResult:
        edges = self._edges(cursor)
        mentions: list[Mention] = []
        done = skipped = 0
        reasons: list[str] = []
        paused_until: datetime | None = None
        for feed in self.feeds:
            until = self.budget.exhausted_until()
            if until is not None:
                paused_until = until
                break
            try:
                things, edge = self._read(feed, edges.get(feed.key))
            except _Skipped as exc:
                skipped += 1
                reasons.append(f"{feed.label}: {exc}")
                continue
            except RateLimited as exc:
                if not done:
                    raise
                paused_until = exc.reset_at or datetime.now(UTC) + timedelta(minutes=1)
                break
            done += 1
            if edge is not None:
                edges[feed.key] = edge
            mentions.extend(self._keep(things, feed))
        if skipped and skipped == len(self.feeds):
            raise SourceDown("every feed was skipped: " + "; ".join(reasons))
        if paused_until is not None and not done:
            raise RateLimited(f"Reddit source {self.name}: rate limit used up", paused_until)
        next_poll_in = None
        if paused_until is not None:
            next_poll_in = max((paused_until - datetime.now(UTC)).total_seconds(), 1.0)
            log.warning(
                "%s: Reddit rate limit used up after %d of %d feeds; the rest wait until %s",
                self.name,
                done + skipped,
                len(self.feeds),
                shown_utc(paused_until),
            )
        cursor_out = {
            "feeds": {f.key: edges[f.key].as_json() for f in self.feeds if f.key in edges}
        }
        return FetchResult(tuple(mentions), cursor_out, next_poll_in=next_poll_in)

    def _edges(self, cursor: Cursor | None) -> dict[str, Edge]:
        if cursor is None:
            return {}
        feeds = as_mapping(cursor.get("feeds")) if isinstance(cursor, Mapping) else None
        if feeds is None:
            log.warning("%s: ignoring a cursor it did not write: %r", self.name, cursor)
            return {}
        edges = {}
        for key, value in feeds.items():
            entry = as_mapping(value)
            created = entry.get("created_utc") if entry else None
            ids = as_list(entry.get("ids")) if entry else ()
            if isinstance(created, int | float) and not isinstance(created, bool):
                edges[key] = Edge(float(created), frozenset(i for i in ids if isinstance(i, str)))
            else:
                log.warning("%s: ignoring a malformed cursor entry %r: %r", self.name, key, value)
        return edges

    def _read(self, feed: Feed, edge: Edge | None) -> tuple[list[Mapping[str, Any]], Edge | None]:
        try:
            things, newest = self._page_through(feed, edge)
        except (prawcore.Forbidden, prawcore.NotFound, prawcore.Redirect) as exc:
            if is_token_failure(exc):
                raise source_error(self.name, exc, self.budget) from None
            if feed.subreddit is None:
                raise block_page(self.name, exc) or AuthFailed(
                    f"Reddit source {self.name}: cannot read the inbox "
                    f"({response_reason(exc)}); mentions mode needs a script app with "
                    "username and password"
                ) from None
            self._skip(feed, response_reason(exc))
            raise _Skipped(response_reason(exc)) from None
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise source_error(self.name, exc, self.budget) from None
        if feed.key in self._skipping:
            log.info("%s: %s readable again", self.name, feed.label)
            del self._skipping[feed.key]
        return things, _advance(edge, newest)

    def _page_through(
        self, feed: Feed, edge: Edge | None
    ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """The feed's posts newer than the edge, newest first, and every post examined
        (for the new edge)."""
        limit = self.backfill if edge is None else self.max_per_poll
        taken: list[Mapping[str, Any]] = []
        examined: list[Mapping[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, str | int] = {
                **feed.params,
                "limit": str(max(1, min(PAGE, limit - len(taken)))),
            }
            if after:
                params["after"] = after
            children, after = _listing(
                self.reddit.request(method="GET", path=feed.path, params=params), feed
            )
            stop = not children or not after
            for child in children:
                name, created = _name_and_time(child)
                if edge is not None and created is not None:
                    if created < edge.created_utc:
                        stop = True
                        break
                    if created == edge.created_utc and name in edge.ids:
                        continue
                if len(taken) >= limit:
                    if edge is None:
                        examined.append(child)  # backfill = 0 still learns the edge
                    stop = True
                    break
                taken.append(child)
                examined.append(child)
            if stop or len(taken) >= limit:
                if edge is not None and len(taken) >= limit and after:
                    log.warning(
                        "%s: %s had %d or more new posts since the last poll; older ones "
                        "may not have been read (poll more often or raise max_per_poll)",
                        self.name,
                        feed.label,
                        limit,
                    )
                return taken, examined

    def _keep(self, things: Sequence[Mapping[str, Any]], feed: Feed) -> list[Mention]:
        kept = []
        for thing in things:
            try:
                mention = self.normalize(thing)
            except MalformedPost as exc:
                log.warning("%s: a post in %s skipped: %s", self.name, feed.label, exc)
                continue
            if not mention.text.strip():
                log.debug("%s: %s was removed or deleted; skipped", self.name, mention.native_id)
                continue
            if self.match is not None and not self.match(mention.text):
                continue
            kept.append(mention)
        return kept

    def _skip(self, feed: Feed, reason: str) -> None:
        if self._skipping.get(feed.key) != reason:
            log.warning(
                "%s: %s skipped: %s; the other feeds go on (logged once until it changes)",
                self.name,
                feed.label,
                reason,
            )
        self._skipping[feed.key] = reason


def _listing(payload: Any, feed: Feed) -> tuple[list[Mapping[str, Any]], str | None]:
    data = as_mapping(payload.get("data")) if isinstance(payload, Mapping) else None
    if (
        data is None
        or payload.get("kind") != "Listing"
        or not isinstance(data.get("children"), list)
    ):
        raise SourceDown(f"{feed.label}: Reddit sent something that is not a listing")
    children = [c for c in data["children"] if isinstance(c, Mapping)]
    return children, as_str(data.get("after"))


def _name_and_time(thing: Mapping[str, Any]) -> tuple[str | None, float | None]:
    data = as_mapping(thing.get("data")) or {}
    created = parse_time(data.get("created_utc"))
    return as_str(data.get("name")), created.timestamp() if created else None


def _advance(edge: Edge | None, examined: Sequence[Mapping[str, Any]]) -> Edge | None:
    """The newest second seen so far and the fullnames seen at it."""
    stamped = [(t, n) for n, t in map(_name_and_time, examined) if t is not None]
    if not stamped:
        return edge
    newest = max(t for t, _ in stamped)
    if edge is not None and edge.created_utc > newest:
        return edge
    ids = {n for t, n in stamped if t == newest and n}
    if edge is not None and edge.created_utc == newest:
        ids |= edge.ids
    return Edge(newest, frozenset(ids))
