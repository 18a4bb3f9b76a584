"""The JSON API under /api/, which the pages use: the same sessions, roles and
CSRF rule as the pages. docs/console.md lists every endpoint."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from aiohttp import web

from earful import cases
from earful.console.auth import hashing
from earful.console.counting import count_for, limits_for_browser
from earful.console.pages import (
    db,
    path_id,
    query_flag,
    query_int,
    query_limit,
    query_offset,
    queue_filter,
    source_statuses,
    stats_days,
    stats_until,
    taken_filter,
)
from earful.console.passwords import hash_password, name_problem, password_problem
from earful.console.posttext import preview
from earful.console.security import SETTINGS, STORE, json_error, public, requires, session_of
from earful.display import plain, to_json
from earful.sources import unpostable_note
from responders.limits import reply_problem
from storage import queries
from storage.queries import QueueFilter
from storage.records import Account, Rejection, ReplyRecord
from storage.schema import ROLES
from storage.store import (
    DECIDABLE,
    AlreadyDecided,
    EditedSince,
    NotFound,
    SeenAssignee,
    Store,
    posted_id_problem,
)


def ok(data: Any, status: int = 200) -> web.Response:
    # to_json: dataclasses as objects, and lone surrogates as \u escapes
    return web.Response(
        text=to_json(data, indent=None), status=status, content_type="application/json"
    )


async def body_of(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send JSON (Content-Type: application/json)")
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body is not valid JSON") from None
    except RecursionError:
        raise web.HTTPBadRequest(text="the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


async def no_body(request: web.Request) -> None:
    """For actions that take nothing: no body, or a JSON object (the pages send
    {}); any other body is refused like on every other POST (415, 400)."""
    if request.body_exists:
        await body_of(request)


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise web.HTTPBadRequest(text=f"{key} must be a non-empty string")
    return value


def _flag(data: dict[str, Any], key: str, *, required: bool = False) -> bool:
    """A JSON boolean field (absent: false, unless `required`); anything else is a 400."""
    value = data.get(key, None if required else False)
    if not isinstance(value, bool):
        raise web.HTTPBadRequest(text=f'give "{key}": true or false')
    return value


def _id(request: web.Request, what: str) -> int:
    return path_id(request, what)


@requires("viewer")
async def me(request: web.Request) -> web.StreamResponse:
    s = session_of(request)
    return ok({"name": s.name, "role": s.role, "expires_at": s.expires_at})


@requires("viewer")
async def queue(request: web.Request) -> web.StreamResponse:
    flt = queue_filter(request)
    since = query_int(request, "since")
    limit = query_limit(request, 50, 200)
    offset = query_offset(request)
    items, counts, latest = await asyncio.gather(
        db(request, queries.queue, flt, limit=limit, offset=offset, since=since),
        db(request, queries.counts),
        db(request, queries.latest_reply_id),
    )
    # `preview`: the row's text as the page writes it, so a live row stays as it was
    rows = [{**plain(item), "preview": preview(item.text)} for item in items]
    return ok({"items": rows, "counts": counts, "latest": latest})


@requires("viewer")
async def draft(request: web.Request) -> web.StreamResponse:
    reply_id = _id(request, "reply")
    return ok(await db(request, lambda s: s.detail(reply_id)))


@requires("viewer")
async def case_detail(request: web.Request) -> web.StreamResponse:
    """A case with its mentions, drafts, callbacks and history (the case page's
    history after a change)."""
    case_id = _id(request, "case")
    return ok(await db(request, queries.case_view, case_id))


@requires("viewer")
async def counts(request: web.Request) -> web.StreamResponse:
    """The header's counts (a page refreshes them after a decision)."""
    return ok(await db(request, queries.counts))


async def _next_after(request: web.Request, reply: Any, flt: QueueFilter) -> int | None:
    """The next draft in the queue the page came from (its filter is in the query);
    after its last one, the nearest still above it: None only when none is left."""
    around = await db(request, queries.neighbours, reply, flt)
    return around.next or around.previous


def _as_shown(body: str) -> str:
    """A draft's text as the page holds it after HTML parsing: line breaks become
    \\n, NUL becomes U+FFFD, and lone surrogates arrive as the backslash escapes
    (\\ud800 and the like) the pages print for them. Text the page could not tell
    apart is the same text."""
    body = body.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    return body.encode("utf-8", "backslashreplace").decode("utf-8")


