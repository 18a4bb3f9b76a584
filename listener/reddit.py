"""The Reddit source (`type = "reddit"`): its settings, `build`, and Reddit posts as
Mentions. The polling itself is in listener/reddit_source.py, the praw set-up in
listener/reddit_client.py; docs/reddit.md is the user's guide.

Modes:
    search       Reddit search for `query` (default: the brand keywords), newest
                 first, in r/all or each listed subreddit: submissions
    submissions  new posts in the listed subreddits that name a keyword
    comments     new comments in the listed subreddits that name a keyword
    mentions     u/ mentions of the account in its inbox (needs username/password)

Reddit's listings (search, /new, /comments, the inbox's /message/mentions) hold
"things": `{"kind": "t3", "data": {...}}` for a submission, `"t1"` for a comment.
A thing's `name` is its fullname (kind + "_" + id) and is what Earful uses as the
native id, because parent_id and link_id — the reply and thread links — are
fullnames too. Earful's client asks for raw_json=1, so text arrives unescaped, but
for the character references the markdown itself holds (see _REFERENCE).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from listener.base import SourceContext, SourceSettings
from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    MalformedPost,
    as_id,
    as_mapping,
    as_str,
    join_text,
    require_id,
    require_mapping,
)

if TYPE_CHECKING:
    # praw is imported only when a Reddit source is built: replaying saved Reddit
    # posts (listener/replay.py) needs the normalizer, not the client library
    from listener.reddit_client import Credentials
    from listener.reddit_source import RedditSource

WEB = "https://www.reddit.com"
# Reddit's placeholders for an author who deleted their account or was removed, and
# for text a moderator removed or the author deleted: nobody wrote those words.
_NO_AUTHOR = frozenset({"[deleted]", "[removed]"})
_GONE_TEXT = frozenset({"[deleted]", "[removed]"})
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
        text = join_text(as_str(data.get("title")), _own_words(data.get("selftext")))
        conversation_id: str | None = native_id
        in_reply_to = None
        # a comment's num_comments (inbox items carry one) counts the whole thread
        replies = as_int(data.get("num_comments"))
        context = _crossposted(data)
    else:
        text = _own_words(data.get("body")) or ""
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


def _crossposted(data: Mapping[str, Any]) -> str | None:
    """A crosspost's original (its title and text), which the crosspost shows under
    its own title and carries in crosspost_parent_list: context, not its words."""
    parents = data.get("crosspost_parent_list")
    original = as_mapping(parents[0]) if isinstance(parents, list) and parents else None
    if original is None:
        return None
    words = join_text(as_str(original.get("title")), _own_words(original.get("selftext")))
    return words or None


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


def _own_words(text: Any) -> str | None:
    """Text as a reader sees it, or None when absent or only Reddit's removal
    placeholder."""
    if isinstance(text, str) and text in _GONE_TEXT:
        return None
    found = as_str(text)
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), found) if found else None


# A character reference, semicolon and all. Reddit's markdown shows each as its
# character, and real bodies carry them even with raw_json=1: "&nbsp;" typed for
# spacing, and the "&amp;", "&lt;", "&gt;" and "&#x200B;" (an empty paragraph) that
# new Reddit's rich-text editor writes into the markdown it stores. A bare "&" (a
# link's "?a=1&copy=2") is no reference and stays.
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


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


# -- settings and build -----------------------------------------------------------------

_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


def _subreddit(raw: str) -> str:
    """A subreddit's bare name, "r/" or "/r/" dropped."""
    name = raw.strip().removeprefix("/").removeprefix("r/")
    if not _SUBREDDIT.match(name):
        raise ValueError(
            f'{raw!r} is not a subreddit name (letters, digits and _, like "LumenetUK" or '
            '"r/LumenetUK")'
        )
    return name


class Settings(SourceSettings):
    base_url_example: ClassVar[str] = "https://oauth.reddit.com"
    type: Literal["reddit"]
    mode: Literal["search", "comments", "submissions", "mentions"] = "search"
    # search: Reddit search syntax; default: the brand keywords joined with OR
    query: str | None = Field(default=None, min_length=1)
    # comments / submissions: posts must name one of these; default: brand keywords
    keywords: tuple[str, ...] | None = None
    # checked one by one: each problem at its subreddits[N], none hidden by another's
    subreddits: tuple[Annotated[str, AfterValidator(_subreddit)], ...] = ("all",)
    client_id: str = Field(min_length=1)
    client_secret: str | None = None  # None: an installed app (read-only)
    username: str | None = None
    password: str | None = None
    user_agent: str | None = Field(default=None, min_length=7)
    # posts per feed taken on the very first poll (0: start from now)
    backfill: int = Field(default=100, ge=0, le=1000)
    # posts per feed read in one later poll; Reddit's listings stop near 1000 anyway
    max_per_poll: int = Field(default=1000, ge=1, le=1000)

    @field_validator("client_secret", "username", "password", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # "${REDDIT_PASSWORD:-}" left empty means "not set", not an empty password
        return None if value == "" else value

    @field_validator("subreddits")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('expected at least one subreddit (["all"] is all of Reddit)')
        return value

    @model_validator(mode="after")
    def _mode_needs(self) -> Settings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        if self.username is not None and self.client_secret is None:
            raise ValueError(
                "username and password need a script app's client_secret "
                "(installed apps cannot log in with a password)"
            )
        if self.mode == "mentions" and self.username is None:
            raise ValueError(
                'mode = "mentions" reads the account\'s inbox: set username and password '
                "(and the script app's client_secret)"
            )
        if self.query is not None and self.mode != "search":
            raise ValueError(
                f'query is only used by mode = "search" (this source\'s mode is "{self.mode}")'
            )
        if self.keywords is not None and self.mode not in ("comments", "submissions"):
            raise ValueError(
                'keywords is only used by mode = "comments" or "submissions" '
                f'(this source\'s mode is "{self.mode}")'
            )
        if self.mode == "mentions" and "subreddits" in self.model_fields_set:
            raise ValueError('mode = "mentions" reads the inbox: leave out subreddits')
        return self

    def credentials(self, brand_handle: str | None) -> Credentials:
        from listener.reddit_client import Credentials, user_agent

        return Credentials(
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            user_agent=self.user_agent or user_agent(brand_handle or self.username),
            base_url=self.base_url,
        )


def search_query(keywords: tuple[str, ...], fallback: str) -> str:
    """Reddit search syntax for any of the keywords; phrases are quoted."""
    terms = [k.strip().replace('"', "") for k in keywords if k.strip()] or [fallback]
    return " OR ".join(f'"{t}"' if " " in t else t for t in terms)


def build(settings: Settings, ctx: SourceContext) -> RedditSource:
    from listener.http_deadline import DeadlineSession
    from listener.reddit_client import RateBudget, make_reddit
    from listener.reddit_source import RedditSource, feeds_for, keyword_matcher

    brand = ctx.brand
    budget = RateBudget(settings.name)
    session = DeadlineSession()  # praw's timeout bounds each read only
    reddit = make_reddit(settings.credentials(brand.handles.get("reddit")), budget, session)
    keywords = settings.keywords if settings.keywords is not None else brand.keywords
    match = None
    if settings.mode in ("comments", "submissions"):
        match = keyword_matcher(keywords or (brand.name,))
    query = settings.query or search_query(brand.keywords, brand.name)
    return RedditSource(
        settings.name,
        reddit,
        session,
        budget,
        feeds_for(settings.mode, settings.subreddits, query),
        mention_from_thing,
        match=match,
        backfill=settings.backfill,
        max_per_poll=settings.max_per_poll,
    )
