"""RSS and Atom entries as Mentions.

Entries come in the shape feedparser gives them: id (the guid), link, title (plain
text), summary (HTML), content (a list of {value, type}), published/updated (the
feed's own date strings, RFC 822 for RSS and ISO 8601 for Atom, with feedparser's
*_parsed time tuples beside them), author and author_detail. A feed has no handles,
so its authors are known by name only.

The source (type = "rss") polls a list of feed URLs, RSS or Atom alike:

- a conditional GET per URL: the ETag and Last-Modified of the last good answer go
  back as If-None-Match / If-Modified-Since, and a 304 costs nothing more;
- the document is parsed by feedparser (off the event loop); entries are known by
  their id, else their link, and an entry already seen in that feed is not offered
  again. An id that is not a URL, `tag:` or `urn:` ("42", "post-7") is only unique
  within its site, so it is stored as `<feed's host>#<id>`: two blogs' entry 42 are
  two mentions, while a site's main feed and its tag feed agree on theirs;
- with `match = true` (the default) only entries whose title or text names the brand
  (a keyword or the brand name, as a whole word, any case) are kept: a news or blog
  feed is mostly about other things. Set it false for a feed that is about the brand
  already (an alerts feed, a review site's page for the product);
- one feed failing (down, refused, not a feed at all) is logged and skipped while
  the others are read, its place in the cursor kept, and the result says so
  (FetchResult.trouble: the source's health is "failing"); if every feed fails, the
  poll fails (SourceDown, or the one feed's own error when there is just one);
- a damaged document (not well-formed XML) gives the entries feedparser read whole;
  those the damage may have cut (see `damage`) are held back for the next poll, which
  asks for the whole document, and the result says so as for a failed feed. What
  feedparser reads past (a charset or content type the document contradicts) is no
  damage.

The cursor is `{"feeds": {key: {"etag", "modified", "seen": [entry ids]}}}`, where a
feed's key is its URL as `shown` prints it (no query string, no user-info), so a
private feed's token never reaches the database; two feeds that differ only there
are told apart by their order in the config ("...#2"). A cursor written before keys
were redacted (full URLs) is still read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import AfterValidator, Field, field_validator

from listener.base import (
    Cursor,
    FetchResult,
    RateLimited,
    SourceContext,
    SourceDown,
    SourceError,
    SourceSettings,
)
from listener.http_errors import HttpFactory, error_for, preview, request, shared_http
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
    raw is `{"entry": ..., "feed_url": ..., "feed_title": ...}`, with the url's
    `public_url`: raw payloads are stored, a private feed's token must not be."""
    entry = require_mapping(entry, "feed entry")
    feed_url = public_url(feed_url)
    link = _absolute(as_str(entry.get("link")), feed_url)
    entry_id = as_str(entry.get("id"))
    native_id = _in_feed(entry_id, feed_url) if entry_id else link
    if native_id is None:
        raise MalformedPost(f"feed entry from {feed_url} has neither an id nor a link")

    return Mention(
        platform="rss",
        native_id=native_id,
        text=join_text(_title(entry), _body(entry)),
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


# ids that are unique beyond their feed: URLs, tag: URIs (Atom's advice), URNs
_GLOBAL_ID = re.compile(r"(?:[a-z][a-z0-9+.-]*://|tag:|urn:)", re.IGNORECASE)


def _in_feed(entry_id: str, feed_url: str) -> str:
    """The entry's id, made unique across sites when it is only unique in its own.
    By host, not feed URL: one site's feeds (all posts, a tag's posts) share their
    ids, and a feed moved from http to https keeps them."""
    if _GLOBAL_ID.match(entry_id):
        return entry_id
    try:
        host = (urlsplit(feed_url).hostname or "").removeprefix("www.")
    except ValueError:
        host = ""
    return f"{host}#{entry_id}" if host else entry_id


def _absolute(link: str | None, base: str) -> str | None:
    if link is None:
        return None
    try:
        return urljoin(base, link) if isinstance(base, str) and base else link
    except ValueError:  # a base url the standard library cannot parse
        return link


def _title(entry: Mapping[str, Any]) -> str | None:
    """The title as text: feedparser hands over escaped markup ("&lt;b&gt;", "AT&amp;T")
    as is when it calls the title HTML, so that is made plain like the body."""
    title = as_str(entry.get("title"))
    if title and "html" in (as_str(get_path(entry, "title_detail", "type")) or ""):
        return html_to_text(title)
    return title


def _body(entry: Mapping[str, Any]) -> str | None:
    """The whole post (the first content) when the feed carries it, else the
    summary: "full text" feeds pair a cut-off excerpt (RSS <description>, Atom
    <summary>) with the post (<content:encoded>, <content>), and a brand named only
    past the cut must still be found and judged."""
    for part in map(as_mapping, as_list(entry.get("content"))):
        value = as_str(part.get("value")) if part else None
        if part and value and value.strip():
            return _plain(value, as_str(part.get("type")))
    summary = as_str(entry.get("summary"))
    kind = as_str(get_path(entry, "summary_detail", "type"))
    return _plain(summary, kind) if summary else None


def _plain(value: str, kind: str | None) -> str:
    """What a reader sees of an entry's text. HTML (feedparser's text/html and
    application/xhtml+xml, and a part that does not say) is made plain; text (Atom's
    type="text", feedparser's text/plain) is the author's words as written, where
    "a<b" and "&amp;" are characters and line breaks are kept."""
    if kind is None or "html" in kind:
        return html_to_text(value)
    return value.strip()


# RSS 2.0's <author>: "jane@news.example (Jane Doe)"
_EMAIL_AND_NAME = re.compile(r"^\s*[^\s()@]+@[^\s()]+\s*\((?P<name>[^()]*\S[^()]*)\)\s*$")


def _author(entry: Mapping[str, Any], feed_title: str | None) -> Author:
    detail = as_mapping(entry.get("author_detail")) or {}
    name = _author_name(detail, as_str(entry.get("author")))
    return Author(
        handle=None,
        name=name or as_str(feed_title),
        url=as_str(detail.get("href")),
    )


def _author_name(detail: Mapping[str, Any], written: str | None) -> str | None:
    """The author's name: feedparser's, but for an RSS address whose domain ends in
    more than four letters (".online", ".technology"), which feedparser cuts, taking
    the rest into the name ("ne (Jane Doe)", "nology"): that is read here."""
    name, email = as_str(detail.get("name")), as_str(detail.get("email"))
    if written and email and re.search(re.escape(email) + r"[\w.-]", written):
        rss = _EMAIL_AND_NAME.match(written)
        return rss.group("name").strip() if rss else written
    return name or written


def _first_time(entry: Mapping[str, Any], *keys: str) -> datetime | None:
    for key in keys:
        found = parse_any_time(entry.get(key)) or parse_any_time(entry.get(f"{key}_parsed"))
        if found is not None:
            return found
    return None


# -- the source -----------------------------------------------------------------------

log = logging.getLogger("earful.rss")

# Entry ids remembered per feed: more than any feed keeps in one document.
_MAX_SEEN = 1000
# How much of feedparser's complaint about a damaged document is worth quoting.
_REASON_CHARS = 160
# a feed that answers 429 without saying until when rests this long: long enough
# for a per-minute limit to reset, short enough that a busy feed is not missed long
_DEFAULT_REST = 300.0
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)


