"""The X source: polls mentions of the brand account or a recent-search query through
tweepy, one page per fetch, and turns pages into Mentions (listener/x.py).

Failures become the daemon's three kinds: a 429 (or Earful's own request budget)
is RateLimited until X's x-rate-limit-reset; 401/403 are AuthFailed, which disables
the source, but for a web page where X's JSON should be (a CDN's block page:
Refused, backed off like a 5xx); 5xx, timeouts, refused connections and answers that
are not the JSON object X promises are SourceDown, backed off and retried. Nothing
here logs or repeats a credential.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from listener import x_client
from listener.base import AuthFailed, Cursor, FetchResult, RateLimited, SourceDown
from listener.http_deadline import AnswerTooLarge
from listener.http_errors import blocked, preview
from listener.mention import Brand, Mention
from listener.normalize import MalformedPost, as_id, as_list, as_mapping, get_path
from listener.paging import warn_stuck
from listener.x import SEARCH_REACH, Settings, mention_from_tweet

log = logging.getLogger("earful.x")

WINDOW = 15 * 60.0  # X counts requests in 15-minute windows
EXPANSIONS = "author_id,referenced_tweets.id,in_reply_to_user_id"
TWEET_FIELDS = (
    "created_at,conversation_id,lang,in_reply_to_user_id,referenced_tweets,"
    "public_metrics,entities,author_id,note_tweet"
)
USER_FIELDS = "public_metrics,verified,verified_type,username,name"
# what the endpoints are called in messages
ENDPOINTS = {
    "search": "recent search",
    "mentions": "mention timeline",
    "users": "user lookup (GET /2/users/by/username)",
}
# a settled run with at least this many tweets counts as busy
BUSY_TWEETS = 10
# how far inside recent search's 7 days a backfill starts
_REACH_MARGIN = timedelta(minutes=2)


# -- the request budget -------------------------------------------------------------


class RequestBudget:
    """At most `limit` requests per endpoint in any 15-minute stretch, so the source
    stays under its access tier's limit instead of running into 429s."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._spent: dict[str, deque[float]] = {}

    def wait(self, endpoint: str) -> float:
        """Seconds until one more request to `endpoint` fits; 0 when it does now."""
        spent = self._spent.setdefault(endpoint, deque())
        now = self._clock()
        while spent and spent[0] <= now - WINDOW:
            spent.popleft()
        return 0.0 if len(spent) < self.limit else spent[0] + WINDOW - now

    def spend(self, endpoint: str) -> None:
        self._spent.setdefault(endpoint, deque()).append(self._clock())


# -- where a run stands -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """The cursor: `since_id` alone when settled; with `next_token` while a run of
    pages is under way (`newest_id`, `oldest_id` and `seen` carry what the run found so
    far, `start_time` the backfill edge that every page of the run must repeat)."""

    since_id: str | None = None
    next_token: str | None = None
    newest_id: str | None = None
    start_time: str | None = None
    pages: int = 0
    seen: int = 0
    oldest_id: str | None = None

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> Run | None:
        """The run a cursor describes; None when this source did not write it."""
        if cursor is None:
            return cls()
        if not isinstance(cursor, Mapping):
            return None
        ids = [cursor.get(k) for k in ("since_id", "newest_id", "oldest_id")]
        texts = [cursor.get(k) for k in ("next_token", "start_time")]
        counts = [cursor.get("pages", 0), cursor.get("seen", 0)]
        if not all(v is None or is_tweet_id(v) for v in ids):
            return None
        if not all(v is None or (isinstance(v, str) and v) for v in texts):
            return None
        if not all(type(v) is int and v >= 0 for v in counts):
            return None
        return cls(ids[0], texts[0], ids[1], texts[1], counts[0], counts[1], ids[2])

    @property
    def backfilling(self) -> bool:
        return self.since_id is None

    def as_cursor(self) -> dict[str, Any]:
        if self.next_token is None:
            return {"since_id": self.since_id} if self.since_id else {}
        fields = {
            "since_id": self.since_id,
            "next_token": self.next_token,
            "newest_id": self.newest_id,
            "start_time": self.start_time,
            "pages": self.pages,
            "seen": self.seen,
            "oldest_id": self.oldest_id,
        }
        return {k: v for k, v in fields.items() if v is not None}


def is_tweet_id(value: Any) -> bool:
    """A snowflake id as X writes it: ASCII digits ("²" and "٣" are digits too)."""
    return isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit()


def newer(a: str | None, b: str | None) -> str | None:
    """The larger of two tweet ids (snowflakes grow with time)."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- the source ---------------------------------------------------------------------


