"""X (Twitter) posts as Mentions.

The X API v2 sends a page as `{"data": [tweet, ...], "includes": {"users": [...],
"tweets": [...]}, "meta": {...}}`: a tweet names its author and the tweets it quotes
or answers by id, and the page's `includes` hold those objects once each. Earful asks
for tweet.fields=created_at,public_metrics,conversation_id,lang,in_reply_to_user_id,
referenced_tweets,author_id and expansions=author_id,referenced_tweets.id with
user.fields=name,username,verified,public_metrics.

The source (type = "x") polls one of two endpoints through tweepy.Client:

    mode = "mentions"  GET /2/users/:id/mentions of the brand account; the id is
                       looked up once from `handle` (GET /2/users/by/username/:name)
    mode = "search"    GET /2/tweets/search/recent with `query`

One page per fetch. While X has more pages, the cursor holds the page token and the
run's newest id and `more` asks the daemon to fetch again at once; each page is
committed with the cursor that resumes after it, so a 429 or a crash half-way through
a run loses nothing and repeats nothing. When the run is caught up the cursor
settles to {"since_id": <newest id>}. The first run (no since_id) backfills the
`backfill` window, at most `backfill_pages` pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from listener.base import (
    Duration,
    PaceDuration,
    SourceContext,
    SourceSettings,
    TimeoutDuration,
)
from listener.mention import Author, Mention, as_int, parse_time
from listener.normalize import (
    as_bool,
    as_id,
    as_list,
    as_mapping,
    as_str,
    get_path,
    http_url,
    require_id,
    require_mapping,
)

if TYPE_CHECKING:
    from listener.x_source import XSource

WEB = "https://x.com"
# how far back recent search reaches: X refuses a start_time before it
SEARCH_REACH = 7 * 24 * 3600.0
POSTING_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


class Settings(SourceSettings):
    """Config keys of an X source (see docs/x.md)."""

    base_url_example: ClassVar[str] = "https://api.twitter.com"
    api_paths: ClassVar[tuple[str, ...]] = ("/2",)
    type: Literal["x"]
    mode: Literal["mentions", "search"] = "mentions"
    # mentions: the brand account, "@" optional; [brand] handles.x when left out
    handle: str | None = None
    # search: an X search query, operators and all ("acme -is:retweet lang:en")
    query: str | None = None
    # app-only OAuth 2.0 bearer token: reads
    # (credentials stay out of repr, so a logged settings object shows none of them)
    bearer_token: str = Field(min_length=1, repr=False)
    # user-context OAuth 1.0a keys of the brand account: posting (all four or none)
    consumer_key: str | None = Field(None, repr=False)
    consumer_secret: str | None = Field(None, repr=False)
    access_token: str | None = Field(None, repr=False)
    access_token_secret: str | None = Field(None, repr=False)
    # the first poll reaches this far back, at most this many pages
    backfill: Duration = 24 * 3600.0
    backfill_pages: int = Field(5, ge=1, le=100)
    page_size: int = Field(100, ge=10, le=100)
    include_retweets: bool = False
    # requests Earful allows itself per endpoint per 15-minute window; set it to
    # (or under) the limit of the app's access tier
    requests_per_window: int = Field(10, ge=1, le=10_000)
    # the adaptive polling interval moves between these bounds
    min_interval: PaceDuration = 60.0
    max_interval: PaceDuration = 900.0
    timeout: TimeoutDuration = 30.0
    # a "thanks" draft goes out as a reply, or as a like of the praising post
    thanks_as: Literal["reply", "like"] = "reply"

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.mode == "search" and not (self.query and self.query.strip()):
            raise ValueError(
                'query: mode = "search" needs query = "..." (an X search query, e.g. '
                '"acme -is:retweet")'
            )
        if self.mode == "search" and self.backfill > SEARCH_REACH:
            raise ValueError(
                'backfill: recent search reaches back at most 7 days ("7d"); '
                f"got {self.backfill / 86400:g} days"
            )
        if self.mode == "mentions" and self.query is not None:
            raise ValueError(
                'query: used only with mode = "search" (add it to search X for the query); '
                'mode = "mentions", the default, follows the account named by handle'
            )
        if self.handle is not None and not self.handle.lstrip("@").strip():
            raise ValueError('handle: expected an X user name like "AcmeHelp"')
        given = [k for k in POSTING_KEYS if getattr(self, k)]
        if given and len(given) < len(POSTING_KEYS):
            missing = ", ".join(k for k in POSTING_KEYS if k not in given)
            raise ValueError(
                f"posting needs all four user-context keys ({', '.join(POSTING_KEYS)}); "
                f"missing: {missing}"
            )
        if self.access_token and self.account_id is None:
            # the id names the account in like and timeline URLs; never the secret part
            raise ValueError(
                "access_token: expected X's form <account id>-<token> (the brand "
                "account's Access Token from the Developer Console)"
            )
        if self.min_interval > self.max_interval:
            raise ValueError(
                f"min_interval ({self.min_interval:g}s) must not exceed "
                f"max_interval ({self.max_interval:g}s)"
            )
        return self

    @property
    def can_post(self) -> bool:
        return all(getattr(self, k) for k in POSTING_KEYS)

    @property
    def account_id(self) -> str | None:
        """The brand account's id: a user-context access token is "<id>-<secret>"."""
        token_id, dash, _ = (self.access_token or "").partition("-")
        return token_id if dash and token_id.isascii() and token_id.isdigit() else None


