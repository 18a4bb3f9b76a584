"""The demo end to end: the daemon on the bundled demo config replays the whole demo
file and leaves a queue a person can work -- reply drafts, callback tasks, thanks."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
from pathlib import Path

from click.testing import CliRunner
from factories import EARFUL

from earful.app import build_runtime
from earful.cli import cli
from earful.daemon import Daemon
from earful.demo import demo_lock, prepare_demo
from earful.pipeline import BatchSummary
from storage.store import Store

DEMO_POSTS = 200  # 202 lines, two of them deliberately broken
OUTAGE = "app down again? can't log in"
PRAISE = "Shoutout to Priya at Lumenet support who sorted my billing mess in 10 minutes flat."


def mention_id(store: Store, handle: str, text: str) -> int:
    rows = store.conn.execute(
        "SELECT id FROM mentions WHERE author_handle = ? AND text LIKE ? || '%'", (handle, text)
    ).fetchall()
    assert len(rows) == 1, (handle, text, rows)
    return int(rows[0][0])


async def test_the_daemon_on_the_demo_config_queues_replies_callbacks_and_thanks(
    tmp_path: Path,
) -> None:
    config = prepare_demo(tmp_path / "demo", interval="50ms", batch=40)
    batches: list[BatchSummary] = []
    finished = asyncio.Event()

    def on_batch(summary: BatchSummary) -> None:
        batches.append(summary)
        if not summary.fetched:  # the replay has reached the end of the file
            finished.set()

    # the end of the replay is the stop signal; the timeout only guards against a hang
    await asyncio.wait_for(Daemon(build_runtime(config), on_batch=on_batch).run(finished), 120)

    assert len(batches) >= DEMO_POSTS // 40 + 1  # a few ticks, not one big gulp
    with Store.open(config.db_path) as store:
        stats = store.stats()
        assert stats.mentions == DEMO_POSTS
        assert set(stats.by_platform) == {"x", "reddit", "mastodon", "bluesky", "hackernews", "rss"}
        pending = store.replies("pending", limit=500)
        assert len(pending) >= 50
        urgencies = [r.urgency for r in pending]
        assert urgencies == sorted(urgencies, reverse=True)

        complaint = mention_id(store, "hannah_writes", OUTAGE)
        (reply,) = [r for r in pending if r.mention_id == complaint]
        assert reply.kind == "reply" and reply.disposition == "interesting_bad"
        assert reply.topic == "outage"
        (callback,) = [c for c in store.callbacks("open", limit=500) if c.mention_id == complaint]
        assert "@hannah_writes" in callback.body

        praise = mention_id(store, "rhi_jones", PRAISE)
        (thanks,) = [r for r in pending if r.mention_id == praise]
        assert thanks.kind == "thanks" and thanks.disposition == "interesting_good"
        praised = store.conn.execute("SELECT mention_id FROM praise").fetchall()
        assert praise in {row[0] for row in praised}
        assert stats.by_disposition["interesting_good"] == len(praised)


def test_demo_once_replays_everything_prints_a_summary_and_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert f"demo: fetched {DEMO_POSTS}, new {DEMO_POSTS} (" in result.stdout
    assert f"mentions: {DEMO_POSTS} (" in result.stdout and "\nnet sentiment: " in result.stdout
    assert "open callbacks: " in result.stdout
    sources = CliRunner().invoke(cli, ["sources", "-c", str(tmp_path / "demo" / "earful.toml")])
    assert sources.exit_code == 0, sources.output
    assert re.search(r"^demo\s+replay\s+ok\s+\d+s ago\s+0$", sources.output, re.M)


def test_demo_once_json_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--once", "--json", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["replayed"]["new"] == summary["stats"]["mentions"] == DEMO_POSTS
    assert summary["replayed"]["ingest"]["callbacks"] == summary["stats"]["open_callbacks"] > 0
    assert (
        summary["stats"]["replies_by_status"]["pending"] == summary["replayed"]["ingest"]["replies"]
    )


def test_demo_never_touches_a_config_or_database_it_did_not_make(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "earful.toml").write_text('[brand]\nname = "Ours"\n', encoding="utf-8")
    (real / "earful.db").write_bytes(b"our data")
    result = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(real)])
    assert result.exit_code == 2
    assert "was not written by `earful demo`" in result.output and "--dir" in result.output
    assert (real / "earful.toml").read_text(encoding="utf-8") == '[brand]\nname = "Ours"\n'
    assert (real / "earful.db").read_bytes() == b"our data"

    (real / "earful.toml").unlink()  # a database on its own is not the demo's either
    result = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(real)])
    assert result.exit_code == 2 and "is not the demo's" in result.output
    assert (real / "earful.db").read_bytes() == b"our data"


def test_demo_starts_afresh_in_its_own_folder(tmp_path: Path) -> None:
    for _ in range(2):  # the second run finds the first run's folder and reuses it
        result = CliRunner().invoke(cli, ["demo", "--once", "--json", "--dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["stats"]["mentions"] == DEMO_POSTS


def test_a_demo_says_when_it_deletes_the_last_ones_data_and_keep_continues_it(
    tmp_path: Path,
) -> None:
    def demo(*flags: str) -> str:
        result = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(tmp_path), *flags])
        assert result.exit_code == 0, result.output
        return result.stderr

    assert "Started afresh" not in demo()  # nothing was there to delete
    with Store.open(tmp_path / "earful.db") as store:
        store.conn.execute("UPDATE replies SET status = 'rejected'")  # a person's decisions
    assert "the last demo's posts and decisions were deleted" in demo()
    with Store.open(tmp_path / "earful.db") as store:
        assert store.stats().replies_by_status.get("rejected", 0) == 0
        store.conn.execute("UPDATE replies SET status = 'rejected'")
        decided = store.stats().replies_by_status["rejected"]
    assert "Started afresh" not in demo("--keep")
    with Store.open(tmp_path / "earful.db") as store:
        assert store.stats().replies_by_status["rejected"] == decided
        assert store.stats().mentions == DEMO_POSTS


def test_a_bad_demo_interval_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--once", "--dir", str(tmp_path), "--interval", "soon"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--interval'" in result.output and "'soon'" in result.output
    assert not (tmp_path / "earful.toml").exists()


def test_a_second_demo_in_a_running_demos_folder_is_refused(tmp_path: Path) -> None:
    first = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    with Store.open(tmp_path / "earful.db") as store:
        stored = store.stats().mentions
    with demo_lock(tmp_path):  # as a running `earful demo` holds it
        second = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(tmp_path)])
    assert second.exit_code == 1 and "a demo is already running in" in second.output
    with Store.open(tmp_path / "earful.db") as store:
        assert store.stats().mentions == stored == DEMO_POSTS  # not started afresh


def test_a_demo_whose_port_is_taken_stops_before_it_shows_a_login(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # the real command: `earful demo` runs the daemon, signal handlers and all
        done = subprocess.run(
            [str(EARFUL), "demo", "--dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1, done.stderr  # a runtime failure: the port may free up
    assert f"console: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Earful demo: replaying mentions" in done.stderr  # it did start
    assert "log in as" not in done.stderr and "password" not in done.stderr
