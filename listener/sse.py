"""Server-sent events (text/event-stream) read from an aiohttp response body.

Only what streaming APIs use: `event:` and `data:` fields, comment lines (":thump",
heartbeats) ignored, an event dispatched at the blank line that ends it. An event
cut off by a dropped connection is never dispatched (the stream's rule, and ours:
half a status is not a status).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

# An event larger than this is a broken or hostile server, not a post.
MAX_EVENT = 4 * 2**20


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # "message" when the server names none
    data: str


class EventTooLarge(ValueError):
    pass


class EventParser:
    """Feed bytes in, take whole events out."""

    def __init__(self, *, max_event: int = MAX_EVENT) -> None:
        self._buffer = b""
        self._name = ""
        self._data: list[str] = []
        self._size = 0
        self._max = max_event

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = self._buffer[:end].removesuffix(b"\r")
            self._buffer = self._buffer[end + 1 :]
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        if len(self._buffer) + self._size > self._max:
            raise EventTooLarge(f"an event exceeded {self._max} bytes")
        return events

    def _line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
            self._size += len(value) + 1  # and its newline: empty lines are no free ride
        return None  # id, retry and unknown fields mean nothing to us

    def _dispatch(self) -> Event | None:
        name, data = self._name or "message", self._data
        self._name, self._data, self._size = "", [], 0
        if not data:
            return None
        return Event(name, "\n".join(data))


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """The events of a streaming response, until the server closes it."""
    parser = EventParser()
    async for chunk in response.content.iter_any():
        for event in parser.feed(chunk):
            yield event
