"""Small builders for the data that crosses package lines, for tests only."""

from __future__ import annotations

import itertools
import sqlite3
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from listener.mention import Author, Mention
from responders.drafts import Draft, DraftKind
from rules.verdict import Disposition, Reason, Verdict
from storage.db import connect
from storage.records import Judged
from storage.schema import MIGRATIONS

_ids = itertools.count(1)

# The `earful` command pip installed next to this Python, for tests of the real process.
EARFUL = Path(sys.executable).with_name("earful")


def mention(
    text: str = "my internet is down again",
    *,
    platform: str = "x",
    native_id: str | None = None,
    handle: str | None = "ana",
    followers: int | None = 120,
    conversation_id: str | None = None,
    created_at: datetime | None = None,
    raw: Mapping[str, Any] | None = None,
) -> Mention:
    nid = native_id or f"{next(_ids)}"
    return Mention(
        platform=platform,
        native_id=nid,
        text=text,
        author=Author(handle=handle, name="Ana Lima", followers=followers),
        url=f"https://x.com/{handle}/status/{nid}",
        created_at=created_at or datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        conversation_id=conversation_id,
        raw=raw if raw is not None else {"id": nid, "text": text},
    )


def verdict(
    disposition: Disposition = Disposition.INTERESTING_BAD,
    *,
    topic: str | None = "outage",
    urgency: int = 40,
    interest: int = 10,
) -> Verdict:
    return Verdict(
        disposition=disposition,
        compound=-0.4,
        score=-0.7,
        labels=("outage",),
        topic=topic,
        urgency=urgency,
        interest=interest,
        reasons=(
            Reason("vader", "compound -0.400", -0.4),
            Reason("rule:outage", 'matched "down"', -0.3),
        ),
    )


def complaint(m: Mention | None = None, *, urgency: int = 40, callback: bool = True) -> Judged:
    m = m or mention()
    drafts = [Draft(DraftKind.REPLY, "Sorry about that, we'll call you.", m.key, "complaint")]
    if callback:
        drafts.append(Draft(DraftKind.CALLBACK, f"Contact @{m.author.handle}", m.key, "complaint"))
    return Judged(m, verdict(urgency=urgency), tuple(drafts))


def praise(m: Mention | None = None) -> Judged:
    m = m or mention("love the new router, thanks!")
    return Judged(
        m,
        verdict(Disposition.INTERESTING_GOOD, topic=None, urgency=5),
        (Draft(DraftKind.THANKS, "Thank you!", m.key, "praise"),),
    )


def noise(m: Mention | None = None) -> Judged:
    m = m or mention("just had lunch")
    return Judged(m, verdict(Disposition.IGNORE, topic=None, urgency=0), ())


def at_version(db_path: Path, version: int) -> sqlite3.Connection:
    """A database as an Earful of that schema version left it."""
    conn = connect(db_path)
    for number, step in enumerate(MIGRATIONS[:version], start=1):
        conn.execute("BEGIN")
        step(sqlite_utils.Database(conn))
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    return conn
