"""The Hacker News source against a fake HN Search API on 127.0.0.1: stories and
comments by date, paged to an edge on created_at_i, rate limits and bad answers, and
complaints that become callback tasks because HN is read-only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.hn_api import BASE_TIME, FakeHackerNews, comment, story
from fakes.pipeline import BRAND, shared_http, stages
from fakes.server import BLOCK_PAGE, Scripted

from earful.http import SharedSession
from earful.pipeline import poll
from listener.base import AuthFailed, RateLimited, SourceContext, SourceDown
from listener.hackernews import HackerNewsSource, Settings, build
from responders.limits import reply_problem
from storage.store import Store

SEARCH = "/api/v1/search_by_date"


@pytest.fixture
async def fake() -> AsyncIterator[FakeHackerNews]:
    async with FakeHackerNews() as server:
        yield server


http = pytest.fixture(shared_http, name="http")


def source(fake: FakeHackerNews, http: SharedSession, **keys: Any) -> HackerNewsSource:
    table = {"name": "hn", "type": "hackernews", "base_url": fake.url, **keys}
    return build(Settings.model_validate(table), SourceContext(brand=BRAND, http=http.get))


def stored(store: Store) -> list[str]:
    rows = store.conn.execute("SELECT native_id FROM mentions WHERE platform = 'hackernews'")
    return sorted(r[0] for r in rows)


def stories(first: int, count: int) -> list[dict[str, Any]]:
    return [story(n, f"Acme outage number {n}") for n in range(first, first + count)]


async def test_stories_and_comments_are_read_newest_first(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    fake.add(
        story(1, "Acme raises prices again"),
        comment(2, "<p>Acme support never called back &amp; I&#x27;m done</p>"),
        story(3, "Unrelated launch"),
    )
    summary = await poll(source(fake, http), store, stages())
    assert summary.new == 2
    (request,) = fake.seen(SEARCH)
    assert request.param("query") == "acme"
    assert request.param("tags") == "(story,comment)"
    assert request.param("numericFilters") is None  # the first poll: the newest page
    text = store.conn.execute(
        "SELECT text FROM mentions WHERE native_id = ?", (comment(2, "")["objectID"],)
    ).fetchone()[0]
    assert text == "Acme support never called back & I'm done"


async def test_only_the_brands_own_words_are_found_not_typos_or_longer_words(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    # what the HN Search API finds for "acme" by Algolia's defaults
    fake.add(
        story(1, "Acme raises prices again"),
        story(2, "My acne cream stopped working"),
        comment(3, "<p>Acmeville's new mayor</p>"),
        comment(4, "<p>acme's router died</p>"),
    )
    summary = await poll(source(fake, http), store, stages())
    assert stored(store) == ["40000001", "41000004"]
    assert summary.new == 2
    (request,) = fake.seen(SEARCH)
    assert request.param("typoTolerance") == "false"
    assert request.param("queryType") == "prefixNone"


async def test_only_the_tags_asked_for_are_searched(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    fake.add(story(1, "Acme is down"), comment(2, "acme is down for me too"))
    summary = await poll(source(fake, http, tags=["comment"]), store, stages())
    assert summary.new == 1
    assert fake.seen(SEARCH)[0].param("tags") == "comment"


async def test_a_burst_is_swept_under_a_fixed_upper_bound(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    hn = source(fake, http, page_size=10, max_pages=2)
    fake.add(*stories(1, 3))
    await poll(hn, store, stages())
    fake.add(*stories(4, 35))

    first = await poll(hn, store, stages())
    assert first.more and first.new == 20
    fake.add(*stories(100, 2))  # new posts while the sweep is under way
    second = await poll(hn, store, stages())
    assert not second.more and second.new == 15
    third = await poll(hn, store, stages())
    assert third.new == 2  # picked up by the next poll from the top

    assert stored(store) == sorted(h["objectID"] for h in fake.hits)
    filters = [r.param("numericFilters") for r in fake.seen(SEARCH)]
    # each walk reads down to the index lag below its edge, never below the oldest
    # item the first poll read
    edge, top = BASE_TIME + 1, BASE_TIME + 38
    # the bound holds from the first older page on, this poll's and the next ones'
    assert filters[1:6] == [
        f"created_at_i>={edge}",
        f"created_at_i>={edge},created_at_i<={top}",
        f"created_at_i>={edge},created_at_i<={top}",
        f"created_at_i>={edge},created_at_i<={top}",
        f"created_at_i>={edge}",  # the lag below the new edge still reaches past it
    ]
    assert [r.param("page") for r in fake.seen(SEARCH)[1:6]] == ["0", "1", "2", "3", "0"]


@pytest.mark.parametrize("then", [30, 3], ids=["larger-pages", "smaller-pages"])
async def test_a_sweep_continued_with_another_page_size_skips_nothing(
    fake: FakeHackerNews, http: SharedSession, store: Store, then: int
) -> None:
    # an operator changes page_size and restarts while a burst is being swept: the
    # saved page number counted pages of the old size, and read with the new one it
    # jumped past the posts in between, which the next walk from the top never reached
    fake.add(*stories(1, 3))
    await poll(source(fake, http, page_size=10, max_pages=2), store, stages())
    fake.add(*stories(4, 120))
    first = await poll(source(fake, http, page_size=10, max_pages=2), store, stages())
    assert first.more and first.new == 20

    await poll_until_done(source(fake, http, page_size=then, max_pages=2), store)

    assert stored(store) == sorted(h["objectID"] for h in fake.hits)


async def poll_until_done(hn: HackerNewsSource, store: Store) -> int:
    """Poll until no sweep is under way (the lag below the edge can take several
    polls of small pages to read again); how many posts were new."""
    new = 0
    while True:
        summary = await poll(hn, store, stages())
        new += summary.new
        if not summary.more:
            return new


async def test_posts_arriving_while_the_first_poll_pages_do_not_shift_the_sweep(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    hn = source(fake, http, page_size=5, max_pages=2)
    fake.add(story(0, "Acme is fine"))
    await poll(hn, store, stages())
    fake.add(*stories(1, 30))  # a burst of six pages: a sweep over three polls
    live = iter(range(100, 200))

    def arrivals(request: Any) -> None:
        if request.query.get("page") != "0":  # 3 new posts before each older page
            fake.add(*stories(next(live), 1), *stories(next(live), 1), *stories(next(live), 1))

    fake.before_search = arrivals
    first = await poll(hn, store, stages())
    assert first.more
    fake.before_search = None
    while (await poll(hn, store, stages())).more:
        pass
    assert await poll_until_done(hn, store) == 3  # the arrivals, from the top

    # every story once: none of the burst lost at the seam between polls
    assert stored(store) == sorted(h["objectID"] for h in fake.hits)
    assert len(fake.hits) == 34
    assert first.new == 10  # two pages of the burst, not shifted into each other


async def test_an_item_indexed_after_newer_ones_is_still_read(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    hn = source(fake, http)
    fake.add(*stories(1, 5))
    await poll(hn, store, stages())
    fake.add(comment(6, "acme lost my order", at=BASE_TIME + 2))  # made before story 5
    summary = await poll(hn, store, stages())
    assert summary.new == 1 and summary.ingest.duplicates == 0
    assert stored(store) == sorted(h["objectID"] for h in fake.hits)


async def test_the_lag_below_the_first_edge_imports_no_history(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    # 50 stories a second apart: the first poll reads the newest 20 and follows from
    # there; the 30 older ones are within the lag below its edge, but are history
    hn = source(fake, http, page_size=20)
    fake.add(*stories(1, 50))
    assert (await poll(hn, store, stages())).new == 20
    assert await poll_until_done(hn, store) == 0
    fake.add(story(60, "Acme outage again"), comment(61, "acme down", at=BASE_TIME + 45))
    assert await poll_until_done(hn, store) == 2  # one late-indexed, within the first page


async def test_a_first_poll_that_finds_nothing_follows_from_then_on(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    hn = source(fake, http, page_size=20)
    assert (await poll(hn, store, stages())).fetched == 0
    fake.add(*stories(1, 50))
    assert await poll_until_done(hn, store) == 50  # not only the newest page of 20
    assert stored(store) == sorted(h["objectID"] for h in fake.hits)


async def test_posts_in_the_same_second_as_the_edge_are_neither_lost_nor_repeated(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    hn = source(fake, http)
    second = BASE_TIME + 500
    fake.add(story(1, "Acme down", at=second))
    await poll(hn, store, stages())
    fake.add(comment(2, "acme down here too", at=second))
    summary = await poll(hn, store, stages())
    assert summary.fetched == 1 and summary.new == 1
    quiet = await poll(hn, store, stages())
    assert quiet.fetched == 0
    cursor = store.cursor("hn")
    assert cursor is not None
    assert cursor["queries"]["acme"]["seen"] == sorted(h["objectID"] for h in fake.hits)


async def test_a_post_dated_in_the_future_is_kept_but_never_becomes_the_edge(
    fake: FakeHackerNews, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    hn = source(fake, http)
    fake.add(story(1, "Acme down"))
    await poll(hn, store, stages())
    fake.add(story(2, "Acme from the year 2100", at=4102444800))  # a clock gone wrong
    assert (await poll(hn, store, stages())).new == 1
    fake.add(story(3, "Acme still down"), story(4, "Acme is back"))
    assert (await poll(hn, store, stages())).new == 2
    assert len(stored(store)) == 4

    # a cursor an earlier version moved into the future heals: newest posts again
    store.conn.execute(
        "UPDATE cursors SET cursor = ? WHERE source = 'hn'",
        ('{"queries": {"acme": {"at": 4102444800, "seen": ["x"]}}}',),
    )
    fake.add(story(5, "Acme down once more"))
    assert (await poll(hn, store, stages())).new == 1
    assert "a saved paging position is in the future" in caplog.text


async def test_a_rate_limit_says_when_to_come_back(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    fake.script(
        SEARCH,
        Scripted(429, '{"message": "Too many requests", "status": 429}', {"Retry-After": "120"}),
    )
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as limited:
        await poll(source(fake, http), store, stages())
    after = datetime.now(UTC)
    reset = limited.value.reset_at
    assert reset is not None
    assert before + timedelta(seconds=120) <= reset <= after + timedelta(seconds=120)


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(200, '{"hits": [{"objectID": "1",'),
        Scripted(200, "null"),
        Scripted(500, '{"message": "internal error"}'),
        Scripted(200, "<!doctype html><title>maintenance</title>", content_type="text/html"),
        Scripted(200, "{}"),  # no listing: not an empty page
    ],
    ids=["truncated-json", "null", "500", "html", "no-hits"],
)
async def test_bad_answers_are_source_down_and_move_nothing(
    fake: FakeHackerNews, http: SharedSession, store: Store, answer: Scripted
) -> None:
    hn = source(fake, http)
    fake.add(*stories(1, 2))
    await poll(hn, store, stages())
    before = store.cursor("hn")
    fake.add(*stories(3, 2))
    fake.script(SEARCH, answer)
    with pytest.raises(SourceDown):
        await poll(hn, store, stages())
    assert store.cursor("hn") == before
    assert (await poll(hn, store, stages())).new == 2


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(403, BLOCK_PAGE, content_type="text/html"),
        Scripted(403, '{"message": "Invalid Application-ID or API key", "status": 403}'),
        Scripted(401, '{"message": "Invalid credentials", "status": 401}'),
    ],
    ids=["403-block-page", "403-json", "401-json"],
)
async def test_a_refusal_is_source_down_not_bad_credentials_hn_has_none(
    fake: FakeHackerNews, http: SharedSession, store: Store, answer: Scripted
) -> None:
    # one 403 used to be AuthFailed: the daemon disabled the source until a restart
    # and told the operator to fix credentials Hacker News does not have
    hn = source(fake, http)
    fake.add(*stories(1, 2))
    fake.script(SEARCH, answer)
    with pytest.raises(SourceDown) as refused:
        await poll(hn, store, stages())
    assert not isinstance(refused.value, AuthFailed)
    said = str(refused.value)
    assert said.startswith(f"hacker news search_by_date: HTTP {answer.status}")
    assert "refused to answer: the server may be blocking this address, or want a login" in said
    assert "fix" not in said.lower() and "<" not in said  # no page quoted
    assert store.cursor("hn") is None
    assert (await poll(hn, store, stages())).new == 2  # asked again, and read


async def test_hits_that_are_not_posts_are_skipped(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    broken = story(2, "Acme without an id")
    del broken["objectID"]
    page = {"hits": [story(1, "Acme down"), broken, "not a hit", story(3, "Acme up")], "nbPages": 1}
    fake.script(SEARCH, Scripted(200, json.dumps(page)))
    summary = await poll(source(fake, http), store, stages())
    assert summary.new == 2


async def test_hostile_html_in_a_comment_becomes_plain_text(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    html = (
        '<p>acme <script>alert("x")</script>billing is broken<style>p{}</style>'
        '<p><a href="javascript:alert(1)">click</a> &lt;b&gt;not bold&lt;/b&gt;'
    )
    fake.add(comment(1, html))
    await poll(source(fake, http), store, stages())
    (text,) = store.conn.execute("SELECT text FROM mentions").fetchone()
    assert text == "acme billing is broken\n\nclick <b>not bold</b>"


async def test_a_long_link_hn_cut_short_is_stored_whole(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    # as the API sends it: HN shows a long link's address cut with "...", the whole
    # one in href, and escapes every "/"
    whole = "https://support.acme.example/outages/2026/11/20/broadband-restored-in-the-north?ref=hn"
    cut = whole[:60] + "..."
    html = (
        f'acme says it is fixed: <a href="{whole.replace("/", "&#x2F;")}" rel="nofollow">'
        f'{cut.replace("/", "&#x2F;")}</a><p>and <a href="https://acme.example/">their status page'
        "...</a> disagrees"
    )
    fake.add(comment(1, html))
    await poll(source(fake, http), store, stages())
    (text,) = store.conn.execute("SELECT text FROM mentions").fetchone()
    assert text == f"acme says it is fixed: {whole}\n\nand their status page... disagrees"


async def test_a_complaint_on_hn_becomes_a_callback_not_a_reply(
    fake: FakeHackerNews, http: SharedSession, store: Store
) -> None:
    fake.add(comment(1, "acme internet has been down all day, worst support ever"))
    summary = await poll(source(fake, http), store, stages())
    assert summary.ingest.callbacks == 1 and summary.ingest.replies == 0
    assert store.replies(status=None, platform="hackernews") == []
    assert "read-only" in (reply_problem("hackernews", "Sorry!") or "")


def test_the_default_query_is_one_search_per_brand_keyword() -> None:
    brand = BRAND.__class__("Acme", ("acme", "acme internet", " "))
    settings = Settings.model_validate({"name": "hn", "type": "hackernews"})
    hn = build(settings, SourceContext(brand=brand, http=SharedSession().get))
    assert hn.searches == ["acme", "acme internet"]
    assert hn.base_url == "https://hn.algolia.com"
