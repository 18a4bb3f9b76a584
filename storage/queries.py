"""What the approval console reads: the filtered queue, a case with everything
around it, escalations, the praise wall, chart series and the audit trail.

Every query here is shaped for an index (see schema.py): the console must stay
quick with a million mentions in the store. Decisions go through the Store's
guarded transitions, never through this module.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from storage.db import text
from storage.records import (
    AuditEntry,
    CallbackRecord,
    CaseRecord,
    MentionRecord,
    QueueRow,
    ReplyRecord,
    _FromRow,
)
from storage.store import (
    _CALLBACK_SELECT,
    _REPLY_SELECT,
    BY_AUTHOR,
    FIRST_ASKED,
    Store,
    check_search,
    first_sent,
    fts_phrase,
    fts_words,
    median,
    net_sentiment,
    search_words,
    searched_author,
    taken_by,
)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    status: str | None = "pending"  # None: every status
    platform: str | None = None
    topic: str | None = None
    disposition: str | None = None
    segment: str | None = None
    search: str | None = None  # FTS5 query on the post's text; plain words work
    assignee: str | None = None  # who has the draft's case (NOT_TAKEN: nobody)


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The pending drafts before and after one, in queue order."""

    previous: int | None
    next: int | None


@dataclass(frozen=True, slots=True)
class AuthorMention:
    mention: MentionRecord
    disposition: str | None


@dataclass(frozen=True, slots=True)
class CaseView:
    case: CaseRecord
    mentions: tuple[MentionRecord, ...]  # oldest first
    replies: tuple[ReplyRecord, ...]
    callbacks: tuple[CallbackRecord, ...]
    history: tuple[AuditEntry, ...]


@dataclass(frozen=True, slots=True)
class Escalation:
    case: CaseRecord
    mention_id: int | None
    text: str | None
    url: str | None
    alert: str | None  # the case's latest alert: its text, id, status and error
    pending_reply: int | None
    alert_id: int | None = None
    alert_status: str | None = None
    alert_error: str | None = None


@dataclass(frozen=True, slots=True)
class PraiseItem(_FromRow):
    mention_id: int
    platform: str
    url: str | None
    author_handle: str | None
    author_name: str | None
    author_followers: int | None
    author_verified: bool | None
    created_at: str | None
    likes: int | None
    reposts: int | None
    text: str
    interest: int
    starred: bool
    starred_by: str | None
    starred_at: str | None
    # when Earful fetched it: the time an undated post (a feed entry) is shown and sorted by
    fetched_at: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """Chart data over a window of days (UTC), oldest first."""

    days: tuple[str, ...]
    by_disposition: dict[str, list[int]]  # disposition -> mentions per day
    # per day: praise - complaints per 100 posts by others that are not spam
    net_sentiment: list[float | None]
    weeks: tuple[str, ...]  # the Monday of each ISO week in the window
    topics_by_week: dict[str, list[int]]  # complaint topic -> complaints per week
    # median seconds from a case's first complaint to its first reply to one sent
    first_reply_by_week: list[float | None]
    median_first_reply_seconds: float | None
    replied_cases: int
    # the same for thank-yous, on any case
    median_first_thanks_seconds: float | None
    thanked_cases: int
    mentions: int  # every post in the window, the brand's own and spam included
    own_posts: int  # of those, the brand's own (left out of net sentiment)
    spam: int  # and spam (left out of net sentiment)
    # the whole window's net sentiment, as net_sentiment is each day's
    window_net_sentiment: float | None = None
    # the window's posts per platform, most first ("unknown": pruned before schema
    # v10 counted platforms), and each platform's net sentiment over the window
    by_platform: dict[str, int] = field(default_factory=dict)
    net_by_platform: dict[str, float | None] = field(default_factory=dict)
    # how many of each week's 7 days are in the window: the first and last week's
    # bars may count only part of a week
    week_days: list[int] = field(default_factory=list)


def _rows(store: Store, sql: str, params: Any = ()) -> list[sqlite3.Row]:
    return store._rows(sql, params)


# What a queue row adds to a reply: its post's time and its case's assignee (a
# primary-key lookup for each row returned, not for each row looked at).
_QUEUE_SELECT = _REPLY_SELECT.replace(
    "SELECT r.*,",
    "SELECT m.created_at AS posted_at, "
    "(SELECT assignee FROM cases WHERE id = r.case_id) AS assignee, r.*,",
    1,
)


