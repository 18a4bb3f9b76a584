"""Bluesky posts as Mentions.

The AppView's searchPosts and getPosts return app.bsky.feed.defs#postView objects:
the post's at:// uri and cid, a profile of its author, the record the author wrote
(text, createdAt, langs, and for a reply the root and parent it answers) and the
counts. A feed (getTimeline, getAuthorFeed) wraps each in `{"post": postView, ...}`.

The source (type = "bluesky") has two modes:

    search    app.bsky.feed.searchPosts, sort=latest, one search per query (default:
              the brand's keywords), `since` INDEX_LAG below the newest post stored
    mentions  app.bsky.notification.listNotifications for the signed-in account,
              kept to the reasons asked for (default "mention"), each post then
              hydrated with app.bsky.feed.getPosts (likes, reposts, quoted posts)

Both page newest-first down to the edge the cursor remembers (listener/paging.py):
`{"queries": {query: edge}}` for search, `{"mentions": edge}` for mentions, an edge
being the newest sortAt stored (the earlier of createdAt and indexedAt: what Bluesky
sorts by and what `since` filters on) plus the uris read within INDEX_LAG below it.
The lag is there because a post is often indexed after posts newer than it (and a
slow phone clock dates it minutes back): each poll reads that far below the edge.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from listener.base import Cursor, FetchResult, SourceContext, SourceSettings
from listener.bluesky_xrpc import DEFAULT_BASE_URL, XrpcClient
from listener.http_errors import Refused, shared_http
from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    MalformedPost,
    as_list,
    as_mapping,
    as_str,
    get_path,
    http_url,
    require_mapping,
    shortens,
)
from listener.paging import (
    Edge,
    Page,
    Stamped,
    listing,
    normalized,
    search_terms,
    walk,
    walk_queries,
    warn_stuck,
)

WEB = "https://bsky.app"
# What the AppView says for an account whose handle no longer resolves.
_INVALID_HANDLE = "handle.invalid"


def mention_from_post(post: Mapping[str, Any]) -> Mention:
    """A postView (or a feed item around one) as a Mention whose native id is the
    post's at:// uri."""
    view = require_mapping(post, "bluesky post")
    if "uri" not in view and as_mapping(view.get("post")) is not None:
        view = require_mapping(view.get("post"), "bluesky post")
    uri = as_str(view.get("uri"))
    if uri is None or not uri.startswith("at://"):
        raise MalformedPost(f"bluesky post has no usable at:// uri (got {uri!r})")
    author = as_mapping(view.get("author")) or {}
    record = as_mapping(view.get("record")) or {}
    text = record.get("text")
    langs = [lang for lang in as_list(record.get("langs")) if isinstance(lang, str) and lang]
    root = as_str(get_path(record, "reply", "root", "uri"))

    return Mention(
        platform="bluesky",
        native_id=uri,
        text=_linked(text, record.get("facets")) if isinstance(text, str) else "",
        author=_author(author),
        url=_post_url(uri, author),
        created_at=parse_time(record.get("createdAt")) or parse_time(view.get("indexedAt")),
        lang=langs[0] if langs else None,
        likes=as_int(view.get("likeCount")),
        reposts=as_int(view.get("repostCount")),
        replies=as_int(view.get("replyCount")),
        # a post that answers nothing starts its own thread
        conversation_id=root or uri,
        in_reply_to=as_str(get_path(record, "reply", "parent", "uri")),
        context=_quoted_text(view.get("embed")),
        raw=post,
    )


_LINK_FACET = "app.bsky.richtext.facet#link"


def _linked(text: str, facets: Any) -> str:
    """The text with each link as the address it leads to. Bluesky's app writes a
    long link shortened ("status.acme.example/incid...") and keeps the address in a
    link facet, a UTF-8 byte range of the text; a range whose words are not such a
    shortening ("click here") keeps its words."""
    data = text.encode("utf-8", "surrogatepass")
    spans: list[tuple[int, int, str]] = []
    for facet in map(as_mapping, as_list(facets)):
        start = get_path(facet, "index", "byteStart")
        end = get_path(facet, "index", "byteEnd")
        features = as_list(get_path(facet, "features"))
        links = [get_path(f, "uri") for f in features if get_path(f, "$type") == _LINK_FACET]
        target = next((u for u in links if isinstance(u, str) and http_url(u)), None)
        if target and type(start) is int and type(end) is int and 0 <= start < end <= len(data):
            spans.append((start, end, target))
    out, at = [], 0
    for start, end, target in sorted(spans):
        if start < at:
            continue  # overlapping ranges: a broken record, the first one wins
        try:
            shown = data[start:end].decode("utf-8")
        except UnicodeDecodeError:
            return text  # a range that cuts a character: the offsets are not this text's
        out += [data[at:start], (target if shortens(shown, target) else shown).encode()]
        at = end
    if not out:
        return text
    return b"".join([*out, data[at:]]).decode("utf-8", "surrogatepass")


