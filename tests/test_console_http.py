"""The console's server-side rules over HTTP (no browser): every route has a role,
sessions, CSRF, roles, rate limits, headers, and clear errors."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from consolekit import PASSWORD, USERS, Clock, refused_alert
from factories import complaint, mention, praise

from earful.cli import cli
from earful.config import Config
from earful.console import build_app
from earful.console.app import settings_from
from earful.console.auth import KDF, KDF_WORKERS, LIMITER, LOGIN_COOKIE, LOGIN_QUEUE
from earful.console.passwords import hash_password, verify_password
from earful.console.security import BACKGROUND_HEADER, CSP, SESSION_COOKIE
from earful.demo import prepare_demo
from responders.drafts import Draft, DraftKind
from responders.limits import LIMITS
from storage import health, queries
from storage.db import shown_time
from storage.sessions import find_session, start_session
from storage.store import Store

_HASH = hash_password(PASSWORD)  # once: scrypt is deliberately slow
WEEK = timedelta(days=7)  # the default session_lifetime

Client: TypeAlias = TestClient[web.Request, web.Application]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return prepare_demo(tmp_path, port=0)


@pytest.fixture
def store(config: Config) -> Store:
    s = Store.open(config.db_path)
    s.ingest(
        "x",
        [
            complaint(mention("my internet is down", native_id="1", handle="ana"), urgency=60),
            complaint(mention("still down, furious", native_id="2", handle="ben"), urgency=30),
            praise(mention('=HYPERLINK("http://evil") love it', native_id="3", handle="cy")),
            complaint(mention("broken \ud800 surrogate", native_id="4", handle="dee")),
        ],
        None,
    )
    for name, role in USERS.items():
        s.add_user(name, role, _HASH, actor="tests")
    return s


@pytest.fixture
async def client(store: Store, config: Config) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(store, config))) as c:
        yield c
    store.close()


async def login(client: Client, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    response = await client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1), "next": "/"},
        allow_redirects=False,
    )
    if response.status != 303:
        return ""
    page = await (await client.get("/queue")).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert csrf
    return csrf.group(1)


async def post(
    client: Client, path: str, csrf: str | None, body: object = None
) -> aiohttp.ClientResponse:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return await client.post(path, json=body if body is not None else {}, headers=headers)


def routes(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method != "HEAD":
            out.append((route.method, str(path)))
    return out


def test_every_route_is_marked_with_a_role_or_public(store: Store, config: Config) -> None:
    app = build_app(store, config)
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource):
            continue
        assert hasattr(route.handler, "earful_role"), f"{route.method} {route.resource}"
    store.close()


async def test_without_a_session_pages_redirect_and_the_api_says_401(client: Client) -> None:
    for method, path in routes(client.app):
        if path in ("/login", "/healthz", "/static/") or path.startswith("/static"):
            continue
        concrete = path.replace("{id}", "1")
        response = await client.request(method, concrete, allow_redirects=False)
        if concrete.startswith("/api/") or concrete.endswith(".csv"):
            assert response.status == 401, (method, concrete)
        else:
            assert response.status in (302, 303) and "/login" in response.headers["Location"]


async def test_a_monitor_sees_the_database_and_the_sources_without_a_login(
    client: Client, store: Store, config: Config
) -> None:
    (source,) = [s.name for s in config.sources]
    first = await client.get("/healthz")
    assert first.status == 200
    assert await first.json() == {
        "status": "ok",
        "database": "ok",
        "sources": {source: "not polled yet"},
    }
    health.record_failure(store, source, "disabled", error="401: bad token sk-123", retry_at=None)
    degraded = await (await client.get("/healthz")).json()
    assert degraded["status"] == "degraded" and degraded["sources"] == {source: "disabled"}
    assert "sk-123" not in json.dumps(degraded)  # no error text for the public
    config.db_path.rename(config.db_path.with_suffix(".moved"))
    down = await client.get("/healthz")
    assert down.status == 503
    assert await down.json() == {
        "status": "down",
        "database": "the database file was deleted, moved or replaced",
    }


async def test_session_cookie_is_httponly_and_samesite_strict(client: Client) -> None:
    form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert response.headers["Location"] == "/"


async def test_every_response_carries_the_security_headers(client: Client) -> None:
    for path in ("/login", "/static/console.js", "/api/me", "/queue"):
        response = await client.get(path, allow_redirects=False)
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP


async def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    client: Client, store: Store
) -> None:
    await login(client, "root")
    posts = [p.replace("{id}", "1") for m, p in routes(client.app) if m == "POST"]
    assert len(posts) >= 10
    for path in posts:
        if path == "/login":
            continue
        for token in (None, "wrong"):
            response = await post(client, path, token, {"reason": "x", "starred": True})
            assert response.status == 403, path
    assert store.reply(1).status == "pending"
    assert [a.action for a in store.audit_log()] == ["login", *["user-add"] * len(USERS)]


async def test_the_login_form_needs_its_own_token(client: Client) -> None:
    response = await client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert response.status == 403
    assert SESSION_COOKIE not in response.cookies


async def test_roles_are_enforced_on_the_server(client: Client, store: Store) -> None:
    csrf = await login(client, "vera")
    for path, body in (
        ("/api/drafts/1/approve", {}),
        ("/api/drafts/1/reject", {"reason": "no"}),
        ("/api/drafts/reject", {"ids": [1], "reason": "no"}),
        ("/api/drafts/1/edit", {"body": "hi"}),
        ("/api/cases/1/assign", {"assignee": "alice"}),
        ("/api/cases/1/escalate", {}),
        ("/api/cases/1/resolve", {}),
        ("/api/callbacks/1/done", {}),
        ("/api/drafts/1/retry", {}),
        ("/api/drafts/1/reopen", {}),
        ("/api/drafts/1/mark-sent", {"posted_id": "9"}),
        ("/api/alerts/1/retry", {}),
        ("/api/alerts/1/mark-sent", {}),
    ):
        response = await post(client, path, csrf, body)
        assert response.status == 403, path
        assert "needs the agent role" in (await response.json())["error"]
    assert (await client.get("/api/audit")).status == 403
    assert (await client.get("/audit")).status == 403
    # what a viewer may do: read, and star praise
    assert (await client.get("/api/queue")).status == 200
    assert (await post(client, "/api/praise/3/star", csrf, {"starred": True})).status == 200
    assert store.reply(1).status == "pending"


async def test_an_agent_cannot_read_the_audit_log_but_an_admin_can(client: Client) -> None:
    await login(client, "alice")
    assert (await client.get("/api/audit")).status == 403
    await client.post("/logout", data={"csrf_token": await login(client, "alice")})
    await login(client, "root")
    assert (await client.get("/api/audit")).status == 200


async def test_second_approval_is_told_who_decided(client: Client, store: Store) -> None:
    store.approve(1, "bob")
    csrf = await login(client, "alice")
    response = await post(client, "/api/drafts/1/approve", csrf)
    assert response.status == 409
    assert "already approved by bob" in (await response.json())["error"]


async def test_several_drafts_rejected_at_once_the_decided_ones_are_named(
    client: Client, store: Store
) -> None:
    store.approve(2, "bob")
    csrf = await login(client, "alice")
    response = await post(
        client, "/api/drafts/reject", csrf, {"ids": [1, 2, 999, 3, 1], "reason": "spam wave"}
    )
    assert response.status == 200
    data = await response.json()
    assert data["rejected"] == [1, 3]
    assert [r["id"] for r in data["refused"]] == [2, 999]
    assert "already approved by bob" in data["refused"][0]["error"]
    assert "no reply with id 999" in data["refused"][1]["error"]
    assert data["counts"]["pending"] == 1
    for reply_id in (1, 3):
        rejected = store.reply(reply_id)
        assert (rejected.status, rejected.decided_by, rejected.reject_reason) == (
            "rejected",
            "alice",
            "spam wave",
        )
    assert store.reply(2).status == "approved" and store.reply(4).status == "pending"
    for body in (
        {"ids": [4]},  # no reason
        {"ids": [], "reason": "x"},
        {"ids": ["4"], "reason": "x"},
        {"ids": [True], "reason": "x"},
        {"ids": [0], "reason": "x"},
        {"ids": list(range(1, 202)), "reason": "x"},
        {"ids": 4, "reason": "x"},
    ):
        bad = await post(client, "/api/drafts/reject", csrf, body)
        assert bad.status == 400, body
    assert store.reply(4).status == "pending"


async def test_a_rejection_can_close_the_callback_task_drafted_with_the_reply(
    client: Client, store: Store
) -> None:
    def open_tasks() -> list[str]:
        return sorted(c.author_handle or "" for c in store.callbacks("open"))

    csrf = await login(client, "alice")
    kept = await post(client, "/api/drafts/1/reject", csrf, {"reason": "we'll call instead"})
    assert (await kept.json())["closed_tasks"] == []
    assert open_tasks() == ["ana", "ben", "dee"]  # rejecting a reply leaves its call

    one = await post(
        client, "/api/drafts/2/reject", csrf, {"reason": "not a customer", "close_task": True}
    )
    assert one.status == 200
    (task,) = (await one.json())["closed_tasks"]
    done = [c for c in store.callbacks("done") if c.id == task]
    assert done[0].author_handle == "ben" and done[0].done_by == "alice"
    assert store.audit_log(subject=f"callback:{task}")[0].action == "callback-done"

    many = await post(
        client, "/api/drafts/reject", csrf, {"ids": [4], "reason": "spam", "close_task": True}
    )
    assert len((await many.json())["closed_tasks"]) == 1
    assert open_tasks() == ["ana"]
    bad = await post(client, "/api/drafts/3/reject", csrf, {"reason": "x", "close_task": "yes"})
    assert bad.status == 400 and store.reply(3).status == "pending"

    undo = await post(client, "/api/drafts/2/reopen", csrf, {})
    assert undo.status == 200
    assert (await undo.json())["reopened_tasks"] == [task]
    assert store.reply(2).status == "pending" and open_tasks() == ["ana", "ben"]
    again = await post(client, "/api/drafts/2/reopen", csrf, {})
    assert again.status == 409


async def test_next_and_previous_keep_to_the_queue_the_agent_chose(
    client: Client, store: Store
) -> None:
    # the whole queue: 1 (urgency 60), 4 (40), 2 (30), 3 (praise, 5); "down" is in 1 and 2
    csrf = await login(client, "alice")
    whole = await (await client.get("/drafts/1")).text()
    assert 'href="/drafts/4" id="next"' in whole and 'href="/queue" id="to-queue"' in whole
    chosen = await (await client.get("/drafts/1?q=down&status=pending&topic=")).text()
    assert 'href="/drafts/2?q=down&amp;status=pending" id="next"' in chosen
    assert 'href="/queue?q=down&amp;status=pending" id="to-queue"' in chosen
    back = await (await client.get("/drafts/2?q=down")).text()
    assert 'href="/drafts/1?q=down" id="prev"' in back and 'id="next"' not in back
    listed = await (await client.get("/queue?q=down")).text()
    assert 'href="/drafts/1?q=down"' in listed and 'href="/drafts/4' not in listed
    # after a decision, the next draft is the next in that queue too
    # a filter the queue could not show is refused before anything is decided
    bogus = await post(client, "/api/drafts/1/reject?status=bogus", csrf, {"reason": "dup"})
    assert bogus.status == 400 and store.reply(1).status == "pending"
    rejected = await post(client, "/api/drafts/1/reject?q=down", csrf, {"reason": "dup"})
    assert (await rejected.json())["next"] == 2
    approved = await post(client, "/api/drafts/4/approve", csrf)
    assert (await approved.json())["next"] == 2  # the whole queue: 2 is next after 4
    # after the queue's last draft, j goes to the nearest still above it, not nowhere
    order = [r["id"] for r in (await (await client.get("/api/queue")).json())["items"]]
    assert len(order) >= 2
    last = await post(client, f"/api/drafts/{order[-1]}/approve", csrf)
    assert (await last.json())["next"] == order[-2]


async def test_a_filter_the_queue_does_not_know_is_an_error_not_an_empty_queue(
    client: Client,
) -> None:
    # an old bookmark's platform=twitter showed "Nothing here" while drafts waited
    await login(client, "alice")
    for query, said in (
        ("platform=twitter", 'no platform "twitter": the platforms are '),
        ("disposition=complaint", 'no disposition "complaint": the dispositions are '),
    ):
        page = await client.get(f"/queue?{query}")
        assert page.status == 400, query
        assert said in html.unescape(await page.text()), query
        assert (await client.get(f"/api/queue?{query}")).status == 400, query
    assert (await client.get("/queue?platform=x&topic=billing&disposition=question")).status == 200
    # topics and segments are open lists: a rule file's new one, or one retired while
    # drafts keep it, still filters
    assert (await client.get("/api/queue?topic=general&segment=partner")).status == 200
    # an empty search says what search reads, and which filters are still on
    empty = html.unescape(await (await client.get("/queue?q=sarcastic_sid&platform=x")).text())
    assert "search “@handle” for a customer's own posts" in empty
    assert "with x still chosen above" in empty
    # which finds them: ben's post does not say "ben"
    found = await (await client.get("/api/queue?q=@Ben")).json()
    assert [item["text"] for item in found["items"]] == ["still down, furious"]


async def test_bad_requests_get_clear_errors(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    too_long = await post(client, "/api/drafts/1/approve", csrf, {"body": "x" * 281})
    assert too_long.status == 422 and "x allows 280" in (await too_long.json())["error"]
    no_reason = await post(client, "/api/drafts/1/reject", csrf, {})
    assert no_reason.status == 400 and "reason" in (await no_reason.json())["error"]
    not_json = await client.post(
        "/api/drafts/1/reject", data="reason=x", headers={"X-CSRF-Token": csrf}
    )
    assert not_json.status in (403, 415)  # a form post is refused either way
    missing = await post(client, "/api/drafts/999/approve", csrf)
    assert missing.status == 404 and "no reply with id 999" in (await missing.json())["error"]
    assert (await client.get("/drafts/999")).status == 404
    assert (await client.get("/api/queue?since=soon")).status == 400
    assert store.reply(1).status == "pending"


async def test_login_is_rate_limited_per_name_and_address(client: Client) -> None:
    for _ in range(5):
        assert await login(client, "lockme", "wrong") == ""
    form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    refused = await client.post(
        "/login", data={"name": "lockme", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert await login(client, "alice") != ""  # other accounts are not locked out


async def _log_in_from(client: Client, name: str, password: str, forwarded: str) -> int:
    """A login through a proxy that says the client's address in X-Forwarded-For."""
    form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": forwarded},
        allow_redirects=False,
    )
    return response.status


