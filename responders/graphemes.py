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

_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cf"})
_MARK_CATEGORIES = frozenset({"Mn", "Me", "Mc"})
# Format characters that are not boundaries of their own (Cf is Control otherwise:
# a zero-width space or a direction mark stands alone, and a mark after it too).
_NOT_CONTROL = frozenset({0x200C, 0x200D})
# Letters that join the one before them like marks (Grapheme_Cluster_Break=SpacingMark):
# Thai SARA AM and Lao AM, so "กำ" is one character.
_SPACING_LETTERS = frozenset({0x0E33, 0x0EB3})
# Indic conjuncts (UAX #29 GB9c, Unicode 15.1): a consonant, a virama, a consonant of
# the same script are one character ("क्ष"). The scripts' blocks and their viramas.
_VIRAMA_SCRIPTS = {
    0x094D: (0x0900, 0x097F),  # Devanagari
    0x09CD: (0x0980, 0x09FF),  # Bengali
    0x0ACD: (0x0A80, 0x0AFF),  # Gujarati
    0x0B4D: (0x0B00, 0x0B7F),  # Oriya
    0x0C4D: (0x0C00, 0x0C7F),  # Telugu
    0x0D4D: (0x0D00, 0x0D7F),  # Malayalam
}


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
    if _extends(cp) or category in _MARK_CATEGORIES or cp in _SPACING_LETTERS:
        return "Extend"
    if category in _CONTROL_CATEGORIES and cp not in _NOT_CONTROL:
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


def _joined(before: str, after: str, odd_flags: bool, pictograph: bool) -> bool:
    """True when there is no character boundary between the two. `pictograph`: the
    character so far is an emoji (only then does a joiner glue the next one on)."""
    if before == "CR" and after == "LF":
        return True
    if before in ("Control", "CR", "LF") or after in ("Control", "CR", "LF"):
        return False
    if after in ("Extend", "ZWJ"):
        return True
    if after in _HANGUL_JOINS.get(before, ()):
        return True
    if before == "ZWJ" and after == "Symbol":
        return pictograph
    return before == "RI" and after == "RI" and odd_flags


def _is_consonant(cp: int, block: int) -> bool:
    """A consonant of the script whose block starts at `block`: the six scripts share
    ISCII's layout (KA at +0x15 to HA at +0x39, nukta forms at +0x58 to +0x5F).
    An independent vowel after a virama starts a character of its own ("क्अ")."""
    return block + 0x15 <= cp <= block + 0x39 or block + 0x58 <= cp <= block + 0x5F


def count_graphemes(text: str) -> int:
    """How many characters a reader sees in `text`."""
    count = 0
    before: str | None = None
    flags = 0  # regional indicators in a row so far
    pictograph = False  # the character so far started with an emoji
    linked: tuple[int, int] | None = None  # after a virama: its script's block
    for ch in text:
        kind = _kind(ch)
        conjunct = linked is not None and _is_consonant(ord(ch), linked[0])
        if before is None or not (conjunct or _joined(before, kind, flags % 2 == 1, pictograph)):
            count += 1
            pictograph = kind == "Symbol"
        flags = flags + 1 if kind == "RI" else 0
        # a virama links to the next consonant; marks between them keep the link
        linked = _VIRAMA_SCRIPTS.get(ord(ch)) or (linked if kind == "Extend" else None)
        before = kind
    return count