class XSource:
    def __init__(
        self,
        settings: Settings,
        brand: Brand,
        *,
        handle: str | None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.brand = brand
        self.handle = handle
        self.budget = RequestBudget(settings.requests_per_window, clock)
        self._now = now
        self._client = x_client.make_client(
            base_url=settings.base_url,
            bearer_token=settings.bearer_token,
            timeout=settings.timeout,
        )
        # the brand account's id: looked up in mentions mode, known from the posting keys
        self._user_id: str | None = None
        self._own_ids: set[str] = {settings.account_id} if settings.account_id else set()
        self._stuck_warned: set[str] = set()  # a run whose paging looped, warned once
        # the adaptive interval, kept between the bounds and never faster than the
        # budget can pay for
        floor = max(settings.min_interval, WINDOW / settings.requests_per_window)
        self._floor = min(floor, settings.max_interval)
        self.delay = min(max(settings.interval, self._floor), settings.max_interval)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.session.close)

    # -- one fetch ----------------------------------------------------------------

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        run = Run.from_cursor(cursor)
        if run is None:
            log.warning("x %s: ignoring a cursor it did not write: %r", self.name, cursor)
            run = Run()
        endpoint = self.settings.mode
        wait = self.budget.wait(endpoint)
        if wait > 0:
            log.info(
                "x %s: request budget for %s spent (%d per 15 min); next poll in %.0fs",
                self.name,
                endpoint,
                self.settings.requests_per_window,
                wait,
            )
            return FetchResult((), None, next_poll_in=wait)
        if run.backfilling and run.start_time is None:
            # every page of the run must repeat the same edge, so it is fixed now
            run = Run(start_time=self._backfill_edge())
        try:
            page = await self._page(run)
        except tweepy.BadRequest as exc:
            return self._bad_request(run, exc)
        return self._advance(run, page)

    async def _page(self, run: Run) -> Mapping[str, Any]:
        params: dict[str, Any] = {
            "max_results": self.settings.page_size,
            "expansions": EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
        }
        if run.since_id:
            params["since_id"] = run.since_id
        else:
            params["start_time"] = run.start_time
        if self.settings.mode == "search":
            if run.next_token:
                params["next_token"] = run.next_token
            return await self._call(
                "search", self._client.search_recent_tweets, self.settings.query, **params
            )
        if run.next_token:
            params["pagination_token"] = run.next_token
        user_id = await self._brand_user_id()
        return await self._call("mentions", self._client.get_users_mentions, user_id, **params)

    def _backfill_edge(self) -> str:
        now = self._now()
        edge = now - timedelta(seconds=self.settings.backfill)
        if self.settings.mode == "search":
            # X measures the 7 days from when it reads the request (and from the
            # minute): "7d" on the dot would be refused, so the edge stays inside
            edge = max(edge, now - timedelta(seconds=SEARCH_REACH) + _REACH_MARGIN)
        return edge.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _advance(self, run: Run, page: Mapping[str, Any]) -> FetchResult:
        tweets = page.get("data")
        if tweets is not None and not isinstance(tweets, list):
            raise SourceDown('X sent "data" that is not a list of tweets')
        if tweets is None and not isinstance(page.get("meta"), Mapping):
            # X answers "no tweets" with meta.result_count 0: an answer with neither is
            # broken, and ending the run on it would skip the pages not yet read
            raise SourceDown('X sent neither tweets ("data") nor "meta"' + _errors_said(page))
        tweets = tweets or []
        errors = page.get("errors")
        if errors:
            # deleted or suspended authors, withheld tweets: the tweets still count
            log.warning(
                "x %s: X reported problems beside %d tweets: %s",
                self.name,
                len(tweets),
                x_client.describe_errors(errors),
            )
        includes = as_mapping(page.get("includes"))

        def had(tweet: Any) -> bool:
            # read already: since_id is exclusive, and the run's earlier pages read every
            # tweet from its oldest to its newest (a server paging in circles resends
            # them). A later page may also hold tweets newer than the run's newest,
            # posted meanwhile where page tokens are offsets: new, so kept.
            tweet_id = as_id(get_path(tweet, "id"))
            if tweet_id is None or not is_tweet_id(tweet_id):
                return False
            if run.since_id and int(tweet_id) <= int(run.since_id):
                return True
            return bool(
                run.next_token
                and run.newest_id
                and run.oldest_id
                and int(run.oldest_id) <= int(tweet_id) <= int(run.newest_id)
            )

        fresh = [t for t in tweets if not had(t)]
        mentions = self._mentions(fresh, includes)
        ids = [as_id(get_path(t, "id")) for t in tweets]
        newest = run.newest_id
        # The run settles at its first page's newest tweet, never a later page's: with
        # offset tokens, tweets posted during the run push the newest of them onto no
        # page at all, and the next poll must still ask for everything after the top
        # the run started from (tweets a later page held already are not stored twice).
        if not (run.next_token and run.newest_id):
            for tweet_id in [as_id(get_path(page, "meta", "newest_id")), *ids]:
                if is_tweet_id(tweet_id):
                    newest = newer(newest, tweet_id)
        oldest = run.oldest_id
        for tweet_id in ids:
            if tweet_id is not None and is_tweet_id(tweet_id):
                oldest = tweet_id if oldest is None else min(oldest, tweet_id, key=int)
        next_token = get_path(page, "meta", "next_token")
        pages = run.pages + 1
        seen = run.seen + len(fresh)
        if (
            isinstance(next_token, str)
            and next_token
            and (next_token == run.next_token or (not fresh and tweets))
        ):
            # X handed back the token this page was asked with, or a page of tweets it
            # had sent already: following it would read the same page until the budget
            # ran out, so the run settles at what was read
            warn_stuck(log, f"x {self.name}", f"the {self.settings.mode} run", self._stuck_warned)
        elif isinstance(next_token, str) and next_token:
            if not (run.backfilling and pages >= self.settings.backfill_pages):
                paging = Run(run.since_id, next_token, newest, run.start_time, pages, seen, oldest)
                return FetchResult(tuple(mentions), paging.as_cursor(), more=True)
            log.info(
                "x %s: backfill stopped after %d pages (backfill_pages); older posts in the "
                "window are left out",
                self.name,
                pages,
            )
        settled = Run(since_id=newer(run.since_id, newest))
        return FetchResult(
            tuple(mentions), settled.as_cursor(), next_poll_in=self._adapt(seen, pages)
        )

    def _mentions(self, tweets: list[Any], includes: Mapping[str, Any] | None) -> list[Mention]:
        mentions = []
        for tweet in tweets:
            try:
                mention = mention_from_tweet(tweet, includes)
            except MalformedPost as exc:
                log.warning("x %s: a tweet was skipped: %s", self.name, exc)
                continue
            if self._skip(tweet, mention):
                continue
            mentions.append(mention)
        return mentions

    def _skip(self, tweet: Mapping[str, Any], mention: Mention) -> bool:
        if not self.settings.include_retweets:
            kinds = {get_path(r, "type") for r in as_list(tweet.get("referenced_tweets"))}
            if "retweeted" in kinds:
                return True
        author_id = mention.author.native_id
        own_id = author_id is not None and author_id in {self._user_id, *self._own_ids}
        return own_id or self.brand.is_own("x", mention.author.handle)

    def _adapt(self, seen: int, pages: int) -> float:
        """Quiet runs slow the polling down, busy ones speed it up, between bounds."""
        if seen == 0:
            self.delay = min(self.delay * 1.5, self.settings.max_interval)
        elif pages > 1 or seen >= BUSY_TWEETS:
            self.delay = max(self.delay / 2, self._floor)
        return self.delay

    def _bad_request(self, run: Run, exc: tweepy.BadRequest) -> FetchResult:
        """A 400: an expired page token or a since_id X no longer serves starts the
        run again from what is stored (duplicates are dropped downstream); the same
        on a fresh backfill is the query's fault."""
        reason = x_client.reason(exc)
        if run.next_token:
            log.warning(
                "x %s: X refused the page token (%s); restarting the run", self.name, reason
            )
            return FetchResult((), Run(since_id=run.since_id).as_cursor(), more=True)
        if run.since_id:
            log.warning(
                "x %s: X refused since_id %s (%s); backfilling instead",
                self.name,
                run.since_id,
                reason,
            )
            return FetchResult((), {}, more=True)
        raise SourceDown(f"X refused the request ({reason}); check the source's query and handle")

    # -- the brand account --------------------------------------------------------

    async def _brand_user_id(self) -> str:
        if self._user_id is not None:
            return self._user_id
        if not self.handle:
            raise AuthFailed(
                'mode = "mentions" needs the brand account: set handle = '
                '"YourHandle" on the source or handles = { x = "YourHandle" } in [brand]'
            )
        wait = self.budget.wait("users")
        if wait > 0:
            raise RateLimited(
                "the request budget for the user lookup is spent",
                reset_at=self._now() + timedelta(seconds=wait),
            )
        try:
            body = await self._call(
                "users", self._client.get_user, username=self.handle, user_fields="username"
            )
        except tweepy.BadRequest as exc:
            raise SourceDown(
                f"X refused the handle {self.handle!r}: {x_client.reason(exc)}"
            ) from None
        user_id = as_id(get_path(body, "data", "id"))
        if user_id is None:
            problem = x_client.describe_errors(body.get("errors")) or "no user in the answer"
            raise SourceDown(f"cannot find the X account @{self.handle} ({problem}); check handle")
        self._user_id = user_id
        return user_id

    # -- one request ----------------------------------------------------------------

    async def _call(
        self, endpoint: str, method: Callable[..., Any], *args: Any, **params: Any
    ) -> Mapping[str, Any]:
        self.budget.spend(endpoint)
        where = ENDPOINTS.get(endpoint, endpoint)
        try:
            body = await asyncio.to_thread(method, *args, **params)
        except tweepy.TooManyRequests as exc:
            raise RateLimited(
                f"X rate limit reached for the {where}", reset_at=x_client.reset_time(exc)
            ) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            if x_client.web_page(exc):
                status = x_client.status_of(exc) or 403
                raise blocked(f"X's {where}: HTTP {status}", status) from None
            raise AuthFailed(
                f"X refused the credentials for the {where} ({x_client.reason(exc)}); check "
                "bearer_token, and that the app's access tier includes this endpoint "
                "(mentions and search need Basic or above)"
            ) from None
        except tweepy.BadRequest:
            raise
        except tweepy.HTTPException as exc:
            raise SourceDown(f"the {where} failed: X answered {x_client.reason(exc)}") from None
        except requests.JSONDecodeError:
            raise SourceDown(f"the {where} failed: X sent a malformed answer (not JSON)") from None
        except requests.Timeout:
            raise SourceDown(
                f"the {where} failed: X did not answer within {self.settings.timeout:g}s"
            ) from None
        except AnswerTooLarge as exc:
            raise SourceDown(f"the {where} failed: X's {exc}") from None
        except requests.RequestException as exc:
            raise SourceDown(f"the {where} failed: cannot reach X ({type(exc).__name__})") from None
        if not isinstance(body, Mapping):
            raise SourceDown(
                f"the {where} failed: X sent {type(body).__name__} instead of a JSON object"
            )
        return body


# X's own words quoted in a log line: enough for its reason, never a whole answer
_ERROR_CHARS = 200


def _errors_said(page: Mapping[str, Any]) -> str:
    """X's own words, when a page holds only its `errors` (an account it will not
    serve answers 200 with those): ": title: detail" of the first, or ""."""
    first = next(iter(as_list(page.get("errors"))), None)
    if not isinstance(first, Mapping):
        return ""
    words = [w for w in (first.get("title"), first.get("detail")) if isinstance(w, str) and w]
    return ": " + preview(": ".join(words), _ERROR_CHARS) if words else ""
