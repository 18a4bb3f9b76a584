"""Logging in and out.

The login form is protected against cross-site posting by a double-submit token
(a random value in both an HttpOnly SameSite=Strict cookie and a hidden field);
after login the session's own CSRF token takes over. Wrong passwords are counted
per account name and client address (ratelimit.py).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web

from earful.console.passwords import MAX_NAME, BadHash, verify_password, waste_time
from earful.console.ratelimit import LoginLimiter
from earful.console.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SETTINGS,
    STORE,
    live_session,
    public,
    requires,
    session_of,
)
from earful.display import duration
from storage.sessions import end_session, start_session, why_ended
from storage.store import NotFound, Store

log = logging.getLogger("earful.console")

LIMITER = web.AppKey("limiter", LoginLimiter)
LOGIN_COOKIE = "earful_login"

# Password hashing (scrypt: ~0.1 s of CPU and 32 MiB each) runs on threads of its
# own, at most this many at once: a burst of logins then queues for these threads,
# never for the default pool that every store read of every page goes through.
KDF_WORKERS = 2
KDF = web.AppKey("kdf", ThreadPoolExecutor)

T = TypeVar("T")


@dataclass
class LoginQueue:
    """Logins waiting for (or at) the hashing threads. Past `limit` a login is
    turned away at once (503): anyone who can reach the form could otherwise queue
    logins without end, each holding its form (up to a megabyte) in memory, and a
    person's own login would wait behind all of them. 64 is about three seconds of
    hashing."""

    limit: int = 64
    waiting: int = 0


LOGIN_QUEUE = web.AppKey("login_queue", LoginQueue)


def kdf_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=KDF_WORKERS, thread_name_prefix="earful-kdf")


async def hashing(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` (which hashes a password) on the console's password-hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(request.app[KDF], fn, *args)


def client_address(request: web.Request) -> str | None:
    """Who is logging in, for the login limit, the log and the session's row: the
    connection's address, or behind a proxy ([console] forwarded_for) the last
    address in X-Forwarded-For. Only the last: the proxy appends the address it
    saw, and whatever comes before it the client may have written itself (to
    escape a lockout, or to lock someone else out)."""
    if not request.app[SETTINGS].forwarded_for:
        return request.remote
    said = request.headers.getall("X-Forwarded-For", [])
    last = said[-1].rsplit(",", 1)[-1].strip() if said else ""
    address = _without_port(last)
    if address is not None:
        return address
    if last:  # the proxy writes something else: the limit would lock everyone out at once
        log.warning(
            "console: X-Forwarded-For %r names no address: the login limit counts the "
            "proxy's own address, every client's",
            last[:60],
        )
    return request.remote  # no header: the proxy's own address


def _without_port(said: str) -> str | None:
    """An address as a proxy may write it: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or
    "[2001:db8::1]:5678" (some proxies add the client's port); None if it is none."""
    candidates = [said]
    if said.startswith("[") and "]" in said:
        candidates.append(said[1 : said.index("]")])
    elif said.count(":") == 1:
        candidates.append(said.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _safe_next(value: str | None) -> str:
    """Only a path on this site: one "/" and no more at its start, and nothing a
    browser reads differently from how it is written. Browsers drop tabs and line
    breaks from a URL and read "\\" as "/" (so "/\\t/evil.example" goes to
    evil.example), and CR, LF or NUL cannot be put in a Location header at all."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in value):
        return "/"
    return value


_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) makes


def _login_token(request: web.Request) -> str:
    """The login form's token: the browser's own while it still has one, so that
    two tabs showing the login form do not undo each other's; a new one
    otherwise."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    return current if _TOKEN.fullmatch(current) else secrets.token_urlsafe(32)


def _login_form(
    request: web.Request,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    name: str = "",
    next_path: str | None = None,
) -> web.Response:
    """The form. `next_path`: where to go after logging in; a GET has it in the
    query, a failed POST passes the form's own (kept across attempts)."""
    if next_path is None:
        next_path = request.query.get("next")
    token = _login_token(request)
    html = aiohttp_jinja2.render_string(
        "login.html",
        request,
        {
            "error": error,
            "notice": notice,
            "login_csrf": token,
            "next": _safe_next(next_path),
            "name": name,
            "brand": request.app[SETTINGS].brand,
        },
    )
    response = web.Response(
        body=html.encode("utf-8", "backslashreplace"),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[SETTINGS].secure_cookie,
        path="/login",
        max_age=3600,
    )
    return response


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_form(request, notice=await _why_here(request))


async def _why_here(request: web.Request) -> str | None:
    """What brought the person to the login form, when it is not their own plain
    logout: they logged out everywhere, or the session their browser still holds
    has ended (idle, at its lifetime, or ended by a change elsewhere). Without it a
    person sent here mid-work by a click cannot tell an expiry from a fault."""
    if request.query.get("ended") == "everywhere":
        return "You are logged out on every browser and device."
    token = request.cookies.get(SESSION_COOKIE)
    if not token or await live_session(request, touch=False) is not None:
        return None
    settings = request.app[SETTINGS]
    why = await asyncio.to_thread(
        why_ended, request.app[STORE], token, lifetime=settings.session_lifetime
    )
    if why == "lifetime":
        most = duration(settings.session_lifetime.total_seconds())
        return f"A login lasts at most {most}, however much it is used: log in again."
    if why == "idle":
        idle = duration(settings.session_ttl.total_seconds())
        return f"Your session ended after {idle} without use: log in again."
    return "Your session has ended: log in again."


def _check(store: Store, name: str, password: str) -> tuple[int | None, bool]:
    """The user's id when name and password match an enabled account (else None),
    and whether the name is an account's at all."""
    try:
        user = store.user(name)
    except NotFound:
        waste_time(password)
        return None, False
    if user.disabled or not user.password_hash:
        waste_time(password)
        return None, True
    try:
        ok = verify_password(password, user.password_hash)
    except BadHash:
        log.error("user %s has an unreadable password hash; set a new password", name)
        return None, True
    return (user.id if ok else None), True


@public
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    next_path = _safe_next(str(form.get("next", "/")))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    given = form.get(CSRF_FIELD)
    if not (cookie and isinstance(given, str) and hmac.compare_digest(cookie, given)):
        return _login_form(
            request, error="The form expired; please try again.", status=403, next_path=next_path
        )
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    if not name or not password:
        return _login_form(
            request,
            error="Enter your name and password.",
            status=400,
            name=name,
            next_path=next_path,
        )
    if len(name) > MAX_NAME:
        # No account has such a name, so there is nothing to guess or hash; and the
        # limiter must not keep it: it remembers 10,000 names, and names of up to a
        # megabyte (the largest form aiohttp takes) would fill gigabytes.
        return _login_form(
            request, error="Wrong name or password.", status=401, next_path=next_path
        )
    queue = request.app[LOGIN_QUEUE]
    if queue.waiting >= queue.limit:  # turned away before it counts as an attempt
        response = _login_form(
            request,
            error="Many logins are being checked right now; try again in a few seconds.",
            status=503,
            name=name,
            next_path=next_path,
        )
        response.headers["Retry-After"] = "5"
        return response
    limiter = request.app[LIMITER]
    client = client_address(request)
    key = limiter.key(name, client)
    wait = limiter.attempt(key)
    if wait is not None:
        minutes = max(round(wait / 60), 1)
        response = _login_form(
            request,
            error=f"Too many failed attempts. Try again in about {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            status=429,
            name=name,
            next_path=next_path,
        )
        response.headers["Retry-After"] = str(int(wait))
        return response
    store = request.app[STORE]
    queue.waiting += 1
    try:
        user_id, known = await hashing(request, _check, store, name, password)
    finally:
        queue.waiting -= 1
    if user_id is None:  # already counted by limiter.attempt
        # a name that is no account may be a password typed into the wrong box
        who = repr(name) if known else "a name that is no account"
        log.warning("failed console login for %s from %s", who, client)
        return _login_form(
            request, error="Wrong name or password.", status=401, name=name, next_path=next_path
        )
    limiter.succeeded(key)
    settings = request.app[SETTINGS]
    token = await asyncio.to_thread(
        start_session,
        store,
        user_id,
        ttl=settings.session_ttl,
        lifetime=settings.session_lifetime,
        ip=client,
    )
    response = see_other(next_path)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookie,
        path="/",
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


@requires("viewer")
async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await asyncio.to_thread(end_session, request.app[STORE], token)
    response = see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@requires("viewer")
async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    """End every session of the person's own, this one included: a browser left
    logged in on another machine is logged out too."""
    name = session_of(request).name
    await asyncio.to_thread(request.app[STORE].end_sessions, name, actor=name)
    response = see_other("/login?ended=everywhere")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/login", login_page, name="login")
    router.add_post("/login", login)
    router.add_post("/logout", logout, name="logout")
    router.add_post("/logout/everywhere", logout_everywhere, name="logout-everywhere")
