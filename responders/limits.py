"""How long a reply may be on each platform, checked when a person approves or edits
a draft, so an over-long reply is refused with a clear message instead of failing
at the platform."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from responders.addressing import addressed, mastodon_length
from responders.context import READ_ONLY_PLATFORMS
from responders.graphemes import count_graphemes


def _characters(text: str) -> int:
    return len(text)


# -- X's weighted length (twitter-text v3) ---------------------------------------------

# Code points that weigh 1; everything else (CJK, most symbols, emoji) weighs 2.
_X_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
# Every link counts as the 23 characters of its t.co form, whatever its length.
X_URL_WEIGHT = 23
# Links with a scheme, and bare domains on the top-level domains people type; an
# approximation of twitter-text's extractor, which knows every TLD. A link ends
# where twitter-text's does, at the first character it does not take in a URL
# (CJK text straight after a link is counted, two each); Latin and Cyrillic
# letters it takes.
_X_URL = re.compile(
    r"https?://[\x21-\x7e\u00a1-\u024f\u0400-\u04ff]+"
    r"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|net|org|io|co|info|biz|app|dev|ai|me|ly|tv|gg|xyz|shop|store|online|site)"
    r"\b(?::\d+)?(?:/[^\s]*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\""
# Where an emoji starts: pictographs and symbols, regional indicators (flags).
_EMOJI_START = (
    (0x1F000, 0x1FAFF),
    (0x2190, 0x21FF),
    (0x2300, 0x23FF),
    (0x2460, 0x24FF),
    (0x25A0, 0x27BF),
    (0x2900, 0x297F),
    (0x2B00, 0x2BFF),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
)
_KEYCAP_BASE = frozenset("0123456789#*")
_VS16, _ZWJ, _KEYCAP = "\ufe0f", "\u200d", "\u20e3"


def _in(ch: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_modifier(ch: str) -> bool:
    """What continues an emoji: variation selectors, skin tones, tags, keycap."""
    cp = ord(ch)
    return ch in "\ufe0e\ufe0f\u20e3" or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _emoji_end(text: str, i: int) -> int | None:
    """Where the emoji sequence starting at text[i] ends, or None if none starts."""
    ch = text[i]
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if ch in _KEYCAP_BASE or ch in "\u00a9\u00ae\u203c\u2049\u2122\u2139":
        # "1️⃣", "©️": light characters that only become emoji with a selector
        if nxt != _VS16 and nxt != _KEYCAP:
            return None
    elif not _in(ch, _EMOJI_START):
        return None
    if 0x1F1E6 <= ord(ch) <= 0x1F1FF:
        # a flag is a pair of regional indicators
        return i + 2 if nxt and 0x1F1E6 <= ord(nxt) <= 0x1F1FF else i + 1
    j = i + 1
    while j < len(text):
        if _is_modifier(text[j]):
            j += 1
        elif text[j] == _ZWJ and j + 1 < len(text) and _in(text[j + 1], _EMOJI_START):
            j += 2  # family, profession and other ZWJ sequences are one emoji
        else:
            break
    return j


def x_weighted_length(text: str) -> int:
    """A post's length as X counts it: links 23, emoji sequences 2, code points in
    the Latin, general punctuation and similar ranges 1, everything else 2."""
    text = unicodedata.normalize("NFC", text)
    length = 0
    rest = []
    last = 0
    for match in _X_URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        rest.append(text[last : match.start()])
        length += X_URL_WEIGHT
        last = match.start() + len(url)
    rest.append(text[last:])
    for chunk in rest:
        i = 0
        while i < len(chunk):
            end = _emoji_end(chunk, i)
            if end is not None:
                length += 2
                i = end
                continue
            length += 1 if _in(chunk[i], _X_LIGHT) else 2
            i += 1
    return length


# platform -> (maximum, how that platform counts, the unit's name)
LIMITS: dict[str, tuple[int, Callable[[str], int], str]] = {
    "x": (280, x_weighted_length, "weighted characters"),
    "reddit": (10_000, _characters, "characters"),
    "mastodon": (500, mastodon_length, "characters"),
    "bluesky": (300, count_graphemes, "graphemes"),
}


# app.bsky.feed.post's text: maxGraphemes 300 and maxLength 3000 (UTF-8 bytes).
BLUESKY_BYTES = 3000

# Control characters but newline and tab (a pasted terminal escape would be posted
# invisibly), lone surrogates (no UTF-8 can carry them; the platform refuses), and
# the bidi overrides U+202D/U+202E: pasted from a post, they make the brand's reply
# read otherwise than it shows in the editor ("evil" shown as "live"). Marks and
# isolates, which right-to-left writing uses, are fine.
_UNPOSTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202d\u202e]")


def as_posted(platform: str, body: str, author: str | None) -> str:
    """The reply as its platform will receive it: on Mastodon with the @mention of
    the post's author (`author`) when it does not name them."""
    return addressed(body, author) if platform == "mastodon" and author else body


# Characters that show nothing though str.isspace() says they are not space: format
# characters (zero-width space and joiners, soft hyphen, bidi marks), variation
# selectors, and the blank-looking fillers (Braille blank, Hangul fillers).
_BLANK_LOOKING = frozenset("\u2800\u3164\uffa0\u115f\u1160")


def _shows_nothing(body: str) -> bool:
    return all(
        ch.isspace()
        or ch in _BLANK_LOOKING
        or unicodedata.category(ch) in ("Cf", "Mn", "Me")
        or "\ufe00" <= ch <= "\ufe0f"
        for ch in body
    )


def reply_problem(platform: str, body: str, author: str | None = None) -> str | None:
    """Why this reply cannot be posted as it is, or None when it can. `author` is
    the handle of the post's author: on Mastodon the reply is posted starting with
    their @mention when it does not name them, and that counts too."""
    if _shows_nothing(body):
        return "the reply is empty" if not body.strip() else "the reply shows nothing"
    bad = _UNPOSTABLE.search(body)
    if bad is not None:
        ch = bad.group()
        what = (
            "a lone surrogate"
            if "\ud800" <= ch <= "\udfff"
            else "a direction override, which shows text reversed"
            if ch in "\u202d\u202e"
            else "a control character"
        )
        return (
            f"the reply holds {what} (U+{ord(ch):04X}) at character {bad.start() + 1}; take it out"
        )
    if platform in READ_ONLY_PLATFORMS:
        return f"{platform} is read-only: Earful cannot post there; use the callback task"
    limit = LIMITS.get(platform)
    if limit is None:
        return None
    maximum, count, unit = limit
    posted = as_posted(platform, body, author)
    length = count(posted)
    if length > maximum:
        mention = " with the @mention it is posted with" if posted != body else ""
        return f"the reply is {length} {unit}{mention}; {platform} allows {maximum}"
    if platform == "bluesky" and len(body.encode("utf-8")) > BLUESKY_BYTES:
        # the lexicon's second bound: 300 graphemes of family emoji are 7,500 bytes
        return (
            f"the reply is {len(body.encode('utf-8')):,} bytes of UTF-8; "
            f"bluesky allows {BLUESKY_BYTES:,}"
        )
    return None