def _feed_url(url: str) -> str:
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise ValueError(f"expected an http:// or https:// feed URL, got {url!r}")
    return url


class Settings(SourceSettings):
    no_base_url: ClassVar[str] = "rss sources fetch the full URLs in urls"
    type: Literal["rss"]
    # checked one by one: each problem at its urls[N], none hidden by another's
    # (an unset ${VAR} in one URL)
    urls: list[Annotated[str, AfterValidator(_feed_url)]] = Field(min_length=1)
    # keep only entries naming the brand; false for feeds about the brand already
    match: bool = True

    @field_validator("urls")
    @classmethod
    def _once(cls, urls: list[str]) -> list[str]:
        return list(dict.fromkeys(urls))


def build(settings: Settings, ctx: SourceContext) -> RssSource:
    terms = [*ctx.brand.keywords, ctx.brand.name] if settings.match else []
    return RssSource(settings, shared_http(ctx.http, f"rss source {settings.name!r}"), terms)


def public_url(url: str) -> str:
    """scheme://host[:port]/path: a feed URL without the parts a private feed keeps
    its token in (query string, user-info), and without a fragment. What is stored
    and what relative links resolve against; "" when it cannot be parsed."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return f"{parts.scheme}://{host}{port}{parts.path}"


def shown(url: str) -> str:
    """A feed URL fit for logs, errors and cursor keys: `public_url`, with "?..."
    where a query string was left out."""
    if not url:
        return url
    public = public_url(url)
    if not public:
        return "<a feed URL that cannot be parsed>"
    return f"{public}?..." if urlsplit(url).query else public


def cursor_keys(urls: Sequence[str]) -> dict[str, str]:
    """Each feed URL's key in the cursor: `shown(url)`, with "#2", "#3"... for a
    later URL that shows the same (the same feed path with another token)."""
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for url in urls:
        base = key = shown(url)
        n = 1
        while key in taken:
            n += 1
            key = f"{base}#{n}"
        keys[url] = key
        taken.add(key)
    return keys


def names_any(text: str, terms: Sequence[str]) -> bool:
    """True when `text` contains one of `terms` as a whole word (or phrase), any case."""
    folded = text.casefold()
    for term in terms:
        term = term.strip().casefold()
        if term and re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", folded):
            return True
    return False


@dataclass(frozen=True, slots=True)
class FeedState:
    etag: str | None = None
    modified: str | None = None
    seen: tuple[str, ...] = ()
    # a feed that answered 429: not asked again before this moment (epoch seconds),
    # while the source's other feeds are read as usual
    resting_until: float | None = None

    @classmethod
    def from_cursor(cls, value: Any) -> FeedState:
        state = as_mapping(value) or {}
        seen = [s for s in as_list(state.get("seen")) if isinstance(s, str)]
        until = state.get("resting_until")
        # until == until: not NaN (a hand-edited cursor)
        until = float(until) if isinstance(until, int | float) and until == until else None
        return cls(as_str(state.get("etag")), as_str(state.get("modified")), tuple(seen), until)

    def as_cursor(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {
            "etag": self.etag,
            "modified": self.modified,
            "seen": list(self.seen),
        }
        if self.resting_until is not None:
            cursor["resting_until"] = self.resting_until
        return cursor


@dataclass(frozen=True, slots=True)
class FeedRead:
    mentions: tuple[Mention, ...]
    state: FeedState
    # the document was damaged and entries were held back (see Damage): for the log
    # and the source's health
    trouble: str | None = None


@dataclass(frozen=True, slots=True)
class Damage:
    """What a document feedparser could not read as well-formed XML may have cut:
    the entries held back (by their place in the document), and why, in words."""

    held: frozenset[int]
    said: str


# The document's first element: its root, whose end tag a whole document ends with.
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def damage(parsed: Mapping[str, Any], text: str) -> Damage | None:
    """What a damaged document may have cut, or None when nothing: feedparser read it
    as well-formed XML, or complained only of its charset or content type (which it
    reads past), or the document ends whole (a stray "&" or an HTML entity, in every
    version of the feed: see _held_back)."""
    import feedparser

    problem = parsed.get("bozo_exception")
    if not parsed.get("bozo") or isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe):
        return None
    entries = [as_mapping(e) or {} for e in as_list(parsed.get("entries"))]
    cut = not _ends_whole(text)
    held = _held_back(entries, cut)
    if not held:
        return None
    count = f"{len(held)} entr{'y' if len(held) == 1 else 'ies'}"
    return Damage(
        frozenset(held),
        f"cut off ({_parser_says(problem)}); {count} held back until it is read whole",
    )


def _ends_whole(text: str) -> bool:
    """True when the document ends with its root element's end tag (and then only
    space and comments): a download cut short does not."""
    root = _ROOT.search(text)
    tail = text.rstrip()
    while tail.endswith("-->") and "<!--" in tail:
        tail = tail[: tail.rindex("<!--")].rstrip()
    closing = tail.rpartition("</")[2]
    return root is not None and closing.endswith(">") and closing[:-1].strip() == root.group(1)


def _held_back(entries: Sequence[Mapping[str, Any]], cut: bool) -> set[int]:
    """The places of the entries a document cut short may have cut: the last (the
    break is in it, or after it), and any without an id among entries that have one
    (the cut took its <guid>: stored under its link now, it would be stored again
    under its id once the feed is whole). A document that ends whole holds nothing
    back: one malformed for good (a stray "&") would hold an entry back for good,
    where one mismatched tag that drops a <guid> costs at most a post stored twice."""
    if not cut or not entries:
        return set()
    held = {len(entries) - 1}
    has_id = [as_str(entry.get("id")) is not None for entry in entries]
    if any(has_id):
        held |= {n for n, has in enumerate(has_id) if not has}
    return held


def _parser_says(problem: Any) -> str:
    """feedparser's complaint on one line: the XML parser's "<unknown>:2:0: syntax
    error" is "line 2: syntax error"."""
    reason = re.sub(
        r"^<unknown>:(\d+):\d+: ", r"line \1: ", str(problem or "unrecognised document")
    )
    return preview(reason, _REASON_CHARS)


