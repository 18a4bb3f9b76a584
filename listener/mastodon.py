"""Mastodon: statuses as Mentions, and the source that polls (and streams) them.

A Status's `content` is HTML; it becomes the plain text a reader sees. Ids are the
listening server's own (what its API needs to reply), while `uri` is the post's
global ActivityPub id. A boost arrives as a status of its own with empty content
and the boosted post in `reblog`: the Mention is the boosted post.

A quote (Mastodon 4.5 and later) carries the quoted status in `quote.quoted_status`:
its text is the Mention's context, as for quotes on X and Bluesky.

The Status entity names the post it answers (in_reply_to_id) but not its thread's
root, so conversation_id is None unless the server adds one (Pleroma and Akkoma
send `pleroma.conversation_id`).

Config (type = "mastodon"; docs/mastodon.md has the whole story):

    base_url      the instance, e.g. "https://mastodon.social" (required)
    mode          "hashtag" (`tag`; public, no token needed), "search" (`query`) or
                  "mentions" (the token's account's mention notifications)
    access_token  an application token (search, mentions, streaming, posting)
    stream        true: also keep the streaming API open for near-real-time posts

The cursor is `{"since_id": <newest id seen>}` (a notification id in mentions
mode). Each poll asks for `min_id=<since_id>` -- the page right after the cursor --
and walks forward through the Link header's rel="prev" pages, so a burst bigger
than a page is read in full, oldest first. The first poll takes the newest page
and starts from there. X-RateLimit-Remaining/-Reset on each answer set how long
the daemon waits before the next poll when the budget is spent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from listener.base import Source, SourceContext, SourceSettings
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


def mention_from_status(status: Mapping[str, Any], local_domain: str | None = None) -> Mention:
    """A Mastodon Status entity as a Mention; raw keeps the status as received
    (the boost around it, for a boost). `local_domain`: the domain in the handles of
    the listening server's own users (its instance info says; see local_domain)."""
    received = require_mapping(status, "mastodon status")
    post = as_mapping(received.get("reblog")) or received
    status_id = require_id(post.get("id"), "mastodon status")
    account = as_mapping(post.get("account")) or {}
    return Mention(
        platform="mastodon",
        native_id=status_id,
        text=_words(post),
        author=_author(account, local_domain),
        url=as_str(post.get("url")) or as_str(post.get("uri")),
        created_at=parse_time(post.get("created_at")),
        lang=as_str(post.get("language")),
        likes=as_int(post.get("favourites_count")),
        reposts=as_int(post.get("reblogs_count")),
        replies=as_int(post.get("replies_count")),
        conversation_id=as_id(get_path(post, "pleroma", "conversation_id")),
        in_reply_to=as_id(post.get("in_reply_to_id")),
        # a quote (Mastodon 4.5) carries the quoted status when its author allowed it
        context=_words(as_mapping(get_path(post, "quote", "quoted_status"))) or None,
        raw=received,
    )


def _words(status: Mapping[str, Any] | None) -> str:
    """A status's text as a reader sees it; a content warning is the author's own
    words, often naming the subject, so it comes first."""
    content = status.get("content") if status else None
    if isinstance(content, str) and as_mapping(get_path(status, "quote")):
        # the "RE: <link>" fallback for clients without quotes; Mastodon hides it
        content = _QUOTE_FALLBACK.sub("", content)
    return join_text(
        as_str(status.get("spoiler_text")) if status else None,
        html_to_text(content) if isinstance(content, str) else None,
    )


_QUOTE_FALLBACK = re.compile(r'<p class="quote-inline">.*?</p>', re.DOTALL)


def _author(account: Mapping[str, Any], local_domain: str | None) -> Author:
    url = as_str(account.get("url"))
    acct = as_str(account.get("acct")) or as_str(account.get("username"))
    return Author(
        handle=_full_handle(acct, local_domain or url_host(url)),
        name=as_str(account.get("display_name")),
        followers=as_int(account.get("followers_count")),
        # Mastodon has no verified accounts (bot flags and profile links are not that)
        verified=None,
        native_id=as_id(account.get("id")),
        url=url,
    )


