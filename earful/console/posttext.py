"""Post text as the pages show it: whole, but laid out fast.

A post may hold a word of tens of thousands of characters. With `overflow-wrap:
anywhere` Chromium then looks for a line break at every character of it, and with
kerning (AAAA…) or shaping (Arabic) that takes seconds to minutes and freezes the
page. So a long run without spaces gets a <wbr> (a break opportunity that adds no
character: copying the text gives it back unchanged) every BREAK_EVERY
characters, and a very long post shows its first SHOWN_AT_ONCE characters with the
rest in a closed <details>, which the browser lays out only when opened."""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

BREAK_EVERY = 40
SHOWN_AT_ONCE = 20_000
PREVIEW = 240  # a queue row's share of its post

# \S, and the no-break spaces Python counts as spaces but a browser never breaks at
_LONG_RUN = re.compile(rf"((?:\S|[\u00a0\u2007\u202f]){{{BREAK_EVERY + 1},}})")
_ZWJ = "\u200d"


def _may_break_before(text: str, at: int) -> bool:
    """Not inside a character as a reader sees it: never before a combining mark,
    a joiner, a variation selector or a skin-tone modifier, nor after a joiner."""
    ch = text[at]
    if text[at - 1] == _ZWJ or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return False
    return unicodedata.category(ch) not in ("Mn", "Mc", "Me", "Cf")


def _cut_near(text: str, at: int) -> int:
    """The first position from `at` on where `text` may be broken (or its end)."""
    while at < len(text) and not _may_break_before(text, at):
        at += 1
    return at


def _pieces(text: str, every: int) -> list[str]:
    """`text` in pieces of about `every` characters, cut where it may be broken."""
    pieces, start = [], 0
    while len(text) - start > every:
        cut = _cut_near(text, start + every)
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p for p in pieces if p]


def breakable(text: str) -> Markup:
    """`text`, escaped, with <wbr> inside runs too long for a line."""
    parts = []
    for i, chunk in enumerate(_LONG_RUN.split(text)):
        if i % 2:  # the long runs: split's captured group
            parts.append(Markup("<wbr>").join(escape(p) for p in _pieces(chunk, BREAK_EVERY)))
        else:
            parts.append(escape(chunk))
    return Markup("").join(parts)


def post_text(text: str | None) -> Markup:
    """A post's text for a page: all of it, the part beyond SHOWN_AT_ONCE
    characters behind a "show all" control."""
    text = text or ""
    if len(text) <= SHOWN_AT_ONCE:
        return breakable(text)
    cut = _cut_near(text, SHOWN_AT_ONCE)
    if cut == len(text):
        return breakable(text)
    rest = len(text) - cut
    return Markup(
        '{}<details class="more-text"><summary>Show the other {:,} characters</summary>{}</details>'
    ).format(breakable(text[:cut]), rest, breakable(text[cut:]))


def preview(text: str | None, length: int = PREVIEW) -> str:
    """A post's opening for a list row, the same from the page and from the API
    (the live queue fills its rows with it, so a row does not change at the first
    poll): its whitespace runs read as one space (twenty blank lines would make a
    row a screen tall), cut after a whole word near `length` characters, and lone
    surrogates as the escapes the page shows (`\\udc9f`, not U+FFFD)."""
    flat = " ".join((text or "").split())
    if len(flat) > length:
        end = length - 3
        # after a whole word; one long word, not inside a character as read
        head = flat[:end].rsplit(" ", 1)[0] if " " in flat[:end] else flat[: _cut_near(flat, end)]
        flat = head + "..."
    return flat.encode("utf-8", "backslashreplace").decode("utf-8")
