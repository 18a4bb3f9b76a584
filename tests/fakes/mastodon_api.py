"""A fake Mastodon instance at the HTTP level: aiohttp.web on 127.0.0.1, serving the
entity shapes of the real API (Status, Account, Notification, Instance v2) with its
paging rules (max_id / since_id / min_id, Link rel="next"/"prev"), rate-limit
headers, bearer tokens, Idempotency-Key on posting, and the streaming API as
server-sent events. Tests drive it: publish statuses, mention the account, inject
faults, drop the stream half-way through an event.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from fakes.server import FakeServer, Seen

Json = dict[str, Any]

ME_ID = "109334860508022726"


@dataclass
class Fault:
    method: str
    path: str  # a path prefix
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int = 1
    delay: float = 0.0  # seconds before answering: a slow or hung server


@dataclass
class _Stream:
    kind: str  # "hashtag:<tag>" or "notification"
    queue: asyncio.Queue[bytes | None]


def _key(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def counted_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: a URL counts 23, a remote mention as @user."""
    text = re.sub(r"https?://\S+", "x" * 23, text)
    return len(re.sub(r"(@\w+)@[\w.-]+\w", r"\1", text))


def render(text: str) -> str:
    """Status text as Mastodon renders it: escaped, mentions as h-cards, links as
    anchors whose scheme is hidden in an invisible span."""

    def mention(m: re.Match[str]) -> str:
        user, domain = m.group(1), m.group(2)
        return (
            f'<span class="h-card" translate="no"><a href="https://{domain}/@{user}" '
            f'class="u-url mention">@<span>{user}</span></a></span>'
        )

    def link(m: re.Match[str]) -> str:
        url = m.group(0)
        scheme, _, rest = url.partition("://")
        return (
            f'<a href="{url}" target="_blank" rel="nofollow noopener">'
            f'<span class="invisible">{scheme}://</span><span class="">{rest}</span></a>'
        )

    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"https?://[^\s<]+", link, escaped)
    return re.sub(r"(?<![\w/])@(\w+)@([\w.-]+\w)", mention, escaped)