def _author(author: Mapping[str, Any]) -> Author:
    handle = as_str(author.get("handle"))
    did = as_str(author.get("did"))
    profile = _profile_id(handle, did)
    status = as_str(get_path(author, "verification", "verifiedStatus"))
    return Author(
        handle=handle if handle != _INVALID_HANDLE else None,
        name=as_str(author.get("displayName")),
        # profileViewBasic (what posts carry) has no follower count; profileView does
        followers=as_int(author.get("followersCount")),
        verified=None if status is None else status == "valid",
        native_id=did,
        url=f"{WEB}/profile/{profile}" if profile else None,
    )


def _profile_id(handle: str | None, did: str | None) -> str | None:
    # bsky.app accepts a DID where the handle is unknown or no longer resolves
    return handle if handle and handle != _INVALID_HANDLE else did


def _post_url(uri: str, author: Mapping[str, Any]) -> str | None:
    # at://<did>/app.bsky.feed.post/<rkey>
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[2]:
        return None
    profile = _profile_id(as_str(author.get("handle")), as_str(author.get("did"))) or parts[0]
    return f"{WEB}/profile/{profile}/post/{parts[2]}"


def _quoted_text(embed: Any) -> str | None:
    """The text of a quoted post: app.bsky.embed.record#view holds it at
    record.value.text, recordWithMedia#view one level deeper."""
    for path in (("record", "value", "text"), ("record", "record", "value", "text")):
        text = as_str(get_path(embed, *path))
        if text:
            return text
    return None


# -- the source -----------------------------------------------------------------------

# How far below the newest post stored each poll reads again, for posts indexed late.
INDEX_LAG = 600.0

log = logging.getLogger("earful.bluesky")

# getPosts takes at most this many uris a call.
_GET_POSTS_MAX = 25


class Settings(SourceSettings):
    base_url_example: ClassVar[str] = DEFAULT_BASE_URL
    api_paths: ClassVar[tuple[str, ...]] = ("/xrpc",)
    type: Literal["bluesky"]
    mode: Literal["search", "mentions"] = "search"
    # search: one query or several (each searched on its own); default the brand keywords
    query: str | list[str] | None = None
    # mentions: the notification reasons to keep
    reasons: tuple[Literal["mention", "reply", "quote"], ...] = ("mention",)
    identifier: str | None = None  # handle or DID of the account
    app_password: str | None = Field(default=None, repr=False)
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=5, ge=1, le=50)  # pages per poll before sweeping on

    @model_validator(mode="after")
    def _credentials(self) -> Settings:
        if bool(self.identifier) != bool(self.app_password):
            raise ValueError("identifier and app_password go together: set both or neither")
        if self.mode == "mentions" and not self.identifier:
            raise ValueError('mode "mentions" needs identifier and app_password')
        return self


def build(settings: Settings, ctx: SourceContext) -> BlueskySource:
    client = XrpcClient(
        shared_http(ctx.http, f"bluesky source {settings.name!r}"),
        base_url=settings.base_url or DEFAULT_BASE_URL,
        identifier=settings.identifier,
        app_password=settings.app_password,
    )
    return BlueskySource(
        settings, client, search_terms(settings.query, ctx.brand.keywords, ctx.brand.name)
    )


def _stamp(payload: Mapping[str, Any]) -> Stamped:
    """A post or notification with the time Bluesky sorts and filters it by: its
    sortAt, the earlier of when it was written and when it was indexed (a post from
    a phone whose clock is slow sorts below posts indexed before it)."""
    indexed = parse_time(payload.get("indexedAt"))
    record = payload.get("record")
    written = parse_time(record.get("createdAt")) if isinstance(record, Mapping) else None
    moments = [m for m in (indexed, written) if m is not None]
    uri = payload.get("uri")
    return Stamped(
        uri if isinstance(uri, str) else "",
        min(moments).timestamp() if moments else None,
        payload,
    )


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def _token(body: Mapping[str, Any]) -> str | None:
    return as_str(body.get("cursor"))


