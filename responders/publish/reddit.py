"""Posting approved replies to Reddit as comments under the original, through praw
(comment.reply / submission.reply, which POST /api/comment).

Needs the posting account: a Reddit source with a script app's client_id and
client_secret plus username and password. At most once: prawcore resends a request
on a 5xx or a read timeout, which for a comment could post it twice, so the
publisher's requestor turns those into PostOutcomeUnknown; the reply is then looked
for in the account's recent comments, and if it is not there yet it is raised as
SourceDown, which the outbox marks `unknown` for a person instead of posting again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import praw
import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException

from listener.base import SourceContext, SourceDown
from listener.http_deadline import DeadlineSession
from listener.reddit import WEB, Settings
from listener.reddit_client import (
    PostOutcomeUnknown,
    RateBudget,
    is_token_failure,
    make_reddit,
    response_reason,
)
from responders.publish.base import Outgoing, Posted, PublishError

log = logging.getLogger("earful.publish.reddit")

# Reddit's json.errors codes for a reply that can never go out as it is.
_REFUSED = {
    "THREAD_LOCKED": "the thread is locked",
    "TOO_OLD": "the thread is archived (too old to reply to)",
    "DELETED_COMMENT": "the comment was deleted",
    "DELETED_LINK": "the post was deleted",
    "TOO_LONG": "the reply is too long for Reddit",
    "SUBREDDIT_NOTALLOWED": "the account may not post in that subreddit",
    "USER_BLOCKED": "the author has blocked the account",
}
# ...and the ones worth trying again later.
_LATER = frozenset({"RATELIMIT"})
_BREAK = re.compile(r"(\d{1,6})\s*(second|minute|hour)s?", re.IGNORECASE)
# How far back the account's comments are searched when reconciling.
RECENT = 100


def can_post(settings: Settings) -> bool:
    """Whether the source has an account to post as."""
    return bool(settings.username and settings.password)


def build(settings: Settings, ctx: SourceContext) -> RedditPublisher | None:
    """None when the source has no account to post as (a read-only source)."""
    if not can_post(settings) or settings.username is None:
        return None
    session = DeadlineSession()  # praw's timeout bounds each read only
    creds = settings.credentials(ctx.brand.handles.get("reddit"))
    budget = RateBudget(f"{settings.name} (publisher)")
    reddit = make_reddit(creds, budget, session, at_most_once=True)
    return RedditPublisher(reddit, session, settings.username)


class RedditPublisher:
    platform = "reddit"

    def __init__(self, reddit: praw.Reddit, session: requests.Session, username: str) -> None:
        self.reddit = reddit
        self.session = session
        self.username = username

    async def post(self, out: Outgoing) -> Posted:
        return await asyncio.to_thread(self._post, out)

    async def find_posted(self, out: Outgoing) -> Posted | None:
        return await asyncio.to_thread(self._find, out)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.session.close)

    def _post(self, out: Outgoing) -> Posted:
        target = self._target(out.target_id)
        try:
            comment = target.reply(out.body)
        except PostOutcomeUnknown as exc:
            # the outbox says it once if it stays in doubt; found, it is just sent
            log.info("reply %d: %s; looking for it on Reddit", out.reply_id, exc)
            try:
                found = self._find(out)
            except PublishError:
                found = None  # still unknown: never a retry that could post it twice
            if found is not None:
                return found
            raise SourceDown(
                f"{exc}; it is not among u/{self.username}'s recent comments (yet)"
            ) from None
        except RedditAPIException as exc:
            raise _refused(exc) from None
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise _failed(exc) from None
        if comment is None:
            # Reddit took it but did not echo it back (a quarantined subreddit): it is
            # up, so a failed look for its id must not send it back to be posted again
            try:
                return self._find(out) or Posted(native_id=None)
            except PublishError as exc:
                log.warning("reply %d is posted; its id is unknown: %s", out.reply_id, exc)
                return Posted(native_id=None)
        return Posted(native_id=comment.fullname, url=_url(vars(comment)))

    def _target(self, fullname: str) -> Any:
        kind, _, short_id = fullname.partition("_")
        if kind == "t1" and short_id:
            return self.reddit.comment(id=short_id)
        if kind == "t3" and short_id:
            return self.reddit.submission(id=short_id)
        raise PublishError(
            f"{fullname!r} is not a Reddit comment or post id (t1_... or t3_...)", retryable=False
        )

    def _find(self, out: Outgoing) -> Posted | None:
        """The account's reply under the target with this text, among its recent comments."""
        wanted = _words(out.body)
        try:
            for comment in self.reddit.redditor(self.username).comments.new(limit=RECENT):
                data = vars(comment)
                if data.get("parent_id") == out.target_id and _words(data.get("body")) == wanted:
                    return Posted(native_id=comment.fullname, url=_url(data))
        except (prawcore.PrawcoreException, PRAWException, PostOutcomeUnknown) as exc:
            raise PublishError(
                f"cannot read u/{self.username}'s recent comments: {exc}", retryable=True
            ) from None
        return None


def _words(text: Any) -> str:
    # Reddit may trim or re-wrap whitespace in what it stores
    return " ".join(text.split()) if isinstance(text, str) else ""


def _url(data: dict[str, Any]) -> str | None:
    permalink = data.get("permalink")
    if isinstance(permalink, str) and permalink.startswith("/"):
        return WEB + permalink
    link, short_id = data.get("link_id"), data.get("id")
    if isinstance(link, str) and link.startswith("t3_") and isinstance(short_id, str):
        return f"{WEB}/comments/{link[3:]}/_/{short_id}/"
    return None


def _refused(exc: RedditAPIException) -> PublishError:
    codes = [item.error_type for item in exc.items]
    reasons = [
        f"{_REFUSED.get(item.error_type, item.error_type)} ({item.error_message})"
        for item in exc.items
    ]
    later = bool(codes) and all(code in _LATER for code in codes)
    return PublishError(
        "Reddit refused the reply: " + "; ".join(reasons),
        retryable=later,
        rate_limited=later,
        retry_at=_break_ends(" ".join(item.error_message for item in exc.items)) if later else None,
    )


def _break_ends(message: str) -> datetime | None:
    """When Reddit's RATELIMIT says to try again ("Take a break for 9 minutes")."""
    found = _BREAK.search(message)
    if found is None:
        return None
    seconds = int(found[1]) * {"second": 1, "minute": 60, "hour": 3600}[found[2].lower()]
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _failed(exc: Exception) -> PublishError:
    if is_token_failure(exc) or isinstance(exc, prawcore.InsufficientScope):
        return PublishError(
            "Reddit refused the posting account's credentials; fix them and restart",
            retryable=False,
        )
    if isinstance(exc, prawcore.Forbidden):
        return PublishError(
            f"Reddit refused the reply ({response_reason(exc)}): the thread may be locked "
            "or the account banned from the subreddit",
            retryable=False,
        )
    if isinstance(exc, prawcore.NotFound):
        return PublishError("the post being answered is gone (HTTP 404)", retryable=False)
    if isinstance(exc, prawcore.TooManyRequests):
        return PublishError(
            "Reddit rate limit (HTTP 429); will retry", retryable=True, rate_limited=True
        )
    if isinstance(exc, prawcore.RequestException | prawcore.ServerError):
        # reached only when the request never got to Reddit (PostOutcomeUnknown otherwise)
        return PublishError(f"cannot reach Reddit: {exc}", retryable=True)
    return PublishError(f"posting to Reddit failed: {exc}", retryable=False)
