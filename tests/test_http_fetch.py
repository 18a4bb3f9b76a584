"""The shared HTTP plumbing: the daemon's session, the rate-limit budget, Link
header paging, and server-sent events parsed from any chunking."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer

from earful.http import SharedSession
from listener.base import SourceDown
from listener.http_deadline import DeadlineSession
from listener.http_errors import request
from listener.http_fetch import links, rate_limit_pause
from listener.sse import Event, EventParser, EventTooLarge

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [("250", None), ("2", None), ("1", 120.0), ("0", 120.0), ("lots", None)],
)
def test_a_spent_budget_pauses_until_the_reset(remaining: str, expected: float | None) -> None:
    headers = {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "2026-11-20T10:02:00Z"}
    assert rate_limit_pause(headers, now=NOW) == expected


def test_a_spent_budget_without_a_reset_time_does_not_pause() -> None:
    assert rate_limit_pause({"X-RateLimit-Remaining": "0"}, now=NOW) is None


def test_link_header_paging_urls_by_rel() -> None:
    header = (
        '<https://fake.social/api/v1/timelines/tag/acme?max_id=10>; rel="next", '
        "<https://fake.social/api/v1/timelines/tag/acme?min_id=20>; rel=prev, "
        '<javascript:alert(1)>; rel="first", <https://x.example/a>; title="no rel"'
    )
    found = links({"Link": header})
    assert set(found) == {"next", "prev"}
    assert found["prev"].query["min_id"] == "20" and found["next"].query["max_id"] == "10"
    assert links({}) == {}


async def test_the_shared_session_bounds_connections_per_host_and_is_reused() -> None:
    shared = SharedSession(limit_per_host=3)
    try:
        session = await shared.get()
        assert session is await shared.get()
        assert session.connector is not None and session.connector.limit_per_host == 3
        assert session.timeout.sock_connect == 10.0 and session.timeout.total == 30.0
        assert session.auto_decompress is True
    finally:
        await shared.aclose()
    assert session.closed


# -- server-sent events -----------------------------------------------------------------

STREAM = (
    b":)\n"
    b"event: update\n"
    b'data: {"id": "1"}\n'
    b"\n"
    b":thump\n"
    b"event: delete\r\n"
    b"data: 108914430312582020\r\n"
    b"\r\n"
    b"data: line one\n"
    b"data: line two\n"
    b"id: 7\n"
    b"\n"
)
EVENTS = [
    Event("update", '{"id": "1"}'),
    Event("delete", "108914430312582020"),
    Event("message", "line one\nline two"),
]


def test_events_are_parsed_whole() -> None:
    assert EventParser().feed(STREAM) == EVENTS


def test_events_survive_any_chunking_even_byte_by_byte() -> None:
    parser = EventParser()
    got = [e for i in range(len(STREAM)) for e in parser.feed(STREAM[i : i + 1])]
    assert got == EVENTS


def test_an_event_cut_off_is_never_dispatched() -> None:
    parser = EventParser()
    assert parser.feed(b'event: update\ndata: {"id": "2", "con') == []
    assert parser.feed(b"") == []


def test_a_utf8_character_split_across_chunks_arrives_intact() -> None:
    data = "data: caf\u00e9 \U0001f621\n\n".encode()
    parser = EventParser()
    got = parser.feed(data[:9]) + parser.feed(data[9:])
    assert got == [Event("message", "caf\u00e9 \U0001f621")]


def test_an_endless_event_is_refused() -> None:
    parser = EventParser(max_event=1000)
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            parser.feed(b"data: " + b"x" * 50 + b"\n")
    with pytest.raises(EventTooLarge):
        EventParser(max_event=1000).feed(b"data: " + b"y" * 2000)
    # empty data lines: nothing in each, but an event that never ends all the same
    with pytest.raises(EventTooLarge):
        parser = EventParser(max_event=1000)
        for _ in range(200):
            parser.feed(b"data:\n" * 10)


# -- reading a whole answer ------------------------------------------------------------------


async def _pieces(request: web.Request) -> web.StreamResponse:
    """An answer in pieces (16 KB, or ?piece=N bytes) with pauses between them (?gap=
    seconds), as a slow link delivers it; /cut stops halfway through its declared
    length and closes the connection."""
    total = int(request.query["bytes"])
    piece = int(request.query.get("piece", 16_384))
    gap = float(request.query.get("gap", 0.002))
    sent = total // 2 if request.path == "/cut" else total
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = total
    await response.prepare(request)
    body = json.dumps({"hits": ["x" * 100] * (total // 106)}).encode().ljust(total)[:total]
    for start in range(0, sent, piece):
        await response.write(body[start : start + piece])
        await asyncio.sleep(gap)
    if sent < total:
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write_eof()
    return response


@pytest.fixture
async def pieces() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/whole", _pieces)
    app.router.add_get("/cut", _pieces)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url(""))


async def test_an_answer_arriving_in_pieces_is_read_whole(pieces: str) -> None:
    async with aiohttp.ClientSession() as session:
        answer = await request(session, "GET", f"{pieces}/whole?bytes=307623", what="feed")
    assert len(answer.raw) == 307_623


async def test_an_answer_cut_off_before_its_length_is_a_failure_not_a_short_body(
    pieces: str,
) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown, match="feed: ClientPayloadError"):
            await request(session, "GET", f"{pieces}/cut?bytes=200000", what="feed")


async def test_an_answer_over_the_cap_is_refused_however_it_arrives(pieces: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown, match="larger than 100000 bytes"):
            await request(
                session, "GET", f"{pieces}/whole?bytes=300000", what="feed", max_bytes=100_000
            )


# -- the synchronous clients' deadline (tweepy and praw run on requests) ---------------------


def deadline_get(url: str, **kwargs: Any) -> requests.Response:
    with DeadlineSession() as session:
        return session.get(url, **kwargs)


async def test_an_answer_trickled_past_the_deadline_is_a_read_timeout(pieces: str) -> None:
    # a byte every 50 ms: each read is quick, the whole (over 10 s) is not
    url = f"{pieces}/whole?bytes=200&piece=1&gap=0.05"
    with pytest.raises(requests.ReadTimeout, match="did not arrive in time"):
        await asyncio.to_thread(deadline_get, url, timeout=1.0)


async def test_an_answer_within_the_deadline_is_read_whole(pieces: str) -> None:
    response = await asyncio.to_thread(deadline_get, f"{pieces}/whole?bytes=50000", timeout=10.0)
    assert len(response.content) == 50_000 and response.json()["hits"]


async def test_a_caller_streaming_the_body_itself_is_left_to_it(pieces: str) -> None:
    url = f"{pieces}/whole?bytes=50000"
    response = await asyncio.to_thread(deadline_get, url, timeout=10.0, stream=True)
    assert not response._content_consumed  # the caller reads it
    assert len(await asyncio.to_thread(lambda: response.content)) == 50_000
