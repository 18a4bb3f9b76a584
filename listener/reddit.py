"""Reddit posts as Mentions.

Reddit's listings (search, /new, /comments, the inbox's /message/mentions) hold
"things": `{"kind": "t3", "data": {...}}` for a submission, `"t1"` for a comment.
A thing's `name` is its fullname (kind + "_" + id) and is what Earful uses as the
native id, because parent_id and link_id — the reply and thread links — are
fullnames too. Earful's client asks for raw_json=1, so text arrives unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    MalformedPost,
    as_id,
    as_str,
    join_text,
    require_id,
    require_mapping,
)

WEB = "https://www.reddit.com"
# Reddit's placeholders for an author who deleted their account or was removed.
_NO_AUTHOR = frozenset({"[deleted]", "[removed]"})
# /r/<sub>/comments/<submission id>/<slug>/<comment id>/ in inbox `context` links
_THREAD_IN_PATH = re.compile(r"/comments/([0-9a-z]+)(?:/|$)")


def mention_from_thing(thing: Mapping[str, Any]) -> Mention:
    """A listing child (`{"kind": "t1"|"t3", "data": {...}}`) as a Mention."""
    thing = require_mapping(thing, "reddit thing")
    data = require_mapping(thing.get("data"), "reddit thing's data")
    kind = _kind(thing.get("kind"), data)
    short_id = as_id(data.get("id"))
    fullname = as_id(data.get("name")) or (f"{kind}_{short_id}" if short_id else None)
    native_id = require_id(fullname, f"reddit {kind}")

    if kind == "t3":
        text = join_text(as_str(data.get("title")), as_str(data.get("selftext")))
        conversation_id: str | None = native_id
        in_reply_to = None
        # a comment's num_comments (inbox items carry one) counts the whole thread
        replies = as_int(data.get("num_comments"))
        context = None
    else:
        body = data.get("body")
        text = body if isinstance(body, str) else ""
        conversation_id = as_id(data.get("link_id")) or _thread_from_path(data.get("context"))
        in_reply_to = as_id(data.get("parent_id"))
        replies = None
        context = as_str(data.get("link_title"))

    return Mention(
        platform="reddit",
        native_id=native_id,
        text=text,
        author=_author(data),
        url=_url(kind, data, native_id, conversation_id),
        created_at=parse_time(data.get("created_utc")),
        lang=None,
        likes=as_int(data.get("score")),
        reposts=as_int(data.get("num_crossposts")),
        replies=replies,
        conversation_id=conversation_id,
        in_reply_to=in_reply_to,
        context=context,
        raw=thing,
    )


def _kind(kind: Any, data: Mapping[str, Any]) -> str:
    if kind in ("t1", "t3"):
        return str(kind)
    if kind is None:
        # a bare thing from a client that dropped the envelope's kind
        if "body" in data:
            return "t1"
        if "title" in data:
            return "t3"
    raise MalformedPost(f"reddit thing of kind {kind!r} is not a submission or comment")


def _author(data: Mapping[str, Any]) -> Author:
    handle = as_str(data.get("author"))
    if handle in _NO_AUTHOR:
        return Author(handle=None)
    return Author(
        handle=handle,
        native_id=as_id(data.get("author_fullname")),
        url=f"{WEB}/user/{handle}" if handle else None,
    )


def _thread_from_path(path: Any) -> str | None:
    match = _THREAD_IN_PATH.search(path) if isinstance(path, str) else None
    return f"t3_{match.group(1)}" if match else None


def _url(kind: str, data: Mapping[str, Any], native_id: str, thread: str | None) -> str | None:
    for link in (as_str(data.get("permalink")), as_str(data.get("context"))):
        if link and link.startswith("/"):
            return WEB + link.split("?", 1)[0]
        if link and link.startswith("https://"):
            return link
    # older comment listings carry no permalink: Reddit resolves any slug
    short_id = native_id.split("_", 1)[-1]
    if kind == "t3":
        return f"{WEB}/comments/{short_id}/"
    if thread and thread.startswith("t3_"):
        subreddit = as_str(data.get("subreddit"))
        prefix = f"/r/{subreddit}" if subreddit else ""
        return f"{WEB}{prefix}/comments/{thread[3:]}/_/{short_id}/"
    return None
