"""The Mastodon source: polls an instance's hashtag timeline, status search or
mention notifications, and streams them (listener.mastodon has the settings, the
normalizer and the cursor's story)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import aiohttp
from yarl import URL

from listener import sse
from listener.base import Cursor, FetchResult, SourceDown
from listener.http_errors import HttpFactory, Refused
from listener.http_fetch import JsonResponse, raise_for_status, rate_limit_pause, request_json
from listener.mastodon import Settings, local_domain, mention_from_status, url_host
from listener.mention import Mention
from listener.normalize import MalformedPost, as_id, as_list, as_mapping, get_path
from listener.paging import warn_stuck

log = logging.getLogger("earful.mastodon")

# The cursor of a timeline that was empty when first polled: below every id.
EMPTY = "0"
# A search walk deeper than this many results is given up (Elasticsearch refuses
# offsets past 10,000 by default): the cursor moves to the newest id read.
MAX_OFFSET = 10_000

# Pages one poll may walk through before handing the batch over to be stored (the
# daemon polls again at once while more are waiting).
MAX_PAGES = 5
# The streaming server sends a heartbeat comment every 15 s or so; this long without
# a byte means the connection is dead even if TCP has not noticed.
STREAM_IDLE = 90.0
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=STREAM_IDLE)


def id_order(value: str) -> tuple[int, str]:
    """Sort key for ids: Mastodon's are decimal strings that outgrow each other's
    length, Pleroma's fixed-length base62; (length, text) orders both."""
    return (len(value), value)


def newer(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=id_order)


def _not_after(item_id: str | None, since: str | None) -> bool:
    """An id no newer than `since`: already read (or older than the cursor)."""
    return item_id is not None and since is not None and id_order(item_id) <= id_order(since)


def _an_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isalnum()


def _since(cursor: Cursor | None, name: str) -> str | None:
    if cursor is None:
        return None
    found = cursor.get("since_id") if isinstance(cursor, Mapping) else None
    if _an_id(found):
        return str(found)
    log.warning("mastodon %s: ignoring a cursor it did not write: %r", name, cursor)
    return None


def _walk(cursor: Cursor | None) -> tuple[int, str | None]:
    """Where an unfinished search walk stopped: the offset to go on from and the
    newest id it had read ((0, None): no walk under way)."""
    if not isinstance(cursor, Mapping):
        return 0, None
    offset, top = cursor.get("offset"), cursor.get("top")
    if type(offset) is int and 0 < offset <= MAX_OFFSET and _an_id(top):
        return offset, str(top)
    return 0, None


