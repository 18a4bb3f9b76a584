"""The shared HTTP plumbing: the daemon's session, the rate-limit budget, Link
header paging, and server-sent events parsed from any chunking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from earful.http import SharedSession
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
