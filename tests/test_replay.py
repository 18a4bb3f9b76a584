"""The replay source: a JSON Lines file of platform-shaped posts, served a batch per
tick, resumable from a byte offset, never stopped by a bad line."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from listener import replay as replay_module
from listener.base import Source, SourceContext, SourceDown
from listener.mention import Brand, Mention
from listener.replay import ReplaySource, Settings, build, mention_from_record

DEMO = Path(__file__).resolve().parent.parent / "earful" / "demo" / "mentions.jsonl"
CTX = SourceContext(brand=Brand("Lumenet"))


# -- lines in each platform's shape ------------------------------------------------------


def x_line(n: int, text: str = "lumenet is down") -> dict[str, Any]:
    tweet_id = str(2123000000000000000 + n)
    tweet = {
        "id": tweet_id,
        "text": f"{text} #{n}",
        "author_id": "42",
        "created_at": f"2026-11-18T10:{n % 60:02d}:00.000Z",
        "conversation_id": tweet_id,
    }
    users = [{"id": "42", "username": "ana"}]
    return {"platform": "x", "post": {"data": tweet, "includes": {"users": users}}}


LINES: dict[str, dict[str, Any]] = {
    "x": x_line(1),
    "reddit": {
        "platform": "reddit",
        "post": {
            "kind": "t1",
            "data": {"id": "nb7", "name": "t1_nb7", "body": "lumenet?", "link_id": "t3_1"},
        },
    },
    "mastodon": {
        "platform": "mastodon",
        "post": {
            "id": "1176",
            "content": "<p>lumenet down</p>",
            "account": {"acct": "a@b.example"},
        },
    },
    "bluesky": {
        "platform": "bluesky",
        "post": {
            "uri": "at://did:plc:abc/app.bsky.feed.post/3n2",
            "author": {"did": "did:plc:abc", "handle": "a.bsky.social"},
            "record": {"text": "lumenet down", "createdAt": "2026-11-18T10:00:00.000Z"},
        },
    },
    "hackernews": {
        "platform": "hackernews",
        "post": {"objectID": "48195494", "_tags": ["story"], "title": "Lumenet outage"},
    },
    "rss": {
        "platform": "rss",
        "post": {
            "entry": {"id": "tag:a,2026:1", "title": "Lumenet outage", "summary": "<p>down</p>"},
            "feed_url": "https://news.example/feed",
            "feed_title": "News",
        },
    },
}


def write_lines(path: Path, lines: list[Any]) -> Path:
    with path.open("wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            f.write(b"\n")
    return path


def source(path: Path, **kwargs: Any) -> ReplaySource:
    return ReplaySource("replayed", path, **kwargs)


@pytest.fixture
def ten(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "mentions.jsonl", [x_line(n) for n in range(1, 11)])


def numbers(mentions: Any) -> list[int]:
    return [int(m.text.rsplit("#", 1)[1]) for m in mentions]


# -- batching and the cursor ---------------------------------------------------------


async def test_fetch_returns_a_batch_of_mentions_in_file_order(ten: Path) -> None:
    result = await source(ten, batch=4).fetch(None)
    assert numbers(result.mentions) == [1, 2, 3, 4]


async def test_fetch_never_asks_to_be_polled_again_at_once(ten: Path) -> None:
    result = await source(ten, batch=4).fetch(None)
    assert result.more is False and result.next_poll_in is None


async def test_cursor_holds_the_byte_offset_and_line_of_the_next_line(ten: Path) -> None:
    result = await source(ten, batch=3).fetch(None)
    lines = ten.read_bytes().split(b"\n")
    assert result.cursor == {
        "offset": sum(len(line) + 1 for line in lines[:3]),
        "line": 3,
        "lap": 0,
    }


async def test_successive_fetches_walk_through_the_file(ten: Path) -> None:
    replay = source(ten, batch=4)
    first = await replay.fetch(None)
    second = await replay.fetch(first.cursor)
    third = await replay.fetch(second.cursor)
    assert numbers(second.mentions) == [5, 6, 7, 8]
    assert numbers(third.mentions) == [9, 10]


async def test_a_restarted_source_resumes_from_the_byte_offset(ten: Path) -> None:
    first = await source(ten, batch=5).fetch(None)
    assert first.cursor is not None
    # Blank out what was already read, keeping its length: a source that re-read the
    # file from the start to find its place would trip over it.
    data = ten.read_bytes()
    offset = first.cursor["offset"]
    ten.write_bytes(b"\n" * offset + data[offset:])
    restarted = source(ten, batch=5)
    second = await restarted.fetch(json.loads(json.dumps(first.cursor)))
    assert numbers(second.mentions) == [6, 7, 8, 9, 10]
    assert second.cursor == {"offset": len(data), "line": 10, "lap": 0}


async def test_end_of_file_gives_nothing_and_keeps_the_cursor(ten: Path) -> None:
    replay = source(ten, batch=20)
    done = await replay.fetch(None)
    again = await replay.fetch(done.cursor)
    assert again.mentions == ()
    assert again.cursor == done.cursor


async def test_lines_appended_later_are_picked_up(ten: Path) -> None:
    replay = source(ten, batch=20)
    done = await replay.fetch(None)
    with ten.open("ab") as f:
        f.write(json.dumps(x_line(11)).encode() + b"\n")
    assert numbers((await replay.fetch(done.cursor)).mentions) == [11]


def encoded(n: int) -> bytes:
    return json.dumps(x_line(n)).encode()


async def replay_growing(path: Path, *writes: bytes) -> tuple[list[list[int]], Any]:
    """Each write appended to the file, then a tick: what each tick gave, and the
    cursor after the last."""
    replay, cursor, seen = source(path, batch=5), None, []
    for data in writes:
        with path.open("ab") as f:
            f.write(data)
        result = await replay.fetch(cursor)
        seen.append(numbers(result.mentions))
        cursor = result.cursor
    return seen, cursor


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="earful.replay")
    return caplog


async def test_last_line_without_a_newline_is_read_a_tick_later(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    seen, cursor = await replay_growing(path, encoded(1) + b"\n" + encoded(2), b"", b"")
    # held once in case a writer is halfway through it, then read as it is
    assert seen == [[1], [2], []]
    assert cursor == {"offset": path.stat().st_size, "line": 2, "lap": 0}


async def test_a_line_being_written_during_a_tick_is_read_whole_on_the_next(
    tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    half = 30
    seen, _ = await replay_growing(
        tmp_path / "m.jsonl",
        encoded(1) + b"\n" + encoded(2)[:half],
        encoded(2)[half:] + b"\n" + encoded(3) + b"\n",
    )
    assert seen == [[1], [2, 3]]
    assert warnings.records == []  # no half line skipped, no start from the top


async def test_a_line_still_growing_at_the_next_tick_is_held_again(
    tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    line = encoded(1)
    seen, _ = await replay_growing(tmp_path / "m.jsonl", line[:20], line[20:40], line[40:] + b"\n")
    assert seen == [[], [], [1]]
    assert warnings.records == []


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
async def test_lines_appended_after_a_last_line_without_a_newline_follow_it(
    tmp_path: Path, warnings: pytest.LogCaptureFixture, ending: bytes
) -> None:
    path = tmp_path / "m.jsonl"
    seen, cursor = await replay_growing(
        path, encoded(1) + ending + encoded(2), b"", b"", ending + encoded(3) + ending
    )
    assert seen == [[1], [2], [], [3]]  # line 2 held a tick; then the end; then line 3
    assert cursor == {"offset": path.stat().st_size, "line": 3, "lap": 0}
    assert warnings.records == []


async def test_the_end_of_the_file_is_said_once(
    ten: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="earful.replay")
    replay, cursor = source(ten, batch=4), None
    for _ in range(5):  # 4 + 4 + 2 lines, then two fetches at the end
        cursor = (await replay.fetch(cursor)).cursor
    ends = [r.getMessage() for r in caplog.records if "replayed all of" in r.getMessage()]
    assert ends == [
        f"replay replayed: replayed all of {ten} (10 lines); new lines appended "
        "to it will be replayed too"
    ]


async def test_cursor_that_no_longer_fits_the_file_starts_again_from_the_top(
    ten: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="earful.replay")
    result = await source(ten, batch=2).fetch({"offset": 7, "line": 1, "lap": 0})
    assert numbers(result.mentions) == [1, 2]
    assert "changed since line 1 was read" in caplog.text


async def test_cursor_it_did_not_write_starts_from_the_top(
    ten: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="earful.replay")
    result = await source(ten, batch=2).fetch({"since_id": "99"})
    assert numbers(result.mentions) == [1, 2]
    assert "ignoring a cursor it did not write" in caplog.text


# -- bad lines -------------------------------------------------------------------------

BAD_LINES: dict[str, tuple[bytes, str]] = {
    "invalid JSON": (
        b'{"platform": "x", "post": {"data": {"id": "1", "text": "lumenet is do',
        "invalid JSON",
    ),
    "unknown platform": (
        b'{"platform": "threads", "post": {"id": "1"}}',
        "unknown platform 'threads'",
    ),
    "not an object": (b'["x", {"id": "1"}]', "line is not a JSON object"),
    "post not an object": (b'{"platform": "x", "post": "lumenet"}', "is not a JSON object"),
    "no id": (b'{"platform": "mastodon", "post": {"content": "lumenet"}}', "has no usable id"),
    "x without data": (b'{"platform": "x", "post": {"id": "1", "text": "lumenet"}}', '"data"'),
    "invalid UTF-8": (
        b'{"platform": "x", "post": {"data": {"id": "1", "text": "\xed\xa0\x80"}}}',
        "not valid UTF-8",
    ),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
async def test_bad_line_is_skipped_and_logged_with_its_line_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    line, reason = BAD_LINES[kind]
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), x_line(2), line, x_line(4)])
    caplog.set_level(logging.WARNING, logger="earful.replay")
    result = await source(path, batch=10).fetch(None)
    assert numbers(result.mentions) == [1, 2, 4]
    (record,) = [r for r in caplog.records if r.name == "earful.replay"]
    assert record.levelno == logging.WARNING
    assert "line 3 skipped" in record.getMessage()
    assert reason in record.getMessage()
    assert str(path) in record.getMessage()


async def test_a_normalizer_bug_skips_the_line_instead_of_stalling_the_replay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(post: Any) -> Any:
        raise TypeError("a bug")

    monkeypatch.setitem(replay_module.NORMALIZERS, "mastodon", broken)
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), LINES["mastodon"], x_line(3)])
    caplog.set_level(logging.WARNING, logger="earful.replay")
    result = await source(path, batch=5).fetch(None)
    assert numbers(result.mentions) == [1, 3]
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "line 2 skipped" in record.getMessage()
    assert record.exc_info is not None


async def test_bad_lines_do_not_count_toward_the_batch(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), b"nope", b"{}", x_line(4), x_line(5)])
    result = await source(path, batch=2).fetch(None)
    assert numbers(result.mentions) == [1, 4]
    assert result.cursor == {
        "offset": len(b"".join(path.read_bytes().split(b"\n")[:4])) + 4,
        "line": 4,
        "lap": 0,
    }


async def test_cursor_moves_past_a_bad_last_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), b"{broken"])
    result = await source(path, batch=5).fetch(None)
    assert result.cursor == {"offset": path.stat().st_size, "line": 2, "lap": 0}


async def test_blank_lines_are_passed_over_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), b"", b"   ", x_line(4)])
    caplog.set_level(logging.WARNING, logger="earful.replay")
    result = await source(path, batch=5).fetch(None)
    assert numbers(result.mentions) == [1, 4]
    assert caplog.records == []


async def test_windows_line_endings_and_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(x_line(1)).encode()
        + b"\r\n"
        + json.dumps(x_line(2)).encode()
        + b"\r\n"
    )
    assert numbers((await source(path).fetch(None)).mentions) == [1, 2]


async def test_missing_file_raises_source_down_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mentions.jsonl"
    with pytest.raises(SourceDown, match=str(missing)):
        await source(missing).fetch(None)


async def test_a_folder_where_the_file_should_be_is_source_down(tmp_path: Path) -> None:
    with pytest.raises(SourceDown, match="cannot read replay file"):
        await source(tmp_path).fetch(None)


# -- every platform's shape -----------------------------------------------------------


@pytest.mark.parametrize("platform", list(LINES))
def test_each_platform_line_becomes_a_mention_of_that_platform(platform: str) -> None:
    assert mention_from_record(LINES[platform]).platform == platform


async def test_a_file_mixing_platforms_replays_them_all(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", list(LINES.values()))
    result = await source(path, batch=10).fetch(None)
    assert [m.platform for m in result.mentions] == list(LINES)


def test_rss_line_may_leave_out_feed_title() -> None:
    line = {
        "platform": "rss",
        "post": {"entry": {"link": "https://news.example/a"}, "feed_url": ""},
    }
    assert mention_from_record(line).native_id == "https://news.example/a"


# -- loop and clock -------------------------------------------------------------------


async def test_loop_starts_again_at_the_top_with_new_ids(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), x_line(2), x_line(3)])
    replay = source(path, batch=2, loop=True)
    first = await replay.fetch(None)
    second = await replay.fetch(first.cursor)
    assert numbers(second.mentions) == [3, 1]
    assert second.cursor is not None and second.cursor["lap"] == 1
    original, again = first.mentions[0], second.mentions[1]
    assert again.native_id == f"{original.native_id}~lap1"
    assert again.conversation_id == f"{original.conversation_id}~lap1"
    assert again.text == original.text and again.url == original.url


async def test_loop_over_a_file_with_nothing_usable_does_not_spin(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", [b"nope", b"nope"])
    result = await source(path, batch=5, loop=True).fetch(None)
    assert result.mentions == ()


async def test_loop_over_an_empty_file_stays_put(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"")
    result = await source(path, loop=True).fetch(None)
    assert result.mentions == () and result.cursor == {"offset": 0, "line": 0, "lap": 0}


async def test_without_loop_the_end_of_the_file_is_the_end(ten: Path) -> None:
    replay = source(ten, batch=10)
    done = await replay.fetch(None)
    assert (await replay.fetch(done.cursor)).mentions == ()


async def test_original_clock_keeps_each_posts_own_time(ten: Path) -> None:
    (m,) = (await source(ten, batch=1).fetch(None)).mentions
    assert m.created_at == datetime(2026, 11, 18, 10, 1, tzinfo=UTC)


async def test_replay_clock_stamps_posts_with_the_moment_they_are_replayed(ten: Path) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = await source(ten, batch=3, clock="replay", now=lambda: now).fetch(None)
    assert [m.created_at for m in result.mentions] == [now] * 3
    # what the platform said stays in raw
    assert result.mentions[0].raw is not None
    assert result.mentions[0].raw["data"]["created_at"] == "2026-11-18T10:01:00.000Z"


async def test_replay_clock_uses_the_real_time_by_default(ten: Path) -> None:
    before = datetime.now(UTC)
    (m,) = (await source(ten, batch=1, clock="replay").fetch(None)).mentions
    assert m.created_at is not None and before <= m.created_at <= datetime.now(UTC)


async def test_shifted_clock_moves_the_newest_post_to_now_and_keeps_the_spacing(
    tmp_path: Path,
) -> None:
    lines = [x_line(1), {"platform": "x", "post": "broken"}, x_line(30), x_line(10)]
    path = write_lines(tmp_path / "m.jsonl", lines)
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    replay = source(path, batch=2, clock="shifted", now=lambda: now)
    first = await replay.fetch(None)
    later = source(path, batch=2, clock="shifted", now=lambda: now + timedelta(days=1))
    second = await later.fetch(first.cursor)  # a restart a day later keeps the shift
    times = [m.created_at for m in (*first.mentions, *second.mentions)]
    # the newest post (10:30) is now; the others keep their distance from it
    assert times == [now - timedelta(minutes=29), now, now - timedelta(minutes=20)]
    assert first.cursor is not None and second.cursor is not None
    assert first.cursor["shift"] == second.cursor["shift"]


async def test_shifted_clock_never_puts_a_post_appended_later_in_the_future(
    tmp_path: Path,
) -> None:
    path = write_lines(tmp_path / "m.jsonl", [x_line(1), x_line(2)])
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    replay = source(path, batch=5, clock="shifted", now=lambda: now)
    first = await replay.fetch(None)
    appended = x_line(3)
    appended["post"]["data"]["created_at"] = "2030-01-02T03:04:00.000Z"  # written just now
    with path.open("ab") as f:
        f.write(json.dumps(appended).encode() + b"\n")
    later = now + timedelta(seconds=30)
    (m,) = (await source(path, clock="shifted", now=lambda: later).fetch(first.cursor)).mentions
    assert m.created_at == later


async def test_shifted_clock_on_a_file_without_times_changes_nothing(tmp_path: Path) -> None:
    line = {"platform": "hackernews", "post": {"objectID": "1", "comment_text": "lumenet"}}
    path = write_lines(tmp_path / "m.jsonl", [line])
    result = await source(path, clock="shifted").fetch(None)
    assert result.cursor is not None and result.cursor["shift"] == 0.0


# -- settings and build -----------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = Settings(name="demo", type="replay", path="mentions.jsonl")
    assert (settings.batch, settings.clock, settings.loop) == (5, "original", False)


@pytest.mark.parametrize("bad", [{"batch": 0}, {"clock": "wall"}, {"type": "x"}, {"speed": 2}])
def test_settings_refuse_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"name": "demo", "type": "replay", "path": "m.jsonl", **bad})


def test_build_resolves_a_relative_path_from_the_config_folder(tmp_path: Path) -> None:
    settings = Settings(
        name="demo", type="replay", path="data/m.jsonl", batch=2, clock="replay", loop=True
    )
    replay = build(settings, SourceContext(brand=Brand("Lumenet"), base_dir=tmp_path))
    assert replay.path == tmp_path / "data" / "m.jsonl"
    assert (replay.name, replay.batch, replay.clock, replay.loop) == ("demo", 2, "replay", True)


def test_replay_source_is_a_source(ten: Path) -> None:
    assert isinstance(build(Settings(name="demo", type="replay", path=str(ten)), CTX), Source)


async def test_aclose_is_harmless(ten: Path) -> None:
    await source(ten).aclose()


# -- the bundled demo -------------------------------------------------------------------


async def replay_all(path: Path, batch: int) -> tuple[list[Mention], list[logging.LogRecord]]:
    handler = _Collect()
    logger = logging.getLogger("earful.replay")
    logger.addHandler(handler)
    try:
        replay, cursor = source(path, batch=batch), None
        mentions: list[Mention] = []
        while True:
            result = await replay.fetch(cursor)
            if not result.mentions:
                return mentions, handler.records
            mentions.extend(result.mentions)
            cursor = result.cursor
    finally:
        logger.removeHandler(handler)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_demo_file_replays_with_exactly_two_bad_lines_skipped() -> None:
    mentions, warnings = await replay_all(DEMO, batch=7)
    assert 190 <= len(mentions) <= 210
    assert len(warnings) == 2
    messages = [w.getMessage() for w in warnings]
    assert "invalid JSON" in messages[0] and "unknown platform 'threads'" in messages[1]
    # the bad lines sit mid-file, not at either end
    lines = len(DEMO.read_bytes().splitlines())
    for w in messages:
        line = int(w.split(" line ")[1].split()[0])
        assert 10 < line < lines - 10


async def test_demo_file_covers_every_platform_in_roughly_planned_shares() -> None:
    mentions, _ = await replay_all(DEMO, batch=50)
    share = Counter(m.platform for m in mentions)
    assert set(share) == {"x", "reddit", "mastodon", "bluesky", "hackernews", "rss"}
    assert share["x"] > share["reddit"] > share["hackernews"] > 0


async def test_demo_mentions_are_unique_dated_and_in_order() -> None:
    mentions, _ = await replay_all(DEMO, batch=50)
    assert len({m.key for m in mentions}) == len(mentions)
    times = [m.created_at for m in mentions if m.created_at is not None]
    assert len(times) == len(mentions)  # every one dated
    assert times == sorted(times)
    assert times[0] >= datetime(2026, 11, 1, tzinfo=UTC) and times[-1] < datetime(
        2026, 12, 1, tzinfo=UTC
    )


async def test_demo_threads_point_at_posts_in_the_file() -> None:
    mentions, _ = await replay_all(DEMO, batch=50)
    by_id = {m.key: m for m in mentions}
    replies = [m for m in mentions if m.in_reply_to and (m.platform, m.in_reply_to) in by_id]
    assert len(replies) >= 20
    for reply in replies:
        assert reply.in_reply_to is not None
        parent = by_id[(reply.platform, reply.in_reply_to)]
        assert parent.created_at is not None and reply.created_at is not None
        assert parent.created_at < reply.created_at
        if reply.platform in ("x", "bluesky", "reddit", "hackernews"):
            assert reply.conversation_id == (parent.conversation_id or parent.native_id)


async def test_demo_includes_the_brands_own_posts_and_a_white_glove_customer() -> None:
    brand = Brand(
        "Lumenet",
        handles={
            "x": "LumenetHelp",
            "reddit": "lumenet_help",
            "mastodon": "@lumenet@mastodon.social",
            "bluesky": "lumenet.bsky.social",
        },
    )
    mentions, _ = await replay_all(DEMO, batch=50)
    own = {m.platform for m in mentions if brand.is_own(m.platform, m.author.handle)}
    assert own == {"x", "reddit", "mastodon", "bluesky"}
    assert any(m.author.handle == "northwind_ops" for m in mentions)
    assert any("northwind.example" in (m.author.url or "") for m in mentions if m.platform != "x")
