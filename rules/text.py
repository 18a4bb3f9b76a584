"""Post text as the rules see it: lowercased, apostrophes dropped, stretched
words squeezed, dressed-up letters made plain, handles and links set aside."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Apostrophes vanish ("can't" == "cant"), "@" stays (it marks handles), and every
# other ASCII character that is not a letter, digit, "_" or whitespace separates words.
_ASCII_WORDS = str.maketrans(
    {
        ch: (None if ch in "'`" else ch if ch.isalnum() or ch in "_@" or ch.isspace() else " ")
        for ch in map(chr, range(128))
    }
)
_APOSTROPHES = re.compile("['`\u2019\u2018\u02bc\u2032]")
_NON_WORD = re.compile(r"[^\w\s@]+")
URL = re.compile(r"\w+://\S+")
HANDLE = re.compile(r"(?<!\S)@\S+")
# Reddit names a user "u/name" or "/u/name": to phrases, the same as "@name".
REDDIT_USER = re.compile(r"(?<![\w/])/?u/(?=[\w-])")
# A word (not a handle or hashtag) with one letter three times or more in a row, and
# the cheap look that comes first (most posts have none): ASCII letters only.
_STRETCHED = re.compile(r"(?<![@#\w])[^\W\d_]*([^\W\d_])\1\1[^\W\d_]*", re.IGNORECASE)
MAYBE_STRETCHED = re.compile(r"([a-zA-Z])\1\1")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}", re.IGNORECASE)
_RUN2 = re.compile(r"([^\W\d_])\1+", re.IGNORECASE)


def unstretched(text: str, known: Callable[[str], bool]) -> str:
    """`text` with each stretched word that squeezes to a known word squeezed."""

    def squeeze(match: re.Match[str]) -> str:
        word = match.group(0)
        for form in (_RUN3.sub(r"\1\1", word), _RUN3.sub(r"\1", word), _RUN2.sub(r"\1", word)):
            if known(form.lower()):
                return form
        return word

    return _STRETCHED.sub(squeeze, text)


# Characters that show nothing but split a word for matching: "d\u200bown" is "down".
# The zero-width joiner stays: emoji sequences are made with it.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200e\u200f\u2060\ufeff"))
# Letters dressed up: fullwidth forms, the mathematical bold/italic/script/...
# alphabets "fancy text" generators use, and ligatures. Only these are normalised
# (NFKC): the rest of NFKC turns "Acme™" into "AcmeTM" and "ℹ️" into "i".
_DRESSED = re.compile("[\uff01-\uff5e\U0001d400-\U0001d7ff\ufb00-\ufb06]+")


def plain_letters(text: str) -> str:
    """The text as the rules read it: dressed-up letters as the letters they show
    and invisible characters out, so "𝐭𝐡𝐞 𝐚𝐩𝐩 𝐢𝐬 𝐝𝐨𝐰𝐧" is read as "the app is down"."""
    plain = _DRESSED.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return plain.translate(_INVISIBLE)


def to_words(lowered: str) -> str:
    """Lowercased text to space-separated words (rules/rulefile.py, "Phrases")."""
    if lowered.isascii():
        return lowered.translate(_ASCII_WORDS)
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", lowered))


def symbol_key(phrase: str) -> str:
    # A phrase with no word characters is matched as a substring: emoticons, emoji.
    return "".join(phrase.lower().split()).replace("\ufe0f", "")


def handle_key(token: str) -> str:
    # "@ana@mastodon.social", "@ana.bsky.social" and "@ana" are all "@ana" in text.
    return "@" + re.split(r"[@.]", token.lstrip("@").lower(), maxsplit=1)[0]


def straight_quotes(text: str) -> str:
    """The text regex conditions search: curly apostrophes made straight."""
    return _APOSTROPHES.sub("'", text) if not text.isascii() else text
