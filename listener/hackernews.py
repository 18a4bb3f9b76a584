"""Hacker News items as Mentions, from the Algolia search API's hits.

A hit is a story or a comment, told apart by its `_tags` ("story", "comment", ...).
Story and comment bodies (story_text, comment_text) are HTML; titles are plain.
Comments name their story (story_id, story_title) and the item they answer
(parent_id), as integers.

The source (type = "hackernews") searches the Algolia API's search_by_date, newest
first, once per query (default: one per brand keyword), for stories and comments.
Each query pages down to its edge (listener/paging.py): the newest created_at_i
stored plus the objectIDs read within INDEX_LAG below it, asked for with
numericFilters=created_at_i>=edge-INDEX_LAG (Algolia indexes an item a little
after it is made, sometimes after items newer than it). Every page after the first
of a walk, and every page of a backlog swept on by later polls, carries a fixed
upper bound as well
(created_at_i<=the newest second on the walk's first page), so pages do not shift as
new posts arrive; those are read by the next walk from the top. Hacker News is
read-only: complaints found here become callback tasks, never replies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from listener.base import Cursor, FetchResult, SourceContext, SourceSettings
from listener.http_errors import HttpFactory, get_json, shared_http
from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    as_id,
    as_list,
    as_str,
    html_to_text,
    join_text,
    require_id,
    require_mapping,
)
from listener.paging import Edge, Page, Stamped, listing, search_terms, walk_queries

WEB = "https://news.ycombinator.com"


def mention_from_hit(hit: Mapping[str, Any]) -> Mention:
    """An HN Algolia search hit as a Mention."""
    hit = require_mapping(hit, "hacker news hit")
    item_id = require_id(hit.get("objectID"), "hacker news hit")
    handle = as_str(hit.get("author"))

    if _is_comment(hit):
        text = _plain(hit.get("comment_text"))
        conversation_id = as_id(hit.get("story_id"))
        in_reply_to = as_id(hit.get("parent_id"))
        context = as_str(hit.get("story_title"))
    else:
        text = join_text(as_str(hit.get("title")), _plain(hit.get("story_text")))
        conversation_id = item_id
        in_reply_to = None
        context = None

    return Mention(
        platform="hackernews",
        native_id=item_id,
        text=text,
        author=Author(
            handle=handle,
            native_id=handle,  # HN accounts have no id besides their name
            url=f"{WEB}/user?id={handle}" if handle else None,
        ),
        url=f"{WEB}/item?id={item_id}",
        created_at=parse_time(hit.get("created_at_i")) or parse_time(hit.get("created_at")),
        lang=None,
        likes=as_int(hit.get("points")),
        reposts=None,
        replies=as_int(hit.get("num_comments")),
        conversation_id=conversation_id,
        in_reply_to=in_reply_to,
        context=context,
        raw=hit,
    )


def _is_comment(hit: Mapping[str, Any]) -> bool:
    tags = {t for t in as_list(hit.get("_tags")) if isinstance(t, str)}
    if "comment" in tags or "story" in tags:
        return "comment" in tags
    return isinstance(hit.get("comment_text"), str)


def _plain(html: Any) -> str:
    return html_to_text(html) if isinstance(html, str) else ""


# -- the source -----------------------------------------------------------------------

# How far below the newest item stored each poll reads again, for items indexed late.
INDEX_LAG = 300.0

log = logging.getLogger("earful.hackernews")

DEFAULT_BASE_URL = "https://hn.algolia.com"


class Settings(SourceSettings):
    base_url_example: ClassVar[str] = DEFAULT_BASE_URL
    api_paths: ClassVar[tuple[str, ...]] = ("/api/v1",)
    type: Literal["hackernews"]
    # one query or several (each searched on its own); default the brand keywords
    query: str | list[str] | None = None
    tags: tuple[Literal["story", "comment"], ...] = Field(
        default=("story", "comment"), min_length=1
    )
    page_size: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=5, ge=1, le=50)


def build(settings: Settings, ctx: SourceContext) -> HackerNewsSource:
    return HackerNewsSource(
        settings,
        shared_http(ctx.http, f"hacker news source {settings.name!r}"),
        search_terms(settings.query, ctx.brand.keywords, ctx.brand.name),
    )


def tags_filter(tags: Sequence[str]) -> str:
    """Algolia's tag filter: one tag as it is, several OR-ed in parentheses."""
    unique = list(dict.fromkeys(tags))
    return unique[0] if len(unique) == 1 else "(" + ",".join(unique) + ")"


def _stamp(hit: Mapping[str, Any]) -> Stamped:
    at = hit.get("created_at_i")
    moment = parse_time(at if isinstance(at, int) else hit.get("created_at"))
    return Stamped(as_id(hit.get("objectID")) or "", moment.timestamp() if moment else None, hit)


class HackerNewsSource:
    def __init__(
        self,
        settings: Settings,
        http: HttpFactory,
        searches: Sequence[str],
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self._http = http
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.searches = list(searches)
        self._stuck_warned: set[str] = set()  # queries whose paging looped, warned once

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        return await walk_queries(
            cursor,
            self.searches,
            self._page,
            mention_from_hit,
            max_pages=self.settings.max_pages,
            source=self.name,
            logger=log,
            warned=self._stuck_warned,
            lag=INDEX_LAG,
        )

    async def aclose(self) -> None:
        return None  # the HTTP session is the daemon's

    async def _page(self, query: str, token: str | int | None, edge: Edge) -> Page:
        size = self.settings.page_size
        page = _page_number(token, size)
        numeric = []
        if edge.floor is not None:
            numeric.append(f"created_at_i>={int(edge.floor)}")
        if edge.sweep is not None and edge.sweep.top is not None:
            # past the walk's first page: the newest second it met holds the pages still
            numeric.append(f"created_at_i<={int(edge.sweep.top)}")
        params = {
            "query": query,
            "tags": tags_filter(self.settings.tags),
            "hitsPerPage": str(size),
            "page": str(page),
            # Algolia forgives typos and reads the last word as a prefix: "acme"
            # would find "acne" and "acmeville". A brand is named by its words.
            "typoTolerance": "false",
            "queryType": "prefixNone",
        }
        if numeric:
            params["numericFilters"] = ",".join(numeric)
        body = await get_json(
            await self._http(),
            f"{self.base_url}/api/v1/search_by_date",
            what="hacker news search_by_date",
            credentials=False,  # the public API: a 401/403 is a block, not a login to fix
            params=params,
        )
        hits = listing(body, "hits", "hacker news search_by_date")
        pages = as_int(body.get("nbPages"))
        more_pages = pages is not None and page + 1 < pages
        following = f"{_READ}{(page + 1) * size}" if more_pages else None
        return Page([_stamp(h) for h in hits], following)


# A sweep's saved position is the number of hits above the next page, not a page
# number: page_size may change between polls (a restart with a new config), and
# page N of the new size would skip or re-read hits. Reading from the page that holds
# that hit re-reads at most a page, which the store drops as known.
_READ = "hits:"


def _page_number(token: str | int | None, size: int) -> int:
    """The page to ask for: 0 at the top; a bare number is a page number saved by an
    earlier version, of the same size as far as it knows."""
    if isinstance(token, int):
        return token
    if token is not None and token.startswith(_READ) and token[len(_READ) :].isdigit():
        return int(token[len(_READ) :]) // size
    return 0
