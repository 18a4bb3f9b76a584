"""What the console tests share: a store filled through the real pipeline (the
bundled demo mentions replayed by the real replay source, judged by the shipped
rules), accounts, and a console served on 127.0.0.1 in a thread of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from aiohttp import web

from earful.app import build_runtime
from earful.config import Config
from earful.console import build_app
from earful.console.passwords import hash_password
from earful.demo import prepare_demo
from earful.pipeline import Stages, build_stages, poll, store_batch
from listener.base import FetchResult
from listener.mention import Author, Mention
from storage.store import Store

PASSWORD = "correct horse battery"
USERS = {"alice": "agent", "bob": "agent", "root": "admin", "vera": "viewer", "lockme": "agent"}

HOSTILE = (
    "@LumenetHelp lumenet internet down AGAIN, furious "
    '<script>window.pwned = 1; alert("xss")</script> '
    '<img src=x onerror="window.pwned = 2; alert(1)"> '
    "</textarea><b>bold?</b>"
)


class Clock:
    """A store clock the test moves by hand (sessions expire by it)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def seeded(workdir: Path) -> Config:
    """A demo config in `workdir`, its database filled by replaying the whole demo
    file, plus a hostile post and the test accounts."""
    config = prepare_demo(workdir, port=0, batch=200)

    async def replay() -> None:
        runtime = build_runtime(config)
        try:
            for source in runtime.sources:
                while (await poll(source, runtime.store, runtime.stages)).fetched:
                    pass
        finally:
            await runtime.aclose()

    # Its own thread: Playwright's sync API may already run a loop in this one.
    worker = threading.Thread(target=lambda: asyncio.run(replay()))
    worker.start()
    worker.join()
    stages = build_stages(config)
    with Store.open(config.db_path) as store:
        ingest(store, stages, HOSTILE, native_id="hostile-1", handle="mallory")
        for name, role in USERS.items():
            store.add_user(name, role, hash_password(PASSWORD), actor="tests")
    # The queue page polls quickly here so "appears without reload" is seen soon.
    console = config.console.model_copy(update={"refresh": 0.3})
    return dataclasses.replace(config, console=console)


def ingest(
    store: Store,
    stages: Stages,
    text: str,
    *,
    native_id: str,
    handle: str,
    created_at: datetime | Literal["now"] | None = "now",
) -> None:
    """One post through the real judge, responders and Store.ingest; posted now
    unless `created_at` says when (None: the platform did not say)."""
    mention = x_mention(text, native_id=native_id, handle=handle, created_at=created_at)
    store_batch("tests", FetchResult((mention,), None), store, stages)


def x_mention(
    text: str,
    *,
    native_id: str,
    handle: str,
    created_at: datetime | Literal["now"] | None = "now",
) -> Mention:
    """A post on X by `handle` (5,000 followers), as its source would make it."""
    return Mention(
        platform="x",
        native_id=native_id,
        text=text,
        author=Author(handle=handle, name=handle.title(), followers=5000),
        url=f"https://x.com/{handle}/status/{native_id}",
        created_at=datetime.now(UTC) if created_at == "now" else created_at,
        conversation_id=native_id,
    )


def reply_for(store: Store, native_id: str) -> int:
    row = store.conn.execute(
        "SELECT r.id FROM replies r JOIN mentions m ON m.id = r.mention_id "
        "WHERE m.native_id = ? ORDER BY r.id LIMIT 1",
        (native_id,),
    ).fetchone()
    return int(row[0])


def left_unsettled(store: Store, reply_id: int, status: str, error: str) -> None:
    """Leave a pending reply `unknown` or `failed`, as the publisher would after a
    crash mid-send or a refusal. Set directly: the console's tests share one
    database, and claiming for posting would take other tests' approved replies too
    (the publisher's own path there is tested in test_store.py and test_outbox.py)."""
    with store.conn:
        store.conn.execute(
            "UPDATE replies SET status = ?, last_error = ?, attempts = 1, "
            "decided_by = 'bob', decided_at = '2026-11-30T09:00:00.000Z' WHERE id = ?",
            (status, error, reply_id),
        )


def refused_alert(store: Store, error: str) -> int:
    """Claim the oldest due alert and record that the webhook refused it for good,
    as the alert publisher does; returns its id."""
    claimed = store.claim_alert()
    assert claimed is not None, "no alert is due"
    store.mark_alert_failed(
        claimed.id, error, retryable=False, max_attempts=5, retry_in=timedelta(minutes=1)
    )
    return claimed.id


def pending_replies(store: Store, platform: str | None = "x") -> list[int]:
    return [r.id for r in store.replies("pending", platform=platform, limit=200)]


@contextmanager
def served(config: Config) -> Iterator[str]:
    """The console on an ephemeral 127.0.0.1 port, on its own loop in a thread
    (Playwright's sync API owns the test thread); yields the base URL."""
    loop = asyncio.new_event_loop()
    store = Store.open(config.db_path)
    started = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        runner = web.AppRunner(build_app(store, config))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        holder["runner"] = runner
        holder["url"] = f"http://{host}:{port}"

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="console", daemon=True)
    thread.start()
    started.wait(30)
    try:
        yield str(holder["url"])
    finally:
        runner = holder["runner"]
        assert isinstance(runner, web.AppRunner)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        store.close()
