"""Writing one judged batch: mentions, verdicts, cases, drafts and the cursor.

Runs inside the caller's `BEGIN IMMEDIATE` transaction, so it sees every row
committed before it and no other writer can interleave. That is what lets it
check for duplicates once, hand out row ids itself and write each table with one
`executemany` per batch instead of several statements per mention (the difference
between ~140 and ~25 microseconds a mention).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from listener.mention import Mention
from responders.drafts import AUTHOR_FACING, POSTABLE, Draft, DraftKind, contact_weight
from rules.verdict import Disposition
from storage.db import dumps, iso, text
from storage.records import IngestResult, Judged

# SQLite caps bound parameters per statement; lookups go in chunks of this many keys.
_CHUNK = 300

_INSERT_MENTION = """
    INSERT INTO mentions (
        id, platform, native_id, source, url, author_handle, author_name, author_followers,
        author_verified, author_id, author_url, text, context, created_at, fetched_at,
        lang, likes, reposts, replies, conversation_id, in_reply_to, case_id, raw,
        version_id, edited_at
    ) VALUES (
        ?, ?, CAST(? AS TEXT), ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?,
        ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?, ?,
        ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, CAST(? AS TEXT), ?
    )
"""

# An edit of a stored post: the newest version's words, link and counts; the text the
# verdict was made from is kept once. A version id only grows (X's are snowflakes),
# so an older version arriving late (a page read again) changes nothing.
_REVISE_MENTION = """
    UPDATE mentions SET judged_text = coalesce(judged_text, nullif(text, CAST(? AS TEXT))),
        text = CAST(? AS TEXT),
        url = coalesce(CAST(? AS TEXT), url), likes = ?, reposts = ?, replies = ?,
        raw = coalesce(?, raw), version_id = CAST(? AS TEXT), edited_at = ?
    WHERE platform = ? AND native_id = CAST(? AS TEXT)
    AND (length(coalesce(version_id, '')), coalesce(version_id, ''))
        < (length(CAST(? AS TEXT)), CAST(? AS TEXT))
