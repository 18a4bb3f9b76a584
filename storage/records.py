"""What the store hands out: plain frozen rows, timestamps as ISO 8601 UTC text."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from listener.mention import Mention
from responders.drafts import Draft
from rules.verdict import Verdict
from storage.db import loads


@dataclass(frozen=True, slots=True)
class Judged:
    """One mention on its way into the store, with its verdict and drafts."""

    mention: Mention
    verdict: Verdict
    drafts: tuple[Draft, ...] = ()
    # a draft to the author made at or after this time (by another writer, after
    # this one was judged) cools this one's author-facing drafts; None: no cooldown
    cooling_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    replies: int = 0
    callbacks: int = 0
    alerts: int = 0
    cases_opened: int = 0
    edited: int = 0  # stored posts whose text an edit revised (not judged again)


class _FromRow:
    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Self:
        data = as_flags(dict(row))
        return cls(**{f.name: data[f.name] for f in fields(cls)})  # type: ignore[arg-type]


# Columns SQLite stores as 0 and 1 that Earful hands out as bool: JSON output (where
# jq counts 0 as true) says true and false.
FLAGS = frozenset({"author_verified", "starred", "dry_run", "disabled"})


def as_flags(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its FLAGS columns as bool (None stays None: not known)."""
    for name in FLAGS.intersection(row):
        if row[name] is not None:
            row[name] = bool(row[name])
    return row


@dataclass(frozen=True, slots=True)
class ReplyRecord(_FromRow):
    """A reply or thank-you draft in the outbox, with the post it answers."""

    id: int
    kind: str
    status: str
    body: str
    drafted_body: str
    reason: str | None
    template: str | None
    urgency: int
    interest: int
    created_at: str
    decided_by: str | None
    decided_at: str | None
    reject_reason: str | None
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    posted_id: str | None
    posted_url: str | None
    dry_run: bool | None
    sent_at: str | None
    case_id: int | None
    mention_id: int
    source: str
    platform: str
    native_id: str
    url: str | None
    author_handle: str | None
    author_name: str | None
    text: str
    conversation_id: str | None
    disposition: str
    topic: str | None
    segment: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A draft rejected with its callback tasks (Store.reject_with_task): those
    closed, and those left open because a later complaint in the case leans on them
    (a follow-up raises the case's open task rather than making another)."""

    reply: ReplyRecord
    closed_tasks: tuple[int, ...] = ()
    kept_tasks: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueRow(ReplyRecord):
    """A queue row: the draft, when its post was made (for its age) and who has
    taken its case."""

    posted_at: str | None = None
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class MentionRecord(_FromRow):
    id: int
    platform: str
    native_id: str
    source: str
    url: str | None
    author_handle: str | None
    author_name: str | None
    author_followers: int | None
    author_verified: bool | None
    author_url: str | None
    text: str
    context: str | None
    created_at: str | None
    fetched_at: str
    lang: str | None
    likes: int | None
    reposts: int | None
    replies: int | None
    conversation_id: str | None
    in_reply_to: str | None
    case_id: int | None
    # an edited post (schema v12): the newest version's id and time, and the text the
    # verdict was made from when it is not `text` any more
    version_id: str | None
    edited_at: str | None
    judged_text: str | None


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    disposition: str
    compound: float
    score: float
    labels: tuple[str, ...]
    topic: str | None
    urgency: int
    interest: int
    segment: str | None
    actions: tuple[str, ...]
    reasons: tuple[dict[str, Any], ...]
    lang: str | None


@dataclass(frozen=True, slots=True)
class CaseRecord(_FromRow):
    id: int
    platform: str
    author_handle: str | None
    conversation: str
    status: str
    disposition: str | None
    topic: str | None
    urgency: int
    assignee: str | None
    first_mention_at: str | None
    opened_at: str
    updated_at: str
    resolved_at: str | None

    def already_with(self, assignee: str | None) -> bool:
        """Assigning it to `assignee` (None: the pool) would change nothing."""
        return self.status != "resolved" and self.assignee == assignee


@dataclass(frozen=True, slots=True)
class CallbackRecord(_FromRow):
    id: int
    case_id: int | None
    mention_id: int
    body: str
    reason: str | None
    status: str
    urgency: int
    assignee: str | None
    created_at: str
    done_by: str | None
    done_at: str | None
    platform: str
    author_handle: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry(_FromRow):
    id: int
    at: str
    actor: str
    action: str
    subject: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class ReplyDetail:
    """Everything a person needs to decide on one draft."""

    reply: ReplyRecord
    mention: MentionRecord
    verdict: VerdictRecord
    case: CaseRecord | None
    thread: tuple[MentionRecord, ...]  # the case's other mentions, oldest first
    callbacks: tuple[CallbackRecord, ...]
    history: tuple[AuditEntry, ...]


@dataclass(frozen=True, slots=True)
class Claimed:
    """An approved reply taken for posting (now in `sending`)."""

    id: int
    kind: str
    body: str
    attempts: int
    source: str
    platform: str
    native_id: str  # the version to answer: an edited post's newest
    url: str | None
    author_handle: str | None
    conversation_id: str | None
    raw: str | None
    dry_run: bool  # claimed in dry-run mode: nothing can have been posted


@dataclass(frozen=True, slots=True)
class Stats:
    mentions: int  # every stored post, the brand's own and spam included
    own_posts: int  # posted by the brand's own accounts (rule own_post)
    spam: int  # labelled spam (and not the brand's own)
    by_disposition: dict[str, int]
    by_topic: dict[str, int]  # complaints only: their root causes
    by_platform: dict[str, int]
    # praise - complaints per 100 posts by others that are not spam, -100..100
    net_sentiment: float | None
    net_by_platform: dict[str, float | None]  # the same, on each platform alone
    replies_by_status: dict[str, int]
    open_callbacks: int
    escalated_cases: int
    # from a complaint case's first post to its first reply sent (kind 'reply')
    median_first_reply_seconds: float | None
    replied_cases: int
    # from a case's first post to its first thank-you sent (kind 'thanks')
    median_first_thanks_seconds: float | None
    thanked_cases: int


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An escalation alert in the alert outbox, with the post and verdict it is
    about: everything the webhook message and `earful alerts list` show."""

    id: int
    status: str
    attempts: int
    body: str
    reason: str | None
    last_error: str | None
    created_at: str
    sent_at: str | None
    next_attempt_at: str | None
    claimed_at: str | None
    case_id: int | None
    mention_id: int
    platform: str
    native_id: str
    url: str | None
    author_handle: str | None
    author_name: str | None
    author_followers: int | None
    text: str
    disposition: str
    urgency: int
    topic: str | None
    segment: str | None
    labels: tuple[str, ...]
    actions: tuple[str, ...]
    reasons: tuple[dict[str, Any], ...]

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AlertRecord:
        data = dict(row)
        for name in ("labels", "actions", "reasons"):
            data[name] = tuple(loads(data[name]) or ())
        return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class UserRecord(_FromRow):
    """A console account. password_hash is a self-describing KDF string."""

    id: int
    name: str
    role: str
    password_hash: str | None
    created_at: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class Account(_FromRow):
    """A console account as people may see it: no password hash."""

    id: int
    name: str
    role: str
    disabled: bool
    created_at: str