async def _body_was(
    request: web.Request, data: dict[str, Any], current: ReplyRecord, wanted: str
) -> str | None:
    """The stored text the person decided on, from the `shown` text their page sent
    (None when the client sent none: older clients decide on whatever is stored).
    EditedSince when someone saved another text after the page was loaded."""
    shown = _text(data, "shown")
    if shown is None:
        return None
    if current.status in DECIDABLE and _as_shown(shown) != _as_shown(current.body):
        raise EditedSince(current, wanted, await db(request, Store.last_edit, current.id))
    # the exact stored text: the store refuses the change if it is edited meanwhile
    return current.body


@requires("agent")
async def approve(request: web.Request) -> web.StreamResponse:
    reply_id = _id(request, "reply")
    flt = queue_filter(request)  # a bad filter is a 400 before anything is decided
    data = await body_of(request)
    body = _text(data, "body")
    current = await db(request, lambda s: s.reply(reply_id))
    body_was = await _body_was(request, data, current, "approved")
    problem = reply_problem(
        current.platform, body if body is not None else current.body, current.author_handle
    )
    if problem:
        return json_error(422, f"reply {reply_id} not approved: {problem}")
    if body == current.body:
        body = None  # unchanged: a plain approval, not an edit
    actor = session_of(request).name
    reply = await db(request, lambda s: s.approve(reply_id, actor, body=body, body_was=body_was))
    unpostable = reply.platform in request.app[SETTINGS].unpostable
    note = unpostable_note(reply.platform) if unpostable else None
    return ok({"reply": reply, "next": await _next_after(request, reply, flt), "note": note})


@requires("agent")
async def reject(request: web.Request) -> web.StreamResponse:
    reply_id = _id(request, "reply")
    flt = queue_filter(request)  # a bad filter is a 400 before anything is decided
    data = await body_of(request)
    reason = _text(data, "reason", required=True)
    close_task = _flag(data, "close_task")
    # a reply in doubt (unknown) a person found is not on the platform: never to be sent
    not_posted = _flag(data, "not_posted")
    actor = session_of(request).name
    done = await db(
        request, _rejecter(close_task), reply_id, actor, reason=reason, not_posted=not_posted
    )
    return ok(
        {
            "reply": done.reply,
            "closed_tasks": done.closed_tasks,
            "kept_tasks": done.kept_tasks,
            "next": await _next_after(request, done.reply, flt),
        }
    )


def _rejecter(close_task: bool) -> Callable[..., Rejection]:
    """Store.reject_with_task, or Store.reject with no tasks touched."""
    if close_task:
        return Store.reject_with_task
    return lambda store, *args, **kw: Rejection(Store.reject(store, *args, **kw))


BULK_MAX = 200  # drafts one bulk rejection may name: a queue page holds 50


def _ids(data: dict[str, Any]) -> list[int]:
    ids = data.get("ids")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= BULK_MAX
        or not all(type(i) is int and 0 < i < 2**63 for i in ids)
    ):
        raise web.HTTPBadRequest(text=f"ids must be a list of 1 to {BULK_MAX} draft ids")
    return list(dict.fromkeys(ids))


@requires("agent")
async def reject_many(request: web.Request) -> web.StreamResponse:
    """Reject each draft named, in turn: one decided meanwhile (or gone) is listed
    with why under `refused`, and the others are still rejected."""
    data = await body_of(request)
    ids = _ids(data)
    reason = _text(data, "reason", required=True)
    reject = _rejecter(_flag(data, "close_task"))
    actor = session_of(request).name
    rejected: list[int] = []
    refused: list[dict[str, Any]] = []
    closed: list[int] = []
    kept: list[int] = []
    for reply_id in ids:
        try:
            done = await db(request, reject, reply_id, actor, reason=reason)
        except (AlreadyDecided, NotFound) as exc:
            refused.append({"id": reply_id, "error": str(exc)})
        else:
            rejected.append(reply_id)
            closed += done.closed_tasks
            kept += done.kept_tasks
    counts = await db(request, queries.counts)
    return ok(
        {
            "rejected": rejected,
            "refused": refused,
            "closed_tasks": closed,
            "kept_tasks": kept,
            "counts": counts,
        }
    )


@requires("agent")
async def edit(request: web.Request) -> web.StreamResponse:
    reply_id = _id(request, "reply")
    data = await body_of(request)
    body = _text(data, "body")
    if body is None:
        raise web.HTTPBadRequest(text="body must be a string")
    current = await db(request, lambda s: s.reply(reply_id))
    body_was = await _body_was(request, data, current, "saved")
    problem = reply_problem(current.platform, body, current.author_handle)
    if problem:
        return json_error(422, f"reply {reply_id} not saved: {problem}")
    actor = session_of(request).name
    saved = await db(request, lambda s: s.edit(reply_id, actor, body, body_was=body_was))
    return ok({"reply": saved})


