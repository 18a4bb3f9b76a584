"""The Bluesky source and publisher against a fake PDS on 127.0.0.1: searchPosts and
mention notifications paged to the edge, app-password sessions refreshed and
recreated, rate limits and malformed answers, and replies threaded with facets."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fakes.bluesky_api import (
    BASE_TIME,
    DID,
    HANDLE,
    PASSWORD,
    FakeBluesky,
    author,
    notification,
    post_view,
    stamp,
)
from fakes.pipeline import BRAND, shared_http, stages
from fakes.server import BLOCK_PAGE, Scripted
from publishkit import the_one_warning
from pydantic import ValidationError

from earful.app import build_runtime
from earful.config import PublishConfig, load_config
from earful.daemon import Daemon
from earful.http import SharedSession
from earful.outbox import publish_due, reconcile_sending
from earful.pipeline import poll
from listener.base import AuthFailed, RateLimited, SourceContext, SourceDown
from listener.bluesky import INDEX_LAG, BlueskySource, Settings, build, mention_from_post
from listener.http_errors import NotSent
from responders.graphemes import count_graphemes
from responders.limits import reply_problem
from responders.publish import bluesky as publish_bluesky
from responders.publish.base import Outgoing, PublishError
from storage import health
from storage.store import Store

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH_SESSION = "/xrpc/com.atproto.server.refreshSession"
LIVE = PublishConfig(mode="live")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


http = pytest.fixture(shared_http, name="http")


LAG = timedelta(seconds=INDEX_LAG)


def written(post: dict[str, Any]) -> float:
    """The post's sortAt: in the fake, its createdAt, a quarter second before indexing."""
    return datetime.fromisoformat(post["record"]["createdAt"]).timestamp()


def settings(fake: FakeBluesky, **keys: Any) -> Settings:
    table = {
        "name": "bsky",
        "type": "bluesky",
        "base_url": fake.url,
        "identifier": HANDLE,
        "app_password": PASSWORD,
        **keys,
    }
    return Settings.model_validate(table)


def source(fake: FakeBluesky, http: SharedSession, **keys: Any) -> BlueskySource:
    return build(settings(fake, **keys), SourceContext(brand=BRAND, http=http.get))


def publisher(fake: FakeBluesky, http: SharedSession) -> publish_bluesky.BlueskyPublisher:
    built = publish_bluesky.build(settings(fake), SourceContext(brand=BRAND, http=http.get))
    assert built is not None
    return built


def complaints(first: int, count: int) -> list[dict[str, Any]]:
    return [post_view(n, f"acme internet down again, day {n}") for n in range(first, first + count)]


def stored_ids(store: Store) -> list[str]:
    rows = store.conn.execute("SELECT native_id FROM mentions WHERE platform = 'bluesky'")
    return sorted(r[0] for r in rows)


# -- search ------------------------------------------------------------------------------


async def test_first_poll_reads_only_the_newest_page(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    fake.add(*complaints(1, 30))
    summary = await poll(source(fake, http, page_size=10), store, stages())
    assert summary.new == 10
    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts[20:])
    (request,) = fake.seen(SEARCH)
    assert request.param("sort") == "latest" and request.param("q") == "acme"
    assert request.param("since") is None


async def test_a_burst_deeper_than_one_poll_is_swept_without_gaps_or_repeats(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http, page_size=10, max_pages=2)
    fake.add(*complaints(1, 5))
    await poll(bsky, store, stages())
    fake.add(*complaints(6, 45))  # 45 new posts: more than 2 pages of 10

    first = await poll(bsky, store, stages())
    assert first.more and first.new == 20
    cursor = store.cursor("bsky")
    assert cursor is not None
    sweep = cursor["queries"]["acme"]["sweep"]
    assert sweep["next"] == "20"
    second = await poll(bsky, store, stages())
    assert second.more and second.new == 20
    third = await poll(bsky, store, stages())
    assert not third.more and third.new == 5

    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts)
    cursor = store.cursor("bsky")
    assert cursor is not None
    edge = cursor["queries"]["acme"]
    assert "sweep" not in edge
    # every post is within the lag below the edge: each is remembered, none read twice
    assert sorted(edge["seen"]) == sorted(p["uri"] for p in fake.posts)
    # the sweep kept asking from the old edge's floor (the lag below it, but never
    # below the oldest post the first poll read), with the API's own cursor
    since = stamp(BASE_TIME + timedelta(seconds=1, milliseconds=-250))
    assert [r.param("since") for r in fake.seen(SEARCH)[1:]] == [since] * 5
    assert [r.param("cursor") for r in fake.seen(SEARCH)[1:]] == [None, "10", "20", "30", "40"]