@pytest.mark.parametrize("forwarded_for", [True, False])
async def test_behind_a_proxy_the_login_limit_counts_each_client_apart(
    store: Store, config: Config, forwarded_for: bool
) -> None:
    """Behind a TLS proxy every client has the proxy's address: without
    forwarded_for, five wrong guesses from anyone lock the account for everyone."""
    settings = dataclasses.replace(settings_from(config), forwarded_for=forwarded_for)
    async with TestClient(TestServer(build_app(store, config, settings=settings))) as client:
        for _ in range(5):
            assert await _log_in_from(client, "alice", "wrong", "203.0.113.9") == 401
        # what a client writes before the proxy's own entry is not believed
        assert await _log_in_from(client, "alice", PASSWORD, "198.51.100.1, 203.0.113.9") == 429
        other = await _log_in_from(client, "alice", PASSWORD, "198.51.100.1")
        assert other == (303 if forwarded_for else 429)
    if forwarded_for:
        logins = [a for a in store.audit_log(subject="user:alice") if a.action == "login"]
        assert '"ip":"198.51.100.1"' in (logins[0].detail or "")
    store.close()


async def test_a_forwarded_address_with_its_port_is_the_clients_address(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """Some proxies append the client's port: "1.2.3.4:5678" was no address, so the
    limit quietly counted the proxy's own (every client's) again."""
    settings = dataclasses.replace(settings_from(config), forwarded_for=True)
    async with TestClient(TestServer(build_app(store, config, settings=settings))) as client:
        for _ in range(5):
            assert await _log_in_from(client, "alice", "wrong", "203.0.113.9:40000") == 401
        assert await _log_in_from(client, "alice", PASSWORD, "[2001:db8::7]:40001") == 303
        assert await _log_in_from(client, "alice", PASSWORD, "198.51.100.1:40002") == 303
        caplog.set_level(logging.WARNING, logger="earful.console")
        assert await _log_in_from(client, "alice", PASSWORD, "unknown") == 303
    assert "X-Forwarded-For 'unknown' names no address" in caplog.text
    logins = [a for a in store.audit_log(subject="user:alice") if a.action == "login"]
    assert any('"ip":"2001:db8::7"' in (a.detail or "") for a in logins)
    store.close()


async def test_a_password_typed_into_the_name_box_is_not_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="earful.console")
    assert await login(client, "Tr0ub4dor&3-alice", "wrong") == ""
    assert await login(client, "alice", "wrong") == ""
    assert "Tr0ub4dor" not in caplog.text
    assert "failed console login for a name that is no account" in caplog.text
    assert "failed console login for 'alice'" in caplog.text  # an account's name is


async def test_logout_ends_the_session_on_the_server(client: Client) -> None:
    csrf = await login(client, "alice")
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token})  # replay the old cookie
    assert (await client.get("/api/me")).status == 401


async def test_login_never_redirects_off_site(client: Client) -> None:
    form = await (await client.get("/login?next=//evil.example/")).text()
    assert 'name="next" value="/"' in form


async def test_queue_polling_returns_only_newer_drafts(client: Client, store: Store) -> None:
    await login(client, "alice")
    data = await (await client.get("/api/queue?since=2")).json()
    assert [item["id"] for item in data["items"]] == [4, 3]  # most urgent first
    assert data["latest"] == 4 and data["counts"]["pending"] == 4


async def test_queue_items_carry_their_posts_time_and_their_cases_assignee(
    client: Client, store: Store
) -> None:
    await login(client, "alice")
    reply = store.reply(1)
    assert reply.case_id is not None
    store.assign_case(reply.case_id, "bob", "bob")
    items = {i["id"]: i for i in (await (await client.get("/api/queue")).json())["items"]}
    assert items[1]["posted_at"] == "2026-11-20T09:00:00.000Z"  # the post's, not the draft's
    assert items[1]["assignee"] == "bob"
    assert items[4]["assignee"] is None
    page = await (await client.get("/queue")).text()
    assert "taken by bob" in page
    assert 'datetime="2026-11-20T09:00:00.000Z"' in page


async def test_a_lead_sees_each_persons_drafts_and_tasks_and_those_nobody_took(
    client: Client, store: Store
) -> None:
    # "who is working on what": the queue and callbacks had no filter by who has the
    # case, and every callback said assignee null, whoever had its case
    await login(client, "root")
    store.assign_case(store.reply(1).case_id or 0, "root", "bob")
    store.set_disabled("bob", True, actor="root")  # gone home sick: his work must still show
    taken = await (await client.get("/api/queue?assignee=bob")).json()
    assert [i["id"] for i in taken["items"]] == [1]
    free = await (await client.get("/api/queue?assignee=not+taken")).json()
    assert 1 not in [i["id"] for i in free["items"]] and free["items"]
    tasks = (await (await client.get("/api/callbacks")).json())["items"]
    assert {t["case_id"]: t["assignee"] for t in tasks}[store.reply(1).case_id] == "bob"
    bobs = (await (await client.get("/api/callbacks?assignee=bob")).json())["items"]
    assert [t["case_id"] for t in bobs] == [store.reply(1).case_id]
    page = await (await client.get("/callbacks?assignee=bob")).text()
    assert page.count("data-callback=") == 1 and '<td class="assignee">bob</td>' in page
    # the disabled account is offered in the filters, since it still holds a case
    queue = await (await client.get("/queue")).text()
    assert "<option>bob</option>" in queue and "<option>not taken</option>" in queue
    assert "<option selected>bob</option>" in page
    none = await (await client.get("/queue?assignee=alice")).text()
    assert "with taken by alice still chosen above" in none
    bad = await client.get("/api/queue?assignee=a+b")
    assert bad.status == 400 and "assignee must be" in (await bad.json())["error"]


async def test_a_case_held_by_a_disabled_account_shows_them_in_the_assign_list(
    client: Client, store: Store
) -> None:
    # the page said "assignee bob" while its assign list showed "nobody" chosen
    await login(client, "root")
    store.assign_case(store.reply(1).case_id or 0, "root", "bob")
    store.set_disabled("bob", True, actor="root")
    page = await (await client.get("/drafts/1")).text()
    select = page[
        page.index('<select id="assignee"') : page.index(
            "</select>", page.index('<select id="assignee"')
        )
    ]
    assert "<option selected>bob</option>" in select and select.count("selected") == 1