_IN_SEGMENT = "r.mention_id IN (SELECT mention_id FROM verdicts WHERE segment = ?)"


def _filtered(
    store: Store,
    flt: QueueFilter,
    extra: str,
    extra_params: Sequence[Any],
    tail: str,
    select: str = _REPLY_SELECT,
) -> list[sqlite3.Row]:
    """Rows of `select` (a reply and its post) that pass the filter and `extra`,
    then `tail` (ORDER BY, LIMIT; its parameters end `extra_params`)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("r.status", flt.status),
        ("m.platform", flt.platform),
        ("v.topic", flt.topic),
        ("v.disposition", flt.disposition),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.segment:
        # from the few posts with a segment (verdicts_segment), not a look at the
        # verdict of every pending draft
        where.append(_IN_SEGMENT)
        params.append(flt.segment)
    taken, taken_params = taken_by("r.case_id", flt.assignee)
    if taken:
        where.append(taken)
        params += taken_params
    search_at = None
    words = search_words(flt.search or "")
    if words:
        check_search(words)
        author = searched_author(words)
        fts = (
            "r.mention_id IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH "
            "CAST(? AS TEXT))"
        )
        # a searched @handle finds the author's posts too, not only posts naming them
        where.append(fts if author is None else f"({fts} OR m.{BY_AUTHOR})")
        search_at = len(params)
        params.append(text(fts_words(words)))
        if author is not None:
            params.append(text(author))
    if extra:
        where.append(extra)
    sql = select + (" WHERE " + " AND ".join(where) if where else "") + " " + tail
    params += extra_params
    try:
        return _rows(store, sql, params)
    except sqlite3.OperationalError:
        if search_at is None:
            raise
        params[search_at] = text(fts_phrase(words))  # as Store.search does
        return _rows(store, sql, params)


_QUEUE_ORDER = "ORDER BY r.urgency DESC, r.interest DESC, r.id"


def queue(
    store: Store,
    flt: QueueFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    since: int | None = None,
) -> list[QueueRow]:
    """Drafts most urgent first (then most interesting, then oldest); with `since`,
    only those newer than that reply id (what a page polling for news wants)."""
    extra, params = ("r.id > ?", [since]) if since is not None else ("", [])
    tail = _QUEUE_ORDER + " LIMIT ? OFFSET ?"
    rows = _filtered(store, flt, extra, [*params, limit, offset], tail, _QUEUE_SELECT)
    return [QueueRow.from_row(r) for r in rows]


def latest_reply_id(store: Store) -> int:
    return int(_rows(store, "SELECT coalesce(max(id), 0) FROM replies")[0][0])


def neighbours(store: Store, reply: ReplyRecord, flt: QueueFilter | None = None) -> Neighbours:
    """The drafts before and after `reply` in the queue `flt` shows (pending drafts
    when None). The whole pending queue takes three index-range probes each way
    rather than one OR: each uses the queue index (status, urgency DESC, interest
    DESC, id)."""
    if flt is not None and flt != QueueFilter():
        return _neighbours_in(store, reply, flt)
    u, i, rid = reply.urgency, reply.interest, reply.id
    base = "SELECT id FROM replies WHERE status = 'pending' AND "
    after = (
        (base + "urgency = ? AND interest = ? AND id > ? ORDER BY id LIMIT 1", (u, i, rid)),
        (base + "urgency = ? AND interest < ? ORDER BY interest DESC, id LIMIT 1", (u, i)),
        (base + "urgency < ? ORDER BY urgency DESC, interest DESC, id LIMIT 1", (u,)),
    )
    before = (
        (base + "urgency = ? AND interest = ? AND id < ? ORDER BY id DESC LIMIT 1", (u, i, rid)),
        (base + "urgency = ? AND interest > ? ORDER BY interest, id DESC LIMIT 1", (u, i)),
        (base + "urgency > ? ORDER BY urgency, interest, id DESC LIMIT 1", (u,)),
    )

    def first(probes: tuple[tuple[str, tuple[int, ...]], ...]) -> int | None:
        for sql, params in probes:
            rows = _rows(store, sql, params)
            if rows:
                return int(rows[0][0])
        return None

    return Neighbours(previous=first(before), next=first(after))


def _neighbours_in(store: Store, reply: ReplyRecord, flt: QueueFilter) -> Neighbours:
    """neighbours() in a filtered queue: one query each way (a filtered queue is
    short, and its rows are found through the filter's own columns)."""
    # queue order is urgency DESC, interest DESC, id: later rows compare lower
    later, earlier = (
        "(r.urgency, r.interest, -r.id) < (?, ?, ?)",
        "(r.urgency, r.interest, -r.id) > (?, ?, ?)",
    )
    position = [reply.urgency, reply.interest, -reply.id]
    after = _filtered(store, flt, later, position, _QUEUE_ORDER + " LIMIT 1")
    before = _filtered(
        store, flt, earlier, position, "ORDER BY r.urgency, r.interest, r.id DESC LIMIT 1"
    )
    return Neighbours(
        previous=int(before[0]["id"]) if before else None,
        next=int(after[0]["id"]) if after else None,
    )


def author_mentions(
    store: Store, mention: MentionRecord, *, limit: int = 20, besides_case: int | None = None
) -> list[AuthorMention]:
    """The author's other mentions on that platform, newest first; with
    `besides_case`, those outside that case (its posts are shown apart), left out
    before the limit: an author with 20 posts in the case has older ones elsewhere."""
    if not mention.author_handle:
        return []
    outside = "" if besides_case is None else "AND m.case_id IS NOT ? "
    rows = _rows(
        store,
        "SELECT m.*, v.disposition AS verdict_disposition FROM mentions m "
        "LEFT JOIN verdicts v ON v.mention_id = m.id "
        f"WHERE m.platform = ? AND m.author_handle = CAST(? AS TEXT) AND m.id != ? {outside}"
        "ORDER BY m.created_at DESC, m.id DESC LIMIT ?",
        (
            mention.platform,
            text(mention.author_handle),
            mention.id,
            *(() if besides_case is None else (besides_case,)),
            limit,
        ),
    )
    return [AuthorMention(MentionRecord.from_row(r), r["verdict_disposition"]) for r in rows]


# The latest changes a case's view holds; the audit log has them all.
CASE_HISTORY = 50


def case_view(store: Store, case_id: int) -> CaseView:
    case = store.case(case_id)
    mentions = _rows(
        store, "SELECT * FROM mentions WHERE case_id = ? ORDER BY created_at, id", (case_id,)
    )
    replies = _rows(store, _REPLY_SELECT + " WHERE r.case_id = ? ORDER BY r.id", (case_id,))
    callbacks = _rows(store, _CALLBACK_SELECT + " WHERE c.case_id = ? ORDER BY c.id", (case_id,))
    return CaseView(
        case=case,
        mentions=tuple(MentionRecord.from_row(r) for r in mentions),
        replies=tuple(ReplyRecord.from_row(r) for r in replies),
        callbacks=tuple(CallbackRecord.from_row(r) for r in callbacks),
        history=tuple(store.audit_log(limit=CASE_HISTORY, subject=f"case:{case_id}")),
    )


def escalations(store: Store, *, limit: int = 200, offset: int = 0) -> list[Escalation]:
    rows = _rows(
        store,
        "SELECT c.*, lm.id AS m_id, lm.text AS m_text, lm.url AS m_url, "
        "la.body AS alert_body, la.id AS alert_id, la.status AS alert_status, "
        "la.last_error AS alert_error, "
        "(SELECT r.id FROM replies r WHERE r.case_id = c.id AND r.status = 'pending' "
        "  ORDER BY r.id LIMIT 1) AS pending_reply "
        "FROM cases c LEFT JOIN mentions lm ON lm.id = "
        "  (SELECT max(id) FROM mentions WHERE case_id = c.id) "
        "LEFT JOIN alerts la ON la.id = (SELECT max(id) FROM alerts WHERE case_id = c.id) "
        "WHERE c.status = 'escalated' ORDER BY c.urgency DESC, c.updated_at DESC, c.id "
        "LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [
        Escalation(
            case=CaseRecord.from_row(r),
            mention_id=r["m_id"],
            text=r["m_text"],
            url=r["m_url"],
            alert=r["alert_body"],
            pending_reply=r["pending_reply"],
            alert_id=r["alert_id"],
            alert_status=r["alert_status"],
            alert_error=r["alert_error"],
        )
        for r in rows
    ]


def praise_wall(
    store: Store, *, starred_only: bool = False, limit: int = 60, offset: int = 0
) -> list[PraiseItem]:
    """Praise mentions, newest first by the post's own time (or, undated, when it was
    fetched): index praise_posted, or praise_starred_posted for the starred only."""
    where = "WHERE p.starred = 1 " if starred_only else ""
    rows = _rows(
        store,
        "SELECT p.mention_id, p.starred, p.starred_by, p.starred_at, m.platform, m.url, "
        "m.author_handle, m.author_name, m.author_followers, m.author_verified, m.created_at, "
        "m.likes, m.reposts, m.text, v.interest, m.fetched_at "
        "FROM praise p JOIN mentions m ON m.id = p.mention_id "
        "JOIN verdicts v ON v.mention_id = p.mention_id "
        f"{where}ORDER BY p.posted_at DESC, p.mention_id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [PraiseItem.from_row(r) for r in rows]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def series(store: Store, *, days: int = 30, until: date | None = None) -> Series:
    """Mentions per day by disposition, net sentiment per day, complaint topics per
    week and the median time to first reply, over the `days` days ending `until`
    (default today; a week's report: 7 ending last Sunday). Reads the mention_days
    roll-up (schema v3), not the mentions themselves."""
    last = until or store.clock().date()
    start = last - timedelta(days=days - 1)
    day_list = [start + timedelta(days=n) for n in range(days)]
    day_index = {d.isoformat(): n for n, d in enumerate(day_list)}
    days_of_week = Counter(_monday(d) for d in day_list)
    week_list = sorted(days_of_week)
    week_index = {w.isoformat(): n for n, w in enumerate(week_list)}
    since = start.isoformat()
    before = (last + timedelta(days=1)).isoformat()  # the day after the window

    by_disposition: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    topics: dict[str, list[int]] = defaultdict(lambda: [0] * len(week_list))
    # per day, posts by others that are not spam: all, praise and complaints
    others, good, bad = [0] * days, [0] * days, [0] * days
    total = own = spam = 0
    # per platform over the window: posts, and of others' (not spam) all, praise, complaints
    platforms: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in _rows(
        store,
        "SELECT day, disposition, topic, platform, mentions AS n, own, spam "
        "FROM mention_days WHERE day >= ? AND day < ?",
        (since, before),
    ):
        n = day_index.get(row["day"])
        if n is None:
            continue  # stamped in the future (a clock ahead of ours)
        by_disposition[row["disposition"]][n] += row["n"]
        total += row["n"]
        own += row["own"]
        spam += row["spam"]
        counted = row["n"] - row["own"] - row["spam"]
        others[n] += counted
        platform = platforms[row["platform"] or "unknown"]
        platform[0] += row["n"]
        platform[1] += counted
        if row["disposition"] == "interesting_good":
            good[n] += counted
            platform[2] += counted
        elif row["disposition"] == "interesting_bad":
            bad[n] += counted
            platform[3] += counted
            week = _monday(day_list[n]).isoformat()
            topics[row["topic"] or "none"][week_index[week]] += row["n"]

    net = [net_sentiment(good[n], bad[n], others[n]) for n in range(days)]
    # by posts, most first, then by name (as the all-time counts are)
    ranked = sorted(platforms.items(), key=lambda kv: (-kv[1][0], kv[0]))

    waits: dict[str, list[float]] = {"reply": [], "thanks": []}
    weekly: dict[int, list[float]] = defaultdict(list)
    for row in _rows(
        store,
        "SELECT r.kind, substr(min(r.sent_at), 1, 10) AS sent_day, "
        f"(julianday(min(r.sent_at)) - julianday({FIRST_ASKED})) * 86400.0 AS wait "
        # INDEXED BY: without fresh ANALYZE figures the planner may walk every
        # reply by case to skip a sort; the window's range of this index is far less
        "FROM replies r INDEXED BY replies_sent "
        f"WHERE r.status = 'sent' AND r.sent_at >= ? AND r.sent_at < ? AND {first_sent('r')} "
        # a case first answered before the window is not first answered in it: a
        # later reply in the same open case would count as its first (45 days)
        "AND NOT EXISTS (SELECT 1 FROM replies e WHERE e.case_id = r.case_id "
        f"AND e.status = 'sent' AND e.kind = r.kind AND e.sent_at < ? AND {first_sent('e')}) "
        "GROUP BY r.case_id, r.kind",
        (since, before, since),
    ):
        if row["wait"] is None:
            continue  # a timestamp SQLite cannot read
        wait = max(float(row["wait"]), 0.0)
        waits[row["kind"]].append(wait)
        n = day_index.get(row["sent_day"])
        if n is not None and row["kind"] == "reply":
            weekly[week_index[_monday(day_list[n]).isoformat()]].append(wait)

    return Series(
        days=tuple(d.isoformat() for d in day_list),
        by_disposition=dict(sorted(by_disposition.items())),
        net_sentiment=net,
        weeks=tuple(w.isoformat() for w in week_list),
        week_days=[days_of_week[w] for w in week_list],
        # most complaints first, a tie by name: as `earful stats` and the chart list them
        topics_by_week=dict(sorted(topics.items(), key=lambda kv: (-sum(kv[1]), kv[0]))),
        first_reply_by_week=[median(weekly.get(n, ())) for n in range(len(week_list))],
        median_first_reply_seconds=median(waits["reply"]),
        replied_cases=len(waits["reply"]),
        median_first_thanks_seconds=median(waits["thanks"]),
        thanked_cases=len(waits["thanks"]),
        mentions=total,
        own_posts=own,
        spam=spam,
        window_net_sentiment=net_sentiment(sum(good), sum(bad), sum(others)),
        by_platform={name: p[0] for name, p in ranked},
        net_by_platform={name: net_sentiment(p[2], p[3], p[1]) for name, p in ranked},
    )


def audit_page(
    store: Store,
    *,
    limit: int = 100,
    before: int | None = None,
    actor: str | None = None,
    subject: str | None = None,
) -> list[AuditEntry]:
    where: list[str] = []
    params: list[Any] = []
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if subject:
        where.append("subject = ?")
        params.append(subject)
    if before is not None:
        where.append("id < ?")
        params.append(before)
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
    rows = _rows(store, sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    return [AuditEntry.from_row(r) for r in rows]


def assignees(store: Store) -> list[str]:
    """People who can take a case: enabled agents and admins."""
    rows = _rows(
        store, "SELECT name FROM users WHERE disabled = 0 AND role != 'viewer' ORDER BY name"
    )
    return [r[0] for r in rows]


def holders(store: Store) -> list[str]:
    """Whose work a lead may look at: those who can take a case, and anyone who
    still has a case open (an account disabled or made a viewer since: its work
    is to be handed on)."""
    rows = _rows(
        store,
        "SELECT name FROM users WHERE disabled = 0 AND role != 'viewer' "
        "UNION SELECT assignee FROM cases WHERE assignee IS NOT NULL AND status != 'resolved' "
        "ORDER BY 1",
    )
    return [r[0] for r in rows]


def held_cases(store: Store, name: str) -> list[int]:
    """The cases `name` has that are not resolved, most urgent first: the work to
    hand on when they are away."""
    rows = _rows(
        store,
        "SELECT id FROM cases WHERE assignee = CAST(? AS TEXT) AND status != 'resolved' "
        "ORDER BY urgency DESC, id",
        (text(name),),
    )
    return [int(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int
    escalated: int
    open_callbacks: int
    unknown: int  # replies that may or may not have gone out: a person checks
    failed: int  # replies the platform refused for good


def counts(store: Store) -> Counts:
    """The header's numbers; each is a count over an index."""
    row = _rows(
        store,
        "SELECT (SELECT count(*) FROM replies WHERE status = 'pending'), "
        "(SELECT count(*) FROM cases WHERE status = 'escalated'), "
        "(SELECT count(*) FROM callbacks WHERE status = 'open'), "
        "(SELECT count(*) FROM replies WHERE status = 'unknown'), "
        "(SELECT count(*) FROM replies WHERE status = 'failed')",
    )[0]
    return Counts(
        pending=row[0], escalated=row[1], open_callbacks=row[2], unknown=row[3], failed=row[4]
    )


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One person's work: what they hold now, and what they did in the window."""

    name: str
    role: str | None  # None: no account has this name (a CLI name from before accounts)
    disabled: bool
    open_cases: int  # cases they have that are not resolved
    pending_drafts: int  # drafts waiting in those cases
    open_callbacks: int  # callback tasks open in those cases
    approved: int  # drafts they approved in the window (sent since or not)
    edited: int  # of which they changed the text
    rejected: int
    callbacks_done: int
    resolved: int  # cases they resolved
    median_decision_seconds: float | None  # from a draft's drafting to their decision


# Their open work: the cases they have, with the drafts and tasks waiting there,
# counted case by case through the case's index, not by walking every case (or
# every pending draft) again for each person: a cost that grew with the team.
_HELD = """
    SELECT k.assignee AS name, count(*) AS open_cases,
           sum((SELECT count(*) FROM replies r WHERE r.case_id = k.id
                AND r.status = 'pending')) AS pending_drafts,
           sum((SELECT count(*) FROM callbacks t WHERE t.case_id = k.id
                AND t.status = 'open')) AS open_callbacks
    FROM cases k WHERE k.assignee IS NOT NULL AND k.status != 'resolved'
    GROUP BY k.assignee
"""

# Decisions standing in the window (a rejection undone is no one's decision now).
_DECIDED = """
    SELECT decided_by AS name, status, body != drafted_body AS edited,
           (julianday(decided_at) - julianday(created_at)) * 86400.0 AS wait
    FROM replies WHERE decided_by IS NOT NULL AND decided_at >= ?
"""

# Cases resolved in the window and resolved still, by whoever resolved them last: as
# for a rejection, a resolve undone is no one's, and a case resolved twice is one.
_RESOLVED = """
    SELECT (SELECT actor FROM audit WHERE subject = 'case:' || c.id AND action = 'resolve'
            ORDER BY id DESC LIMIT 1)
    FROM cases c WHERE c.status = 'resolved' AND c.resolved_at >= ?
"""

# Tasks done in the window by whoever marked them done: not those a rejection closed
# with its draft (`--close-task`, "a false alarm: nobody should call").
_CALLED = """
    SELECT t.done_by FROM callbacks t WHERE t.done_at >= ?
    AND (SELECT json_extract(detail, '$.reply_rejected') FROM audit
         WHERE subject = 'callback:' || t.id AND action = 'callback-done'
         ORDER BY id DESC LIMIT 1) IS NULL
"""


def team(store: Store, *, days: int = 7) -> list[TeamMember]:
    """Each account that may take cases, and anyone else who holds a case or decided
    something in the last `days` UTC days (today included): who is working on what,
    and how quickly drafts were decided. Viewers who did nothing are left out."""
    since = (store.clock().date() - timedelta(days=days - 1)).isoformat()
    held = {r["name"]: r for r in _rows(store, _HELD)}
    decided: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in _rows(store, _DECIDED, (since,)):
        decided[row["name"]].append(row)
    done = Counter(r[0] for r in _rows(store, _CALLED, (since,)))
    resolved = Counter(r[0] for r in _rows(store, _RESOLVED, (since,)) if r[0] is not None)
    accounts = {r["name"]: r for r in _rows(store, "SELECT name, role, disabled FROM users")}
    names = {n for n, a in accounts.items() if a["role"] != "viewer" and not a["disabled"]}
    names |= set(held) | set(decided) | set(done) | set(resolved)
    members = []
    for name in sorted(names, key=str.lower):
        account, mine, work = accounts.get(name), held.get(name), decided[name]
        approvals = [r for r in work if r["status"] != "rejected"]
        members.append(
            TeamMember(
                name=name,
                role=account["role"] if account else None,
                disabled=bool(account and account["disabled"]),
                open_cases=mine["open_cases"] if mine else 0,
                pending_drafts=mine["pending_drafts"] if mine else 0,
                open_callbacks=mine["open_callbacks"] if mine else 0,
                approved=len(approvals),
                edited=sum(bool(r["edited"]) for r in approvals),
                rejected=len(work) - len(approvals),
                callbacks_done=done[name],
                resolved=resolved[name],
                median_decision_seconds=median([r["wait"] for r in work if r["wait"] is not None]),
            )
        )
    return members
