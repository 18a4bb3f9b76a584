"""praw, configured in code for Earful: endpoints from `base_url`, no praw.ini, a
proper user agent, and a requestor that reads Reddit's rate-limit headers.

Both the Reddit source (listener/reddit.py) and the Reddit publisher
(responders/publish/reddit.py) build their client here, so the two talk to Reddit the
same way. praw is synchronous: callers run it through `asyncio.to_thread`.

Pointing praw elsewhere: praw's `oauth_url` (API calls) and `reddit_url` (the token
endpoint, `<reddit_url>/api/v1/access_token`) are ordinary settings passed to
`praw.Reddit(...)`. prawcore joins API paths onto `oauth_url` with urljoin and
appends the token path to `reddit_url`, and does not insist on https, so
`base_url = "http://127.0.0.1:8765"` serves both from one place (a proxy, a mirror,
the fake Reddit in tests/).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import praw
import prawcore
import requests
from prawcore.const import ACCESS_TOKEN_PATH

from listener.base import AuthFailed, RateLimited, SourceDown, SourceError
from listener.http_deadline import AnswerTooLarge
from listener.http_errors import MAX_RATE_LIMIT_WAIT, Refused, blocked, is_web_page, wait_until
from listener.mention import shown_utc

log = logging.getLogger("earful.reddit")

OAUTH_URL = "https://oauth.reddit.com"
REDDIT_URL = "https://www.reddit.com"
try:
    VERSION = version("earful")
except PackageNotFoundError:  # run from a checkout that was never installed
    VERSION = "0"
# Warn once when fewer requests than this are left in Reddit's window.
_LOW_BUDGET = 10


def user_agent(handle: str | None) -> str:
    """Reddit asks for a descriptive agent naming the bot's author."""
    base = f"earful/{VERSION}"
    return f"{base} (by u/{handle.removeprefix('u/')})" if handle else base


def endpoints(base_url: str | None) -> tuple[str, str]:
    """(oauth_url, reddit_url) from a source's base_url, or Reddit's own."""
    if not base_url:
        return OAUTH_URL, REDDIT_URL
    root = base_url.rstrip("/")
    # oauth_url is a urljoin base, so it ends with "/"; reddit_url gets a path appended
    return root + "/", root


class RateBudget:
    """What Reddit's x-ratelimit-* headers last said: requests left in the window and
    when it resets. Read by the source to stop before prawcore would sleep for
    minutes in a worker thread, and to log the state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.remaining: float | None = None
        self.used: int | None = None
        self.reset_at: datetime | None = None
        self._warned = False
        self._lock = threading.Lock()

    def update(self, headers: Mapping[str, str], now: datetime | None = None) -> None:
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if remaining is None or reset is None:
            return
        now = now or datetime.now(UTC)
        with self._lock:
            self.remaining = remaining
            used = _number(headers.get("x-ratelimit-used"))
            self.used = int(used) if used is not None else None
            self.reset_at = wait_until(now, reset)
        log.debug(
            "%s: Reddit rate limit: %d used, %d left, resets in %ds",
            self.name,
            self.used or 0,
            remaining,
            reset,
        )
        if remaining < _LOW_BUDGET and not self._warned:
            self._warned = True
            log.warning(
                "%s: Reddit rate limit nearly used up: %d requests left until %s",
                self.name,
                remaining,
                shown_utc(self.reset_at),
            )
        elif remaining >= _LOW_BUDGET:
            self._warned = False

    def exhausted_until(self, now: datetime | None = None) -> datetime | None:
        """When the window resets, if no request is left in it; else None."""
        now = now or datetime.now(UTC)
        with self._lock:
            if self.remaining is None or self.remaining >= 1 or self.reset_at is None:
                return None
            return self.reset_at if self.reset_at > now else None


def _number(value: Any) -> float | None:
    """A finite number from a header, else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class PostOutcomeUnknown(Exception):
    """A POST reached Reddit (or may have) and no answer came back: it may or may not
    have taken effect, so it must not be sent again automatically."""


