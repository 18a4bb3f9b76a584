"""HTTP answers as the errors the daemon understands, for the aiohttp sources.

    429                         RateLimited, reset_at from Retry-After or a
                                ratelimit-reset / x-ratelimit-reset header
    401, 403                    AuthFailed when the request carried credentials and the
                                API answered (JSON); Refused when it carried none, or
                                the answer is a web page (a CDN's or firewall's block)
    other 4xx                   Refused (a SourceDown: the platform understood and said no)
    5xx, timeouts, resets,      SourceDown
    malformed JSON
    could not connect at all    NotSent (a SourceDown: the request never left)

The two SourceDown subclasses matter to publishers: a reply whose request was never
sent can safely be tried again, one the platform refused should not be, and one lost
to a timeout may have gone out and must not be re-posted automatically.

Messages name the platform and the call, never a credential or a request body. What
they quote of an answer (`preview`) has the values of token-like keys and anything
shaped like a JWT masked: a sign-in answer cut short still holds its tokens, and the
message goes to the log, the database and the audit trail for good.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from listener.base import AuthFailed, RateLimited, SourceDown, SourceError
from listener.mention import parse_time

if TYPE_CHECKING:
    import aiohttp

# The daemon's shared session, created on first use (SourceContext.http).
HttpFactory = Callable[[], Awaitable["aiohttp.ClientSession"]]

# A reset header bigger than this is taken as an epoch time, smaller as seconds to wait
# (platforms send both under the same names).
_EPOCH_THRESHOLD = 10**9
# How much of an error body is worth quoting in a message.
_DETAIL_CHARS = 200
# How much of a 2xx answer that is not a JSON object is worth quoting.
_PREVIEW_CHARS = 60
# How far past what is quoted an answer is read for credentials to mask first.
_PREVIEW_READ = 4096
# A credential's key in JSON or a repr ("accessJwt": ...) or in a form or query string
# (access_token=...); its value may be cut off where the quoted text ends.
_SECRET_KEY = r"[\w.-]*(?:token|jwt|password|passwd|secret|api_?key|authorization|cookie)[\w.-]*"
_SECRET_VALUE = re.compile(
    rf"""(?P<key>(?P<q>["']){_SECRET_KEY}(?P=q)\s*:\s*|\b{_SECRET_KEY}=)"""
    r"""(?P<value>"(?:[^"\\]|\\.?)*"?|'(?:[^'\\]|\\.?)*'?|[^\s,;&}\]]*)""",
    re.IGNORECASE,
)
# A JWT's base64url JSON header starts {" (eyJ): one filed under any key, or none.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")
_MASK = "***"


class NotSent(SourceDown):
    """Nothing reached the platform: the connection could not be made, or a call
    refused for an expired session could not be sent again for want of a new one."""


class Refused(SourceDown):
    """The platform answered with a 4xx other than 429 that refuses no credentials: the
    request itself is wrong (bad parameters, a record it will not take), or the server
    would not answer it at all (see `_refusal`). Retrying the same at once will not
    help; a source is backed off and asks again later."""

    def __init__(self, message: str, status: int, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


@dataclass(frozen=True, slots=True)
class Answer:
    """A response read in full: status, headers and the decoded JSON body (None when
    the body was empty or not JSON)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    text: str
    raw: bytes = b""


def _utcnow() -> datetime:
    return datetime.now(UTC)


# The longest a rate limit is believed: platforms' windows are 15 minutes at most, and
# a header saying "come back in 2058" is a bug to outlast, not an order to obey.
MAX_RATE_LIMIT_WAIT = 3600.0


def wait_until(now: datetime, seconds: float) -> datetime:
    """`now` plus `seconds`, held between 0 and MAX_RATE_LIMIT_WAIT (junk such as
    NaN, minus or 1e300 seconds becomes a moment that exists)."""
    if not seconds > 0:  # also NaN
        seconds = 0.0
    return now + timedelta(seconds=min(seconds, MAX_RATE_LIMIT_WAIT))


def reset_at(headers: Mapping[str, str], now: datetime | None = None) -> datetime | None:
    """When a rate limit ends, from Retry-After (seconds or an HTTP date) or a
    ratelimit-reset / x-ratelimit-reset header (epoch seconds, seconds to wait, or
    an ISO 8601 moment); never more than MAX_RATE_LIMIT_WAIT away."""
    now = now or _utcnow()
    latest = wait_until(now, MAX_RATE_LIMIT_WAIT)
    moment = _reset_in(headers, now)
    return None if moment is None else min(moment, latest)


def _reset_in(headers: Mapping[str, str], now: datetime) -> datetime | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        seconds = _number(retry_after)
        if seconds is not None:
            return wait_until(now, seconds)
        try:
            retry_date = parsedate_to_datetime(retry_after)
            if retry_date is not None:
                return (
                    retry_date.replace(tzinfo=UTC)
                    if retry_date.tzinfo is None
                    else retry_date.astimezone(UTC)
                )
        except (TypeError, ValueError, IndexError, OverflowError):  # year 9999 at -23:59
            pass
    for name in ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"):
        value = _number(lowered.get(name))
        if value is None:
            # Mastodon writes the moment as ISO 8601 ("2026-11-24T12:05:00.000Z")
            moment = parse_time(lowered.get(name))
            if moment is not None:
                return moment
            continue
        if value > _EPOCH_THRESHOLD:
            try:
                return datetime.fromtimestamp(value, tz=UTC)
            except (OverflowError, OSError, ValueError):
                continue
        return wait_until(now, value)
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def error_for(answer: Answer, what: str, *, credentials: bool) -> SourceError | None:
    """The error an answer means, or None for a 2xx/3xx. `what` names the call in the
    message ("bluesky searchPosts"); `credentials` says whether the request carried
    any (a token, a session), which decides what a 401/403 means (see `_refusal`)."""
    status = answer.status
    if status < 400:
        return None
    detail = _detail(answer)
    message = f"{what}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status == 429:
        return RateLimited(message, reset_at(answer.headers))
    if status in (401, 403):
        page = is_web_page(answer.headers.get("Content-Type", ""), answer.text)
        if page:  # _refusal says what a web page there means
            message = f"{what}: HTTP {status}"
        return _refusal(message, status, credentials=credentials, web_page=page)
    if status < 500:
        error = answer.body.get("error") if isinstance(answer.body, Mapping) else None
        return Refused(message, status, error if isinstance(error, str) else None)
    return SourceDown(message)


# What a 401/403 that refuses no credentials says after the status: the operator has
# nothing to fix in the config, and the source is tried again later.
_NO_LOGIN = "refused to answer: the server may be blocking this address, or want a login"
_BLOCK_PAGE = (
    "a web page, not the API's answer: a CDN or firewall in front of the API may be "
    "blocking this address (the credentials were not refused)"
)


def _refusal(message: str, status: int, *, credentials: bool, web_page: bool) -> SourceError:
    """What a 401/403 means; `message` names the call and the status. Only an API
    refusing the credentials it was sent disables a source (AuthFailed: a person fixes
    them and restarts). A request that carried none has none to fix, and a web page
    where the API's JSON should be is a block page from something in front of the API
    (Cloudflare and the like answer 403 with HTML), which lifts by itself: both are
    Refused, a SourceDown that is backed off and tried again."""
    if not credentials:
        return Refused(f"{message}, {_NO_LOGIN}", status)
    return blocked(message, status) if web_page else AuthFailed(message)


def blocked(message: str, status: int) -> Refused:
    """A 401/403 answered with a web page (see `is_web_page`) by a CDN or firewall in
    front of an API: not a refusal of the credentials, and no reason to disable the
    source. For the clients that read errors their own way (tweepy, praw) too."""
    return Refused(f"{message}, {_BLOCK_PAGE}", status)


def is_web_page(content_type: str, text: str) -> bool:
    """True when an answer is a web page rather than an API's JSON: HTML by its type
    or its first character, and not JSON (an API that labels its JSON text/html still
    speaks for itself)."""
    if "html" not in content_type.lower() and not text.lstrip().startswith("<"):
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return True
    return False


def _detail(answer: Answer) -> str:
    """The platform's own words about an error: XRPC's {"error", "message"}, an
    Algolia-style {"message"}, or the start of a plain-text body."""
    body = answer.body
    if isinstance(body, Mapping):
        parts = [body.get("error"), body.get("message")]
        text = ": ".join(p for p in parts if isinstance(p, str) and p)
    elif is_web_page(answer.headers.get("Content-Type", ""), answer.text):
        # a proxy's or a gateway's error page, whatever type it is served as
        return page_said(answer.text)
    else:
        text = answer.text.strip()
    return preview(text, _DETAIL_CHARS)


# A page's title, or its first heading: what a person would read first. Looked for in
# the page's start only (an error page says it there), so a huge answer costs nothing.
_PAGE_NAMES = (
    re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL),
    re.compile(r"<h1[^>]*>(.*?)</h1", re.IGNORECASE | re.DOTALL),
)
_TAG = re.compile(r"<[^>]*>")
_PAGE_READ = 16 * 1024
_PAGE_NAME_CHARS = 80


def page_said(text: str) -> str:
    """A web page where an API's JSON should be, in a few words for a message: "an
    HTML error page", and its title or first heading when it has one; never markup."""
    start = text[:_PAGE_READ]
    for pattern in _PAGE_NAMES:
        found = pattern.search(start)
        words = html.unescape(_TAG.sub(" ", found.group(1))) if found else ""
        if words.strip():
            return f"an HTML error page: {preview(words, _PAGE_NAME_CHARS)}"
    return "an HTML error page"


def preview(text: str, limit: int) -> str:
    """At most `limit` characters of a platform's text for a message, on one line,
    with credentials masked (see the module's docstring)."""
    # masked before it is cut, so that a long token masked leaves room for what
    # follows it; the answer may be megabytes long, and a few kilobytes will do
    text = " ".join(text[: limit + _PREVIEW_READ].split())
    text = _JWT.sub(_MASK, _SECRET_VALUE.sub(_masked_value, text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _masked_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[:1] if value[:1] in ('"', "'") else ""
    return f"{match.group('key')}{quote}{_MASK}{quote}"


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    max_bytes: int = 10 * 1024 * 1024,
    **kwargs: Any,
) -> Answer:
    """One request, read in full. Network faults, timeouts and over-long bodies raise
    SourceDown (NotSent when no connection was made); the status is left to the
    caller (see error_for) so it can look at a body first."""
    # imported here so that the normalizers in the same modules as the sources load
    # without aiohttp (the replay source and the demo need no HTTP at all)
    import aiohttp
    from multidict import CIMultiDict

    try:
        async with session.request(method, url, **kwargs) as resp:
            # StreamReader.read(n) returns what has arrived so far, not n bytes: the
            # body is read to its end (a connection closed before the Content-Length
            # is reached raises ClientPayloadError), with the cap checked as it grows
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceDown(f"{what}: the answer is larger than {max_bytes} bytes")
                chunks.append(chunk)
            raw = b"".join(chunks)
            headers = CIMultiDict(resp.headers)  # names are case-insensitive
            status = resp.status
            charset = resp.charset or "utf-8"
    except aiohttp.ClientConnectorError as exc:
        raise NotSent(f"{what}: cannot connect ({exc.os_error or exc})") from None
    except TimeoutError:
        raise SourceDown(f"{what}: timed out") from None
    except aiohttp.ClientError as exc:
        raise SourceDown(f"{what}: {type(exc).__name__}: {exc}") from None
    try:
        text = raw.decode(charset, errors="replace")
    except LookupError:  # a charset name Python does not know
        text = raw.decode("utf-8", errors="replace")
    body: Any = None
    if text.strip():
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
    return Answer(status, headers, body, text, raw)


def json_body(answer: Answer, what: str, *, quote: bool = True) -> Mapping[str, Any]:
    """A 2xx answer's JSON object, or SourceDown saying it was not one. quote=False
    for a sign-in's answer: it is tokens and account details, none of which belongs
    in a message, and a key mangled in transit would escape the masking."""
    if not isinstance(answer.body, Mapping):
        if quote and is_web_page(answer.headers.get("Content-Type", ""), answer.text):
            got = page_said(answer.text)
        elif quote:
            got = repr(preview(answer.text, _PREVIEW_CHARS))
        else:
            got = f"{len(answer.text)} characters that are not one (not quoted: a sign-in's)"
        raise SourceDown(f"{what}: expected a JSON object, got {got}")
    return answer.body


async def get_json(
    session: aiohttp.ClientSession, url: str, *, what: str, credentials: bool, **kwargs: Any
) -> Mapping[str, Any]:
    """GET a JSON object; every failure as the SourceError it means (`credentials` as
    for error_for)."""
    answer = await request(session, "GET", url, what=what, **kwargs)
    error = error_for(answer, what, credentials=credentials)
    if error is not None:
        raise error
    return json_body(answer, what)


def shared_http(http: HttpFactory | None, what: str) -> HttpFactory:
    """The daemon's shared session factory from a SourceContext; a source built
    without one is a wiring bug, said at build time rather than at the first poll."""
    if http is None:
        raise ValueError(f"{what} needs the daemon's shared HTTP session (SourceContext.http)")
    return http
