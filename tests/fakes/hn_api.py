"""A fake HN Search API (hn.algolia.com) on 127.0.0.1: GET /api/v1/search_by_date
with query, tags (one tag, or several OR-ed in parentheses), numericFilters on
created_at_i, page and hitsPerPage, matching words as Algolia does by default (the
last as a prefix, typos forgiven) unless asked not to, and answering in Algolia's
shape: hits (stories and comments as the API sends them, with _tags and
_highlightResult), nbHits, page, nbPages, hitsPerPage, processingTimeMS, query and
params."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from fakes.server import FakeServer

# 2026-11-20T09:00:00Z
BASE_TIME = 1_795_165_200
_NUMERIC = re.compile(r"^(created_at_i)(>=|<=|>|<|=)(\d+)$")
_OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def story(n: int, title: str, *, at: int | None = None, text: str | None = None) -> dict[str, Any]:
    created = at if at is not None else BASE_TIME + n
    return {
        "_highlightResult": {
            "author": {"matchLevel": "none", "matchedWords": [], "value": f"user{n}"},
            "title": {"matchLevel": "full", "matchedWords": ["acme"], "value": title},
        },
        "_tags": ["story", f"author_user{n}", f"story_{40000000 + n}"],
        "author": f"user{n}",
        "children": [],
        "created_at": _iso(created),
        "created_at_i": created,
        "num_comments": n % 5,
        "objectID": str(40000000 + n),
        "points": n % 11 + 1,
        "story_id": 40000000 + n,
        "story_text": text,
        "title": title,
        "updated_at": _iso(created + 60),
        "url": f"https://blog.example/{n}",
    }


def comment(
    n: int, html: str, *, at: int | None = None, story_id: int = 40000001
) -> dict[str, Any]:
    created = at if at is not None else BASE_TIME + n
    return {
        "_highlightResult": {
            "author": {"matchLevel": "none", "matchedWords": [], "value": f"user{n}"},
            "comment_text": {"matchLevel": "full", "matchedWords": ["acme"], "value": html},
        },
        "_tags": ["comment", f"author_user{n}", f"story_{story_id}"],
        "author": f"user{n}",
        "comment_text": html,
        "created_at": _iso(created),
        "created_at_i": created,
        "objectID": str(41000000 + n),
        "parent_id": story_id,
        "story_id": story_id,
        "story_title": "Acme raises prices again",
        "story_url": "https://news.example/acme-prices",
        "updated_at": _iso(created + 60),
    }


def _text(hit: dict[str, Any]) -> str:
    parts = [hit.get("title"), hit.get("story_text"), hit.get("comment_text")]
    return " ".join(p for p in parts if isinstance(p, str)).casefold()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _typos(a: str, b: str) -> int:
    """Levenshtein distance: the typos Algolia forgives between a query word and a
    word of the text."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        last, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            last, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, last + (x != y))
    return row[-1]


def matches(query: str, text: str, *, typos: bool = True, prefix: bool = True) -> bool:
    """Algolia's defaults: every query word is in the text, the last one as a prefix
    too (queryType=prefixLast), with one typo forgiven from 4 letters and two from 8
    (typoTolerance); typoTolerance=false and queryType=prefixNone turn those off."""
    wanted, found = _words(query), set(_words(text))
    for place, word in enumerate(wanted):
        last = place == len(wanted) - 1
        allowed = (len(word) >= 8) + (len(word) >= 4) if typos else 0
        if not any(
            w == word
            or (prefix and last and w.startswith(word))
            or (allowed and _typos(word, w) <= allowed)
            for w in found
        ):
            return False
    return True


class FakeHackerNews(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.hits: list[dict[str, Any]] = []
        # called with each search request before it is answered: posts that arrive
        # while a client is paging
        self.before_search: Callable[[web.Request], None] | None = None
        self.app.router.add_get("/api/v1/search_by_date", self.search_by_date)

    def add(self, *hits: dict[str, Any]) -> None:
        self.hits.extend(hits)

    async def search_by_date(self, request: web.Request) -> web.Response:
        if self.before_search is not None:
            self.before_search(request)
        query = request.query.get("query", "")
        typos = request.query.get("typoTolerance", "true") != "false"
        prefix = request.query.get("queryType", "prefixLast") != "prefixNone"
        tags = request.query.get("tags", "").strip("()")
        wanted = {t for t in tags.split(",") if t}
        filters = [f for f in request.query.get("numericFilters", "").split(",") if f]
        hits = [h for h in self.hits if matches(query, _text(h), typos=typos, prefix=prefix)]
        if wanted:
            hits = [h for h in hits if wanted & set(h["_tags"])]
        for expression in filters:
            match = _NUMERIC.match(expression)
            if match is None:
                return web.json_response(
                    {"message": f"invalid numericFilters: {expression}", "status": 400}, status=400
                )
            compare, bound = _OPS[match.group(2)], int(match.group(3))
            hits = [h for h in hits if compare(h["created_at_i"], bound)]
        hits.sort(key=lambda h: h["created_at_i"], reverse=True)
        per_page = int(request.query.get("hitsPerPage", 20))
        page = int(request.query.get("page", 0))
        pages = (len(hits) + per_page - 1) // per_page
        return web.json_response(
            {
                "exhaustive": {"nbHits": True, "typo": True},
                "exhaustiveNbHits": True,
                "exhaustiveTypo": True,
                "hits": hits[page * per_page : (page + 1) * per_page],
                "hitsPerPage": per_page,
                "nbHits": len(hits),
                "nbPages": pages,
                "page": page,
                "params": urlencode(list(request.query.items())),
                "processingTimeMS": 1,
                "query": request.query.get("query", ""),
                "serverTimeMS": 2,
            }
        )