@requires("agent")
async def retry(request: web.Request) -> web.StreamResponse:
    """failed/unknown -> approved: the person checked it is not on the platform."""
    reply_id = _id(request, "reply")
    await no_body(request)
    actor = session_of(request).name
    return ok({"reply": await db(request, lambda s: s.retry(reply_id, actor))})


@requires("agent")
async def reopen(request: web.Request) -> web.StreamResponse:
    """rejected -> pending (undo), with the callback tasks the rejection closed."""
    reply_id = _id(request, "reply")
    await no_body(request)
    actor = session_of(request).name
    reply, tasks = await db(request, lambda s: s.reopen(reply_id, actor))
    return ok({"reply": reply, "reopened_tasks": tasks})


def _posted_id(data: dict[str, Any]) -> str | None:
    """The reply's id on the platform, if the person found it (posted_id_problem)."""
    posted_id = (_text(data, "posted_id") or "").strip() or None
    if posted_id is not None and posted_id_problem(posted_id):
        raise web.HTTPBadRequest(text="posted_id must be printable text without spaces")
    return posted_id


@requires("agent")
async def mark_sent(request: web.Request) -> web.StreamResponse:
    """failed/unknown -> sent: the person found it on the platform."""
    reply_id = _id(request, "reply")
    posted_id = _posted_id(await body_of(request))
    actor = session_of(request).name
    reply = await db(request, lambda s: s.confirm_sent(reply_id, actor, posted_id=posted_id))
    return ok({"reply": reply})


@requires("agent")
async def retry_alert(request: web.Request) -> web.StreamResponse:
    """failed/unknown/skipped -> pending: the alert publisher sends it again."""
    alert_id = _id(request, "alert")
    await no_body(request)
    actor = session_of(request).name
    return ok({"alert": await db(request, lambda s: s.retry_alert(alert_id, actor))})


@requires("agent")
async def alert_sent(request: web.Request) -> web.StreamResponse:
    """failed/unknown -> sent: the person found it in the channel."""
    alert_id = _id(request, "alert")
    await no_body(request)
    actor = session_of(request).name
    return ok({"alert": await db(request, lambda s: s.confirm_alert_sent(alert_id, actor))})


# -- accounts (admins) ---------------------------------------------------------------


def _role(data: dict[str, Any]) -> str:
    role = _text(data, "role", required=True)
    if role not in ROLES:
        raise web.HTTPBadRequest(text=f"role must be one of {', '.join(ROLES)}")
    return role


async def _new_password_hash(request: web.Request, data: dict[str, Any]) -> str:
    password = _text(data, "password", required=True) or ""
    problem = password_problem(password)
    if problem:
        raise web.HTTPBadRequest(text=problem)
    return await hashing(request, hash_password, password)  # scrypt: ~0.1 s of CPU


@requires("admin")
async def users(request: web.Request) -> web.StreamResponse:
    return ok({"items": await db(request, lambda s: s.accounts())})


@requires("admin")
async def add_user(request: web.Request) -> web.StreamResponse:
    data = await body_of(request)
    name = (_text(data, "name", required=True) or "").strip()
    problem = name_problem(name)
    if problem:
        raise web.HTTPBadRequest(text=problem)
    role = _role(data)
    password_hash = await _new_password_hash(request, data)
    actor = session_of(request).name
    user_id = await db(request, lambda s: s.add_user(name, role, password_hash, actor=actor))
    return ok({"user": await db(request, lambda s: s.account(user_id))}, status=201)


async def _account(request: web.Request) -> Account:
    return await db(request, Store.account, _id(request, "user"))


@requires("admin")
async def user_role(request: web.Request) -> web.StreamResponse:
    role = _role(await body_of(request))
    name, actor = (await _account(request)).name, session_of(request).name
    account = await db(request, lambda s: s.set_role(name, role, actor=actor))
    return ok({"user": account, "held_cases": await _held(request, account)})


@requires("admin")
async def user_disable(request: web.Request) -> web.StreamResponse:
    await no_body(request)
    name, actor = (await _account(request)).name, session_of(request).name
    account = await db(request, lambda s: s.set_disabled(name, True, actor=actor))
    return ok({"user": account, "held_cases": await _held(request, account)})


async def _held(request: web.Request, account: Account) -> list[int]:
    """The open cases an account that can no longer work them still has (the
    page names them: its customers would wait on someone who is gone)."""
    if not account.disabled and account.role != "viewer":
        return []
    return await db(request, queries.held_cases, account.name)