async def test_a_post_indexed_after_newer_ones_is_still_read(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    # Search's `since` and order go by sortAt (the earlier of createdAt and
    # indexedAt): a post written before the last poll's newest but indexed after
    # that poll, or sent from a phone whose clock is 5 minutes slow, used to be
    # filtered out by the server on every later poll.
    bsky = source(fake, http)
    # the first poll's page reaches an hour back: the lag below its edge is all read
    fake.add(post_view(0, "acme was fine", at=BASE_TIME - timedelta(hours=1)), *complaints(1, 5))
    await poll(bsky, store, stages())
    late = post_view(6, "acme router dead since this morning", at=BASE_TIME + timedelta(seconds=9))
    late["record"]["createdAt"] = stamp(BASE_TIME + timedelta(seconds=4, milliseconds=900))
    slow = post_view(7, "acme billing wrong again", at=BASE_TIME + timedelta(seconds=10))
    slow["record"]["createdAt"] = stamp(BASE_TIME + timedelta(seconds=5) - timedelta(minutes=5))
    fake.add(late, slow)
    summary = await poll(bsky, store, stages())
    assert summary.new == 2 and summary.ingest.duplicates == 0  # the five are not read again
    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts)
    assert (await poll(bsky, store, stages())).fetched == 0


async def test_a_first_poll_that_finds_nothing_follows_from_then_on(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http, page_size=10, max_pages=2)
    assert (await poll(bsky, store, stages())).fetched == 0
    fake.add(*complaints(1, 35))  # more than one poll's pages: swept over two polls
    first = await poll(bsky, store, stages())
    assert first.more and first.new == 20
    assert not (await poll(bsky, store, stages())).more
    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts)


async def test_a_cursor_that_never_changes_ends_the_walk_instead_of_looping(
    fake: FakeBluesky, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    bsky = source(fake, http, page_size=10, max_pages=3)
    fake.add(*complaints(1, 3))
    await poll(bsky, store, stages())
    fake.add(*complaints(4, 25))
    fake.stuck_cursor = "stuck"  # the same page, with the same cursor, for ever

    first = await poll(bsky, store, stages())
    # the newest page, then the same page again under the same cursor: stop there
    assert not first.more and first.new == 10 and first.fetched == 10
    assert [r.param("cursor") for r in fake.seen(SEARCH)[1:]] == [None, "stuck"]
    cursor = store.cursor("bsky")
    assert cursor is not None
    # the edge moved up to what was read, with no sweep left to loop on
    newest = fake.posts[-1]
    edge = cursor["queries"]["acme"]
    assert edge["at"] == written(newest) and newest["uri"] in edge["seen"]
    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts[:3] + fake.posts[-10:])

    # nothing new: the lag below the edge is read again (the newest page, then the
    # stuck one) and the walk stops where the cursor repeats
    quiet = await poll(bsky, store, stages())
    assert not quiet.more and quiet.fetched == 0 and len(fake.seen(SEARCH)) == 5
    fake.add(*complaints(40, 12))
    again = await poll(bsky, store, stages())
    assert not again.more and again.new == 10

    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "repeats" in r.message]
    assert len(warnings) == 1  # once, however often the platform does it
    assert "bsky" in warnings[0].message and "query 'acme'" in warnings[0].message
    assert "stops paging" in warnings[0].message


