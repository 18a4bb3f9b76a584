"""Hacker News items as Mentions, from the Algolia search API's hits.

A hit is a story or a comment, told apart by its `_tags` ("story", "comment", ...).
Story and comment bodies (story_text, comment_text) are HTML; titles are plain.
Comments name their story (story_id, story_title) and the item they answer
(parent_id), as integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    as_id,
    as_list,
    as_str,
    html_to_text,
    join_text,
    require_id,
    require_mapping,
)

WEB = "https://news.ycombinator.com"


def mention_from_hit(hit: Mapping[str, Any]) -> Mention:
    """An HN Algolia search hit as a Mention."""
    hit = require_mapping(hit, "hacker news hit")
    item_id = require_id(hit.get("objectID"), "hacker news hit")
    handle = as_str(hit.get("author"))

    if _is_comment(hit):
        text = _plain(hit.get("comment_text"))
        conversation_id = as_id(hit.get("story_id"))
        in_reply_to = as_id(hit.get("parent_id"))
        context = as_str(hit.get("story_title"))
    else:
        text = join_text(as_str(hit.get("title")), _plain(hit.get("story_text")))
        conversation_id = item_id
        in_reply_to = None
        context = None

    return Mention(
        platform="hackernews",
        native_id=item_id,
        text=text,
        author=Author(
            handle=handle,
            native_id=handle,  # HN accounts have no id besides their name
            url=f"{WEB}/user?id={handle}" if handle else None,
        ),
        url=f"{WEB}/item?id={item_id}",
        created_at=parse_time(hit.get("created_at_i")) or parse_time(hit.get("created_at")),
        lang=None,
        likes=as_int(hit.get("points")),
        reposts=None,
        replies=as_int(hit.get("num_comments")),
        conversation_id=conversation_id,
        in_reply_to=in_reply_to,
        context=context,
        raw=hit,
    )


def _is_comment(hit: Mapping[str, Any]) -> bool:
    tags = {t for t in as_list(hit.get("_tags")) if isinstance(t, str)}
    if "comment" in tags or "story" in tags:
        return "comment" in tags
    return isinstance(hit.get("comment_text"), str)


def _plain(html: Any) -> str:
    return html_to_text(html) if isinstance(html, str) else ""
