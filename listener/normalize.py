"""Shared pieces of the platform normalizers: the one error they raise, HTML to plain
text, and readers that take a field from an untrusted payload or give None.

Every normalizer follows the same rule: a field the platform omits or sends with the
wrong type becomes None, and only a post without a usable id is refused. Post text
is kept exactly as sent (NUL bytes, lone surrogates, bidi overrides and all) so the
rest of Earful sees what the author wrote; the one exception is HTML, which becomes
the plain text a reader would see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from listener.mention import parse_time


class MalformedPost(ValueError):
    """A payload that cannot become a Mention: it is not a post, or has no usable id."""


# -- reading untrusted payloads -------------------------------------------------------


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def as_list(value: Any) -> Sequence[Any]:
    """A JSON array, or an empty tuple for anything else (a string is not a list)."""
    return value if isinstance(value, list | tuple) else ()


def as_str(value: Any) -> str | None:
    """A string field as sent, or None; the empty string counts as absent."""
    return value if isinstance(value, str) and value != "" else None


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def as_id(value: Any) -> str | None:
    """An identifier as a string: platforms send ids as strings, some clients as
    integers. Booleans, floats (precision already lost) and empty strings are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return as_str(value)


def shortens(shown: str, target: str) -> bool:
    """Whether `shown` is the link `target` as apps shorten one for reading: without
    its scheme, and cut with "..." when long (Bluesky's app, Hacker News)."""
    bare = shown.removesuffix("...").removesuffix("…")
    full = target.split("://", 1)[-1]
    return bool(bare) and (target.startswith(bare) or full.startswith(bare))


def http_url(url: str | None) -> str | None:
    """A link only when it is http(s): a post's `javascript:` or `data:` permalink
    (from a hostile feed or platform) never becomes a link, on a page or in a
    spreadsheet marketing copies testimonials from."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def get_path(payload: Any, *keys: str) -> Any:
    """payload[k1][k2]... or None as soon as a level is missing or not a mapping."""
    for key in keys:
        mapping = as_mapping(payload)
        if mapping is None:
            return None
        payload = mapping.get(key)
    return payload


def require_id(value: Any, what: str) -> str:
    found = as_id(value)
    if found is None:
        raise MalformedPost(f"{what} has no usable id (got {_preview(value)})")
    return found


def require_mapping(value: Any, what: str) -> Mapping[str, Any]:
    found = as_mapping(value)
    if found is None:
        raise MalformedPost(f"{what} is not a JSON object (got {type(value).__name__})")
    return found


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def join_text(*parts: str | None) -> str:
    """Title and body as one text, a blank line apart; absent parts are left out."""
    return "\n\n".join(p for p in parts if p)


# -- time -----------------------------------------------------------------------------


def parse_any_time(value: Any) -> datetime | None:
    """ISO 8601 or epoch seconds (parse_time), RFC 822 dates as feeds write them
    ("Tue, 17 Nov 2026 09:00:00 GMT"), or the (year, month, day, hour, minute, second,
    ...) sequence feedparser's *_parsed fields hold, in UTC; anything else is None."""
    found = parse_time(value)
    if found is not None:
        return found
    if isinstance(value, str) and value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    # a time.struct_time is a tuple; after a JSON round trip it is a list
    if isinstance(value, list | tuple) and len(value) >= 6:
        fields = tuple(value)[:6]
        if all(isinstance(f, int) and not isinstance(f, bool) for f in fields):
            year, month, day, hour, minute, second = fields
            try:
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (ValueError, OverflowError):
                return None
    return None


# -- HTML to text ---------------------------------------------------------------------

# Tags whose content a reader never sees.
_HIDDEN = frozenset({"script", "style", "template"})
# Tags that start a paragraph (a blank line) or a line of their own.
_PARAGRAPH = frozenset({"p", "blockquote", "pre", "ul", "ol", "table", "hr", "h1", "h2", "h3"})
_LINE = frozenset({"div", "li", "tr", "h4", "h5", "h6", "dt", "dd", "section", "article"})
# HTML's insignificant whitespace; other spaces (NBSP, U+3000) are text and stay.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.trailing_newlines = 0  # how many newlines the text so far ends with
        self.hidden = 0  # depth inside <script>/<style>
        self.pre = 0  # depth inside <pre>, where whitespace is text
        self.link: tuple[str, int] | None = None  # the open <a>'s href, where its text starts

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), None)
            self.link = (href, len(self.parts)) if href else None
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self._append("\n")
        elif tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        if tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/>; a self-closed <script/> has no content to hide
        if tag not in _HIDDEN:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link is not None:
            self._unshorten(*self.link)
            self.link = None
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.pre:
            data = _HTML_SPACE.sub(" ", data)
            if self._at_line_start():
                data = data.lstrip(" ")  # indentation between block tags, not text
        self._append(data)

    def _unshorten(self, href: str, first: int) -> None:
        """A link whose text is its address cut short ("https://example.com/long/pa...",
        as Hacker News writes a long one) reads as the whole address."""
        shown = "".join(self.parts[first:])
        cut = shown.endswith(("...", "…")) and "\n" not in shown
        if cut and http_url(href) and shortens(shown, href):
            del self.parts[first:]
            self._append(href)

    def _append(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        body = text.rstrip("\n")
        if body:
            self.trailing_newlines = len(text) - len(body)
        else:
            self.trailing_newlines += len(text)

    def _at_line_start(self) -> bool:
        return not self.parts or self.trailing_newlines > 0

    def _break(self, newlines: int) -> None:
        """End the current line (1) or paragraph (2) unless the text already has."""
        if not self.parts:
            return
        if self.trailing_newlines == 0:
            self.parts[-1] = self.parts[-1].rstrip(" ")  # spaces before a break are layout
        self._append("\n" * max(0, newlines - self.trailing_newlines))

    def text(self) -> str:
        return "".join(self.parts).strip("\n ")


def html_to_text(html: str) -> str:
    """What a reader sees of an HTML fragment, as plain text: <br> and the end of a
    <p> become newlines, entities are decoded, link text is kept, and the content of
    <script> and <style> is dropped. Characters that are not HTML syntax pass through
    untouched, whatever they are."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()
