"""How soon a Mastodon complaint becomes a queued draft, streaming and polling.

Runs the real daemon (config -> Runtime -> Daemon, SQLite in a temp folder) against
the fake Mastodon instance of the tests (tests/fakes/mastodon_api.py) on loopback,
publishes complaints tagged #acme, each from a different author so every one gets
a reply draft, and measures for each post the time from its publication to the
ingest transaction that stored it with its drafts. Four runs, each with a fresh
instance and database:

    streaming  busy    --n posts at --rate per second (stream = true, safety-net poll 5m)
    streaming  quiet   --quiet posts, one every --gap seconds
    polling    busy    the same posts, polled every --interval seconds
    polling    quiet

Prints p50/p95/max latency and HTTP requests per ingested post for each (the
stream's one long-lived connection counts as one request), whether the targets
hold (streaming p95 < 1 s; polling p95 <= interval + 1 s), `stream_p95=<s>
poll_p95=<s>`, and as its last line `ratio=<streaming p95 / polling p95>`: polling,
the way every source works without a stream, is the baseline in the same run.

    python bench/latency.py [--n 1000] [--rate 50] [--interval 2] [--quiet 10] [--gap 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from argtypes import above_zero, positive
from fakes.mastodon_api import FakeMastodon

from earful.app import build_runtime
from earful.config import parse_config
from earful.daemon import Daemon

COMPLAINTS = [
    "@acme my internet has been down since {h}am, absolutely furious",
    "been on hold for {n} minutes with acme support. so tired of this #acme",
    "acme charged me twice this month and still no refund 😡",
    "acme app down again? can't log in, third outage this week",
    "where is my router?? acme order #{n} was due monday",
    "I'm cancelling my acme account, switching to globex. unreal",
]


@dataclass(frozen=True)
class Run:
    label: str
    posts: int
    stored: int
    drafted: int
    latencies: list[float]
    requests: int
    seconds: float

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def line(self) -> str:
        per_post = self.requests / self.stored if self.stored else float("nan")
        return (
            f"{self.label:<16} {self.posts:>5,} posts in {self.seconds:5.1f} s: "
            f"p50 {self.percentile(50):6.3f} s  p95 {self.percentile(95):6.3f} s  "
            f"max {max(self.latencies, default=float('nan')):6.3f} s  "
            f"({self.drafted:,} drafts)  {per_post:6.3f} HTTP requests per post"
        )


def config(base_url: str, token: str, db: Path, *, stream: bool, interval: float) -> Any:
    source = {
        "name": "masto",
        "type": "mastodon",
        "base_url": base_url,
        "mode": "hashtag",
        "tag": "acme",
        "access_token": token,
        "stream": stream,
        "interval": interval,
    }
    raw = {
        "brand": {
            "name": "Acme",
            "keywords": ["acme"],
            "handles": {"mastodon": "@acme@fake.social"},
        },
        "storage": {"path": str(db)},
        "sources": [source],
        "publish": {"interval": "1h"},
    }
    return parse_config(raw, db.parent / "earful.toml", {})


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM mentions").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def queued_at(db: Path) -> dict[str, float]:
    """native id -> epoch seconds of the ingest that stored it with a reply draft."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT m.native_id, m.fetched_at FROM mentions m "
            "WHERE EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id)"
        ).fetchall()
    return {nid: datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() for nid, at in rows}


async def run(label: str, *, stream: bool, interval: float, posts: int, gap: float) -> Run:
    fake = FakeMastodon(heartbeat=15.0)
    await fake.start()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        daemon = Daemon(
            build_runtime(config(fake.base_url, fake.token, db, stream=stream, interval=interval))
        )
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        # settled: the first poll answered, and the stream open when streaming
        while not fake.requests_to("/api/v1/timelines") or (stream and not fake.open_streams):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        published: dict[str, float] = {}
        started = time.monotonic()
        for i in range(posts):
            author = fake.account(
                f"user{i}", domain="mastodon.online", followers=rng.randint(0, 5000)
            )
            text = rng.choice(COMPLAINTS).format(h=rng.randint(1, 11), n=rng.randint(10, 9999))
            status = fake.post(f"<p>{text}</p>", account=author, tags=["acme"])
            published[status["id"]] = time.time()
            # paced against the clock, not per sleep, so the rate holds under load
            ahead = started + (i + 1) * gap - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        deadline = time.monotonic() + interval * 3 + 60
        while stored(db) < posts and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - started
        stop.set()
        await task
        await fake.close()
        queued = queued_at(db)
        count = stored(db)
    latencies = [queued[nid] - at for nid, at in published.items() if nid in queued]
    return Run(label, posts, count, len(queued), latencies, len(fake.requests), seconds)


async def bench(args: argparse.Namespace) -> list[Run]:
    busy, quiet = 1 / args.rate, args.gap
    return [
        await run("streaming busy", stream=True, interval=300, posts=args.n, gap=busy),
        await run("streaming quiet", stream=True, interval=300, posts=args.quiet, gap=quiet),
        await run("polling busy", stream=False, interval=args.interval, posts=args.n, gap=busy),
        await run(
            "polling quiet", stream=False, interval=args.interval, posts=args.quiet, gap=quiet
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=positive, default=1000, help="posts in a busy run (default 1000)"
    )
    parser.add_argument("--rate", type=above_zero, default=50.0, help="busy posts per second (50)")
    parser.add_argument("--interval", type=above_zero, default=2.0, help="poll interval, s (2)")
    parser.add_argument("--quiet", type=positive, default=10, help="posts in a quiet run (10)")
    parser.add_argument(
        "--gap", type=above_zero, default=3.0, help="seconds between quiet posts (3)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    runs = asyncio.run(bench(args))
    for r in runs:
        print(r.line())
    stream_p95 = max(r.percentile(95) for r in runs if r.label.startswith("streaming"))
    poll_p95 = max(r.percentile(95) for r in runs if r.label.startswith("polling"))
    print(
        f"targets: streaming p95 {stream_p95:.3f} s < 1 s: "
        f"{'met' if stream_p95 < 1 else 'MISSED'}; polling p95 {poll_p95:.3f} s <= "
        f"interval + 1 s = {args.interval + 1:.0f} s: "
        f"{'met' if poll_p95 <= args.interval + 1 else 'MISSED'}"
    )
    lost = [r.label for r in runs if r.stored != r.posts]
    if lost:
        print(f"NOT ALL POSTS STORED in: {', '.join(lost)}")
    print(f"stream_p95={stream_p95:.3f} poll_p95={poll_p95:.3f}")
    print(f"ratio={stream_p95 / poll_p95:.4f}" if poll_p95 > 0 else "ratio=n/a")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
