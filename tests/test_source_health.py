"""Each source's health, recorded by the daemon and `earful poll`, shown by
`earful sources` and the console: a source disabled for bad credentials, or failing
poll after poll, is visible to the people working the queue, not only in a log."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner, Result
from consolekit import PASSWORD, USERS
from fakes.hn_api import FakeHackerNews
from fakes.mastodon_api import FakeMastodon
from fakes.server import BLOCK_PAGE, Scripted

from earful import locks
from earful.cli import cli
from earful.config import Config, load_config
from earful.console import build_app
from earful.console.passwords import hash_password
from earful.demo import prepare_demo
from storage import health
from storage.store import Store

Client: TypeAlias = TestClient[web.Request, web.Application]
SEARCH = "/api/v1/search_by_date"


def earful(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def hn_config(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    path = tmp_path / "earful.toml"
    path.write_text(
        '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
        f'[[sources]]\nname = "hn"\ntype = "hackernews"\nbase_url = "{base_url}"\n\n' + extra,
        encoding="utf-8",
    )
    return path


# -- the record ------------------------------------------------------------------------


def test_failures_count_up_in_a_row_and_a_good_poll_starts_the_count_over(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "earful.db") as store:
        for _ in range(3):
            health.record_failure(store, "x", "failing", error="502 Bad Gateway", retry_at=None)
        (row,) = health.read(store)
        assert (row.state, row.failures, row.last_ok_at) == ("failing", 3, None)
        health.record_ok(store, "x")
        (row,) = health.read(store)
        assert (row.state, row.failures, row.error) == ("ok", 0, "502 Bad Gateway")
        health.record_failure(store, "x", "disabled", error="401", retry_at=None)
        (row,) = health.read(store)
        assert (row.state, row.failures) == ("disabled", 1)


def test_a_long_or_hostile_error_is_kept_short_and_intact(tmp_path: Path) -> None:
    error = "<script>alert(1)</script>\u202e\x00" + "x" * 10_000
    with Store.open(tmp_path / "earful.db") as store:
        health.record_failure(store, "x", "failing", error=error, retry_at=None)
        (row,) = health.read(store)
    assert row.error is not None and len(row.error) == health.MAX_ERROR
    assert row.error.startswith(error[:100]) and row.error.endswith("...")


def test_a_failure_cannot_be_recorded_as_ok(tmp_path: Path) -> None:
    with Store.open(tmp_path / "earful.db") as store, pytest.raises(ValueError):
        health.record_failure(store, "x", "ok", error="?", retry_at=None)


# -- earful poll and earful sources ------------------------------------------------------


async def test_poll_records_refused_credentials_and_sources_shows_them_then_the_recovery(
    tmp_path: Path,
) -> None:
    async with FakeMastodon() as masto:
        path = tmp_path / "earful.toml"

        def config(token: str) -> None:
            path.write_text(
                '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
                f'[[sources]]\nname = "masto"\ntype = "mastodon"\nbase_url = "{masto.url}"\n'
                f'mode = "mentions"\naccess_token = "{token}"\n',
                encoding="utf-8",
            )

        config("revoked-token")
        refused = await asyncio.to_thread(earful, "poll", "-c", str(path))
        assert refused.exit_code == 1, refused.output
        shown = earful("sources", "-c", str(path))
        assert shown.exit_code == 0, shown.output
        assert re.search(r"^masto\s+mastodon\s+disabled\s+never\s+1$", shown.output, re.M)
        assert "401" in shown.output and "revoked-token" not in shown.output
        assert "fix its credentials and restart Earful" in shown.output

        config(masto.token)
        fine = await asyncio.to_thread(earful, "poll", "-c", str(path))
        assert fine.exit_code == 0, fine.output
    (row,) = json.loads(earful("sources", "-c", str(path), "--json").output)
    assert row["name"] == "masto" and row["type"] == "mastodon"
    assert (row["state"], row["failures"]) == ("ok", 0)
    assert "401" in row["error"] and row["last_ok_at"] > row["last_failed_at"]


async def test_a_source_without_credentials_refused_is_failing_never_disabled(
    tmp_path: Path,
) -> None:
    # one 403 from Hacker News disabled it until a restart, "fix its credentials"
    async with FakeHackerNews() as hn:
        hn.script(SEARCH, Scripted(403, BLOCK_PAGE, content_type="text/html"))
        path = hn_config(tmp_path, hn.url)
        refused = await asyncio.to_thread(earful, "poll", "-c", str(path))
        assert refused.exit_code == 1, refused.output
        shown = earful("sources", "-c", str(path)).output
        assert re.search(r"^hn\s+hackernews\s+failing\s+never\s+1$", shown, re.M), shown
        (row,) = json.loads(earful("sources", "-c", str(path), "--json").output)
        assert row["error"] == (
            "hacker news search_by_date: HTTP 403, refused to answer: the server may be "
            "blocking this address, or want a login"
        )
        assert "credentials" not in shown
        assert (await asyncio.to_thread(earful, "poll", "-c", str(path))).exit_code == 0
    (row,) = json.loads(earful("sources", "-c", str(path), "--json").output)
    assert (row["state"], row["failures"]) == ("ok", 0)


async def test_poll_records_a_rate_limit_with_the_platforms_reset(tmp_path: Path) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=20)).timestamp())
    async with FakeHackerNews() as hn:
        hn.script(SEARCH, Scripted(429, "{}", headers={"X-RateLimit-Reset": str(reset)}))
        path = hn_config(tmp_path, hn.url)
        await asyncio.to_thread(earful, "poll", "-c", str(path))
    (row,) = json.loads(earful("sources", "-c", str(path), "--json").output)
    assert row["state"] == "rate_limited" and "429" in row["error"]
    shown = earful("sources", "-c", str(path)).output
    assert re.search(r"next attempt in (19|20)m", shown), shown


async def test_poll_leaves_the_record_to_a_running_daemon(tmp_path: Path) -> None:
    async with FakeHackerNews() as hn:
        path = hn_config(tmp_path, hn.url)
        db = load_config(path).db_path
        with Store.open(db) as store:
            health.record_failure(store, "hn", "disabled", error="401", retry_at=None)
        # the daemon disabled it and polls it no more: a good `earful poll` (a person
        # testing the new token) must not make it look healthy
        with locks.held(locks.daemon_lock(db), "busy"):
            assert (await asyncio.to_thread(earful, "poll", "-c", str(path))).exit_code == 0
        with Store.open(db) as store:
            assert [h.state for h in health.read(store)] == ["disabled"]
        # no daemon: `earful poll` is the poller, and its record stands
        assert (await asyncio.to_thread(earful, "poll", "-c", str(path))).exit_code == 0
    with Store.open(db) as store:
        assert [h.state for h in health.read(store)] == ["ok"]


def test_an_overdue_attempt_asks_whether_the_daemon_runs(tmp_path: Path) -> None:
    path = hn_config(tmp_path, "http://127.0.0.1:9")
    with Store.open(tmp_path / "earful.db") as store:
        soon = datetime.now(UTC) - timedelta(minutes=1)  # an attempt under way
        health.record_failure(store, "hn", "failing", error="timeout", retry_at=soon)
    assert "next attempt due now" in earful("sources", "-c", str(path)).output
    with Store.open(tmp_path / "earful.db") as store:
        long_ago = datetime.now(UTC) - timedelta(minutes=15)
        health.record_failure(store, "hn", "failing", error="timeout", retry_at=long_ago)
    shown = earful("sources", "-c", str(path)).output
    assert re.search(r"next attempt was due 15m( \d+s)? ago: is the daemon running\?", shown), shown


def test_sources_lists_the_configs_sources_before_their_first_poll_and_old_ones_last(
    tmp_path: Path,
) -> None:
    # an agent's shell: the X token is not set, and the X source is still listed
    path = hn_config(
        tmp_path,
        "http://127.0.0.1:9",
        '[[sources]]\nname = "brand-x"\ntype = "x"\nhandle = "lumenet"\n'
        'bearer_token = "${X_BEARER_TOKEN}"\n',
    )
    with Store.open(tmp_path / "earful.db") as store:
        health.record_failure(store, "old-feed", "disabled", error="gone", retry_at=None)
    result = CliRunner().invoke(
        cli, ["sources", "-c", str(path), "--json"], env={"X_BEARER_TOKEN": ""}
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["type"], r["state"]) for r in rows] == [
        ("hn", "hackernews", "not polled yet"),
        ("brand-x", "x", "not polled yet"),
        ("old-feed", None, "disabled"),
    ]
    text = CliRunner().invoke(cli, ["sources", "-c", str(path)], env={"X_BEARER_TOKEN": ""})
    assert "not in this config" in text.output


def test_a_source_taken_out_of_the_config_has_no_next_attempt(tmp_path: Path) -> None:
    # it said "next attempt due now", then "was due 15m ago: is the daemon running?",
    # of a source nothing will poll again
    path = hn_config(tmp_path, "http://127.0.0.1:9")
    with Store.open(tmp_path / "earful.db") as store:
        soon = datetime.now(UTC) + timedelta(seconds=30)
        health.record_failure(store, "old-feed", "failing", error="timed out", retry_at=soon)
    shown = earful("sources", "-c", str(path)).output
    assert "not in this config" in shown
    assert "next attempt" not in shown


def test_sources_says_when_no_daemon_is_running(tmp_path: Path) -> None:
    # after `systemctl stop earful` every source still read "ok, 20s ago"
    path = hn_config(tmp_path, "http://127.0.0.1:9")
    db = load_config(path).db_path
    with Store.open(db) as store:
        health.record_ok(store, "hn")
    stopped = earful("sources", "-c", str(path))
    assert stopped.exit_code == 0
    assert f"no daemon is running on {db}: these are the states last recorded" in stopped.output
    with locks.held(locks.daemon_lock(db), "busy"):
        running = earful("sources", "-c", str(path))
    assert "no daemon" not in running.output
    json.loads(earful("sources", "-c", str(path), "--json").output)  # --json: rows alone


def test_sources_without_a_database_says_how_to_make_one(tmp_path: Path) -> None:
    result = earful("sources", "-c", str(hn_config(tmp_path, "http://127.0.0.1:9")))
    assert result.exit_code == 2
    assert "there is no database" in result.output


# -- the console -------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return prepare_demo(tmp_path, port=0)


@pytest.fixture
async def client(config: Config) -> AsyncIterator[Client]:
    store = Store.open(config.db_path)
    store.add_user("vera", USERS["vera"], hash_password(PASSWORD), actor="tests")
    async with TestClient(TestServer(build_app(store, config))) as c:
        login = await (await c.get("/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token
        form = {"name": "vera", "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
        assert (await c.post("/login", data=form, allow_redirects=False)).status == 303
        yield c
    store.close()


async def test_the_console_shows_a_disabled_source_on_every_page_and_on_stats(
    client: Client, config: Config
) -> None:
    (name,) = [s.name for s in config.sources]
    queue = await (await client.get("/queue")).text()
    assert 'id="sources-trouble"' not in queue  # healthy, or not polled yet: no badge

    with Store.open(config.db_path) as store:
        health.record_failure(
            store, name, "disabled", error="401 Unauthorized: <b>bad</b>", retry_at=None
        )
    queue = await (await client.get("/queue")).text()
    assert re.search(r'id="sources-trouble">1<', queue)
    stats = await (await client.get("/stats")).text()
    assert f'data-source="{name}" data-state="disabled" class="hot"' in stats
    assert "401 Unauthorized: &lt;b&gt;bad&lt;/b&gt;" in stats  # escaped, never markup
    assert "fix its credentials and restart Earful" in stats

    api = await (await client.get("/api/sources")).json()
    assert [(s["name"], s["state"], s["failures"]) for s in api["items"]] == [(name, "disabled", 1)]


async def test_one_failed_poll_is_no_alarm_but_three_in_a_row_are(
    client: Client, config: Config
) -> None:
    (name,) = [s.name for s in config.sources]
    with Store.open(config.db_path) as store:
        health.record_failure(store, name, "failing", error="timeout", retry_at=None)
        assert 'id="sources-trouble"' not in await (await client.get("/queue")).text()
        health.record_failure(store, name, "failing", error="timeout", retry_at=None)
        health.record_failure(store, name, "failing", error="timeout", retry_at=None)
    assert re.search(r'id="sources-trouble">1<', await (await client.get("/queue")).text())


async def test_sources_api_needs_a_session(config: Config) -> None:
    with Store.open(config.db_path) as store:
        async with TestClient(TestServer(build_app(store, load_config(config.path)))) as c:
            assert (await c.get("/api/sources")).status == 401