class RssSource:
    def __init__(
        self,
        settings: Settings,
        http: HttpFactory,
        terms: Sequence[str],
    ) -> None:
        self.name = settings.name
        self.urls = list(settings.urls)
        self._keys = cursor_keys(self.urls)
        self._http = http
        self.terms = list(terms)
        self._failing: set[str] = set()  # feeds whose failure was logged already
        self._damaged: set[str] = set()  # feeds whose damaged document was logged already

    async def fetch(self, cursor: Cursor | None) -> FetchResult:
        stored = (as_mapping(cursor.get("feeds")) if isinstance(cursor, Mapping) else None) or {}
        # A cursor from before keys were redacted holds full URLs: read those too.
        states = {
            url: FeedState.from_cursor(stored.get(self._keys[url], stored.get(url)))
            for url in self.urls
        }
        now = time.time()
        due = [url for url in self.urls if (states[url].resting_until or 0.0) <= now]
        reads = await asyncio.gather(
            *(self._read(url, states[url]) for url in due), return_exceptions=True
        )
        mentions: list[Mention] = []
        failures: list[BaseException] = []
        damaged: list[str] = []
        for url, read in zip(due, reads, strict=True):
            if isinstance(read, BaseException):
                if not isinstance(read, Exception):
                    raise read  # cancellation and the like are not a feed's fault
                failures.append(read)
                self._failed(url, read)
                if isinstance(read, RateLimited):
                    rest = read.reset_at.timestamp() if read.reset_at else now + _DEFAULT_REST
                    states[url] = replace(states[url], resting_until=rest)
                continue
            self._recovered(url)
            self._read_whole(url, read.trouble)
            mentions.extend(read.mentions)
            states[url] = replace(read.state, resting_until=None)
            if read.trouble is not None:
                damaged.append(read.trouble)
        if due and len(failures) == len(due):
            self._all_failed(failures, states)
        feeds = {self._keys[url]: state.as_cursor() for url, state in states.items()}
        troubles = damaged
        if failures:
            said = "; ".join(map(str, failures))
            failed = f"{len(failures)} of {len(due)} feeds failed (the others were read): {said}"
            troubles = [failed, *damaged]
        # entries held back from a damaged document are "failing" too, until it is whole
        trouble = "; ".join(troubles) or None
        return FetchResult(tuple(mentions), {"feeds": feeds}, trouble=trouble)

    async def aclose(self) -> None:
        return None  # the HTTP session is the daemon's

    def _all_failed(self, failures: list[BaseException], states: dict[str, FeedState]) -> None:
        """Every feed asked failed: the poll fails. When each was rate-limited, the
        source waits until the first of them may be asked again."""
        first = failures[0]
        if len(failures) == 1 and isinstance(first, SourceError):
            raise first
        if all(isinstance(f, RateLimited) for f in failures):
            rests = [s.resting_until for s in states.values() if s.resting_until is not None]
            reset = datetime.fromtimestamp(min(rests), tz=UTC) if rests else None
            raise RateLimited(f"all {len(failures)} feeds asked are rate-limited", reset)
        raise SourceDown(f"all {len(failures)} feeds asked failed; the first: {first}")

    def _failed(self, url: str, exc: Exception) -> None:
        if url in self._failing:
            log.debug("%s: failed again: %s", self.name, exc)
            return
        self._failing.add(url)
        others = "the other feeds are read; " if len(self.urls) > 1 else ""
        log.warning(
            "%s: %s; skipped (%slogged once until it recovers)",
            self.name,
            exc,
            others,
            # the exception itself: this is not an except block, so True would log
            # "NoneType: None"
            exc_info=None if isinstance(exc, SourceError) else exc,
        )

    def _read_whole(self, url: str, trouble: str | None) -> None:
        """A damaged document's entries held back are logged once until its feed
        reads whole again, and then that it does."""
        if trouble is None:
            if url in self._damaged:
                self._damaged.discard(url)
                log.info("%s: feed %s reads whole again", self.name, self._keys[url])
        elif url in self._damaged:
            log.debug("%s: damaged again: %s", self.name, trouble)
        else:
            self._damaged.add(url)
            log.warning("%s: %s (logged once until it reads whole)", self.name, trouble)

    def _recovered(self, url: str) -> None:
        if url in self._failing:
            self._failing.discard(url)
            log.info("%s: feed %s recovered", self.name, self._keys[url])

    async def _read(self, url: str, state: FeedState) -> FeedRead:
        # its key: the shown URL, with "#2" for a second feed that differs only in
        # what is not shown (the query), so the log tells the two apart
        what = f"feed {self._keys[url]}"
        headers = {"Accept": _ACCEPT}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        answer = await request(await self._http(), "GET", url, what=what, headers=headers)
        if answer.status == 304:
            return FeedRead((), state)
        # a feed is asked without credentials: a 401/403 is a server refusing, not a
        # login to fix (a private feed's token in its URL is not sent as one)
        error = error_for(answer, what, credentials=False)
        if error is not None:
            raise error
        import feedparser  # here: reading the normalizer above needs no feed parser

        parsed = await asyncio.to_thread(
            feedparser.parse,
            answer.raw,
            response_headers={
                # feedparser copies this into every entry's *_detail["base"], which
                # is stored: the public part resolves relative links just as well
                "content-location": public_url(url),
                "content-type": answer.headers.get("Content-Type", "application/xml"),
            },
        )
        if parsed.get("bozo") and not parsed.get("version") and not parsed.get("entries"):
            reason = _parser_says(parsed.get("bozo_exception"))
            raise SourceDown(f"{what}: not an RSS or Atom feed ({reason})")
        damaged = damage(parsed, answer.text)
        held = damaged.held if damaged is not None else frozenset()
        mentions, ids = self._new_entries(parsed, url, state, held)
        if damaged is not None:
            # Entries are missing: the validators are not kept (asked with them, the
            # server would answer 304 and never send the whole document), and neither
            # do the ids read replace those seen (the missing ones may come back)
            seen = tuple(dict.fromkeys([*ids, *state.seen]))[:_MAX_SEEN]
            return FeedRead(tuple(mentions), replace(state, seen=seen), f"{what}: {damaged.said}")
        etag = as_str(answer.headers.get("ETag"))
        modified = as_str(answer.headers.get("Last-Modified"))
        # the ids in this document are the ones that can come back; older ones cannot
        return FeedRead(tuple(mentions), FeedState(etag, modified, tuple(ids[:_MAX_SEEN])))

    def _new_entries(
        self,
        parsed: Mapping[str, Any],
        url: str,
        state: FeedState,
        held: frozenset[int],
    ) -> tuple[list[Mention], list[str]]:
        """The document's entries not seen before that name the brand, and the ids of
        all it holds, but for those `held` back (by place) from a damaged document."""
        title = as_str(get_path(parsed, "feed", "title"))
        seen = set(state.seen)
        ids: list[str] = []
        mentions: list[Mention] = []
        for place, entry in enumerate(as_list(parsed.get("entries"))):
            if place in held:
                continue  # the next whole document brings it
            try:
                mention = mention_from_entry(entry, url, title)
            except MalformedPost as exc:
                # the message names the feed by its public_url: no token in it
                log.warning("%s: an entry in %s skipped: %s", self.name, shown(url), exc)
                continue
            if mention.native_id in ids:
                continue  # the same entry twice in one document
            ids.append(mention.native_id)
            # a bare id: seen by an Earful that did not yet prefix it with the feed
            if mention.native_id in seen or as_str(entry.get("id")) in seen:
                continue
            if self.terms and not names_any(mention.text, self.terms):
                continue
            mentions.append(mention)
        return mentions, ids
