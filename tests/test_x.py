"""The X source and publisher: the real tweepy client talks to a fake X API on
127.0.0.1 (tests/fakes/x_api.py); mentions go through the real pipeline into a real
SQLite store, and replies go out through the real outbox."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes.server import BLOCK_PAGE
from fakes.x_api import (
    ACCESS_TOKEN,
    ACCESS_TOKEN_SECRET,
    BEARER,
    BRAND_ID,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    FakeX,
    Fault,
)
from publishkit import the_one_warning

from earful.app import build_runtime
from earful.cli import cli
from earful.config import Config, ConfigError, parse_config
from earful.daemon import Daemon, SourceRunner
from earful.outbox import PublishSummary, outgoing, publish_due, reconcile_sending
from earful.pipeline import BatchSummary, Stages, build_stages, poll
from earful.sources import build_publishers, build_source
from listener.base import AuthFailed, FetchResult, RateLimited, SourceContext, SourceDown
from listener.mention import Brand
from listener.x import Settings
from listener.x_source import XSource
from responders.limits import reply_problem, x_weighted_length
from responders.publish.base import Publisher
from storage.db import iso, shown_time
from storage.store import Store

BRAND = Brand("Acme", ("acme",), {"x": "AcmeHelp"})
CTX = SourceContext(brand=BRAND)
POSTING = {
    "consumer_key": CONSUMER_KEY,
    "consumer_secret": CONSUMER_SECRET,
    "access_token": ACCESS_TOKEN,
    "access_token_secret": ACCESS_TOKEN_SECRET,
}
ANA, BEN, GONE = "2001", "2002", "2999"
COMPLAINT = "@AcmeHelp acme internet down again, third outage this week. Terrible service"
# 18 Latin characters, 124 CJK ones weighing 2 each, "! " and a link counting 23
OVER_LENGTH = "Sorry about that! " + "我" * 124 + "! acme.com"


@pytest.fixture
async def fake() -> AsyncIterator[FakeX]:
    x = await FakeX().start()
    x.add_user(ANA, "ana_lima", "Ana Lima", followers=1200, verified=True)
    x.add_user(BEN, "ben", "Ben", followers=8)
    yield x
    await x.stop()


def settings(fake: FakeX, **keys: Any) -> Settings:
    values: dict[str, Any] = {
        "name": "x-test",
        "type": "x",
        "base_url": fake.url,
        "bearer_token": BEARER,
        "mode": "search",
        "query": "acme",
        "requests_per_window": 100,
    }
    values.update(keys)
    if values["mode"] == "mentions":
        values.pop("query", None)
    return Settings.model_validate(values)


def source(fake: FakeX, **keys: Any) -> XSource:
    built = build_source(settings(fake, **keys), CTX)
    assert isinstance(built, XSource)
    return built


def config(fake: FakeX, tmp_path: Path, **keys: Any) -> Config:
    table = settings(fake, **keys).model_dump(exclude_none=True)
    raw = {
        "brand": {"name": "Acme", "keywords": ["acme"], "handles": {"x": "AcmeHelp"}},
        "storage": {"path": str(tmp_path / "earful.db")},
        "sources": [table],
        "publish": {"mode": "live"},
    }
    return parse_config(raw, tmp_path / "earful.toml", {})


def stored_ids(store: Store) -> list[str]:
    header, rows = store.export("mentions")
    column = header.index("native_id")
    return sorted(row[column] for row in rows)


async def poll_until_settled(
    src: XSource, store: Store, stages: Stages, fake: FakeX, limit: int = 20
) -> list[dict[str, Any] | None]:
    """Poll as the daemon would (at once again while `more`); a 429 waits for the
    window to reset. Returns the stored cursor at each rate limit met."""
    limited = []
    for _ in range(limit):
        try:
            summary = await poll(src, store, stages)
        except RateLimited as exc:
            assert exc.reset_at is not None and exc.reset_at > datetime.now(UTC)
            limited.append(store.cursor(src.name))
            fake.reset_limits()  # the window passes
            continue
        if not summary.more:
            return limited
    raise AssertionError("the source never settled")


# -- configuration ----------------------------------------------------------------------


def problems_for(fake: FakeX, tmp_path: Path, **table: Any) -> list[str]:
    base = {"name": "x", "type": "x", "bearer_token": "t"}
    raw = {"brand": {"name": "Acme"}, "sources": [{**base, **table}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, tmp_path / "earful.toml", {})
    return caught.value.problems


def test_search_mode_without_a_query_names_what_is_expected(fake: FakeX, tmp_path: Path) -> None:
    (problem,) = problems_for(fake, tmp_path, mode="search")
    assert problem.startswith('sources[0].query: mode = "search" needs query = "..."')


def test_a_query_without_search_mode_says_to_add_it(fake: FakeX, tmp_path: Path) -> None:
    (problem,) = problems_for(fake, tmp_path, query="acme -is:retweet")
    assert problem.startswith('sources[0].query: used only with mode = "search"')


def test_a_search_backfill_beyond_seven_days_is_refused(fake: FakeX, tmp_path: Path) -> None:
    (problem,) = problems_for(fake, tmp_path, mode="search", query="acme", backfill="10d")
    assert problem == (
        'sources[0].backfill: recent search reaches back at most 7 days ("7d"); got 10 days'
    )
    # the mention timeline has no such bound
    assert settings(fake, mode="mentions", backfill="10d").backfill == 10 * 86400


async def test_a_seven_day_search_backfill_starts_inside_xs_window(fake: FakeX) -> None:
    # X counts the 7 days from when it reads the request: an edge 7 days before
    # Earful's clock, read a moment later, is refused
    late = datetime.now(UTC) - timedelta(seconds=30)
    fake.add_tweet("acme down for days", author_id=ANA, age=timedelta(days=6))
    src = XSource(settings(fake, backfill="7d"), BRAND, handle=None, now=lambda: late)
    (m,) = (await src.fetch(None)).mentions
    assert m.text == "acme down for days"


def test_half_the_posting_keys_is_refused_naming_the_missing_ones(
    fake: FakeX, tmp_path: Path
) -> None:
    (problem,) = problems_for(fake, tmp_path, consumer_key="k", access_token="1-t")
    assert "missing: consumer_secret, access_token_secret" in problem
    assert "'k'" not in problem and "1-t" not in problem


def test_an_unknown_mode_and_a_missing_token_are_reported_together(
    fake: FakeX, tmp_path: Path
) -> None:
    raw = {"brand": {"name": "Acme"}, "sources": [{"name": "x", "type": "x", "mode": "firehose"}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, tmp_path / "earful.toml", {})
    assert (
        "sources[0].mode: expected 'mentions' or 'search', got 'firehose'" in caught.value.problems
    )
    assert "sources[0].bearer_token: missing (required)" in caught.value.problems


def test_an_access_token_not_in_xs_form_is_refused_without_echoing_it(
    fake: FakeX, tmp_path: Path
) -> None:
    keys = {**POSTING, "access_token": "s3cr3t-looking-token"}
    (problem,) = problems_for(fake, tmp_path, **keys)
    assert "access_token: expected X's form <account id>-<token>" in problem
    assert "s3cr3t" not in problem


def test_min_interval_above_max_interval_is_refused(fake: FakeX, tmp_path: Path) -> None:
    (problem,) = problems_for(fake, tmp_path, min_interval="10m", max_interval="5m")
    assert "min_interval (600s) must not exceed max_interval (300s)" in problem


# -- reading --------------------------------------------------------------------------


async def test_first_poll_backfills_the_window_with_authors_and_metrics(fake: FakeX) -> None:
    fake.add_tweet("acme is down", author_id=ANA, age=timedelta(days=2))
    recent = fake.add_tweet("acme is down since 8am", author_id=ANA, age=timedelta(hours=3))
    newest = fake.add_tweet("acme support never answers", author_id=BEN, age=timedelta(hours=1))
    src = source(fake)

    result = await src.fetch(None)

    assert [m.native_id for m in result.mentions] == [newest["id"], recent["id"]]
    assert result.cursor == {"since_id": newest["id"]}
    assert result.more is False
    (params,) = fake.params_of("search")
    edge = datetime.fromisoformat(params["start_time"].replace("Z", "+00:00"))
    assert abs(edge - (datetime.now(UTC) - timedelta(hours=24))) < timedelta(minutes=1)
    assert "since_id" not in params
    assert params["expansions"] == "author_id,referenced_tweets.id,in_reply_to_user_id"
    ana = result.mentions[1]
    assert ana.author.handle == "ana_lima"
    assert ana.author.followers == 1200
    assert ana.author.verified is True
    assert ana.url == f"https://x.com/ana_lima/status/{recent['id']}"
    assert ana.created_at is not None and ana.likes == 2 and ana.lang == "en"
    await src.aclose()


async def test_backfill_stops_after_backfill_pages(fake: FakeX) -> None:
    tweets = [fake.add_tweet(f"acme outage {n}", author_id=ANA) for n in range(35)]
    src = source(fake, page_size=10, backfill_pages=2)
    first = await src.fetch(None)
    assert first.more is True
    second = await src.fetch(first.cursor)
    assert second.more is False
    assert second.cursor == {"since_id": tweets[-1]["id"]}
    assert len(first.mentions) + len(second.mentions) == 20


async def test_later_polls_ask_only_for_posts_newer_than_since_id(fake: FakeX) -> None:
    old = fake.add_tweet("acme router blinking", author_id=ANA)
    src = source(fake)
    first = await src.fetch(None)
    new = fake.add_tweet("acme still blinking", author_id=ANA)

    second = await src.fetch(first.cursor)

    assert [m.native_id for m in second.mentions] == [new["id"]]
    assert second.cursor == {"since_id": new["id"]}
    assert fake.params_of("search")[-1]["since_id"] == old["id"]
    assert "start_time" not in fake.params_of("search")[-1]


async def test_a_quiet_poll_keeps_since_id(fake: FakeX) -> None:
    tweet = fake.add_tweet("acme fine today", author_id=ANA)
    src = source(fake)
    first = await src.fetch(None)
    second = await src.fetch(first.cursor)
    assert second.mentions == ()
    assert second.cursor == {"since_id": tweet["id"]}


async def test_a_429_in_the_middle_of_pages_loses_nothing_and_repeats_nothing(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg = config(fake, tmp_path, page_size=10, backfill_pages=10)
    stages = build_stages(cfg)
    src = build_source(cfg.sources[0], CTX)
    assert isinstance(src, XSource)
    first = [fake.add_tweet(f"acme outage report {n}", author_id=ANA) for n in range(4)]
    with Store.open(cfg.db_path) as store:
        assert await poll_until_settled(src, store, stages, fake) == []
        # a busy spell: 25 new posts, three pages, and X's budget runs out after one
        burst = [
            fake.add_tweet(f"acme down for me too {n}", author_id=BEN if n % 2 else ANA)
            for n in range(25)
        ]
        fake.limits["search"] = fake.counts["search"] + 1

        limited = await poll_until_settled(src, store, stages, fake)

        # the 429 came with a page committed and the next one still to fetch
        assert len(limited) == 1
        assert limited[0] is not None and "next_token" in limited[0]
        expected = sorted(t["id"] for t in [*first, *burst])
        assert stored_ids(store) == expected  # every post once: none lost, none twice
        assert store.cursor("x-test") == {"since_id": burst[-1]["id"]}
        pages = [p for p in fake.params_of("search") if "next_token" in p]
        assert pages and all(p["since_id"] == first[-1]["id"] for p in pages)


async def settled(fake: FakeX, tmp_path: Path) -> tuple[XSource, Stages, Store]:
    """A search source with pages of 10 that has read what the fake holds."""
    cfg = config(fake, tmp_path, page_size=10)
    stages = build_stages(cfg)
    src = build_source(cfg.sources[0], CTX)
    assert isinstance(src, XSource)
    store = Store.open(cfg.db_path)
    await poll_until_settled(src, store, stages, fake)
    return src, stages, store


async def test_posts_made_while_a_run_pages_are_stored_when_a_later_page_holds_them(
    fake: FakeX, tmp_path: Path
) -> None:
    # The fake's page tokens are offsets: tweets posted between two pages of a run
    # push newer tweets onto the later page, and the newest onto no page of the run.
    first = fake.add_tweet("acme outage report", author_id=ANA)
    src, stages, store = await settled(fake, tmp_path)
    with store:
        busy = [fake.add_tweet(f"acme down for me too {n}", author_id=ANA) for n in range(15)]
        assert (await poll(src, store, stages)).more  # page 1 of 2
        meanwhile = [fake.add_tweet(f"acme still down {n}", author_id=BEN) for n in range(14)]

        await poll_until_settled(src, store, stages, fake)
        # the run settles at the top it started from, so the next poll asks for
        # everything posted since, whatever page held it
        assert store.cursor("x-test") == {"since_id": busy[-1]["id"]}
        await poll_until_settled(src, store, stages, fake)

        assert stored_ids(store) == sorted(t["id"] for t in [first, *busy, *meanwhile])
        assert store.cursor("x-test") == {"since_id": meanwhile[-1]["id"]}


async def test_a_page_with_neither_tweets_nor_meta_is_source_down_and_loses_nothing(
    fake: FakeX, tmp_path: Path
) -> None:
    first = fake.add_tweet("acme outage report", author_id=ANA)
    src, stages, store = await settled(fake, tmp_path)
    with store:
        backlog = [fake.add_tweet(f"acme down again {n}", author_id=ANA) for n in range(25)]
        assert (await poll(src, store, stages)).more  # page 1 of 3
        paging = store.cursor("x-test")
        fake.fail_next("search", Fault(status=200, body=b"{}"))
        with pytest.raises(SourceDown, match='neither tweets \\("data"\\) nor "meta"'):
            await poll(src, store, stages)
        assert store.cursor("x-test") == paging  # the run waits where it was

        await poll_until_settled(src, store, stages, fake)

        assert stored_ids(store) == sorted(t["id"] for t in [first, *backlog])


async def test_a_429_reports_when_the_window_resets(fake: FakeX) -> None:
    fake.limits["search"] = 0
    with pytest.raises(RateLimited) as caught:
        await source(fake).fetch(None)
    assert caught.value.reset_at is not None
    assert caught.value.reset_at > datetime.now(UTC) + timedelta(minutes=10)


async def test_the_debug_log_names_the_host_requests_really_go_to(
    fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="tweepy.client"):
        await source(fake).fetch(None)
    (sent,) = [r.getMessage() for r in caplog.records if "Making API request" in r.getMessage()]
    assert sent.startswith(f"Making API request: GET {fake.url}/2/tweets/search/recent\n")
    assert "api.twitter.com" not in caplog.text


async def test_settings_never_show_credentials() -> None:
    shown = repr(
        Settings.model_validate({"name": "x", "type": "x", **POSTING, "bearer_token": BEARER})
    )
    assert all(secret not in shown for secret in [BEARER, *POSTING.values()])


async def test_a_refused_bearer_token_is_auth_failed_without_echoing_it(fake: FakeX) -> None:
    src = source(fake, bearer_token="wrong-token-value")
    with pytest.raises(AuthFailed) as caught:
        await src.fetch(None)
    assert "401 Unauthorized" in str(caught.value)
    assert "bearer_token" in str(caught.value)
    assert "wrong-token-value" not in str(caught.value)


async def test_refused_credentials_disable_only_this_source_in_the_daemon(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg = config(fake, tmp_path, bearer_token="revoked")
    moves: list[tuple[str, datetime | None]] = []
    with Store.open(cfg.db_path) as store:
        runner = SourceRunner(
            source=build_source(cfg.sources[0], CTX),
            settings=cfg.sources[0],
            store=store,
            stages=build_stages(cfg),
            reschedule=lambda name, when: moves.append((name, when)),
        )
        await runner.tick(lambda phase: None)
        assert runner.disabled is True
        assert moves == [("x-test", None)]  # its job removed; the daemon runs on


async def test_a_403_for_the_access_tier_is_auth_failed(fake: FakeX) -> None:
    body = (
        b'{"client_id":"1","detail":"When authenticating requests to the Twitter API v2 '
        b"endpoints, you must use keys and tokens from a Twitter developer App that is "
        b'attached to a Project.","title":"Client Forbidden","reason":"client-not-enrolled",'
        b'"type":"https://api.twitter.com/2/problems/client-forbidden"}'
    )
    fake.fail_next("search", Fault(status=403, body=body))
    with pytest.raises(AuthFailed, match="access tier"):
        await source(fake).fetch(None)


async def test_a_block_page_in_front_of_the_api_is_source_down_not_auth_failed(
    fake: FakeX,
) -> None:
    # a CDN's HTML 403 refuses the address, not the token: it disabled the source
    fake.fail_next("search", Fault(status=403, body=BLOCK_PAGE.encode(), content_type="text/html"))
    src = source(fake)
    with pytest.raises(SourceDown, match="X's recent search: HTTP 403, a web page") as caught:
        await src.fetch(None)
    assert not isinstance(caught.value, AuthFailed)
    assert "<" not in str(caught.value)
    await src.fetch(None)  # asked again, and answered


async def test_malformed_json_is_source_down_and_the_next_poll_works(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg = config(fake, tmp_path)
    stages = build_stages(cfg)
    src = build_source(cfg.sources[0], CTX)
    tweet = fake.add_tweet("acme outage again", author_id=ANA)
    fake.fail_next("search", Fault(status=200, body=b'{"data": [{"id": "1", "te'))
    with Store.open(cfg.db_path) as store:
        with pytest.raises(SourceDown, match="malformed"):
            await poll(src, store, stages)
        assert store.cursor("x-test") is None
        summary = await poll(src, store, stages)
        assert summary.new == 1
        assert stored_ids(store) == [tweet["id"]]


async def test_json_that_is_not_a_page_is_source_down(fake: FakeX) -> None:
    fake.fail_next("search", Fault(status=200, body=b'["not", "an", "object"]'))
    with pytest.raises(SourceDown, match="instead of a JSON object"):
        await source(fake).fetch(None)
    fake.fail_next("search", Fault(status=200, body=b'{"data": "nope"}'))
    with pytest.raises(SourceDown, match="not a list"):
        await source(fake).fetch(None)


async def test_a_page_of_errors_alone_says_what_x_said(fake: FakeX) -> None:
    # X answers 200 with only `errors` for an account it will not serve (suspended,
    # say): the log said 'X sent neither tweets ("data") nor "meta"' and not why
    errors = {
        "errors": [
            {
                "detail": "User has been suspended: [AcmeHelp].",
                "title": "Forbidden",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    fake.fail_next("search", Fault(status=200, body=json.dumps(errors).encode()))
    with pytest.raises(SourceDown) as down:
        await source(fake).fetch(None)
    said = str(down.value)
    assert said.startswith('X sent neither tweets ("data") nor "meta"')
    assert said.endswith(": Forbidden: User has been suspended: [AcmeHelp].")


async def test_an_answer_too_large_to_be_a_page_is_source_down(fake: FakeX) -> None:
    # 10-100 tweets were asked for; a broken proxy's 60 MB answer was read whole
    huge = json.dumps({"data": [], "meta": {"result_count": 0}, "junk": "x" * (11 * 2**20)})
    fake.fail_next("search", Fault(status=200, body=huge.encode()))
    with pytest.raises(SourceDown, match=r"failed: X's answer is larger than 10 MB$"):
        await source(fake).fetch(None)


async def test_a_server_error_is_source_down(fake: FakeX) -> None:
    fake.fail_next("search", Fault(status=503))
    with pytest.raises(SourceDown, match="503"):
        await source(fake).fetch(None)


@pytest.mark.parametrize(
    "body", [b'{"errors": null}', b"[1, 2]", b'{"errors": [5]}', b'{"error": 7, "errors": []}']
)
async def test_an_error_body_tweepy_cannot_read_is_still_source_down(
    fake: FakeX, body: bytes
) -> None:
    fake.fail_next("search", Fault(status=503, body=body))
    with pytest.raises(SourceDown, match="503"):
        await source(fake).fetch(None)


@pytest.mark.parametrize("reset", ["soon", "1700000000.5", ""])
async def test_a_429_with_a_reset_tweepy_cannot_read_is_still_rate_limited(
    fake: FakeX, reset: str
) -> None:
    limited = Fault(status=429, body=b'{"title": "Too Many Requests"}')
    limited.headers["x-rate-limit-reset"] = reset
    fake.fail_next("search", limited)
    with pytest.raises(RateLimited) as caught:
        await source(fake).fetch(None)
    assert caught.value.reset_at is None  # the daemon waits its default minute


async def test_a_slow_answer_is_source_down(fake: FakeX) -> None:
    fake.fail_next("search", Fault(status=200, body=b'{"meta": {}}', delay=1.0))
    with pytest.raises(SourceDown, match="did not answer within"):
        await source(fake, timeout="0.2s").fetch(None)


async def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout(
    fake: FakeX,
) -> None:
    # each byte comes well within the timeout (a per-read timeout never fires); the
    # whole answer would take 6 s
    fake.fail_next("search", Fault(status=200, body=b'{"meta": {}}' * 5, trickle=0.1))
    with pytest.raises(SourceDown, match="did not answer within 1s"):
        await source(fake, timeout="1s").fetch(None)


async def test_a_refused_connection_is_source_down(fake: FakeX) -> None:
    src = source(fake)
    await fake.stop()
    with pytest.raises(SourceDown, match="cannot reach X"):
        await src.fetch(None)


async def test_tweets_without_includes_still_become_mentions(fake: FakeX) -> None:
    tweet = fake.add_tweet("acme why", author_id=ANA)
    fake.omit_includes = True
    (m,) = (await source(fake).fetch(None)).mentions
    assert m.native_id == tweet["id"]
    assert m.author.handle is None and m.author.native_id == ANA
    assert m.url == f"https://x.com/i/web/status/{tweet['id']}"


async def test_a_deleted_author_keeps_the_data_and_logs_the_errors(
    fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    orphan = fake.add_tweet("acme lost my order", author_id=GONE)
    fine = fake.add_tweet("acme found it", author_id=ANA)
    with caplog.at_level(logging.WARNING, logger="earful.x"):
        result = await source(fake).fetch(None)
    assert {m.native_id for m in result.mentions} == {orphan["id"], fine["id"]}
    assert f"Could not find user with author_id: [{GONE}]" in caplog.text
    assert BEARER not in caplog.text


async def test_a_tweet_without_an_id_is_skipped_not_fatal(
    fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"data": [{"text": "acme no id"}, {"id": "77", "text": "acme ok"}], "meta": {}}'
    fake.fail_next("search", Fault(status=200, body=body))
    with caplog.at_level(logging.WARNING, logger="earful.x"):
        result = await source(fake).fetch(None)
    assert [m.native_id for m in result.mentions] == ["77"]
    assert result.cursor == {"since_id": "77"}
    assert "no usable id" in caplog.text


async def test_emoji_and_right_to_left_text_arrive_exactly(fake: FakeX) -> None:
    text = "acme \u202eenil\u202c 👨‍👩‍👧 الإنترنت مقطوع 🇪🇬 שלום"
    fake.add_tweet(text, author_id=ANA, lang="ar")
    (m,) = (await source(fake).fetch(None)).mentions
    assert m.text == text
    assert m.lang == "ar"


async def test_text_arrives_as_typed_though_x_escapes_ampersands_and_angle_brackets(
    fake: FakeX,
) -> None:
    # X sends "acme &amp; AT&amp;T ..." for what the author typed
    typed = "acme & AT&T billed me <twice> -> &lt; is how you write <, &copy; 2026"
    quoted = fake.add_tweet("Acme & Co: prices <up>", author_id=BEN)
    fake.add_tweet(typed, author_id=ANA, references=(("quoted", quoted["id"]),))
    assert "AT&amp;T" in fake.tweets[max(fake.tweets, key=int)]["text"]
    mentions = (await source(fake).fetch(None)).mentions
    assert [m.text for m in mentions] == [typed, "Acme & Co: prices <up>"]
    assert mentions[0].context == "Acme & Co: prices <up>"


async def test_links_are_stored_where_they_lead_and_photo_links_left_out(fake: FakeX) -> None:
    # X sends "... https://t.co/x1 https://t.co/x2", with entities.urls saying which
    # is the page linked and which the photo it shows as a picture
    typed = "acme status page says all fine?? https://status.acme.example/?a=1&b=2 lies"
    fake.add_tweet(typed, author_id=ANA, photos=1)
    fake.add_tweet("@AcmeHelp acme", author_id=BEN, photos=2)  # a post of photos alone
    assert "https://t.co/" in fake.tweets[max(fake.tweets, key=int)]["text"]
    texts = [m.text for m in (await source(fake).fetch(None)).mentions]
    assert texts == ["@AcmeHelp acme", typed]  # newest first


async def test_retweets_are_skipped_unless_asked_for(fake: FakeX) -> None:
    original = fake.add_tweet("acme is down", author_id=ANA)
    retweet = fake.add_tweet(
        "RT @ana_lima: acme is down", author_id=BEN, references=(("retweeted", original["id"]),)
    )
    skipped = await source(fake).fetch(None)
    assert [m.native_id for m in skipped.mentions] == [original["id"]]
    assert skipped.cursor == {"since_id": retweet["id"]}  # seen, so never asked for again
    kept = await source(fake, include_retweets=True).fetch(None)
    assert {m.native_id for m in kept.mentions} == {original["id"], retweet["id"]}


async def test_a_quote_keeps_the_quoted_text_as_context(fake: FakeX) -> None:
    quoted = fake.add_tweet("Acme announces new pricing", author_id=BEN, age=timedelta(days=3))
    quote = fake.add_tweet(
        "acme this is outrageous", author_id=ANA, references=(("quoted", quoted["id"]),)
    )
    (m,) = (await source(fake).fetch(None)).mentions
    assert m.native_id == quote["id"]
    assert m.text == "acme this is outrageous"
    assert m.context == "Acme announces new pricing"


async def test_a_reply_to_a_deleted_post_arrives_without_context(
    fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    parent = fake.add_tweet("Acme: maintenance tonight", author_id=BEN, age=timedelta(hours=2))
    reply = fake.add_tweet(
        "acme it is still down", author_id=ANA, references=(("replied_to", parent["id"]),)
    )
    del fake.tweets[parent["id"]]
    with caplog.at_level(logging.WARNING, logger="earful.x"):
        (m,) = (await source(fake).fetch(None)).mentions
    assert (m.native_id, m.in_reply_to, m.context) == (reply["id"], parent["id"], None)
    assert m.conversation_id == parent["id"]
    assert f"Could not find tweet with referenced_tweets.id: [{parent['id']}]" in caplog.text


async def test_the_brands_own_posts_are_never_queued(fake: FakeX) -> None:
    fake.add_tweet("acme: we are looking into the outage", author_id=BRAND_ID)
    complaint = fake.add_tweet("acme outage", author_id=ANA)
    result = await source(fake).fetch(None)
    assert [m.native_id for m in result.mentions] == [complaint["id"]]


async def test_own_posts_are_known_by_account_id_without_any_handle(fake: FakeX) -> None:
    fake.add_tweet("acme: fixed", author_id=BRAND_ID)
    fake.omit_includes = True  # no user names to go by
    unbranded = SourceContext(brand=Brand("Acme"))
    src = build_source(settings(fake, **POSTING), unbranded)
    assert (await src.fetch(None)).mentions == ()


async def test_mentions_mode_resolves_the_brand_account_once(fake: FakeX) -> None:
    first = fake.add_tweet(COMPLAINT, author_id=ANA)
    fake.add_tweet("acme without a mention", author_id=BEN)
    fake.add_tweet("@AcmeHelp replying to myself", author_id=BRAND_ID)
    src = source(fake, mode="mentions")  # handle comes from [brand] handles.x
    result = await src.fetch(None)
    assert [m.native_id for m in result.mentions] == [first["id"]]
    second = fake.add_tweet("@acmehelp hello?", author_id=BEN)
    again = await src.fetch(result.cursor)
    assert [m.native_id for m in again.mentions] == [second["id"]]
    assert len(fake.params_of("users")) == 1
    assert len(fake.params_of("mentions")) == 2


async def test_mentions_mode_with_an_unknown_handle_says_so(fake: FakeX) -> None:
    with pytest.raises(SourceDown, match="cannot find the X account @nobody_here"):
        await source(fake, mode="mentions", handle="@nobody_here").fetch(None)


async def test_mentions_mode_without_any_handle_disables_the_source(fake: FakeX) -> None:
    src = build_source(settings(fake, mode="mentions"), SourceContext(brand=Brand("Acme")))
    with pytest.raises(AuthFailed, match="needs the brand account"):
        await src.fetch(None)


async def test_an_expired_page_token_restarts_the_run(fake: FakeX) -> None:
    fake.add_tweet("acme x", author_id=ANA)
    cursor = {"since_id": "5", "next_token": "stale", "newest_id": "9", "pages": 1, "seen": 3}
    result = await source(fake).fetch(cursor)
    assert result == FetchResult((), {"since_id": "5"}, more=True)


async def test_a_page_token_that_repeats_settles_the_run_instead_of_looping(
    fake: FakeX, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(fake, tmp_path, page_size=10)
    stages = build_stages(cfg)
    src = build_source(cfg.sources[0], CTX)
    assert isinstance(src, XSource)
    old = fake.add_tweet("acme router blinking", author_id=ANA)
    with Store.open(cfg.db_path) as store:
        await poll(src, store, stages)
        fake.stuck_token = "same-token"  # every page says: next, with this token
        burst = [fake.add_tweet(f"acme down {n}", author_id=BEN) for n in range(3)]

        first = await poll(src, store, stages)
        assert first.more and first.new == 3  # X's own token: nothing to tell yet
        second = await poll(src, store, stages)  # the same token back: settle
        # (the page's newest tweet is known as read; the rest is dropped by the store)
        assert not second.more and second.new == 0
        assert store.cursor("x-test") == {"since_id": burst[-1]["id"]}
        third = await poll(src, store, stages)  # since_id served again: nothing new
        assert not third.more and third.fetched == 0
        assert store.cursor("x-test") == {"since_id": burst[-1]["id"]}

        assert stored_ids(store) == sorted(t["id"] for t in [old, *burst])
        assert len(fake.params_of("search")) == 4  # not the whole request budget
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "repeats" in r.message
    ]
    assert len(warnings) == 1
    assert warnings[0].message.startswith("x x-test: ") and "stops paging" in warnings[0].message
    await src.aclose()


@pytest.mark.parametrize("cursor", [{"offset": 3}, {"since_id": "²"}, {"since_id": 5}, ["x"]])
async def test_a_cursor_it_did_not_write_starts_over(fake: FakeX, cursor: Any) -> None:
    tweet = fake.add_tweet("acme x", author_id=ANA)
    result = await source(fake).fetch(cursor)
    assert [m.native_id for m in result.mentions] == [tweet["id"]]
    assert "since_id" not in fake.params_of("search")[-1]


async def test_hostile_ids_in_a_page_do_not_move_the_cursor(fake: FakeX) -> None:
    body = '{"data": [{"id": "٣", "text": "acme"}], "meta": {"newest_id": "²"}}'
    fake.fail_next("search", Fault(status=200, body=body.encode()))
    result = await source(fake).fetch({"since_id": "12"})
    assert result.cursor == {"since_id": "12"}


async def test_the_request_budget_holds_polls_back_without_asking_x(fake: FakeX) -> None:
    src = source(fake, requests_per_window=2)
    cursor = (await src.fetch(None)).cursor
    cursor = (await src.fetch(cursor)).cursor
    held = await src.fetch(cursor)
    assert held.cursor is None and held.mentions == ()
    assert held.next_poll_in is not None and 0 < held.next_poll_in <= 15 * 60
    assert len(fake.params_of("search")) == 2


async def test_quiet_polls_slow_down_and_busy_ones_speed_up(fake: FakeX) -> None:
    src = source(fake, interval="2m", min_interval="1m", max_interval="10m")
    cursor = None
    delays: list[float] = []
    for _ in range(6):
        result = await src.fetch(cursor)
        cursor = result.cursor
        assert result.next_poll_in is not None
        delays.append(result.next_poll_in)
    assert delays == sorted(delays) and delays[-1] == 600.0
    for n in range(15):
        fake.add_tweet(f"acme outage {n}", author_id=ANA)
    busy = await src.fetch(cursor)
    assert busy.next_poll_in == 300.0
    for n in range(15):
        fake.add_tweet(f"acme outage again {n}", author_id=ANA)
    assert (await src.fetch(busy.cursor)).next_poll_in == 150.0


# -- posting ------------------------------------------------------------------------------


async def ingest_complaint(fake: FakeX, tmp_path: Path, **keys: Any) -> tuple[Config, Store, str]:
    cfg = config(fake, tmp_path, **{"mode": "mentions", **POSTING, **keys})
    stages = build_stages(cfg)
    tweet = fake.add_tweet(COMPLAINT, author_id=ANA)
    store = Store.open(cfg.db_path)
    await poll(build_source(cfg.sources[0], CTX), store, stages)
    return cfg, store, tweet["id"]


def publishers(cfg: Config) -> dict[str, Publisher]:
    return build_publishers(list(cfg.sources), CTX)


async def test_no_posting_keys_means_no_publisher(fake: FakeX, tmp_path: Path) -> None:
    assert publishers(config(fake, tmp_path)) == {}


async def test_an_approved_reply_is_posted_under_the_post_once(fake: FakeX, tmp_path: Path) -> None:
    cfg, store, target = await ingest_complaint(fake, tmp_path)
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(
            draft.id, "maria", body="Sorry @ana_lima! We're on it: https://acme.example/status"
        )
        pubs = publishers(cfg)
        summary = await publish_due(store, pubs, cfg.publish)
        again = await publish_due(store, pubs, cfg.publish)

        assert summary.outcomes == {"sent": 1}
        assert again.total == 0
        (posted,) = fake.posted
        assert posted["in_reply_to"] == target
        assert posted["text"] == "Sorry @ana_lima! We're on it: https://acme.example/status"
        reply = store.reply(draft.id)
        assert reply.status == "sent"
        assert reply.posted_id == posted["id"]
        assert reply.posted_url == f"https://x.com/AcmeHelp/status/{posted['id']}"
        await pubs["x"].aclose()


EDITED = "@AcmeHelp acme internet down again, third outage this week. Back up now, thanks"


async def edited_complaint(
    fake: FakeX, tmp_path: Path
) -> tuple[Config, Store, BatchSummary, str, dict[str, Any]]:
    """A complaint stored, then edited by its author and polled again."""
    cfg, store, first = await ingest_complaint(fake, tmp_path)
    edit = fake.edit_tweet(first, EDITED)
    summary = await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))
    return cfg, store, summary, first, edit


async def test_an_edit_of_a_stored_post_revises_its_text_without_a_second_draft(
    fake: FakeX, tmp_path: Path
) -> None:
    _, store, summary, first, edit = await edited_complaint(fake, tmp_path)
    with store:
        assert (summary.new, summary.ingest.edited) == (0, 1)
        assert stored_ids(store) == [first]
        (draft,) = store.replies("pending", platform="x")
        post = store.detail(draft.id).mention
        assert post.text == EDITED
        assert post.judged_text == COMPLAINT
        assert post.version_id == edit["id"]
        assert post.url == f"https://x.com/ana_lima/status/{edit['id']}"
        assert store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 1


async def test_a_reply_to_an_edited_post_goes_to_its_newest_version(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _, _, edit = await edited_complaint(fake, tmp_path)
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria", body="Glad it is back, @ana_lima!")
        pubs = publishers(cfg)
        summary = await publish_due(store, pubs, cfg.publish)

        assert summary.outcomes == {"sent": 1}
        (posted,) = fake.posted
        assert posted["in_reply_to"] == edit["id"]
        await pubs["x"].aclose()


async def test_a_post_first_seen_edited_is_stored_once_and_its_later_edits_revise_it(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg = config(fake, tmp_path, mode="mentions")
    first = fake.add_tweet(COMPLAINT, author_id=ANA)
    second = fake.edit_tweet(first["id"], COMPLAINT + "!")
    src, stages = build_source(cfg.sources[0], CTX), build_stages(cfg)
    with Store.open(cfg.db_path) as store:
        await poll(src, store, stages)
        third = fake.edit_tweet(second["id"], EDITED)
        await poll(src, store, stages)

        assert stored_ids(store) == [first["id"]]
        (draft,) = store.replies("pending", platform="x")
        post = store.detail(draft.id).mention
        assert (post.text, post.judged_text) == (EDITED, COMPLAINT + "!")
        assert post.version_id == third["id"]


async def test_duplicate_content_fails_the_reply_with_the_reason(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    fake.add_tweet("We're sorry, DM us", author_id=BRAND_ID)
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria", body="We're sorry, DM us")
        summary = await publish_due(store, publishers(cfg), cfg.publish)
        assert summary.outcomes == {"failed": 1}
        reply = store.reply(draft.id)
        assert reply.status == "failed"
        assert reply.last_error is not None
        assert "duplicate content" in reply.last_error
        assert fake.posted == []


NOT_FOUND_YET = "; it is not among the account's latest tweets (yet)"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        # a gateway's 503 can come after X made the tweet
        (Fault(status=503), "X answered 503 Service Unavailable to the post" + NOT_FOUND_YET),
        # so can a timeout: X may have taken the post and not answered in time
        (Fault(status=201, delay=1.0), "X did not answer the post within 0.2s" + NOT_FOUND_YET),
        (Fault(status=201, body=b'{"data": {}}'), "X answered the post without a tweet id: "),
    ],
    ids=["503", "timeout", "no tweet id"],
)
async def test_a_post_x_may_have_taken_is_unknown_with_one_warning_saying_what_to_do(
    fake: FakeX, tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: Fault, said: str
) -> None:
    # Posting again could put the reply up twice: the account's tweets are looked
    # through; not there (yet), a person decides. Expected, so no ERROR, no traceback.
    cfg, store, _ = await ingest_complaint(fake, tmp_path, timeout="0.2s")
    fake.fail_next("create_tweet", fault)
    caplog.set_level(logging.INFO)
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        summary = await publish_due(store, publishers(cfg), cfg.publish)
        assert summary.outcomes == {"unknown": 1}
        reply = store.reply(draft.id)
        assert reply.status == "unknown" and reply.last_error is not None
        assert reply.last_error.startswith(said), reply.last_error
        assert fake.posted == [] and len(fake.params_of("create_tweet")) == 1
    line = the_one_warning(caplog, draft.id, "x")
    assert reply.last_error in line


async def test_a_post_that_timed_out_after_x_made_the_tweet_is_found_and_sent(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path, timeout="0.2s")
    fake.fail_next("create_tweet", Fault(status=201, delay=1.0, after=True))
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        summary = await publish_due(store, publishers(cfg), cfg.publish)
        assert summary.outcomes == {"sent": 1}
        (posted,) = fake.posted
        assert store.reply(draft.id).posted_id == posted["id"]


async def test_a_server_error_after_the_tweet_was_made_finds_it(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    fake.fail_next("create_tweet", Fault(status=503, after=True))
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        pubs = publishers(cfg)
        summary = await publish_due(store, pubs, cfg.publish)
        assert summary.outcomes == {"sent": 1}
        assert await publish_due(store, pubs, cfg.publish) == PublishSummary()
        (posted,) = fake.posted
        assert store.reply(draft.id).posted_id == posted["id"]


async def test_a_rate_limit_waits_for_its_reset_without_spending_attempts(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    fake.add_tweet(COMPLAINT + " Same here.", author_id=BEN)
    await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))
    reset = int(time.time()) + 600
    fake.fail_next(
        "create_tweet",
        Fault(
            status=429, headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}
        ),
    )
    with store:
        drafts = store.replies("pending", platform="x")
        assert len(drafts) == 2
        for draft in drafts:
            store.approve(draft.id, "maria")
        summary = await publish_due(store, publishers(cfg), cfg.publish)
        assert summary.outcomes == {"retry": 2}  # the second was not even tried
        assert fake.posted == []
        for draft in drafts:
            reply = store.reply(draft.id)
            assert reply.status == "approved" and reply.attempts == 0
            assert reply.next_attempt_at == datetime.fromtimestamp(reset, UTC).isoformat(
                timespec="milliseconds"
            ).replace("+00:00", "Z")
            # the note a person reads in the queue: the time as other messages write it
            shown = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            assert f"until {shown}" in (reply.last_error or ""), reply.last_error


def rate_limited_once(fake: FakeX, seconds: int) -> datetime:
    """X answers the next post 429, its window ending `seconds` from now: that moment."""
    reset = int(time.time()) + seconds
    limited = {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}
    fake.fail_next("create_tweet", Fault(status=429, headers=limited))
    return datetime.fromtimestamp(reset, UTC)


async def complaints_from(fake: FakeX, cfg: Config, store: Store, *authors: str) -> None:
    for n, author in enumerate(authors):
        fake.add_tweet(f"{COMPLAINT} Same here ({n}).", author_id=author)
    await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))


async def test_a_rate_limit_holds_every_later_x_reply_across_runs_until_its_reset(
    fake: FakeX, tmp_path: Path
) -> None:
    # The operator's walkthrough: replies approved a few seconds apart, one publisher
    # run each. Each run posted the next one straight into the window X had named.
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    await complaints_from(fake, cfg, store, BEN)
    reset = rate_limited_once(fake, 120)
    with store:
        first, second = (draft.id for draft in store.replies("pending", platform="x"))
        pubs = publishers(cfg)
        store.approve(first, "maria")
        assert (await publish_due(store, pubs, cfg.publish)).outcomes == {"retry": 1}
        store.approve(second, "maria")
        assert (await publish_due(store, pubs, cfg.publish)).outcomes == {"retry": 1}
        assert len(fake.params_of("create_tweet")) == 1  # the post X answered 429
        for reply_id in (first, second):
            reply = store.reply(reply_id)
            assert (reply.status, reply.attempts) == ("approved", 0)
            assert reply.next_attempt_at == iso(reset)
        after = reset + timedelta(seconds=1)
        store.clock = lambda: after
        assert (await publish_due(store, pubs, cfg.publish)).outcomes == {"sent": 2}
        assert sorted(p["in_reply_to"] for p in fake.posted) == sorted(
            store.reply(r).native_id for r in (first, second)
        )  # each once
        await pubs["x"].aclose()


async def test_a_dry_run_is_not_held_by_a_stored_rate_limit(fake: FakeX, tmp_path: Path) -> None:
    # after a restore, one dry run marks the approved replies sent (docs/operating.md)
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    with store:
        store.rest_publishing("x", store.clock() + timedelta(minutes=30))
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        dry = cfg.publish.model_copy(update={"mode": "dry-run"})
        assert (await publish_due(store, publishers(cfg), dry)).outcomes == {"dry-run": 1}


def publish_json(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["publish", "--json", "-c", str(path)])
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


async def test_earful_publish_runs_wait_out_a_rate_limit_an_earlier_run_met(
    fake: FakeX, tmp_path: Path
) -> None:
    # each `earful publish` (from cron, say) is a process of its own: the rest is
    # stored, not kept in memory
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    await complaints_from(fake, cfg, store, BEN)
    path = tmp_path / "earful.toml"
    keys = "".join(f'{key} = "{value}"\n' for key, value in POSTING.items())
    path.write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\nhandles = { x = "AcmeHelp" }\n'
        f'[storage]\npath = "{cfg.db_path}"\n[[sources]]\nname = "x-test"\ntype = "x"\n'
        f'base_url = "{fake.url}"\nbearer_token = "{BEARER}"\nhandle = "AcmeHelp"\n{keys}'
        '[publish]\nmode = "live"\n',
        encoding="utf-8",
    )
    reset = rate_limited_once(fake, 120)
    with store:
        first, second = (draft.id for draft in store.replies("pending", platform="x"))
        store.approve(first, "maria")
        shown = await asyncio.to_thread(publish_json, path)
        assert shown == {
            "outcomes": {"retry": 1},
            "waiting": 1,
            "next_at": iso(reset),
            "unsettled": {"failed": 0, "unknown": 0},
        }
        store.approve(second, "maria")
        said = await asyncio.to_thread(CliRunner().invoke, cli, ["publish", "-c", str(path)])
        assert said.exit_code == 0, said.output
        # each reply counted once: "1 to try again later, 2 approved replies waiting..."
        assert said.stdout == (
            "publish (live): 2 approved replies waiting to be tried again "
            f"(the first at {shown_time(iso(reset))})\n"
        )
        assert len(fake.params_of("create_tweet")) == 1
        assert store.reply(second).status == "approved"


async def test_the_daemon_waits_out_a_rate_limit_met_by_an_earlier_tick(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path, interval="1h")
    await complaints_from(fake, cfg, store, BEN)
    # the publisher ticks every 50 ms
    live = replace(cfg, publish=cfg.publish.model_copy(update={"interval": 0.05}))
    reset = rate_limited_once(fake, 120)
    with store:
        first, second = (draft.id for draft in store.replies("pending", platform="x"))
        store.approve(first, "maria")
        daemon = Daemon(build_runtime(live))
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        try:
            await dealt_with(store, first)
            store.approve(second, "maria")  # an agent, seconds later
            await dealt_with(store, second)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
        assert len(fake.params_of("create_tweet")) == 1
        reply = store.reply(second)
        assert (reply.status, reply.next_attempt_at) == ("approved", iso(reset))


async def dealt_with(store: Store, reply_id: int) -> None:
    """Until the publisher has dealt with an approved reply: sent, or due later."""
    for _ in range(3000):  # a hang guard (30 s), not a timing
        reply = store.reply(reply_id)
        if reply.status == "sent" or reply.next_attempt_at is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the publisher never dealt with reply {reply_id}")


async def test_refused_posting_keys_fail_the_reply(fake: FakeX, tmp_path: Path) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path, consumer_secret="not-the-secret")
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        await publish_due(store, publishers(cfg), cfg.publish)
        reply = store.reply(draft.id)
        assert reply.status == "failed"
        assert reply.last_error is not None and "posting keys" in reply.last_error
        assert "not-the-secret" not in reply.last_error


async def test_a_thanks_can_be_a_like(fake: FakeX, tmp_path: Path) -> None:
    cfg = config(fake, tmp_path, **POSTING, thanks_as="like")
    praise = fake.add_tweet("acme support fixed it in minutes, love you", author_id=ANA)
    with Store.open(cfg.db_path) as store:
        await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))
        (draft,) = store.replies("pending", platform="x")
        assert draft.kind == "thanks"
        store.approve(draft.id, "maria")
        summary = await publish_due(store, publishers(cfg), cfg.publish)
        assert summary.outcomes == {"sent": 1}
        assert fake.likes == [(BRAND_ID, praise["id"])]
        assert fake.posted == []


async def test_over_length_replies_are_refused_with_the_weighted_count() -> None:
    assert reply_problem("x", OVER_LENGTH) == "the reply is 291 weighted characters; x allows 280"
    assert reply_problem("x", "👍" * 140) is None
    assert reply_problem("x", "👍" * 141) == "the reply is 282 weighted characters; x allows 280"


async def test_approving_an_over_length_reply_is_refused_by_the_cli(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    with store:
        (draft,) = store.replies("pending", platform="x")
    path = tmp_path / "earful.toml"
    path.write_text(
        f'[brand]\nname = "Acme"\n[storage]\npath = "{cfg.db_path}"\n'
        '[[sources]]\nname = "x-test"\ntype = "x"\nbearer_token = "${X_BEARER_TOKEN}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        [
            "queue",
            "approve",
            "-c",
            str(path),
            "--as",
            "maria",
            "--edit",
            OVER_LENGTH,
            str(draft.id),
        ],
        env={"X_BEARER_TOKEN": BEARER},
    )
    assert result.exit_code == 1
    assert "the reply is 291 weighted characters; x allows 280" in result.output
    with Store.open(cfg.db_path) as reopened:
        assert reopened.reply(draft.id).status == "pending"


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("hello", 5),
        ("日本語", 6),
        ("see https://example.com/a/very/long/path?q=1.", 28),
        ("acme.com rocks", 29),
        ("👨‍👩‍👧‍👦", 2),
        ("👍🏽", 2),
        ("🇫🇷🇩🇪", 4),
        ("1️⃣", 2),
        ("“quotes” — and…", 16),  # the ellipsis U+2026 is outside the light ranges
        ("مرحبا", 5),
        ("e\u0301", 1),
        # twitter-text ends a link at the first CJK character: the text after it counts
        ("詳細はhttps://acme.com/help" + "お" * 130, 6 + 23 + 260),
        ("https://ru.wikipedia.org/wiki/Москва ok", 23 + 3),
    ],
)
def test_x_weighted_length(text: str, weight: int) -> None:
    assert x_weighted_length(text) == weight


async def posted_then_crashed(
    fake: FakeX, tmp_path: Path, body: str
) -> tuple[Config, Store, str, int]:
    """A complaint's reply approved and posted, and the process dying before it
    records that: the config, the store (open), the post's id and the reply's."""
    cfg, store, target = await ingest_complaint(fake, tmp_path)
    (draft,) = store.replies("pending", platform="x")
    store.approve(draft.id, "maria", body=body)
    (claim,) = store.claim_for_posting(dry_run=False)
    await publishers(cfg)["x"].post(outgoing(claim))  # ...and the process dies here
    return cfg, store, target, draft.id


async def assert_reconciled(
    fake: FakeX, cfg: Config, store: Store, target: str, reply_id: int
) -> None:
    """The start-up after the crash finds the reply on X: `sent`, with its id."""
    summary = await reconcile_sending(store, publishers(cfg))
    assert summary.outcomes == {"reconciled": 1}  # not `unknown`, for a person to look
    (posted,) = fake.posted
    assert posted["in_reply_to"] == target
    reply = store.reply(reply_id)
    assert reply.status == "sent" and reply.posted_id == posted["id"]


async def test_a_crash_between_posting_and_recording_is_reconciled_at_start_up(
    fake: FakeX, tmp_path: Path
) -> None:
    body = "So sorry, Ana. Fixing it now & DM'd you <3 https://acme.example/s"
    cfg, store, target, reply_id = await posted_then_crashed(fake, tmp_path, body)
    with store:
        # other posts went out since
        fake.add_tweet("Planned maintenance tonight", author_id=BRAND_ID)
        await assert_reconciled(fake, cfg, store, target, reply_id)


async def test_a_reply_posted_before_its_post_was_edited_is_reconciled_at_start_up(
    fake: FakeX, tmp_path: Path
) -> None:
    # posted to the version it then had; the author edits it while Earful is down:
    # the reply answers a version older than the one now stored
    body = "So sorry, Ana. Fixing it now"
    cfg, store, target, reply_id = await posted_then_crashed(fake, tmp_path, body)
    with store:
        edit = fake.edit_tweet(target, EDITED)
        await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))
        assert store.mention(store.reply(reply_id).mention_id).version_id == edit["id"]
        await assert_reconciled(fake, cfg, store, target, reply_id)


async def test_a_crash_before_posting_is_left_for_a_person(fake: FakeX, tmp_path: Path) -> None:
    cfg, store, _ = await ingest_complaint(fake, tmp_path)
    with store:
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        store.claim_for_posting(dry_run=False)  # the process dies before posting
        summary = await reconcile_sending(store, publishers(cfg))
        assert summary.outcomes == {"unknown": 1}
        assert store.reply(draft.id).status == "unknown"
        assert fake.posted == []


async def test_a_crashed_like_is_reconciled_from_the_accounts_likes(
    fake: FakeX, tmp_path: Path
) -> None:
    cfg = config(fake, tmp_path, **POSTING, thanks_as="like")
    fake.add_tweet("acme support fixed it in minutes, love you", author_id=ANA)
    with Store.open(cfg.db_path) as store:
        await poll(build_source(cfg.sources[0], CTX), store, build_stages(cfg))
        (draft,) = store.replies("pending", platform="x")
        store.approve(draft.id, "maria")
        (claim,) = store.claim_for_posting(dry_run=False)
        await publishers(cfg)["x"].post(outgoing(claim))
        summary = await reconcile_sending(store, publishers(cfg))
        assert summary.outcomes == {"reconciled": 1}
        assert len(fake.likes) == 1


async def test_debug_logs_of_a_real_poll_never_show_the_token(fake: FakeX, tmp_path: Path) -> None:
    # tweepy logs its request headers at debug level, the bearer token among them
    fake.add_tweet(COMPLAINT, author_id=ANA)
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n[logging]\nlevel = "debug"\n'
        f'[[sources]]\nname = "x-test"\ntype = "x"\nbase_url = "{fake.url}"\n'
        'mode = "search"\nquery = "acme"\nbearer_token = "${X_BEARER_TOKEN}"\n',
        encoding="utf-8",
    )
    earful = Path(sys.executable).with_name("earful")
    process = await asyncio.create_subprocess_exec(
        str(earful),
        "poll",
        "-c",
        str(path),
        env={**os.environ, "X_BEARER_TOKEN": BEARER},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "x-test: fetched 1, new 1" in out.decode()
    logged = err.decode()
    assert "tweepy.client" in logged and "Authorization" in logged  # it did log headers
    assert BEARER not in logged and "Bearer ***" in logged
