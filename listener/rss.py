"""RSS and Atom entries as Mentions.

Entries come in the shape feedparser gives them: id (the guid), link, title (plain
text), summary (HTML), content (a list of {value, type}), published/updated (the
feed's own date strings, RFC 822 for RSS and ISO 8601 for Atom, with feedparser's
*_parsed time tuples beside them), author and author_detail. A feed has no handles,
so its authors are known by name only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from listener.mention import Author, Mention
from listener.normalize import (
    MalformedPost,
    as_list,
    as_mapping,
    as_str,
    get_path,
    html_to_text,
    join_text,
    parse_any_time,
    require_mapping,
)


def mention_from_entry(
    entry: Mapping[str, Any], feed_url: str, feed_title: str | None = None
) -> Mention:
    """A feed entry as a Mention. The feed's url resolves relative links, and its
    title stands in for an entry without an author (a news site's own feed).
    raw is `{"entry": ..., "feed_url": ..., "feed_title": ...}`."""
    entry = require_mapping(entry, "feed entry")
    link = _absolute(as_str(entry.get("link")), feed_url)
    native_id = as_str(entry.get("id")) or link
    if native_id is None:
        raise MalformedPost(f"feed entry from {feed_url} has neither an id nor a link")

    return Mention(
        platform="rss",
        native_id=native_id,
        text=join_text(as_str(entry.get("title")), _body(entry)),
        author=_author(entry, feed_title),
        url=link,
        created_at=_first_time(entry, "published", "updated"),
        lang=as_str(get_path(entry, "summary_detail", "language"))
        or as_str(get_path(entry, "title_detail", "language")),
        likes=None,
        reposts=None,
        replies=None,
        conversation_id=None,
        in_reply_to=None,
        raw={"entry": entry, "feed_url": feed_url, "feed_title": feed_title},
    )


def _absolute(link: str | None, base: str) -> str | None:
    if link is None:
        return None
    try:
        return urljoin(base, link) if isinstance(base, str) and base else link
    except ValueError:  # a base url the standard library cannot parse
        return link


def _body(entry: Mapping[str, Any]) -> str | None:
    """The summary, or (Atom feeds often have only that) the first content."""
    html = as_str(entry.get("summary"))
    if html is None:
        for part in map(as_mapping, as_list(entry.get("content"))):
            html = as_str(part.get("value")) if part else None
            if html:
                break
    return html_to_text(html) if html else None


def _author(entry: Mapping[str, Any], feed_title: str | None) -> Author:
    detail = as_mapping(entry.get("author_detail")) or {}
    name = as_str(detail.get("name")) or as_str(entry.get("author"))
    return Author(
        handle=None,
        name=name or as_str(feed_title),
        url=as_str(detail.get("href")),
    )


def _first_time(entry: Mapping[str, Any], *keys: str) -> datetime | None:
    for key in keys:
        found = parse_any_time(entry.get(key)) or parse_any_time(entry.get(f"{key}_parsed"))
        if found is not None:
            return found
    return None
