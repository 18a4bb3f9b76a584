"""Mastodon: statuses as Mentions, and the source that polls (and streams) them.

A Status's `content` is HTML; it becomes the plain text a reader sees. Ids are the
listening server's own (what its API needs to reply), while `uri` is the post's
global ActivityPub id. A boost arrives as a status of its own with empty content
and the boosted post in `reblog`: the Mention is the boosted post.

The Status entity names the post it answers (in_reply_to_id) but not its thread's
root, so conversation_id is None unless the server adds one (Pleroma and Akkoma
send `pleroma.conversation_id`).

Config (type = "mastodon"; docs/mastodon.md has the whole story):

    base_url      the instance, e.g. "https://mastodon.social" (required)
    mode          "hashtag" (`tag`; public, no token needed), "search" (`query`) or
                  "mentions" (the token's account's mention notifications)
    access_token  an application token (search, mentions, streaming, posting)
    stream        true: also keep the streaming API open for near-real-time posts

The cursor is `{"since_id": <newest id seen>}` (a notification id in mentions
mode). Each poll asks for `min_id=<since_id>` -- the page right after the cursor --
and walks forward through the Link header's rel="prev" pages, so a burst bigger
than a page is read in full, oldest first. The first poll takes the newest page
and starts from there. X-RateLimit-Remaining/-Reset on each answer set how long
the daemon waits before the next poll when the budget is spent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, SecretStr, field_validator, model_validator
from yarl import URL

from listener import sse
from listener.base import (
    Cursor,
    FetchResult,
    SourceContext,
    SourceDown,
    SourceSettings,
)
from listener.http_fetch import check_status, describe, rate_limit_pause, request_json, where
from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    MalformedPost,
    as_id,
    as_list,
    as_mapping,
    as_str,
    get_path,
    html_to_text,
    join_text,
    require_id,
    require_mapping,
)

log = logging.getLogger("earful.mastodon")


def mention_from_status(status: Mapping[str, Any]) -> Mention:
    """A Mastodon Status entity as a Mention; raw keeps the status as received
    (the boost around it, for a boost)."""
    received = require_mapping(status, "mastodon status")
    post = as_mapping(received.get("reblog")) or received
    status_id = require_id(post.get("id"), "mastodon status")
    account = as_mapping(post.get("account")) or {}
    content = post.get("content")

    return Mention(
        platform="mastodon",
        native_id=status_id,
        # a content warning is the author's own words, often naming the subject
        text=join_text(
            as_str(post.get("spoiler_text")),
            html_to_text(content) if isinstance(content, str) else None,
        ),
        author=_author(account),
        url=as_str(post.get("url")) or as_str(post.get("uri")),
        created_at=parse_time(post.get("created_at")),
        lang=as_str(post.get("language")),
        likes=as_int(post.get("favourites_count")),
        reposts=as_int(post.get("reblogs_count")),
        replies=as_int(post.get("replies_count")),
        conversation_id=as_id(get_path(post, "pleroma", "conversation_id")),
        in_reply_to=as_id(post.get("in_reply_to_id")),
        raw=received,
    )


def _author(account: Mapping[str, Any]) -> Author:
    url = as_str(account.get("url"))
    return Author(
        handle=_full_handle(as_str(account.get("acct")) or as_str(account.get("username")), url),
        name=as_str(account.get("display_name")),
        followers=as_int(account.get("followers_count")),
        # Mastodon has no verified accounts (bot flags and profile links are not that)
        verified=None,
        native_id=as_id(account.get("id")),
        url=url,
    )


def _full_handle(acct: str | None, profile_url: str | None) -> str | None:
    """user@server for everyone. `acct` leaves the server off for the listening
    server's own users; without it one person would have two handles depending on
    where Earful listens, and the brand would not recognise its own posts."""
    if acct is None or "@" in acct.lstrip("@"):
        return acct.lstrip("@") if acct else None
    try:
        host = urlsplit(profile_url).hostname if profile_url else None
    except ValueError:  # an unparseable url from a broken server
        host = None
    return f"{acct}@{host}" if host else acct


# -- the source -------------------------------------------------------------------------

Mode = Literal["hashtag", "search", "mentions"]
Visibility = Literal["public", "unlisted", "private", "direct"]

# Mastodon's largest page for timelines, search and notifications alike.
MAX_PAGE = 40
# Pages one poll may walk through before handing the batch over to be stored (the
# daemon polls again at once while more are waiting).
MAX_PAGES = 5
# The streaming server sends a heartbeat comment every 15 s or so; this long without
# a byte means the connection is dead even if TCP has not noticed.
STREAM_IDLE = 90.0
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=STREAM_IDLE)


class Settings(SourceSettings):
    type: Literal["mastodon"]
    # the instance whose API Earful reads (and, with a token, posts through)
    base_url: str
    mode: Mode = "hashtag"
    tag: str | None = None  # hashtag mode, with or without the "#"
    query: str | None = None  # search mode
    access_token: SecretStr | None = None
    stream: bool = False
    page_size: int = Field(default=MAX_PAGE, ge=1, le=MAX_PAGE)
    # the widest visibility a reply may have; a reply is never wider than the post
    reply_visibility: Visibility = "public"

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f'expected the instance URL, like "https://mastodon.social", got {value!r}'
            )
        return str(url).rstrip("/")

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is None:
            return None
        tag = value.strip().removeprefix("#")
        if not tag or any(c.isspace() or c in "/?#&" for c in tag):
            raise ValueError(f'expected one hashtag like "acmefail", got {value!r}')
        return tag

    @model_validator(mode="after")
    def _mode_needs(self) -> Settings:
        if self.mode == "hashtag" and not self.tag:
            raise ValueError('mode "hashtag" needs `tag` (the hashtag to follow)')
        if self.mode == "search" and not (self.query and self.query.strip()):
            raise ValueError('mode "search" needs `query`')
        if self.mode in ("search", "mentions") and self.access_token is None:
            raise ValueError(f'mode "{self.mode}" needs `access_token`')
        if self.stream and self.mode == "search":
            raise ValueError(
                '`stream = true` works with mode "hashtag" or "mentions", not "search"'
            )
        if self.stream and self.access_token is None:
            # Mastodon 4.2 and later only stream to a signed-in user, hashtags included
            raise ValueError("`stream = true` needs `access_token`")
        return self

    def token(self) -> str | None:
        return self.access_token.get_secret_value() if self.access_token else None


def build(settings: Settings, ctx: SourceContext) -> MastodonSource:
    kind = MastodonStreamingSource if settings.stream else MastodonSource
    return kind(settings, http=ctx.http)


def id_order(value: str) -> tuple[int, str]:
    """Sort key for ids: Mastodon's are decimal strings that outgrow each other's
    length, Pleroma's fixed-length base62; (length, text) orders both."""
    return (len(value), value)


