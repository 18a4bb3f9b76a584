"""How fast the console's pages are on a big store, against a trivial route.

Fills a fresh SQLite file with --mentions mentions (spread over the last year,
with verdicts, cases, praise, callbacks) and --pending pending drafts by bulk SQL
(the full pipeline would take hours at this size; bench/pipeline.py measures it),
then serves the console in-process on 127.0.0.1 and requests, --n times each:

  queue   GET /queue                 the first page of the pending queue
  queue vip    GET /queue?segment=vip      filtered by a segment 1 post in 97 has
  queue taken  GET /queue?assignee=bench   the cases of one person (none here)
  case    GET /drafts/<id>           a random pending draft with its case
  stats   GET /stats                 the last 30 days of chart series
  praise  GET /praise                the praise wall's first page, newest post first
  praise starred  GET /praise?starred=1   the same, starred testimonials only
  api/me  GET /api/me                the baseline: session check + tiny JSON

Server time is measured by a middleware around the whole app (session lookup
included); the round trip through a local client is printed too. The last line is
`ratio=<worst page p95 / baseline p95>`.

    python bench/console.py [--mentions 1000000] [--pending 100000] [--n 200] [--db FILE]

--db keeps the filled store for later runs; it is marked as this bench's (SQLite's
application_id), and an existing file without the mark is refused: the bench adds a
user, a session and audit rows, and must never do that to a real Earful database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from argtypes import at_least, positive
from pipeline import generate_texts

from earful.config import parse_config
from earful.console import build_app
from earful.console.security import SESSION_COOKIE
from storage.db import iso
from storage.sessions import start_session
from storage.store import Store

DISPOSITIONS = [("ignore", 45), ("interesting_bad", 30), ("interesting_good", 15), ("question", 10)]
TOPICS = ["outage", "billing", "delivery", "support", "product", "account", None]
PLATFORMS = ["x", "reddit", "mastodon", "bluesky"]
# SQLite's application_id of a store this bench filled ("EBnc"): --db reuses only those.
BENCH_MARK = 0x45426E63


def dispositions_for(mentions: int, seed: int = 5) -> list[str]:
    """Each mention's disposition, known before anything is written (--pending needs
    that many actionable mentions)."""
    names, weights = zip(*DISPOSITIONS, strict=True)
    return random.Random(seed).choices(names, weights, k=mentions)


def most_pending(dispositions: list[str]) -> int:
    """The largest --pending the mentions can hold: each pending draft, and the half as
    many sent and quarter as many rejected that go with it, answers an actionable one."""
    actionable = sum(d != "ignore" for d in dispositions)
    pending = actionable * 4 // 7 + 2  # a little over: 7/4 of it is more than them all
    while pending + pending // 2 + pending // 4 > actionable:
        pending -= 1
    return pending


def fill(store: Store, dispositions: list[str], pending: int, seed: int = 5) -> dict[str, float]:
    """Bulk rows straight into the tables, in the shapes Store.ingest writes."""
    rng = random.Random(seed)
    texts = generate_texts(2000)
    now = datetime.now(UTC)
    mentions = len(dispositions)
    conn = store.conn
    counts: dict[str, float] = {"mentions": mentions}

    def rows() -> Iterator[tuple[object, ...]]:
        for i in range(1, mentions + 1):
            created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
            handle = f"user{rng.randint(1, 200_000)}"
            text = f"{texts[i % len(texts)]} #{i % 9973}"
            yield (
                i,
                PLATFORMS[i % 4],
                str(10**12 + i),
                "bench",
                f"https://x.com/{handle}/status/{10**12 + i}",
                handle,
                handle.title(),
                rng.randint(0, 100_000),
                text,
                iso(created),
                iso(created),
                str(10**12 + i),
            )

    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO mentions (id, platform, native_id, source, url, author_handle, "
        "author_name, author_followers, text, created_at, fetched_at, conversation_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    conn.executemany(
        "INSERT INTO verdicts (mention_id, disposition, compound, score, labels, topic, urgency, "
        "interest, segment, actions, reasons) VALUES (?, ?, 0, 0, '[]', ?, ?, ?, ?, '[]', "
        '\'[{"rule":"bench","detail":"generated","weight":0}]\')',
        (
            (
                i + 1,
                d,
                rng.choice(TOPICS) if d == "interesting_bad" else None,
                rng.randint(0, 100),
                rng.randint(0, 100),
                "vip" if i % 97 == 0 else None,
            )
            for i, d in enumerate(dispositions)
        ),
    )
    # what Store.ingest keeps up to date batch by batch, rolled up at once here
    conn.execute(
        "INSERT INTO mention_days (day, disposition, topic, mentions) "
        "SELECT substr(m.created_at, 1, 10), v.disposition, coalesce(v.topic, ''), count(*) "
        "FROM mentions m JOIN verdicts v ON v.mention_id = m.id "
        "WHERE m.created_at IS NOT NULL GROUP BY 1, 2, 3"
    )
    actionable = [i + 1 for i, d in enumerate(dispositions) if d != "ignore"]
    rng.shuffle(actionable)
    sent = pending // 2
    rejected = pending // 4
    replied = actionable[: pending + sent + rejected]
    # one case per replied mention; a few escalated
    conn.executemany(
        "INSERT INTO cases (id, platform, author_handle, conversation, status, disposition, "
        "urgency, first_mention_at, opened_at, updated_at) SELECT ?, platform, author_handle, "
        "native_id, ?, 'interesting_bad', 50, created_at, created_at, created_at "
        "FROM mentions WHERE id = ?",
        ((n + 1, "escalated" if n % 200 == 0 else "open", m) for n, m in enumerate(replied)),
    )
    conn.executemany(
        "UPDATE mentions SET case_id = ? WHERE id = ?",
        ((n + 1, m) for n, m in enumerate(replied)),
    )
    statuses = ["pending"] * pending + ["sent"] * sent + ["rejected"] * rejected
    conn.executemany(
        "INSERT INTO replies (case_id, mention_id, kind, body, drafted_body, reason, status, "
        "urgency, interest, created_at, sent_at, decided_by, decided_at) "
        "SELECT ?, m.id, 'reply', ?, ?, 'complaint', ?, v.urgency, v.interest, m.created_at, "
        "CASE WHEN ? = 'sent' THEN strftime('%Y-%m-%dT%H:%M:%fZ', m.created_at, '+2 hours') END, "
        "CASE WHEN ? != 'pending' THEN 'bench' END, "
        "CASE WHEN ? != 'pending' THEN m.created_at END "
        "FROM mentions m JOIN verdicts v ON v.mention_id = m.id WHERE m.id = ?",
        (
            (n + 1, "Sorry about that, we're on it.", "Sorry about that.", s, s, s, s, m)
            for n, (m, s) in enumerate(zip(replied, statuses, strict=True))
        ),
    )
    conn.execute(
        "INSERT INTO praise (mention_id, posted_at) SELECT v.mention_id, m.created_at "
        "FROM verdicts v JOIN mentions m ON m.id = v.mention_id "
        "WHERE v.disposition = 'interesting_good'"
    )
    # a few hundred testimonials, as a team stars the best
    conn.execute("UPDATE praise SET starred = 1 WHERE mention_id % 500 = 0")
    conn.executemany(
        "INSERT INTO callbacks (case_id, mention_id, body, status, urgency, created_at) "
        "VALUES (?, ?, 'Call them back', 'open', 50, ?)",
        ((n + 1, m, iso(now)) for n, m in enumerate(replied[:20_000])),
    )
    conn.execute(f"PRAGMA application_id = {BENCH_MARK}")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    counts.update(
        replies=len(replied),
        pending=pending,
        cases=len(replied),
        seconds=time.perf_counter() - started,
    )
    return counts


Timer = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def measure(store: Store, config_path: Path, n: int, seed: int = 9) -> dict[str, list[float]]:
    config = parse_config({"brand": {"name": "Acme"}}, config_path, {})
    app = build_app(store, config)
    server_times: list[float] = []

    @web.middleware
    async def timed(request: web.Request, handler: Timer) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            server_times.append(time.perf_counter() - started)

    app.middlewares.insert(0, timed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"

    if not store.conn.execute("SELECT 1 FROM users WHERE name = 'bench'").fetchone():
        store.add_user("bench", "admin", "unused", actor="bench")
    token = start_session(
        store, store.user("bench").id, ttl=timedelta(hours=1), lifetime=timedelta(hours=1), ip=None
    )
    rng = random.Random(seed)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM replies WHERE status = 'pending'")]
    targets: dict[str, Callable[[], str]] = {
        "api/me": lambda: "/api/me",
        "queue": lambda: "/queue",
        # the filters that match few drafts (a segment, one person's cases)
        "queue vip": lambda: "/queue?segment=vip",
        "queue taken": lambda: "/queue?assignee=bench",
        "case": lambda: f"/drafts/{rng.choice(ids)}",
        "stats": lambda: "/stats",
        "praise": lambda: "/praise",
        "praise starred": lambda: "/praise?starred=1",
    }
    results: dict[str, list[float]] = {}
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: token}) as http:
        for name, path in targets.items():
            for _ in range(5):  # warm up caches and the connection
                async with http.get(base + path()) as response:
                    await response.read()
            server_times.clear()
            trips = []
            for _ in range(n):
                started = time.perf_counter()
                async with http.get(base + path()) as response:
                    await response.read()
                    assert response.status == 200, (name, response.status)
                trips.append(time.perf_counter() - started)
            results[name] = list(server_times)
            results[name + " (round trip)"] = trips
    await runner.cleanup()
    return results


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def is_bench_store(path: Path) -> bool:
    """Whether `path` is a store this bench filled (read only: nothing else is touched)."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return bool(conn.execute("PRAGMA application_id").fetchone()[0] == BENCH_MARK)
    except sqlite3.Error:
        return False  # not a database at all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=positive, default=1_000_000)
    parser.add_argument("--pending", type=positive, default=100_000)
    # the percentiles need two timings at least
    parser.add_argument("--n", type=at_least(2), default=200, help="requests per page (200)")
    parser.add_argument(
        "--db", type=Path, default=None, help="fill this file once and reuse it on later runs"
    )
    args = parser.parse_args(argv)
    reuse = args.db is not None and args.db.exists()
    if reuse and not is_bench_store(args.db):
        parser.error(
            f"--db {args.db}: exists and is not a store this bench filled; give a new file "
            "name (the bench adds a user, a session and audit rows to the store it uses)"
        )
    dispositions = [] if reuse else dispositions_for(args.mentions)
    if not reuse and args.pending > most_pending(dispositions):
        parser.error(
            f"--pending {args.pending}: --mentions {args.mentions} hold at most "
            f"{most_pending(dispositions)} (a pending draft answers a complaint, praise or "
            "question, and half as many sent and a quarter as many rejected go with them)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        with Store.open(path) as store:
            if reuse:
                print(f"store: reusing {path}")
            else:
                made = fill(store, dispositions, args.pending)
                print(
                    f"store: {made['mentions']:,} mentions, {made['replies']:,} replies "
                    f"({made['pending']:,} pending), {made['cases']:,} cases; "
                    f"filled in {made['seconds']:.0f} s"
                )
            results = asyncio.run(measure(store, Path(tmp) / "earful.toml", args.n))
    base = pct(results["api/me"], 95)
    worst = 0.0
    print(f"{'route':<24} {'p50 ms':>8} {'p95 ms':>8} {'x baseline p95':>15}")
    for name, values in results.items():
        p50, p95 = pct(values, 50), pct(values, 95)
        if "(" not in name and name != "api/me":
            worst = max(worst, p95)
        print(f"{name:<24} {p50:8.1f} {p95:8.1f} {p95 / base:15.1f}")
    print(f"target: p95 < 150 ms for every page; worst p95 {worst:.1f} ms")
    print(f"ratio={worst / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