async def test_a_notification_cursor_that_never_changes_ends_the_walk(
    fake: FakeBluesky, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    bsky = source(fake, http, mode="mentions", page_size=5, max_pages=4)
    first = complaints(1, 2)
    fake.add(*first)
    fake.notifications.extend(notification(v) for v in first)
    await poll(bsky, store, stages())
    later = complaints(3, 12)
    fake.add(*later)
    fake.notifications.extend(notification(v) for v in later)
    fake.stuck_cursor = "stuck"

    summary = await poll(bsky, store, stages())
    assert not summary.more and summary.new == 5
    cursor = store.cursor("bsky")
    assert cursor is not None and "sweep" not in cursor["mentions"]
    assert later[-1]["uri"] in cursor["mentions"]["seen"]
    assert len(fake.seen("/xrpc/app.bsky.notification.listNotifications")) == 3
    assert "bsky: the platform's paging for notifications repeats itself" in caplog.text


async def test_a_quiet_poll_stores_nothing_and_asks_once(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http)
    fake.add(*complaints(1, 3))
    await poll(bsky, store, stages())
    before = store.cursor("bsky")
    summary = await poll(bsky, store, stages())
    # `since` is inclusive: the newest post comes back and is known by its uri
    assert summary.fetched == 0 and summary.new == 0
    assert store.cursor("bsky") == before
    assert len(fake.seen(SEARCH)) == 2


async def test_posts_sharing_the_edge_time_are_not_lost(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    moment = BASE_TIME + timedelta(minutes=5)
    bsky = source(fake, http)
    fake.add(post_view(1, "acme is down", at=moment))
    await poll(bsky, store, stages())
    fake.add(post_view(2, "acme is down for me too", at=moment))  # indexed the same ms
    summary = await poll(bsky, store, stages())
    assert summary.new == 1
    cursor = store.cursor("bsky")
    assert cursor is not None
    assert cursor["queries"]["acme"]["seen"] == sorted(p["uri"] for p in fake.posts)


async def test_each_brand_keyword_is_searched_with_its_own_edge(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = build(
        settings(fake),
        SourceContext(brand=BRAND.__class__("Acme", ("acme", "#acmefail")), http=http.get),
    )
    fake.add(post_view(1, "acme is down"), post_view(2, "so slow #acmefail"))
    summary = await poll(bsky, store, stages())
    assert summary.new == 2  # "acme" matches both: stored once each
    cursor = store.cursor("bsky")
    assert cursor is not None
    assert set(cursor["queries"]) == {"acme", "#acmefail"}


async def test_search_without_credentials_is_anonymous(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    fake.add(*complaints(1, 2))
    bsky = source(fake, http, identifier=None, app_password=None)
    await poll(bsky, store, stages())
    assert "Authorization" not in fake.seen(SEARCH)[0].headers
    assert fake.sessions_created == 0


async def test_search_refused_without_credentials_says_to_sign_in(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    fake.add(*complaints(1, 2))
    fake.anonymous_search = False  # Bluesky's own AppView
    bsky = source(fake, http, identifier=None, app_password=None)
    with pytest.raises(SourceDown) as refused:
        await poll(bsky, store, stages())
    assert "HTTP 403" in str(refused.value)
    assert "set the source's identifier and app_password" in str(refused.value)
    assert store.cursor("bsky") is None
    # signed in, the same search is answered
    assert (await poll(source(fake, http), store, stages())).new == 2


async def test_links_shortened_by_the_app_are_stored_where_they_lead(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    typed = (
        "acme 😡 outage https://status.acme.example/incidents/2026/11/20/broadband and acme.example"
    )
    post = post_view(1, typed)
    # a link facet over words is kept as words
    post["record"]["text"] += " acme help"
    words = len(post["record"]["text"].encode()) - len("help")
    post["record"]["facets"].append(
        {
            "index": {"byteStart": words, "byteEnd": words + len("help")},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example"}],
        }
    )
    assert "status.acme.example/inciden..." in post["record"]["text"]
    fake.add(post)
    await poll(source(fake, http), store, stages())
    (text,) = [r[0] for r in store.conn.execute("SELECT text FROM mentions")]
    assert text == typed + " acme help"


@pytest.mark.parametrize(
    "index",
    [
        {"byteStart": 6, "byteEnd": 40},  # inside the emoji
        {"byteStart": 30, "byteEnd": 10},
        {"byteStart": 0, "byteEnd": 10_000},
        {"byteStart": "0", "byteEnd": None},
    ],
)
def test_a_link_facet_that_does_not_fit_the_text_leaves_it_as_sent(index: Any) -> None:
    post = post_view(1, "acme 😡 https://status.acme.example/incidents/2026/11/20/broadband")
    post["record"]["facets"][0]["index"] = index
    sent = post["record"]["text"]
    assert mention_from_post(post).text == sent


async def test_a_post_without_a_uri_is_skipped_and_the_rest_stored(
    fake: FakeBluesky, http: SharedSession, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    broken = post_view(2, "acme broken post")
    del broken["uri"]
    fake.add(post_view(1, "acme down"), broken, post_view(3, "acme down again"))
    summary = await poll(source(fake, http), store, stages())
    assert summary.new == 2
    assert "skipped a post" in caplog.text


# -- sessions ------------------------------------------------------------------------------


async def test_an_expired_access_token_is_refreshed_once(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http)
    fake.add(*complaints(1, 2))
    await poll(bsky, store, stages())
    fake.expire_access_tokens()
    fake.add(*complaints(3, 2))
    summary = await poll(bsky, store, stages())
    assert summary.new == 2
    assert fake.sessions_created == 1
    assert len(fake.seen("/xrpc/com.atproto.server.refreshSession")) == 1
    # the retry carried the refreshed token
    assert fake.seen(SEARCH)[-1].headers["Authorization"] == "Bearer access-jwt-2"


async def test_a_revoked_refresh_token_signs_in_again(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http)
    await poll(bsky, store, stages())
    fake.expire_all_tokens()
    fake.add(*complaints(1, 1))
    await poll(bsky, store, stages())
    assert fake.sessions_created == 2


async def test_a_wrong_app_password_is_auth_failed_without_the_password(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http, app_password="wrong-pass-word-1234")
    with pytest.raises(AuthFailed) as failure:
        await poll(bsky, store, stages())
    assert "wrong-pass-word-1234" not in str(failure.value)
    assert "app password" in str(failure.value)
    assert store.cursor("bsky") is None


async def test_a_password_changed_while_running_ends_in_auth_failed(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http)
    await poll(bsky, store, stages())
    fake.expire_all_tokens()
    fake.password = "a-new-one-9999"
    with pytest.raises(AuthFailed):
        await poll(bsky, store, stages())


@pytest.mark.parametrize(("path", "status"), [(SEARCH, 403), (CREATE_SESSION, 401)])
async def test_a_block_page_in_front_of_the_pds_is_source_down_not_auth_failed(
    fake: FakeBluesky, http: SharedSession, store: Store, path: str, status: int
) -> None:
    # a CDN's HTML page refuses the address, not the app password
    fake.add(*complaints(1, 1))
    bsky = source(fake, http)
    fake.script(path, Scripted(status, BLOCK_PAGE, content_type="text/html"))
    with pytest.raises(SourceDown, match=f"HTTP {status}, a web page") as caught:
        await poll(bsky, store, stages())
    assert not isinstance(caught.value, AuthFailed)
    assert (await poll(bsky, store, stages())).new == 1


@pytest.mark.parametrize(
    "body",
    ["{}", json.dumps({"did": DID, "handle": HANDLE}), json.dumps({"did": DID, "accessJwt": ""})],
    ids=["empty", "no-tokens", "blank-tokens"],
)
async def test_a_sign_in_answered_200_without_a_session_is_retried_not_auth_failed(
    fake: FakeBluesky, http: SharedSession, store: Store, body: str
) -> None:
    bsky = source(fake, http, mode="mentions")
    fake.notifications.append(notification(post_view(1, "@acme.bsky.social help")))
    fake.add(post_view(1, "@acme.bsky.social help"))
    fake.script(CREATE_SESSION, Scripted(200, body))
    # SourceDown, a sibling of AuthFailed: the daemon backs off instead of disabling
    with pytest.raises(SourceDown, match="createSession: the answer has no did or tokens"):
        await poll(bsky, store, stages())
    assert store.cursor("bsky") is None
    assert (await poll(bsky, store, stages())).new == 1
    assert fake.sessions_created == 1


def test_mentions_mode_needs_credentials() -> None:
    with pytest.raises(ValidationError, match="mentions"):
        Settings.model_validate({"name": "b", "type": "bluesky", "mode": "mentions"})
    with pytest.raises(ValidationError, match="go together"):
        Settings.model_validate({"name": "b", "type": "bluesky", "identifier": HANDLE})


def test_the_app_password_is_not_in_the_settings_repr() -> None:
    table = {"name": "b", "type": "bluesky", "identifier": HANDLE, "app_password": PASSWORD}
    assert PASSWORD not in repr(Settings.model_validate(table))


# -- failures ------------------------------------------------------------------------------


async def test_rate_limit_reports_the_reset_time(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reset = int(datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp())
    headers = {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    body = json.dumps({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})
    fake.script(SEARCH, Scripted(429, body, headers))
    with pytest.raises(RateLimited) as limited:
        await poll(source(fake, http), store, stages())
    assert limited.value.reset_at == datetime.fromtimestamp(reset, tz=UTC)
    assert "RateLimitExceeded" in str(limited.value)


@pytest.mark.parametrize(
    "answer",
    [
        Scripted(200, '{"posts": [{"uri": "at://x'),  # cut off mid-body
        Scripted(200, "<html><body>Bad gateway</body></html>", content_type="text/html"),
        Scripted(200, '["not", "an", "object"]'),
        Scripted(502, "upstream failed", content_type="text/plain"),
        Scripted(503, '{"error": "InternalServerError"}'),
        # no listing: read as an empty page it would end a walk and skip the rest
        Scripted(200, "{}"),
        Scripted(200, '{"posts": "none"}'),
    ],
    ids=["truncated-json", "html", "json-array", "502", "503", "no-posts", "posts-not-a-list"],
)
async def test_bad_answers_are_source_down_and_store_nothing(
    fake: FakeBluesky, http: SharedSession, store: Store, answer: Scripted
) -> None:
    bsky = source(fake, http)
    fake.add(*complaints(1, 2))
    await poll(bsky, store, stages())
    before = store.cursor("bsky")
    fake.add(*complaints(3, 2))
    fake.script(SEARCH, answer)
    with pytest.raises(SourceDown):
        await poll(bsky, store, stages())
    assert store.cursor("bsky") == before
    assert len(stored_ids(store)) == 2
    assert (await poll(bsky, store, stages())).new == 2  # and it recovers


async def test_an_unreachable_server_is_not_sent(http: SharedSession, store: Store) -> None:
    closed = FakeBluesky()
    await closed.start()
    await closed.stop()  # the port is free again: nothing listens there
    bsky = source(closed, http)
    with pytest.raises(NotSent):
        await poll(bsky, store, stages())


# -- mentions ------------------------------------------------------------------------------


async def test_mentions_are_hydrated_and_other_reasons_dropped(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    views = complaints(1, 30)
    fake.add(*views)
    fake.notifications.extend(notification(v) for v in views)
    fake.notifications.append(notification(post_view(90, "nice post"), "like"))
    bsky = source(fake, http, mode="mentions", page_size=100)
    # the first poll reads the newest page: all 30 mentions fit on it
    summary = await poll(bsky, store, stages())
    assert summary.new == 30
    hydrate = fake.seen("/xrpc/app.bsky.feed.getPosts")
    assert [len(r.params("uris")) for r in hydrate] == [25, 5]
    stored = store.conn.execute(
        "SELECT raw FROM mentions WHERE native_id = ?", (views[0]["uri"],)
    ).fetchone()
    assert json.loads(stored[0])["likeCount"] == views[0]["likeCount"]  # the full postView
    assert fake.seen("/xrpc/app.bsky.notification.listNotifications")[0].params("reasons") == [
        "mention"
    ]


async def test_notifications_without_their_list_are_source_down(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    view = post_view(1, "acme down, @acme.bsky.social help")
    fake.add(view)
    fake.notifications.append(notification(view))
    bsky = source(fake, http, mode="mentions")
    fake.script("/xrpc/app.bsky.notification.listNotifications", Scripted(200, "{}"))
    with pytest.raises(SourceDown, match="no 'notifications' list"):
        await poll(bsky, store, stages())
    assert store.cursor("bsky") is None
    assert (await poll(bsky, store, stages())).new == 1  # and it recovers


async def test_a_server_ignoring_reasons_still_yields_only_mentions(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    view = post_view(1, "acme down, @acme.bsky.social help")
    fake.add(view)
    fake.notifications.extend([notification(view), notification(post_view(2, "x"), "like")])
    fake.script(
        "/xrpc/app.bsky.notification.listNotifications",
        Scripted(200, json.dumps({"notifications": fake.notifications})),
    )
    summary = await poll(source(fake, http, mode="mentions"), store, stages())
    assert summary.new == 1
    assert stored_ids(store) == [view["uri"]]


async def test_a_mention_deleted_before_hydration_keeps_the_notification_record(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    view = post_view(1, "acme broke my router @acme.bsky.social")
    fake.notifications.append(notification(view))  # the post itself is gone from the AppView
    summary = await poll(source(fake, http, mode="mentions"), store, stages())
    assert summary.new == 1
    mention = store.conn.execute("SELECT text FROM mentions").fetchone()
    assert mention[0] == "acme broke my router @acme.bsky.social"


async def test_mentions_follow_their_own_edge(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http, mode="mentions")
    first = complaints(1, 3)
    fake.add(*first)
    fake.notifications.extend(notification(v) for v in first)
    await poll(bsky, store, stages())
    later = complaints(4, 2)
    fake.add(*later)
    fake.notifications.extend(notification(v) for v in later)
    summary = await poll(bsky, store, stages())
    assert summary.new == 2
    cursor = store.cursor("bsky")
    assert cursor is not None
    assert cursor["mentions"]["at"] == written(later[-1])


# -- publishing ----------------------------------------------------------------------------


def outgoing(target: dict[str, Any], body: str, reply_id: int = 1) -> Outgoing:
    return Outgoing(
        reply_id=reply_id,
        kind="reply",
        body=body,
        platform="bluesky",
        target_id=target["uri"],
        target_author=target.get("author", {}).get("handle"),
        target_raw=target,
    )


async def test_a_reply_to_a_top_level_post_has_it_as_root_and_parent(
    fake: FakeBluesky, http: SharedSession
) -> None:
    target = post_view(1, "acme is down")
    posted = await publisher(fake, http).post(outgoing(target, "Sorry! We're on it."))
    (created,) = fake.created
    assert created["repo"] == DID and created["collection"] == "app.bsky.feed.post"
    ref = {"uri": target["uri"], "cid": target["cid"]}
    assert created["record"]["reply"] == {"root": ref, "parent": ref}
    assert created["record"]["$type"] == "app.bsky.feed.post"
    assert created["record"]["createdAt"].endswith("Z")
    assert posted.native_id == f"at://{DID}/app.bsky.feed.post/3lreply00001"
    assert posted.url == f"https://bsky.app/profile/{HANDLE}/post/3lreply00001"


async def test_a_reply_to_a_reply_keeps_the_thread_root(
    fake: FakeBluesky, http: SharedSession
) -> None:
    top = post_view(1, "new router day")
    middle = post_view(2, "and acme is down already", reply_to=top)
    await publisher(fake, http).post(outgoing(middle, "Sorry about that."))
    reply = fake.created[0]["record"]["reply"]
    assert reply["root"] == {"uri": top["uri"], "cid": top["cid"]}
    assert reply["parent"] == {"uri": middle["uri"], "cid": middle["cid"]}


async def test_a_thread_gated_against_the_account_is_not_replied_to(
    fake: FakeBluesky, http: SharedSession
) -> None:
    # the PDS would take the reply and the AppView hide it: sent to nobody
    top = post_view(1, "acme is down; replies from people I follow only", gated=True)
    under = post_view(2, "acme still down", reply_to=top, gated=True)
    fake.add(under)
    bare = {k: v for k, v in under.items() if k not in ("cid", "viewer")}
    for target in (top, bare):  # as stored, or looked up for want of its cid
        with pytest.raises(PublishError) as refused:
            await publisher(fake, http).post(outgoing(target, "Sorry! DM us?"))
        assert not refused.value.retryable
        assert "thread gate" in str(refused.value)
    assert fake.created == []


async def test_a_target_stored_without_its_cid_is_looked_up(
    fake: FakeBluesky, http: SharedSession
) -> None:
    target = post_view(1, "acme is down")
    fake.add(target)
    bare = {k: v for k, v in target.items() if k != "cid"}
    await publisher(fake, http).post(outgoing(bare, "Sorry!"))
    assert fake.created[0]["record"]["reply"]["parent"]["cid"] == target["cid"]


async def test_a_deleted_target_is_a_permanent_failure(
    fake: FakeBluesky, http: SharedSession
) -> None:
    target = post_view(1, "acme is down")
    with pytest.raises(PublishError) as failure:
        await publisher(fake, http).post(outgoing({"uri": target["uri"]}, "Sorry!"))
    assert not failure.value.retryable and "gone" in str(failure.value)
    assert fake.created == []


async def test_facets_mark_links_and_mentions_by_utf8_byte_offsets(
    fake: FakeBluesky, http: SharedSession
) -> None:
    fake.handles["ana.example.com"] = "did:plc:ana000000000000000000"
    target = post_view(1, "acme 😡", by=author(1, "user1.bsky.social"))
    body = (
        "Sorry 😞🇵🇹 @user1.bsky.social! Cc @ana.example.com and @nobody.example.org; "
        "status: https://status.acme.example/incidents/42."
    )
    await publisher(fake, http).post(outgoing(target, body))
    record = fake.created[0]["record"]
    encoded: bytes = record["text"].encode("utf-8")

    def covered(facet: dict[str, Any]) -> str:
        index = facet["index"]
        return encoded[index["byteStart"] : index["byteEnd"]].decode("utf-8")

    found = [(covered(f), f["features"][0]) for f in record["facets"]]
    assert found == [
        (
            "@user1.bsky.social",
            {"$type": "app.bsky.richtext.facet#mention", "did": target["author"]["did"]},
        ),
        (
            "@ana.example.com",
            {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ana000000000000000000"},
        ),
        (
            "https://status.acme.example/incidents/42",
            {
                "$type": "app.bsky.richtext.facet#link",
                "uri": "https://status.acme.example/incidents/42",
            },
        ),
    ]
    # the byte offsets differ from the character offsets because of the emoji
    assert record["facets"][0]["index"]["byteStart"] != body.index("@user1")
    # the target's author was known: only the other two handles were looked up
    lookups = [r.param("handle") for r in fake.seen("/xrpc/com.atproto.identity.resolveHandle")]
    assert lookups == ["ana.example.com", "nobody.example.org"]


async def test_plain_text_has_no_facets(fake: FakeBluesky, http: SharedSession) -> None:
    await publisher(fake, http).post(outgoing(post_view(1, "acme?"), "Thanks, you too!"))
    assert "facets" not in fake.created[0]["record"]


async def test_an_over_long_reply_is_refused_before_posting(
    fake: FakeBluesky, http: SharedSession
) -> None:
    with pytest.raises(PublishError) as failure:
        await publisher(fake, http).post(outgoing(post_view(1, "acme?"), "a" * 301))
    assert not failure.value.retryable
    assert "301 graphemes; bluesky allows 300" in str(failure.value)
    assert fake.created == []


def test_the_limit_counts_what_a_reader_sees() -> None:
    assert reply_problem("bluesky", "é" * 300) is None  # 600 bytes
    assert reply_problem("bluesky", "é" * 301) == "the reply is 301 graphemes; bluesky allows 300"
    family = "👨‍👩‍👧"  # five code points, one character, 18 bytes of UTF-8
    assert reply_problem("bluesky", family * 166) is None
    # within 300 graphemes, past the lexicon's other bound: 3,000 bytes
    assert reply_problem("bluesky", family * 167) == (
        "the reply is 3,006 bytes of UTF-8; bluesky allows 3,000"
    )
    assert reply_problem("bluesky", "🇵🇹" * 300) is None  # flags are pairs
    assert reply_problem("bluesky", "e\u0301" * 300) is None  # a combining accent


@pytest.mark.parametrize(
    ("text", "characters"),
    [
        ("กำ", 1),  # Thai SARA AM joins like a mark
        ("क्षत्रिय", 3),  # Devanagari conjuncts: consonant, virama, consonant
        ("নমস্কার", 4),  # Bengali: ন ম স্কা র
        ("क्अ", 2),  # a vowel after a virama is no conjunct
        ("\u200b\u0301", 2),  # a zero-width space stands alone, and the mark after it
        ("a\u200d👍", 2),  # a joiner glues emoji to emoji only
        ("👩\u200d💻", 1),
    ],
)
def test_graphemes_as_a_reader_sees_them(text: str, characters: int) -> None:
    # too many refused Thai and Hindi replies that fit; too few let one through
    assert count_graphemes(text) == characters


async def test_a_rate_limited_post_is_retried_later(fake: FakeBluesky, http: SharedSession) -> None:
    fake.script(
        "/xrpc/com.atproto.repo.createRecord",
        Scripted(429, '{"error": "RateLimitExceeded"}', {"retry-after": "30"}),
    )
    with pytest.raises(PublishError) as failure:
        await publisher(fake, http).post(outgoing(post_view(1, "acme?"), "Sorry!"))
    assert failure.value.retryable


async def test_a_reply_the_pds_refuses_is_not_retried(
    fake: FakeBluesky, http: SharedSession
) -> None:
    fake.script(
        "/xrpc/com.atproto.repo.createRecord",
        Scripted(400, '{"error": "InvalidRequest", "message": "Record/text is too long"}'),
    )
    with pytest.raises(PublishError) as failure:
        await publisher(fake, http).post(outgoing(post_view(1, "acme?"), "Sorry!"))
    assert not failure.value.retryable and "too long" in str(failure.value)


async def test_an_expired_session_is_refreshed_before_posting(
    fake: FakeBluesky, http: SharedSession
) -> None:
    bsky = publisher(fake, http)
    await bsky.post(outgoing(post_view(1, "acme?"), "Sorry!"))
    fake.expire_access_tokens()
    await bsky.post(outgoing(post_view(2, "acme??"), "Sorry again!"))
    assert len(fake.created) == 2 and fake.sessions_created == 1


# -- the outbox, end to end ------------------------------------------------------------------


async def _queue_one_complaint(
    fake: FakeBluesky, http: SharedSession, store: Store, text: str = "acme internet down all day"
) -> int:
    fake.add(post_view(1, text))
    await poll(source(fake, http), store, stages())
    (reply,) = store.replies(status="pending", platform="bluesky")
    store.approve(reply.id, "agent")
    return reply.id


async def test_an_approved_reply_goes_out_threaded_under_the_post(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    summary = await publish_due(store, {"bluesky": publisher(fake, http)}, LIVE)
    assert summary.outcomes == {"sent": 1}
    sent = store.reply(reply_id)
    assert sent.status == "sent"
    (created,) = fake.created
    assert created["record"]["reply"]["parent"]["uri"] == fake.posts[0]["uri"]
    assert created["record"]["text"] == sent.body


async def test_a_crash_after_posting_is_reconciled_not_reposted(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    (claim,) = store.claim_for_posting(dry_run=False)
    assert claim.raw is not None
    bsky = publisher(fake, http)
    posted = await bsky.post(
        Outgoing(
            reply_id=claim.id,
            kind=claim.kind,
            body=claim.body,
            platform="bluesky",
            target_id=claim.native_id,
            target_raw=json.loads(claim.raw),
        )
    )
    # ...and the process died before mark_sent. At start-up:
    summary = await reconcile_sending(store, {"bluesky": publisher(fake, http)})
    assert summary.outcomes == {"reconciled": 1}
    reply = store.reply(reply_id)
    assert reply.status == "sent"
    assert len(fake.created) == 1  # looked for, not posted again
    assert (
        posted.native_id
        == store.conn.execute("SELECT posted_id FROM replies WHERE id = ?", (reply_id,)).fetchone()[
            0
        ]
    )


async def test_a_crash_before_posting_leaves_the_reply_for_a_person(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    store.claim_for_posting(dry_run=False)  # claimed, then the process died
    summary = await reconcile_sending(store, {"bluesky": publisher(fake, http)})
    assert summary.outcomes == {"unknown": 1}
    assert store.reply(reply_id).status == "unknown"
    assert fake.created == []


async def test_a_sign_in_answered_without_a_session_is_tried_again_then_sent(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    fake.script(CREATE_SESSION, Scripted(200, "{}"))
    bsky = {"bluesky": publisher(fake, http)}
    assert (await publish_due(store, bsky, LIVE)).outcomes == {"retry": 1}
    reply = store.reply(reply_id)
    assert (reply.status, reply.attempts) == ("approved", 1)
    assert "no did or tokens" in (reply.last_error or "")
    later = store.clock() + timedelta(seconds=LIVE.retry_after)
    store.clock = lambda: later
    assert (await publish_due(store, bsky, LIVE)).outcomes == {"sent": 1}
    assert store.reply(reply_id).status == "sent" and len(fake.created) == 1


async def test_a_renewal_answered_without_a_session_leaves_the_reply_to_try_again(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    bsky = {"bluesky": publisher(fake, http)}
    await bsky["bluesky"].client.session()
    fake.expire_access_tokens()
    # createRecord is answered ExpiredToken; the refresh and the sign-in after it
    # answer 200 with no session: the reply was never sent, so it is tried again
    fake.script(REFRESH_SESSION, Scripted(200, "{}"))
    fake.script(CREATE_SESSION, Scripted(200, "{}"))
    assert (await publish_due(store, bsky, LIVE)).outcomes == {"retry": 1}
    assert store.reply(reply_id).status == "approved" and fake.created == []
    later = store.clock() + timedelta(seconds=LIVE.retry_after)
    store.clock = lambda: later
    assert (await publish_due(store, bsky, LIVE)).outcomes == {"sent": 1}
    assert len(fake.created) == 1


def write_daemon_config(fake: FakeBluesky, tmp_path: Path) -> Path:
    """An earful.toml polling the fake every second and posting live, on the test's
    database (the `store` fixture's)."""
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Acme"\nkeywords = ["acme"]\n\n'
        f'[storage]\npath = "{tmp_path / "earful.db"}"\n\n'
        '[[sources]]\nname = "bsky"\ntype = "bluesky"\n'
        f'base_url = "{fake.url}"\nidentifier = "{HANDLE}"\napp_password = "{PASSWORD}"\n'
        'interval = "1s"\n\n'
        '[publish]\nmode = "live"\ninterval = "50ms"\nretry_after = "1s"\n',
        encoding="utf-8",
    )
    return path


async def run_daemon_until(path: Path, store: Store, done: Callable[[], bool]) -> None:
    """`earful run`'s daemon on the config at `path` until `done()`, then a stop."""
    daemon = Daemon(build_runtime(load_config(path, env={})))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        for _ in range(3000):  # a hang guard (30 s), not a timing
            if done() or task.done():
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def through_broken_sign_ins(
    fake: FakeBluesky, http: SharedSession, store: Store, tmp_path: Path, answer: Scripted
) -> int:
    """The daemon, with a reply approved, while the source's and the publisher's first
    sign-ins get `answer`: it runs until the source polls fine again and the reply
    is sent. Returns the reply's id."""
    reply_id = await _queue_one_complaint(fake, http, store)
    fake.script(CREATE_SESSION, answer, answer)

    def recovered() -> bool:
        states = [h.state for h in health.read(store)]
        return states == ["ok"] and store.reply(reply_id).status == "sent"

    await run_daemon_until(write_daemon_config(fake, tmp_path), store, recovered)
    assert recovered()
    assert len(fake.created) == 1
    return reply_id


async def test_the_daemon_retries_sign_ins_answered_without_a_session(
    fake: FakeBluesky,
    http: SharedSession,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply_id = await through_broken_sign_ins(fake, http, store, tmp_path, Scripted(200, "{}"))
    (bsky,) = health.read(store)
    # it failed, was not disabled, and polled again by itself
    assert bsky.last_failed_at is not None and "no did or tokens" in (bsky.error or "")
    assert not [r for r in caplog.records if "disabled" in r.getMessage()]
    actions = store.conn.execute(
        "SELECT action FROM audit WHERE subject = ? ORDER BY id", (f"reply:{reply_id}",)
    )
    assert [a for (a,) in actions][-2:] == ["retry-later", "sent"]


# Session tokens as long as real ones: a JWT's header, its claims, its signature.
TOKENS = (
    "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ." + "QWNjZXNzT25seQ" * 20 + ".c2lnbmVk",
    "eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkVTMjU2SyJ9." + "UmVmcmVzaE9ubHk" * 20 + ".c2ln",
)
SIGNED_IN = json.dumps({"accessJwt": TOKENS[0], "refreshJwt": TOKENS[1], "did": DID})


async def test_a_sign_in_answer_cut_short_leaves_its_tokens_nowhere(
    fake: FakeBluesky,
    http: SharedSession,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    run_cli: Callable[..., Result],
) -> None:
    cut = Scripted(200, SIGNED_IN[: SIGNED_IN.index(TOKENS[1]) + 80])  # in the refreshJwt
    fake.script(CREATE_SESSION, cut)
    with pytest.raises(SourceDown) as failure:
        await source(fake, http).client.session()
    reply_id = await through_broken_sign_ins(fake, http, store, tmp_path, cut)
    sources = run_cli("sources", "--json", "-c", str(tmp_path / "earful.toml")).output
    (audit,) = store.conn.execute(
        "SELECT group_concat(detail, ' ') FROM audit WHERE subject = ?", (f"reply:{reply_id}",)
    ).fetchone()
    (shown,) = json.loads(sources)
    seen = {
        "the error": str(failure.value),
        "the log": caplog.text,
        "earful sources": sources,
        "the audit log": audit,
    }
    for where, text in seen.items():
        assert "createSession: expected a JSON object" in text, where
        for token in TOKENS:
            assert token[:12] not in text, where  # not even the start of one
    assert "expected a JSON object" in shown["error"]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Scripted(502, "bad gateway", {}, "text/plain"), "HTTP 502 (bad gateway)"),
        (Scripted(200, '{"cid": "bafyrei"}'), "createRecord answered without the new post's uri"),
    ],
    ids=["502", "no uri"],
)
async def test_a_post_that_may_be_up_is_unknown_never_retried_and_one_warning(
    fake: FakeBluesky,
    http: SharedSession,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    answer: Scripted,
    said: str,
) -> None:
    reply_id = await _queue_one_complaint(fake, http, store)
    fake.script("/xrpc/com.atproto.repo.createRecord", answer)
    caplog.set_level(logging.INFO)
    summary = await publish_due(store, {"bluesky": publisher(fake, http)}, LIVE)
    assert summary.outcomes == {"unknown": 1}
    reply = store.reply(reply_id)
    assert reply.status == "unknown" and said in (reply.last_error or "")
    assert (reply.last_error or "") in the_one_warning(caplog, reply_id, "bluesky")
    await publish_due(store, {"bluesky": publisher(fake, http)}, LIVE)
    assert fake.created == []  # the scripted answer was the only attempt


async def test_a_cursor_this_version_did_not_write_starts_afresh(
    fake: FakeBluesky, http: SharedSession, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add(*complaints(1, 3))
    junk = {"queries": {"acme": {"at": "yesterday", "seen": 7}}}
    result = await source(fake, http).fetch(junk)
    assert len(result.mentions) == 3
    assert result.cursor == {
        "queries": {
            "acme": {
                "at": written(fake.posts[-1]),
                "seen": sorted(p["uri"] for p in fake.posts),
                "from": written(fake.posts[0]),  # the first poll's oldest: no history
            }
        }
    }
    assert "did not write" in caplog.text


async def test_an_expired_sweep_cursor_pages_again_from_the_top(
    fake: FakeBluesky, http: SharedSession, store: Store
) -> None:
    bsky = source(fake, http, page_size=10, max_pages=1)
    fake.add(*complaints(1, 2))
    await poll(bsky, store, stages())
    fake.add(*complaints(3, 25))
    assert (await poll(bsky, store, stages())).more
    fake.script(SEARCH, Scripted(400, '{"error": "InvalidRequest", "message": "bad cursor"}'))
    while (await poll(bsky, store, stages())).more:
        pass
    assert stored_ids(store) == sorted(p["uri"] for p in fake.posts)
    assert [r.param("cursor") for r in fake.seen(SEARCH)[2:4]] == ["10", None]
