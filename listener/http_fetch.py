"""JSON over HTTP for sources, with the platform's answers turned into the errors the
daemon understands:

    429                                  RateLimited(reset_at from Retry-After or X-RateLimit-Reset)
    401, 403                             AuthFailed
    5xx, timeouts, connection faults     retried a few times with jittered backoff, then SourceDown
    a body that is not JSON              SourceDown
    other 4xx                            Rejected (a SourceDown carrying the status)

Generic on purpose: any aiohttp-based source can use it. Error messages name the
host and path, never the query string or headers, so credentials cannot leak
into logs.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from yarl import URL

from listener.base import AuthFailed, RateLimited, SourceDown
from listener.mention import parse_time

# Statuses worth asking again for: the server or a proxy in front of it is struggling.
TRANSIENT = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
# Bodies larger than this are refused rather than held in memory.
MAX_BODY = 16 * 2**20


class Rejected(SourceDown):
    """The platform refused the request itself (400, 404, 422...): asking again
    unchanged will not help. `status` and `detail` say what the platform said."""

    def __init__(self, message: str, *, status: int, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class Sessions:
    """The daemon's shared session when one is given (SourceContext.http), or else a
    private one, made on first use and closed by `aclose` (tests, one-off tools)."""

    def __init__(self, shared: Callable[[], Awaitable[Any]] | None = None) -> None:
        self._shared = shared
        self._own: aiohttp.ClientSession | None = None

    async def get(self) -> aiohttp.ClientSession:
        if self._shared is not None:
            session: aiohttp.ClientSession = await self._shared()
            return session
        if self._own is None or self._own.closed:
            self._own = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._own

    async def aclose(self) -> None:
        if self._own is not None and not self._own.closed:
            await self._own.close()


@dataclass(frozen=True)
class JsonResponse:
    payload: Any
    status: int
    headers: Mapping[str, str] = field(repr=False)
    # rel -> URL from the Link header (rel="next", rel="prev", ...)
    links: Mapping[str, URL] = field(default_factory=dict)


def where(url: URL | str) -> str:
    """host/path of a URL: enough to say what failed, nothing secret."""
    u = URL(str(url))
    return f"{u.host or ''}{u.path}"


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
    rng: random.Random | None = None,
) -> JsonResponse:
    """One HTTP request whose answer is JSON. Transient faults are retried up to
    `retries` times (waiting retry_delay x 2^n, +-50% jitter); pass retries=0 for
    requests that must not be repeated blindly."""
    target = URL(str(url))
    attempt = 0
    while True:
        try:
            async with session.request(
                method, target, params=params, headers=headers, json=json_body
            ) as resp:
                try:
                    check_status(resp, what)
                except Rejected as exc:
                    raise await _with_detail(exc, resp) from None
                body = await resp.content.read(MAX_BODY + 1)
                if len(body) > MAX_BODY:
                    raise SourceDown(f"{what}: {where(target)} sent more than {MAX_BODY} bytes")
                payload = parse_json(body, what, target)
                return JsonResponse(payload, resp.status, resp.headers, links_of(resp))
        except _Transient as exc:
            failure: SourceDown = SourceDown(str(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = SourceDown(f"{what}: {where(target)} unreachable: {describe(exc)}")
        if attempt >= retries:
            raise failure
        attempt += 1
        await asyncio.sleep(retry_delay * 2 ** (attempt - 1) * (rng or random).uniform(0.5, 1.5))


class _Transient(SourceDown):
    """A 5xx: worth another try before giving up."""


def check_status(resp: aiohttp.ClientResponse, what: str) -> None:
    """Raise the error that a non-2xx response means; return for 2xx."""
    status = resp.status
    if 200 <= status < 300:
        return
    place = where(resp.url)
    if status == 429:
        reset = rate_limit_reset(resp.headers)
        when = f" until {reset.isoformat(timespec='seconds')}" if reset else ""
        raise RateLimited(f"{what}: {place} rate-limited{when}", reset)
    if status in (401, 403):
        raise AuthFailed(
            f"{what}: {place} refused the credentials (HTTP {status}); "
            "check the access token and its scopes"
        )
    if status in TRANSIENT:
        raise _Transient(f"{what}: {place} answered HTTP {status}")
    raise Rejected(f"{what}: {place} answered HTTP {status}", status=status)


async def _with_detail(exc: Rejected, resp: aiohttp.ClientResponse) -> Rejected:
    """The platform's own reason ({"error": "..."}), which says what to fix."""
    try:
        payload = json.loads(await resp.content.read(64 * 1024))
    except (ValueError, RecursionError, aiohttp.ClientError, TimeoutError):
        return exc
    detail = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(detail, str) or not detail:
        return exc
    detail = detail[:200]
    return Rejected(f"{exc}: {detail}", status=exc.status, detail=detail)


def parse_json(body: bytes, what: str, url: URL) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise SourceDown(f"{what}: {where(url)} sent malformed JSON ({reason})") from None


def links_of(resp: aiohttp.ClientResponse) -> dict[str, URL]:
    found: dict[str, URL] = {}
    try:
        links = resp.links
    except ValueError:  # a Link header aiohttp cannot parse: no paging links
        return found
    for rel, link in links.items():
        url = link.get("url")
        if isinstance(rel, str) and isinstance(url, URL):
            found[rel] = url
    return found


def describe(exc: BaseException) -> str:
    """A network fault in a few words (aiohttp's messages can be empty)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- rate-limit headers ---------------------------------------------------------------

_SECONDS = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def _now() -> datetime:
    return datetime.now(UTC)


def header_time(value: str | None, now: datetime) -> datetime | None:
    """A reset time as platforms write it: seconds from now (small numbers), epoch
    seconds (large ones), ISO 8601 (Mastodon) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.match(value):
        seconds = float(value)
        # a bare number this large is a moment, not a wait: epoch seconds
        if seconds > 10**9:
            return datetime.fromtimestamp(seconds, tz=UTC)
        return now + timedelta(seconds=seconds)
    found = parse_time(value)
    if found is not None:
        return found
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def rate_limit_reset(headers: Mapping[str, str], now: datetime | None = None) -> datetime | None:
    """When a rate limit lifts: Retry-After first (it is about this very response),
    then X-RateLimit-Reset."""
    now = now or _now()
    return header_time(headers.get("Retry-After"), now) or header_time(
        headers.get("X-RateLimit-Reset"), now
    )


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
    now = now or _now()
    reset = header_time(headers.get("X-RateLimit-Reset"), now)
    if reset is None:
        return None
    return max((reset - now).total_seconds(), 1.0)
