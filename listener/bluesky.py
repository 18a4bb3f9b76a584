"""Bluesky posts as Mentions.

The AppView's searchPosts and getPosts return app.bsky.feed.defs#postView objects:
the post's at:// uri and cid, a profile of its author, the record the author wrote
(text, createdAt, langs, and for a reply the root and parent it answers) and the
counts. A feed (getTimeline, getAuthorFeed) wraps each in `{"post": postView, ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    MalformedPost,
    as_list,
    as_mapping,
    as_str,
    get_path,
    require_mapping,
)

WEB = "https://bsky.app"
# What the AppView says for an account whose handle no longer resolves.
_INVALID_HANDLE = "handle.invalid"


def mention_from_post(post: Mapping[str, Any]) -> Mention:
    """A postView (or a feed item around one) as a Mention whose native id is the
    post's at:// uri."""
    view = require_mapping(post, "bluesky post")
    if "uri" not in view and as_mapping(view.get("post")) is not None:
        view = require_mapping(view.get("post"), "bluesky post")
    uri = as_str(view.get("uri"))
    if uri is None or not uri.startswith("at://"):
        raise MalformedPost(f"bluesky post has no usable at:// uri (got {uri!r})")
    author = as_mapping(view.get("author")) or {}
    record = as_mapping(view.get("record")) or {}
    text = record.get("text")
    langs = [lang for lang in as_list(record.get("langs")) if isinstance(lang, str) and lang]
    root = as_str(get_path(record, "reply", "root", "uri"))

    return Mention(
        platform="bluesky",
        native_id=uri,
        text=text if isinstance(text, str) else "",
        author=_author(author),
        url=_post_url(uri, author),
        created_at=parse_time(record.get("createdAt")) or parse_time(view.get("indexedAt")),
        lang=langs[0] if langs else None,
        likes=as_int(view.get("likeCount")),
        reposts=as_int(view.get("repostCount")),
        replies=as_int(view.get("replyCount")),
        # a post that answers nothing starts its own thread
        conversation_id=root or uri,
        in_reply_to=as_str(get_path(record, "reply", "parent", "uri")),
        context=_quoted_text(view.get("embed")),
        raw=post,
    )


def _author(author: Mapping[str, Any]) -> Author:
    handle = as_str(author.get("handle"))
    did = as_str(author.get("did"))
    profile = _profile_id(handle, did)
    status = as_str(get_path(author, "verification", "verifiedStatus"))
    return Author(
        handle=handle if handle != _INVALID_HANDLE else None,
        name=as_str(author.get("displayName")),
        # profileViewBasic (what posts carry) has no follower count; profileView does
        followers=as_int(author.get("followersCount")),
        verified=None if status is None else status == "valid",
        native_id=did,
        url=f"{WEB}/profile/{profile}" if profile else None,
    )


def _profile_id(handle: str | None, did: str | None) -> str | None:
    # bsky.app accepts a DID where the handle is unknown or no longer resolves
    return handle if handle and handle != _INVALID_HANDLE else did


def _post_url(uri: str, author: Mapping[str, Any]) -> str | None:
    # at://<did>/app.bsky.feed.post/<rkey>
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[2]:
        return None
    profile = _profile_id(as_str(author.get("handle")), as_str(author.get("did"))) or parts[0]
    return f"{WEB}/profile/{profile}/post/{parts[2]}"


def _quoted_text(embed: Any) -> str | None:
    """The text of a quoted post: app.bsky.embed.record#view holds it at
    record.value.text, recordWithMedia#view one level deeper."""
    for path in (("record", "value", "text"), ("record", "record", "value", "text")):
        text = as_str(get_path(embed, *path))
        if text:
            return text
    return None