def build(settings: Settings, ctx: SourceContext) -> XSource:
    # imported here: tweepy loads only when an X source is configured
    from listener.x_source import XSource

    handle = settings.handle or ctx.brand.handles.get("x")
    return XSource(settings, ctx.brand, handle=handle.lstrip("@") if handle else None)


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

    first = _first_version(tweet, tweet_id)
    return Mention(
        platform="x",
        # an edit is the post it edits: stored, judged and answered once
        native_id=first,
        version_id=tweet_id if first != tweet_id else None,
        text=_words(tweet),
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


def _first_version(tweet: Mapping[str, Any], tweet_id: str) -> str:
    """The id of the post this tweet is a version of: X gives each edit a new id and
    lists the post's versions, oldest first, in edit_history_tweet_ids."""
    history = as_list(tweet.get("edit_history_tweet_ids"))
    first = as_id(history[0]) if history else None
    # X's ids grow with time: an "original" newer than the edit is not one
    if first is None or not (first + tweet_id).isascii() or not (first + tweet_id).isdigit():
        return tweet_id
    return first if int(first) <= int(tweet_id) else tweet_id


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
    texts = [t for t in map(_words, referenced) if t]
    return "\n\n".join(texts) if texts else None


def _words(tweet: Mapping[str, Any]) -> str:
    """A tweet's text as a reader sees it: as typed, links where they lead."""
    # posts over 280 characters arrive cut short in `text`, whole in note_tweet
    note = as_str(get_path(tweet, "note_tweet", "text"))
    if note:
        return _unshortened(unescape(note), get_path(tweet, "note_tweet", "entities"))
    text = tweet.get("text")
    return _unshortened(unescape(text), tweet.get("entities")) if isinstance(text, str) else ""


def _unshortened(text: str, entities: Any) -> str:
    """X writes every link as a t.co one and says in entities.urls where each leads:
    a link becomes that address, and a photo's or video's link, which X shows as the
    media itself, is left out (a post of a photo alone has no words)."""
    for link in map(as_mapping, as_list(get_path(entities, "urls"))):
        short = as_str(link.get("url")) if link else None
        if link is None or short is None or not short.startswith(_SHORT) or short not in text:
            continue
        if link.get("media_key"):
            text = text.replace(f" {short}", "").replace(short, "")
            continue
        target = http_url(as_str(link.get("unwound_url")) or as_str(link.get("expanded_url")))
        if target:
            text = text.replace(short, target)
    return text


_SHORT = "https://t.co/"


# X escapes &, < and > in a tweet's text, and nothing else ("AT&T <3" arrives as
# "AT&amp;T &lt;3"); one pass over those three, so a typed "&lt;" (sent as
# "&amp;lt;") comes back as typed and no other entity-like text is touched
_ESCAPED = re.compile(r"&(amp|lt|gt);")
_PLAIN = {"amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    """A tweet's text as its author typed it."""
    return _ESCAPED.sub(lambda m: _PLAIN[m[1]], text)
