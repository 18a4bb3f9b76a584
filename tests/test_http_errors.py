"""HTTP answers as source errors: when a rate limit ends, and which status means what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.base import AuthFailed, RateLimited, SourceDown
from listener.http_errors import Answer, Refused, error_for, reset_at

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "90"}, NOW + timedelta(seconds=90)),
        ({"retry-after": "Tue, 24 Nov 2026 12:05:00 GMT"}, NOW + timedelta(minutes=5)),
        (
            {"ratelimit-reset": str(int((NOW + timedelta(hours=1)).timestamp()))},
            NOW + timedelta(hours=1),
        ),
        ({"x-ratelimit-reset": "42"}, NOW + timedelta(seconds=42)),  # seconds to wait (Reddit)
        ({"X-RateLimit-Reset": "2026-11-24T12:05:00.000Z"}, NOW + timedelta(minutes=5)),  # Mastodon
        ({"Retry-After": "soon", "ratelimit-reset": "30"}, NOW + timedelta(seconds=30)),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        # junk is held to something that exists: at most an hour, never the past
        ({"Retry-After": "1e13"}, NOW + timedelta(hours=1)),
        ({"Retry-After": "1e300"}, NOW + timedelta(hours=1)),
        ({"Retry-After": "999999999"}, NOW + timedelta(hours=1)),
        ({"Retry-After": "-30"}, NOW),
        ({"x-ratelimit-reset": "99999999999"}, NOW + timedelta(hours=1)),  # the year 5138
        ({"retry-after": "Fri, 01 Jan 2058 00:00:00 GMT"}, NOW + timedelta(hours=1)),
        ({"Retry-After": "Tue, 31 Dec 9999 23:59:59 -2359"}, None),  # past datetime's end
    ],
)
def test_reset_time_from_headers(headers: dict[str, str], expected: datetime | None) -> None:
    assert reset_at(headers, NOW) == expected


def answer(status: int, body: object = None, text: str = "", **headers: str) -> Answer:
    return Answer(status, headers, body, text)


def test_statuses_map_to_the_errors_the_daemon_knows() -> None:
    assert error_for(answer(200), "x") is None
    assert error_for(answer(304), "x") is None
    assert isinstance(error_for(answer(429, **{"Retry-After": "5"}), "x"), RateLimited)
    assert isinstance(error_for(answer(401), "x"), AuthFailed)
    assert isinstance(error_for(answer(403), "x"), AuthFailed)
    refused = error_for(answer(400, {"error": "InvalidRequest", "message": "bad q"}), "x")
    assert isinstance(refused, Refused) and refused.error == "InvalidRequest"
    down = error_for(answer(503), "x")
    assert isinstance(down, SourceDown) and not isinstance(down, Refused)


def test_messages_quote_the_platform_briefly_and_never_html() -> None:
    error = error_for(answer(400, {"error": "InvalidRequest", "message": "x" * 500}), "bluesky q")
    assert str(error).startswith("bluesky q: HTTP 400 (InvalidRequest: xxx")
    assert len(str(error)) < 250
    page = answer(502, None, "<html>" + "junk " * 100, **{"Content-Type": "text/html"})
    assert str(error_for(page, "feed f")) == "feed f: HTTP 502"