@requires("admin")
async def user_enable(request: web.Request) -> web.StreamResponse:
    await no_body(request)
    name, actor = (await _account(request)).name, session_of(request).name
    return ok({"user": await db(request, lambda s: s.set_disabled(name, False, actor=actor))})


@requires("admin")
async def user_password(request: web.Request) -> web.StreamResponse:
    password_hash = await _new_password_hash(request, await body_of(request))
    account, actor = await _account(request), session_of(request).name
    await db(request, lambda s: s.set_password(account.name, password_hash, actor=actor))
    return ok({"user": account})  # a password is not part of the account's record


@requires("admin")
async def user_logout(request: web.Request) -> web.StreamResponse:
    """Log someone out everywhere (a browser left logged in, a cookie feared stolen)."""
    await no_body(request)
    account, actor = await _account(request), session_of(request).name
    ended = await db(request, lambda s: s.end_sessions(account.name, actor=actor))
    return ok({"user": account, "sessions": ended})


@requires("agent")
async def assign(request: web.Request) -> web.StreamResponse:
    case_id = _id(request, "case")
    data = await body_of(request)
    assignee = _text(data, "assignee")
    if assignee and name_problem(assignee):
        raise web.HTTPBadRequest(text="assignee must be the name of an account, or null")
    # whom the page showed it assigned to: someone who took it since is not overruled
    seen = SeenAssignee(_text(data, "was") or None) if "was" in data else None
    actor = session_of(request).name
    current = await db(request, lambda s: s.case(case_id))
    if current.already_with(assignee or None):
        return ok({"case": current, "unchanged": True})  # the page says so
    return ok(
        {
            "case": await db(
                request, lambda s: s.assign_case(case_id, actor, assignee or None, seen=seen)
            ),
            "unchanged": False,
        }
    )


async def _case_note(request: web.Request) -> tuple[int, str, str | None]:
    """The case, who acts, and their optional note (for the audit log)."""
    case_id = _id(request, "case")
    note = (_text(await body_of(request), "note") or "").strip() or None
    return case_id, session_of(request).name, note


@requires("agent")
async def escalate(request: web.Request) -> web.StreamResponse:
    """A person escalates: the case says so, and senior staff get an alert (the
    webhook's, as for the alerts Earful raises) saying who and why."""
    case_id, actor, note = await _case_note(request)
    return ok({"case": await db(request, cases.escalate, case_id, actor, note=note)})


@requires("agent")
async def resolve(request: web.Request) -> web.StreamResponse:
    """Close a case, and the callback tasks still open in it."""
    case_id, actor, note = await _case_note(request)
    case, tasks = await db(request, lambda s: s.resolve_case(case_id, actor, note=note))
    return ok({"case": case, "closed_tasks": tasks})


@requires("agent")
async def reopen_case(request: web.Request) -> web.StreamResponse:
    """Undo a resolve: the case, and the callback tasks resolving it closed, are open."""
    case_id = path_id(request, "case")
    actor = session_of(request).name
    case, tasks = await db(request, lambda s: s.reopen_case(case_id, actor))
    return ok({"case": case, "reopened_tasks": tasks})


@requires("viewer")
async def callbacks(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "open")
    if status not in ("open", "done", "all"):
        return json_error(400, "status must be open, done or all")
    limit = query_limit(request, 100, 500)
    offset = query_offset(request)
    assignee = taken_filter(request)
    rows = await db(
        request,
        lambda s: s.callbacks(
            None if status == "all" else status, limit=limit, offset=offset, assignee=assignee
        ),
    )
    return ok({"items": rows})


@requires("agent")
async def callback_done(request: web.Request) -> web.StreamResponse:
    callback_id = _id(request, "callback")
    await no_body(request)
    actor = session_of(request).name
    await db(request, lambda s: s.complete_callback(callback_id, actor))
    return ok({"done": callback_id, "by": actor})


@requires("viewer")
async def escalations(request: web.Request) -> web.StreamResponse:
    offset = query_offset(request)
    return ok({"items": await db(request, lambda s: queries.escalations(s, offset=offset))})


@requires("viewer")
async def praise(request: web.Request) -> web.StreamResponse:
    starred = query_flag(request, "starred")
    limit = query_limit(request, 60, 500)
    offset = query_offset(request)
    rows = await db(request, queries.praise_wall, starred_only=starred, limit=limit, offset=offset)
    return ok({"items": rows})


@requires("viewer")
async def star(request: web.Request) -> web.StreamResponse:
    """Marketing's one write: marking praise as a testimonial."""
    mention_id = _id(request, "mention")
    data = await body_of(request)
    # no default: an empty body starring the post was a guess at what was meant
    starred = _flag(data, "starred", required=True)
    actor = session_of(request).name
    await db(request, lambda s: s.star_praise(mention_id, actor, starred=starred))
    return ok({"mention_id": mention_id, "starred": starred})


