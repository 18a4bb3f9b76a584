"""The HTML pages. Each reads through the store off the event loop and renders a
Jinja2 template (autoescaped); the pages' actions go through the JSON API."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from earful.console.passwords import MIN_PASSWORD, name_problem
from earful.console.posttext import post_text, preview
from earful.console.security import (
    ROLE_RANK,
    SESSION,
    SETTINGS,
    STORE,
    requires,
    session_of,
)
from earful.console.times import time_element
from earful.display import (
    DISPOSITION_NAMES,
    EXPORT_ERRORS,
    audit_note,
    duration,
    plain,
    write_csv,
)
from earful.source_status import SourceStatus, statuses
from listener.normalize import http_url
from responders.limits import LIMITS
from rules.verdict import Disposition
from storage import health, queries
from storage.queries import QueueFilter
from storage.schema import REPLY_STATUSES, ROLES
from storage.sessions import Session
from storage.store import DECIDABLE, MAX_SEARCH, NOT_TAKEN, Store, day_problem

T = TypeVar("T")

PAGE_SIZE = 50


async def db(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a store call off the event loop: SQLite calls block."""
    return await asyncio.to_thread(fn, request.app[STORE], *args, **kwargs)


async def source_statuses(request: web.Request) -> list[SourceStatus]:
    recorded = await db(request, health.read)
    return statuses(request.app[SETTINGS].sources, recorded)


def install_filters(env: jinja2.Environment) -> None:
    env.filters["http_url"] = http_url
    env.filters["post_text"] = post_text  # long words and long posts stay fast to lay out
    env.filters["preview"] = preview  # a list row's share of a post, as /api/queue sends it
    env.filters["duration"] = duration
    env.filters["thousands"] = lambda n: "-" if n is None else f"{n:,}"
    env.filters["audit_note"] = audit_note
    env.filters["when"] = time_element  # the browser shows it in the viewer's zone
    env.globals["ROLE_RANK"] = ROLE_RANK
    env.globals["DECIDABLE"] = DECIDABLE
    env.globals["DISPOSITION_NAMES"] = DISPOSITION_NAMES


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    session: Session | None = request.get(SESSION)
    counts = await db(request, queries.counts) if session else None
    settings = request.app[SETTINGS]
    sources = await source_statuses(request) if session else []
    html = aiohttp_jinja2.render_string(
        template,
        request,
        {
            "me": session,
            "csrf": session.csrf if session else "",
            "counts": counts,
            "sources_in_trouble": sum(s.needs_attention for s in sources),
            "brand": settings.brand,
            "refresh_ms": int(settings.refresh * 1000),
            "can_decide": bool(session and ROLE_RANK[session.role] >= ROLE_RANK["agent"]),
            "is_admin": bool(session and session.role == "admin"),
            "path": request.path,
            **context,
        },
    )
    # backslashreplace: a post may hold lone surrogates, which no UTF-8 can carry
    return web.Response(
        body=html.encode("utf-8", "backslashreplace"),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )


_REASONS = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Already decided",
    413: "Too large",
    415: "Unsupported media type",
    422: "Cannot be posted",
    429: "Too many requests",
    500: "Server error",
}


async def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """The console's error page: the header (when logged in), what went wrong, and
    a way back."""
    return await render(
        request,
        "error.html",
        {"status": status, "reason": _REASONS.get(status, "Error"), "message": message},
        status=status,
    )


# SQLite integers are signed 64-bit: a larger id or number cannot be stored, and
# passing one to SQLite raises OverflowError (a 500) instead of finding nothing.
INT64_MAX = 2**63 - 1


def path_id(request: web.Request, what: str) -> int:
    """The route's {id}: an id no row can have (beyond SQLite's range) is a 404."""
    raw = request.match_info["id"]  # the route's \d+ also takes other scripts' digits
    if not raw.isascii():
        raise web.HTTPNotFound(text=f"no {what} with id {raw}")
    value = int(raw)
    if value > INT64_MAX:
        raise web.HTTPNotFound(text=f"no {what} with id {value}")
    return value


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        if not value.isascii():  # int() reads any script's digits: "１" would be 1
            raise ValueError(value)
        number = int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number, got {value!r}") from None
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise web.HTTPBadRequest(text=f"{name} is out of range, got {value!r}")
    return number


