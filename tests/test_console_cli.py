"""Accounts from the command line, the demo's way in, and the console as a daemon
service."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner, Result

from earful import locks
from earful.app import build_runtime
from earful.cli import cli
from earful.cli.running import _demo_account
from earful.config import Config
from earful.console import ConsoleService
from earful.console.passwords import verify_password
from earful.daemon import Daemon
from earful.demo import prepare_demo
from storage.sessions import find_session, start_session
from storage.store import Store


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return prepare_demo(tmp_path, port=0)


def add(config: Config, *args: str, password: str = "a long password\n") -> Result:
    return CliRunner().invoke(
        cli, ["user", "add", "-c", str(config.path), *args], input=password, catch_exceptions=False
    )


def test_user_add_hashes_the_password_and_never_prints_it(config: Config) -> None:
    result = add(config, "ana", "--role", "agent", "--password-stdin")
    assert result.exit_code == 0, result.output
    assert "a long password" not in result.output
    with Store.open(config.db_path) as store:
        user = store.user("ana")
        assert user.password_hash is not None
        assert user.role == "agent" and user.password_hash.startswith("scrypt$")
        assert verify_password("a long password", user.password_hash)
        assert store.audit_log()[0].action == "user-add"


def test_user_add_prompts_without_echo(config: Config) -> None:
    result = add(config, "ben", "--role", "viewer", password="secret words 1\nsecret words 1\n")
    assert result.exit_code == 0
    assert "secret words" not in result.output


def test_user_add_with_no_password_typed_suggests_password_stdin(config: Config) -> None:
    result = add(config, "bo", "--role", "viewer", password="")  # stdin at its end
    assert result.exit_code == 2 and "--password-stdin" in result.output


def test_user_add_refuses_short_passwords_duplicates_and_bad_roles(config: Config) -> None:
    short = add(config, "cy", "--role", "agent", "--password-stdin", password="short\n")
    assert short.exit_code == 2 and "at least 10" in short.output  # a usage error
    add(config, "cy", "--role", "agent", "--password-stdin")
    again = add(config, "cy", "--role", "agent", "--password-stdin")
    assert again.exit_code == 1 and "already exists" in again.output
    bad = add(config, "dee", "--role", "owner", "--password-stdin")
    assert bad.exit_code == 2


def test_user_add_refuses_a_name_differing_only_in_case(config: Config) -> None:
    add(config, "Bob", "--role", "agent", "--password-stdin")
    again = add(config, "bOB", "--role", "agent", "--password-stdin")
    assert again.exit_code == 1
    assert "a user named 'Bob' already exists; 'bOB' differs from it only in upper" in again.output
    with Store.open(config.db_path) as store:
        assert [a.name for a in store.accounts()] == ["Bob"]


def test_user_passwd_sets_a_new_password(config: Config) -> None:
    add(config, "eve", "--role", "admin", "--password-stdin")
    result = CliRunner().invoke(
        cli,
        ["user", "passwd", "-c", str(config.path), "eve", "--password-stdin"],
        input="a newer password\n",
    )
    assert result.exit_code == 0
    with Store.open(config.db_path) as store:
        assert verify_password("a newer password", store.user("eve").password_hash or "")


def user(config: Config, *args: str) -> Result:
    return CliRunner().invoke(cli, ["user", args[0], "-c", str(config.path), *args[1:]])


def test_user_list_role_disable_enable(config: Config) -> None:
    add(config, "fay", "--role", "admin", "--password-stdin")
    add(config, "gus", "--role", "viewer", "--password-stdin")
    assert user(config, "role", "gus", "agent").output == (
        "gus is now agent; their sessions have ended\n"
    )
    assert "sessions have ended" in user(config, "disable", "gus").output
    listed = user(config, "list").output.splitlines()
    assert [line.split()[:3] for line in listed if line.split()[0] in ("fay", "gus")] == [
        ["fay", "admin", "enabled"],
        ["gus", "agent", "disabled"],
    ]
    # when each was added, as other messages write a time (not "2026-...T10:00:00.000Z")
    (fay,) = [line for line in listed if line.startswith("fay ")]
    assert re.search(r" since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", fay), fay
    assert "a long password" not in user(config, "list", "--json").output
    assert "scrypt" not in user(config, "list", "--json").output
    accounts = {a["name"]: a for a in json.loads(user(config, "list", "--json").output)}
    assert accounts["gus"]["disabled"] is True and accounts["fay"]["disabled"] is False
    assert user(config, "enable", "gus").exit_code == 0
    with Store.open(config.db_path) as store:
        assert not store.user("gus").disabled


def test_user_logout_ends_every_session_of_that_user_only(config: Config) -> None:
    add(config, "ida", "--role", "agent", "--password-stdin")
    add(config, "jo", "--role", "agent", "--password-stdin")
    hour, week = timedelta(hours=1), timedelta(days=7)
    with Store.open(config.db_path) as store:
        idas = [
            start_session(store, store.user("ida").id, ttl=hour, lifetime=week, ip=ip)
            for ip in ("10.0.0.1", "10.0.0.2")
        ]
        jos = start_session(store, store.user("jo").id, ttl=hour, lifetime=week, ip=None)
    result = user(config, "logout", "ida", "--as", "kim")
    assert result.exit_code == 0, result.output
    assert result.output == "ida is logged out everywhere: 2 sessions ended\n"
    with Store.open(config.db_path) as store:
        assert [find_session(store, t, ttl=hour, lifetime=week) for t in idas] == [None, None]
        assert find_session(store, jos, ttl=hour, lifetime=week) is not None
        entry = store.audit_log(subject="user:ida")[0]
        assert (entry.action, entry.actor) == ("user-logout-everywhere", "kim")
    assert user(config, "logout", "ida").output == "ida had no open sessions\n"
    missing = user(config, "logout", "nobody")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_user_commands_refuse_to_lock_the_admins_out(config: Config) -> None:
    add(config, "hal", "--role", "admin", "--password-stdin")
    result = user(config, "disable", "hal")
    assert result.exit_code == 1
    assert "hal is the last enabled admin" in result.output
    missing = user(config, "role", "nobody", "agent")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output
    assert user(config, "role", "hal", "owner").exit_code == 2  # not a role: usage error


def test_the_demo_account_gets_a_fresh_password_each_run(config: Config) -> None:
    first = _demo_account(config)
    second = _demo_account(config)
    assert first != second
    with Store.open(config.db_path) as store:
        stored = store.user("demo").password_hash or ""
        assert verify_password(second, stored) and not verify_password(first, stored)


async def test_the_daemon_serves_the_console_and_stops_it(config: Config) -> None:
    service = ConsoleService(config)
    daemon = Daemon(build_runtime(config), services=[service])
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run(stop))
    for _ in range(200):
        if service.addresses:
            break
        await asyncio.sleep(0.02)
    url = service.addresses[0]
    assert url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http, http.get(url + "/login") as response:
        assert response.status == 200
        assert "Content-Security-Policy" in response.headers
    stop.set()
    await running
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(url + "/login")


async def test_a_taken_port_is_a_clear_runtime_error_systemd_tries_again(config: Config) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = config.__class__(
            **{**config.__dict__, "console": config.console.model_copy(update={"port": port})}
        )
        # locks.Busy is exit code 1 (the unit's RestartPreventExitStatus=2 is for config
        # mistakes): the port's holder may be an old instance about to let it go
        with pytest.raises(locks.Busy, match=f"console: cannot listen on 127.0.0.1:{port}"):
            await ConsoleService(busy)()


async def test_a_console_served_to_the_network_over_plain_http_is_warned_of(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    exposed = config.__class__(
        **{**config.__dict__, "console": config.console.model_copy(update={"host": "0.0.0.0"})}
    )
    stop = await ConsoleService(exposed)()
    await stop()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("listening on 0.0.0.0 over plain HTTP" in said for said in warned), warned
    caplog.clear()
    stop = await ConsoleService(config)()  # 127.0.0.1: nothing to warn of
    await stop()
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []
