"""Who may do what, checked on the server for every request.

- Every route is marked with the least role it needs (`requires`) or as `public`;
  a route with no mark is refused (fail closed), and a test walks the router to
  prove every route has one.
- Sessions come from an HttpOnly, SameSite=Strict cookie, looked up server-side.
- Every state-changing request (anything but GET/HEAD/OPTIONS) carries the
  session's CSRF token in the X-CSRF-Token header (or a csrf_token form field);
  without it: 403.
- Every response carries a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from storage.sessions import Session, find_session
from storage.store import Store

log = logging.getLogger("earful.console")

ROLE_RANK = {"viewer": 0, "agent": 1, "admin": 2}
SESSION_COOKIE = "earful_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Sent by the pages' background polling: the session is checked but not extended,
# so a tab left open ends its login after session_ttl like any idle one.
BACKGROUND_HEADER = "X-Earful-Background"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class ConsoleSettings:
    session_ttl: timedelta  # idle limit
    session_lifetime: timedelta  # absolute limit, from the login
    refresh: float
    secure_cookie: bool
    brand: str
    platforms: tuple[str, ...]
    topics: tuple[str, ...]
    segments: tuple[str, ...]
    sources: tuple[tuple[str, str], ...] = ()  # (name, type) of the config's sources
    # live mode: the platforms no source can post to (an approval there only fails)
    unpostable: frozenset[str] = frozenset()
    # the platforms where an approved thank-you is a like: its text is never posted
    thanks_liked: frozenset[str] = frozenset()
    # the client's address is the last in X-Forwarded-For ([console] forwarded_for)
    forwarded_for: bool = False
    # the urgency from which the live queue calls a new draft urgent when it
    # announces it: where complaints raise an alert (responders.escalate_at)
    urgent_at: int = 80


STORE = web.AppKey("store", Store)
SETTINGS = web.AppKey("settings", ConsoleSettings)
# The request's session. aiohttp >= 3.13 wants typed request keys (and warns about
# strings); older versions have no RequestKey.
SESSION: Any = (
    web.RequestKey("session", Session) if hasattr(web, "RequestKey") else "earful.session"
)


def requires(role: str) -> Callable[[H], H]:
    """Mark a handler with the least role that may call it."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def mark(handler: H) -> H:
        handler.earful_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    handler.earful_role = None  # type: ignore[attr-defined]
    return handler


_UNMARKED = object()


def route_role(request: web.Request) -> Any:
    """The role the matched route needs: None for public, _UNMARKED for none set."""
    route = request.match_info.route
    if isinstance(route.resource, web.StaticResource):
        return None
    if request.match_info.http_exception is not None:
        return None  # 404/405: nothing to protect, aiohttp answers
    return getattr(request.match_info.handler, "earful_role", _UNMARKED)


def session_of(request: web.Request) -> Session:
    session: Session = request[SESSION]
    return session


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".csv")


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _refuse(request: web.Request, message: str) -> web.Response:
    """403: JSON for the API; for a page, an HTTP error the console's error middleware
    renders as its error page (header and a way back)."""
    if wants_json(request):
        return json_error(403, message)
    raise web.HTTPForbidden(text=message)


def a_or_an(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def live_session(request: web.Request, *, touch: bool = True) -> Session | None:
    """The live session the request's cookie names, or None (no cookie, or its
    session has ended). `touch`: the request counts as use and extends it."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = request.app[SETTINGS]
    return await asyncio.to_thread(
        find_session,
        request.app[STORE],
        token,
        ttl=settings.session_ttl,
        lifetime=settings.session_lifetime,
        touch=touch,
    )


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    role = route_role(request)
    if role is None:
        return await handler(request)
    if role is _UNMARKED:
        log.error("route %s has no role mark; refusing it", request.path)
        return _refuse(request, "this route is not open to anyone")
    session = await live_session(request, touch=BACKGROUND_HEADER not in request.headers)
    if session is None:
        if wants_json(request):
            return json_error(401, "not logged in (or the session ended): log in again")
        back = "?" + urlencode({"next": request.rel_url.path_qs}) if request.method == "GET" else ""
        raise web.HTTPFound("/login" + back)
    if request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            given = (await request.post()).get(CSRF_FIELD)  # type: ignore[assignment]
        if not csrf_ok(session.csrf, given if isinstance(given, str) else None):
            request[SESSION] = session  # the error page shows who is logged in
            return _refuse(request, "missing or wrong CSRF token: reload the page")
    request[SESSION] = session
    if ROLE_RANK[session.role] < ROLE_RANK[role]:
        return _refuse(request, f"this needs the {role} role; you are {a_or_an(session.role)}")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
