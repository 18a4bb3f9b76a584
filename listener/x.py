"""X (Twitter) posts as Mentions.

The X API v2 sends a page as `{"data": [tweet, ...], "includes": {"users": [...],
"tweets": [...]}, "meta": {...}}`: a tweet names its author and the tweets it quotes
or answers by id, and the page's `includes` hold those objects once each. Earful asks
for tweet.fields=created_at,public_metrics,conversation_id,lang,in_reply_to_user_id,
referenced_tweets,author_id and expansions=author_id,referenced_tweets.id with
user.fields=name,username,verified,public_metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    as_bool,
    as_id,
    as_list,
    as_mapping,
    as_str,
    get_path,
    require_id,
    require_mapping,
)

WEB = "https://x.com"


def mention_from_tweet(
    tweet: Mapping[str, Any], includes: Mapping[str, Any] | None = None
) -> Mention:
    """One tweet (with the page's `includes`, if any) as a Mention.

    raw is `{"data": tweet, "includes": {...}}` holding only the included objects
    this tweet refers to, so a stored mention is self-contained without carrying
    its whole page."""
    tweet = require_mapping(tweet, "tweet")
    tweet_id = require_id(tweet.get("id"), "tweet")
    users = _by_id(get_path(includes, "users"))
    tweets = _by_id(get_path(includes, "tweets"))

    author_id = as_id(tweet.get("author_id"))
    user = users.get(author_id) if author_id else None
    references = [r for r in map(as_mapping, as_list(tweet.get("referenced_tweets"))) if r]
    referenced = [tweets[i] for i in (as_id(r.get("id")) for r in references) if i in tweets]

    handle = as_str(get_path(user, "username"))
    metrics = as_mapping(tweet.get("public_metrics")) or {}
    lang = as_str(tweet.get("lang"))
    raw_includes: dict[str, list[Mapping[str, Any]]] = {}
    if user:
        raw_includes["users"] = [user]
    if referenced:
        raw_includes["tweets"] = referenced

    return Mention(
        platform="x",
        native_id=tweet_id,
        # posts over 280 characters arrive cut short in `text`, whole in note_tweet
        text=as_str(get_path(tweet, "note_tweet", "text")) or _text(tweet.get("text")),
        author=_author(user, author_id, handle),
        # /i/web/status/<id> opens any tweet when the author's name is not known
        url=f"{WEB}/{handle}/status/{tweet_id}" if handle else f"{WEB}/i/web/status/{tweet_id}",
        created_at=parse_time(tweet.get("created_at")),
        # "und" is X's "could not tell", which Mention spells None
        lang=None if lang == "und" else lang,
        likes=as_int(metrics.get("like_count")),
        reposts=as_int(metrics.get("retweet_count")),
        replies=as_int(metrics.get("reply_count")),
        conversation_id=as_id(tweet.get("conversation_id")),
        in_reply_to=_replied_to(references),
        context=_context(referenced),
        raw={"data": tweet, "includes": raw_includes} if raw_includes else {"data": tweet},
    )


def _by_id(objects: Any) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for obj in map(as_mapping, as_list(objects)):
        obj_id = as_id(obj.get("id")) if obj else None
        if obj is not None and obj_id is not None:
            found[obj_id] = obj
    return found


def _author(user: Mapping[str, Any] | None, author_id: str | None, handle: str | None) -> Author:
    verified = as_bool(get_path(user, "verified"))
    if verified is None:
        # newer accounts describe verification by kind: blue, business, government, none
        kind = as_str(get_path(user, "verified_type"))
        verified = None if kind is None else kind != "none"
    return Author(
        handle=handle,
        name=as_str(get_path(user, "name")),
        followers=as_int(get_path(user, "public_metrics", "followers_count")),
        verified=verified,
        native_id=author_id,
        url=f"{WEB}/{handle}" if handle else None,
    )


def _replied_to(references: list[Mapping[str, Any]]) -> str | None:
    for ref in references:
        if ref.get("type") == "replied_to":
            return as_id(ref.get("id"))
    return None


def _context(referenced: list[Mapping[str, Any]]) -> str | None:
    texts = [t for t in (as_str(r.get("text")) for r in referenced) if t]
    return "\n\n".join(texts) if texts else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
