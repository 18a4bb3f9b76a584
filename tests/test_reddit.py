"""The Reddit source and publisher: the real praw talks to a fake Reddit on 127.0.0.1
(tests/fakes/reddit_api.py), and what it finds goes through the real pipeline into a
real SQLite store."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fakes.reddit_api import FakeReddit, comment, recorded, submission
from publishkit import the_one_warning

from earful.app import Runtime, build_runtime
from earful.cli import cli
from earful.config import Config, ConfigError, parse_config
from earful.daemon import SourceRunner
from earful.outbox import publish_due, reconcile_sending
from earful.pipeline import BatchSummary, poll
from listener.base import AuthFailed, RateLimited, SourceDown
from listener.reddit import Settings, mention_from_thing, search_query
from listener.reddit_client import RateBudget, user_agent
from responders.publish import reddit as reddit_publisher

T = 1_795_000_000.0  # a moment in November 2026, in Reddit's created_utc
BRAND = {
    "name": "Lumenet",
    "keywords": ["lumenet", "lumenet broadband"],
    "handles": {"reddit": "lumenet_help"},
}
COMPLAINT = "Lumenet broadband has been down since this morning, no internet at all"


@pytest.fixture
async def fake() -> AsyncIterator[FakeReddit]:
    server = FakeReddit()
    await server.start()
    yield server
    await server.close()


def table(fake: FakeReddit, name: str = "reddit", **keys: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "reddit",
        "client_id": "script-id",
        "client_secret": "script-secret",
        "base_url": fake.base_url,
        **keys,
    }


def account() -> dict[str, str]:
    return {"username": "lumenet_help", "password": "hunter2"}


def config(tmp_path: Path, *sources: dict[str, Any], mode: str = "live") -> Config:
    raw = {
        "brand": BRAND,
        "storage": {"path": str(tmp_path / "earful.db")},
        "sources": list(sources),
        "publish": {"mode": mode, "retry_after": "1s"},
    }
    return parse_config(raw, tmp_path / "earful.toml", {})


@pytest.fixture
async def runtime_for(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[Runtime] = []

    def build(*sources: dict[str, Any]) -> Runtime:
        runtime = build_runtime(config(tmp_path, *sources))
        made.append(runtime)
        return runtime

    yield build
    for runtime in made:
        await runtime.aclose()


async def poll_source(runtime: Runtime, index: int = 0) -> BatchSummary:
    return await poll(runtime.sources[index], runtime.store, runtime.stages)


def stored(runtime: Runtime) -> list[dict[str, Any]]:
    rows = runtime.store.conn.execute(
        "SELECT native_id, source, text, author_handle, url, conversation_id FROM mentions "
        "ORDER BY id"
    ).fetchall()
    return [dict(r) for r in rows]


def posts(n: int, start: float, *, sub: str = "LumenetUK", step: float = 1.0) -> list[Any]:
    return [
        submission(f"Lumenet outage #{i}", f"post {i}", subreddit=sub, created_utc=start + i * step)
        for i in range(n)
    ]


# -- polling -------------------------------------------------------------------------------


async def test_first_poll_backfills_only_the_newest_posts(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions += posts(150, T)
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"], backfill=120))
    summary = await poll_source(runtime)
    assert summary.new == 120
    ids = {r["native_id"] for r in stored(runtime)}
    newest = {t["data"]["name"] for t in fake.submissions[30:]}
    assert ids == newest
    pages = fake.calls("GET", "/r/LumenetUK/new")
    assert [p["limit"] for p in pages] == ["100", "20"]


async def test_incremental_polls_lose_and_duplicate_nothing_across_pages(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions += posts(30, T)
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    assert (await poll_source(runtime)).new == 30
    edge = T + 29
    # 250 arrive before the next poll: three pages, two of them at the old edge's second,
    # and posts that do not name the brand in between
    fake.submissions.append(submission("Lumenet again", created_utc=edge))
    fake.submissions.append(submission("unrelated chatter", created_utc=edge + 1))
    fake.submissions += posts(248, edge + 1, step=0.5)
    summary = await poll_source(runtime)
    assert summary.new == 249
    assert len(fake.calls("GET", "/r/LumenetUK/new")) == 1 + 3
    fake.submissions += posts(5, T + 1000)
    assert (await poll_source(runtime)).new == 5
    assert (await poll_source(runtime)).fetched == 0
    ids = [r["native_id"] for r in stored(runtime)]
    assert len(ids) == len(set(ids)) == 30 + 249 + 5
    cursor = runtime.store.cursor("reddit")
    assert cursor is not None
    assert cursor["feeds"]["new:LumenetUK"]["created_utc"] == T + 1004


async def test_posts_of_the_edge_second_are_not_fetched_twice(
    fake: FakeReddit, runtime_for: Any
) -> None:
    # Reddit's own recordings show six posts made in the same second
    fake.submissions += [submission("Lumenet down", created_utc=T) for _ in range(6)]
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    assert (await poll_source(runtime)).new == 6
    assert (await poll_source(runtime)).fetched == 0
    fake.submissions.append(submission("Lumenet still down", created_utc=T))
    summary = await poll_source(runtime)
    assert (summary.fetched, summary.new) == (1, 1)


async def test_the_same_post_found_by_two_modes_is_stored_once(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions.append(submission(COMPLAINT, created_utc=T, short_id="1pq45bv"))
    runtime = runtime_for(
        table(fake, name="search", mode="search"),
        table(fake, name="new-posts", mode="submissions", subreddits=["LumenetUK"]),
    )
    first = await poll_source(runtime, 0)
    second = await poll_source(runtime, 1)
    assert (first.new, second.fetched, second.new) == (1, 1, 0)
    assert [(r["native_id"], r["source"]) for r in stored(runtime)] == [("t3_1pq45bv", "search")]
    search = fake.calls("GET", "/r/all/search")[0]
    assert search["q"] == 'lumenet OR "lumenet broadband"'
    assert (search["sort"], search["restrict_sr"]) == ("new", "false")


async def test_comments_mode_keeps_comments_that_name_the_brand(
    fake: FakeReddit, runtime_for: Any
) -> None:
    thread = "t3_abc123"
    fake.comments += [
        comment("is LUMENET down for anyone?", link_id=thread, created_utc=T),
        comment("my lumenetwork cable is fine", link_id=thread, created_utc=T + 1),
        comment("switched away from lumenet broadband", link_id=thread, created_utc=T + 2),
    ]
    runtime = runtime_for(table(fake, mode="comments", subreddits=["LumenetUK"]))
    await poll_source(runtime)
    rows = stored(runtime)
    assert [r["text"] for r in rows] == [
        "switched away from lumenet broadband",
        "is LUMENET down for anyone?",
    ]
    assert {r["conversation_id"] for r in rows} == {thread}


async def test_character_references_in_the_markdown_are_stored_as_the_reader_sees_them(
    fake: FakeReddit, runtime_for: Any
) -> None:
    # Reddit sends these even with raw_json=1: its rich-text editor stores &, < and >
    # escaped and an empty paragraph as &#x200B;, and people type &nbsp; for spacing
    fake.submissions.append(
        submission(
            "Lumenet & AT&T <3",  # a title is plain text: as typed
            "Lumenet &amp; AT&amp;T billed me &lt;twice&gt;\n\n&#x200B;\n\n"
            "see https://lumenet.example/?a=1&copy=2&nbsp;&bogus; &#8364;5",
            created_utc=T,
        )
    )
    fake.comments.append(comment("Lumenet&nbsp;support: 5&gt;4", link_id="t3_x1", created_utc=T))
    runtime = runtime_for(
        table(fake, name="s", mode="submissions", subreddits=["LumenetUK"]),
        table(fake, name="c", mode="comments", subreddits=["LumenetUK"]),
    )
    assert (await poll_source(runtime, 0)).new == 1
    assert (await poll_source(runtime, 1)).new == 1
    assert [r["text"] for r in stored(runtime)] == [
        "Lumenet & AT&T <3\n\nLumenet & AT&T billed me <twice>\n\n\u200b\n\n"
        "see https://lumenet.example/?a=1&copy=2\xa0&bogus; €5",
        "Lumenet\xa0support: 5>4",
    ]


async def test_a_crosspost_keeps_the_original_post_as_context(
    fake: FakeReddit, runtime_for: Any
) -> None:
    original = submission(
        "Hub 3 reboots every night",
        "Lumenet support says it is my wiring &amp; won't send an engineer.",
        subreddit="HomeNetworking",
        created_utc=T - 600,
    )
    crosspost = submission("Lumenet: anyone else?", created_utc=T)
    crosspost["data"].update(
        crosspost_parent=original["data"]["name"],
        crosspost_parent_list=[original["data"]],
        num_crossposts=0,
    )
    fake.submissions.append(crosspost)
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    assert (await poll_source(runtime)).new == 1
    row = runtime.store.conn.execute("SELECT text, context FROM mentions").fetchone()
    assert tuple(row) == (
        "Lumenet: anyone else?",
        "Hub 3 reboots every night\n\nLumenet support says it is my wiring & won't send an "
        "engineer.",
    )


async def test_deleted_author_is_stored_without_a_handle(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions.append(submission(COMPLAINT, author=None, created_utc=T))
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    await poll_source(runtime)
    (row,) = stored(runtime)
    assert row["author_handle"] is None
    assert row["url"].startswith("https://www.reddit.com/r/LumenetUK/comments/")


async def test_removed_text_is_never_judged_as_the_authors_words(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.comments.append(comment("[removed]", link_id="t3_x1", created_utc=T))
    fake.submissions.append(submission("Lumenet refund?", "[removed]", created_utc=T))
    runtime = runtime_for(
        table(fake, name="c", mode="comments", subreddits=["LumenetUK"]),
        table(fake, name="s", mode="submissions", subreddits=["LumenetUK"]),
    )
    assert (await poll_source(runtime, 0)).new == 0
    assert (await poll_source(runtime, 1)).new == 1
    assert [r["text"] for r in stored(runtime)] == ["Lumenet refund?"]


async def test_removed_comment_is_skipped_but_the_cursor_moves_past_it(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.inbox.append(comment("[removed]", link_id="t3_x1", created_utc=T))
    runtime = runtime_for(table(fake, mode="mentions", **account()))
    summary = await poll_source(runtime)
    assert summary.new == 0
    cursor = runtime.store.cursor("reddit")
    assert cursor == {
        "feeds": {"mentions": {"created_utc": T, "ids": [fake.inbox[0]["data"]["name"]]}}
    }


async def test_mentions_mode_reads_the_recorded_inbox(fake: FakeReddit, runtime_for: Any) -> None:
    fake.inbox += recorded("TestInbox.test_mentions.json")[-1]["body"]["data"]["children"]
    runtime = runtime_for(table(fake, mode="mentions", **account()))
    summary = await poll_source(runtime)
    assert summary.fetched == 16
    assert stored(runtime)[0]["native_id"] == "t1_ekftbox"


async def test_private_and_banned_subreddits_are_skipped_while_others_go_on(
    fake: FakeReddit, runtime_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.closed = {
        "LumenetStaff": (403, "private"),
        "LumenetLeaks": (404, "banned"),
        "LumenetGone": (302, ""),
    }
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    subs = ["LumenetStaff", "LumenetUK", "LumenetLeaks", "LumenetGone"]
    runtime = runtime_for(table(fake, mode="submissions", subreddits=subs))
    with caplog.at_level(logging.WARNING, logger="earful.reddit"):
        assert (await poll_source(runtime)).new == 1
        await poll_source(runtime)
    skips = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skips) == 3  # once per subreddit, not once per poll
    assert "r/LumenetStaff (new posts) skipped: private (HTTP 403)" in skips[0]
    assert "r/LumenetLeaks (new posts) skipped: banned (HTTP 404)" in skips[1]
    assert "r/LumenetGone (new posts) skipped: does not exist" in skips[2]
    cursor = runtime.store.cursor("reddit")
    assert cursor is not None and list(cursor["feeds"]) == ["new:LumenetUK"]


async def test_a_subreddit_that_opens_again_is_read_from_where_it_was(
    fake: FakeReddit, runtime_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.closed = {"LumenetStaff": (403, "private")}
    fake.submissions.append(submission(COMPLAINT, subreddit="LumenetStaff", created_utc=T))
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetStaff", "Lumenet"]))
    assert (await poll_source(runtime)).new == 0
    fake.closed = {}
    with caplog.at_level(logging.INFO, logger="earful.reddit"):
        assert (await poll_source(runtime)).new == 1
    assert "r/LumenetStaff (new posts) readable again" in caplog.text


async def test_a_source_whose_every_subreddit_is_closed_is_down(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.closed = {"LumenetStaff": (403, "private")}
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetStaff"]))
    with pytest.raises(SourceDown, match="private"):
        await poll_source(runtime)


async def test_rate_limited_then_recovers(fake: FakeReddit, runtime_for: Any) -> None:
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "600", "x-ratelimit-reset": "1"}
    fake.fail("/r/LumenetUK/new", 429, {"message": "Too Many Requests"}, headers=exhausted)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        await poll_source(runtime)
    reset_at = caught.value.reset_at
    assert reset_at is not None and reset_at > before
    assert runtime.store.cursor("reddit") is None
    # the daemon waits until reset_at; so does this test
    await asyncio.sleep(max((reset_at - datetime.now(UTC)).total_seconds(), 0) + 0.05)
    assert (await poll_source(runtime)).new == 1


@pytest.mark.parametrize("reset", ["1e20", "inf", "nan", "999999999"])
async def test_a_junk_rate_limit_reset_is_held_to_an_hour(
    fake: FakeReddit, runtime_for: Any, reset: str
) -> None:
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK"]))
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "600", "x-ratelimit-reset": reset}
    fake.fail("/r/LumenetUK/new", 429, {"message": "Too Many Requests"}, headers=headers)
    with pytest.raises(RateLimited) as caught:
        await poll_source(runtime)
    reset_at = caught.value.reset_at
    assert reset_at is None or reset_at <= datetime.now(UTC) + timedelta(hours=1)
    budget = RateBudget("reddit")  # what every answer's headers go through
    budget.update(headers)
    assert budget.reset_at is None or budget.reset_at <= datetime.now(UTC) + timedelta(hours=1)


async def test_a_used_up_window_keeps_what_was_read_and_waits_for_the_reset(
    fake: FakeReddit, runtime_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    runtime = runtime_for(table(fake, mode="submissions", subreddits=["LumenetUK", "Lumenet"]))
    fake.remaining = 1  # the first listing spends the last request of Reddit's window
    with caplog.at_level(logging.WARNING, logger="earful.reddit"):
        summary = await poll_source(runtime)
    assert summary.new == 1
    # the journal's times as other messages write them ("... UTC", not "+00:00")
    (waits,) = [r.getMessage() for r in caplog.records if "the rest wait until" in r.getMessage()]
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", waits), waits
    assert "+00:00" not in caplog.text
    assert summary.next_poll_in is not None and summary.next_poll_in > 200  # reset in 300 s
    cursor = runtime.store.cursor("reddit")
    assert cursor is not None and list(cursor["feeds"]) == ["new:LumenetUK"]
    with pytest.raises(RateLimited) as caught:
        await poll_source(runtime)  # still used up: no request at all
    assert caught.value.reset_at is not None
    assert len(fake.calls("GET", "/r/")) == 1


async def test_bad_password_disables_the_source_with_a_clear_message(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, mode="mentions", username="lumenet_help", password="wrong"))
    with pytest.raises(AuthFailed, match="username or password was refused") as caught:
        await poll_source(runtime)
    assert "wrong" not in str(caught.value)


async def test_an_inbox_the_account_may_not_read_disables_the_source(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.fail("/message/mentions", 403, {"message": "Forbidden", "error": 403})
    runtime = runtime_for(table(fake, mode="mentions", **account()))
    with pytest.raises(AuthFailed, match="cannot read the inbox"):
        await poll_source(runtime)


async def test_bad_client_secret_disables_the_source(fake: FakeReddit, runtime_for: Any) -> None:
    runtime = runtime_for(table(fake, client_secret="not-it"))
    with pytest.raises(AuthFailed, match="client_id or client_secret was refused") as caught:
        await poll_source(runtime)
    assert "not-it" not in str(caught.value)


@pytest.mark.parametrize(
    ("path", "keys"),
    [("/message/mentions", {"mode": "mentions", **account()}), ("/api/v1/access_token", {})],
    ids=["inbox", "token"],
)
async def test_reddits_block_page_is_source_down_not_bad_credentials(
    fake: FakeReddit, runtime_for: Any, path: str, keys: dict[str, Any]
) -> None:
    # Reddit's "blocked by network security" is an HTML 403 for the address, not
    # a refusal of the app or the account: it disabled the source
    fake.fail(path, 403, "<html><body>You've been blocked by network security.</body></html>")
    runtime = runtime_for(table(fake, **keys))
    with pytest.raises(SourceDown, match="HTTP 403, a web page") as caught:
        await poll_source(runtime)
    assert not isinstance(caught.value, AuthFailed)
    await poll_source(runtime)  # asked again, and answered


@pytest.mark.parametrize("status", [500, 503])
async def test_an_outage_at_the_token_endpoint_is_source_down_not_bad_credentials(
    fake: FakeReddit, runtime_for: Any, status: int
) -> None:
    # an outage of Reddit's own sign-in disabled the source until a restart
    fake.fail("/api/v1/access_token", status, {"message": "Internal Server Error"})
    runtime = runtime_for(table(fake))
    with pytest.raises(SourceDown, match=str(status)) as caught:
        await poll_source(runtime)
    assert not isinstance(caught.value, AuthFailed)
    await poll_source(runtime)  # asked again, and answered


async def test_installed_app_reads_without_a_secret(fake: FakeReddit, runtime_for: Any) -> None:
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    source = table(fake, client_id="app-id")
    del source["client_secret"]
    runtime = runtime_for(source)
    assert (await poll_source(runtime)).new == 1


async def test_server_errors_mean_the_source_is_down(fake: FakeReddit, runtime_for: Any) -> None:
    fake.fail("/r/all/search", 503, times=3)  # prawcore retries twice itself
    runtime = runtime_for(table(fake))
    with pytest.raises(SourceDown, match="503"):
        await poll_source(runtime)


@pytest.mark.parametrize(
    "body", ["<html>we took reddit offline</html>", {"kind": "Listing", "data": "nope"}, [1, 2]]
)
async def test_a_malformed_listing_means_the_source_is_down(
    fake: FakeReddit, runtime_for: Any, body: Any
) -> None:
    fake.fail("/r/all/search", 200, body)
    runtime = runtime_for(table(fake))
    with pytest.raises(SourceDown):
        await poll_source(runtime)
    assert runtime.store.cursor("reddit") is None


async def test_an_answer_too_large_to_be_a_listing_is_refused(
    fake: FakeReddit, runtime_for: Any
) -> None:
    # a broken proxy's endless answer was read whole into memory, however big
    fake.fail("/r/all/search", 200, {"kind": "Listing", "junk": "x" * (11 * 2**20)})
    runtime = runtime_for(table(fake))
    with pytest.raises(SourceDown, match=r"^Reddit's answer is larger than 10 MB$"):
        await poll_source(runtime)
    assert runtime.store.cursor("reddit") is None


async def test_a_malformed_post_is_skipped_and_the_rest_kept(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    broken = submission("Lumenet", created_utc=T + 1)
    broken["kind"] = "t5"
    fake.submissions.append(broken)
    runtime = runtime_for(table(fake))
    summary = await poll_source(runtime)
    assert summary.new == 1


async def test_a_cursor_it_did_not_write_starts_a_bounded_backfill(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions += posts(3, T)
    runtime = runtime_for(table(fake, backfill=2))
    runtime.store.ingest("reddit", [], {"since_id": "123"})
    assert (await poll_source(runtime)).new == 2


# -- publishing ---------------------------------------------------------------------------


async def queued_reply(fake: FakeReddit, runtime: Runtime, **post: Any) -> int:
    fake.submissions.append(submission(COMPLAINT, created_utc=T, **post))
    await poll_source(runtime)
    (reply,) = runtime.store.replies("pending", platform="reddit")
    runtime.store.approve(reply.id, "agent")
    return reply.id


async def test_an_approved_reply_is_posted_under_the_original(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime, short_id="1pq45bv")
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"sent": 1}
    reply = runtime.store.reply(reply_id)
    (made,) = [c for c in fake.comments if c["data"]["parent_id"] == "t3_1pq45bv"]
    assert made["data"]["author"] == "lumenet_help"
    assert made["data"]["body"] == reply.body
    assert reply.status == "sent"
    assert reply.posted_id == made["data"]["name"]
    assert reply.posted_url == "https://www.reddit.com" + made["data"]["permalink"]


async def test_a_reply_to_a_comment_threads_under_that_comment(
    fake: FakeReddit, runtime_for: Any
) -> None:
    fake.submissions.append(submission("Broadband thread", created_utc=T, short_id="thr01"))
    fake.comments.append(comment(COMPLAINT, link_id="t3_thr01", created_utc=T + 1, short_id="c01"))
    runtime = runtime_for(table(fake, mode="comments", subreddits=["LumenetUK"], **account()))
    await poll_source(runtime)
    (reply,) = runtime.store.replies("pending", platform="reddit")
    runtime.store.approve(reply.id, "agent")
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"sent": 1}
    made = fake.thing(runtime.store.reply(reply.id).posted_id or "")
    assert made is not None
    assert (made["data"]["parent_id"], made["data"]["link_id"]) == ("t1_c01", "t3_thr01")


@pytest.mark.parametrize(
    ("flag", "reason"), [("locked", "the thread is locked"), ("archived", "archived")]
)
async def test_a_reply_to_a_closed_thread_fails_with_the_reason(
    fake: FakeReddit, runtime_for: Any, flag: str, reason: str
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime, **{flag: True})
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"failed": 1}
    reply = runtime.store.reply(reply_id)
    assert reply.status == "failed"
    assert reason in (reply.last_error or "")
    assert len(fake.calls("POST", "/api/comment")) == 1


async def test_after_a_crash_between_posting_and_recording_the_reply_is_found(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    (claim,) = runtime.store.claim_for_posting(dry_run=False)
    publisher = runtime.publishers["reddit"]
    from earful.outbox import outgoing

    posted = await publisher.post(outgoing(claim))  # ...and the process dies here
    summary = await reconcile_sending(runtime.store, runtime.publishers)
    assert summary.outcomes == {"reconciled": 1}
    reply = runtime.store.reply(reply_id)
    assert (reply.status, reply.posted_id) == ("sent", posted.native_id)
    assert len(fake.calls("POST", "/api/comment")) == 1


async def test_after_a_crash_before_posting_the_reply_goes_to_a_person(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    runtime.store.claim_for_posting(dry_run=False)  # the process dies before posting
    summary = await reconcile_sending(runtime.store, runtime.publishers)
    assert summary.outcomes == {"unknown": 1}
    assert runtime.store.reply(reply_id).status == "unknown"
    assert fake.calls("POST", "/api/comment") == []


async def test_a_reply_reddit_took_but_answered_with_an_error_is_not_posted_twice(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    fake.fail("/api/comment", 502, "<html>bad gateway</html>", apply_first=True)
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"sent": 1}
    assert runtime.store.reply(reply_id).posted_id is not None
    assert len(fake.calls("POST", "/api/comment")) == 1  # prawcore did not resend it


async def test_a_reply_with_no_answer_and_no_trace_is_left_for_a_person(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    fake.fail("/api/comment", 503, "<html>unavailable</html>")
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"unknown": 1}
    assert runtime.store.reply(reply_id).status == "unknown"
    assert len(fake.calls("POST", "/api/comment")) == 1


NOT_FOUND_YET = "; it is not among u/lumenet_help's recent comments (yet)"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ({"status": 502, "body": "<html>bad gateway</html>"}, "Reddit answered HTTP 502"),
        (
            {"status": 200, "drop": True},
            "the connection to Reddit broke before Reddit answered (ConnectionError)",
        ),
    ],
    ids=["502", "dropped"],
)
async def test_a_reply_reddit_may_have_taken_is_one_warning_saying_what_to_do(
    fake: FakeReddit,
    runtime_for: Any,
    caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any],
    said: str,
) -> None:
    # Expected, not a bug: no ERROR, no traceback, and a last_error a person can read
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    fake.fail("/api/comment", **fault)
    caplog.set_level(logging.INFO)
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"unknown": 1}
    reply = runtime.store.reply(reply_id)
    assert reply.status == "unknown"
    assert reply.last_error is not None and reply.last_error.startswith(said)
    assert reply.last_error.endswith(NOT_FOUND_YET)
    assert "HTTPConnectionPool" not in reply.last_error
    assert len(fake.calls("POST", "/api/comment")) == 1
    assert reply.last_error in the_one_warning(caplog, reply_id, "reddit")


async def test_a_rate_limited_reply_waits_as_long_as_reddit_says(
    fake: FakeReddit, runtime_for: Any
) -> None:
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    ratelimit = ["RATELIMIT", "you are doing that too much. try again in 9 minutes.", "ratelimit"]
    fake.fail("/api/comment", 200, {"json": {"errors": [ratelimit]}})
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"retry": 1}
    reply = runtime.store.reply(reply_id)
    assert reply.status == "approved" and reply.attempts == 0  # the attempt is not counted
    assert reply.next_attempt_at is not None
    wait = datetime.fromisoformat(reply.next_attempt_at) - datetime.now(UTC)
    assert timedelta(minutes=8) < wait <= timedelta(minutes=9)


async def test_a_reply_reddit_took_without_echoing_it_is_never_posted_again(
    fake: FakeReddit, runtime_for: Any
) -> None:
    # Reddit made the comment but answered with no `things` (a quarantined
    # subreddit); the look for its id then failed. It is up: not to be posted again.
    runtime = runtime_for(table(fake, **account()))
    reply_id = await queued_reply(fake, runtime)
    fake.fail(
        "/api/comment", 200, {"json": {"errors": [], "data": {"things": []}}}, apply_first=True
    )
    fake.fail("/user/lumenet_help/comments", 503, "<html>busy</html>", times=4)
    summary = await publish_due(runtime.store, runtime.publishers, runtime.config.publish)
    assert summary.outcomes == {"sent": 1}
    reply = runtime.store.reply(reply_id)
    assert reply.status == "sent" and reply.posted_id is None
    assert (await publish_due(runtime.store, runtime.publishers, runtime.config.publish)).total == 0
    assert len(fake.calls("POST", "/api/comment")) == 1


def test_a_read_only_source_has_no_publisher(tmp_path: Path) -> None:
    settings = config(tmp_path, {"name": "r", "type": "reddit", "client_id": "x"}).sources[0]
    assert isinstance(settings, Settings)
    from listener.base import SourceContext
    from listener.mention import Brand

    assert reddit_publisher.build(settings, SourceContext(brand=Brand("Lumenet"))) is None


async def test_reddit_length_limit_is_checked_at_approval(
    fake: FakeReddit, runtime_for: Any, tmp_path: Path
) -> None:
    runtime = runtime_for(table(fake, **account()))
    fake.submissions.append(submission(COMPLAINT, created_utc=T))
    await poll_source(runtime)
    (reply,) = runtime.store.replies("pending", platform="reddit")
    path = tmp_path / "earful.toml"
    path.write_text(f'[brand]\nname = "Lumenet"\n[storage]\npath = "{runtime.config.db_path}"\n')
    too_long = CliRunner().invoke(
        cli, ["queue", "approve", "-c", str(path), "--edit", "x" * 10_001, str(reply.id)]
    )
    assert too_long.exit_code == 1
    assert "the reply is 10001 characters; reddit allows 10000" in too_long.output
    assert runtime.store.reply(reply.id).status == "pending"
    at_limit = CliRunner().invoke(
        cli, ["queue", "approve", "-c", str(path), "--edit", "x" * 10_000, str(reply.id)]
    )
    assert at_limit.exit_code == 0, at_limit.output
    assert runtime.store.reply(reply.id).status == "approved"


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"mode": "mentions"}, 'mode = "mentions" reads the account\'s inbox'),
        ({"username": "a"}, "username and password go together"),
        (
            {"username": "a", "password": "b", "client_secret": ""},
            "need a script app's client_secret",
        ),
        (
            {"subreddits": ["r/Lumenet UK"]},
            "sources[0].subreddits[0]: 'r/Lumenet UK' is not a subreddit",
        ),
        ({"subreddits": []}, "expected at least one subreddit"),
        ({"mode": "comments", "query": "x"}, 'query is only used by mode = "search"'),
        ({"keywords": ["x"]}, 'keywords is only used by mode = "comments"'),
        ({"mode": "hot"}, "sources[0].mode: expected 'search', 'comments'"),
        ({"client_id": ""}, "sources[0].client_id"),
        ({"backfill": 5000}, "sources[0].backfill"),
    ],
)
def test_settings_mistakes_are_clear(tmp_path: Path, keys: dict[str, Any], problem: str) -> None:
    source = {"name": "r", "type": "reddit", "client_id": "id", "client_secret": "s", **keys}
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, source)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_password_never_appears_in_a_settings_error(tmp_path: Path) -> None:
    source = {"name": "r", "type": "reddit", "client_id": "id", "password": ["hunter2"]}
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, source)
    assert "hunter2" not in str(caught.value)


def test_subreddit_names_may_carry_their_r_prefix(tmp_path: Path) -> None:
    source = {"name": "r", "type": "reddit", "client_id": "id", "subreddits": ["r/LumenetUK"]}
    settings = config(tmp_path, source).sources[0]
    assert isinstance(settings, Settings) and settings.subreddits == ("LumenetUK",)


def test_user_agent_names_the_brand_account() -> None:
    assert user_agent("lumenet_help").endswith(" (by u/lumenet_help)")
    assert user_agent("lumenet_help").startswith("earful/")


def test_default_search_query_quotes_phrases() -> None:
    assert (
        search_query(("acme", "acme internet", ' "x" '), "Acme") == 'acme OR "acme internet" OR x'
    )
    assert search_query((), "Acme") == "Acme"


async def test_the_daemon_disables_a_source_whose_credentials_are_refused(
    fake: FakeReddit, runtime_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = runtime_for(table(fake, mode="mentions", username="lumenet_help", password="wrong"))
    rescheduled: list[tuple[str, datetime | None]] = []
    runner = SourceRunner(
        source=runtime.sources[0],
        settings=runtime.settings[0],
        store=runtime.store,
        stages=runtime.stages,
        reschedule=lambda name, when: rescheduled.append((name, when)),
    )
    with caplog.at_level(logging.ERROR, logger="earful.daemon"):
        await runner.tick(lambda phase: None)
    assert runner.disabled and rescheduled == [("reddit", None)]
    assert "username or password was refused" in caplog.text
    assert "wrong" not in caplog.text


# -- the normalizer's removal placeholders -----------------------------------------------


@pytest.mark.parametrize("placeholder", ["[removed]", "[deleted]"])
def test_a_removed_comment_has_no_text(placeholder: str) -> None:
    thing = comment(placeholder, link_id="t3_x1", created_utc=T)
    assert mention_from_thing(thing).text == ""


def test_a_removed_submission_keeps_its_title() -> None:
    thing = submission("Lumenet refund?", "[removed]", created_utc=T)
    assert mention_from_thing(thing).text == "Lumenet refund?"


def test_words_that_only_look_like_a_placeholder_are_kept() -> None:
    thing = comment("[removed] by the mods, again. Lumenet, why?", link_id="t3_x1", created_utc=T)
    assert mention_from_thing(thing).text.startswith("[removed] by the mods")