def sse(event: str, payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"event: {event}\ndata: {data}\n\n".encode()


class FakeMastodon(FakeServer):
    def __init__(
        self,
        *,
        token: str = "fake-token-abc123",
        domain: str = "fake.social",
        web_domain: str | None = None,
        max_characters: int = 500,
        heartbeat: float = 5.0,
    ) -> None:
        super().__init__()
        self.app.middlewares.append(self._faults_and_limits)
        self.token = token
        # LOCAL_DOMAIN, in its users' handles, and WEB_DOMAIN, where the server and
        # their profiles are (Mastodon lets them differ: @ana@example.com served from
        # social.example.com); one unless told
        self.domain = domain
        self.web_domain = web_domain or domain
        self.max_characters = max_characters
        self.heartbeat = heartbeat
        self.statuses: dict[str, Json] = {}
        self.notifications: dict[str, Json] = {}
        self.posted: list[Json] = []
        self.sent: list[Json] = []  # the bodies of accepted POST /api/v1/statuses
        self.idempotent: dict[str, Json] = {}
        self.faults: list[Fault] = []
        self.rate_remaining = 299
        # an instance that ignores min_id: the newest page every time, its Link
        # rel="prev" pointing (min_id = its own newest) back at that same page
        self.ignore_min_id = False
        # Link rel="prev" repeating the request's own URL: paging that never moves on
        self.stale_prev_link = False
        self.ignore_offset = False  # search: the newest page whatever the offset
        self.filtered: set[str] = set()  # status ids search leaves out (account filters)
        self.stream_connections = 0
        self.before_post: Callable[[], None] | None = None  # called as a POST arrives
        self._streams: list[_Stream] = []
        self._ids = itertools.count(1)
        self._clock = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        self.me = self.account("acme", followers=1200, account_id=ME_ID)
        self._routes()

    # -- life cycle ---------------------------------------------------------------

    def _routes(self) -> None:
        add = self.app.router
        add.add_get("/api/v1/timelines/tag/{tag}", self._tag_timeline)
        add.add_get("/api/v2/search", self._search)
        add.add_get("/api/v1/notifications", self._notifications)
        add.add_get("/api/v1/streaming/hashtag", self._stream_hashtag)
        add.add_get("/api/v1/streaming/user/notification", self._stream_notifications)
        add.add_get("/api/v2/instance", self._instance)
        add.add_get("/api/v1/instance", self._instance_v1)
        add.add_post("/api/v1/statuses", self._post_status)
        add.add_get("/api/v1/statuses/{id}", self._get_status)
        add.add_get("/api/v1/accounts/verify_credentials", self._verify_credentials)
        add.add_get("/api/v1/accounts/{id}/statuses", self._account_statuses)

    @property
    def base_url(self) -> str:
        return self.url

    async def close(self) -> None:
        for stream in list(self._streams):
            stream.queue.put_nowait(None)
        await self.stop()

    # -- content ----------------------------------------------------------------------

    def next_id(self) -> str:
        # snowflake-like: milliseconds << 16, plus a sequence
        n = next(self._ids)
        return str((1_763_629_200_000 + n) << 16 | n)

    def account(
        self,
        username: str,
        *,
        domain: str | None = None,
        followers: int = 10,
        account_id: str | None = None,
        display_name: str | None = None,
    ) -> Json:
        domain = domain or self.domain
        local = domain == self.domain
        acct = username if local else f"{username}@{domain}"
        domain = self.web_domain if local else domain  # where the profile is
        return {
            "id": account_id or str(108_000_000_000_000_000 + next(self._ids)),
            "username": username,
            "acct": acct,
            "display_name": display_name if display_name is not None else username.title(),
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": "2022-11-13T00:00:00.000Z",
            "note": "<p></p>",
            "url": f"https://{domain}/@{username}",
            "uri": f"https://{domain}/users/{username}",
            "avatar": f"https://{domain}/avatars/original/missing.png",
            "avatar_static": f"https://{domain}/avatars/original/missing.png",
            "header": f"https://{domain}/headers/original/missing.png",
            "header_static": f"https://{domain}/headers/original/missing.png",
            "followers_count": followers,
            "following_count": 3,
            "statuses_count": 42,
            "last_status_at": "2026-11-20",
            "emojis": [],
            "fields": [],
        }

    def make_status(
        self,
        content: str,
        *,
        account: Json | None = None,
        tags: Iterable[str] = (),
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        in_reply_to_account_id: str | None = None,
        created_at: datetime | None = None,
        quote: Json | None = None,
    ) -> Json:
        """A Status as Mastodon 4.5 serves it; `quote`: the status this one quotes
        (an accepted quote, with the "RE: <link>" fallback older clients show)."""
        account = account or self.account("ana", domain="mastodon.online")
        status_id = self.next_id()
        self._clock += timedelta(seconds=1)
        domain = URL(account["url"]).host
        status: Json = {
            "id": status_id,
            "created_at": _iso(created_at or self._clock),
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": in_reply_to_account_id,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": visibility,
            "language": "en",
            "uri": f"https://{domain}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{domain}/@{account['username']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "content": content,
            "filtered": [],
            "reblog": None,
            "application": {"name": "Web", "website": None},
            "account": account,
            "media_attachments": [],
            "mentions": [],
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in tags],
            "emojis": [],
            "card": None,
            "poll": None,
            "quote": None,
        }
        if quote is not None:
            status["quote"] = {"state": "accepted", "quoted_status": quote}
            status["content"] = (
                f'<p class="quote-inline">RE: <a href="{quote["url"]}">{quote["url"]}</a></p>'
                + content
            )
        return status

    def publish(self, status: Json) -> Json:
        """The status appears on the instance: in timelines, and on open streams."""
        self.statuses[status["id"]] = status
        names = {t["name"].casefold() for t in status.get("tags", [])}
        for stream in self._streams:
            kind, _, tag = stream.kind.partition(":")
            if kind == "hashtag" and tag.casefold() in names:
                stream.queue.put_nowait(sse("update", status))
        return status

    def post(self, content: str, **kwargs: Any) -> Json:
        return self.publish(self.make_status(content, **kwargs))

    def mention(self, status: Json) -> Json:
        """`status` mentions the token's account: a notification of type mention."""
        self.publish(status)
        notification = {
            "id": str(60_000_000 + next(self._ids)),
            "type": "mention",
            "group_key": f"ungrouped-{status['id']}",
            "created_at": status["created_at"],
            "account": status["account"],
            "status": status,
        }
        self.notifications[notification["id"]] = notification
        for stream in self._streams:
            if stream.kind == "notification":
                stream.queue.put_nowait(sse("notification", notification))
        return notification

    def notify(self, kind: str, account: Json) -> Json:
        """A notification of another type (follow, favourite...)."""
        notification_id = str(60_000_000 + next(self._ids))
        notification = {
            "id": notification_id,
            "type": kind,
            "created_at": _iso(self._clock),
            "account": account,
        }
        self.notifications[notification_id] = notification
        return notification

    def fail(
        self,
        path: str,
        status: int,
        *,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        method: str = "GET",
        delay: float = 0.0,
    ) -> None:
        raw = body.encode() if isinstance(body, str) else body
        self.faults.append(Fault(method, path, status, raw, dict(headers or {}), times, delay))

    def send_raw(self, data: bytes) -> None:
        """Bytes to every open stream as they are (half an event, a comment...)."""
        for stream in self._streams:
            stream.queue.put_nowait(data)

    def drop_streams(self) -> None:
        """Every open stream ends: the server closes the connection."""
        for stream in self._streams:
            stream.queue.put_nowait(None)

    async def wait_for_streams(self, connections: int, *, rounds: int = 3000) -> None:
        """Until `connections` stream connections have been opened in all."""
        for _ in range(rounds):
            if self.stream_connections >= connections and self._streams:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.stream_connections} stream connections, wanted {connections}")

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def requests_to(self, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # -- HTTP -------------------------------------------------------------------------

    @web.middleware
    async def _faults_and_limits(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Faults by path prefix (slow ones too), and Mastodon's rate-limit headers on
        every answer. FakeServer's own middleware has logged the request already."""
        for fault in self.faults:
            if (
                fault.times > 0
                and request.method == fault.method
                and request.path.startswith(fault.path)
            ):
                fault.times -= 1
                await asyncio.sleep(fault.delay)
                return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
        response = await handler(request)
        if not response.prepared:
            response.headers["X-RateLimit-Limit"] = "300"
            response.headers["X-RateLimit-Remaining"] = str(self.rate_remaining)
            response.headers["X-RateLimit-Reset"] = _iso(datetime.now(UTC) + timedelta(minutes=5))
        return response

    def _auth(self, request: web.Request, *, required: bool) -> None:
        given = request.headers.get("Authorization")
        if given is None and not required:
            return
        if given != f"Bearer {self.token}":
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "The access token is invalid"}),
                content_type="application/json",
            )

    def _page(self, request: web.Request, items: list[Json], default: int = 20) -> web.Response:
        """Mastodon's paginate_by_id: newest first; max_id/since_id bound the range,
        min_id takes the page right after it; Link next/prev for older/newer."""
        q = request.query
        limit = min(int(q.get("limit", default)), 40)
        chosen = sorted(items, key=lambda i: _key(i["id"]), reverse=True)
        if "max_id" in q:
            chosen = [i for i in chosen if _key(i["id"]) < _key(q["max_id"])]
        if "since_id" in q:
            chosen = [i for i in chosen if _key(i["id"]) > _key(q["since_id"])]
        if "min_id" in q and not self.ignore_min_id:
            chosen = [i for i in chosen if _key(i["id"]) > _key(q["min_id"])][-limit:]
        page = chosen[:limit]
        response = web.json_response(page)
        if page:
            url = request.url.with_query(
                [
                    (k, v)
                    for k, v in request.query.items()
                    if k not in ("max_id", "since_id", "min_id")
                ]
            )
            older = url.update_query(max_id=page[-1]["id"])
            newer = request.url if self.stale_prev_link else url.update_query(min_id=page[0]["id"])
            response.headers["Link"] = f'<{older}>; rel="next", <{newer}>; rel="prev"'
        return response

    async def _tag_timeline(self, request: web.Request) -> web.Response:
        self._auth(request, required=False)
        tag = request.match_info["tag"].casefold()
        items = [
            s
            for s in self.statuses.values()
            if s["visibility"] == "public" and tag in {t["name"].casefold() for t in s["tags"]}
        ]
        return self._page(request, items)

    async def _search(self, request: web.Request) -> web.Response:
        """As Mastodon's StatusesSearchService: min_id becomes `after:` the second its
        snowflake was made in (so that second's posts come back too), results are
        newest first, `offset` skips, and filtered posts are dropped after the page
        was counted (a short page is no end)."""
        self._auth(request, required=True)
        q = request.query.get("q", "").casefold()
        found = [s for s in self.statuses.values() if q and q in s["content"].casefold()]
        limit = min(int(request.query.get("limit", 20)), 40)
        chosen = sorted(found, key=lambda i: _key(i["id"]), reverse=True)
        if "min_id" in request.query:
            after = (int(request.query["min_id"]) >> 16) // 1000 * 1000
            chosen = [i for i in chosen if int(i["id"]) >> 16 > after]
        if not self.ignore_offset:
            chosen = chosen[int(request.query.get("offset", 0)) :]
        page = [i for i in chosen[:limit] if i["id"] not in self.filtered]
        return web.json_response({"accounts": [], "statuses": page, "hashtags": []})

    async def _notifications(self, request: web.Request) -> web.Response:
        self._auth(request, required=True)
        types = request.query.getall("types[]", [])
        items = [n for n in self.notifications.values() if not types or n["type"] in types]
        return self._page(request, items, default=40)

    async def _stream(self, request: web.Request, kind: str) -> web.StreamResponse:
        self._auth(request, required=True)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        stream = _Stream(kind, asyncio.Queue())
        self._streams.append(stream)
        self.stream_connections += 1
        try:
            await response.write(b":)\n")
            while True:
                try:
                    data = await asyncio.wait_for(stream.queue.get(), timeout=self.heartbeat)
                except TimeoutError:
                    await response.write(b":thump\n")
                    continue
                if data is None:
                    break
                await response.write(data)
        finally:
            self._streams.remove(stream)
        # the connection goes with it: a client mid-event sees the stream cut short
        if request.transport is not None:
            request.transport.close()
        return response

    async def _stream_hashtag(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, f"hashtag:{request.query.get('tag', '')}")

    async def _stream_notifications(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "notification")

    async def _instance(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "domain": self.domain,
                "title": "Fake Social",
                "version": "4.3.0",
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A fake instance for Earful's tests.",
                "usage": {"users": {"active_month": 12}},
                "languages": ["en"],
                "configuration": {
                    "urls": {"streaming": f"wss://{self.web_domain}"},
                    "accounts": {"max_featured_tags": 10},
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    },
                },
                "registrations": {"enabled": False, "approval_required": False, "message": None},
            }
        )

    async def _instance_v1(self, request: web.Request) -> web.Response:
        # the older shape: the handles' domain is `uri`
        return web.json_response({"uri": self.domain, "title": "Fake Social", "version": "3.5.0"})

    async def _post_status(self, request: web.Request) -> web.Response:
        self._auth(request, required=True)
        if self.before_post is not None:
            self.before_post()
        key = request.headers.get("Idempotency-Key")
        if key and key in self.idempotent:
            return web.json_response(self.idempotent[key])
        try:
            body = await request.json()
        except ValueError:
            body = dict(await request.post())
        text = body.get("status") or ""
        if not text.strip():
            return web.json_response(
                {"error": "Validation failed: Text can't be blank"}, status=422
            )
        if counted_length(text) > self.max_characters:
            return web.json_response(
                {
                    "error": "Validation failed: Text character limit of "
                    f"{self.max_characters} exceeded"
                },
                status=422,
            )
        parent_id = body.get("in_reply_to_id")
        parent = self.statuses.get(parent_id) if parent_id else None
        if parent_id and parent is None:
            return web.json_response({"error": "Record not found"}, status=404)
        content = "<p>" + render(text).replace("\n", "<br />") + "</p>"
        status = self.make_status(
            content,
            account=self.me,
            visibility=body.get("visibility", "public"),
            in_reply_to_id=parent_id,
            in_reply_to_account_id=parent["account"]["id"] if parent else None,
        )
        self.statuses[status["id"]] = status
        self.posted.append(status)
        self.sent.append(dict(body))
        if key:
            self.idempotent[key] = status
        return web.json_response(status)

    async def _get_status(self, request: web.Request) -> web.Response:
        found = self.statuses.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": "Record not found"}, status=404)
        return web.json_response(found)

    async def _verify_credentials(self, request: web.Request) -> web.Response:
        self._auth(request, required=True)
        return web.json_response({**self.me, "source": {"privacy": "public", "note": ""}})

    async def _account_statuses(self, request: web.Request) -> web.Response:
        self._auth(request, required=False)
        account_id = request.match_info["id"]
        items = [s for s in self.statuses.values() if s["account"]["id"] == account_id]
        return self._page(request, items)