_SEARCH_NEEDS_SESSION = (
    "Bluesky's AppView answers searchPosts only to a signed-in account: set the "
    "source's identifier and app_password (and leave base_url at the account's PDS)"
)


def since_param(at: float) -> str:
    """An edge time as the `since` searchPosts takes (inclusive, to the millisecond)."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlueskySource:
    def __init__(self, settings: Settings, client: XrpcClient, searches: Sequence[str]) -> None:
        self.name = settings.name
        self.settings = settings
        self.client = client
        self.searches = list(searches)
        self._stuck_warned: set[str] = set()  # listings whose paging looped, warned once

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        if self.settings.mode == "mentions":
            return await self._mentions(cursor)
        return await walk_queries(
            cursor,
            self.searches,
            self._search_page,
            mention_from_post,
            max_pages=self.settings.max_pages,
            source=self.name,
            logger=log,
            warned=self._stuck_warned,
            lag=INDEX_LAG,
        )

    async def aclose(self) -> None:
        return None  # the HTTP session is the daemon's

    async def _search_page(self, query: str, token: str | int | None, edge: Edge) -> Page:
        params: dict[str, str | int | list[str]] = {
            "q": query,
            "sort": "latest",
            "limit": self.settings.page_size,
        }
        if edge.floor is not None:
            params["since"] = since_param(edge.floor)
        if token is not None:
            params["cursor"] = str(token)
        try:
            body = await self.client.query(
                "app.bsky.feed.searchPosts", params, auth=self.client.has_credentials
            )
        except Refused as exc:
            if exc.status in (401, 403) and not self.client.has_credentials:
                # Bluesky's AppView (public.api.bsky.app too) refuses searches made
                # without a session: the fix is in the config, not in waiting
                raise Refused(f"{exc}. {_SEARCH_NEEDS_SESSION}", exc.status, exc.error) from None
            raise
        posts = listing(body, "posts", "bluesky app.bsky.feed.searchPosts")
        return Page([_stamp(p) for p in posts], _token(body))

    async def _mentions(self, cursor: Cursor | None) -> FetchResult:
        stored = cursor.get("mentions") if isinstance(cursor, Mapping) else None
        walked = await walk(
            Edge.from_cursor(stored),
            self._notification_page,
            max_pages=self.settings.max_pages,
            lag=INDEX_LAG,
        )
        if walked.stuck:
            warn_stuck(log, self.name, "notifications", self._stuck_warned)
        wanted = [
            n for n in walked.items if n.get("reason") in self.settings.reasons and _stamp(n).key
        ]
        posts = await self._hydrate(wanted)
        mentions = normalized(posts, mention_from_post, self.name, log)
        return FetchResult(tuple(mentions), {"mentions": walked.edge.as_cursor()}, more=walked.more)

    async def _notification_page(self, token: str | int | None, edge: Edge) -> Page:
        params: dict[str, str | int | list[str]] = {
            "limit": self.settings.page_size,
            "reasons": list(self.settings.reasons),
        }
        if token is not None:
            params["cursor"] = str(token)
        body = await self.client.query("app.bsky.notification.listNotifications", params)
        # every notification (likes and follows too) counts towards the edge; the
        # reasons are picked after the walk
        notes = listing(body, "notifications", "bluesky app.bsky.notification.listNotifications")
        return Page([_stamp(n) for n in notes], _token(body))

    async def _hydrate(self, notifications: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The full postView of each notified post; a post getPosts no longer returns
        (deleted meanwhile, or hidden) keeps what the notification itself carried."""
        uris = [n["uri"] for n in notifications]
        views: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(uris), _GET_POSTS_MAX):
            chunk = uris[start : start + _GET_POSTS_MAX]
            body = await self.client.query("app.bsky.feed.getPosts", {"uris": chunk})
            for view in _objects(body.get("posts")):
                if isinstance(view.get("uri"), str):
                    views[view["uri"]] = view
        return [views.get(n["uri"], n) for n in notifications]
