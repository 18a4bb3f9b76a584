"""A fake X API v2 on 127.0.0.1 for tweepy to talk to, serving the shapes the real
API sends (tests/data/api/x/ and ../shared/data/api/x/ hold recorded answers).

It keeps a small world of users and tweets and answers:

    GET  /2/users/by/username/:username      GET  /2/users/:id/mentions
    GET  /2/tweets/search/recent             GET  /2/users/:id/tweets
    GET  /2/users/:id/liked_tweets           POST /2/tweets
    POST /2/users/:id/likes

Like X it returns only the fields and expansions asked for, pages newest first with
meta.next_token (a token is good only for the query it came from), adds an `errors`
list beside `data` for authors it cannot find, answers 429 with x-rate-limit-* headers
past a per-endpoint budget, refuses a bad bearer token or OAuth 1.0a signature with
401, and refuses duplicate content with 403. Faults (a status, a body that is not
JSON, a slow answer) can be queued per endpoint. Posts and likes are recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape, unescape
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from oauthlib.oauth1.rfc5849 import signature

BEARER = "fake-bearer-token"
CONSUMER_KEY = "fake-consumer-key"
CONSUMER_SECRET = "fake-consumer-secret"
BRAND_ID = "1001"
ACCESS_TOKEN = f"{BRAND_ID}-fake-access-token"
ACCESS_TOKEN_SECRET = "fake-access-token-secret"

DEFAULT_TWEET_KEYS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER_KEYS = ("id", "name", "username")
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
INVALID = "https://api.twitter.com/2/problems/invalid-request"
_LINK = re.compile(r"https?://\S+")
WEB_HOST = "https://x.com"


@dataclass
class Fault:
    status: int = 503
    body: bytes = b'{"title": "Service Unavailable", "status": 503}'
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between the body's bytes, each sent alone
    after: bool = False  # the request is carried out first (a gateway failing on the way back)


async def _trickled(request: web.Request, fault: Fault) -> web.StreamResponse:
    response = web.StreamResponse(status=fault.status, headers=fault.headers)
    response.content_type = fault.content_type
    response.content_length = len(fault.body)
    await response.prepare(request)
    for i in range(len(fault.body)):
        await response.write(fault.body[i : i + 1])
        await asyncio.sleep(fault.trickle)
    await response.write_eof()
    return response


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeX:
    brand_username: str = "AcmeHelp"
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # endpoint -> requests allowed before 429 (until reset_limits)
    limits: dict[str, int] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)
    likes: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # drop `includes` from answers (X leaves it out when nothing is found)
    omit_includes: bool = False
    # a broken X: every page carries this same meta.next_token, and asking with it
    # gets the first page again
    stuck_token: str | None = None
    # versions of edited tweets that a newer one replaced (edit_tweet)
    superseded: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    def __post_init__(self) -> None:
        self._ids = itertools.count(2_123_000_000_000_000_001)
        self._tokens: dict[str, tuple[str, int]] = {}
        self._runner: web.AppRunner | None = None
        self.add_user(BRAND_ID, self.brand_username, "Acme Help", followers=50_000)

    # -- the world ----------------------------------------------------------------

    def add_user(
        self, user_id: str, username: str, name: str, *, followers: int = 10, verified: bool = False
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "name": name,
            "username": username,
            "verified": verified,
            "verified_type": "blue" if verified else "none",
            "public_metrics": {
                "followers_count": followers,
                "following_count": 3,
                "tweet_count": 120,
                "listed_count": 0,
            },
        }
        self.users[user_id] = user
        return user

    def add_tweet(
        self,
        text: str,
        *,
        author_id: str,
        age: timedelta = timedelta(minutes=5),
        references: tuple[tuple[str, str], ...] = (),
        lang: str = "en",
        photos: int = 0,
    ) -> dict[str, Any]:
        """A tweet whose author typed `text` (and attached `photos`): stored, and
        served, as X does, with &, < and > escaped and each link (and each photo, at
        the end) a t.co one that entities.urls says where it leads."""
        tweet_id = str(next(self._ids))
        text, urls = _shortened(text, tweet_id, photos)
        replied = next((rid for kind, rid in references if kind == "replied_to"), None)
        parent = self.tweets.get(replied) if replied else None
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": escape(text, quote=False),
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": iso(self.now - age),
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "lang": lang,
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 2,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 40,
            },
            "entities": {},
        }
        if references:
            tweet["referenced_tweets"] = [{"type": k, "id": i} for k, i in references]
        if parent:
            tweet["in_reply_to_user_id"] = parent["author_id"]
        mentioned = re.findall(r"@(\w+)", text)
        if mentioned:
            tweet["entities"] = {
                "mentions": [{"username": u, "start": 0, "end": len(u) + 1} for u in mentioned]
            }
        if urls:
            tweet["entities"]["urls"] = urls
        if photos:
            keys = [u["media_key"] for u in urls if "media_key" in u]
            tweet["attachments"] = {"media_keys": keys}
        self.tweets[tweet_id] = tweet
        return tweet

    def edit_tweet(self, tweet_id: str, text: str) -> dict[str, Any]:
        """The author edits a tweet, as X does it: a new tweet with an id of its own
        whose edit_history_tweet_ids lists the post's versions, oldest first. X serves
        the newest version from then on, and refuses a reply to an older one."""
        old = self.tweets.pop(tweet_id)
        self.superseded[tweet_id] = old
        references = tuple((r["type"], r["id"]) for r in old.get("referenced_tweets", []))
        new = self.add_tweet(text, author_id=old["author_id"], age=timedelta(0))
        if references:
            new["referenced_tweets"] = [{"type": k, "id": i} for k, i in references]
        new["conversation_id"] = old["conversation_id"]
        new["edit_history_tweet_ids"] = [*old["edit_history_tweet_ids"], new["id"]]
        return new

    def fail_next(self, endpoint: str, fault: Fault) -> None:
        self.faults.setdefault(endpoint, deque()).append(fault)

    def reset_limits(self) -> None:
        self.counts.clear()

    def params_of(self, endpoint: str) -> list[dict[str, str]]:
        return [q for e, _, q in self.calls if e == endpoint]

    # -- serving ------------------------------------------------------------------

    async def start(self) -> FakeX:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/2/users/by/username/{username}", self._user_by_name)
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/tweets/search/recent", self._search)
        app.router.add_get("/2/users/{id}/tweets", self._user_tweets)
        app.router.add_get("/2/users/{id}/liked_tweets", self._liked)
        app.router.add_post("/2/tweets", self._create)
        app.router.add_post("/2/users/{id}/likes", self._like)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def endpoint(request: web.Request) -> str:
        path, method = request.path, request.method
        if path.startswith("/2/users/by/username/"):
            return "users"
        if path == "/2/tweets/search/recent":
            return "search"
        if path == "/2/tweets":
            return "create_tweet"
        if path.endswith("/mentions"):
            return "mentions"
        if path.endswith("/liked_tweets"):
            return "liked_tweets"
        if path.endswith("/likes") and method == "POST":
            return "like"
        if path.endswith("/tweets"):
            return "user_tweets"
        return "unknown"

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = self.endpoint(request)
        self.calls.append((endpoint, request.method, dict(request.query)))
        queued = self.faults.get(endpoint)
        if queued:
            fault = queued.popleft()
            if fault.after:
                await handler(request)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.trickle:
                return await _trickled(request, fault)
            return web.Response(
                status=fault.status,
                body=fault.body,
                content_type=fault.content_type,
                headers=fault.headers,
            )
        if not self._authorized(request, user_context=request.method == "POST"):
            return problem(401, "Unauthorized", "Unauthorized")
        self.counts[endpoint] += 1
        limit = self.limits.get(endpoint)
        reset = str(int(time.time()) + 900)
        if limit is not None and self.counts[endpoint] > limit:
            refusal = problem(429, "Too Many Requests", "Too Many Requests")
            refusal.headers.update(
                {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": "0"}
            )
            refusal.headers["x-rate-limit-reset"] = reset
            return refusal
        response = await handler(request)
        if limit is not None:
            response.headers["x-rate-limit-limit"] = str(limit)
            response.headers["x-rate-limit-remaining"] = str(limit - self.counts[endpoint])
            response.headers["x-rate-limit-reset"] = reset
        return response

    def _authorized(self, request: web.Request, *, user_context: bool) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and not user_context:
            return secrets.compare_digest(header, f"Bearer {BEARER}")
        if not header.startswith("OAuth "):
            return False
        params = signature.collect_parameters(
            uri_query=request.query_string,
            headers={"Authorization": header},
            exclude_oauth_signature=False,
        )
        given = dict(params)
        if given.get("oauth_consumer_key") != CONSUMER_KEY:
            return False
        if given.get("oauth_token") != ACCESS_TOKEN:
            return False
        signed = SimpleNamespace(
            http_method=request.method,
            uri=str(request.url.with_query(None)),
            params=[(k, v) for k, v in params if k != "oauth_signature"],
            signature=given.get("oauth_signature", ""),
        )
        verified: bool = signature.verify_hmac_sha1(signed, CONSUMER_SECRET, ACCESS_TOKEN_SECRET)
        return verified

    # -- reads ----------------------------------------------------------------------

    async def _user_by_name(self, request: web.Request) -> web.Response:
        username = request.match_info["username"]
        for user in self.users.values():
            if user["username"].casefold() == username.casefold():
                return web.json_response({"data": shape(user, DEFAULT_USER_KEYS, request, "user")})
        return web.json_response(
            {
                "errors": [
                    {
                        "value": username,
                        "detail": f"Could not find user with username: [{username}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "username",
                        "resource_id": username,
                        "type": NOT_FOUND,
                    }
                ]
            }
        )

    async def _mentions(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["id"])
        if user is None:
            return problem(400, "Invalid Request", "The `id` query parameter value is not valid")
        handle = "@" + user["username"].casefold()
        found = [t for t in self.tweets.values() if handle in t["text"].casefold()]
        return self._page(request, "mentions", found, "pagination_token", minimum=5)

    async def _search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        if not query:
            return problem(400, "Invalid Request", "The `query` query parameter is missing")
        start = request.query.get("start_time")
        # recent search reaches back 7 days from the moment X reads the request
        earliest = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)
        if start and datetime.fromisoformat(start.replace("Z", "+00:00")) < earliest:
            return invalid(
                "start_time",
                start,
                f"Invalid 'start_time':'{start}'. 'start_time' must be on or after "
                f"{earliest.strftime('%Y-%m-%dT%H:%MZ')}",
            )
        found = [t for t in self.tweets.values() if matches(query, t)]
        return self._page(request, "search", found, "next_token", minimum=10)

    async def _user_tweets(self, request: web.Request) -> web.Response:
        author = request.match_info["id"]
        found = [t for t in self.tweets.values() if t["author_id"] == author]
        return self._page(request, "user_tweets", found, "pagination_token", minimum=5)

    async def _liked(self, request: web.Request) -> web.Response:
        liker = request.match_info["id"]
        liked = {tweet_id for user, tweet_id in self.likes if user == liker}
        found = [t for t in self.tweets.values() if t["id"] in liked]
        return self._page(request, "liked_tweets", found, "pagination_token", minimum=5)

    def _page(
        self,
        request: web.Request,
        endpoint: str,
        tweets: list[dict[str, Any]],
        token_name: str,
        *,
        minimum: int,
    ) -> web.Response:
        q = request.query
        size = int(q.get("max_results", "10"))
        if not minimum <= size <= 100:
            return invalid("max_results", q.get("max_results", ""))
        if "since_id" in q:
            tweets = [t for t in tweets if int(t["id"]) > int(q["since_id"])]
        if "start_time" in q:
            edge = datetime.fromisoformat(q["start_time"].replace("Z", "+00:00"))
            tweets = [t for t in tweets if datetime.fromisoformat(t["created_at"]) >= edge]
        tweets.sort(key=lambda t: int(t["id"]), reverse=True)
        query_key = json.dumps(
            [endpoint, request.path, sorted((k, v) for k, v in q.items() if k != token_name)]
        )
        offset = 0
        if self.stuck_token is not None and q.get(token_name) == self.stuck_token:
            pass  # served as the first page
        elif token_name in q:
            known = self._tokens.get(q[token_name])
            if known is None or known[0] != query_key:
                return invalid(token_name, q[token_name])
            offset = known[1]
        chunk = tweets[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if chunk:
            meta["newest_id"] = chunk[0]["id"]
            meta["oldest_id"] = chunk[-1]["id"]
        if self.stuck_token is not None and chunk:
            meta["next_token"] = self.stuck_token
        elif offset + size < len(tweets):
            token = secrets.token_hex(12)
            self._tokens[token] = (query_key, offset + size)
            meta["next_token"] = token
        if not chunk:
            return web.json_response({"meta": meta})
        body: dict[str, Any] = {
            "data": [shape(t, DEFAULT_TWEET_KEYS, request, "tweet") for t in chunk]
        }
        includes, errors = self._includes(request, chunk)
        if includes and not self.omit_includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        body["meta"] = meta
        return web.json_response(body)

    def _includes(
        self, request: web.Request, chunk: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        expansions = set(filter(None, request.query.get("expansions", "").split(",")))
        user_ids: list[tuple[str, str]] = []
        tweet_ids: list[str] = []
        for t in chunk:
            if "author_id" in expansions:
                user_ids.append(("author_id", t["author_id"]))
            if "in_reply_to_user_id" in expansions and "in_reply_to_user_id" in t:
                user_ids.append(("in_reply_to_user_id", t["in_reply_to_user_id"]))
            if "referenced_tweets.id" in expansions:
                tweet_ids.extend(r["id"] for r in t.get("referenced_tweets", []))
        users: dict[str, dict[str, Any]] = {}
        errors = []
        for parameter, user_id in user_ids:
            user = self.users.get(user_id)
            if user is None:
                errors.append(not_found("user", parameter, user_id))
            else:
                users[user_id] = shape(user, DEFAULT_USER_KEYS, request, "user")
        tweets = {
            i: shape(self.tweets[i], DEFAULT_TWEET_KEYS, request, "tweet")
            for i in tweet_ids
            if i in self.tweets
        }
        # a quoted or parent tweet deleted since: X says so beside the page
        errors.extend(
            not_found("tweet", "referenced_tweets.id", i)
            for i in dict.fromkeys(tweet_ids)
            if i not in self.tweets
        )
        includes: dict[str, Any] = {}
        if users:
            includes["users"] = list(users.values())
        if tweets:
            includes["tweets"] = list(tweets.values())
        return includes, errors

    # -- writes ---------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        payload = await request.json()
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            return problem(400, "Invalid Request", "text is required")
        reply_to = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and reply_to not in self.tweets:
            return problem(
                400,
                "Invalid Request",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
        # X stores text with every link swapped for a t.co one and &, < and >
        # escaped: add_tweet does both
        stored = text
        if any(
            t["author_id"] == BRAND_ID
            and _LINK.sub("", unescape(t["text"])) == _LINK.sub("", stored)
            for t in self.tweets.values()
        ):
            return problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        references = (("replied_to", reply_to),) if reply_to else ()
        if reply_to is not None:
            # a reply's text starts with the @handle it answers: X puts it there
            author = self.users[self.tweets[reply_to]["author_id"]]["username"]
            if not stored.startswith(f"@{author} "):
                stored = f"@{author} {stored}"
        tweet = self.add_tweet(stored, author_id=BRAND_ID, age=timedelta(0), references=references)
        self.posted.append({"id": tweet["id"], "text": text, "in_reply_to": reply_to})
        return web.json_response(
            {
                "data": {
                    "id": tweet["id"],
                    "text": tweet["text"],
                    "edit_history_tweet_ids": [tweet["id"]],
                }
            },
            status=201,
            headers={"location": f"https://api.twitter.com/2/tweets/{tweet['id']}"},
        )

    async def _like(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != BRAND_ID:
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        payload = await request.json()
        tweet_id = payload.get("tweet_id")
        if tweet_id not in self.tweets:
            return problem(400, "Invalid Request", "tweet_id is not valid")
        if (BRAND_ID, tweet_id) not in self.likes:
            self.likes.append((BRAND_ID, tweet_id))
        return web.json_response({"data": {"liked": True}})


# -- shapes -------------------------------------------------------------------------


def _shortened(text: str, tweet_id: str, photos: int) -> tuple[str, list[dict[str, Any]]]:
    """`text` with each link a t.co one and `photos` t.co links at the end, and the
    url entities that say where each leads (a photo's with its media_key)."""
    urls: list[dict[str, Any]] = []

    def short(target: str, **more: Any) -> str:
        link = f"https://t.co/{secrets.token_hex(5)}"
        display = target.split("://", 1)[-1]
        urls.append({"url": link, "expanded_url": target, "display_url": display, **more})
        return link

    text = _LINK.sub(lambda m: short(m.group(0)), text)
    for n in range(1, photos + 1):
        owner = f"{WEB_HOST}/i/web/status/{tweet_id}/photo/{n}"
        link = short(owner, media_key=f"3_{tweet_id}{n}")
        text = f"{text} {link}" if text else link
    for url in urls:  # where each link stands, in characters
        url["start"] = text.index(url["url"])
        url["end"] = url["start"] + len(url["url"])
    return text, urls


def shape(
    obj: Mapping[str, Any], defaults: tuple[str, ...], request: web.Request, kind: str
) -> dict[str, Any]:
    """Only the default keys plus the ones asked for in <kind>.fields (and those an
    expansion needs), as X does."""
    asked = set(filter(None, request.query.get(f"{kind}.fields", "").split(",")))
    if kind == "tweet":
        expansions = set(request.query.get("expansions", "").split(","))
        if "author_id" in expansions:
            asked.add("author_id")
        if "referenced_tweets.id" in expansions:
            asked.add("referenced_tweets")
        if "in_reply_to_user_id" in expansions:
            asked.add("in_reply_to_user_id")
    return {k: v for k, v in obj.items() if k in defaults or k in asked}


def matches(query: str, tweet: Mapping[str, Any]) -> bool:
    """A small part of X's query language: words (all must appear), -word, is:retweet
    and -is:retweet; other operators are ignored."""
    text = unescape(tweet["text"]).casefold()
    retweet = any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", []))
    for term in query.casefold().split():
        negate = term.startswith("-")
        term = term.lstrip("-")
        if term == "is:retweet":
            hit = retweet
        elif ":" in term:
            continue
        else:
            hit = term in text
        if hit == negate:
            return False
    return True


def not_found(kind: str, parameter: str, value: str) -> dict[str, Any]:
    """X's partial error for an object a page refers to but cannot show."""
    return {
        "value": value,
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": value,
        "type": NOT_FOUND,
    }


def problem(status: int, title: str, detail: str) -> web.Response:
    return web.json_response(
        {"title": title, "detail": detail, "type": "about:blank", "status": status},
        status=status,
    )


def invalid(parameter: str, value: str, message: str | None = None) -> web.Response:
    return web.json_response(
        {
            "errors": [
                {
                    "parameters": {parameter: [value]},
                    "message": message
                    or f"The `{parameter}` query parameter value [{value}] is not valid",
                }
            ],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID,
        },
        status=400,
    )