async def test_odd_unicode_renders(client: Client) -> None:
    await login(client, "alice")
    page = await client.get("/queue")
    assert page.status == 200
    assert "broken \\ud800 surrogate" in await page.text()
    api = await client.get("/api/drafts/4")
    assert (await api.json())["mention"]["text"] == "broken \ud800 surrogate"


async def test_an_edited_post_reads_as_edited_with_the_words_it_was_judged_on(
    client: Client, store: Store
) -> None:
    (draft,) = [r for r in store.replies("pending") if r.native_id == "1"]
    edit = dataclasses.replace(
        mention("internet is back, never mind", native_id="1", handle="ana"), version_id="9"
    )
    store.ingest("x", [], None, [edit])
    await login(client, "alice")
    page = await (await client.get(f"/drafts/{draft.id}")).text()
    assert "internet is back, never mind" in page
    assert 'judged as it read before: <span dir="auto">my internet is down</span>' in page
    api = await (await client.get(f"/api/drafts/{draft.id}")).json()
    assert (api["mention"]["text"], api["mention"]["judged_text"]) == (
        "internet is back, never mind",
        "my internet is down",
    )


async def test_csv_export_keeps_formulas_as_text(client: Client) -> None:
    await login(client, "vera")
    response = await client.get("/praise.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = await response.text()
    assert "'=HYPERLINK" in text


async def test_the_starred_walls_download_holds_only_the_starred(
    client: Client, store: Store
) -> None:
    await login(client, "vera")
    response = await client.get("/praise.csv?starred=1")
    only = await response.text()
    assert only.splitlines()[1:] == []  # nothing starred yet: the header alone
    # saved beside the whole wall's download, not as "earful-praise (1).csv"
    named = 'attachment; filename="earful-praise-starred.csv"'
    assert response.headers["Content-Disposition"] == named
    everything = await client.get("/praise.csv")
    assert everything.headers["Content-Disposition"] == 'attachment; filename="earful-praise.csv"'
    store.star_praise(3, "vera")
    (row,) = (await (await client.get("/praise.csv?starred=true")).text()).splitlines()[1:]
    assert row.startswith("3,")
    assert (
        '<a href="/praise.csv?starred=1" download>'
        in await (await client.get("/praise?starred=1")).text()
    )
    assert (await client.get("/praise.csv?starred=maybe")).status == 400


async def test_the_cli_exports_the_bytes_the_console_downloads(
    client: Client, store: Store, config: Config
) -> None:
    # a truncated emoji, as platforms send them: raw, it made the file fail strict
    # UTF-8 readers (Python's csv, pandas, iconv) as a whole
    store.ingest("x", [praise(mention("brilliant \ud83d thank you", native_id="9"))], None)
    await login(client, "vera")
    download = await (await client.get("/praise.csv")).read()
    target = config.path.parent / "praise.csv"
    result = CliRunner().invoke(
        cli, ["export", "praise", "-o", str(target), "-c", str(config.path)]
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == download
    assert "brilliant \\ud83d thank you" in download.decode("utf-8")
    stdout = CliRunner().invoke(cli, ["export", "praise", "-c", str(config.path)]).stdout_bytes
    assert stdout == download


async def test_starred_is_yes_or_no_and_anything_else_is_refused(client: Client) -> None:
    csrf = await login(client, "vera")
    assert (await post(client, "/api/praise/3/star", csrf, {"starred": True})).status == 200
    for value in ("1", "true", "TRUE", "True"):
        listed = await (await client.get(f"/api/praise?starred={value}")).json()
        assert [p["mention_id"] for p in listed["items"]] == [3], value
    everything = await (await client.get("/api/praise?starred=false")).json()
    assert [p["mention_id"] for p in everything["items"]] == [3]  # all praise, starred or not
    for value in ("yes", "2", "on", "tru"):
        for path in ("/api/praise", "/praise"):
            refused = await client.get(f"{path}?starred={value}")
            assert refused.status == 400, (path, value)
            assert "starred must be 1, 0, true or false" in await refused.text()


async def test_starring_without_saying_starred_is_refused(client: Client, store: Store) -> None:
    csrf = await login(client, "vera")
    for body in ({}, {"starred": None}, {"starred": "true"}):
        refused = await post(client, "/api/praise/3/star", csrf, body)
        assert refused.status == 400, body
        assert "starred" in (await refused.json())["error"]
    assert not queries.praise_wall(store, starred_only=True)


async def test_praise_cards_show_a_dash_where_the_platform_counts_nothing(
    client: Client, store: Store
) -> None:
    liked = dataclasses.replace(mention("love it", native_id="l", handle="li"), likes=7, reposts=1)
    pointed = dataclasses.replace(mention("love it", native_id="h", handle="hn"), likes=5)
    store.ingest("x", [praise(liked), praise(pointed)], None)  # a feed entry: no counts
    await login(client, "vera")
    page = await (await client.get("/praise")).text()
    cards = {
        m: " ".join(html.unescape(re.sub("<[^>]+>", " ", c)).split())
        for m, c in re.findall(r'data-mention="(\d+)">(.*?)</article>', page, re.S)
    }
    assert "reach 120 · 7 likes · 1 repost ·" in cards["5"]
    assert "reach 120 · 5 likes · - reposts ·" in cards["6"]
    assert "reach 120 · - ·" in cards["3"]  # stored without counts, as RSS entries are
    assert "0 likes" not in page


async def test_an_undated_praise_card_shows_when_it_was_fetched(
    client: Client, store: Store
) -> None:
    # a feed entry without a date sits on the wall by when it was fetched: its card
    # said "time unknown", though that time placed it
    undated = dataclasses.replace(mention("love it", native_id="u", handle="feed"), created_at=None)
    store.ingest("rss", [praise(undated)], None)
    fetched = store.mention(5).fetched_at
    await login(client, "vera")
    page = await (await client.get("/praise")).text()
    card = re.search(r'data-mention="5">(.*?)</article>', page, re.S)
    assert card and "time unknown" not in card[1]
    assert f'fetched <time class="when" datetime="{fetched}"' in card[1]
    (item,) = [
        i for i in (await (await client.get("/api/praise")).json())["items"] if i["mention_id"] == 5
    ]
    assert (item["created_at"], item["fetched_at"]) == (None, fetched)


async def test_the_praise_wall_offers_an_older_page_only_when_there_is_one(
    client: Client, store: Store
) -> None:
    # 60 praise posts, one page: the fixture's one and 59 more
    more = [praise(mention("love it", native_id=f"p{n}", handle=f"p{n}")) for n in range(59)]
    store.ingest("x", more, None)
    await login(client, "vera")
    first = await (await client.get("/praise")).text()
    assert first.count("<article") == 60
    assert "older →" not in first  # it led to a page saying "No praise yet."
    store.ingest("x", [praise(mention("love it", native_id="p60", handle="p60"))], None)
    assert "older →" in await (await client.get("/praise")).text()
    second = await (await client.get("/praise?offset=60")).text()
    assert second.count("<article") == 1 and "older →" not in second
    past = await (await client.get("/praise?offset=120")).text()
    assert "No praise yet" not in past
    assert 'No older praise: <a href="/praise">back to the newest</a>' in past


async def test_case_steps_through_the_api(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    case_id = store.reply(2).case_id
    assigned = await post(client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "bob"})
    assert (await assigned.json())["case"]["assignee"] == "bob"
    to_viewer = await post(client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "vera"})
    assert to_viewer.status == 400
    open_tasks = sorted(c.id for c in store.callbacks("open") if c.case_id == case_id)
    resolved = await post(client, f"/api/cases/{case_id}/resolve", csrf, {"note": "fixed"})
    assert (await resolved.json())["closed_tasks"] == open_tasks
    again = await post(client, f"/api/cases/{case_id}/escalate", csrf)
    assert again.status == 409
    assert "resolve by alice" in (await again.json())["error"]


async def test_taking_a_case_someone_took_meanwhile_is_refused_naming_them(
    client: Client, store: Store
) -> None:
    case_id = store.reply(2).case_id or 0
    csrf = await login(client, "alice")
    # both pages showed it unassigned; bob took it first
    store.assign_case(case_id, "bob", "bob")
    late = await post(
        client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "alice", "was": None}
    )
    assert late.status == 409
    error = (await late.json())["error"]
    assert f"case {case_id} was not assigned: it is bob's now, not nobody's" in error
    assert "assign by bob at" in error
    assert store.case(case_id).assignee == "bob"
    # seeing bob's name, she may take it over; and without `was` it is not checked
    taken = await post(
        client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "alice", "was": "bob"}
    )
    assert (await taken.json())["case"]["assignee"] == "alice"
    back = await post(client, f"/api/cases/{case_id}/assign", csrf, {"assignee": None})
    assert back.status == 200 and store.case(case_id).assignee is None


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "e\u0301\u0301 combining",
        "👩\u200d👩\u200d👧 family",
        "❤\ufe0f and https://example.com/a/very/long/link/indeed",
        "日本語のテキスト",
        "\ud800 lone",
    ],
)
async def test_the_live_count_is_the_servers_own(client: Client, text: str) -> None:
    csrf = await login(client, "vera")
    for platform, (maximum, count, unit) in LIMITS.items():
        response = await post(client, "/api/count", csrf, {"platform": platform, "body": text})
        data = await response.json()
        assert (data["count"], data["max"], data["unit"]) == (count(text), maximum, unit)


async def test_the_live_count_on_mastodon_includes_the_mention_it_is_posted_with(
    client: Client,
) -> None:
    csrf = await login(client, "vera")
    ask = {"platform": "mastodon", "author": "ana@fosstodon.org", "body": "x" * 496}
    data = await (await post(client, "/api/count", csrf, ask)).json()
    # "@ana " (Mastodon counts a mention without its domain) + 496
    assert (data["count"], data["max"]) == (501, 500)
    assert "with the @mention it is posted with" in data["problem"]
    named = {**ask, "body": "@ana@fosstodon.org " + "x" * 480}
    assert (await (await post(client, "/api/count", csrf, named)).json())["count"] == 485


# -- settling a reply that failed or may have gone out -------------------------------


def _left(store: Store, reply_id: int, status: str) -> None:
    """Where the publisher leaves a reply: a crash mid-send (unknown) or a refusal."""
    store.approve(reply_id, "bob")
    (claim,) = store.claim_for_posting(limit=1, dry_run=False)
    assert claim.id == reply_id
    if status == "unknown":
        store.mark_unknown(reply_id, "the daemon stopped while sending")
    else:
        store.mark_failed(reply_id, "403 duplicate content", retryable=False)