def newer(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=id_order)


def _since(cursor: Cursor | None, name: str) -> str | None:
    if cursor is None:
        return None
    found = cursor.get("since_id") if isinstance(cursor, Mapping) else None
    if isinstance(found, str) and 0 < len(found) <= 64 and found.isalnum():
        return found
    log.warning("mastodon %s: ignoring a cursor it did not write: %r", name, cursor)
    return None


class MastodonSource:
    """Polls one instance: a hashtag timeline, a status search or the account's
    mention notifications, walking forward from the newest id it has seen."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: Any = None,
        retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.base = URL(settings.base_url)
        self._http = http
        self._own: aiohttp.ClientSession | None = None
        self.retries = retries
        self.retry_delay = retry_delay

    # -- plumbing -------------------------------------------------------------

    async def session(self) -> aiohttp.ClientSession:
        if self._http is not None:
            session: aiohttp.ClientSession = await self._http()
            return session
        if self._own is None or self._own.closed:
            self._own = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._own

    async def aclose(self) -> None:
        if self._own is not None and not self._own.closed:
            await self._own.close()

    def headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept}
        token = self.settings.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _request(self, since: str | None) -> tuple[URL, list[tuple[str, str]]]:
        """The first page newer than `since` (the newest page when None)."""
        s = self.settings
        params = [("limit", str(s.page_size))]
        if since is not None:
            params.append(("min_id", since))
        if s.mode == "hashtag":
            return self.base / "api/v1/timelines/tag" / (s.tag or ""), params
        if s.mode == "search":
            return self.base / "api/v2/search", [
                ("q", s.query or ""),
                ("type", "statuses"),
                *params,
            ]
        return self.base / "api/v1/notifications", [("types[]", "mention"), *params]

    def _same_origin(self, url: URL) -> bool:
        # A paging link elsewhere would carry our token to another host: not followed.
        return url.origin() == self.base.origin()

    def _items(self, payload: Any) -> Sequence[Any]:
        if self.settings.mode == "search":
            if not isinstance(payload, Mapping) or not isinstance(payload.get("statuses"), list):
                raise SourceDown(f"mastodon {self.name}: search answer has no statuses list")
            return as_list(payload.get("statuses"))
        if not isinstance(payload, list):
            raise SourceDown(
                f"mastodon {self.name}: expected a JSON array, got {type(payload).__name__}"
            )
        return payload

    def _mention(self, item: Any) -> tuple[str | None, Mention | None]:
        """(the item's id for the cursor, its Mention) -- either may be None: a
        notification without its status still moves the cursor on."""
        status = item
        if self.settings.mode == "mentions":
            notification = as_mapping(item) or {}
            if notification.get("type") != "mention":
                return as_id(notification.get("id")), None
            status = notification.get("status")
            item_id = as_id(notification.get("id"))
        else:
            item_id = as_id(get_path(item, "id"))
        if status is None:
            return item_id, None
        try:
            return item_id, mention_from_status(status)
        except MalformedPost as exc:
            log.warning("mastodon %s: skipped a status: %s", self.name, exc)
            return item_id, None

    # -- polling --------------------------------------------------------------

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        since = _since(cursor, self.name)
        session = await self.session()
        url, params = self._request(since)
        newest, found, pages = since, [], 0
        more, pause = False, None
        while True:
            resp = await request_json(
                session,
                "GET",
                url,
                params=params,
                headers=self.headers(),
                retries=self.retries,
                retry_delay=self.retry_delay,
                what=f"mastodon {self.name}",
            )
            items = self._items(resp.payload)
            pages += 1
            page: list[Mention] = []
            for item in items:
                item_id, mention = self._mention(item)
                newest = newer(newest, item_id)
                if mention is not None:
                    page.append(mention)
            found.extend(reversed(page))  # pages come newest first; store oldest first
            pause = rate_limit_pause(resp.headers)
            # the very first poll takes the newest page and starts from there
            if since is None or len(items) < self.settings.page_size or pause is not None:
                break
            if pages >= MAX_PAGES:
                more = True
                break
            link = resp.links.get("prev")
            if link is not None and self._same_origin(link):
                url, params = link, []
            else:  # no Link header (search): ask for the page after the newest id
                url, params = self._request(newest)
        cursor_out = {"since_id": newest} if newest else None
        return FetchResult(tuple(found), cursor_out, more=more, next_poll_in=pause)


class MastodonStreamingSource(MastodonSource):
    """A MastodonSource that also streams: the daemon keeps `stream` running beside
    the interval poll, which stays as the safety net."""

    def _stream_request(self) -> tuple[URL, list[tuple[str, str]]]:
        if self.settings.mode == "hashtag":
            return self.base / "api/v1/streaming/hashtag", [("tag", self.settings.tag or "")]
        return self.base / "api/v1/streaming/user/notification", []

    def _streamed(self, event: sse.Event) -> Mention | None:
        wanted = "notification" if self.settings.mode == "mentions" else "update"
        if event.name != wanted:
            return None  # deletes, edits, filter changes, announcements
        try:
            payload = json.loads(event.data)
        except ValueError:
            log.warning("mastodon %s: stream sent an event that is not JSON; skipped", self.name)
            return None
        _, mention = self._mention(payload)
        return mention

    async def stream(self, cursor: Cursor | None) -> AsyncIterator[FetchResult]:
        """One connection's worth: subscribe, back-fill by polling from `cursor`
        (what was posted while disconnected), then each streamed post as it comes.
        Streamed batches carry no cursor -- ids arrive out of order across a
        federation, so only a poll may move it. Ends with SourceDown when the
        connection drops; the daemon reconnects with backoff."""
        session = await self.session()
        url, params = self._stream_request()
        what = f"mastodon {self.name} stream"
        try:
            async with session.get(
                url,
                params=params,
                headers=self.headers("text/event-stream"),
                timeout=STREAM_TIMEOUT,
            ) as resp:
                check_status(resp, what)
                # Subscribed first, back-filled second: a post made in between is in
                # both and stored once; in the other order it could be in neither.
                position = cursor
                while True:
                    result = await self.fetch(position)
                    yield result
                    position = result.cursor or position
                    if not result.more:
                        break
                async for event in sse.events(resp):
                    mention = self._streamed(event)
                    if mention is not None:
                        yield FetchResult((mention,), None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceDown(f"{what}: {where(url)} dropped: {describe(exc)}") from None
        except sse.EventTooLarge as exc:
            raise SourceDown(f"{what}: {exc}") from None
        raise SourceDown(f"{what}: {where(url)} closed the stream")
