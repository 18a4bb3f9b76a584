"""The daemon's one shared aiohttp session, created on first use."""

from __future__ import annotations

import asyncio

import aiohttp

from earful import __version__

USER_AGENT = f"earful/{__version__} (+https://github.com/earful/earful)"


class SharedSession:
    def __init__(self, *, timeout: float = 30.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(
                    timeout=self._timeout, headers={"User-Agent": USER_AGENT}
                )
            return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
