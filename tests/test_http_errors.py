"""HTTP answers as source errors: when a rate limit ends, and which status means what."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes.server import BLOCK_PAGE

from listener.base import AuthFailed, RateLimited, SourceDown
from listener.http_errors import Answer, Refused, error_for, json_body, preview, reset_at

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
    assert error_for(answer(200), "x", credentials=True) is None
    assert error_for(answer(304), "x", credentials=True) is None
    limited = error_for(answer(429, **{"Retry-After": "5"}), "x", credentials=True)
    assert isinstance(limited, RateLimited)
    assert isinstance(error_for(answer(401), "x", credentials=True), AuthFailed)
    assert isinstance(error_for(answer(403), "x", credentials=True), AuthFailed)
    bad = answer(400, {"error": "InvalidRequest", "message": "bad q"})
    refused = error_for(bad, "x", credentials=True)
    assert isinstance(refused, Refused) and refused.error == "InvalidRequest"
    down = error_for(answer(503), "x", credentials=True)
    assert isinstance(down, SourceDown) and not isinstance(down, Refused)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    "refusal",
    [
        answer(403, {"message": "Forbidden"}, '{"message": "Forbidden"}'),
        answer(403, None, BLOCK_PAGE, **{"Content-Type": "text/html; charset=UTF-8"}),
        answer(403),
    ],
    ids=["json", "html", "empty"],
)
def test_a_401_or_403_without_credentials_sent_is_refused_not_auth_failed(
    status: int, refusal: Answer
) -> None:
    # a Hacker News search or a feed: nothing to fix, so never a disable
    error = error_for(replace(refusal, status=status), "feed f", credentials=False)
    assert isinstance(error, Refused) and error.status == status
    assert str(error).startswith(f"feed f: HTTP {status}")
    assert "refused to answer: the server may be blocking this address, or want a login" in str(
        error
    )
    assert "credentials" not in str(error)


@pytest.mark.parametrize("status", [401, 403])
def test_a_web_page_refusing_a_request_with_credentials_is_a_block_not_auth_failed(
    status: int,
) -> None:
    page = answer(status, None, BLOCK_PAGE, **{"Content-Type": "text/html"})
    error = error_for(page, "mastodon", credentials=True)
    assert isinstance(error, Refused) and not isinstance(error, AuthFailed)
    assert str(error) == (
        f"mastodon: HTTP {status}, a web page, not the API's answer: a CDN or firewall in "
        "front of the API may be blocking this address (the credentials were not refused)"
    )
    # found by its first character too, when the type says nothing
    unlabelled = answer(status, None, "  " + BLOCK_PAGE, **{"Content-Type": ""})
    assert isinstance(error_for(unlabelled, "x", credentials=True), Refused)


@pytest.mark.parametrize(
    "refusal",
    [
        answer(403, {"error": "This action is outside the authorized scopes"}),
        # JSON served as text/html by a sloppy server is still the API speaking
        answer(401, {"error": "bad"}, '{"error": "bad"}', **{"Content-Type": "text/html"}),
        answer(401, None, "Unauthorized", **{"Content-Type": "text/plain"}),
    ],
    ids=["json", "json-as-html", "plain-text"],
)
def test_the_apis_own_refusal_of_credentials_is_still_auth_failed(refusal: Answer) -> None:
    assert isinstance(error_for(refusal, "x", credentials=True), AuthFailed)


def test_messages_quote_the_platform_briefly_and_never_html() -> None:
    bad = answer(400, {"error": "InvalidRequest", "message": "x" * 500})
    error = error_for(bad, "bluesky q", credentials=True)
    assert str(error).startswith("bluesky q: HTTP 400 (InvalidRequest: xxx")
    assert len(str(error)) < 250
    page = answer(502, None, "<html>" + "junk " * 100, **{"Content-Type": "text/html"})
    assert (
        str(error_for(page, "feed f", credentials=False)) == "feed f: HTTP 502 (an HTML error page)"
    )


NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" + "<!-- padding -->\r\n" * 6
)


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/octet-stream"])
def test_an_error_page_served_without_an_html_type_is_named_not_quoted(content_type: str) -> None:
    page = answer(503, None, NGINX_503, **{"Content-Type": content_type})
    assert str(error_for(page, "mastodon m", credentials=True)) == (
        "mastodon m: HTTP 503 (an HTML error page: 503 Service Temporarily Unavailable)"
    )


def test_an_error_page_without_a_title_is_named_by_its_first_heading_or_not_at_all() -> None:
    headed = answer(502, None, "<body><h1>Bad &amp; <b>broken</b></h1><p>" + "x" * 900)
    assert str(error_for(headed, "hn", credentials=False)) == (
        "hn: HTTP 502 (an HTML error page: Bad & broken)"
    )
    bare = answer(502, None, "<!DOCTYPE html><p>" + "x" * 900)
    assert str(error_for(bare, "hn", credentials=False)) == "hn: HTTP 502 (an HTML error page)"


JWT = "eyJhbGciOiJFUzI1NksifQ.eyJzdWIiOiJkaWQ6cGxjOmFiYyJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            '{"accessJwt": "abc.def.ghi", "did": "did:plc:x"}',
            '{"accessJwt": "***", "did": "did:plc:x"}',
        ),
        ('{"refreshJwt": "cut-off-mid-val', '{"refreshJwt": "***"'),
        ('{"refreshJwt": "cut-off\\', '{"refreshJwt": "***"'),
        (
            "{'access_token': 'abcdefgh', 'expires_in': 3600}",
            "{'access_token': '***', 'expires_in': 3600}",
        ),
        ("access_token=abcdefgh&token_type=bearer&x=1", "access_token=***&token_type=***&x=1"),
        ('{"password": 12345678, "user": "ana"}', '{"password": ***, "user": "ana"}'),
        (f"upstream said: {JWT} is bad", "upstream said: *** is bad"),
        ("ExpiredToken: Token has expired", "ExpiredToken: Token has expired"),
        (
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
    ],
    ids=[
        "json",
        "cut-in-a-value",
        "cut-in-an-escape",
        "repr",
        "form",
        "number",
        "bare-jwt",
        "prose",
        "html",
    ],
)
def test_previews_mask_credentials_and_keep_the_rest(text: str, shown: str) -> None:
    assert preview(text, 200) == shown


def test_a_preview_is_cut_after_masking_and_says_so() -> None:
    text = '{"accessJwt": "' + "s" * 500 + '", "did": "did:plc:x"}'
    assert preview(text, 40) == '{"accessJwt": "***", "did": "did:plc:x"}'
    assert preview("<html>" + "junk " * 100, 30) == "<html>junk junk junk junk j..."


def test_a_body_that_is_not_an_object_is_quoted_masked_or_not_at_all() -> None:
    cut = '{"accessJwt": "' + JWT + '", "refreshJwt": "' + JWT[:20]
    with pytest.raises(SourceDown) as failure:
        json_body(answer(200, None, cut), "bluesky getPosts")
    assert str(failure.value) == (
        'bluesky getPosts: expected a JSON object, got \'{"accessJwt": "***", "refreshJwt": "***"\''
    )
    with pytest.raises(SourceDown) as failure:
        json_body(answer(200, None, cut), "bluesky createSession", quote=False)
    assert str(failure.value) == (
        f"bluesky createSession: expected a JSON object, got {len(cut)} characters that are "
        "not one (not quoted: a sign-in's)"
    )


def test_an_error_body_is_quoted_with_its_credentials_masked() -> None:
    leaky = answer(
        500, None, f"proxy error; upstream sent token={JWT}", **{"Content-Type": "text/plain"}
    )
    assert (
        str(error_for(leaky, "x", credentials=True))
        == "x: HTTP 500 (proxy error; upstream sent token=***)"
    )
