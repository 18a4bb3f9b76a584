"""Counting user-perceived characters (extended grapheme clusters), the unit of
Bluesky's 300-character limit.

The rules of Unicode's UAX #29 that matter for post text: CR LF is one character,
combining marks, variation selectors, emoji skin tones and tag characters join the
character before them, a zero-width joiner glues emoji into one (a family, a
profession), two regional indicators make one flag, and Hangul jamo combine into a
syllable. The standard library has no Extended_Pictographic property, so "emoji"
after a joiner is approximated by Unicode's symbol category (So), which is what
emoji are; a joiner between letters therefore still separates them, as it should.
"""

from __future__ import annotations

import unicodedata

_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_MARK_CATEGORIES = frozenset({"Mn", "Me", "Mc"})


def _extends(cp: int) -> bool:
    return (
        0xFE00 <= cp <= 0xFE0F  # variation selectors (emoji / text presentation)
        or 0xE0100 <= cp <= 0xE01EF  # variation selectors supplement
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or cp in (0x200C, 0xFF9E, 0xFF9F)  # ZWNJ, half-width sound marks
    )


def _hangul(cp: int) -> str | None:
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97F:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return None


def _kind(ch: str) -> str:
    cp = ord(ch)
    if ch == "\r":
        return "CR"
    if ch == "\n":
        return "LF"
    if ch == "\u200d":
        return "ZWJ"
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    category = unicodedata.category(ch)
    if _extends(cp) or category in _MARK_CATEGORIES:
        return "Extend"
    if category in _CONTROL_CATEGORIES:
        return "Control"
    hangul = _hangul(cp)
    if hangul:
        return hangul
    return "Symbol" if category == "So" else "Other"


_HANGUL_JOINS = {
    "L": frozenset({"L", "V", "LV", "LVT"}),
    "LV": frozenset({"V", "T"}),
    "V": frozenset({"V", "T"}),
    "LVT": frozenset({"T"}),
    "T": frozenset({"T"}),
}


def _joined(before: str, after: str, odd_flags: bool) -> bool:
    """True when there is no character boundary between the two."""
    if before == "CR" and after == "LF":
        return True
    if before in ("Control", "CR", "LF") or after in ("Control", "CR", "LF"):
        return False
    if after in ("Extend", "ZWJ"):
        return True
    if after in _HANGUL_JOINS.get(before, ()):
        return True
    if before == "ZWJ" and after == "Symbol":
        return True
    return before == "RI" and after == "RI" and odd_flags


def count_graphemes(text: str) -> int:
    """How many characters a reader sees in `text`."""
    count = 0
    before: str | None = None
    flags = 0  # regional indicators in a row so far
    for ch in text:
        kind = _kind(ch)
        if before is None or not _joined(before, kind, flags % 2 == 1):
            count += 1
        flags = flags + 1 if kind == "RI" else 0
        before = kind
    return count
