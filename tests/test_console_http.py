"""The console's server-side rules over HTTP (no browser): every route has a role,
sessions, CSRF, roles, rate limits, headers, and clear errors."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeAlias

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from consolekit import PASSWORD, USERS, refused_alert
from factories import complaint, mention, praise

from earful.config import Config
from earful.console import build_app
from earful.console.passwords import hash_password, verify_password
from earful.console.security import CSP, SESSION_COOKIE
from earful.demo import prepare_demo
from responders.drafts import Draft, DraftKind
from responders.limits import LIMITS
from storage.store import Store

_HASH = hash_password(PASSWORD)  # once: scrypt is deliberately slow

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
        if path in ("/login", "/static/") or path.startswith("/static"):
            continue
        concrete = path.replace("{id}", "1")
        response = await client.request(method, concrete, allow_redirects=False)
        if concrete.startswith("/api/") or concrete.endswith(".csv"):
            assert response.status == 401, (method, concrete)
        else:
            assert response.status in (302, 303) and "/login" in response.headers["Location"]


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
        ("/api/drafts/1/edit", {"body": "hi"}),
        ("/api/cases/1/assign", {"assignee": "alice"}),
        ("/api/cases/1/escalate", {}),
        ("/api/cases/1/resolve", {}),
        ("/api/callbacks/1/done", {}),
        ("/api/drafts/1/retry", {}),
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


async def test_odd_unicode_renders(client: Client) -> None:
    await login(client, "alice")
    page = await client.get("/queue")
    assert page.status == 200
    assert "broken \\ud800 surrogate" in await page.text()
    api = await client.get("/api/drafts/4")
    assert (await api.json())["mention"]["text"] == "broken \ud800 surrogate"


async def test_csv_export_keeps_formulas_as_text(client: Client) -> None:
    await login(client, "vera")
    response = await client.get("/praise.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = await response.text()
    assert "'=HYPERLINK" in text


async def test_case_steps_through_the_api(client: Client, store: Store) -> None:
    csrf = await login(client, "alice")
    case_id = store.reply(2).case_id
    assigned = await post(client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "bob"})
    assert (await assigned.json())["case"]["assignee"] == "bob"
    to_viewer = await post(client, f"/api/cases/{case_id}/assign", csrf, {"assignee": "vera"})
    assert to_viewer.status == 400
    await post(client, f"/api/cases/{case_id}/resolve", csrf, {"note": "fixed"})
    again = await post(client, f"/api/cases/{case_id}/escalate", csrf)
    assert again.status == 409
    assert "resolve by alice" in (await again.json())["error"]


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