def query_offset(request: web.Request) -> int:
    """The `offset` of a paged list: none, or a negative one, is the first page."""
    return max(query_int(request, "offset", 0) or 0, 0)


_FLAGS = {"1": True, "true": True, "0": False, "false": False}


def query_flag(request: web.Request, name: str) -> bool:
    """A yes-or-no parameter: 1 or 0, true or false (any case); absent or empty is
    no. Anything else is refused: `?starred=yes` quietly showing every praise post
    would be a wrong answer that looks right."""
    value = request.query.get(name)
    if value in (None, ""):
        return False
    flag = _FLAGS.get(value.lower())
    if flag is None:
        raise web.HTTPBadRequest(text=f"{name} must be 1, 0, true or false, got {value!r}")
    return flag


def query_limit(request: web.Request, default: int, maximum: int) -> int:
    """The `limit` parameter: at least 1, and no more than `maximum` are returned
    (a larger limit gets `maximum`). A limit below 1 would reach SQLite as
    LIMIT -1 or 0: no limit at all, or nothing."""
    limit = query_int(request, "limit", default)
    if limit is None or limit < 1:
        raise web.HTTPBadRequest(text=f"limit must be a whole number from 1 to {maximum}")
    return min(limit, maximum)


# The query keys that choose which drafts the queue shows (not which page of them).
FILTER_KEYS = ("q", "status", "platform", "disposition", "topic", "segment", "assignee")


def queue_query(request: web.Request) -> str:
    """The queue's filter from this request's address, as "?key=value..." (or "")
    for the links that keep an agent in the queue they chose."""
    kept = {k: request.query[k] for k in FILTER_KEYS if request.query.get(k)}
    return "?" + urlencode(kept) if kept else ""


def queue_filter(request: web.Request) -> QueueFilter:
    q = request.query
    status = q.get("status", "pending")
    if status not in (*REPLY_STATUSES, "all"):
        raise web.HTTPBadRequest(text=f"status must be one of {', '.join(REPLY_STATUSES)} or all")
    search = q.get("q") or None
    if search is not None and "\0" in search:
        # no search box can type one: a crafted address (other control characters
        # are searched as spaces, see storage.store.search_words)
        raise web.HTTPBadRequest(text="a search cannot hold a NUL character (U+0000)")
    # An old bookmark's "platform=twitter" showed an empty queue, "all clear", while
    # drafts waited. Platforms and dispositions are fixed lists; topics and segments
    # are not (a rule file may name new ones, and stored drafts keep retired ones):
    # an unknown one shows its empty queue, whose message names the filter.
    choices = {
        "platform": request.app[SETTINGS].platforms,
        "disposition": tuple(d.value for d in Disposition),
    }
    for key, known in choices.items():
        given = q.get(key)
        if given and given not in known:
            raise web.HTTPBadRequest(
                text=f'no {key} "{given}": the {key}s are {", ".join(known) or "(none)"}'
            )
    return QueueFilter(
        status=None if status == "all" else status,
        platform=q.get("platform") or None,
        topic=q.get("topic") or None,
        disposition=q.get("disposition") or None,
        segment=q.get("segment") or None,
        search=search,
        assignee=taken_filter(request),
    )


def taken_filter(request: web.Request) -> str | None:
    """`assignee` from the address: an account's name, NOT_TAKEN, or None for all."""
    given = request.query.get("assignee") or None
    if given is not None and given != NOT_TAKEN and name_problem(given):
        raise web.HTTPBadRequest(text=f'assignee must be an account\'s name or "{NOT_TAKEN}"')
    return given


@requires("viewer")
async def home(request: web.Request) -> web.StreamResponse:
    viewer = session_of(request).role == "viewer"
    raise web.HTTPFound("/praise" if viewer else "/queue")


