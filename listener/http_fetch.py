"""JSON over HTTP for sources and publishers, on top of listener.http_errors (which
says what each answer means): transient faults retried with jittered backoff, the
Link header's paging URLs, and the rate-limit budget read from every answer.

    429                                  RateLimited (at once: the reset time is known)
    401, 403                             AuthFailed, or Refused for a request without
                                         credentials and for a web page (error_for)
    other 4xx                            Refused
    5xx, timeouts, connection faults     retried `retries` times, then SourceDown
    a 2xx body that is not JSON          SourceDown

Generic on purpose: any aiohttp-based source can use it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from listener.base import SourceDown
from listener.http_errors import Answer, Refused, error_for, is_web_page, request, reset_at

# An error body is read this far for the platform's reason; a stream is not read at all.
_ERROR_BODY = 64 * 1024
# One link of a Link header: <url>; rel="next"
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True)
class JsonResponse:
    payload: Any
    status: int
    headers: Mapping[str, str] = field(repr=False)
    # rel -> URL from the Link header (rel="next", rel="prev", ...)
    links: Mapping[str, URL] = field(default_factory=dict)


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: URL | str,
    *,
    params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    retries: int = 2,
    retry_delay: float = 0.5,
    what: str = "request",
    credentials: bool,
    rng: random.Random | None = None,
) -> JsonResponse:
    """One HTTP request whose answer is JSON. 5xx answers and network faults are
    retried up to `retries` times, waiting retry_delay x 2^n (+-50% jitter) so
    clients that failed together do not retry together; pass retries=0 when a
    blind repeat is not safe. `credentials`: whether `headers` carry any (error_for)."""
    attempt = 0
    while True:
        try:
            answer = await request(
                session, method, str(url), what=what, params=params, headers=headers, json=json_body
            )
            error = error_for(answer, what, credentials=credentials)
            if error is None:
                break
            if answer.status < 500:
                raise error  # refused, unauthorised or rate-limited: asking again now won't help
            failure: SourceDown = SourceDown(str(error))
        except Refused:
            raise
        except SourceDown as exc:  # timeouts, resets, could not connect
            failure = exc
        if attempt >= retries:
            raise failure
        attempt += 1
        await asyncio.sleep(retry_delay * 2 ** (attempt - 1) * (rng or random).uniform(0.5, 1.5))
    # a body that is not JSON is the server's answer, not a glitch: not asked again
    return _json(answer, what)


def _json(answer: Answer, what: str) -> JsonResponse:
    if answer.body is None:
        # http_errors leaves a body that does not parse as None: say why
        if is_web_page(answer.headers.get("Content-Type", ""), answer.text):
            # a web page where the API should be: a login wall, a proxy's error page,
            # base_url naming the site rather than its API
            raise SourceDown(f"{what}: answered a web page (HTML), not the API's JSON")
        try:
            json.loads(answer.text)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise SourceDown(f"{what}: malformed JSON ({reason})") from None
    return JsonResponse(answer.body, answer.status, answer.headers, links(answer.headers))


def links(headers: Mapping[str, str]) -> dict[str, URL]:
    """rel -> URL from a Link header; a link that is not a URL is left out."""
    found: dict[str, URL] = {}
    for target, params in _LINK.findall(headers.get("Link", "")):
        rel = _REL.search(params)
        if rel is None:
            continue
        try:
            url = URL(target.strip())
        except ValueError:
            continue
        if url.scheme in ("http", "https") and url.host:
            for name in rel.group(1).split():
                found.setdefault(name, url)
    return found


async def raise_for_status(resp: aiohttp.ClientResponse, what: str, *, credentials: bool) -> None:
    """For a response read as it arrives (a stream): the error a non-2xx answer means
    (`credentials` as for error_for)."""
    if resp.status < 300:
        return
    raw = await resp.content.read(_ERROR_BODY)
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    answer = Answer(resp.status, CIMultiDict(resp.headers), body, text, raw)
    error = error_for(answer, what, credentials=credentials)
    if error is not None:
        raise error


def rate_limit_pause(
    headers: Mapping[str, str], *, keep: int = 1, now: datetime | None = None
) -> float | None:
    """Seconds to wait before the next request when X-RateLimit-Remaining says the
    budget is spent (at most `keep` requests left), or None to go on as usual."""
    remaining = headers.get("X-RateLimit-Remaining")
    try:
        left = int(float(remaining)) if remaining is not None else None
    except ValueError:
        return None
    if left is None or left > keep:
        return None
    now = now or datetime.now(UTC)
    reset = reset_at({"X-RateLimit-Reset": headers.get("X-RateLimit-Reset", "")}, now)
    if reset is None:
        return None
    return max((reset - now).total_seconds(), 1.0)
