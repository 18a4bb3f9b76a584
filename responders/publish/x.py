"""Posting approved replies to X as the brand account, with its user-context
OAuth 1.0a keys (the source's consumer_key, consumer_secret, access_token,
access_token_secret): POST /2/tweets with reply.in_reply_to_tweet_id, or for a
"thanks" draft with thanks_as = "like", POST /2/users/:id/likes.

What may be tried again is retryable (429, 5xx, a connection that never opened);
what a person must look at is not (duplicate content, missing write permission,
refused credentials). A post that X may have taken (a 5xx or no answer in time
after the request went out) is looked for among the account's tweets, and if it is
not there yet raised as SourceDown: the outbox marks the reply `unknown` for a
person rather than risk posting twice.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Mapping
from typing import Any

import requests
import tweepy

from listener import x_client
from listener.base import SourceContext, SourceDown
from listener.http_errors import preview
from listener.mention import shown_utc
from listener.normalize import as_id, as_list, get_path
from listener.x import WEB, Settings
from responders.publish.base import Outgoing, Posted, PublishError

# how many of the account's latest tweets (or likes) a reconcile looks through
RECENT = 100
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")
_LEADING_HANDLES = re.compile(r"^\s*(?:@\w+\s+)+")


def can_post(settings: Settings) -> bool:
    """Whether the source carries the four posting keys."""
    return settings.can_post


def build(settings: Settings, ctx: SourceContext) -> XPublisher | None:
    """A publisher when the source carries the four posting keys, else None."""
    if not can_post(settings):
        return None
    return XPublisher(settings, handle=settings.handle or ctx.brand.handles.get("x"))


def _versions(out: Outgoing) -> set[str]:
    """Every version of the post a reply answers: the newest (the one it is sent to)
    and those its stored copy lists in edit_history_tweet_ids. A reply sent before
    its author edited the post answers an older one, and must still be found."""
    history = as_list(get_path(out.target_raw, "data", "edit_history_tweet_ids"))
    return {out.target_id, *(i for i in map(as_id, history) if i)}


class MaybePosted(Exception):
    """X failed on its side, or did not answer in time, after a post was sent: the
    tweet may exist."""


def same_text(posted: str, body: str) -> bool:
    """Whether a tweet's text is this reply: X escapes &, < and > and swaps every
    link for a t.co one, and a reply's text starts with the @handles it answers
    (which X adds), so both are compared with those, and spacing, set aside."""

    def plain(text: str) -> str:
        text = _LEADING_HANDLES.sub("", html.unescape(text))
        return _SPACE.sub(" ", _URL.sub("<link>", text)).strip()

    return plain(posted) == plain(body)


class XPublisher:
    platform = "x"

    def __init__(self, settings: Settings, *, handle: str | None = None) -> None:
        self.settings = settings
        self.handle = handle.lstrip("@") if handle else None
        self._client = x_client.make_client(
            base_url=settings.base_url,
            consumer_key=settings.consumer_key,
            consumer_secret=settings.consumer_secret,
            access_token=settings.access_token,
            access_token_secret=settings.access_token_secret,
            timeout=settings.timeout,
        )

    @property
    def account_id(self) -> str | None:
        return self.settings.account_id

    def _as_like(self, out: Outgoing) -> bool:
        return out.kind == "thanks" and self.settings.thanks_as == "like"

    async def post(self, out: Outgoing) -> Posted:
        if self._as_like(out):
            await self._call(self._client.like, out.target_id)
            return Posted(native_id=None, url=out.target_url)
        try:
            body = await self._call(
                self._client.create_tweet,
                text=out.body,
                in_reply_to_tweet_id=out.target_id,
                posting=True,
            )
        except MaybePosted as exc:
            try:
                found = await self.find_posted(out)
            except PublishError:
                found = None
            if found is not None:
                return found
            raise SourceDown(f"{exc}; it is not among the account's latest tweets (yet)") from None
        tweet_id = as_id(get_path(body, "data", "id"))
        if tweet_id is None:
            # X took the request but its answer names no tweet: it may be up
            raise SourceDown(f"X answered the post without a tweet id: {preview(repr(body), 120)}")
        return Posted(native_id=tweet_id, url=self._url(tweet_id))

    async def find_posted(self, out: Outgoing) -> Posted | None:
        account = self.account_id
        if account is None:
            raise PublishError("cannot tell the account's id from access_token", retryable=True)
        if self._as_like(out):
            body = await self._call(
                self._client.get_liked_tweets, account, max_results=RECENT, user_auth=True
            )
            versions = _versions(out)
            liked = any(as_id(get_path(t, "id")) in versions for t in _tweets(body))
            return Posted(native_id=None, url=out.target_url) if liked else None
        body = await self._call(
            self._client.get_users_tweets,
            account,
            max_results=RECENT,
            tweet_fields="referenced_tweets,in_reply_to_user_id,created_at",
            user_auth=True,
        )
        versions = _versions(out)
        for tweet in _tweets(body):
            answers = {
                as_id(get_path(r, "id"))
                for r in as_list(tweet.get("referenced_tweets"))
                if get_path(r, "type") == "replied_to"
            }
            text = tweet.get("text")
            tweet_id = as_id(tweet.get("id"))
            if (
                answers & versions
                and isinstance(text, str)
                and tweet_id
                and same_text(text, out.body)
            ):
                return Posted(native_id=tweet_id, url=self._url(tweet_id))
        return None

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.session.close)

    def _url(self, tweet_id: str) -> str:
        if self.handle:
            return f"{WEB}/{self.handle}/status/{tweet_id}"
        return f"{WEB}/i/web/status/{tweet_id}"

    async def _call(
        self, method: Callable[..., Any], *args: Any, posting: bool = False, **kwargs: Any
    ) -> Any:
        """`method` off the event loop, X's errors as PublishError; `posting`: the
        call makes a tweet, so a 5xx or a lost answer may hide one that was made
        (MaybePosted)."""
        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except tweepy.TooManyRequests as exc:
            reset = x_client.reset_time(exc)
            until = f" until {shown_utc(reset)}" if reset else ""
            raise PublishError(
                f"X rate limit reached{until}", retryable=True, rate_limited=True, retry_at=reset
            ) from None
        except tweepy.TwitterServerError as exc:
            if posting:
                # a gateway's 503 can come after X made the tweet: posting again could
                # put it up twice, so a person (or the look below) settles it
                raise MaybePosted(f"X answered {x_client.reason(exc)} to the post") from None
            raise PublishError(f"X is failing: {x_client.reason(exc)}", retryable=True) from None
        except tweepy.Unauthorized as exc:
            raise PublishError(
                f"X refused the posting keys ({x_client.reason(exc)}); check consumer_key, "
                "consumer_secret, access_token and access_token_secret",
                retryable=False,
            ) from None
        except tweepy.Forbidden as exc:
            # duplicate content, no write permission, replies restricted by the author
            raise PublishError(f"X refused: {x_client.reason(exc)}", retryable=False) from None
        except tweepy.HTTPException as exc:
            raise PublishError(f"X refused: {x_client.reason(exc)}", retryable=False) from None
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise PublishError(
                    f"cannot reach X ({type(exc).__name__})", retryable=True
                ) from None
            lost = _lost(exc, self.settings.timeout, "the post" if posting else "the request")
            if posting:
                raise MaybePosted(lost) from None
            # a look-up, or a like (X keeps one like per tweet): safe to ask again
            raise PublishError(lost, retryable=True) from None


def _never_sent(exc: requests.RequestException) -> bool:
    """Only a connection that never opened is sure not to have posted anything."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason).__name__ == "NewConnectionError"


def _lost(exc: requests.RequestException, timeout: float, what: str) -> str:
    """What became of a request that reached X, for a person: requests' own words
    name connection pools and repeat the address."""
    if isinstance(exc, requests.JSONDecodeError):
        return f"X's answer to {what} was not JSON"
    if isinstance(exc, requests.Timeout):
        return f"X did not answer {what} within {timeout:g}s"
    return f"the connection to X broke before X answered {what} ({type(exc).__name__})"


def _tweets(body: Any) -> list[Mapping[str, Any]]:
    return [t for t in as_list(get_path(body, "data")) if isinstance(t, Mapping)]
