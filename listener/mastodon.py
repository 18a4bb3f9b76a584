"""Mastodon statuses as Mentions.

A Status's `content` is HTML; it becomes the plain text a reader sees. Ids are the
listening server's own (what its API needs to reply), while `uri` is the post's
global ActivityPub id. A boost arrives as a status of its own with empty content
and the boosted post in `reblog`: the Mention is the boosted post.

The Status entity names the post it answers (in_reply_to_id) but not its thread's
root, so conversation_id is None unless the server adds one (Pleroma and Akkoma
send `pleroma.conversation_id`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    as_id,
    as_mapping,
    as_str,
    get_path,
    html_to_text,
    join_text,
    require_id,
    require_mapping,
)


def mention_from_status(status: Mapping[str, Any]) -> Mention:
    """A Mastodon Status entity as a Mention; raw keeps the status as received
    (the boost around it, for a boost)."""
    received = require_mapping(status, "mastodon status")
    post = as_mapping(received.get("reblog")) or received
    status_id = require_id(post.get("id"), "mastodon status")
    account = as_mapping(post.get("account")) or {}
    content = post.get("content")

    return Mention(
        platform="mastodon",
        native_id=status_id,
        # a content warning is the author's own words, often naming the subject
        text=join_text(
            as_str(post.get("spoiler_text")),
            html_to_text(content) if isinstance(content, str) else None,
        ),
        author=_author(account),
        url=as_str(post.get("url")) or as_str(post.get("uri")),
        created_at=parse_time(post.get("created_at")),
        lang=as_str(post.get("language")),
        likes=as_int(post.get("favourites_count")),
        reposts=as_int(post.get("reblogs_count")),
        replies=as_int(post.get("replies_count")),
        conversation_id=as_id(get_path(post, "pleroma", "conversation_id")),
        in_reply_to=as_id(post.get("in_reply_to_id")),
        raw=received,
    )


def _author(account: Mapping[str, Any]) -> Author:
    url = as_str(account.get("url"))
    return Author(
        handle=_full_handle(as_str(account.get("acct")) or as_str(account.get("username")), url),
        name=as_str(account.get("display_name")),
        followers=as_int(account.get("followers_count")),
        # Mastodon has no verified accounts (bot flags and profile links are not that)
        verified=None,
        native_id=as_id(account.get("id")),
        url=url,
    )


def _full_handle(acct: str | None, profile_url: str | None) -> str | None:
    """user@server for everyone. `acct` leaves the server off for the listening
    server's own users; without it one person would have two handles depending on
    where Earful listens, and the brand would not recognise its own posts."""
    if acct is None or "@" in acct.lstrip("@"):
        return acct.lstrip("@") if acct else None
    try:
        host = urlsplit(profile_url).hostname if profile_url else None
    except ValueError:  # an unparseable url from a broken server
        host = None
    return f"{acct}@{host}" if host else acct