async def test_an_unknown_reply_found_on_the_platform_is_marked_sent(
    client: Client, store: Store
) -> None:
    _left(store, 1, "unknown")
    csrf = await login(client, "alice")
    page = await (await client.get("/drafts/1")).text()
    assert "may or may not be on x" in page and "the daemon stopped while sending" in page
    assert 'id="unknown-count">1<' in page  # the header says a reply needs a look
    response = await post(client, "/api/drafts/1/mark-sent", csrf, {"posted_id": " 1799 "})
    assert response.status == 200
    assert (await response.json())["reply"]["status"] == "sent"
    reply = store.reply(1)
    assert (reply.status, reply.posted_id) == ("sent", "1799")
    entry = store.audit_log(subject="reply:1")[0]
    assert (entry.actor, entry.action) == ("alice", "confirm-sent")
    assert store.claim_for_posting(dry_run=False) == []  # never posted again
    assert "unknown-count" not in await (await client.get("/queue")).text()


async def test_an_unknown_reply_found_not_posted_is_rejected_as_not_posted(
    client: Client, store: Store
) -> None:
    # found not posted and not to be sent: mark sent or send again were the only ways
    _left(store, 1, "unknown")
    csrf = await login(client, "alice")
    page = await (await client.get("/drafts/1")).text()
    assert 'id="reject-unposted"' in page and 'id="unposted-reason"' in page
    # a plain reject (the draft editor's) does not take a reply in doubt
    plain = await post(client, "/api/drafts/1/reject", csrf, {"reason": "no"})
    assert plain.status == 409 and store.reply(1).status == "unknown"
    settled = await post(
        client, "/api/drafts/1/reject", csrf, {"reason": "outage over", "not_posted": True}
    )
    assert settled.status == 200
    assert (await settled.json())["reply"]["status"] == "rejected"
    entry = store.audit_log(subject="reply:1")[0]
    assert (entry.actor, entry.action) == ("alice", "reject")
    assert json.loads(entry.detail or "{}") == {"reason": "outage over", "not_posted": True}
    assert store.claim_for_posting(dry_run=False) == []  # never posted
    # a draft not in doubt is not settled so
    again = await post(client, "/api/drafts/2/reject", csrf, {"reason": "x", "not_posted": True})
    assert again.status == 409 and store.reply(2).status == "pending"


async def test_a_failed_reply_is_sent_again_once(client: Client, store: Store) -> None:
    _left(store, 2, "failed")
    csrf = await login(client, "bob")
    assert "x refused this reply" in await (await client.get("/drafts/2")).text()
    response = await post(client, "/api/drafts/2/retry", csrf)
    assert response.status == 200
    assert store.reply(2).status == "approved"
    again = await post(client, "/api/drafts/2/retry", csrf)
    assert again.status == 409
    assert "approved" in (await again.json())["error"]
    assert [c.id for c in store.claim_for_posting(dry_run=False)] == [2]


