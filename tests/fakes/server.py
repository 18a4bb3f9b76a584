"""A small aiohttp.web server on 127.0.0.1 for faking a platform at the HTTP level.

Each fake registers its routes on `app`; this base logs every request the client
made and can answer the next request to a path with a scripted response instead
(a 429 with rate-limit headers, a 5xx, a malformed body), so tests can say exactly
what the platform does and check exactly what the client sent.
"""

from __future__ import annotations

import socket
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

# What Cloudflare answers, with a 403, an address it blocks in front of any site or
# API: a web page, whatever the client asked for.
BLOCK_PAGE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1></body></html>"
)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


@dataclass
class Scripted:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class FakeServer:
    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        self.requests: list[Seen] = []
        self._scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, path: str, *answers: Scripted) -> None:
        """Answer the next requests to `path` with these, in order, then as usual."""
        self._scripts[path].extend(answers)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Seen(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
                body,
            )
        )
        queue = self._scripts.get(request.path)
        if queue:
            answer = queue.popleft()
            response = web.Response(status=answer.status, headers=answer.headers)
            response.content_type = answer.content_type
            response.body = answer.body.encode() if isinstance(answer.body, str) else answer.body
            return response
        return await handler(request)

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # loopback only, any free port
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def json_error(status: int, error: str, message: str, **headers: Any) -> web.Response:
    """An error as XRPC (and most JSON APIs) send it."""
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)