@requires("viewer")
async def queue_page(request: web.Request) -> web.StreamResponse:
    flt = queue_filter(request)
    offset = query_offset(request)
    items, latest, holders = await asyncio.gather(
        db(request, queries.queue, flt, limit=PAGE_SIZE, offset=offset),
        db(request, queries.latest_reply_id),
        db(request, queries.holders),
    )
    others = []
    if flt.search:
        # the other stored mentions that match: not those whose draft is listed above
        listed = {r.mention_id for r in items}
        found = await db(request, lambda s: s.search(flt.search, limit=20 + len(listed)))
        others = [m for m in found if m.id not in listed][:20]
    settings = request.app[SETTINGS]
    status = request.query.get("status", "pending")
    query = {k: v for k, v in request.query.items() if k != "offset" and v}

    def page_url(at: int) -> str:
        return "/queue?" + urlencode({**query, "offset": str(at)})

    return await render(
        request,
        "queue.html",
        {
            "query": urlencode(query),
            "queue_query": queue_query(request),
            "prev_url": page_url(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
            "next_url": page_url(offset + PAGE_SIZE) if len(items) == PAGE_SIZE else None,
            "more_url": page_url(offset + PAGE_SIZE),
            "items": items,
            "flt": flt,
            "status": status,
            # only the first page of pending (or all) drafts follows the queue live
            "live": offset == 0 and status in ("pending", "all"),
            "offset": offset,
            "page_size": PAGE_SIZE,
            "urgent_at": settings.urgent_at,
            "max_search": MAX_SEARCH,
            "latest": latest,
            "others": others,
            "statuses": REPLY_STATUSES,
            "platforms": settings.platforms,
            "topics": settings.topics,
            "segments": settings.segments,
            "dispositions": [d.value for d in Disposition],
            "holders": [*holders, NOT_TAKEN],
        },
    )


def _limit_text(platform: str) -> str:
    limit = LIMITS.get(platform)
    return f"{limit[0]} {limit[2]}" if limit else "no limit"


@requires("viewer")
async def draft_page(request: web.Request) -> web.StreamResponse:
    reply_id = path_id(request, "reply")
    detail = await db(request, lambda s: s.detail(reply_id))
    author, around, people = await asyncio.gather(
        # the conversation (its case) is shown above: its posts are not listed twice
        db(request, queries.author_mentions, detail.mention, besides_case=detail.reply.case_id),
        db(request, queries.neighbours, detail.reply, queue_filter(request)),
        db(request, queries.assignees),
    )
    return await render(
        request,
        "case.html",
        {
            "d": detail,
            "case": detail.case,
            "author": author,
            "around": around,
            "people": people,
            "limit_text": _limit_text(detail.reply.platform),
            "queue_query": queue_query(request),
            # the open tasks drafted with this reply: a rejection may close them
            "own_tasks": [
                c
                for c in detail.callbacks
                if c.mention_id == detail.reply.mention_id and c.status == "open"
            ],
            "liked": detail.reply.kind == "thanks"
            and detail.reply.platform in request.app[SETTINGS].thanks_liked,
            # the draft's and the case's entries as one timeline, oldest first (audit
            # ids grow with time): two lists in two orders read as one muddle
            "history": sorted(
                [
                    *detail.history,
                    *(
                        await db(
                            request,
                            lambda s: s.audit_log(limit=50, subject=f"case:{detail.case.id}"),
                        )
                        if detail.case
                        else []
                    ),
                ],
                key=lambda h: h.id,
            ),
        },
    )


@requires("viewer")
async def case_page(request: web.Request) -> web.StreamResponse:
    case_id = path_id(request, "case")
    view = await db(request, queries.case_view, case_id)
    pending = [r for r in view.replies if r.status == "pending"]
    chosen = pending[0] if pending else (view.replies[-1] if view.replies else None)
    if chosen is not None:
        raise web.HTTPFound(f"/drafts/{chosen.id}")
    people = await db(request, queries.assignees)
    return await render(request, "case_only.html", {"v": view, "case": view.case, "people": people})


@requires("viewer")
async def callbacks_page(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "open")
    if status not in ("open", "done", "all"):
        raise web.HTTPBadRequest(text="status must be open, done or all")
    wanted = None if status == "all" else status
    assignee = taken_filter(request)
    page, holders = await asyncio.gather(
        paged(
            request,
            lambda s, limit, offset: s.callbacks(
                wanted, limit=limit, offset=offset, assignee=assignee
            ),
            CALLBACKS_PAGE,
        ),
        db(request, queries.holders),
    )
    return await render(
        request,
        "callbacks.html",
        {
            **page,
            "status": status,
            "assignee": assignee,
            "holders": [*holders, NOT_TAKEN],
            # the filter, kept by the status and page links
            "taken": "&" + urlencode({"assignee": assignee}) if assignee else "",
        },
    )


CALLBACKS_PAGE = 100


@requires("viewer")
async def escalations_page(request: web.Request) -> web.StreamResponse:
    # an outage escalates hundreds: every one is on a page
    page = await paged(
        request,
        lambda s, limit, offset: queries.escalations(s, limit=limit, offset=offset),
        ESCALATIONS_PAGE,
    )
    return await render(request, "escalations.html", page)


ESCALATIONS_PAGE = 100


async def paged(
    request: web.Request, read: Callable[[Store, int, int], Sequence[Any]], size: int
) -> dict[str, Any]:
    """One page of `size` rows of a list from `?offset=` (`read` takes a limit and an
    offset): its rows, where it starts, the page's size and whether a next page has
    any."""
    offset = query_offset(request)
    # one more than a page: whether there is a next one (a list of exactly a page
    # would link to an empty page)
    rows = await db(request, lambda s: read(s, size + 1, offset))
    return {"rows": rows[:size], "offset": offset, "size": size, "more": len(rows) > size}


@requires("viewer")
async def praise_page(request: web.Request) -> web.StreamResponse:
    starred = query_flag(request, "starred")
    page = await paged(
        request,
        lambda s, limit, offset: queries.praise_wall(
            s, starred_only=starred, limit=limit, offset=offset
        ),
        PRAISE_PAGE,
    )
    return await render(request, "praise.html", {**page, "starred": starred})


PRAISE_PAGE = 60


@requires("viewer")
async def praise_csv(request: web.Request) -> web.StreamResponse:
    starred = query_flag(request, "starred")  # the wall's own filter

    def build(store: Any) -> str:
        columns, rows = store.export("praise", starred_only=starred)
        out = io.StringIO()
        write_csv(out, columns, rows)
        return out.getvalue()

    body = await db(request, build)
    # the two downloads named apart: the starred file must not pass for all praise
    name = "earful-praise-starred.csv" if starred else "earful-praise.csv"
    return web.Response(
        body=body.encode("utf-8", EXPORT_ERRORS),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def stats_days(request: web.Request) -> int:
    days = query_int(request, "days")
    if days is None:
        return 30
    if not 1 <= days <= 366:
        raise web.HTTPBadRequest(text="days must be between 1 and 366")
    return days


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def stats_until(request: web.Request) -> date | None:
    """?until=YYYY-MM-DD: the window's last UTC day (None: today), as `earful
    stats --until` takes it: last week's figures, on any day after it."""
    value = request.query.get("until")
    if value in (None, ""):
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"until must be a day as YYYY-MM-DD, got {value!r}") from None
    problem = day_problem(day)  # 0001-01-01 was a 500: the window's days overflowed
    if problem:
        raise web.HTTPBadRequest(text=f"until: {problem}")
    return day


@requires("viewer")
async def stats_page(request: web.Request) -> web.StreamResponse:
    days = stats_days(request)
    until = stats_until(request)
    series = await db(request, queries.series, days=days, until=until)
    context = {
        "s": series,
        "days": days,
        "until": until,
        "series_json": plain(series),
        "sources": await source_statuses(request),
    }
    return await render(request, "stats.html", context)


@requires("admin")
async def audit_page(request: web.Request) -> web.StreamResponse:
    actor = request.query.get("actor") or None
    subject = request.query.get("subject") or None
    before = query_int(request, "before")
    rows = await db(
        request, queries.audit_page, limit=100, before=before, actor=actor, subject=subject
    )
    return await render(
        request,
        "audit.html",
        {"rows": rows, "actor": actor or "", "subject": subject or "", "before": before},
    )


@requires("admin")
async def users_page(request: web.Request) -> web.StreamResponse:
    accounts = await db(request, lambda s: s.accounts())
    return await render(
        request, "users.html", {"accounts": accounts, "roles": ROLES, "min_password": MIN_PASSWORD}
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", home)
    router.add_get("/queue", queue_page, name="queue")
    router.add_get("/drafts/{id:\\d+}", draft_page, name="draft")
    router.add_get("/cases/{id:\\d+}", case_page, name="case")
    router.add_get("/callbacks", callbacks_page, name="callbacks")
    router.add_get("/escalations", escalations_page, name="escalations")
    router.add_get("/praise", praise_page, name="praise")
    router.add_get("/praise.csv", praise_csv, name="praise_csv")
    router.add_get("/stats", stats_page, name="stats")
    router.add_get("/audit", audit_page, name="audit")
    router.add_get("/users", users_page, name="users")