class _Requestor(prawcore.Requestor):
    """prawcore's requestor, plus two things: every response's rate-limit headers go to
    the budget, and (for the publisher) a POST whose outcome is unknown is not handed
    back to prawcore, which would resend it on a 5xx or a read timeout."""

    def __init__(
        self, *args: Any, budget: RateBudget, at_most_once: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.at_most_once = at_most_once

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        # prawcore's own signature; it passes the method and URL first, by position
        method = str(args[0] if args else kwargs.get("method", ""))
        url = str(args[1] if len(args) > 1 else kwargs.get("url", ""))
        guarded = (
            self.at_most_once and method.upper() == "POST" and not url.endswith(ACCESS_TOKEN_PATH)
        )
        try:
            response = super().request(*args, timeout=timeout, **kwargs)
        except prawcore.RequestException as exc:
            # a refused connection never reached Reddit; anything later might have
            if guarded and not _never_sent(exc.original_exception):
                raise PostOutcomeUnknown(_lost(exc.original_exception, timeout)) from exc
            raise
        self.budget.update(response.headers)
        _sane_rate_headers(response.headers)
        if guarded and response.status_code >= 500:
            raise PostOutcomeUnknown(f"Reddit answered HTTP {response.status_code} to the request")
        return response


_RATE_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")


def _sane_rate_headers(headers: Any) -> None:
    """prawcore reads these with int() deep inside every request: junk ("1e20", "nan")
    would raise from there, and a huge reset would have it sleep that long in a worker
    thread. Junk is dropped (prawcore then counts the request itself); a reset is held
    to MAX_RATE_LIMIT_WAIT."""
    if _RATE_HEADERS[0] not in headers:
        return
    try:
        remaining = float(headers[_RATE_HEADERS[0]])
        int(headers[_RATE_HEADERS[1]])
        reset = int(headers[_RATE_HEADERS[2]])
    except (KeyError, TypeError, ValueError):
        remaining, reset = math.nan, 0
    if not math.isfinite(remaining):
        for name in _RATE_HEADERS:
            headers.pop(name, None)
        return
    headers[_RATE_HEADERS[2]] = str(min(max(reset, 0), int(MAX_RATE_LIMIT_WAIT)))


def _lost(exc: BaseException, timeout: float | None) -> str:
    """What became of a POST that reached Reddit, for a person: requests' own words
    name connection pools and repeat the address."""
    if isinstance(exc, requests.exceptions.Timeout):
        within = f"within {timeout:g}s" if timeout else "in time"
        return f"Reddit did not answer the request {within}"
    return f"the connection to Reddit broke before Reddit answered ({type(exc).__name__})"


def _never_sent(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.ConnectTimeout) or (
        isinstance(exc, requests.exceptions.ConnectionError) and "refused" in str(exc).lower()
    )


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None
    username: str | None = None
    password: str | None = None
    user_agent: str = f"earful/{VERSION}"
    base_url: str | None = None
    timeout: int = 16


def make_reddit(
    creds: Credentials,
    budget: RateBudget,
    session: requests.Session,
    *,
    at_most_once: bool = False,
) -> praw.Reddit:
    """A praw.Reddit from explicit settings only: every key praw would otherwise read
    from a praw.ini or a praw_* environment variable is passed here. `session` is the
    HTTP session praw uses; the caller closes it."""
    oauth_url, reddit_url = endpoints(creds.base_url)
    return praw.Reddit(
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        username=creds.username,
        password=creds.password,
        refresh_token=None,
        redirect_uri=None,
        user_agent=creds.user_agent,
        oauth_url=oauth_url,
        reddit_url=reddit_url,
        timeout=creds.timeout,
        # praw would sleep inside a worker thread on a RATELIMIT answer; Earful's
        # publisher backs off through its outbox instead
        ratelimit_seconds=0,
        check_for_updates=False,
        requestor_class=_Requestor,
        requestor_kwargs={"budget": budget, "at_most_once": at_most_once, "session": session},
    )


# -- errors -------------------------------------------------------------------------


def is_token_failure(exc: BaseException) -> bool:
    """Reddit refused the credentials themselves (at the token endpoint or with an
    invalid token), so retrying will not help."""
    if isinstance(exc, prawcore.OAuthException | prawcore.InvalidToken):
        return True
    if isinstance(exc, prawcore.ResponseException):
        # the token endpoint said no to the app (400, 401, 403); a 5xx there is an
        # outage of Reddit's, which must not disable the source until a restart
        url = getattr(exc.response, "url", "") or ""
        status = getattr(exc.response, "status_code", None)
        return url.split("?", 1)[0].endswith(ACCESS_TOKEN_PATH) and status in (400, 401, 403)
    return False


def block_page(name: str, exc: BaseException) -> Refused | None:
    """A 401/403 answered with a web page where Reddit's JSON should be (Reddit's
    "blocked by network security" page, a proxy's): no refusal of the credentials,
    whichever endpoint it came from; None for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, requests.Response) or response.status_code not in (401, 403):
        return None
    if not is_web_page(response.headers.get("Content-Type", ""), response.text):
        return None
    return blocked(f"Reddit source {name}: HTTP {response.status_code}", response.status_code)


def auth_failed(name: str, exc: BaseException) -> AuthFailed:
    if isinstance(exc, prawcore.OAuthException) and exc.error == "invalid_grant":
        why = (
            "the username or password was refused (check them; an account with "
            "two-factor authentication cannot log in this way)"
        )
    elif isinstance(exc, prawcore.OAuthException):
        why = f"the token request was refused ({exc.error})"
    elif isinstance(exc, prawcore.InvalidToken):
        why = "the access token was refused"
    elif isinstance(exc, prawcore.InsufficientScope):
        why = "the app lacks the permission (scope) this needs"
    else:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        why = (
            f"the client_id or client_secret was refused (HTTP {status} from the token "
            "endpoint; check the app at https://www.reddit.com/prefs/apps)"
        )
    return AuthFailed(f"Reddit source {name}: {why}")


def rate_limited(name: str, exc: prawcore.TooManyRequests, budget: RateBudget) -> RateLimited:
    now = datetime.now(UTC)
    wait = _number(exc.retry_after) or _number(exc.response.headers.get("x-ratelimit-reset"))
    reset_at = wait_until(now, wait) if wait is not None else budget.reset_at
    return RateLimited(f"Reddit source {name}: HTTP 429 too many requests", reset_at)


def source_error(name: str, exc: Exception, budget: RateBudget) -> SourceError:
    """What a failed praw call means for a source."""
    page = block_page(name, exc)
    if page is not None:
        return page
    if is_token_failure(exc) or isinstance(exc, prawcore.InsufficientScope):
        return auth_failed(name, exc)
    if isinstance(exc, prawcore.TooManyRequests):
        return rate_limited(name, exc, budget)
    if isinstance(exc, prawcore.ServerError):
        return SourceDown(f"Reddit is having trouble: {exc}")
    if isinstance(exc, prawcore.RequestException):
        if isinstance(exc.original_exception, AnswerTooLarge):
            return SourceDown(f"Reddit's {exc.original_exception}")
        return SourceDown(f"cannot reach Reddit: {exc.original_exception}")
    if isinstance(exc, prawcore.BadJSON):
        return SourceDown("Reddit sent a response that is not JSON")
    return SourceDown(f"Reddit request failed: {exc}")


def response_reason(exc: prawcore.ResponseException) -> str:
    """Reddit's own reason for a 403/404 ("private", "banned", "quarantined"...)."""
    if isinstance(exc, prawcore.Redirect):
        return "does not exist"
    try:
        body = exc.response.json()
    except ValueError:
        body = None
    reason = body.get("reason") if isinstance(body, dict) else None
    status = exc.response.status_code
    return f"{reason} (HTTP {status})" if isinstance(reason, str) and reason else f"HTTP {status}"
