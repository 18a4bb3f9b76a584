"""The Mastodon source, streaming and publisher against a fake instance on 127.0.0.1:
real aiohttp, real SQLite, the real API's shapes and paging rules."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.mastodon_api import FakeMastodon, sse
from fakes.pipeline import shared_http, stages
from fakes.server import BLOCK_PAGE
from publishkit import the_one_warning
from yarl import URL

from earful.config import ConfigError, PublishConfig, parse_config
from earful.http import SharedSession
from earful.outbox import publish_due
from earful.pipeline import poll
from listener.base import AuthFailed, RateLimited, SourceContext, SourceDown
from listener.http_errors import Refused
from listener.mastodon import Settings, build
from listener.mastodon_source import MastodonSource, MastodonStreamingSource
from listener.mention import Brand
from responders.addressing import mastodon_length
from responders.publish.base import Outgoing, PublishError
from responders.publish.mastodon import MastodonPublisher, idempotency_key
from responders.publish.mastodon import build as build_publisher
from storage.store import Store

BRAND = Brand("Acme", ("acme",), {"mastodon": "@acme@fake.social"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeMastodon]:
    server = FakeMastodon()
    await server.start()
    yield server
    await server.close()


http = pytest.fixture(shared_http, name="http")


def settings(fake: FakeMastodon, **keys: Any) -> Settings:
    table = {"name": "masto", "type": "mastodon", "base_url": fake.base_url, "tag": "acme"}
    table.update(keys)
    return Settings.model_validate(table)


def source(fake: FakeMastodon, http: SharedSession, **keys: Any) -> MastodonSource:
    made = build(settings(fake, **keys), SourceContext(brand=BRAND, http=http.get))
    assert isinstance(made, MastodonSource)  # MastodonStreamingSource is one too
    made.retry_delay = 0.01  # transient faults retried at once
    return made


def texts(mentions: Any) -> list[str]:
    return [m.text for m in mentions]


def post_tagged(fake: FakeMastodon, n: int, tag: str = "acme") -> list[dict[str, Any]]:
    return [fake.post(f"<p>acme post {i}</p>", tags=[tag]) for i in range(n)]


# -- hashtag polling ----------------------------------------------------------------------


async def test_first_poll_takes_the_newest_page_and_sets_the_cursor(
    fake: FakeMastodon, http: SharedSession
) -> None:
    statuses = post_tagged(fake, 5)
    result = await source(fake, http, page_size=3).fetch(None)
    assert texts(result.mentions) == ["acme post 2", "acme post 3", "acme post 4"]
    assert result.cursor == {"since_id": statuses[-1]["id"]}
    assert result.more is False


async def test_a_burst_after_a_first_poll_of_an_empty_timeline_is_read_whole(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = source(fake, http, page_size=3)
    empty = await masto.fetch(None)
    assert empty.mentions == () and empty.cursor is not None
    post_tagged(fake, 7)
    burst = await masto.fetch(empty.cursor)
    assert texts(burst.mentions) == [f"acme post {i}" for i in range(7)]


async def test_a_backlog_is_walked_through_link_header_pages_oldest_first(
    fake: FakeMastodon, http: SharedSession
) -> None:
    (first,) = post_tagged(fake, 1)
    later = post_tagged(fake, 8)
    result = await source(fake, http, page_size=3).fetch({"since_id": first["id"]})
    assert texts(result.mentions) == [f"acme post {i}" for i in range(8)]
    assert result.cursor == {"since_id": later[-1]["id"]}
    pages = fake.requests_to("/api/v1/timelines/tag/acme")
    # each page after the first is the Link header's rel="prev" (min_id = newest seen)
    assert [r.param("min_id") for r in pages] == [
        first["id"],
        later[2]["id"],
        later[5]["id"],
    ]


async def test_a_backlog_longer_than_a_poll_asks_to_be_polled_again_at_once(
    fake: FakeMastodon, http: SharedSession
) -> None:
    (first,) = post_tagged(fake, 1)
    post_tagged(fake, 20)
    masto = source(fake, http, page_size=3)
    result = await masto.fetch({"since_id": first["id"]})
    assert len(result.mentions) == 15 and result.more is True
    rest = await masto.fetch(result.cursor)
    assert texts(rest.mentions) == [f"acme post {i}" for i in range(15, 20)]
    assert rest.more is False


async def test_an_instance_ignoring_min_id_is_read_once_not_for_ever(
    fake: FakeMastodon, http: SharedSession, caplog: pytest.LogCaptureFixture
) -> None:
    (first,) = post_tagged(fake, 1)
    later = post_tagged(fake, 3)
    fake.ignore_min_id = True  # the newest page every time, Link prev pointing at it
    masto = source(fake, http, page_size=3)
    timeline = "/api/v1/timelines/tag/acme"

    result = await masto.fetch({"since_id": first["id"]})
    # each status once, the cursor on the newest, and no sweep to come back to
    assert [m.native_id for m in result.mentions] == [s["id"] for s in later]
    assert result.more is False and result.cursor == {"since_id": later[-1]["id"]}
    assert len(fake.requests_to(timeline)) == 2  # the second brought nothing new

    again = await masto.fetch(result.cursor)
    assert again.mentions == () and again.more is False and again.cursor == result.cursor
    assert len(fake.requests_to(timeline)) == 3

    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "repeats" in r.message]
    assert len(warnings) == 1
    assert warnings[0].message.startswith("mastodon masto: ")
    assert "#acme" in warnings[0].message and "stops paging" in warnings[0].message


async def test_a_link_header_pointing_back_at_a_page_already_read_stops_the_walk(
    fake: FakeMastodon, http: SharedSession
) -> None:
    (first,) = post_tagged(fake, 1)
    later = post_tagged(fake, 3)
    fake.stale_prev_link = True
    masto = source(fake, http, page_size=3)
    result = await masto.fetch({"since_id": first["id"]})
    assert [m.native_id for m in result.mentions] == [s["id"] for s in later]
    assert result.more is False and result.cursor == {"since_id": later[-1]["id"]}
    assert len(fake.requests_to("/api/v1/timelines/tag/acme")) == 1


async def test_since_id_polls_return_only_what_is_new(
    fake: FakeMastodon, http: SharedSession
) -> None:
    post_tagged(fake, 2)
    masto = source(fake, http)
    first = await masto.fetch(None)
    quiet = await masto.fetch(first.cursor)
    assert quiet.mentions == () and quiet.cursor == first.cursor
    fake.post("<p>acme is down</p>", tags=["Acme"])
    fake.post("<p>unrelated</p>", tags=["cats"])
    fresh = await masto.fetch(quiet.cursor)
    assert texts(fresh.mentions) == ["acme is down"]


async def test_hashtag_polling_needs_no_token(fake: FakeMastodon, http: SharedSession) -> None:
    post_tagged(fake, 1)
    await source(fake, http).fetch(None)
    (request,) = fake.requests_to("/api/v1/timelines/tag/")
    assert "Authorization" not in request.headers


async def test_remaining_budget_of_zero_waits_for_the_reset(
    fake: FakeMastodon, http: SharedSession
) -> None:
    (first,) = post_tagged(fake, 1)
    post_tagged(fake, 10)
    fake.rate_remaining = 0
    result = await source(fake, http, page_size=3).fetch({"since_id": first["id"]})
    assert len(result.mentions) == 3  # one page, then it stops asking
    assert result.more is False
    assert result.next_poll_in is not None and 200 < result.next_poll_in <= 300


# -- mentions and search --------------------------------------------------------------------


async def test_mentions_come_from_mention_notifications_with_the_token(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.notify("follow", fake.account("bob"))
    note = fake.mention(fake.make_status("<p>@acme my bill is wrong</p>"))
    fake.notify("favourite", fake.account("cy"))
    masto = source(fake, http, mode="mentions", tag=None, access_token=fake.token)
    result = await masto.fetch(None)
    assert texts(result.mentions) == ["@acme my bill is wrong"]
    assert result.mentions[0].native_id == note["status"]["id"]
    assert result.cursor == {"since_id": note["id"]}  # a notification id
    (request,) = fake.requests_to("/api/v1/notifications")
    assert request.headers["Authorization"] == f"Bearer {fake.token}"
    assert request.params("types[]") == ["mention"]
    later = fake.mention(fake.make_status("<p>@acme still waiting</p>"))
    again = await masto.fetch(result.cursor)
    assert texts(again.mentions) == ["@acme still waiting"]
    assert again.cursor == {"since_id": later["id"]}


@pytest.fixture
async def split_domain() -> AsyncIterator[FakeMastodon]:
    """A server whose users' handles are @name@example.com and whose web address (and
    API, and profile links) is social.example.com."""
    server = FakeMastodon(domain="example.com", web_domain="social.example.com")
    await server.start()
    yield server
    await server.close()


async def test_local_handles_take_the_servers_handle_domain_not_its_web_address(
    split_domain: FakeMastodon, http: SharedSession
) -> None:
    fake = split_domain
    fake.publish(
        fake.make_status("<p>acme is down</p>", account=fake.account("ana"), tags=["acme"])
    )
    remote = fake.account("ben", domain="mastodon.online")
    fake.publish(fake.make_status("<p>acme too</p>", account=remote, tags=["acme"]))
    masto = source(fake, http)
    result = await masto.fetch(None)
    assert [m.author.handle for m in result.mentions] == ["ana@example.com", "ben@mastodon.online"]
    assert result.mentions[0].author.url == "https://social.example.com/@ana"
    await masto.fetch(result.cursor)
    assert len(fake.requests_to("/api/v2/instance")) == 1  # asked once


async def test_the_brands_own_posts_are_known_on_a_server_with_its_own_handle_domain(
    split_domain: FakeMastodon, http: SharedSession
) -> None:
    fake = split_domain
    fake.publish(fake.make_status("<p>acme: all fixed</p>", account=fake.me, tags=["acme"]))
    (own,) = (await source(fake, http).fetch(None)).mentions
    assert Brand("Acme", (), {"mastodon": "@acme@example.com"}).is_own(
        "mastodon", own.author.handle
    )


async def test_an_older_server_says_its_handle_domain_in_the_v1_instance_info(
    split_domain: FakeMastodon, http: SharedSession
) -> None:
    fake = split_domain
    fake.fail("/api/v2/instance", 404, body='{"error": "Record not found"}')
    fake.publish(fake.make_status("<p>acme?</p>", account=fake.account("ana"), tags=["acme"]))
    (post,) = (await source(fake, http).fetch(None)).mentions
    assert post.author.handle == "ana@example.com"


async def test_search_mode_reads_statuses_from_the_search_answer(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.post("<p>Acme outage again</p>")
    fake.post("<p>nothing to see</p>")
    masto = source(fake, http, mode="search", tag=None, query="acme", access_token=fake.token)
    result = await masto.fetch(None)
    assert texts(result.mentions) == ["Acme outage again"]
    newer = fake.post("<p>acme billing mess</p>")
    again = await masto.fetch(result.cursor)
    assert texts(again.mentions) == ["acme billing mess"]
    assert again.cursor == {"since_id": newer["id"]}


def searcher(fake: FakeMastodon, http: SharedSession, **keys: Any) -> MastodonSource:
    keys = {"mode": "search", "tag": None, "query": "acme", "access_token": fake.token} | keys
    return source(fake, http, **keys)


async def test_search_reads_a_burst_bigger_than_a_page_whole(
    fake: FakeMastodon, http: SharedSession
) -> None:
    # Search answers newest first whatever min_id says: asking for "the page after
    # the newest" read the newest 40 of a burst of 100 and lost the 60 below them.
    fake.post("<p>acme one</p>")
    masto = searcher(fake, http)
    first = await masto.fetch(None)
    burst = [fake.post(f"<p>acme burst {i}</p>") for i in range(100)]
    fake.post("<p>nothing to see</p>")
    result = await masto.fetch(first.cursor)
    assert texts(result.mentions) == [f"acme burst {i}" for i in range(100)]  # oldest first
    assert result.cursor == {"since_id": burst[-1]["id"]} and not result.more
    quiet = await masto.fetch(result.cursor)
    assert quiet.mentions == () and quiet.cursor == result.cursor  # not back to "0"
    assert (await masto.fetch(quiet.cursor)).mentions == ()


async def test_a_search_walk_longer_than_a_poll_goes_on_at_the_next_poll(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = searcher(fake, http, page_size=10)
    first = await masto.fetch(None)
    assert first.cursor == {"since_id": "0"}  # nothing yet: everything later is new
    for i in range(70):
        fake.post(f"<p>acme {i}</p>")
    part = await masto.fetch(first.cursor)
    assert texts(part.mentions) == [f"acme {i}" for i in range(20, 70)]  # 5 pages, newest
    walk = part.cursor
    assert part.more and walk is not None
    assert walk["since_id"] == "0" and walk["offset"] == 50
    fake.post("<p>acme while walking</p>")  # shifts the walk down by one
    rest = await masto.fetch(walk)
    assert set(texts(rest.mentions)) >= {f"acme {i}" for i in range(20)}
    assert not rest.more and rest.cursor == {"since_id": walk["top"]}
    # the post that arrived during the walk is read by the next walk
    assert texts((await masto.fetch(rest.cursor)).mentions) == ["acme while walking"]


async def test_a_short_search_page_is_not_the_end_of_the_walk(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = searcher(fake, http, page_size=10)
    first = await masto.fetch(None)
    posts = [fake.post(f"<p>acme {i}</p>") for i in range(25)]
    fake.filtered = {posts[20]["id"], posts[18]["id"]}  # the newest page comes back with 8
    result = await masto.fetch(first.cursor)
    assert len(result.mentions) == 23 and "acme 0" in texts(result.mentions)


async def test_an_instance_that_ignores_the_search_offset_stops_the_walk(
    fake: FakeMastodon, http: SharedSession, caplog: pytest.LogCaptureFixture
) -> None:
    masto = searcher(fake, http, page_size=10)
    first = await masto.fetch(None)
    posts = [fake.post(f"<p>acme {i}</p>") for i in range(30)]
    fake.ignore_offset = True
    result = await masto.fetch(first.cursor)
    assert texts(result.mentions) == [f"acme {i}" for i in range(20, 30)]
    assert result.cursor == {"since_id": posts[-1]["id"]} and not result.more
    assert len(fake.requests_to("/api/v2/search")) == 3  # the first poll, then two pages
    assert any("repeats" in r.message for r in caplog.records)


async def test_a_search_cursor_it_did_not_write_starts_afresh(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.post("<p>acme one</p>")
    masto = searcher(fake, http)
    odd = {"since_id": "0", "offset": -5, "top": "x y"}
    result = await masto.fetch(odd)  # a bad walk is ignored, since_id still counts
    assert texts(result.mentions) == ["acme one"] and result.cursor is not None
    assert "offset" not in result.cursor


# -- faults -----------------------------------------------------------------------------------


async def test_429_is_rate_limited_until_x_ratelimit_reset(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.fail(
        "/api/v1/timelines",
        429,
        body='{"error": "Too many requests"}',
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-11-20T10:05:00.000Z"},
    )
    with pytest.raises(RateLimited) as caught:
        await source(fake, http).fetch(None)
    assert caught.value.reset_at == datetime(2026, 11, 20, 10, 5, tzinfo=UTC)


async def test_429_retry_after_seconds_wins_over_the_reset_header(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.fail(
        "/api/v1/timelines",
        429,
        headers={"Retry-After": "30", "X-RateLimit-Reset": "2026-11-20T10:05:00.000Z"},
    )
    with pytest.raises(RateLimited) as caught:
        await source(fake, http).fetch(None)
    assert caught.value.reset_at is not None
    assert 25 <= (caught.value.reset_at - datetime.now(UTC)).total_seconds() <= 30


async def test_401_is_auth_failed_and_never_shows_the_token(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = source(fake, http, mode="mentions", tag=None, access_token="wrong-secret-token")
    with pytest.raises(AuthFailed) as caught:
        await masto.fetch(None)
    assert "401" in str(caught.value)
    assert "wrong-secret-token" not in str(caught.value)


async def test_a_block_page_in_front_of_the_instance_is_source_down_not_auth_failed(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    # an instance behind Cloudflare: an HTML 403 refuses the address, not the token
    fake.post("<p>acme billing mess</p>", tags=["acme"])
    page = {"Content-Type": "text/html; charset=UTF-8"}
    fake.fail("/api/v1/timelines", 403, body=BLOCK_PAGE, headers=page)
    masto = source(fake, http, access_token=fake.token)
    with pytest.raises(SourceDown, match="mastodon: HTTP 403, a web page") as caught:
        await poll(masto, store, stages())
    assert not isinstance(caught.value, AuthFailed)
    assert (await poll(masto, store, stages())).new == 1


async def test_an_instance_that_wants_a_login_for_a_tag_is_not_a_token_to_fix(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    # a hashtag read without a token: there is no token the 401 could have refused
    said = b'{"error": "This method requires an authenticated user"}'
    json_type = {"Content-Type": "application/json"}
    fake.fail("/api/v1/timelines", 401, body=said, headers=json_type)
    with pytest.raises(SourceDown, match=r"HTTP 401 .*, refused to answer") as caught:
        await poll(source(fake, http), store, stages())
    assert not isinstance(caught.value, AuthFailed)


async def test_a_web_page_where_the_api_should_be_is_said_to_be_one(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    # a login wall or a proxy's page: "malformed JSON (Expecting value)" said nothing
    page = "<!DOCTYPE html><html><body>Sign in</body></html>"
    fake.fail("/api/v1/timelines", 200, body=page, headers={"Content-Type": "text/html"})
    with pytest.raises(SourceDown, match=r"answered a web page \(HTML\), not the API's JSON"):
        await poll(source(fake, http), store, stages())
    assert store.cursor("masto") is None
    # the same page served without its type (application/octet-stream)
    fake.fail("/api/v1/timelines", 200, body=page)
    with pytest.raises(SourceDown, match=r"answered a web page \(HTML\), not the API's JSON"):
        await poll(source(fake, http), store, stages())


async def test_malformed_json_is_source_down_and_nothing_is_stored(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    post_tagged(fake, 2)
    fake.fail("/api/v1/timelines", 200, body=b'[{"id": "1", "content": "<p>acm')
    masto = source(fake, http)
    with pytest.raises(SourceDown, match="malformed JSON"):
        await poll(masto, store, stages())
    assert store.cursor("masto") is None
    summary = await poll(masto, store, stages())  # the next poll gets the page whole
    assert summary.new == 2


async def test_an_answer_of_the_wrong_shape_is_source_down(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.fail("/api/v1/timelines", 200, body=b'{"error": "tag timelines are off"}')
    with pytest.raises(SourceDown, match="expected a JSON array"):
        await source(fake, http).fetch(None)


async def test_a_5xx_is_retried_then_succeeds(fake: FakeMastodon, http: SharedSession) -> None:
    post_tagged(fake, 1)
    fake.fail("/api/v1/timelines", 503, times=2)
    result = await source(fake, http).fetch(None)
    assert texts(result.mentions) == ["acme post 0"]
    assert len(fake.requests_to("/api/v1/timelines")) == 3


async def test_a_5xx_that_persists_is_source_down(fake: FakeMastodon, http: SharedSession) -> None:
    fake.fail("/api/v1/timelines", 502, times=10)
    with pytest.raises(SourceDown, match="HTTP 502"):
        await source(fake, http).fetch(None)
    assert len(fake.requests_to("/api/v1/timelines")) == 3  # the first try and two retries


async def test_a_request_that_times_out_is_retried(fake: FakeMastodon) -> None:
    # the retry must get its whole answer within the timeout: a second, not 0.1 s
    # that a busy machine can miss
    impatient = SharedSession(timeout=1.0)
    try:
        post_tagged(fake, 1)
        fake.fail("/api/v1/timelines", 200, body=b"[]", delay=2.5)
        result = await source(fake, impatient).fetch(None)
        assert texts(result.mentions) == ["acme post 0"]
    finally:
        await impatient.aclose()


async def test_a_server_that_never_answers_is_source_down(fake: FakeMastodon) -> None:
    impatient = SharedSession(timeout=0.1)
    try:
        fake.fail("/api/v1/timelines", 200, body=b"[]", delay=0.4, times=3)
        with pytest.raises(SourceDown, match="timed out"):
            await source(fake, impatient).fetch(None)
    finally:
        await impatient.aclose()


async def test_an_unreachable_instance_is_source_down(http: SharedSession) -> None:
    server = FakeMastodon()
    await server.start()
    await server.close()  # nothing listens on that port any more
    with pytest.raises(SourceDown, match="cannot connect"):
        await source(server, http).fetch(None)


async def test_a_status_without_an_id_is_skipped_and_the_rest_kept(
    fake: FakeMastodon, http: SharedSession
) -> None:
    good = fake.post("<p>acme fine</p>", tags=["acme"])
    broken = {k: v for k, v in good.items() if k != "id"}
    fake.fail("/api/v1/timelines", 200, body=json.dumps([good, broken]).encode())
    result = await source(fake, http).fetch(None)
    assert texts(result.mentions) == ["acme fine"]


async def test_html_content_is_plain_text_without_scripts_and_with_entities_decoded(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.post(
        '<p>Acme &amp; co <script>fetch("/steal")</script>charged me &pound;40 twice'
        "<style>p{}</style> &lt;3 &#x1F621;<br>call me</p><p>please</p>",
        tags=["acme"],
    )
    (mention,) = (await source(fake, http).fetch(None)).mentions
    assert mention.text == "Acme & co charged me £40 twice <3 😡\ncall me\n\nplease"


async def test_a_quote_keeps_the_quoted_posts_text_as_context(
    fake: FakeMastodon, http: SharedSession
) -> None:
    quoted = fake.make_status("<p>Acme: new prices from Monday &amp; no refunds</p>")
    fake.post("<p>#acme this is outrageous</p>", tags=["acme"], quote=quoted)
    fake.post("<p>#acme plain post</p>", tags=["acme"])
    quote, plain = (await source(fake, http).fetch(None)).mentions
    assert quote.context == "Acme: new prices from Monday & no refunds"
    # without the "RE: <link>" line Mastodon adds for clients that show no quotes
    assert quote.text == "#acme this is outrageous"
    assert plain.context is None


async def test_a_cursor_it_did_not_write_starts_afresh(
    fake: FakeMastodon, http: SharedSession
) -> None:
    post_tagged(fake, 2)
    result = await source(fake, http).fetch({"since_id": "1; DROP TABLE"})
    assert len(result.mentions) == 2


# -- settings -------------------------------------------------------------------------------


def config_problems(source_table: dict[str, Any]) -> list[str]:
    raw = {"brand": {"name": "Acme"}, "sources": [source_table]}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("earful.toml"), {})
    return caught.value.problems


def test_sources_on_two_instances_are_refused() -> None:
    # status ids are each instance's own: one's post 42 is not the other's, and a
    # reply would go out through the first instance with the second's id
    tag = {"type": "mastodon", "tag": "acme"}
    raw = {
        "brand": {"name": "Acme"},
        "sources": [
            {"name": "a", "base_url": "https://mastodon.social", **tag},
            {"name": "b", "base_url": "https://Mastodon.social/", **tag},  # the same one
            {"name": "c", "base_url": "https://fosstodon.org", **tag},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("earful.toml"), {})
    assert caught.value.problems == [
        "sources[2].base_url: one Mastodon instance per Earful: sources[0] reads "
        "mastodon.social, this one fosstodon.org (status ids are each instance's own; "
        "see docs/mastodon.md)"
    ]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"tag": None}, 'mode "hashtag" needs `tag`'),
        ({"mode": "search", "tag": None}, 'mode "search" needs `query`'),
        ({"mode": "mentions", "tag": None}, 'mode "mentions" needs `access_token`'),
        ({"stream": True}, "`stream = true` needs `access_token`"),
        (
            {"mode": "search", "tag": None, "query": "acme", "access_token": "t", "stream": True},
            'works with mode "hashtag" or "mentions"',
        ),
        ({"base_url": "mastodon.social"}, "sources[0].base_url: expected the instance URL"),
        ({"tag": "two tags"}, "sources[0].tag: expected one hashtag"),
        (
            {"mode": "search", "query": "acme", "access_token": "t"},
            '`tag` is for mode "hashtag"; mode "search" does not read it',
        ),
        ({"query": "acme"}, '`query` is for mode "search"; mode "hashtag" does not read it'),
    ],
)
def test_settings_mistakes_are_config_errors_with_the_key_path(
    keys: dict[str, Any], expected: str
) -> None:
    table = {"name": "m", "type": "mastodon", "base_url": "https://fake.social", "tag": "acme"}
    table.update(keys)
    table = {k: v for k, v in table.items() if v is not None}
    (problem,) = config_problems(table)
    assert expected in problem and problem.startswith("sources[0]")


def test_a_bad_access_token_is_never_echoed_in_config_errors() -> None:
    table = {
        "name": "m",
        "type": "mastodon",
        "base_url": "https://fake.social",
        "tag": "acme",
        "access_token": ["s3cret-value"],
    }
    (problem,) = config_problems(table)
    assert problem.startswith("sources[0].access_token") and "s3cret-value" not in problem


def test_streaming_settings_build_a_streaming_source() -> None:
    table = {"name": "m", "type": "mastodon", "base_url": "https://fake.social/", "tag": "#acme"}
    ctx = SourceContext(brand=BRAND, http=SharedSession().get)  # no session made until used
    plain = build(Settings.model_validate(table), ctx)
    streaming = build(Settings.model_validate({**table, "stream": True, "access_token": "t"}), ctx)
    assert type(plain) is MastodonSource and isinstance(streaming, MastodonStreamingSource)
    assert plain.settings.tag == "acme" and str(plain.base) == "https://fake.social"


# -- streaming, the source's half ---------------------------------------------------------------


def streaming(fake: FakeMastodon, http: SharedSession, **keys: Any) -> MastodonStreamingSource:
    made = source(fake, http, stream=True, access_token=fake.token, **keys)
    assert isinstance(made, MastodonStreamingSource)
    return made


async def test_stream_back_fills_from_the_cursor_then_streams_each_post(
    fake: FakeMastodon, http: SharedSession
) -> None:
    (seen,) = post_tagged(fake, 1)
    fake.post("<p>acme posted while we were away</p>", tags=["acme"])
    masto = streaming(fake, http)
    async with aclosing(masto.stream({"since_id": seen["id"]})) as results:
        backfill = await anext(results)
        assert texts(backfill.mentions) == ["acme posted while we were away"]
        assert backfill.cursor is not None
        live = fake.post("<p>acme live now</p>", tags=["acme"])
        fake.post("<p>other tag</p>", tags=["cats"])
        streamed = await anext(results)
        assert texts(streamed.mentions) == ["acme live now"]
        assert streamed.mentions[0].native_id == live["id"]
        assert streamed.cursor is None  # only polls move the cursor
    (request,) = fake.requests_to("/api/v1/streaming/hashtag")
    assert request.param("tag") == "acme"
    assert request.headers["Authorization"] == f"Bearer {fake.token}"


async def test_stream_ignores_deletes_edits_heartbeats_and_junk_events(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = streaming(fake, http)
    async with aclosing(masto.stream(None)) as results:
        await anext(results)  # the back-fill
        await fake.wait_for_streams(1)
        fake.send_raw(b":thump\n")
        fake.send_raw(sse("delete", "108914430312582020"))
        fake.send_raw(sse("status.update", fake.make_status("<p>edited</p>")))
        fake.send_raw(b"event: update\ndata: {not json\n\n")
        fake.send_raw(sse("update", {"content": "<p>no id</p>"}))
        fake.post("<p>acme the real one</p>", tags=["acme"])
        streamed = await anext(results)
    assert texts(streamed.mentions) == ["acme the real one"]


async def test_stream_cut_mid_event_ends_with_source_down_and_yields_no_half_post(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = streaming(fake, http)
    got = []
    with pytest.raises(SourceDown, match=r"closed the stream|dropped"):
        async with aclosing(masto.stream(None)) as results:
            async for result in results:
                got.append(result)
                if len(got) == 1:
                    await fake.wait_for_streams(1)
                    status = fake.make_status("<p>acme half</p>", tags=["acme"])
                    fake.send_raw(sse("update", status)[:60])
                    fake.drop_streams()
    assert len(got) == 1 and got[0].mentions == ()


async def test_stream_of_mentions_reads_mention_notifications(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = streaming(fake, http, mode="mentions", tag=None)
    async with aclosing(masto.stream(None)) as results:
        await anext(results)
        await fake.wait_for_streams(1)
        fake.notify("follow", fake.account("bob"))
        fake.mention(fake.make_status("<p>@acme help</p>"))
        streamed = await anext(results)
    assert texts(streamed.mentions) == ["@acme help"]
    assert fake.requests_to("/api/v1/streaming/user/notification")


async def test_stream_refused_credentials_are_auth_failed(
    fake: FakeMastodon, http: SharedSession
) -> None:
    masto = source(fake, http, stream=True, access_token="nope")
    with pytest.raises(AuthFailed):
        async with aclosing(masto.stream(None)) as results:  # type: ignore[attr-defined]
            await anext(results)


async def test_settings_hold_the_token_as_a_secret(fake: FakeMastodon) -> None:
    s = settings(fake, access_token="very-secret")
    assert "very-secret" not in repr(s) and s.token() == "very-secret"


# -- the daemon: a stream that drops mid-event is resumed, nothing lost or doubled -----------


def daemon_config(fake: FakeMastodon, tmp_path: Path, **source_keys: Any) -> Any:
    table = {
        "name": "masto",
        "type": "mastodon",
        "base_url": fake.base_url,
        "tag": "acme",
        "access_token": fake.token,
        "stream": True,
        "interval": "1h",  # the safety-net poll runs once, at start: the stream does the rest
    }
    table.update(source_keys)
    raw = {
        "brand": {"name": "Acme", "keywords": ["acme"]},
        "storage": {"path": str(tmp_path / "earful.db")},
        "sources": [table],
        "publish": {"interval": "1h"},
    }
    return parse_config(raw, tmp_path / "earful.toml", {})


def stored_ids(db: Path) -> list[str]:
    with Store.open(db) as store:
        rows = store.conn.execute(
            "SELECT native_id FROM mentions WHERE platform = 'mastodon' ORDER BY native_id"
        )
        return [r[0] for r in rows]


async def wait_until(check: Any, *, rounds: int = 1000) -> None:
    for _ in range(rounds):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came true")


async def test_daemon_resumes_a_dropped_stream_with_nothing_lost_or_duplicated(
    fake: FakeMastodon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from earful.app import build_runtime
    from earful.daemon import Daemon

    caplog.set_level(logging.INFO, logger="earful")
    before = post_tagged(fake, 2)
    config = daemon_config(fake, tmp_path)
    batches: list[Any] = []
    daemon = Daemon(build_runtime(config), on_batch=batches.append)
    assert set(daemon.streams) == {"masto"}
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    try:
        await fake.wait_for_streams(1)
        await wait_until(lambda: sum(b.ingest.stored for b in batches) >= 2)
        live = fake.post("<p>acme live one</p>", tags=["acme"])
        await wait_until(lambda: sum(b.ingest.stored for b in batches) >= 3)
        # the connection drops half-way through the next event...
        cut = fake.make_status("<p>acme cut in half</p>", tags=["acme"])
        fake.send_raw(sse("update", cut)[:80])
        fake.drop_streams()
        # ...and while it is down, more is posted (the half-sent one included)
        fake.publish(cut)
        away = fake.post("<p>acme while away</p>", tags=["acme"])
        await fake.wait_for_streams(2)
        after = fake.post("<p>acme after the reconnect</p>", tags=["acme"])
        await wait_until(lambda: sum(b.ingest.stored for b in batches) >= 6)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    expected = sorted(s["id"] for s in [*before, live, cut, away, after])
    assert stored_ids(tmp_path / "earful.db") == expected
    # every post stored once: the batches together stored exactly these
    assert sum(b.ingest.stored for b in batches) == 6
    # and the journal counts the stream's new posts as it does a poll's, not a line a
    # post (the safety-net poll at start and the stream's back-fill may both count the
    # first two as new: each judged them before either stored them)
    said = [r.getMessage() for r in caplog.records]
    streamed = [line for line in said if re.match(r"masto \(stream\): \d+ new", line)]
    polled = [line for line in said if re.match(r"masto: \d+ new", line)]
    assert streamed and len(streamed) < 6
    assert sum(int(line.split(": ")[1].split()[0]) for line in streamed + polled) >= 6
    with Store.open(tmp_path / "earful.db") as store:
        assert store.cursor("masto") is not None


async def test_a_quiet_stream_that_reconnects_says_it_recovered(
    fake: FakeMastodon, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    # the journal said "stream masto dropped ... (logged once until it recovers)" and
    # then nothing, for as long as no post came: the stream looked down for good
    from earful import daemon as daemon_module
    from earful.app import build_runtime
    from earful.daemon import Daemon

    monkeypatch.setattr(daemon_module, "STREAM_HEALTHY", 0.2)
    caplog.set_level(logging.INFO, logger="earful")
    daemon = Daemon(build_runtime(daemon_config(fake, tmp_path)))
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    try:
        await fake.wait_for_streams(1)
        fake.drop_streams()
        await fake.wait_for_streams(2)
        await wait_until(lambda: "stream masto recovered after 1 drop" in caplog.text)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    said = [r.getMessage() for r in caplog.records if r.name == "earful.daemon"]
    dropped = [n for n, line in enumerate(said) if line.startswith("stream masto dropped")]
    recovered = [n for n, line in enumerate(said) if line.startswith("stream masto recovered")]
    assert len(dropped) == 1 and len(recovered) == 1 and dropped[0] < recovered[0]


async def test_a_stream_ends_when_its_source_is_disabled(
    fake: FakeMastodon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from earful.app import build_runtime
    from earful.daemon import Daemon

    caplog.set_level(logging.INFO, logger="earful")
    runtime = build_runtime(daemon_config(fake, tmp_path))
    try:
        daemon = Daemon(runtime)
        daemon.runners["masto"].disabled = True  # its poll's credentials were refused
        await asyncio.wait_for(daemon.streams["masto"].run(lambda stage: None), 5)
        assert "stream masto stopped: its source is disabled" in caplog.text
        assert fake.stream_connections == 0
    finally:
        await runtime.aclose()


async def test_daemon_stops_cleanly_while_a_stream_is_open(
    fake: FakeMastodon, tmp_path: Path
) -> None:
    from earful.app import build_runtime
    from earful.daemon import Daemon

    daemon = Daemon(build_runtime(daemon_config(fake, tmp_path)))
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    await fake.wait_for_streams(1)
    stop.set()
    await asyncio.wait_for(running, 30)
    assert running.done() and running.exception() is None
    assert all(task.done() for task in daemon._stream_tasks)


async def test_daemon_does_not_stream_a_source_without_stream(
    fake: FakeMastodon, tmp_path: Path
) -> None:
    from earful.app import build_runtime
    from earful.daemon import Daemon

    runtime = build_runtime(daemon_config(fake, tmp_path, stream=False))
    try:
        assert Daemon(runtime).streams == {}
    finally:
        await runtime.aclose()


def test_stream_reconnects_back_off_and_respect_rate_limits_and_refused_tokens(
    fake: FakeMastodon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    from earful.app import build_runtime
    from earful.daemon import STREAM_MAX_BACKOFF, Daemon

    runtime = build_runtime(daemon_config(fake, tmp_path))
    try:
        runner = Daemon(runtime).streams["masto"]
        first = runner._failed(SourceDown("dropped"), unexpected=False)
        second = runner._failed(SourceDown("dropped"), unexpected=False)
        assert first is not None and 0.8 <= first <= 1.2
        assert second is not None and 1.6 <= second <= 2.4
        for _ in range(20):
            runner._failed(SourceDown("dropped"), unexpected=False)
        assert runner._failed(SourceDown("dropped"), unexpected=False) == STREAM_MAX_BACKOFF
        reset = datetime.now(UTC) + timedelta(seconds=600)
        waited = runner._failed(RateLimited("slow down", reset), unexpected=False)
        assert waited is not None and 590 <= waited <= 600
        # a refusal is tried again after the longest wait: the poll asks with the same
        # token, and a token really refused disables the source (and its stream, below);
        # said once, though the stream had dropped before (failures > 1)
        with caplog.at_level(logging.WARNING, logger="earful"):
            assert runner._failed(AuthFailed("401"), unexpected=False) == STREAM_MAX_BACKOFF
            assert runner._failed(AuthFailed("401"), unexpected=False) == STREAM_MAX_BACKOFF
        assert caplog.text.count("stream masto refused: 401; trying again in 120 s") == 1
        # refused three times in a row while the poll is answered: a scope streaming
        # lacks, so the stream stops and says so; a drop between refusals starts over
        assert runner._failed(AuthFailed("401"), unexpected=False) is None
        assert "may lack the scope streaming needs" in caplog.text
        runner.refusals = 0
        runner._failed(AuthFailed("401"), unexpected=False)
        runner._failed(SourceDown("dropped"), unexpected=False)
        assert runner._failed(AuthFailed("401"), unexpected=False) == STREAM_MAX_BACKOFF
        # no streaming API on this server: polling goes on, and asking again would not help
        assert runner._failed(Refused("masto stream: HTTP 404", 404), unexpected=False) is None
        assert runner._failed(Refused("masto stream: HTTP 400", 400), unexpected=False) is not None
    finally:
        runtime.store.close()


# -- the publisher ----------------------------------------------------------------------------


def publisher(fake: FakeMastodon, http: SharedSession, **keys: Any) -> MastodonPublisher:
    made = build_publisher(
        settings(fake, access_token=fake.token, **keys), SourceContext(brand=BRAND, http=http.get)
    )
    assert isinstance(made, MastodonPublisher)
    return made


def complaint_status(fake: FakeMastodon, visibility: str = "public") -> dict[str, Any]:
    author = fake.account("ana", domain="mastodon.online")
    return fake.post("<p>acme my internet is down</p>", account=author, visibility=visibility)


def outgoing_to(
    status: dict[str, Any], body: str = "Sorry Ana, we're on it.", **kw: Any
) -> Outgoing:
    return Outgoing(
        reply_id=kw.pop("reply_id", 7),
        kind="reply",
        body=body,
        platform="mastodon",
        target_id=status["id"],
        target_author="ana@mastodon.online",
        target_raw=kw.pop("raw", status),
        **kw,
    )


async def test_reply_is_threaded_mentions_the_author_and_carries_an_idempotency_key(
    fake: FakeMastodon, http: SharedSession
) -> None:
    target = complaint_status(fake)
    out = outgoing_to(target)
    posted = await publisher(fake, http).post(out)
    (status,) = fake.posted
    assert posted.native_id == status["id"] and posted.url == status["url"]
    assert status["in_reply_to_id"] == target["id"]
    assert fake.sent[0]["status"] == "@ana@mastodon.online Sorry Ana, we're on it."
    assert status["content"].startswith('<p><span class="h-card"')
    (request,) = [r for r in fake.requests if r.method == "POST"]
    assert request.headers["Idempotency-Key"] == idempotency_key(out)
    assert request.headers["Authorization"] == f"Bearer {fake.token}"


async def test_a_retried_post_never_posts_twice(fake: FakeMastodon, http: SharedSession) -> None:
    out = outgoing_to(complaint_status(fake))
    masto = publisher(fake, http)
    first = await masto.post(out)
    again = await masto.post(out)
    assert first == again and len(fake.posted) == 1


@pytest.mark.parametrize(
    ("original", "widest", "expected"),
    [
        ("public", "public", "public"),
        ("unlisted", "public", "unlisted"),
        ("private", "public", "private"),
        ("direct", "public", "direct"),
        ("public", "unlisted", "unlisted"),
        ("private", "unlisted", "private"),
    ],
)
async def test_reply_visibility_is_never_wider_than_the_post(
    fake: FakeMastodon, http: SharedSession, original: str, widest: str, expected: str
) -> None:
    out = outgoing_to(complaint_status(fake, original))
    await publisher(fake, http, reply_visibility=widest).post(out)
    assert fake.posted[0]["visibility"] == expected


async def test_visibility_is_asked_for_when_the_stored_post_lacks_it(
    fake: FakeMastodon, http: SharedSession
) -> None:
    target = complaint_status(fake, "private")
    await publisher(fake, http).post(outgoing_to(target, raw={"id": target["id"]}))
    assert fake.posted[0]["visibility"] == "private"
    assert fake.requests_to(f"/api/v1/statuses/{target['id']}")


async def test_a_reply_to_a_deleted_post_fails_for_good(
    fake: FakeMastodon, http: SharedSession
) -> None:
    target = complaint_status(fake)
    del fake.statuses[target["id"]]
    with pytest.raises(PublishError) as caught:
        await publisher(fake, http).post(outgoing_to(target, raw=None))
    assert caught.value.retryable is False and "404" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "posted"),
    [
        # named already: no second mention
        ("Hi @Ana@mastodon.online, we're on it.", "Hi @Ana@mastodon.online, we're on it."),
        # On the instance Earful posts through, a bare @ana is its own local user ana:
        # the author (ana@mastodon.online) would not be told, and a direct reply would
        # go to a stranger with the customer's account number in it.
        ("@ana so sorry, refunded on 5521.", "@ana@mastodon.online so sorry, refunded on 5521."),
        # an @ inside a link is part of the link: left alone, and no mention
        (
            "see https://acme.example/?by=@ana",
            "@ana@mastodon.online see https://acme.example/?by=@ana",
        ),
    ],
)
async def test_the_reply_names_the_author_once_and_in_full(
    fake: FakeMastodon, http: SharedSession, body: str, posted: str
) -> None:
    await publisher(fake, http).post(outgoing_to(complaint_status(fake), body=body))
    assert fake.sent[0]["status"] == posted


async def test_a_reply_over_the_instance_limit_is_refused_before_posting(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.max_characters = 60
    out = outgoing_to(complaint_status(fake), body="x" * 50)  # 50 + "@ana " = 55 counted
    masto = publisher(fake, http)
    await masto.post(out)  # fits
    too_long = outgoing_to(complaint_status(fake), body="x" * 56, reply_id=8)
    with pytest.raises(PublishError) as caught:
        await masto.post(too_long)
    assert caught.value.retryable is False
    assert "61 characters" in str(caught.value) and "allows 60" in str(caught.value)
    assert len(fake.posted) == 1


def test_mastodon_counts_links_as_23_and_mentions_without_their_domain() -> None:
    text = "@ana@mastodon.online see https://status.acme.example/incidents/2026-11-20/outage"
    assert mastodon_length(text) == len("@ana see ") + 23


async def test_a_validation_error_fails_for_good_with_the_platforms_reason(
    fake: FakeMastodon, http: SharedSession
) -> None:
    fake.fail(
        "/api/v1/statuses",
        422,
        body='{"error": "Validation failed: Text character limit of 500 exceeded"}',
        method="POST",
    )
    with pytest.raises(PublishError) as caught:
        await publisher(fake, http).post(outgoing_to(complaint_status(fake)))
    assert caught.value.retryable is False
    assert "Text character limit of 500 exceeded" in str(caught.value)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (401, False)])
async def test_posting_faults_say_whether_a_retry_may_help(
    fake: FakeMastodon, http: SharedSession, status: int, retryable: bool
) -> None:
    fake.fail("/api/v1/statuses", status, method="POST")
    with pytest.raises(PublishError) as caught:
        await publisher(fake, http).post(outgoing_to(complaint_status(fake)))
    assert caught.value.retryable is retryable
    assert fake.token not in str(caught.value)


def test_no_token_means_no_publisher(fake: FakeMastodon) -> None:
    assert build_publisher(settings(fake), SourceContext(brand=BRAND)) is None


async def _approved_reply(store: Store, status: dict[str, Any], body: str | None = None) -> int:
    from factories import complaint, mention

    from listener.mastodon import mention_from_status

    m = mention_from_status(status)
    store.ingest(
        "masto",
        [complaint(mention(m.text, platform="mastodon", native_id=m.native_id, raw=status))],
        None,
    )
    (draft,) = store.replies("pending")
    store.approve(draft.id, "agent", body=body)
    return draft.id


async def _sending_reply(store: Store, status: dict[str, Any], body: str | None = None) -> Any:
    await _approved_reply(store, status, body)
    (claim,) = store.claim_for_posting(dry_run=False)
    return claim


async def test_a_reply_taken_without_a_status_id_is_unknown_with_one_warning(
    fake: FakeMastodon, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # the instance took it (200) but did not say which status it made: it may well
    # be up, so a person looks; an odd answer, not a bug, so no traceback
    reply_id = await _approved_reply(store, complaint_status(fake))
    fake.fail("/api/v1/statuses", 200, body='{"content": "<p>ok</p>"}', method="POST")
    caplog.set_level(logging.INFO)
    live = PublishConfig(mode="live")
    summary = await publish_due(store, {"mastodon": publisher(fake, http)}, live)
    assert summary.outcomes == {"unknown": 1}
    reply = store.reply(reply_id)
    host = URL(fake.url).host
    assert reply.last_error == f"mastodon {host} accepted the reply but sent no status id"
    assert reply.last_error in the_one_warning(caplog, reply_id, "mastodon")


async def test_a_token_the_instance_echoes_is_masked_in_the_stored_error(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    """The reply's error is shown to every console user (viewers too) and kept in the
    database and its backups: a configured secret the platform quotes back is masked
    there as in the log."""
    from earful import redaction

    reply_id = await _approved_reply(store, complaint_status(fake))
    said = f'{{"error": "Bearer {fake.token} may not post to this account"}}'
    fake.fail("/api/v1/statuses", 422, body=said, method="POST")
    redaction.install([fake.token], handlers=[])
    try:
        await publish_due(store, {"mastodon": publisher(fake, http)}, PublishConfig(mode="live"))
    finally:
        redaction.uninstall()
    error = store.reply(reply_id).last_error or ""
    assert "may not post to this account" in error and fake.token not in error


NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


async def test_a_gateways_error_page_without_an_html_type_is_named_not_quoted(
    fake: FakeMastodon, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    reply_id = await _approved_reply(store, complaint_status(fake))
    # served as application/octet-stream, the type aiohttp gives bytes
    fake.fail("/api/v1/statuses", 503, body=NGINX_503, method="POST", times=3)
    with caplog.at_level(logging.WARNING):
        await publish_due(store, {"mastodon": publisher(fake, http)}, PublishConfig(mode="live"))
    error = store.reply(reply_id).last_error or ""
    assert error.endswith("HTTP 503 (an HTML error page: 503 Service Temporarily Unavailable)")
    assert "<" not in caplog.text and "nginx" not in caplog.text


async def test_a_crash_after_posting_is_reconciled_as_sent_not_posted_again(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    from earful.outbox import outgoing, reconcile_sending

    claim = await _sending_reply(store, complaint_status(fake))
    masto = publisher(fake, http)
    posted = await masto.post(outgoing(claim))
    # the process dies here, before mark_sent; on restart:
    summary = await reconcile_sending(store, {"mastodon": publisher(fake, http)})
    assert summary.outcomes == {"reconciled": 1}
    reply = store.reply(claim.id)
    assert reply.status == "sent" and reply.posted_id == posted.native_id
    assert len(fake.posted) == 1


async def test_reconcile_recognises_a_reply_as_mastodon_rendered_it(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    from earful.outbox import outgoing, reconcile_sending

    body = "Hi @ana@mastodon.online, status: https://status.acme.example/incidents/2026-11-20"
    claim = await _sending_reply(store, complaint_status(fake), body=body)
    posted = await publisher(fake, http).post(outgoing(claim))
    # shown as an h-card "@ana" and a link whose scheme is in an invisible span
    assert "h-card" in fake.posted[0]["content"] and "invisible" in fake.posted[0]["content"]
    summary = await reconcile_sending(store, {"mastodon": publisher(fake, http)})
    assert summary.outcomes == {"reconciled": 1}
    assert store.reply(claim.id).posted_id == posted.native_id


async def test_live_posting_holds_one_reply_at_a_time_in_sending(
    fake: FakeMastodon, http: SharedSession, store: Store, db_path: Path
) -> None:
    # A crash while a reply is posted leaves it `sending`, for a person to check: the
    # replies after it were never tried and must not be in doubt with it.
    from factories import complaint, mention

    from earful.config import PublishConfig
    from earful.outbox import publish_due
    from listener.mastodon import mention_from_status

    for n in range(3):
        status = fake.post(f"<p>acme down again, day {n}</p>", account=fake.account(f"u{n}"))
        m = mention_from_status(status)
        post = mention(m.text, platform="mastodon", native_id=m.native_id, raw=status)
        store.ingest("masto", [complaint(replace(post, author=m.author))], None)
    for draft in store.replies("pending"):
        store.approve(draft.id, "agent")
    in_sending: list[int] = []
    watcher = sqlite3.connect(db_path)

    def count_sending() -> None:
        row = watcher.execute("SELECT count(*) FROM replies WHERE status = 'sending'").fetchone()
        in_sending.append(row[0])

    fake.before_post = count_sending
    summary = await publish_due(
        store, {"mastodon": publisher(fake, http)}, PublishConfig(mode="live", batch=10)
    )
    watcher.close()
    assert summary.outcomes == {"sent": 3}
    assert in_sending == [1, 1, 1]
    assert len(fake.posted) == 3


async def test_a_crash_before_posting_is_left_unknown_for_a_person(
    fake: FakeMastodon, http: SharedSession, store: Store
) -> None:
    from earful.outbox import reconcile_sending

    target = complaint_status(fake)
    claim = await _sending_reply(store, target)
    # someone else answered the same post by hand: not Earful's text, so not ours
    fake.post("<p>different words</p>", account=fake.me, in_reply_to_id=target["id"])
    summary = await reconcile_sending(store, {"mastodon": publisher(fake, http)})
    assert summary.outcomes == {"unknown": 1}
    assert store.reply(claim.id).status == "unknown" and fake.posted == []


async def test_a_server_whose_handles_are_not_its_web_address_is_said_once(
    split_domain: FakeMastodon, http: SharedSession, caplog: pytest.LogCaptureFixture
) -> None:
    # earlier versions gave these users the web domain: a brand handle written that
    # way would stop matching the brand's own posts with no word said
    fake = split_domain
    for name in ("ana", "bo"):
        fake.publish(fake.make_status("<p>acme?</p>", account=fake.account(name), tags=["acme"]))
    with caplog.at_level(logging.WARNING):
        await source(fake, http).fetch(None)
    (said,) = [r.getMessage() for r in caplog.records if "web address" in r.getMessage()]
    assert "end in @example.com, not its web address social.example.com" in said
    assert '"@name@example.com"' in said


async def test_a_server_whose_handles_are_its_web_address_says_nothing_of_it(
    fake: FakeMastodon, http: SharedSession, caplog: pytest.LogCaptureFixture
) -> None:
    fake.publish(fake.make_status("<p>acme?</p>", account=fake.account("ana"), tags=["acme"]))
    with caplog.at_level(logging.WARNING):
        (post,) = (await source(fake, http).fetch(None)).mentions
    assert post.author.handle is not None and "@" in post.author.handle
    assert not [r for r in caplog.records if "web address" in r.getMessage()]
