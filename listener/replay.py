"""The replay source: posts from a JSON Lines file, a few per tick, as if they were
arriving live. It powers `earful demo` and lets a team rehearse rules on real
traffic saved earlier, with no credentials and no network.

Config (type = "replay"):

    path   the .jsonl file; relative paths start from the config file's folder
    batch  mentions per tick (default 5)
    clock  "original" keeps each post's own time; "replay" stamps it with the moment
           it is replayed, so time-based stats (time to first reply) look live;
           "shifted" moves the whole file in time so its newest post is the moment
           the replay started: the posts keep their spacing (a file that spans three
           days fills three days of charts) and none is in the future. The shift is
           measured once, by reading the file through, and kept in the cursor (so
           with `loop`, every lap replays the first lap's times); a post the shift
           would put in the future (a line appended later, dated when it was
           written) is stamped with the moment it is replayed
    loop   start again at the top at the end of the file (default false); each lap's
           ids get a "~lap<N>" suffix so the store takes them as new posts

Each line is one object, `{"platform": ..., "post": ...}`, the post in that
platform's own JSON shape as its API sends it:

    {"platform": "x", "post": {"data": <tweet>,
                               "includes": {"users": [<user>], "tweets": [<tweet>]}}}
    {"platform": "reddit", "post": {"kind": "t1" | "t3", "data": {...}}}
    {"platform": "mastodon", "post": <Status entity>}
    {"platform": "bluesky", "post": <app.bsky.feed.defs#postView>}
    {"platform": "hackernews", "post": <HN Algolia search hit>}
    {"platform": "rss", "post": {"entry": <feedparser entry>,
                                 "feed_url": "https://...", "feed_title": "..."}}

"includes" and "feed_title" may be left out. The file is UTF-8; blank lines are
ignored. Lines appended while the replay runs are read on a later tick. A last line
without a newline may be one a writer is still adding to, so it is left for the next
tick, and read then if the file has not grown in between (a file whose last line
simply has no newline is read to the end, one tick later). A line that cannot be
used (not UTF-8, not JSON, not an object, an unknown platform, a post without an id)
is logged as a warning with its line number and skipped; it never stops the replay.

The cursor is `{"offset": <byte offset of the next line>, "line": <lines read>,
"lap": <times the file was restarted>}` (plus `"shift": <seconds>` with the shifted
clock, and `"held": <byte offset where it ended>` while the next line is one without a
newline, left for the next tick): a restart seeks straight back to where the
last committed batch ended. If the file has changed so that the offset no longer
starts a line (nor ends a last line read without its newline), the replay starts
again from the top (already stored posts are dropped as duplicates downstream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

from pydantic import Field

from listener import bluesky, hackernews, mastodon, reddit, rss, x
from listener.base import Cursor, FetchResult, SourceContext, SourceDown, SourceSettings
from listener.mention import Mention
from listener.normalize import MalformedPost, as_mapping, require_mapping

log = logging.getLogger("earful.replay")


class Settings(SourceSettings):
    type: Literal["replay"]
    path: str
    batch: int = Field(default=5, ge=1, le=10_000)  # posts per tick
    clock: Literal["original", "replay", "shifted"] = "original"
    loop: bool = False
    no_base_url: ClassVar[str] = "replay sources read a file"
    shortest_interval: ClassVar[float] = 0.01  # a local file: the demo and tests tick fast


def build(settings: Settings, ctx: SourceContext) -> ReplaySource:
    return ReplaySource(
        name=settings.name,
        path=ctx.resolve(settings.path),
        batch=settings.batch,
        clock=settings.clock,
        loop=settings.loop,
    )


# -- one line -------------------------------------------------------------------------


def _x(post: Mapping[str, Any]) -> Mention:
    return x.mention_from_tweet(
        require_mapping(post.get("data"), 'x post\'s "data"'), as_mapping(post.get("includes"))
    )


def _rss(post: Mapping[str, Any]) -> Mention:
    feed_url = post.get("feed_url", "")
    feed_title = post.get("feed_title")
    if not isinstance(feed_url, str):
        raise MalformedPost('rss post\'s "feed_url" is not a string')
    return rss.mention_from_entry(
        require_mapping(post.get("entry"), 'rss post\'s "entry"'),
        feed_url,
        feed_title if isinstance(feed_title, str) else None,
    )


NORMALIZERS: dict[str, Callable[[Mapping[str, Any]], Mention]] = {
    "x": _x,
    "reddit": reddit.mention_from_thing,
    "mastodon": mastodon.mention_from_status,
    "bluesky": bluesky.mention_from_post,
    "hackernews": hackernews.mention_from_hit,
    "rss": _rss,
}


def mention_from_record(record: Any) -> Mention:
    """One decoded line, `{"platform": ..., "post": ...}`, as a Mention."""
    record = require_mapping(record, "line")
    platform = record.get("platform")
    normalize = NORMALIZERS.get(platform) if isinstance(platform, str) else None
    if normalize is None:
        known = ", ".join(NORMALIZERS)
        raise MalformedPost(f"unknown platform {platform!r} (expected one of {known})")
    return normalize(require_mapping(record.get("post"), f'{platform} line\'s "post"'))


def mention_from_line(line: bytes) -> Mention:
    """One line of the file as a Mention; ValueError says why it cannot be one."""
    line = line.rstrip(b"\r\n")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        # json says "Unterminated string starting at" and leaves the place to us
        what = exc.msg.removesuffix(" at").removesuffix(" starting").lower()
        raise ValueError(f"invalid JSON at column {exc.colno}: {what}") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    return mention_from_record(record)


# -- the source -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Position:
    offset: int = 0  # byte offset of the next line to read
    line: int = 0  # lines read so far in this lap; the next one is line + 1
    lap: int = 0
    # Where the next line ended when it was last seen without a newline and left
    # unread; it is read when it still ends there on the next tick.
    held: int | None = None

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> _Position | None:
        """The cursor's position, or None if it is not one this source wrote."""
        if cursor is None:
            return cls()
        if not isinstance(cursor, Mapping):
            return None
        fields = [cursor.get("offset"), cursor.get("line"), cursor.get("lap", 0)]
        held = cursor.get("held")
        if not all(type(v) is int and v >= 0 for v in [*fields, 0 if held is None else held]):
            return None
        offset, line, lap = fields
        return cls(offset, line, lap, held)

    def as_cursor(self) -> dict[str, int]:
        out = {"offset": self.offset, "line": self.line, "lap": self.lap}
        return out if self.held is None else {**out, "held": self.held}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReplaySource:
    def __init__(
        self,
        name: str,
        path: Path,
        *,
        batch: int = 5,
        clock: Literal["original", "replay", "shifted"] = "original",
        loop: bool = False,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.path = path
        self.batch = batch
        self._said_done = False
        self.clock = clock
        self.loop = loop
        self._now = now

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        # plain file reads, but off the loop so a slow disk never stalls the daemon
        mentions, position = await asyncio.to_thread(self._read, cursor)
        out: dict[str, Any] = position.as_cursor()
        if self.clock == "replay":
            now = self._now()
            mentions = [replace(m, created_at=now) for m in mentions]
        elif self.clock == "shifted":
            shift = _shift_of(cursor)
            if shift is None:
                shift = await asyncio.to_thread(self._shift)
            out["shift"] = shift
            now = self._now()
            mentions = [_shifted(m, shift, now) for m in mentions]
        # more=False even with lines left: a replay trickles in on the schedule
        return FetchResult(tuple(mentions), out, more=False)

    def _shift(self) -> float:
        """Seconds that move the file's newest post to now (0 with no times in it)."""
        newest: datetime | None = None
        try:
            with self.path.open("rb") as file:
                for line in file:
                    try:
                        moment = mention_from_line(line.removeprefix(b"\xef\xbb\xbf")).created_at
                    except Exception:  # a bad line is reported when it is replayed
                        continue
                    if moment is not None and (newest is None or moment > newest):
                        newest = moment
        except OSError:
            return 0.0  # the read that follows reports it
        return 0.0 if newest is None else (self._now() - newest).total_seconds()

    async def aclose(self) -> None:
        return None

    def _read(self, cursor: Cursor | None) -> tuple[list[Mention], _Position]:
        with open_replay_file(self.path) as file:
            position = self._start(file, cursor)
            return self._read_from(file, position)

    def _start(self, file: BinaryIO, cursor: Cursor | None) -> _Position:
        position = _Position.from_cursor(cursor)
        if position is None:
            log.warning("replay %s: ignoring a cursor it did not write: %r", self.name, cursor)
            return _Position()
        size = os.fstat(file.fileno()).st_size
        offset = _line_start(file, position.offset, size)
        if offset is None:
            log.warning(
                "replay %s: %s changed since line %d was read (offset %d, size now %d); "
                "starting again from the top",
                self.name,
                self.path,
                position.line,
                position.offset,
                size,
            )
            return _Position(lap=position.lap)
        return replace(position, offset=offset)

    def _read_from(self, file: BinaryIO, position: _Position) -> tuple[list[Mention], _Position]:
        file.seek(position.offset)
        mentions: list[Mention] = []
        wrapped = False
        while len(mentions) < self.batch:
            line = file.readline()
            if line and not line.endswith(b"\n") and position.held != file.tell():
                # A writer may be halfway through this last line: it is read next
                # tick, complete by then, or as it is if the file has not grown.
                position = replace(position, held=file.tell())
                break
            if not line:
                # wrap at most once a fetch: a file with nothing usable must not spin
                if not self.loop or wrapped or position.offset == 0:
                    if not self._said_done and not self.loop:
                        self._said_done = True  # once a run: the next polls find the same
                        log.info(
                            "replay %s: replayed all of %s (%d lines); new lines appended "
                            "to it will be replayed too",
                            self.name,
                            self.path,
                            position.line,
                        )
                    break
                wrapped = True
                position = _Position(lap=position.lap + 1)
                log.info("replay %s: end of %s, lap %d", self.name, self.path, position.lap)
                file.seek(0)
                continue
            position = _Position(file.tell(), position.line + 1, position.lap)
            if position.line == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a BOM from a Windows editor
            if not line.strip():
                continue
            try:
                mention = mention_from_line(line)
            except ValueError as exc:
                log.warning(
                    "replay %s: %s line %d skipped: %s", self.name, self.path, position.line, exc
                )
                continue
            except Exception:
                # a normalizer bug: said loudly, but one post must not stall the replay
                log.exception(
                    "replay %s: %s line %d skipped: unexpected error",
                    self.name,
                    self.path,
                    position.line,
                )
                continue
            mentions.append(_lap_ids(mention, position.lap))
        return mentions, position


def open_replay_file(path: Path) -> BinaryIO:
    """The file, open for reading; SourceDown says why it cannot be (a poll that
    fails, retried with backoff; `earful check` says it first)."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise SourceDown(
            f"replay file {path} does not exist (check the source's path; "
            "a relative path starts from the config file's folder)"
        ) from None
    except OSError as exc:
        raise SourceDown(f"cannot read replay file {path}: {exc.strerror or exc}") from None


def _shift_of(cursor: Cursor | None) -> float | None:
    value = cursor.get("shift") if isinstance(cursor, Mapping) else None
    # bool is an int too, and no shift
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _line_start(file: BinaryIO, offset: int, size: int) -> int | None:
    """Where the line the cursor's offset points at starts, or None if the file has
    changed so that no line starts there."""
    if offset in (0, size):
        # the end of a file whose last line has no newline is a fine place to be
        return offset
    if offset > size:
        return None
    file.seek(offset - 1)
    around = file.read(3)
    if around.startswith(b"\n"):
        return offset
    # The end of a last line read without its newline: a writer appending since
    # then ended that line first, and the next line starts after the line end.
    for ending in (b"\n", b"\r\n"):
        if around[1:].startswith(ending):
            return offset + len(ending)
    return None


def _shifted(mention: Mention, shift: float, now: datetime) -> Mention:
    if mention.created_at is None:
        return mention
    # A line appended after the shift was measured may be newer than the file's
    # newest post was: shifted, it would be in the future.
    moved = mention.created_at + timedelta(seconds=shift)
    return replace(mention, created_at=min(moved, now))


def _lap_ids(mention: Mention, lap: int) -> Mention:
    """A looped replay's second and later laps are new posts to the store."""
    if lap == 0:
        return mention

    def tag(value: str | None) -> str | None:
        return None if value is None else f"{value}~lap{lap}"

    return replace(
        mention,
        native_id=f"{mention.native_id}~lap{lap}",
        conversation_id=tag(mention.conversation_id),
        in_reply_to=tag(mention.in_reply_to),
    )