def _full_handle(acct: str | None, domain: str | None) -> str | None:
    """user@domain for everyone. `acct` leaves the domain off for the listening
    server's own users; without it one person would have two handles depending on
    where Earful listens, and the brand would not recognise its own posts."""
    if acct is None or "@" in acct.lstrip("@"):
        return acct.lstrip("@") if acct else None
    return f"{acct}@{domain}" if domain else acct


def url_host(url: str | None) -> str | None:
    """The host of a profile link: the handles' domain only when the server's web
    address and its handles' domain are one (most servers; see local_domain)."""
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:  # an unparseable url from a broken server
        return None


def local_domain(instance: Any) -> str | None:
    """The domain in the handles of a server's own users, from its instance info:
    `domain` (GET /api/v2/instance) or `uri` (/api/v1/instance, older servers). It is
    Mastodon's LOCAL_DOMAIN, which may differ from the web address the API and the
    profile links use (WEB_DOMAIN): @ana@example.com served from social.example.com."""
    found = as_str(get_path(instance, "domain")) or as_str(get_path(instance, "uri"))
    if found is None:
        return None
    # a v1 `uri` of a few servers is a whole URL, not the bare domain
    host = url_host(found) if "://" in found else found.strip().strip("/")
    return host.casefold() if host and "/" not in host and " " not in host else None


# -- the source -------------------------------------------------------------------------

Mode = Literal["hashtag", "search", "mentions"]
Visibility = Literal["public", "unlisted", "private", "direct"]

# Mastodon's largest page for timelines, search and notifications alike.
MAX_PAGE = 40


class Settings(SourceSettings):
    base_url_is: ClassVar[str] = "the instance URL (http:// or https://)"
    base_url_example: ClassVar[str] = "https://mastodon.social"
    api_paths: ClassVar[tuple[str, ...]] = ("/api/v1", "/api/v2")
    type: Literal["mastodon"]
    # the instance whose API Earful reads (and, with a token, posts through)
    base_url: str
    mode: Mode = "hashtag"
    tag: str | None = None  # hashtag mode, with or without the "#"
    query: str | None = None  # search mode
    access_token: SecretStr | None = None
    stream: bool = False
    page_size: int = Field(default=MAX_PAGE, ge=1, le=MAX_PAGE)
    # the widest visibility a reply may have; a reply is never wider than the post
    reply_visibility: Visibility = "public"

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is None:
            return None
        tag = value.strip().removeprefix("#")
        if not tag or any(c.isspace() or c in "/?#&" for c in tag):
            raise ValueError(f'expected one hashtag like "acmefail", got {value!r}')
        return tag

    @field_validator("access_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # an empty token (`access_token = ""`) is no token, not a credential to send
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _mode_needs(self) -> Settings:
        if self.mode == "hashtag" and not self.tag:
            raise ValueError('mode "hashtag" needs `tag` (the hashtag to follow)')
        if self.mode == "search" and not (self.query and self.query.strip()):
            raise ValueError('mode "search" needs `query`')
        # a key the mode never reads is a mistake that would go unnoticed: the source
        # follows something else than the operator meant
        for key, used_by in (("tag", "hashtag"), ("query", "search")):
            if getattr(self, key) is not None and self.mode != used_by:
                raise ValueError(
                    f'`{key}` is for mode "{used_by}"; mode "{self.mode}" does not read it'
                )
        if self.mode in ("search", "mentions") and self.access_token is None:
            raise ValueError(f'mode "{self.mode}" needs `access_token`')
        if self.stream and self.mode == "search":
            raise ValueError(
                '`stream = true` works with mode "hashtag" or "mentions", not "search"'
            )
        if self.stream and self.access_token is None:
            # Mastodon 4.2 and later only stream to a signed-in user, hashtags included
            raise ValueError("`stream = true` needs `access_token`")
        return self

    def token(self) -> str | None:
        return self.access_token.get_secret_value() if self.access_token else None


def build(settings: Settings, ctx: SourceContext) -> Source:
    # imported here so that reading Mastodon posts (the replay source, the
    # normalizer tests) never pays for importing aiohttp
    from listener.http_errors import shared_http
    from listener.mastodon_source import MastodonSource, MastodonStreamingSource

    kind = MastodonStreamingSource if settings.stream else MastodonSource
    return kind(settings, http=shared_http(ctx.http, f"mastodon source {settings.name!r}"))
