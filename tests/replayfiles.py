"""Replay files and configs for the tests that drive Earful end to end: posts in X's
own JSON shape, one per line, and an earful.toml whose replay source serves them."""

from __future__ import annotations

import html
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

COMPLAINT = "lumenet app down again? can't log in"
PRAISE = "Shoutout to Lumenet support, sorted my billing in 10 minutes. Brilliant!"
QUESTION = "does lumenet sell a mesh router?"
NOISE = "walked past the lumenet shop today"
TEXTS = (COMPLAINT, PRAISE, QUESTION, NOISE)


def x_post(
    n: int,
    text: str,
    handle: str | None = None,
    *,
    name: str = "Ana Lima",
    created_at: str = "2026-11-18T10:00:00.000Z",
) -> dict[str, Any]:
    """Tweet number `n` as X API v2 sends it; each author is new unless named."""
    tweet_id = str(2125000000000000000 + n)
    user = {
        "id": f"u{n}",
        "username": handle or f"user{n}",
        "name": name,
        "public_metrics": {"followers_count": 250},
    }
    tweet = {
        "id": tweet_id,
        # X escapes &, < and > in a tweet's text
        "text": html.escape(text, quote=False),
        "author_id": user["id"],
        "created_at": created_at,
        "conversation_id": tweet_id,
        "lang": "en",
    }
    return {"platform": "x", "post": {"data": tweet, "includes": {"users": [user]}}}


def mixed_posts(count: int) -> list[dict[str, Any]]:
    """Complaints, praise, questions and noise in turn, each from its own author."""
    return [x_post(n, f"{TEXTS[n % len(TEXTS)]} #{n}") for n in range(count)]


def write_jsonl(path: Path, posts: Iterable[dict[str, Any]]) -> Path:
    # json.dumps escapes to ASCII, so lone surrogates and NUL survive as \u escapes
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    return path


def write_config(
    tmp_path: Path,
    posts: Iterable[dict[str, Any]],
    *,
    batch: int = 50,
    interval: str = "1m",
    extra: str = "",
) -> Path:
    """mentions.jsonl and an earful.toml replaying it as source "replayed"."""
    write_jsonl(tmp_path / "mentions.jsonl", posts)
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
        '[[sources]]\nname = "replayed"\ntype = "replay"\npath = "mentions.jsonl"\n'
        f'batch = {batch}\ninterval = "{interval}"\n\n'
        "[console]\nport = 0\n\n" + extra,
        encoding="utf-8",
    )
    return path


def count(db: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    """One number from the database, read through a connection of the test's own."""
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], what: str, *, limit: float = 60.0) -> None:
    """Wait (generously) for a condition; the limit is a hang guard, not a timing."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def stored(db: Path) -> int:
    """Mentions committed so far, as another process sees them."""
    if not db.exists():
        return 0
    try:
        return count(db, "SELECT count(*) FROM mentions")
    except sqlite3.OperationalError:  # the schema is still being created
        return 0
