"""The daemon's one shared aiohttp session, created on first use.

Every network source and publisher borrows it through `SourceContext.http` (its
`get` method), so the whole daemon keeps one connection pool: bounded per host
(a slow instance cannot take every socket, and one instance is never hit by more
than a few requests at once), with timeouts on connecting and on reading, and
gzip/deflate bodies decompressed transparently.

Long-lived requests (a streaming API) pass their own `timeout=` per request; the
default total timeout here would otherwise cut them off.
"""

from __future__ import annotations

import asyncio

import aiohttp

from earful import __version__

USER_AGENT = f"earful/{__version__} (+https://github.com/earful/earful)"


class SharedSession:
    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        limit: int = 64,
        limit_per_host: int = 8,
    ) -> None:
        # total bounds a whole request; sock_connect a dead host; sock_read a server
        # that accepted the request and then went quiet
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None or self._session.closed:
                connector = aiohttp.TCPConnector(
                    limit=self._limit,
                    limit_per_host=self._limit_per_host,
                    ttl_dns_cache=300,
                )
                # aiohttp sends Accept-Encoding: gzip, deflate and decompresses the
                # body itself (auto_decompress); said here so nobody turns it off.
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    timeout=self._timeout,
                    headers={"User-Agent": USER_AGENT},
                    auto_decompress=True,
                    raise_for_status=False,
                )
            return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
