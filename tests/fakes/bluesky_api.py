"""A fake Bluesky PDS (with the AppView calls it proxies) on 127.0.0.1.

It speaks XRPC as the lexicons define it: com.atproto.server.createSession /
refreshSession, app.bsky.feed.searchPosts, app.bsky.notification.listNotifications,
app.bsky.feed.getPosts, app.bsky.feed.getAuthorFeed, com.atproto.identity.resolveHandle
and com.atproto.repo.createRecord, with XRPC's error bodies
({"error": "ExpiredToken", "message": ...}). Posts are app.bsky.feed.defs#postView
objects; a test adds them and then watches what the client asked for.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from fakes.server import FakeServer, json_error

DID = "did:plc:brand7x2kq4m3zv5yq6w"
HANDLE = "acme.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sort_at(item: dict[str, Any]) -> str:
    """What the AppView sorts posts and notifications by: the earlier of when the
    record says it was written and when it was indexed."""
    return str(min(item["record"]["createdAt"], item["indexedAt"]))


def author(n: int, handle: str | None = None) -> dict[str, Any]:
    return {
        "did": f"did:plc:user{n:04d}abcdefghijkl",
        "handle": handle or f"user{n}.bsky.social",
        "displayName": f"User {n}",
        "avatar": f"https://cdn.bsky.app/img/avatar/plain/did:plc:user{n:04d}/bafk@jpeg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "viewer": {"muted": False, "blockedBy": False},
        "labels": [],
        "createdAt": "2024-02-01T10:00:00.000Z",
    }


_LINK = re.compile(r"https?://\S+")


def as_the_app_writes(typed: str) -> tuple[str, list[dict[str, Any]]]:
    """A post's text as Bluesky's app writes it, with the link facets beside it: each
    link shown without its scheme and, past 30 characters, cut to 27 and "...", the
    address in a facet over those bytes."""
    facets: list[dict[str, Any]] = []
    out, at = "", 0
    for match in _LINK.finditer(typed):
        uri = match.group(0)
        shown = uri.split("://", 1)[1]
        shown = shown[:27] + "..." if len(shown) > 30 else shown
        out += typed[at : match.start()]
        start = len(out.encode())
        out += shown
        at = match.end()
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": len(out.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    return out + typed[at:], facets


def post_view(
    n: int,
    text: str,
    *,
    at: datetime | None = None,
    by: dict[str, Any] | None = None,
    reply_to: dict[str, Any] | None = None,
    gated: bool = False,
) -> dict[str, Any]:
    """A postView for post number n, indexed `at` (default: n seconds after BASE_TIME).
    `gated`: its thread's root has a thread gate that leaves the signed-in account
    out, which the AppView says as viewer.replyDisabled (and, on a root, with the
    gate itself)."""
    moment = at or BASE_TIME + timedelta(seconds=n)
    who = by or author(n)
    text, facets = as_the_app_writes(text)
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": stamp(moment - timedelta(milliseconds=250)),
        "langs": ["en"],
        "text": text,
    }
    if facets:
        record["facets"] = facets
    if reply_to is not None:
        root = reply_to["record"].get("reply", {}).get("root") or {
            "uri": reply_to["uri"],
            "cid": reply_to["cid"],
        }
        record["reply"] = {
            "parent": {"cid": reply_to["cid"], "uri": reply_to["uri"]},
            "root": root,
        }
    view: dict[str, Any] = {
        "uri": f"at://{who['did']}/app.bsky.feed.post/3lpost{n:06d}",
        "cid": f"bafyreipost{n:06d}cid",
        "author": who,
        "record": record,
        "replyCount": 0,
        "repostCount": n % 3,
        "likeCount": n % 7,
        "quoteCount": 0,
        "indexedAt": stamp(moment),
        "viewer": {"threadMuted": False, "embeddingDisabled": False},
        "labels": [],
    }
    if gated:
        view["viewer"]["replyDisabled"] = True
        if reply_to is None:
            view["threadgate"] = {
                "uri": f"at://{who['did']}/app.bsky.feed.threadgate/3lpost{n:06d}",
                "cid": f"bafyreigate{n:06d}cid",
                "record": {
                    "$type": "app.bsky.feed.threadgate",
                    "post": view["uri"],
                    "allow": [{"$type": "app.bsky.feed.threadgate#followingRule"}],
                    "createdAt": record["createdAt"],
                },
                "lists": [],
            }
    return view


def notification(view: dict[str, Any], reason: str = "mention") -> dict[str, Any]:
    """The notification a post makes in the brand account's list."""
    return {
        "uri": view["uri"] if reason in ("mention", "reply", "quote") else view["uri"] + "/like",
        "cid": view["cid"],
        "author": view["author"],
        "reason": reason,
        "record": view["record"],
        "isRead": False,
        "indexedAt": view["indexedAt"],
        "labels": [],
    }