"""

_INSERT_VERDICT = """
    INSERT INTO verdicts (
        mention_id, disposition, compound, score, labels, topic, urgency, interest,
        segment, actions, reasons, lang
    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_INSERT_CASE = """
    INSERT INTO cases (id, platform, author_handle, conversation, disposition, topic,
        urgency, first_mention_at, opened_at, updated_at)
    VALUES (?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?)
"""

# A later mention in the thread raises the case's urgency; a complaint anywhere in
# it makes it a complaint case.
_UPDATE_CASE = """
    UPDATE cases SET updated_at = ?, urgency = max(urgency, ?), topic = coalesce(topic, ?),
        disposition = CASE WHEN ? THEN ? ELSE coalesce(disposition, ?) END
    WHERE id = ?
"""

_INSERT_REPLY = """
    INSERT INTO replies (case_id, mention_id, kind, body, drafted_body, reason, template,
        urgency, interest, created_at)
    VALUES (?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?)
"""

_INSERT_CALLBACK = """
    INSERT INTO callbacks (case_id, mention_id, body, reason, urgency, created_at)
    VALUES (?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?)
"""

_INSERT_ALERT = """
    INSERT INTO alerts (case_id, mention_id, body, reason, created_at)
    VALUES (?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?)
    ON CONFLICT (mention_id) DO NOTHING
"""

# The console's charts read this per-day roll-up instead of counting every mention.
_COUNT_DAYS = """
    INSERT INTO mention_days (day, disposition, topic, platform, mentions, own, spam)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, disposition, topic, platform) DO UPDATE SET
        mentions = mentions + excluded.mentions, own = own + excluded.own,
        spam = spam + excluded.spam
"""

_ACTIONABLE = frozenset(
    {Disposition.INTERESTING_BAD, Disposition.INTERESTING_GOOD, Disposition.QUESTION}
)

CaseKey = tuple[str, str, str]  # platform, handle ('' when unknown), conversation


@dataclass
class _Rows:
    """Everything one batch writes, table by table, in the order it must be written."""

    cases: list[tuple[Any, ...]] = field(default_factory=list)
    case_updates: list[tuple[Any, ...]] = field(default_factory=list)
    mentions: list[tuple[Any, ...]] = field(default_factory=list)
    verdicts: list[tuple[Any, ...]] = field(default_factory=list)
    replies: list[tuple[Any, ...]] = field(default_factory=list)
    callbacks: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    escalated: list[tuple[int]] = field(default_factory=list)
    praise: list[tuple[int, str | None]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    follow_ups: list[tuple[Any, ...]] = field(default_factory=list)


def write_batch(
    conn: sqlite3.Connection,
    source: str,
    batch: Sequence[Judged],
    cursor: Mapping[str, Any] | None,
    now: str | None,
    edits: Sequence[Mention] = (),
) -> IngestResult:
    """`edits`: newer versions of posts, applied to those stored (this batch's too)."""
    fresh = _cooled(conn, _new_items(conn, batch))
    rows = _Rows()
    next_mention = _next_id(conn, "mentions")
    next_case = _next_id(conn, "cases")
    open_cases = _open_cases(conn, (_case_key(item) for item in fresh))
    cases_opened = 0
    for offset, item in enumerate(fresh):
        mention_id = next_mention + offset
        key = _case_key(item)
        case_id = open_cases.get(key)
        actionable = item.verdict.disposition in _ACTIONABLE or bool(item.drafts)
        if case_id is None and actionable:
            case_id = open_cases[key] = next_case + cases_opened
            cases_opened += 1
            rows.cases.append(_case_row(case_id, item, now))
        elif case_id is not None and actionable:
            rows.case_updates.append(_case_update(case_id, item, now))
        rows.mentions.append(_mention_row(mention_id, source, item, case_id, now))
        rows.verdicts.append(_verdict_row(mention_id, item))
        _draft_rows(rows, item, mention_id, case_id, now)

    # cases before mentions (mentions.case_id references them), mentions before
    # everything that references a mention
    conn.executemany(_INSERT_CASE, rows.cases)
    conn.executemany(_UPDATE_CASE, rows.case_updates)
    _insert_mentions(conn, rows.mentions, next_mention)
    conn.executemany(_INSERT_VERDICT, rows.verdicts)
    conn.executemany(_INSERT_REPLY, rows.replies)
    conn.executemany(_INSERT_CALLBACK, rows.callbacks)
    tasks = _follow_up(conn, rows.follow_ups)
    conn.executemany(_INSERT_ALERT, rows.alerts)
    conn.executemany(
        "UPDATE cases SET status = 'escalated' WHERE id = ? AND status = 'open'", rows.escalated
    )
    conn.executemany(
        "INSERT OR IGNORE INTO praise (mention_id, posted_at) VALUES (?, ?)", rows.praise
    )
    conn.executemany(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        rows.audit,
    )
    conn.executemany(_COUNT_DAYS, [(*key, *n) for key, n in _day_counts(fresh, now).items()])
    edited = _revise(conn, edits, now)
    conn.executemany(
        "INSERT INTO contacts (platform, author_handle, last_draft_at, weight) "
        "VALUES (?, CAST(? AS TEXT), ?, ?) ON CONFLICT (platform, author_handle) "
        "DO UPDATE SET last_draft_at = excluded.last_draft_at, weight = excluded.weight",
        list(rows.contacts.values()),
    )
    if cursor is not None:
        conn.execute(
            "INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, "
            "updated_at = excluded.updated_at",
            (source, dumps(dict(cursor)), now),
        )
    return IngestResult(
        stored=len(fresh),
        duplicates=len(batch) - len(fresh),
        replies=len(rows.replies),
        callbacks=len(rows.callbacks) + tasks,
        alerts=len(rows.alerts),
        cases_opened=cases_opened,
        edited=edited,
    )


def _revise(conn: sqlite3.Connection, edits: Sequence[Mention], now: str | None) -> int:
    """Give stored posts their edits' words; how many changed. An edit is never
    judged or drafted to again: the post's verdict and drafts stand, and a person
    sees the text as it reads now."""
    changed = 0
    for m in edits:
        if m.version_id is None:
            continue
        changed += conn.execute(
            _REVISE_MENTION,
            (
                text(m.text),
                text(m.text),
                text(m.url),
                m.likes,
                m.reposts,
                m.replies,
                None if m.raw is None else dumps(m.raw),
                text(m.version_id),
                iso(m.created_at) or now,
                m.platform,
                text(m.native_id),
                text(m.version_id),
                text(m.version_id),
            ),
        ).rowcount
    return changed


def _insert_mentions(
    conn: sqlite3.Connection, mentions: Sequence[tuple[Any, ...]], first_id: int
) -> None:
    """Insert the batch's mentions, then index their text for search in one
    statement: the per-row trigger skips ids in the fts_batch range (schema v4)."""
    if not mentions:
        return
    span = (first_id, first_id + len(mentions) - 1)
    conn.execute("INSERT INTO fts_batch (first_id, last_id) VALUES (?, ?)", span)
    conn.executemany(_INSERT_MENTION, mentions)
    conn.execute(
        "INSERT INTO mentions_fts (rowid, text) "
        "SELECT id, text FROM mentions WHERE id BETWEEN ? AND ? ORDER BY id",
        span,
    )
    # Within the transaction: every other connection sees fts_batch empty.
    conn.execute("DELETE FROM fts_batch")


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    # Safe only inside the write transaction: no other writer can take the same ids.
    row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    return int(row[0])


def stored_keys(conn: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (platform, native_id) keys are stored already, or were and
    have been pruned (storage.retention): either way, not new."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        where = " OR ".join(["(platform = ? AND native_id = CAST(? AS TEXT))"] * len(chunk))
        params = [p for platform, nid in chunk for p in (platform, text(nid))]
        for platform, native_id in conn.execute(
            f"SELECT platform, native_id FROM mentions WHERE {where} "
            f"UNION ALL SELECT platform, native_id FROM pruned_posts WHERE {where}",
            params * 2,
        ):
            found.add((platform, native_id))
    return found


def _new_items(conn: sqlite3.Connection, batch: Sequence[Judged]) -> list[Judged]:
    """The batch without mentions already stored (or repeated in the batch)."""
    by_key: dict[tuple[str, str], Judged] = {}
    for item in batch:
        by_key.setdefault(item.mention.key, item)
    stored = stored_keys(conn, list(by_key))
    return [item for key, item in by_key.items() if key not in stored]


def _day_counts(
    fresh: Sequence[Judged], now: str | None
) -> dict[tuple[str, str, str, str], list[int]]:
    """Mentions, the brand's own posts and spam per (day, disposition, topic,
    platform). An undated post (a feed entry without one) counts on the day it was
    fetched."""
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for item in fresh:
        day = iso(item.mention.created_at) or now
        if day is not None:
            v = item.verdict
            key = (day[:10], v.disposition.value, v.topic or "", item.mention.platform)
            n = counts.setdefault(key, [0, 0, 0])
            n[0] += 1
            if v.is_own_post:
                n[1] += 1
            elif v.is_spam:
                n[2] += 1
    return counts


def _case_key(item: Judged) -> CaseKey:
    m = item.mention
    return (m.platform, m.author.handle or "", m.conversation_id or m.native_id)


def _open_cases(conn: sqlite3.Connection, keys: Iterable[CaseKey]) -> dict[CaseKey, int]:
    wanted = list(dict.fromkeys(keys))
    found: dict[CaseKey, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        # coalesce on both sides: the form that lets SQLite use cases_one_open
        where = " OR ".join(
            [
                "(platform = ? AND coalesce(author_handle, '') = coalesce(CAST(? AS TEXT), '') "
                "AND conversation = CAST(? AS TEXT) AND status != 'resolved')"
            ]
            * len(chunk)
        )
        params = [p for platform, h, c in chunk for p in (platform, text(h), text(c))]
        for row in conn.execute(
            "SELECT id, platform, coalesce(author_handle, '') AS handle, conversation "
            f"FROM cases WHERE {where}",
            params,
        ):
            found[(row["platform"], row["handle"], row["conversation"])] = row["id"]
    return found


def _case_row(case_id: int, item: Judged, now: str | None) -> tuple[Any, ...]:
    m, v = item.mention, item.verdict
    return (
        case_id,
        m.platform,
        text(m.author.handle),
        text(m.conversation_id or m.native_id),
        v.disposition.value,
        v.topic,
        v.urgency,
        iso(m.created_at) or now,
        now,
        now,
    )


def _case_update(case_id: int, item: Judged, now: str | None) -> tuple[Any, ...]:
    v = item.verdict
    worse = v.disposition is Disposition.INTERESTING_BAD
    value = v.disposition.value
    return (now, v.urgency, v.topic, worse, value, value, case_id)


def _mention_row(
    mention_id: int, source: str, item: Judged, case_id: int | None, now: str | None
) -> tuple[Any, ...]:
    m = item.mention
    a = m.author
    return (
        mention_id,
        m.platform,
        text(m.native_id),
        source,
        text(m.url),
        text(a.handle),
        text(a.name),
        a.followers,
        None if a.verified is None else int(a.verified),
        text(a.native_id),
        text(a.url),
        text(m.text),
        text(m.context),
        iso(m.created_at),
        now,
        m.lang,
        m.likes,
        m.reposts,
        m.replies,
        text(m.conversation_id),
        text(m.in_reply_to),
        case_id,
        None if m.raw is None else dumps(m.raw),
        text(m.version_id),
        iso(m.created_at) if m.version_id else None,
    )


def _verdict_row(mention_id: int, item: Judged) -> tuple[Any, ...]:
    v = item.verdict
    reasons = [{"rule": r.rule, "detail": r.detail, "weight": r.weight} for r in v.reasons]
    return (
        mention_id,
        v.disposition.value,
        v.compound,
        v.score,
        dumps(v.labels),
        v.topic,
        v.urgency,
        v.interest,
        v.segment,
        dumps(v.actions),
        dumps(reasons),
        v.lang,
    )


def last_drafts(
    conn: sqlite3.Connection, authors: Iterable[tuple[str, str | None]]
) -> dict[tuple[str, str], tuple[str, int]]:
    """When each (platform, handle) was last drafted to, as stored (ISO 8601 UTC),
    and the weight of what that draft answered (responders.drafts.CONTACT_WEIGHT)."""
    pairs = list({(p, h) for p, h in authors if h})
    found: dict[tuple[str, str], tuple[str, int]] = {}
    for start in range(0, len(pairs), 400):  # under SQLite's variable limit
        chunk = pairs[start : start + 400]
        where = " OR ".join(["(platform = ? AND author_handle = CAST(? AS TEXT))"] * len(chunk))
        params = [p for platform, handle in chunk for p in (platform, text(handle))]
        for row in conn.execute(
            f"SELECT platform, author_handle, last_draft_at, weight FROM contacts WHERE {where}",
            params,
        ):
            found[(row[0], row[1])] = (row[2], row[3])
    return found


def _cooling_from(item: Judged) -> str | None:
    """From when (ISO 8601) a draft to this item's author cools its own drafts; None
    when it drafts nothing to them or there is no cooldown."""
    if item.cooling_since is None or not item.mention.author.handle:
        return None
    if not any(d.kind in AUTHOR_FACING for d in item.drafts):
        return None
    return iso(item.cooling_since)


def _cooled(conn: sqlite3.Connection, items: list[Judged]) -> list[Judged]:
    """`items` without the author-facing drafts another writer's draft to the same
    author, committed after they were judged, has cooled. Read in the batch's own
    transaction: two batches judged at once would otherwise both draft to them."""
    since = [_cooling_from(i) for i in items]
    if not any(since):
        return items
    drafting = (i for i, s in zip(items, since, strict=True) if s)
    latest = last_drafts(conn, ((i.mention.platform, i.mention.author.handle) for i in drafting))

    def cooled(item: Judged, since: str | None) -> bool:
        at, weight = latest.get((item.mention.platform, item.mention.author.handle or ""), ("", 0))
        return (
            since is not None and at >= since and weight >= contact_weight(item.verdict.disposition)
        )

    return [
        replace(i, drafts=_cooled_drafts(i)) if cooled(i, s) else i
        for i, s in zip(items, since, strict=True)
    ]


def _cooled_drafts(item: Judged) -> tuple[Draft, ...]:
    """What a cooled item still stores: no reply and no task of its own, but a
    complaint's task as a follow-up, and any escalation."""
    complaint = item.verdict.disposition is Disposition.INTERESTING_BAD
    return tuple(
        d.as_follow_up() if complaint and d.kind is DraftKind.CALLBACK else d
        for d in item.drafts
        if d.kind not in AUTHOR_FACING or (complaint and d.kind is DraftKind.CALLBACK)
    )


def _follow_up(conn: sqlite3.Connection, follow_ups: Sequence[tuple[Any, ...]]) -> int:
    """Each follow-up raises its case's open callback task to its urgency, or, when
    its case has none open (a new conversation, or the task was done), becomes that
    case's task: every case with a complaint in it has work someone sees. It also
    raises the author's pending replies (apologies and answers, not thank-yous) on
    its platform, the reply they will get. In the batch's order, so two follow-ups
    in one case make one task. Returns the number of tasks made."""
    made = 0
    for platform, handle, urgency, task in follow_ups:
        case_id = task[0]
        raised = conn.execute(RAISE_OPEN_TASK, (urgency, case_id)).rowcount
        conn.execute(RAISE_PENDING_REPLIES, (urgency, platform, handle))
        if not raised:
            conn.execute(_INSERT_CALLBACK, task)
            made += 1
    return made


# "+status": SQLite finds the rows by case (callbacks_case, replies_case), not by
# walking every open task or pending reply (the status indexes): per follow-up, that
# was quadratic.
RAISE_OPEN_TASK = (
    "UPDATE callbacks SET urgency = max(urgency, ?) WHERE case_id = ? AND +status = 'open'"
)
RAISE_PENDING_REPLIES = (
    "UPDATE replies SET urgency = max(urgency, ?) WHERE +status = 'pending' AND kind = 'reply' "
    "AND case_id IN (SELECT case_id FROM mentions WHERE platform = ? "
    "AND author_handle = CAST(? AS TEXT) AND case_id IS NOT NULL)"
)


def _draft_rows(
    rows: _Rows, item: Judged, mention_id: int, case_id: int | None, now: str | None
) -> None:
    m, v = item.mention, item.verdict
    contacted = any(d.kind in AUTHOR_FACING for d in item.drafts)
    for draft in item.drafts:
        body, reason = text(draft.body), text(draft.reason)
        if draft.kind in POSTABLE:
            rows.replies.append(
                (
                    case_id,
                    mention_id,
                    draft.kind.value,
                    body,
                    body,
                    reason,
                    draft.template,
                    v.urgency,
                    v.interest,
                    now,
                )
            )
        elif draft.kind is DraftKind.CALLBACK:
            rows.callbacks.append((case_id, mention_id, body, reason, v.urgency, now))
        elif draft.kind is DraftKind.FOLLOW_UP and m.author.handle:
            task = (case_id, mention_id, body, reason, v.urgency, now)
            rows.follow_ups.append((m.platform, text(m.author.handle), v.urgency, task))
        elif draft.kind is DraftKind.ESCALATION:
            rows.alerts.append((case_id, mention_id, body, reason, now))
            if case_id is not None:
                rows.escalated.append((case_id,))
                # the case's history says who escalated it, as for a person's escalation
                why = dumps({"reason": draft.reason, "mention": mention_id})
                rows.audit.append((now, "earful", "escalate", f"case:{case_id}", why))
    if v.disposition is Disposition.INTERESTING_GOOD:
        # the wall's order: the post's own time, else when it was fetched
        rows.praise.append((mention_id, iso(m.created_at) or now))
    if contacted and m.author.handle:
        handle = text(m.author.handle)
        weight = contact_weight(v.disposition)
        rows.contacts[(m.platform, m.author.handle)] = (m.platform, handle, now, weight)
