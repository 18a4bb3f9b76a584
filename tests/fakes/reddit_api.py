"""A fake Reddit at the HTTP level: aiohttp.web on 127.0.0.1, an ephemeral port.

praw talks to it as it would to Reddit (base_url sets both praw's oauth_url and
reddit_url): the OAuth token endpoint, /api/v1/me, subreddit search, /new and
/comments listings, /message/mentions, POST /api/comment and /user/<name>/comments.
Posts are built from real ones recorded from Reddit by praw's test suite
(tests/data/api/reddit/), with only ids, text, authors and times changed, and served
in Reddit's real Listing envelope, newest first, paged with `after`.

Scenario knobs: `closed` (a subreddit answering 403 private / 404 banned),
`fail(...)` (the next matching requests answer with an error), `locked`/`archived`
posts, and `requests` (what was asked, in order).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

RECORDED = Path(__file__).resolve().parent.parent / "data" / "api" / "reddit"


def recorded(name: str) -> list[dict[str, Any]]:
    exchanges: list[dict[str, Any]] = json.loads((RECORDED / name).read_text("utf-8"))
    return exchanges


def _first_child(name: str, pick: Callable[[dict[str, Any]], bool] = lambda c: True) -> Any:
    for exchange in recorded(name):
        body = exchange["body"]
        if isinstance(body, dict) and body.get("kind") == "Listing":
            return next(c for c in body["data"]["children"] if pick(c))
    raise LookupError(name)


# Real things to copy: a self post, a comment, and /api/comment's answer.
_SUBMISSIONS_PAGE = "TestSubredditStreams.test_submissions.first-page.json"
_SUBMISSION: dict[str, Any] = _first_child(_SUBMISSIONS_PAGE, lambda c: bool(c["data"]["selftext"]))
_COMMENT: dict[str, Any] = _first_child("TestSubredditStreams.test_comments.first-page.json")
_REPLY_ANSWER: dict[str, Any] = recorded("TestComment.test_reply.json")[-1]["body"]
_LISTING: dict[str, Any] = recorded(_SUBMISSIONS_PAGE)[0]["body"]

_ids = itertools.count(1)


def _new_id() -> str:
    return f"zz{next(_ids):05d}"


def submission(
    title: str,
    selftext: str = "",
    *,
    subreddit: str = "LumenetUK",
    author: str | None = "ana_lima",
    created_utc: float,
    short_id: str | None = None,
    locked: bool = False,
    archived: bool = False,
) -> dict[str, Any]:
    thing = copy.deepcopy(_SUBMISSION)
    short_id = short_id or _new_id()
    data = thing["data"]
    data.update(
        id=short_id,
        name=f"t3_{short_id}",
        title=title,
        selftext=selftext,
        selftext_html=None,
        subreddit=subreddit,
        author=author if author is not None else "[deleted]",
        created_utc=created_utc,
        created=created_utc,
        permalink=f"/r/{subreddit}/comments/{short_id}/post/",
        url=f"https://www.reddit.com/r/{subreddit}/comments/{short_id}/post/",
        num_comments=0,
        score=1,
        locked=locked,
        archived=archived,
    )
    return thing


def comment(
    body: str,
    *,
    link_id: str,
    parent_id: str | None = None,
    subreddit: str = "LumenetUK",
    author: str | None = "ana_lima",
    created_utc: float,
    short_id: str | None = None,
) -> dict[str, Any]:
    thing = copy.deepcopy(_COMMENT)
    short_id = short_id or _new_id()
    thing["data"].update(
        id=short_id,
        name=f"t1_{short_id}",
        body=body,
        body_html=None,
        link_id=link_id,
        parent_id=parent_id or link_id,
        subreddit=subreddit,
        author=author if author is not None else "[deleted]",
        created_utc=created_utc,
        created=created_utc,
        permalink=f"/r/{subreddit}/comments/{link_id[3:]}/post/{short_id}/",
        score=1,
    )
    return thing


@dataclass
class Fault:
    path: str  # answers requests whose path contains this
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    # for POST /api/comment: take the comment, then answer with the fault anyway
    apply_first: bool = False
    # close the connection instead of answering (a proxy dropping it)
    drop: bool = False


class FakeReddit:
    def __init__(self) -> None:
        self.clients: dict[str, str | None] = {"script-id": "script-secret", "app-id": None}
        self.accounts: dict[str, str] = {"lumenet_help": "hunter2"}
        self.submissions: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.inbox: list[dict[str, Any]] = []
        self.closed: dict[str, tuple[int, str]] = {}  # subreddit -> (status, reason)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.remaining = 600
        self._tokens: dict[str, str | None] = {}  # access token -> account (None: app-only)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scenario -------------------------------------------------------------------

    def fail(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        apply_first: bool = False,
        drop: bool = False,
    ) -> None:
        default = {"message": "Error", "error": status}
        body = default if body is None else body
        self.faults.append(Fault(path, status, body, headers or {}, times, apply_first, drop))

    def calls(self, method: str, path_part: str) -> list[dict[str, str]]:
        return [q for m, p, q in self.requests if m == method and path_part in p]

    def thing(self, fullname: str) -> dict[str, Any] | None:
        for t in [*self.submissions, *self.comments]:
            if t["data"]["name"] == fullname:
                return t
        return None

    # -- HTTP -------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].strip("/")
        form = dict(await request.post()) if request.method == "POST" else {}
        query = {**dict(request.query), **{k: str(v) for k, v in form.items()}}
        self.requests.append((request.method, path, query))
        if path == "/api/v1/access_token":
            fault = self._fault(path)  # a proxy or block page in front of the sign-in
            if fault is not None:
                return self._answer(fault.body, fault.status, fault.headers)
            return self._token(request, form)
        account = self._bearer(request)
        if account is False:
            return web.json_response(
                {"message": "Unauthorized", "error": 401},
                status=401,
                headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
        fault = self._fault(path)
        if fault is not None and not fault.apply_first:
            return self._faulty(request, fault)
        response = self._route(request.method, path, query, account)
        if fault is not None:
            return self._faulty(request, fault)
        return response

    def _faulty(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.drop and request.transport is not None:
            request.transport.close()  # the client sees the connection end, no answer
        return self._answer(fault.body, fault.status, fault.headers)

    def _fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path in path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _answer(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.remaining = max(self.remaining - 1, 0)
        limits = {
            "x-ratelimit-used": str(600 - self.remaining),
            "x-ratelimit-remaining": f"{float(self.remaining)}",
            "x-ratelimit-reset": "300",
        }
        limits.update(headers or {})
        if isinstance(body, str):
            return web.Response(text=body, status=status, headers=limits, content_type="text/html")
        return web.json_response(body, status=status, headers=limits)

    def _token(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        client_id, secret = _basic(request.headers.get("Authorization", ""))
        if client_id not in self.clients or (self.clients[client_id] or "") != secret:
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        grant = form.get("grant_type")
        account: str | None = None
        if grant == "password":
            if self.accounts.get(str(form.get("username"))) != form.get("password"):
                return web.json_response({"error": "invalid_grant"})
            account = str(form["username"])
        elif grant not in (
            "client_credentials",
            "https://oauth.reddit.com/grants/installed_client",
        ):
            return web.json_response({"error": "unsupported_grant_type"})
        token = secrets.token_hex(8)
        self._tokens[token] = account
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": "*"}
        )

    def _bearer(self, request: web.Request) -> str | Literal[False] | None:
        """The account behind the bearer token, None for an app-only token, False when
        the token is unknown."""
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("bearer ").removeprefix("Bearer ")
        return self._tokens.get(token, False)

    def _route(
        self, method: str, path: str, query: dict[str, str], account: str | None
    ) -> web.StreamResponse:
        parts = path.strip("/").split("/")
        if method == "GET" and parts[0] == "r" and len(parts) == 3:
            sub, what = parts[1], parts[2]
            if sub in self.closed:
                status, reason = self.closed[sub]
                if status == 302:  # Reddit sends a name it does not know to its search page
                    where = {"location": f"https://www.reddit.com/subreddits/search?q={sub}"}
                    return self._answer({}, 302, where)
                message = "Forbidden" if status == 403 else "Not Found"
                return self._answer({"reason": reason, "message": message, "error": status}, status)
            if what == "new":
                return self._listing(self._in(self.submissions, sub), query)
            if what == "comments":
                return self._listing(self._in(self.comments, sub), query)
            if what == "search":
                return self._listing(self._search(sub, query.get("q", "")), query)
        if method == "GET" and path == "/message/mentions":
            if account is None:
                return self._answer({"message": "Forbidden", "error": 403}, 403)
            return self._listing(self.inbox, query)
        if method == "GET" and path == "/api/v1/me":
            if account is None:
                return self._answer({"message": "Forbidden", "error": 403}, 403)
            return self._answer({"name": account, "id": "2abc", "comment_karma": 1})
        if method == "GET" and parts[0] == "user" and len(parts) == 3 and parts[2] == "comments":
            mine = [c for c in self.comments if c["data"]["author"] == parts[1]]
            return self._listing(mine, query)
        if method == "POST" and path == "/api/comment":
            return self._reply(query, account)
        return self._answer({"message": "Not Found", "error": 404}, 404)

    def _in(self, things: list[dict[str, Any]], sub: str) -> list[dict[str, Any]]:
        if sub.lower() == "all":
            return things
        return [t for t in things if t["data"]["subreddit"].lower() == sub.lower()]

    def _search(self, sub: str, q: str) -> list[dict[str, Any]]:
        terms = [t.strip().strip('"').lower() for t in q.split(" OR ") if t.strip()]

        def hit(t: dict[str, Any]) -> bool:
            text = f"{t['data']['title']} {t['data']['selftext']}".lower()
            return any(term in text for term in terms)

        return [t for t in self._in(self.submissions, sub) if hit(t)]

    def _listing(self, things: list[dict[str, Any]], query: dict[str, str]) -> web.StreamResponse:
        # newest first; among posts of the same second, the later-made one first
        ordered = [
            t
            for _, t in sorted(
                enumerate(things), key=lambda p: (p[1]["data"]["created_utc"], p[0]), reverse=True
            )
        ]
        start = 0
        if query.get("after"):
            names = [t["data"]["name"] for t in ordered]
            start = names.index(query["after"]) + 1 if query["after"] in names else len(names)
        limit = min(int(query.get("limit", "25")), 100)
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        listing = copy.deepcopy(_LISTING)
        listing["data"].update(
            children=page,
            dist=len(page),
            after=page[-1]["data"]["name"] if more and page else None,
            before=None,
        )
        return self._answer(listing)

    def _reply(self, form: dict[str, str], account: str | None) -> web.StreamResponse:
        if account is None:
            return self._answer({"message": "Forbidden", "error": 403}, 403)
        target = self.thing(form.get("thing_id", ""))
        if target is None:
            return self._answer(
                {"json": {"errors": [["DELETED_COMMENT", "that comment is deleted", "parent"]]}}
            )
        data = target["data"]
        link_id = data["name"] if data["name"].startswith("t3_") else data["link_id"]
        thread = self.thing(link_id) or target
        if thread["data"].get("locked"):
            return self._answer(
                {"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}}
            )
        if thread["data"].get("archived"):
            error = [
                "TOO_OLD",
                "that's a piece of history now; it's too late to reply to it",
                "parent",
            ]
            return self._answer({"json": {"errors": [error]}})
        created = max([t["data"]["created_utc"] for t in [*self.submissions, *self.comments]] + [0])
        made = comment(
            form.get("text", ""),
            link_id=link_id,
            parent_id=data["name"],
            subreddit=data["subreddit"],
            author=account,
            created_utc=created + 1,
        )
        self.comments.append(made)
        answer = copy.deepcopy(_REPLY_ANSWER)
        answer["json"]["data"]["things"] = [made]
        return self._answer(answer)


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header[6:]).decode("utf-8")
    except ValueError:
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