async def test_only_failed_or_unknown_replies_can_be_settled(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    for path in ("/api/drafts/1/retry", "/api/drafts/1/mark-sent"):
        response = await post(client, path, csrf)
        assert response.status == 409, path
        assert "pending" in (await response.json())["error"]
    assert "settle" not in await (await client.get("/drafts/1")).text()
    bad = await post(client, "/api/drafts/1/mark-sent", csrf, {"posted_id": 7})
    assert bad.status == 400 and "posted_id" in (await bad.json())["error"]
    assert store.reply(1).status == "pending"


def _failed_alert(store: Store) -> int:
    """An escalated case whose alert the webhook refused for good."""
    judged = complaint(mention("cancelling today", native_id="9", handle="eve"), urgency=95)
    alert = Draft(DraftKind.ESCALATION, "Urgent: eve is cancelling", judged.mention.key, "u")
    store.ingest("x", [dataclasses.replace(judged, drafts=(*judged.drafts, alert))], None)
    return refused_alert(store, "webhook answered 410 Gone")


async def test_a_failed_alert_is_settled_from_the_escalations_page(
    client: Client, store: Store
) -> None:
    alert_id = _failed_alert(store)
    csrf = await login(client, "alice")
    page = await (await client.get("/escalations")).text()
    assert f'id="alert-status-{alert_id}">failed<' in page
    assert "webhook answered 410 Gone" in page and 'class="alert-retry"' in page
    response = await post(client, f"/api/alerts/{alert_id}/retry", csrf)
    assert response.status == 200
    assert (await response.json())["alert"]["status"] == "pending"
    assert store.alert(alert_id).status == "pending"
    assert 'class="alert-retry"' not in await (await client.get("/escalations")).text()
    refused = await post(client, f"/api/alerts/{alert_id}/mark-sent", csrf)
    assert refused.status == 400
    assert "it is pending" in (await refused.json())["error"]
    entry = store.audit_log(subject=f"alert:{alert_id}")[0]
    assert (entry.actor, entry.action) == ("alice", "retried")


async def test_the_escalations_page_reaches_every_escalated_case(
    client: Client, store: Store
) -> None:
    # an outage escalates hundreds: none may fall silently off the page (it showed 200)
    wave = [
        complaint(mention("app down?", native_id=f"w{n}", handle=f"fan{n}"), urgency=90)
        for n in range(250)
    ]
    opened = store.ingest("x", wave, None).cases_opened
    for case_id in range(5, 5 + opened):  # the fixture's posts opened cases 1 to 4
        store.escalate_case(case_id, "alice")
    await login(client, "alice")

    pages = [await (await client.get(f"/escalations?offset={n}")).text() for n in (0, 100, 200)]

    assert "Cases 1 to 100 of 250 escalated, most urgent first." in pages[0]
    assert 'href="/escalations?offset=100"' in pages[0]
    assert "Cases 201 to 250 of 250 escalated, most urgent first." in pages[2]
    assert 'href="/escalations?offset=100"' in pages[2] and "less urgent" not in pages[2]
    shown = set(re.findall(r'href="/cases/(\d+)"', "".join(pages)))
    assert len(shown) == 250
    api = await (await client.get("/api/escalations?offset=200")).json()
    assert len(api["items"]) == 50


async def test_a_failed_alert_found_in_the_channel_is_marked_sent(
    client: Client, store: Store
) -> None:
    alert_id = _failed_alert(store)
    csrf = await login(client, "bob")
    response = await post(client, f"/api/alerts/{alert_id}/mark-sent", csrf)
    assert response.status == 200
    assert store.alert(alert_id).status == "sent"
    assert store.claim_alert() is None  # never sent twice


# -- accounts ------------------------------------------------------------------------


async def test_only_admins_manage_accounts(client: Client) -> None:
    csrf = await login(client, "alice")
    assert (await client.get("/api/users")).status == 403
    assert (await client.get("/users")).status == 403
    assert "/users" not in await (await client.get("/queue")).text()  # no link either
    for path, body in (
        ("/api/users", {"name": "mal", "role": "admin", "password": "a long password"}),
        ("/api/users/1/role", {"role": "admin"}),
        ("/api/users/1/disable", {}),
        ("/api/users/1/password", {"password": "a long password"}),
        ("/api/users/1/logout", {}),
    ):
        response = await post(client, path, csrf, body)
        assert response.status == 403, path
        assert "needs the admin role" in (await response.json())["error"]


async def test_an_admin_adds_changes_and_disables_an_account(client: Client, store: Store) -> None:
    csrf = await login(client, "root")
    added = await post(
        client, "/api/users", csrf, {"name": "zoe", "role": "viewer", "password": "zoe's long pw"}
    )
    assert added.status == 201
    body = await added.text()
    assert "scrypt" not in body and "password" not in body
    zoe = (await added.json())["user"]
    assert (zoe["name"], zoe["role"], zoe["disabled"]) == ("zoe", "viewer", 0)
    assert verify_password("zoe's long pw", store.user("zoe").password_hash or "")
    role = await post(client, f"/api/users/{zoe['id']}/role", csrf, {"role": "agent"})
    assert (await role.json())["user"]["role"] == "agent"
    new_password = await post(
        client, f"/api/users/{zoe['id']}/password", csrf, {"password": "another long one"}
    )
    assert new_password.status == 200
    assert verify_password("another long one", store.user("zoe").password_hash or "")
    disabled = await post(client, f"/api/users/{zoe['id']}/disable", csrf)
    assert (await disabled.json())["user"]["disabled"] == 1
    listed = await (await client.get("/api/users")).json()
    assert {u["name"] for u in listed["items"]} >= {"zoe", "root", "alice"}
    assert "scrypt" not in json.dumps(listed)
    page = await (await client.get("/users")).text()
    assert 'data-name="zoe"' in page and "disabled" in page
    actions = [e.action for e in store.audit_log(subject="user:zoe")]
    assert actions == ["user-disable", "user-password", "user-role", "user-add"]
    assert all(e.actor == "root" for e in store.audit_log(subject="user:zoe"))
    await client.post("/logout", data={"csrf_token": csrf})
    assert await login(client, "zoe", "another long one") == ""  # disabled: cannot log in


async def test_account_mistakes_get_clear_errors(client: Client, store: Store) -> None:
    csrf = await login(client, "root")
    root_id = store.user("root").id
    cases: tuple[tuple[str, dict[str, str], str], ...] = (
        ("/api/users", {"name": "a b", "role": "agent", "password": "a long password"}, "name"),
        ("/api/users", {"name": "cy", "role": "owner", "password": "a long password"}, "role"),
        ("/api/users", {"name": "cy", "role": "agent", "password": "short"}, "at least 10"),
        (
            "/api/users",
            {"name": "alice", "role": "agent", "password": "a long password"},
            "already exists",
        ),
        (f"/api/users/{root_id}/disable", {}, "root is the last enabled admin"),
        (f"/api/users/{root_id}/role", {"role": "viewer"}, "root is the last enabled admin"),
        ("/api/users/999/disable", {}, "no user with id 999"),
    )
    for path, body, expected in cases:
        response = await post(client, path, csrf, body)
        assert response.status in (400, 404), (path, body)
        assert expected in (await response.json())["error"], (path, body)
    assert store.user("root").role == "admin" and not store.user("root").disabled


# -- review fixes: errors, ids, login, search, stats, edits ------------------------------


async def _login_form_token(client: Client, path: str = "/login") -> str:
    form = await (await client.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    return token.group(1)


async def test_a_failed_login_keeps_where_it_was_going(client: Client) -> None:
    token = await _login_form_token(client, "/login?next=/drafts/3")
    wrong = await client.post(
        "/login",
        data={"name": "alice", "password": "wrong", "csrf_token": token, "next": "/drafts/3"},
    )
    assert wrong.status == 401
    form = await wrong.text()
    assert 'name="next" value="/drafts/3"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    right = await client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token, "next": "/drafts/3"},
        allow_redirects=False,
    )
    assert right.status == 303 and right.headers["Location"] == "/drafts/3"


async def test_a_failed_login_never_keeps_an_off_site_next(client: Client) -> None:
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        token = await _login_form_token(client)
        wrong = await client.post(
            "/login", data={"name": "alice", "password": "x", "csrf_token": token, "next": evil}
        )
        assert 'name="next" value="/"' in await wrong.text(), evil


async def _error_page(client: Client, path: str, status: int) -> str:
    response = await client.get(path)
    assert response.status == status, path
    assert response.content_type == "text/html", path
    page = await response.text()
    assert 'id="error-status"' in page and 'id="error-back"' in page, path
    return page


async def test_client_errors_on_pages_show_the_error_page(client: Client) -> None:
    await login(client, "root")
    for path, status, said in (
        ("/queue?status=bogus", 400, "status must be one of"),
        ("/queue?offset=abc", 400, "offset must be a whole number"),
        ("/callbacks?status=x", 400, "status must be open, done or all"),
        ("/audit?before=abc", 400, "before must be a whole number"),
        ("/stats?days=400", 400, "days must be between 1 and 366"),
        ("/no/such/page", 404, "There is no page at this address."),
        ("/drafts/999", 404, "no reply with id 999"),
    ):
        page = await _error_page(client, path, status)
        assert said in page, path
        assert 'id="pending-count"' in page, path  # the header, with the person's counts
        assert 'href="/queue">Back to the queue' in page, path
        assert "404: Not Found" not in page
    # the API keeps answering JSON
    missing = await client.get("/api/no/such/thing")
    assert missing.status == 404 and "error" in await missing.json()
    bad = await client.get("/api/queue?status=bogus")
    assert bad.status == 400 and "status must be one of" in (await bad.json())["error"]


async def test_a_page_a_role_cannot_open_says_so_on_the_error_page(client: Client) -> None:
    await login(client, "alice")
    page = await _error_page(client, "/audit", 403)
    assert "this needs the admin role; you are an agent" in page
    assert 'id="pending-count"' in page and "alice" in page
    await client.post("/logout", data={"csrf_token": await login(client, "alice")})
    await login(client, "vera")
    page = await _error_page(client, "/users", 403)
    assert "this needs the admin role; you are a viewer" in page
    assert 'href="/praise">Back to the praise wall' in page
    api = await client.get("/api/users")
    assert (await api.json())["error"] == "this needs the admin role; you are a viewer"


async def test_an_unknown_page_without_a_session_offers_the_login(client: Client) -> None:
    page = await _error_page(client, "/no/such/page", 404)
    assert 'href="/login">Log in' in page and 'id="pending-count"' not in page


async def test_ids_beyond_sqlites_range_are_not_found(client: Client) -> None:
    csrf = await login(client, "root")
    huge, just_over = "99999999999999999999999", str(2**63)
    for path in (f"/drafts/{huge}", f"/cases/{huge}", f"/drafts/{just_over}"):
        await _error_page(client, path, 404)
    for path in (f"/api/drafts/{huge}", f"/api/drafts/{just_over}", f"/api/cases/{just_over}"):
        response = await client.get(path)
        assert response.status == 404, path
        assert "with id" in (await response.json())["error"], path
    for path, body in (
        (f"/api/drafts/{huge}/approve", {}),
        (f"/api/drafts/{just_over}/reject", {"reason": "no"}),
        (f"/api/drafts/{huge}/edit", {"body": "hi"}),
        (f"/api/drafts/{huge}/retry", {}),
        (f"/api/drafts/{huge}/mark-sent", {}),
        (f"/api/cases/{huge}/assign", {"assignee": "alice"}),
        (f"/api/cases/{huge}/escalate", {}),
        (f"/api/cases/{huge}/resolve", {}),
        (f"/api/callbacks/{huge}/done", {}),
        (f"/api/alerts/{huge}/retry", {}),
        (f"/api/alerts/{huge}/mark-sent", {}),
        (f"/api/praise/{huge}/star", {"starred": True}),
        (f"/api/users/{huge}/disable", {}),
        (f"/api/users/{huge}/role", {"role": "agent"}),
    ):
        response = await post(client, path, csrf, body)
        assert response.status == 404, path
    # the largest id SQLite can hold is looked up, and simply not there
    assert (await client.get(f"/api/drafts/{2**63 - 1}")).status == 404
    for path in ("/api/queue?since=" + huge, "/api/audit?before=" + huge, "/audit?before=" + huge):
        response = await client.get(path)
        assert response.status == 400, path


async def test_search_lists_other_mentions_without_repeating_listed_drafts(
    client: Client, store: Store
) -> None:
    quiet = complaint(mention("the router is down again", native_id="20", handle="fay"))
    store.ingest("x", [dataclasses.replace(quiet, drafts=())], None)  # no draft
    await login(client, "alice")
    page = await (await client.get("/queue?q=down")).text()
    listed = re.findall(r'<li class="queue-item" data-id="([1-9]\d*)"', page)
    assert sorted(listed) == ["1", "2"]  # "my internet is down", "still down, furious"
    others = page.split('id="other-mentions"', 1)[1]
    assert "the router is down again" in others
    assert "my internet is down" not in others and "still down, furious" not in others
    assert "</a><a" not in others  # "case 5 · permalink", never "case 5permalink"
    assert re.search(r"case \d+</a> · <a href=\"https://", others)


async def test_a_search_too_long_to_run_quickly_is_a_clear_400(client: Client) -> None:
    await login(client, "vera")
    terms = " ".join(["a*"] * 2000)
    api = await client.get("/api/queue", params={"q": terms})
    assert api.status == 400
    assert "a search is at most 200 characters" in (await api.json())["error"]
    page = await _error_page(client, "/queue?" + urlencode({"q": terms}), 400)
    assert "a search is at most 200 characters" in page


async def test_stats_days_out_of_range_is_a_clear_error(client: Client) -> None:
    await login(client, "vera")
    for days in ("0", "-3", "367", "400"):
        page = await _error_page(client, f"/stats?days={days}", 400)
        assert "days must be between 1 and 366" in page, days
        api = await client.get(f"/api/stats?days={days}")
        assert api.status == 400, days
    one = await (await client.get("/stats?days=1")).text()
    assert "last 1 UTC day<" in one  # a team in New York must not read local days
    seven = await (await client.get("/stats?days=7")).text()
    assert "last 7 UTC days<" in seven
    assert "Mentions per UTC day, by disposition" in seven
    assert '<a href="/stats?days=7" aria-current="page">' in seven
    assert '<a href="/stats?days=30">' in seven
    default = await (await client.get("/stats")).text()
    assert '<a href="/stats?days=30" aria-current="page">' in default
    # the window's own net sentiment, as the API gives it (the fixture's posts are
    # dated: as the calendar moves on they leave the window, and it reads n/a)
    api = await (await client.get("/api/stats")).json()
    shown = "n/a" if api["window_net_sentiment"] is None else f"{api['window_net_sentiment']:+.1f}"
    assert f'<span class="big" id="window-net">{shown}</span>' in default


async def test_stats_for_the_days_ending_on_a_chosen_day_as_earful_stats_until(
    client: Client, store: Store
) -> None:
    # last week's figures, looked at any day after it: the fixture's posts are of
    # 2026-11-20, long gone from the last 7 days
    await login(client, "vera")
    api = await (await client.get("/api/stats?days=7&until=2026-11-22")).json()
    assert (api["days"][0], api["days"][-1]) == ("2026-11-16", "2026-11-22")
    series = queries.series(store, days=7, until=date(2026, 11, 22))
    assert api == json.loads(json.dumps(dataclasses.asdict(series)))
    assert api["mentions"] == 4
    page = await (await client.get("/stats?days=7&until=2026-11-22")).text()
    assert "· 7 UTC days to 2026-11-22<" in page
    assert '<span class="big">4</span> mentions' in page
    # another range keeps the last day; one link goes back to the days up to today
    assert '<a href="/stats?days=30&amp;until=2026-11-22">' in page
    assert '<a href="/stats?days=7">up to today</a>' in page
    for bad in ("2026-11-31", "22/11/2026", "2026-1-5", "yesterday", "２０２６-11-22"):
        error = await _error_page(client, "/stats?" + urlencode({"until": bad}), 400)
        assert "until must be a day as YYYY-MM-DD" in error, bad
        assert (await client.get("/api/stats", params={"until": bad})).status == 400, bad
    # a day whose window leaves the calendar was a 500 (OverflowError)
    for far in ("0001-01-01", "9999-12-31"):
        error = await _error_page(client, "/stats?" + urlencode({"until": far}), 400)
        assert f"until: expected a day from 1970-01-01 to 9998-12-31, got {far}" in error
        assert (await client.get("/api/stats", params={"until": far})).status == 400, far


async def test_stats_page_lists_each_platforms_mentions_and_net_sentiment(client: Client) -> None:
    await login(client, "vera")
    api = await (await client.get("/api/stats?days=366")).json()
    page = await (await client.get("/stats?days=366")).text()
    assert api["by_platform"], "the fixture's posts are in a year's window"
    assert sum(api["by_platform"].values()) == api["mentions"]
    for name, n in api["by_platform"].items():
        net = api["net_by_platform"][name]
        shown = "n/a" if net is None else f"{net:+.1f}"
        row = (
            f'<tr data-platform="{name}"><th scope="row">{name}</th><td>{n:,}</td><td>{shown}</td>'
        )
        assert row in page, name


async def test_root_causes_tied_in_the_window_are_listed_by_name_as_earful_stats_lists_them(
    client: Client, store: Store
) -> None:
    # a price complaint one day and a billing one the next: the roll-up is read day
    # by day, and the tie was listed in that order (price, billing) on the page and
    # in the API, while the chart's legend and `earful stats` said billing, price
    today = store.clock()
    for n, (topic, ago) in enumerate((("price", 2), ("billing", 1))):
        posted = today - timedelta(days=ago)
        judged = complaint(mention(native_id=f"t{n}", handle=f"t{n}", created_at=posted))
        caused = dataclasses.replace(judged.verdict, topic=topic)
        store.ingest("x", [dataclasses.replace(judged, verdict=caused)], None)
    await login(client, "vera")
    api = await (await client.get("/api/stats?days=7")).json()
    assert list(api["topics_by_week"]) == ["billing", "price"]
    page = await (await client.get("/stats?days=7")).text()
    heads = re.findall(r'<th scope="col">(\w+)</th>', page.split('id="table-weeks"', 1)[1])
    assert heads[:2] == ["billing", "price"]


async def test_a_whitespace_only_reply_is_refused_the_same_way_by_edit_and_approve(
    client: Client, store: Store
) -> None:
    csrf = await login(client, "alice")
    edit = await post(client, "/api/drafts/1/edit", csrf, {"body": "  \n "})
    approve = await post(client, "/api/drafts/1/approve", csrf, {"body": "  \n "})
    assert (edit.status, approve.status) == (422, 422)
    assert (await edit.json())["error"] == "reply 1 not saved: the reply is empty"
    assert (await approve.json())["error"] == "reply 1 not approved: the reply is empty"
    not_text = await post(client, "/api/drafts/1/edit", csrf, {"body": 7})
    assert not_text.status == 400
    assert store.reply(1).status == "pending"


async def test_a_409_carries_the_reply_so_a_page_knows_its_own_decision(
    client: Client, store: Store
) -> None:
    csrf = await login(client, "alice")
    assert (await post(client, "/api/drafts/1/approve", csrf)).status == 200
    again = await post(client, "/api/drafts/1/approve", csrf)
    assert again.status == 409
    data = await again.json()
    assert "already approved by alice" in data["error"]
    assert (data["reply"]["status"], data["reply"]["decided_by"]) == ("approved", "alice")


async def test_the_queue_note_promises_live_updates_only_on_live_views(client: Client) -> None:
    await login(client, "alice")
    for path, live in (
        ("/queue", True),
        ("/queue?status=all", True),
        ("/queue?status=sent", False),
        ("/queue?status=failed", False),
        ("/queue?status=unknown", False),
        ("/queue?offset=50", False),
    ):
        page = await (await client.get(path)).text()
        assert ("follows the queue as it changes" in page) is live, path
        assert ('data-live="yes"' in page) is live, path
        assert "as they arrive" not in page


async def test_an_audit_filter_that_matches_nothing_says_so(client: Client) -> None:
    await login(client, "root")
    page = await (await client.get("/audit?actor=nobody-at-all")).text()
    assert "Nothing matches who = “<bdi>nobody-at-all</bdi>”" in page
    assert 'id="audit"' not in page
    everything = await (await client.get("/audit")).text()
    assert 'id="audit"' in everything and "Nothing matches" not in everything


async def test_counts_and_a_case_for_the_pages_refresh(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    counts = await (await client.get("/api/counts")).json()
    assert counts["pending"] == 4
    case_id = store.reply(1).case_id
    await post(client, f"/api/cases/{case_id}/escalate", csrf)
    view = await (await client.get(f"/api/cases/{case_id}")).json()
    assert view["case"]["status"] == "escalated"
    assert view["history"][0]["action"] == "escalate"
    assert (await client.get("/api/cases/999")).status == 404


# -- a decision on the text the person saw ---------------------------------------------


async def test_approving_a_reply_no_source_can_post_says_so(store: Store, config: Config) -> None:
    # live mode, and the demo's sources carry no posting credentials for X
    live = dataclasses.replace(config, publish=config.publish.model_copy(update={"mode": "live"}))
    async with TestClient(TestServer(build_app(store, live))) as c:
        csrf = await login(c, "alice")
        data = await (await post(c, "/api/drafts/1/approve", csrf)).json()
        assert data["reply"]["status"] == "approved"
        assert data["note"].startswith("no x source has posting credentials")
    async with TestClient(TestServer(build_app(store, config))) as c:  # dry-run
        csrf = await login(c, "alice")
        assert (await (await post(c, "/api/drafts/2/approve", csrf)).json())["note"] is None


async def test_a_thank_you_posted_as_a_like_says_its_text_is_not_posted(
    store: Store, config: Config
) -> None:
    from listener.x import Settings as XSettings

    keys = {"consumer_key": "k", "consumer_secret": "k", "access_token": "1234-token"}
    liking = XSettings(
        name="brand-x",
        type="x",
        handle="LumenetHelp",
        bearer_token="b",
        access_token_secret="s",
        thanks_as="like",
        **keys,
    )
    likes = dataclasses.replace(config, sources=(liking, *config.sources))
    thanks = next(r.id for r in store.replies() if r.kind == "thanks")
    complaint = next(r.id for r in store.replies() if r.kind == "reply")
    async with TestClient(TestServer(build_app(store, likes))) as c:
        await login(c, "alice")
        page = await (await c.get(f"/drafts/{thanks}")).text()
        assert 'id="liked-note"' in page and "likes the post" in page
        assert re.search(r'<textarea id="draft-body"[^>]* readonly', page)
        assert 'id="liked-note"' not in await (await c.get(f"/drafts/{complaint}")).text()
    async with TestClient(TestServer(build_app(store, config))) as c:  # thanks are replies
        await login(c, "alice")
        assert 'id="liked-note"' not in await (await c.get(f"/drafts/{thanks}")).text()


async def test_approving_a_text_someone_edited_since_is_refused_naming_them(
    client: Client, store: Store
) -> None:
    shown = store.reply(1).body
    store.edit(1, "bob", "Bob's text, which alice never saw")
    edited_at = store.last_edit(1)
    assert edited_at is not None
    csrf = await login(client, "alice")
    response = await post(client, "/api/drafts/1/approve", csrf, {"shown": shown})
    assert response.status == 409
    data = await response.json()
    assert data["error"] == (
        f"reply 1 not approved: bob changed its text at {shown_time(edited_at.at)}, after you "
        "opened it. "
        "Read the new text, then decide again."
    )
    assert (data["reply"]["status"], data["reply"]["body"]) == (
        "pending",
        "Bob's text, which alice never saw",
    )
    assert store.reply(1).status == "pending"
    # with the text now shown, the approval goes through
    again = await post(client, "/api/drafts/1/approve", csrf, {"shown": data["reply"]["body"]})
    assert again.status == 200
    assert store.reply(1).body == "Bob's text, which alice never saw"


@pytest.mark.parametrize("status", ["pending", "failed"])
async def test_an_edit_or_an_approval_with_an_edit_on_a_stale_text_is_refused(
    client: Client, store: Store, status: str
) -> None:
    if status == "failed":  # refused by the platform: edited and approved again
        _left(store, 2, "failed")
    shown = store.reply(2).body
    store.edit(2, "bob", "Bob's version")
    csrf = await login(client, "alice")
    mine = {"body": "Alice's version"}
    for action, body in (("edit", mine), ("approve", mine), ("approve", {})):
        response = await post(client, f"/api/drafts/2/{action}", csrf, {**body, "shown": shown})
        assert response.status == 409, (action, body)
        assert "bob changed its text at" in (await response.json())["error"]
    assert (store.reply(2).status, store.reply(2).body) == (status, "Bob's version")


async def test_the_shown_text_matches_as_the_page_holds_it(client: Client, store: Store) -> None:
    # HTML turns CR LF into LF and prints a lone surrogate as escape text (\udc9f): the page
    # sends back what it holds, which is still the text it was given
    store.edit(1, "bob", "line one\r\nline two")
    store.edit(2, "bob", "a lone \ud800 to take out")
    csrf = await login(client, "alice")
    body, shown = "line one\nline two", "line one\nline two"
    response = await post(client, "/api/drafts/1/edit", csrf, {"body": body, "shown": shown})
    assert response.status == 200
    assert store.reply(1).body == "line one\nline two"
    shown = "a lone \\ud800 to take out"
    fixed = await post(client, "/api/drafts/2/edit", csrf, {"body": "taken out", "shown": shown})
    assert fixed.status == 200
    assert store.reply(2).body == "taken out"


async def test_a_client_sending_no_shown_text_decides_as_before(
    client: Client, store: Store
) -> None:
    store.edit(1, "bob", "Bob's text")
    csrf = await login(client, "alice")
    assert (await post(client, "/api/drafts/1/approve", csrf)).status == 200
    assert (await post(client, "/api/drafts/2/edit", csrf, {"body": "fine"})).status == 200
    bad = await post(client, "/api/drafts/2/approve", csrf, {"shown": 5})
    assert bad.status == 400 and "shown" in (await bad.json())["error"]


# -- logins: hashing apart, attempts counted before the hash ----------------------------


async def _fresh_form(raw: aiohttp.ClientSession, client: Client) -> tuple[str, str]:
    """A login form of its own (its cookie and token), as a separate browser has."""
    response = await raw.get(client.make_url("/login"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert token
    return response.cookies[LOGIN_COOKIE].value, token.group(1)


async def _log_in_raw(
    raw: aiohttp.ClientSession, client: Client, form: tuple[str, str], name: str, password: str
) -> int:
    cookie, token = form
    response = await raw.post(
        client.make_url("/login"),
        data={"name": name, "password": password, "csrf_token": token},
        headers={"Cookie": f"{LOGIN_COOKIE}={cookie}"},
        allow_redirects=False,
    )
    return response.status


async def test_parallel_wrong_passwords_are_limited_like_one_after_another(
    client: Client,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        forms = [await _fresh_form(raw, client) for _ in range(20)]
        statuses = await asyncio.gather(
            *(_log_in_raw(raw, client, form, "lockme", "wrong password") for form in forms)
        )
    assert Counter(statuses) == {401: 5, 429: 15}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        right = await _log_in_raw(raw, client, await _fresh_form(raw, client), "lockme", PASSWORD)
    assert right == 429  # locked, even with the right password


async def test_a_name_longer_than_any_account_is_refused_and_not_remembered(
    client: Client,
) -> None:
    """The limiter keeps up to 10,000 names: kept whole, megabyte-long names sent
    by anyone who can reach the login form would fill gigabytes."""
    huge = "x" * 500_000
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        status = await _log_in_raw(raw, client, await _fresh_form(raw, client), huge, "pw-123456")
    limiter = client.app[LIMITER]
    assert status == 401
    assert limiter.attempts(limiter.key(huge, "127.0.0.1")) == 0
    assert await login(client, "alice") != ""


async def test_logins_past_the_hashing_queue_are_turned_away_at_once(client: Client) -> None:
    """Anyone who can reach the form could queue logins without end (each with up
    to a megabyte of form in memory); past the queue's limit a login is a 503 at
    once, counted as no attempt, and the queue takes logins again as it drains."""
    queue = client.app[LOGIN_QUEUE]
    queue.limit = 2
    release = threading.Event()
    pool = client.app[KDF]
    busy = [pool.submit(release.wait) for _ in range(KDF_WORKERS)]  # the threads, taken
    limiter = client.app[LIMITER]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        forms = [await _fresh_form(raw, client) for _ in range(4)]
        waiting = [
            asyncio.create_task(_log_in_raw(raw, client, forms[i], f"queued{i}", "pw-1234567"))
            for i in range(2)
        ]
        for _ in range(2000):  # until both wait for a hashing thread
            if queue.waiting == 2:
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the logins never reached the hashing queue")
        turned = await _log_in_raw(raw, client, forms[2], "turned", "pw-1234567")
        assert turned == 503
        assert limiter.attempts(limiter.key("turned", "127.0.0.1")) == 0
        release.set()
        assert await asyncio.gather(*waiting) == [401, 401]
        assert all(f.result() for f in busy)
        assert await _log_in_raw(raw, client, forms[3], "turned", "pw-1234567") == 401
    assert queue.waiting == 0


async def test_logins_being_hashed_do_not_hold_up_the_pages(client: Client) -> None:
    """Password hashes run on threads of their own: while many logins are being
    checked, a logged-in page's store reads still go through."""
    await login(client, "alice")
    limiter = client.app[LIMITER]
    names = [f"nobody{i}" for i in range(24)]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        forms = [await _fresh_form(raw, client) for _ in names]
        logins = [
            asyncio.create_task(_log_in_raw(raw, client, form, name, "whatever-123"))
            for form, name in zip(forms, names, strict=True)
        ]
        for _ in range(2000):  # until every login is let through to its hash
            if sum(limiter.attempts(limiter.key(n, "127.0.0.1")) for n in names) == len(names):
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the logins never reached their password check")
        me = await client.get("/api/me")
        finished_before_me = sum(task.done() for task in logins)
        assert await asyncio.gather(*logins) == [401] * len(names)
    assert me.status == 200 and (await me.json())["name"] == "alice"
    # with the hashes in the shared pool, /api/me's session lookup queued behind
    # nearly all of them
    assert finished_before_me < len(names) // 2


# -- idle sessions end even while a tab polls; every session ends at its lifetime --------


@pytest.fixture
async def clocked(config: Config) -> AsyncIterator[tuple[Client, Clock]]:
    """The console on a store whose clock the test moves, with a 10-minute session_ttl
    and a 30-minute session_lifetime."""
    clock = Clock()
    s = Store.open(config.db_path, clock=clock)
    s.add_user("alice", "agent", _HASH, actor="tests")
    settings = dataclasses.replace(
        settings_from(config),
        session_ttl=timedelta(minutes=10),
        session_lifetime=timedelta(minutes=30),
    )
    async with TestClient(TestServer(build_app(s, config, settings=settings))) as c:
        yield c, clock
    s.close()


@pytest.fixture
async def alice_in(clocked: tuple[Client, Clock]) -> tuple[Client, Clock]:
    """`clocked`, with alice logged in at the clock's time."""
    await login(clocked[0], "alice")
    return clocked


BACKGROUND = {BACKGROUND_HEADER: "1"}


async def test_background_polling_does_not_keep_an_idle_session_alive(
    alice_in: tuple[Client, Clock],
) -> None:
    client, clock = alice_in
    start = clock.now
    for minutes in (3, 6, 9):  # the queue tab polls; nobody touches it
        clock.now = start + timedelta(minutes=minutes)
        response = await client.get("/api/queue?limit=51", headers=BACKGROUND)
        assert response.status == 200, minutes
    clock.now = start + timedelta(minutes=10, seconds=1)
    assert (await client.get("/api/queue?limit=51", headers=BACKGROUND)).status == 401
    assert (await client.get("/api/me")).status == 401


async def test_a_persons_requests_still_extend_the_session(
    alice_in: tuple[Client, Clock],
) -> None:
    client, clock = alice_in
    start = clock.now
    clock.now = start + timedelta(minutes=9)
    assert (await client.get("/queue")).status == 200  # a page opened: use
    clock.now = start + timedelta(minutes=18)
    assert (await client.get("/api/queue", headers=BACKGROUND)).status == 200
    clock.now = start + timedelta(minutes=19, seconds=1)
    assert (await client.get("/api/me")).status == 401


async def _notice(client: Client, response: aiohttp.ClientResponse) -> str:
    """Where a page request was sent (the login form), and the notice it shows."""
    assert response.status == 302, response.status
    location = response.headers["Location"]
    assert location.startswith("/login"), location
    page = await (await client.get(location)).text()
    found = re.search(r'<p class="note" role="status" id="login-notice">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


async def test_a_session_in_use_all_along_ends_at_its_lifetime_and_the_login_says_so(
    alice_in: tuple[Client, Clock],
) -> None:
    client, clock = alice_in
    start = clock.now
    for minutes in (8, 16, 24):  # a person at work: never idle for 10 minutes
        clock.now = start + timedelta(minutes=minutes)
        assert (await client.get("/queue")).status == 200, minutes
    clock.now = start + timedelta(minutes=30)
    ended = await client.get("/queue", allow_redirects=False)
    assert ended.headers["Location"] in ("/login?next=%2Fqueue", "/login?next=/queue")
    assert await _notice(client, ended) == (
        "A login lasts at most 30m, however much it is used: log in again."
    )
    assert (await client.get("/api/me")).status == 401
    await login(client, "alice")  # a new login starts a new lifetime
    assert (await client.get("/api/me")).status == 200


async def test_the_login_page_says_an_idle_session_ended_for_want_of_use(
    alice_in: tuple[Client, Clock],
) -> None:
    client, clock = alice_in
    clock.now += timedelta(minutes=10)
    ended = await client.get("/stats", allow_redirects=False)
    assert await _notice(client, ended) == "Your session ended after 10m without use: log in again."


async def test_the_login_page_shows_no_notice_after_a_plain_logout(client: Client) -> None:
    csrf = await login(client, "alice")
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.headers["Location"] == "/login"
    assert "login-notice" not in await (await client.get("/login")).text()


async def test_logging_out_everywhere_ends_all_of_ones_own_sessions_and_no_one_elses(
    client: Client, store: Store
) -> None:
    elsewhere = start_session(
        store, store.user("alice").id, ttl=timedelta(hours=1), lifetime=WEEK, ip="10.0.0.9"
    )
    bobs = start_session(
        store, store.user("bob").id, ttl=timedelta(hours=1), lifetime=WEEK, ip=None
    )
    csrf = await login(client, "alice")
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    out = await client.post("/logout/everywhere", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login?ended=everywhere"
    page = await (await client.get(out.headers["Location"])).text()
    assert "You are logged out on every browser and device." in page
    for ended in (token, elsewhere):  # this browser's, and the other one's
        client.session.cookie_jar.update_cookies({SESSION_COOKIE: ended})
        assert (await client.get("/api/me")).status == 401
        assert "Your session has ended: log in again." in await (await client.get("/login")).text()
    assert find_session(store, bobs, ttl=timedelta(hours=1), lifetime=WEEK) is not None
    entry = store.audit_log(subject="user:alice")[0]
    assert (entry.action, entry.actor) == ("user-logout-everywhere", "alice")


async def test_logging_out_everywhere_needs_the_csrf_token(client: Client, store: Store) -> None:
    await login(client, "alice")
    refused = await client.post("/logout/everywhere", data={}, allow_redirects=False)
    assert refused.status == 403
    assert (await client.get("/api/me")).status == 200


async def test_a_new_role_from_the_accounts_page_ends_that_persons_sessions(
    client: Client, store: Store
) -> None:
    vera = start_session(
        store, store.user("vera").id, ttl=timedelta(hours=1), lifetime=WEEK, ip=None
    )
    csrf = await login(client, "root")
    changed = await post(
        client, f"/api/users/{store.user('vera').id}/role", csrf, {"role": "agent"}
    )
    assert (await changed.json())["user"]["role"] == "agent"
    assert find_session(store, vera, ttl=timedelta(hours=1), lifetime=WEEK) is None
    assert (await client.get("/api/me")).status == 200  # the admin's own session goes on


async def test_an_admin_logs_someone_else_out_everywhere(client: Client, store: Store) -> None:
    hour = timedelta(hours=1)
    veras = [
        start_session(store, store.user("vera").id, ttl=hour, lifetime=WEEK, ip=None)
        for _ in range(2)
    ]
    csrf = await login(client, "root")
    vera_id = store.user("vera").id
    ended = await post(client, f"/api/users/{vera_id}/logout", csrf)
    answer = await ended.json()
    assert (answer["user"]["name"], answer["sessions"]) == ("vera", 2)
    assert [find_session(store, t, ttl=hour, lifetime=WEEK) for t in veras] == [None, None]
    entry = store.audit_log(subject="user:vera")[0]
    assert (entry.action, entry.actor, entry.detail) == (
        "user-logout-everywhere",
        "root",
        '{"sessions":2}',
    )
    assert (await client.get("/api/me")).status == 200  # the admin's own goes on
    missing = await post(client, "/api/users/999/logout", csrf)
    assert missing.status == 404


async def test_a_number_in_other_digits_than_0_to_9_is_refused(client: Client) -> None:
    # int() reads any script's digits: ?days=１ was the last day's figures
    await login(client, "root")
    for path, said in (
        ("/api/stats?days=%EF%BC%91", "days must be a whole number, got '１'"),
        ("/api/queue?limit=%D9%A3", "limit must be a whole number, got '٣'"),
    ):
        response = await client.get(path)
        assert response.status == 400, path
        assert (await response.json())["error"] == said, path
    assert (await client.get("/api/stats?days=1")).status == 200
    (first, *_) = (await (await client.get("/api/queue?status=all")).json())["items"]
    assert (await client.get(f"/api/drafts/{first['id']}")).status == 200
    wide = str(first["id"]).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert (await client.get(f"/api/drafts/{wide}")).status == 404
    assert (await client.get(f"/drafts/{wide}")).status == 404


async def test_a_limit_below_one_is_a_400(client: Client) -> None:
    await login(client, "root")
    for path, maximum in (("/api/queue", 200), ("/api/praise", 500), ("/api/audit", 500)):
        for limit in ("-1", "0", "-9223372036854775808"):
            response = await client.get(f"{path}?limit={limit}")
            assert response.status == 400, (path, limit)
            error = (await response.json())["error"]
            assert error == f"limit must be a whole number from 1 to {maximum}", (path, limit)
        one = await client.get(f"{path}?limit=1&status=all")
        assert one.status == 200 and len((await one.json())["items"]) == 1, path
        assert (await client.get(f"{path}?limit=100000")).status == 200, path


# -- crafted input gets a clear 4xx, and a fault of ours a plain 500 ---------------------


async def raw_post(client: Client, path: str, csrf: str, body: str) -> aiohttp.ClientResponse:
    """A JSON body exactly as given (escapes such as \\ud800 included)."""
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    return await client.post(path, data=body.encode(), headers=headers)


async def test_a_search_with_a_nul_is_a_400_and_other_control_characters_are_spaces(
    client: Client,
) -> None:
    await login(client, "alice")
    page = await _error_page(client, "/queue?q=%00", 400)
    assert "a search cannot hold a NUL character" in page
    api = await client.get("/api/queue?q=%20%00")
    assert api.status == 400
    assert (await api.json())["error"] == "a search cannot hold a NUL character (U+0000)"
    tabbed = await client.get("/api/queue?q=still%09down")
    assert tabbed.status == 200
    assert [item["id"] for item in (await tabbed.json())["items"]] == [2]
    assert (await client.get("/queue?q=%01down")).status == 200


async def test_crafted_json_bodies_get_a_400(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    case_id = store.reply(1).case_id
    assign = await raw_post(client, f"/api/cases/{case_id}/assign", csrf, '{"assignee": "\\ud800"}')
    assert assign.status == 400
    assert (await assign.json())["error"] == "assignee must be the name of an account, or null"
    sent = await raw_post(client, "/api/drafts/1/mark-sent", csrf, '{"posted_id": "\\ud800"}')
    assert sent.status == 400
    assert (await sent.json())["error"] == "posted_id must be printable text without spaces"
    deep = await raw_post(client, "/api/drafts/1/approve", csrf, "[" * 100_000 + "]" * 100_000)
    assert deep.status == 400
    assert (await deep.json())["error"] == "the body is nested too deeply"
    assert store.reply(1).status == "pending"
    assert store.case(case_id or 0).assignee is None


async def test_a_fault_of_ours_is_a_plain_500_and_logged(
    client: Client, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await login(client, "vera")
    with store.conn:
        store.conn.execute("DROP TABLE praise")  # a damaged database: the praise wall fails
    api = await client.get("/api/praise")
    assert api.status == 500 and api.content_type == "application/json"
    assert (await api.json())["error"].startswith("Something went wrong on the server")
    page = await client.get("/praise")
    assert page.status == 500 and page.content_type == "text/html"
    text = await page.text()
    assert 'id="error-status">500 · Server error<' in text
    said = re.search(r'id="error-message"[^>]*>([^<]*)<', text)
    assert said and said.group(1).startswith("Something went wrong on the server")
    assert "Traceback" not in text and "no such table" not in text
    assert "console: GET /praise failed" in caplog.text
    assert "no such table: praise" in caplog.text  # the details are in the log


ODD_NEXTS = (
    "/\t/evil.example/phish",  # a browser drops the tab: //evil.example
    "/\n/evil.example",
    "/ /evil.example",
    "/queue\\..\\..",
    "/queue\r\nSet-Cookie: x=1",  # no header injection, and no 500
    "/queue\x00",
    "/\u2028/evil.example",
)


async def test_next_with_whitespace_control_characters_or_backslashes_goes_home(
    client: Client,
) -> None:
    page = await (await client.get("/login?next=/%09/evil.example/phish")).text()
    assert 'name="next" value="/"' in page
    for odd in ODD_NEXTS:
        token = await _login_form_token(client)
        form = {"name": "alice", "password": PASSWORD, "csrf_token": token, "next": odd}
        response = await client.post("/login", data=form, allow_redirects=False)
        assert response.status == 303, repr(odd)
        assert response.headers["Location"] == "/", repr(odd)
        await client.post("/logout", data={"csrf_token": await login(client, "alice")})
    token = await _login_form_token(client)
    form = {"name": "alice", "password": PASSWORD, "csrf_token": token, "next": "/drafts/3?x=1"}
    fine = await client.post("/login", data=form, allow_redirects=False)
    assert fine.headers["Location"] == "/drafts/3?x=1"


async def test_two_tabs_on_the_login_form_do_not_undo_each_other(client: Client) -> None:
    first = await _login_form_token(client, "/login?next=/queue")
    second = await _login_form_token(client, "/login?next=/praise")
    assert first == second  # the browser's cookie is reused, not replaced
    form = {"name": "alice", "password": PASSWORD, "csrf_token": first, "next": "/queue"}
    response = await client.post("/login", data=form, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/queue"


async def test_a_login_cookie_not_made_by_the_console_is_replaced(client: Client) -> None:
    client.session.cookie_jar.update_cookies({LOGIN_COOKIE: "chosen"}, client.make_url("/login"))
    token = await _login_form_token(client)
    assert token != "chosen" and len(token) == 43


async def test_an_admin_cannot_add_a_name_differing_only_in_case(
    client: Client, store: Store
) -> None:
    csrf = await login(client, "root")
    body = {"name": "Alice", "role": "agent", "password": "a long password"}
    response = await post(client, "/api/users", csrf, body)
    assert response.status == 400
    assert (await response.json())["error"] == (
        "a user named 'alice' already exists; 'Alice' differs from it only in upper and "
        "lower case: choose another name"
    )
    assert "Alice" not in [a.name for a in store.accounts()]


async def test_actions_taking_no_body_refuse_a_body_that_is_not_json(
    client: Client, store: Store
) -> None:
    csrf = await login(client, "root")
    vera = store.user("vera").id
    for path in (
        "/api/drafts/1/retry",
        "/api/alerts/1/retry",
        "/api/alerts/1/mark-sent",
        f"/api/users/{vera}/disable",
        f"/api/users/{vera}/enable",
        "/api/callbacks/1/done",
    ):
        headers = {"X-CSRF-Token": csrf, "Content-Type": "text/plain"}
        response = await client.post(path, data="hello", headers=headers)
        assert response.status == 415, path
        not_object = await raw_post(client, path, csrf, "[]")
        assert not_object.status == 400, path
    assert not store.user("vera").disabled
    no_body = await client.post(f"/api/users/{vera}/disable", headers={"X-CSRF-Token": csrf})
    assert no_body.status == 200  # nothing to send: no body at all is fine


async def test_a_second_mark_done_on_a_callback_is_a_409_naming_who(
    client: Client, store: Store
) -> None:
    judged = complaint(mention("call me back please", native_id="30", handle="gil"))
    store.ingest("x", [judged], None)
    (callback,) = [c for c in store.callbacks("open") if c.author_handle == "gil"]
    csrf = await login(client, "alice")
    assert (await post(client, f"/api/callbacks/{callback.id}/done", csrf)).status == 200
    again = await post(client, f"/api/callbacks/{callback.id}/done", csrf)
    assert again.status == 409
    assert f"callback {callback.id} was already done by alice at" in (await again.json())["error"]


async def test_lists_of_posts_show_a_one_line_preview(client: Client, store: Store) -> None:
    """Blank lines in a post read as one space where a list shows its opening (the
    queue, a search's other mentions, the escalations), so no row is a screen tall;
    the live queue gets the same preview from /api/queue."""
    text = "lumenet down" + "\n" * 20 + "again, furious"
    store.ingest("x", [complaint(mention(text, native_id="5", handle="fay"), urgency=90)], None)
    await login(client, "alice")
    items = (await (await client.get("/api/queue")).json())["items"]
    fay = next(i for i in items if i["author_handle"] == "fay")
    assert fay["preview"] == "lumenet down again, furious" and fay["text"] == text
    store.escalate_case(fay["case_id"], "bob")
    for path in ("/queue", "/queue?q=furious", "/escalations"):
        page = await (await client.get(path)).text()
        assert "lumenet down again, furious" in page, path
        assert "lumenet down\n" not in page, path


async def test_the_authors_other_mentions_leave_out_the_conversation_shown_above(
    client: Client, store: Store
) -> None:
    """A draft's page showed a post of its conversation twice: under "The
    conversation" and again under "The author's other mentions"."""
    said = [
        ("gus: internet down since 7", "c1"),
        ("gus: still no answer, furious", "c1"),
        ("gus: the bill is wrong too", "c9"),
    ]
    posts = [
        mention(t, native_id=f"g{i}", handle="gus", conversation_id=c)
        for i, (t, c) in enumerate(said)
    ]
    store.ingest("x", [complaint(m) for m in posts], None)
    await login(client, "alice")
    items = (await (await client.get("/api/queue?q=@gus")).json())["items"]
    first = next(i for i in items if i["text"] == "gus: internet down since 7")
    page = await (await client.get(f"/drafts/{first['id']}")).text()
    conversation, others = page.split('id="author-history"')
    assert "gus: still no answer, furious" in conversation
    others = others.split("</ul>")[0]
    assert "gus: the bill is wrong too" in others
    assert "gus: still no answer, furious" not in others


async def test_the_authors_older_mentions_elsewhere_show_past_a_long_conversation(
    client: Client, store: Store
) -> None:
    """Twenty posts in the conversation took every place in the list before they
    were left out of it, so an older post elsewhere was "None stored"."""
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    older = mention("gus: the bill is wrong", native_id="h0", handle="gus", conversation_id="c9")
    thread = [
        mention(
            f"gus: still down, day {i}",
            native_id=f"h{i}",
            handle="gus",
            conversation_id="c1",
            created_at=day + timedelta(hours=i),
        )
        for i in range(1, 26)
    ]
    store.ingest("x", [complaint(m) for m in (older, *thread)], None)
    await login(client, "alice")
    items = (await (await client.get("/api/queue?q=@gus&limit=200")).json())["items"]
    latest = next(i for i in items if i["text"] == "gus: still down, day 25")
    page = await (await client.get(f"/drafts/{latest['id']}")).text()
    others = page.split('id="author-history"')[1].split("</ul>")[0]
    assert "gus: the bill is wrong" in others and "still down" not in others


async def test_assigning_a_case_to_whom_it_is_already_assigned_changes_nothing(
    client: Client, store: Store
) -> None:
    """`m` pressed twice wrote "case assign" twice in the case's history."""
    case_id = store.reply(1).case_id
    assert case_id is not None
    csrf = await login(client, "alice")
    path = f"/api/cases/{case_id}/assign"
    first = await (await post(client, path, csrf, {"assignee": "alice", "was": None})).json()
    again = await (await post(client, path, csrf, {"assignee": "alice", "was": "alice"})).json()
    assert first["unchanged"] is False and again["unchanged"] is True
    assert again["case"]["assignee"] == "alice"
    assigns = [e for e in store.audit_log(subject=f"case:{case_id}") if e.action == "assign"]
    assert len(assigns) == 1
    # another name still assigns; a resolved case is still refused, not "unchanged"
    assert (await post(client, path, csrf, {"assignee": "bob", "was": "alice"})).status == 200
    store.resolve_case(case_id, "alice")
    refused = await post(client, path, csrf, {"assignee": "bob", "was": "bob"})
    assert refused.status == 409