@requires("viewer")
async def stats(request: web.Request) -> web.StreamResponse:
    window = {"days": stats_days(request), "until": stats_until(request)}
    return ok(await db(request, queries.series, **window))


@requires("viewer")
async def sources(request: web.Request) -> web.StreamResponse:
    return ok({"items": await source_statuses(request)})


@requires("admin")
async def audit(request: web.Request) -> web.StreamResponse:
    q = request.query
    rows = await db(
        request,
        queries.audit_page,
        limit=query_limit(request, 100, 500),
        before=query_int(request, "before"),
        actor=q.get("actor") or None,
        subject=q.get("subject") or None,
    )
    return ok({"items": rows})


@requires("viewer")
async def limits(request: web.Request) -> web.StreamResponse:
    return ok(limits_for_browser())


@requires("viewer")
async def count(request: web.Request) -> web.StreamResponse:
    """The editor's live count, by the same functions that check an approval."""
    data = await body_of(request)
    platform = _text(data, "platform", required=True) or ""
    body = _text(data, "body")
    author = _text(data, "author")
    return ok(count_for(platform, body or "", author or None))


def _database_problem(store: Store) -> str | None:
    """Why the database cannot be used, said without its path (the answer is
    public), or None."""
    if store.file_problem() is not None:
        return "the database file was deleted, moved or replaced"
    try:
        queries.latest_reply_id(store)
    except sqlite3.Error:
        return "the database does not answer"
    return None


@public
async def healthz(request: web.Request) -> web.StreamResponse:
    """For a monitor, no login: 200 while the database answers, with each source's
    state ("degraded" when one needs a person: disabled, or failing poll after poll);
    503 when the database cannot be used. No post, name of a person or error text."""
    problem = await asyncio.to_thread(_database_problem, request.app[STORE])
    if problem is not None:
        return ok({"status": "down", "database": problem}, status=503)
    sources = await source_statuses(request)
    attention = any(s.needs_attention for s in sources)
    return ok(
        {
            "status": "degraded" if attention else "ok",
            "database": "ok",
            "sources": {s.name: s.state for s in sources},
        }
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/healthz", healthz)
    router.add_get("/api/me", me)
    router.add_get("/api/queue", queue)
    router.add_get("/api/counts", counts)
    router.add_get("/api/drafts/{id:\\d+}", draft)
    router.add_post("/api/drafts/reject", reject_many)
    router.add_post("/api/drafts/{id:\\d+}/approve", approve)
    router.add_post("/api/drafts/{id:\\d+}/reject", reject)
    router.add_post("/api/drafts/{id:\\d+}/edit", edit)
    router.add_post("/api/drafts/{id:\\d+}/retry", retry)
    router.add_post("/api/drafts/{id:\\d+}/reopen", reopen)
    router.add_post("/api/drafts/{id:\\d+}/mark-sent", mark_sent)
    router.add_get("/api/cases/{id:\\d+}", case_detail)
    router.add_post("/api/cases/{id:\\d+}/assign", assign)
    router.add_post("/api/cases/{id:\\d+}/escalate", escalate)
    router.add_post("/api/cases/{id:\\d+}/resolve", resolve)
    router.add_post("/api/cases/{id:\\d+}/reopen", reopen_case)
    router.add_get("/api/callbacks", callbacks)
    router.add_post("/api/callbacks/{id:\\d+}/done", callback_done)
    router.add_get("/api/escalations", escalations)
    router.add_post("/api/alerts/{id:\\d+}/retry", retry_alert)
    router.add_post("/api/alerts/{id:\\d+}/mark-sent", alert_sent)
    router.add_get("/api/praise", praise)
    router.add_post("/api/praise/{id:\\d+}/star", star)
    router.add_get("/api/stats", stats)
    router.add_get("/api/sources", sources)
    router.add_get("/api/users", users)
    router.add_post("/api/users", add_user)
    router.add_post("/api/users/{id:\\d+}/role", user_role)
    router.add_post("/api/users/{id:\\d+}/disable", user_disable)
    router.add_post("/api/users/{id:\\d+}/enable", user_enable)
    router.add_post("/api/users/{id:\\d+}/password", user_password)
    router.add_post("/api/users/{id:\\d+}/logout", user_logout)
    router.add_get("/api/audit", audit)
    router.add_get("/api/limits", limits)
    router.add_post("/api/count", count)