class MastodonSource:
    """Polls one instance: a hashtag timeline, a status search or the account's
    mention notifications, walking forward from the newest id it has seen."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: HttpFactory,
        retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.base = URL(settings.base_url)
        self._http = http
        self.retries = retries
        self.retry_delay = retry_delay
        self._stuck_warned: set[str] = set()  # a looping timeline is warned about once
        # the domain of this server's own users' handles, asked once (_learn_domain)
        self._domain: str | None = None
        self._domain_asked = False
        self._split_checked = False  # _note_split_domain looked (once is enough)

    # -- plumbing -------------------------------------------------------------

    async def session(self) -> aiohttp.ClientSession:
        return await self._http()

    async def aclose(self) -> None:
        return None  # the session is the daemon's, closed by it

    def headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept}
        token = self.settings.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _request(self, since: str | None) -> tuple[URL, list[tuple[str, str]]]:
        """The first timeline page newer than `since` (the newest page when None)."""
        s = self.settings
        params = [("limit", str(s.page_size))]
        if since is not None:
            params.append(("min_id", since))
        if s.mode == "hashtag":
            return self.base / "api/v1/timelines/tag" / (s.tag or ""), params
        return self.base / "api/v1/notifications", [("types[]", "mention"), *params]

    def _same_origin(self, url: URL) -> bool:
        # A paging link elsewhere would carry our token to another host: not followed.
        return url.origin() == self.base.origin()

    def _items(self, payload: Any) -> Sequence[Any]:
        if self.settings.mode == "search":
            if not isinstance(payload, Mapping) or not isinstance(payload.get("statuses"), list):
                raise SourceDown("mastodon: the search answer has no statuses list")
            return as_list(payload.get("statuses"))
        if not isinstance(payload, list):
            raise SourceDown(f"mastodon: expected a JSON array, got {type(payload).__name__}")
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
            mention = mention_from_status(status, self._domain)
        except MalformedPost as exc:
            log.warning("mastodon %s: skipped a status: %s", self.name, exc)
            return item_id, None
        self._note_split_domain(mention)
        return item_id, mention

    def _note_split_domain(self, mention: Mention) -> None:
        """Say once when this server's handles and web address differ: earlier
        versions gave its users the web domain, and a brand handle written that way
        would quietly stop matching the brand's own posts. The server's first user
        with a profile link tells: it is looked at, not every post after it."""
        if self._split_checked or not self._domain:
            return
        handle = mention.author.handle or ""
        web = url_host(mention.author.url) if handle.endswith("@" + self._domain) else None
        if web is None:
            return
        self._split_checked = True
        if web.casefold() == self._domain:
            return
        log.warning(
            "mastodon %s: this server's handles end in @%s, not its web address %s; "
            'write the brand\'s handle that way ([brand] handles.mastodon = "@name@%s"), '
            "or its own posts are judged like anyone's",
            self.name,
            self._domain,
            web,
            self._domain,
        )

    # -- polling --------------------------------------------------------------

    async def _get(
        self, session: aiohttp.ClientSession, url: URL, params: list[tuple[str, str]]
    ) -> JsonResponse:
        return await request_json(
            session,
            "GET",
            url,
            params=params,
            headers=self.headers(),
            retries=self.retries,
            retry_delay=self.retry_delay,
            what="mastodon",
            # a hashtag timeline may be read without a token: then a 401/403 is an
            # instance that wants a login, not a token to fix
            credentials=self.settings.token() is not None,
        )

    async def _learn_domain(self, session: aiohttp.ClientSession) -> None:
        """Ask the server once what domain its own users' handles carry: `acct`
        leaves it off for them, and the domain of its web address (and of their
        profile links) is not always it (LOCAL_DOMAIN and WEB_DOMAIN)."""
        if self._domain_asked:
            return
        for path in ("api/v2/instance", "api/v1/instance"):
            try:
                resp = await self._get(session, self.base / path, [])
            except Refused:
                continue  # an older server, or another kind, without this one
            self._domain = local_domain(resp.payload)
            if self._domain is not None:
                break
        if self._domain is None:
            log.info(
                "mastodon %s: the server does not say its handles' domain; local users' "
                "handles take the domain of their profile links",
                self.name,
            )
        self._domain_asked = True

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        await self._learn_domain(await self.session())
        if self.settings.mode == "search":
            return await self._search(cursor)
        since = _since(cursor, self.name)
        session = await self.session()
        url, params = self._request(since)
        newest, pages = since, 0
        found: list[Mention] = []
        more, pause = False, None
        asked: set[str] = set()  # the pages requested, to notice a Link that loops
        while True:
            asked.add(str(url.with_query(params) if params else url))
            resp = await self._get(session, url, params)
            items = self._items(resp.payload)
            pages += 1
            page: list[Mention] = []
            before = newest
            for item in items:
                item_id, mention = self._mention(item)
                if _not_after(item_id, before):
                    # asked for what is newer than `before`: an instance that ignores
                    # min_id sends what was read already; it is not kept twice
                    continue
                newest = newer(newest, item_id)
                if mention is not None:
                    page.append(mention)
            found.extend(reversed(page))  # pages come newest first; store oldest first
            pause = rate_limit_pause(resp.headers)
            # the very first poll takes the newest page and starts from there
            if since is None or len(items) < self.settings.page_size or pause is not None:
                break
            if newest == before:
                # a full page with nothing newer than the cursor: paging on would
                # fetch it again and again
                self._stuck()
                break
            if pages >= MAX_PAGES:
                more = True
                break
            link = resp.links.get("prev")
            if link is not None and self._same_origin(link):
                url, params = link, []
            else:  # no Link header: ask for the page after the newest id
                url, params = self._request(newest)
            if str(url.with_query(params) if params else url) in asked:
                self._stuck()  # the Link header points back at a page already read
                break
        if newest is None:
            # The first poll found the timeline empty: whatever appears from now on
            # is new, and the next poll must read all of it, not just its newest page.
            newest = EMPTY
        return FetchResult(tuple(found), {"since_id": newest}, more=more, next_poll_in=pause)

    async def _search(self, cursor: Cursor | None) -> FetchResult:
        """Mastodon's search answers newest first whatever `min_id` says: it turns
        min_id into an `after:` date filter, not a place to page forward from. So a
        poll walks down from the newest match with `offset` until it reaches the
        cursor, and only then moves the cursor up; a walk longer than MAX_PAGES pages
        goes on from where it stopped at the next poll (the cursor says where)."""
        since = _since(cursor, self.name)
        offset, top = _walk(cursor) if since is not None else (0, None)
        newest = top or since  # a quiet poll keeps the cursor where it was
        session = await self.session()
        size = self.settings.page_size
        found: list[Mention] = []
        seen: set[str] = set()  # ids read this poll: an instance that ignores offset
        pages, done, pause = 0, True, None
        while True:
            params = [("q", self.settings.query or ""), ("type", "statuses"), ("limit", str(size))]
            if since is not None:
                params.append(("min_id", since))
            if offset:
                params.append(("offset", str(offset)))
            resp = await self._get(session, self.base / "api/v2/search", params)
            items = self._items(resp.payload)
            pages += 1
            reached, fresh = False, False
            for item in items:
                item_id, mention = self._mention(item)
                if _not_after(item_id, since):
                    reached = True  # the cursor's post, or one of its second
                    continue
                if item_id is not None:
                    if item_id in seen:
                        continue
                    seen.add(item_id)
                    fresh = True
                newest = newer(newest, item_id)
                if mention is not None:
                    found.append(mention)
            offset += len(items)
            pause = rate_limit_pause(resp.headers)
            # the first poll takes the newest page and starts from there; a short
            # page is no end (search drops filtered posts after counting the page)
            if since is None or not items or reached:
                break
            if not fresh:
                self._stuck()
                break
            if offset >= MAX_OFFSET:
                log.warning(
                    "mastodon %s: more than %d new search results since the last poll; "
                    "the older ones are not fetched",
                    self.name,
                    MAX_OFFSET,
                )
                break
            if pause is not None or pages >= MAX_PAGES:
                done = False
                break
        found.reverse()  # pages come newest first; store oldest first
        if not done:
            walk = {"since_id": since, "offset": offset, "top": newest}
            return FetchResult(tuple(found), walk, more=pause is None, next_poll_in=pause)
        return FetchResult(tuple(found), {"since_id": newest or EMPTY}, next_poll_in=pause)

    def _stuck(self) -> None:
        s = self.settings
        listing = {"hashtag": f"#{s.tag}", "search": f"the search {s.query!r}"}
        warn_stuck(
            log,
            f"mastodon {self.name}",
            listing.get(s.mode, "the mention notifications"),
            self._stuck_warned,
        )


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

    async def stream(self, cursor: Cursor | None) -> AsyncGenerator[FetchResult, None]:
        """One connection's worth: subscribe, back-fill by polling from `cursor`
        (what was posted while disconnected), then each streamed post as it comes.
        Streamed batches carry no cursor -- ids arrive out of order across a
        federation, so only a poll may move it. Ends with SourceDown when the
        connection drops; the daemon reconnects with backoff."""
        session = await self.session()
        url, params = self._stream_request()
        what = "mastodon stream"
        try:
            async with session.get(
                url,
                params=params,
                headers=self.headers("text/event-stream"),
                timeout=STREAM_TIMEOUT,
            ) as resp:
                await raise_for_status(resp, what, credentials=True)  # streaming needs a token
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
        except TimeoutError:
            raise SourceDown(
                f"{what}: no data for {STREAM_IDLE:.0f} s, not even a heartbeat"
            ) from None
        except aiohttp.ClientError as exc:
            raise SourceDown(f"{what} dropped: {type(exc).__name__}: {exc}") from None
        except sse.EventTooLarge as exc:
            raise SourceDown(f"{what}: {exc}") from None
        raise SourceDown(f"{what}: the server closed the stream")