class FakeBluesky(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.password = PASSWORD
        self.posts: list[dict[str, Any]] = []  # every post the AppView knows
        self.notifications: list[dict[str, Any]] = []
        self.handles: dict[str, str] = {HANDLE: DID}
        self.created: list[dict[str, Any]] = []  # createRecord inputs, in order
        self.valid_access: set[str] = set()
        self.valid_refresh: set[str] = set()
        self.sessions_created = 0
        # a broken AppView: every listing page answered as the first one, with this
        # same cursor for the "next" page, for ever
        self.stuck_cursor: str | None = None
        # False: as Bluesky's own AppView since January 2025, searchPosts without a
        # session is refused with 403 AuthMissing (another AppView may allow it)
        self.anonymous_search = True
        self._tokens = itertools.count(1)
        self._rkeys = itertools.count(1)
        for name, handler in {
            "com.atproto.server.createSession": self.create_session,
            "com.atproto.server.refreshSession": self.refresh_session,
            "app.bsky.feed.searchPosts": self.search_posts,
            "app.bsky.notification.listNotifications": self.list_notifications,
            "app.bsky.feed.getPosts": self.get_posts,
            "app.bsky.feed.getAuthorFeed": self.get_author_feed,
            "com.atproto.identity.resolveHandle": self.resolve_handle,
            "com.atproto.repo.createRecord": self.create_record,
        }.items():
            procedure = name.rsplit(".", 1)[-1].startswith(("create", "refresh"))
            method = "POST" if procedure else "GET"
            self.app.router.add_route(method, f"/xrpc/{name}", handler)

    # -- test controls --------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        """Every access token given out so far is now expired."""
        self.valid_access.clear()

    def expire_all_tokens(self) -> None:
        self.valid_access.clear()
        self.valid_refresh.clear()

    def add(self, *views: dict[str, Any]) -> None:
        self.posts.extend(views)

    # -- auth -----------------------------------------------------------------------

    def _tokens_for_session(self) -> dict[str, Any]:
        n = next(self._tokens)
        access, refresh = f"access-jwt-{n}", f"refresh-jwt-{n}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": HANDLE,
            "did": DID,
            "email": "support@acme.example",
            "emailConfirmed": True,
            "active": True,
        }

    def _bearer(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None

    def _check_access(self, request: web.Request, *, required: bool = True) -> web.Response | None:
        token = self._bearer(request)
        if token is None:
            if required:
                return json_error(401, "AuthenticationRequired", "Authentication Required")
            return None
        if token not in self.valid_access:
            return json_error(400, "ExpiredToken", "Token has expired")
        return None

    async def create_session(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("identifier") not in (HANDLE, DID) or body.get("password") != self.password:
            return json_error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return web.json_response(self._tokens_for_session())

    async def refresh_session(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if token not in self.valid_refresh:
            return json_error(400, "ExpiredToken", "Token has been revoked")
        self.valid_refresh.discard(token)
        return web.json_response(self._tokens_for_session())

    # -- reading --------------------------------------------------------------------

    def _page(
        self, items: list[Any], request: web.Request, default: int = 25
    ) -> tuple[list[Any], str | None]:
        limit = int(request.query.get("limit", default))
        if self.stuck_cursor is not None:
            return items[:limit], self.stuck_cursor
        offset = int(request.query.get("cursor", 0))
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return page, str(offset + limit) if more else None

    async def search_posts(self, request: web.Request) -> web.Response:
        if not self.anonymous_search and self._bearer(request) is None:
            return json_error(403, "AuthMissing", "Authentication Required")
        denied = self._check_access(request, required=False)
        if denied is not None:
            return denied
        query = request.query.get("q", "").casefold()
        since = request.query.get("since")
        # as the AppView: `since` and sort=latest go by sortAt, the earlier of
        # createdAt and indexedAt (same format here, so the strings compare)
        hits = [
            p
            for p in self.posts
            if query in p["record"]["text"].casefold() and (since is None or sort_at(p) >= since)
        ]
        hits.sort(key=sort_at, reverse=True)
        page, cursor = self._page(hits, request)
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(hits)}
        if cursor:
            body["cursor"] = cursor
        return web.json_response(body)

    async def list_notifications(self, request: web.Request) -> web.Response:
        denied = self._check_access(request)
        if denied is not None:
            return denied
        reasons = request.query.getall("reasons", [])
        items = [n for n in self.notifications if not reasons or n["reason"] in reasons]
        items.sort(key=sort_at, reverse=True)
        page, cursor = self._page(items, request, 50)
        body: dict[str, Any] = {
            "notifications": page,
            "priority": False,
            "seenAt": stamp(BASE_TIME),
        }
        if cursor:
            body["cursor"] = cursor
        return web.json_response(body)

    async def get_posts(self, request: web.Request) -> web.Response:
        denied = self._check_access(request)
        if denied is not None:
            return denied
        uris = request.query.getall("uris", [])
        if len(uris) > 25:
            return json_error(
                400, "InvalidRequest", "Error: uris must not have more than 25 elements"
            )
        by_uri = {p["uri"]: p for p in self.posts}
        return web.json_response({"posts": [by_uri[u] for u in uris if u in by_uri]})

    async def get_author_feed(self, request: web.Request) -> web.Response:
        denied = self._check_access(request)
        if denied is not None:
            return denied
        actor = request.query.get("actor")
        own = [p for p in self.posts if p["author"]["did"] == actor]
        own.sort(key=lambda p: p["indexedAt"], reverse=True)
        page, cursor = self._page(own, request, 50)
        body: dict[str, Any] = {"feed": [{"post": p} for p in page]}
        if cursor:
            body["cursor"] = cursor
        return web.json_response(body)

    async def resolve_handle(self, request: web.Request) -> web.Response:
        did = self.handles.get(request.query.get("handle", ""))
        if did is None:
            return json_error(400, "InvalidRequest", "Unable to resolve handle")
        return web.json_response({"did": did})

    # -- writing --------------------------------------------------------------------

    async def create_record(self, request: web.Request) -> web.Response:
        denied = self._check_access(request)
        if denied is not None:
            return denied
        body = await request.json()
        if body.get("repo") != DID:
            return json_error(401, "AuthRequiredError", "Input/repo must match the session")
        record = body.get("record", {})
        if not isinstance(record.get("text"), str) or len(record["text"].encode()) > 3000:
            return json_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record")
        self.created.append(body)
        n = next(self._rkeys)
        uri = f"at://{DID}/app.bsky.feed.post/3lreply{n:05d}"
        cid = f"bafyreireply{n:05d}"
        own = {"did": DID, "handle": HANDLE, "displayName": "Acme Support", "labels": []}
        self.posts.append(
            {
                "uri": uri,
                "cid": cid,
                "author": own,
                "record": record,
                "replyCount": 0,
                "repostCount": 0,
                "likeCount": 0,
                "quoteCount": 0,
                "indexedAt": stamp(BASE_TIME + timedelta(hours=1, seconds=n)),
                "labels": [],
            }
        )
        return web.json_response(
            {
                "uri": uri,
                "cid": cid,
                "commit": {"cid": f"bafyreicommit{n:05d}", "rev": f"3lrev{n:05d}"},
                "validationStatus": "valid",
            }
        )
