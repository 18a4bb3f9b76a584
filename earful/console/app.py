"""Building the console application, and running it as one of the daemon's services."""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from earful import locks
from earful.config import Config, ConfigError
from earful.console import api, auth, pages
from earful.console.ratelimit import LoginLimiter
from earful.console.security import (
    SESSION,
    SETTINGS,
    STORE,
    ConsoleSettings,
    guard,
    json_error,
    live_session,
    security_headers,
    wants_json,
)
from earful.display import plain
from responders.templating import PLATFORM_NAMES
from storage.sessions import purge_expired
from storage.store import AlreadyDecided, Conflict, EditedSince, NotFound, Store, StoreError

log = logging.getLogger("earful.console")

STATIC = Path(str(files("earful.console").joinpath("static")))
TEMPLATES = Path(str(files("earful.console").joinpath("templates")))


def settings_from(config: Config) -> ConsoleSettings:
    from earful.pipeline import rule_facets
    from earful.sources import thanks_liked

    topics, segments = rule_facets(config)
    return ConsoleSettings(
        session_ttl=timedelta(seconds=config.console.session_ttl),
        session_lifetime=timedelta(seconds=config.console.session_lifetime),
        refresh=config.console.refresh,
        secure_cookie=config.console.secure_cookie,
        brand=config.brand.name,
        platforms=tuple(PLATFORM_NAMES),
        topics=topics,
        segments=segments,
        sources=config.named_sources,
        unpostable=_unpostable(config),
        thanks_liked=thanks_liked(list(config.sources)),
        forwarded_for=config.console.forwarded_for,
        urgent_at=config.responders.escalate_at,
    )


def _unpostable(config: Config) -> frozenset[str]:
    from earful.sources import PUBLISHER_MODULES, posting_platforms

    if config.publish.mode != "live":
        return frozenset()
    return frozenset(set(PUBLISHER_MODULES) - posting_platforms(list(config.sources)))


@web.middleware
async def store_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """What the store refuses becomes a clear answer, never a 500."""
    extra: dict[str, Any] = {}
    try:
        return await handler(request)
    except NotFound as exc:
        status, message = 404, str(exc)
    except (AlreadyDecided, EditedSince) as exc:
        # the reply as it now is: a page can tell its own earlier decision (a
        # repeated click, another tab) from someone else's, and show an edit it
        # had not seen
        status, message, extra = 409, str(exc), {"reply": plain(exc.reply)}
    except Conflict as exc:
        status, message = 409, str(exc)
    except StoreError as exc:
        status, message = 400, str(exc)
    except web.HTTPClientError as exc:
        if request.path.startswith("/static/"):
            raise
        status, message = exc.status, _said(exc)
    except web.HTTPException:
        raise  # redirects and aiohttp's own answers
    except Exception:
        # a fault of ours: the details go to the log, never to the browser
        log.exception("console: %s %s failed", request.method, request.path)
        status, message = 500, SERVER_FAULT
    if wants_json(request):
        return json_error(status, message, **extra)
    return await _error_page(request, status, message)


SERVER_FAULT = (
    "Something went wrong on the server; the details are in Earful's log. "
    "Try again, and if it keeps happening, tell whoever runs Earful."
)


async def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    try:
        if SESSION not in request:
            # an unknown path skips the guard; the error page still shows who is logged in
            await _attach_session(request)
        return await pages.error_page(request, status, message)
    except Exception:
        # the page needs the store too: when that is what failed, say it plainly
        log.exception("console: the error page for %s failed", request.path)
        return web.Response(status=status, text=message)


def _said(exc: web.HTTPClientError) -> str:
    """The exception's own text, or a plain sentence for aiohttp's bare default
    ("404: Not Found")."""
    text = (exc.text or "").strip()
    if text and text != f"{exc.status}: {exc.reason}":
        return text
    if exc.status == 404:
        return "There is no page at this address."
    if exc.status == 405:
        return "This address does not take that kind of request."
    return exc.reason


async def _attach_session(request: web.Request) -> None:
    session = await live_session(request)
    if session is not None:
        request[SESSION] = session


async def _stop_hashing(app: web.Application) -> None:
    app[auth.KDF].shutdown(wait=False, cancel_futures=True)


def build_app(
    store: Store, config: Config, *, settings: ConsoleSettings | None = None
) -> web.Application:
    """The console on `store`. The caller owns the store (and closes it)."""
    app = web.Application(middlewares=[store_errors, guard])
    app[STORE] = store
    app[SETTINGS] = settings or settings_from(config)
    app[auth.LIMITER] = LoginLimiter()
    app[auth.KDF] = auth.kdf_pool()
    app[auth.LOGIN_QUEUE] = auth.LoginQueue()
    app.on_cleanup.append(_stop_hashing)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    pages.install_filters(aiohttp_jinja2.get_env(app))
    app.on_response_prepare.append(security_headers)
    auth.add_routes(app.router)
    pages.add_routes(app.router)
    api.add_routes(app.router)
    app.router.add_static("/static/", STATIC, name="static")
    return app


class ConsoleService:
    """A daemon service: `await service()` starts the console on its own store
    connection (so the console's reads never wait on the pipeline's lock) and
    returns the function that stops it. `addresses` holds where it listens."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.addresses: list[str] = []

    async def __call__(self) -> Callable[[], Awaitable[None]]:
        from earful.pipeline import open_store

        store = open_store(self.config)
        purge_expired(store)
        runner = web.AppRunner(build_app(store, self.config), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.console.host, self.config.console.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            store.close()
            where = f"{self.config.console.host}:{self.config.console.port}"
            said = (
                f"console: cannot listen on {where}: {exc.strerror or exc} "
                "(set [console] port, or --port N for `earful demo`; or run with --no-console)"
            )
            if exc.errno == errno.EADDRINUSE:
                # another process holds the port, often one about to let go of it (an
                # old instance stopping): exit 1, which systemd tries again; exit 2
                # (a mistake in the config) it would not
                raise locks.Busy(f"{self.config.path}: {said}") from None
            raise ConfigError(self.config.path, [said]) from None
        self.addresses = [f"http://{host}:{port}" for host, port, *_ in _bound(runner)]
        log.info("console on %s", ", ".join(self.addresses))
        exposed = self.config.console.plain_http_warning()
        if exposed:
            log.warning("%s", exposed)

        async def stop() -> None:
            await runner.cleanup()
            store.close()

        return stop


def _bound(runner: web.AppRunner) -> list[tuple[str, int]]:
    out = []
    for address in runner.addresses:
        if isinstance(address, tuple):
            out.append((str(address[0]), int(address[1])))
    return out
