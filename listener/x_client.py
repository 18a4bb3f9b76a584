"""The edge where Earful meets tweepy: building a tweepy.Client that talks to the
configured base URL with a timeout, and reading tweepy's errors.

tweepy.Client builds every URL from a fixed host ("https://api.twitter.com" in
BaseClient.request) and sends it through its `session`, a requests.Session. Swapping
that session for one that rewrites the host is the one seam tweepy leaves open, and
it keeps OAuth 1.0a signing intact: requests signs the rewritten URL. It also gives
every request a timeout, which tweepy leaves unset, for the whole answer
(listener/http_deadline.py).

tweepy logs each request at debug level ("Making API request: GET
https://api.twitter.com/2/...") with that fixed host, before the session rewrites it:
a filter on its logger writes the host the request really goes to (the configured
base_url) into the line.

Only listener/x.py and responders/publish/x.py import this module; nothing else in
Earful sees tweepy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from listener.http_deadline import DeadlineSession
from listener.http_errors import is_web_page

# the host tweepy writes into every URL
TWEEPY_HOST = "https://api.twitter.com"
DEFAULT_TIMEOUT = 30.0


class _RebasedSession(DeadlineSession):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        response = super().request(method, url, *args, **kwargs)
        if response.status_code >= 400:
            _readable_for_tweepy(response)
        return response


def _readable_for_tweepy(response: requests.Response) -> None:
    """tweepy builds its exception from an error answer and trips on shapes X does not
    send but a proxy or a broken server may: `{"errors": null}`, a list, `[5]` as the
    errors, a reset time of "soon". Such a body is dropped (tweepy then says "503
    Service Unavailable") and such a reset header removed, so the answer still
    becomes the error it is."""
    reset = response.headers.get("x-rate-limit-reset")
    if reset is not None and not reset.strip().isdigit():
        del response.headers["x-rate-limit-reset"]
    try:
        body = response.json()
    except requests.JSONDecodeError:
        return  # tweepy copes with a body that is not JSON
    errors = body.get("errors", []) if isinstance(body, dict) else None
    usable = isinstance(errors, list) and all(isinstance(e, str | dict) for e in errors)
    if usable and isinstance(body, dict) and "error" in body:
        usable = isinstance(body["error"], str | dict)
    if not usable:
        response._content = b""


class _Client(tweepy.Client):  # type: ignore[misc]  # tweepy ships no types
    """tweepy.Client telling the log filter, for the request it makes on this thread,
    where the request really goes."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _sending.base_url = getattr(self.session, "base_url", TWEEPY_HOST)
        try:
            return super().request(*args, **kwargs)
        finally:
            _sending.base_url = None


# each request runs in a worker thread of its own (asyncio.to_thread)
_sending = threading.local()


class _TrueHost(logging.Filter):
    """tweepy's request lines name the host the request really goes to."""

    def filter(self, record: logging.LogRecord) -> bool:
        base = getattr(_sending, "base_url", None)
        if base and base != TWEEPY_HOST and isinstance(record.msg, str):
            record.msg = record.msg.replace(f" {TWEEPY_HOST}/", f" {base}/", 1)
        return True


logging.getLogger("tweepy.client").addFilter(_TrueHost())


def make_client(
    *,
    base_url: str | None,
    bearer_token: str | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    access_token: str | None = None,
    access_token_secret: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tweepy.Client:
    """A tweepy.Client answering plain dicts (the API's own JSON, which the
    normalizer reads) and raising TooManyRequests instead of sleeping on a 429."""
    client = _Client(
        bearer_token=bearer_token,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        access_token=access_token,
        access_token_secret=access_token_secret,
        return_type=dict,
        wait_on_rate_limit=False,
    )
    client.session = _RebasedSession(base_url or TWEEPY_HOST, timeout)
    return client


def reset_time(exc: tweepy.TooManyRequests) -> datetime | None:
    """When X says the rate-limit window ends (x-rate-limit-reset, epoch seconds)."""
    if exc.reset_time is None:
        return None
    try:
        return datetime.fromtimestamp(exc.reset_time, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def status_of(exc: tweepy.HTTPException) -> int | None:
    status = getattr(exc.response, "status_code", None)
    return status if isinstance(status, int) else None


def web_page(exc: tweepy.HTTPException) -> bool:
    """True when the error answer is a web page, not X's JSON: a CDN's block page in
    front of the API (see listener.http_errors.is_web_page)."""
    response = exc.response  # a requests.Response
    return is_web_page(response.headers.get("Content-Type", ""), response.text)


def reason(exc: tweepy.HTTPException) -> str:
    """tweepy's one-line account of an error answer: "403 Forbidden: <X's message>".
    It holds the status and X's messages, never a credential."""
    head, _, messages = str(exc).partition("\n")
    messages = "; ".join(line for line in messages.splitlines() if line.strip())
    return f"{head}: {messages}" if messages else head


def describe_errors(errors: Any, limit: int = 5) -> str:
    """X's partial-failure `errors` list (deleted or suspended authors, withheld
    tweets) as one log line; only X's own titles, details and ids."""
    items = errors if isinstance(errors, Sequence) and not isinstance(errors, str) else []
    parts = []
    for item in items[:limit]:
        if isinstance(item, Mapping):
            text = item.get("detail") or item.get("title") or item.get("message")
            parts.append(str(text) if text else repr(dict(item))[:120])
        else:
            parts.append(repr(item)[:120])
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(parts) + more
