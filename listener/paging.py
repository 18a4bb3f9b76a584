"""Following a newest-first listing without missing or repeating posts.

Search and notification APIs (Bluesky, the HN Algolia API) list the newest posts
first and page towards older ones. A source remembers an *edge*: the time of the
newest post it has stored, plus the ids of the posts at exactly that time (several
posts share a second, and the APIs' time filters are inclusive). Each poll pages
from the top down until it reaches the edge, then moves the edge up.

A backlog deeper than one poll's page budget is walked as a *sweep*: the token for
the next older page and the newest time seen so far are kept in the cursor, the
daemon polls again at once (`more=True`), and the edge moves only when the sweep
reaches it, so the middle of a burst is never skipped. From the first older page on,
the page fetcher is handed the sweep under way (its `top`), so an API with a time
filter can hold the pages still under new arrivals (listener/hackernews.py).

A platform whose index lags (a post shows up minutes after posts newer than it,
as Bluesky's search does) is walked with a *lag*: each poll reads down to that far
below the edge, and the edge remembers the ids of every post in that window, so a
late post is read once and an early one is not read twice.

A platform whose paging goes round in circles (a page token that comes back, a page
that brings nothing the walk has not read already) ends the walk there: the edge
moves up to what was read and `Walked.stuck` says so, for the source to warn about
(`warn_stuck`), instead of sweeping the same page forever.

On the very first poll (no edge yet) only the newest page is read: Earful follows
the platform from now on instead of importing its whole history. A first poll that
finds nothing sets the edge at the epoch: everything that appears later is new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from listener.base import FetchResult, SourceDown
from listener.http_errors import Refused
from listener.mention import Mention

log = logging.getLogger("earful.paging")

# Ids kept at the edge (those within the lag below it). A busier window than this
# costs only work: an id dropped is read again and the store drops the duplicate.
_MAX_SEEN = 2_000
# A post dated further ahead than this is a platform's (or a poster's) clock gone
# wrong: it is stored, but the edge never moves to it, or every later post would be
# "older than the edge" and never fetched again.
FUTURE_SLACK = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Stamped:
    """One post on a page: its id, its time in epoch seconds (None when the platform
    gave none) and the payload to turn into a Mention."""

    key: str
    at: float | None
    item: Any


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Stamped]
    next: str | int | None  # the token for the next, older page; None at the end


def listing(body: Mapping[str, Any], key: str, what: str) -> list[Mapping[str, Any]]:
    """A page's items, the objects of the list under `key`. An answer without the
    list is broken (a proxy's `{}`), not an empty page: read as one, it would end the
    walk and move the edge past the posts not yet read."""
    items = body.get(key)
    if not isinstance(items, list):
        raise SourceDown(f"{what}: the answer has no {key!r} list")
    return [item for item in items if isinstance(item, Mapping)]


@dataclass(frozen=True, slots=True)
class Sweep:
    """A walk down a backlog that one poll did not finish."""

    next: str | int
    top: float | None = None  # the newest time met in this sweep
    top_seen: frozenset[str] = frozenset()  # ids from `top` down to the lag below it


@dataclass(frozen=True, slots=True)
class Edge:
    at: float | None = None  # None: never polled
    seen: frozenset[str] = field(default_factory=frozenset)  # ids from `at` down to `floor`
    sweep: Sweep | None = None
    # how far below the edge a late-indexed post may still appear: the source's
    # setting, not saved in the cursor
    lag: float = 0.0
    # the oldest post the first poll read: the lag never reaches below it, or the
    # second poll would import the history the first one left alone
    start: float | None = None

    @property
    def floor(self) -> float | None:
        """The oldest time a walk reads down to."""
        if self.at is None:
            return None
        return max(0.0, self.at - self.lag, self.start or 0.0)

    @classmethod
    def from_cursor(cls, cursor: Any) -> Edge:
        """The edge a cursor holds; anything this module did not write is a fresh start."""
        if cursor is None:
            return cls()
        try:
            return cls._parse(cursor)
        except (TypeError, ValueError, AttributeError):
            log.warning("ignoring a paging cursor this version did not write: %r", cursor)
            return cls()

    @classmethod
    def _parse(cls, cursor: Mapping[str, Any]) -> Edge:
        sweep = None
        raw = cursor.get("sweep")
        if raw is not None:
            token = raw["next"]
            if not isinstance(token, str | int) or isinstance(token, bool):
                raise TypeError("sweep token")
            sweep = Sweep(token, _time(raw.get("top")), _ids(raw.get("top_seen", [])))
        at, start = _time(cursor.get("at")), _time(cursor.get("from"))
        return cls(at, _ids(cursor.get("seen", [])), sweep, start=start)

    def as_cursor(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {"at": self.at, "seen": sorted(self.seen)}
        if self.start is not None:
            cursor["from"] = self.start
        if self.sweep is not None:
            cursor["sweep"] = {
                "next": self.sweep.next,
                "top": self.sweep.top,
                "top_seen": sorted(self.sweep.top_seen),
            }
        return cursor

    def is_old(self, item: Stamped) -> bool:
        """Stored already by an earlier poll: below the floor, or above it and seen."""
        if self.floor is None or item.at is None:
            return False
        return item.at < self.floor or item.key in self.seen

    def is_past(self, item: Stamped) -> bool:
        """At or below the floor and read already: the walk has gone far enough."""
        floor = self.floor
        return floor is not None and item.at is not None and item.at <= floor and self.is_old(item)


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("time")
    return float(value)


def _ids(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("ids")
    return frozenset(value)


@dataclass(frozen=True, slots=True)
class Walked:
    items: tuple[Any, ...]  # new posts, newest first
    edge: Edge
    more: bool  # a sweep is under way: poll again at once
    stuck: bool = False  # the platform's paging repeated itself; the walk stopped there


# Fetches one page: the token (None for the top) and the edge being walked to.
PageFetcher = Callable[[str | int | None, Edge], Awaitable[Page]]


async def walk(edge: Edge, fetch_page: PageFetcher, *, max_pages: int, lag: float = 0.0) -> Walked:
    """Page down from the top (or from where an unfinished sweep stopped) to the edge,
    or `lag` seconds below it, at most `max_pages` pages this time."""
    horizon = time.time() + FUTURE_SLACK
    edge = replace(edge, lag=lag)
    if _beyond(edge, horizon):
        log.warning(
            "a saved paging position is in the future (%s); following from the newest posts again",
            edge.at,
        )
        edge = Edge(lag=lag)
    found: list[Any] = []
    keys: set[str] = set()
    sweep = edge.sweep
    token = sweep.next if sweep else None
    carried_top, carried = (sweep.top, sweep.top_seen) if sweep else (None, frozenset[str]())
    top = carried_top
    times: dict[str, float] = {}  # this walk's posts: their times, for the window
    first = edge.at is None and sweep is None  # the first poll: the newest page only
    budget = 1 if first else max(1, max_pages)
    asked: set[str | int] = set()  # the page tokens this walk has used
    for _ in range(budget):
        # past the top page the fetcher sees the sweep under way, so that its bound
        # (the newest time met) holds from the first older page on
        walking = edge if token is None else replace(edge, sweep=Sweep(token, top))
        if token is not None:
            asked.add(token)
        try:
            page = await fetch_page(token, walking)
        except Refused as exc:
            if sweep is None or token != sweep.next:
                raise
            # a saved page token the platform no longer takes (API cursors expire):
            # walk again from the top down to the same edge; nothing is skipped
            log.warning("a saved page cursor was refused (%s); paging again from the top", exc)
            return await walk(replace(edge, sweep=None), fetch_page, max_pages=max_pages, lag=lag)
        reached = fresh = False
        for stamped in page.items:
            if stamped.key in keys:
                continue  # on an earlier page of this walk
            fresh = True  # a page of posts read by earlier polls (in the lag) is progress
            keys.add(stamped.key)
            if edge.is_old(stamped):
                reached = reached or edge.is_past(stamped)
                continue
            found.append(stamped.item)
            if stamped.at is not None and stamped.at <= horizon:
                times[stamped.key] = stamped.at
                top = stamped.at if top is None else max(top, stamped.at)
        window = _window(top, times, carried_top, carried, lag)
        # a first poll's edge starts at what it read: the lag never reaches below it
        moved = _moved(edge, top, window, min(times.values(), default=None) if first else None)
        if first or reached or page.next is None or not page.items:
            return Walked(tuple(found), moved, False)
        if not fresh or page.next in asked:
            # the same page again, or a token already followed: going on would read it
            # forever; what was read is kept and the edge moves up to it
            return Walked(tuple(found), moved, False, stuck=True)
        token = page.next
    # every page fetched had a next one (the loop returns otherwise), so there is a token
    assert token is not None
    return Walked(tuple(found), replace(edge, sweep=Sweep(token, top, window)), True)


def warn_stuck(
    logger: logging.Logger, source: str, listing: str, warned: set[str] | None = None
) -> None:
    """Say that `listing`'s paging went round in circles and what Earful did about it:
    a warning the first time for each listing in `warned` (the source's own set),
    debug after that, so a platform broken for good does not fill the log."""
    level = logging.DEBUG if warned is not None and listing in warned else logging.WARNING
    if warned is not None:
        warned.add(listing)
    logger.log(
        level,
        "%s: the platform's paging for %s repeats itself (a page cursor handed back again, "
        "or a page with nothing new); Earful stops paging there for this poll, keeps what "
        "it read and moves the cursor up to the newest post read; posts the platform will not "
        "page to are not fetched",
        source,
        listing,
    )


def _beyond(edge: Edge, horizon: float) -> bool:
    """The edge (or its sweep) stands in the future: written before the check above."""
    times = (edge.at, edge.sweep.top if edge.sweep else None)
    return any(t is not None and t > horizon for t in times)


def _window(
    top: float | None,
    times: Mapping[str, float],
    carried_top: float | None,
    carried: frozenset[str],
    lag: float,
) -> frozenset[str]:
    """The ids read from `top` down to `lag` below it: this walk's, and those an
    unfinished sweep carried (all within `lag` of `carried_top`)."""
    if top is None:
        return frozenset()
    ids = {key for key, at in times.items() if at >= top - lag}
    if carried_top is not None and carried_top >= top - lag:
        ids |= carried
    return _bounded(frozenset(ids))


def _moved(
    edge: Edge, top: float | None, window: frozenset[str], oldest: float | None = None
) -> Edge:
    """The edge after a finished sweep whose newest post was at `top`, `window` the
    ids read from `top` down to the lag below it; `oldest`, on a first poll, the
    oldest post it read."""
    if top is None:
        # nothing dated read: a first poll that found nothing starts at the epoch
        return replace(edge, at=0.0 if edge.at is None else edge.at, sweep=None)
    at = top if edge.at is None else max(edge.at, top)
    seen = frozenset[str]()
    if edge.at is not None and edge.at >= at - edge.lag:
        seen |= edge.seen  # the old window reaches into the new one
    if top >= at - edge.lag:
        seen |= window
    start = oldest if edge.at is None else edge.start
    if start is not None and start <= at - edge.lag:
        start = None  # the lag no longer reaches it
    return Edge(at, _bounded(seen), lag=edge.lag, start=start)


def _bounded(ids: frozenset[str]) -> frozenset[str]:
    return ids if len(ids) <= _MAX_SEEN else frozenset(sorted(ids)[-_MAX_SEEN:])


# -- several queries, one cursor ---------------------------------------------------------


def search_terms(
    query: str | Sequence[str] | None, keywords: Sequence[str], name: str
) -> list[str]:
    """The searches to run: the configured query or queries, else one per brand keyword
    (else the brand name), blank ones dropped and each once."""
    wanted = [query] if isinstance(query, str) else list(query or keywords or [name])
    return list(dict.fromkeys(q.strip() for q in wanted if q.strip()))


QueryPageFetcher = Callable[[str, str | int | None, Edge], Awaitable[Page]]


async def walk_queries(
    cursor: Any,
    queries: Sequence[str],
    fetch_page: QueryPageFetcher,
    normalize: Callable[[Any], Mention],
    *,
    max_pages: int,
    source: str,
    logger: logging.Logger,
    warned: set[str] | None = None,
    lag: float = 0.0,
) -> FetchResult:
    """Walk each query to its own edge and normalize what was found. The cursor is
    `{"queries": {query: edge}}`; a query dropped from the config drops out of it, a
    new one starts fresh. A query whose paging goes round in circles is warned about
    (once per query in `warned`, the source's own set)."""
    stored = cursor.get("queries") if isinstance(cursor, Mapping) else None
    stored = stored if isinstance(stored, Mapping) else {}
    items: list[Any] = []
    edges: dict[str, Any] = {}
    more = False
    for query in queries:

        async def page(token: str | int | None, edge: Edge, query: str = query) -> Page:
            return await fetch_page(query, token, edge)

        walked = await walk(Edge.from_cursor(stored.get(query)), page, max_pages=max_pages, lag=lag)
        if walked.stuck:
            warn_stuck(logger, source, f"query {query!r}", warned)
        items.extend(walked.items)
        edges[query] = walked.edge.as_cursor()
        more = more or walked.more
    mentions = normalized(items, normalize, source, logger)
    return FetchResult(tuple(mentions), {"queries": edges}, more=more)


def normalized(
    items: Sequence[Any], normalize: Callable[[Any], Mention], source: str, logger: logging.Logger
) -> list[Mention]:
    """Each item as a Mention; one that cannot be one is logged and skipped, never
    allowed to stop the rest."""
    mentions = []
    for item in items:
        try:
            mentions.append(normalize(item))
        except ValueError as exc:
            logger.warning("%s: skipped a post: %s", source, exc)
    return mentions
