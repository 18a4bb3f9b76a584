"""VADER's compound score, with a rule set's lexicon layered on top.

VADER (vaderSentiment) scores English social-media text from a lexicon of word
valences plus heuristics for negation, boosters, capitals, "but" and punctuation.
A rule set's [lexicon] table adds or overrides single-word entries (complaint words
VADER lacks, such as "outage"), and may give an emoji a valence of its own (read as
itself instead of as VADER's description of it); everything else is VADER's: its lexicon, emoji
table, booster and negation words, special cases and constants are read from the
vaderSentiment package.

`Sentiment.compound(text)` equals `SentimentIntensityAnalyzer(...).polarity_scores(
text)["compound"]` for the same lexicon, bit for bit; tests/test_sentiment.py holds
it to that on thousands of real tweets and generated edge cases. It is the same
algorithm, walked about three times faster, because judging every post calls it and
the whole pipeline is measured against bare `polarity_scores`:
- VADER lowercases the whole post again for each sentiment word it meets (several
  times: negation, idioms); here each word is lowercased once;
- its negation test copies a 60-word list per call; here it is one set lookup;
- its character-by-character emoji pass runs only when the text holds an emoji;
- it stops at the compound score instead of also computing the pos/neg/neu shares.
The rare "but" case reuses VADER's own code, quirks included.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    normalize,
    scalar_inc_dec,
)

# Valences in VADER's lexicon run from -4 (most negative) to +4.
VALENCE_MIN = -4.0
VALENCE_MAX = 4.0

_NEGATE = frozenset(NEGATE)
_PUNCTUATION = string.punctuation


@cache
def _stock() -> SentimentIntensityAnalyzer:
    # Reading VADER's lexicon files takes a few milliseconds: once per process.
    return SentimentIntensityAnalyzer()


@cache
def _emoji_chars() -> frozenset[str]:
    # VADER's loop looks at one character at a time, so only one-character keys of
    # its emoji table can ever match; the longer ones are dead entries.
    return frozenset(e for e in _stock().emojis if len(e) == 1)


def base_lexicon() -> Mapping[str, float]:
    """VADER's own lexicon, read-only: word -> valence."""
    return MappingProxyType(_stock().lexicon)


def _negated(word: str) -> bool:
    # vaderSentiment.negated([word]) for one lowercase word
    return word in _NEGATE or "n't" in word


class Sentiment:
    """VADER with extra lexicon entries. Immutable after construction; safe to share."""

    __slots__ = ("_emoji_chars", "_emojis", "_lexicon")

    def __init__(self, additions: Mapping[str, float] | None = None) -> None:
        stock = _stock()
        self._lexicon = {**stock.lexicon, **(additions or {})}
        # An emoji given a valence of its own is read as itself, not as the words
        # VADER describes it with: "🔥" is praise in a post about a brand, "fire" is not.
        own = {e: e for e in additions or {} if e in stock.emojis}
        self._emojis = {**stock.emojis, **own} if own else stock.emojis
        self._emoji_chars = _emoji_chars()

    def knows(self, word: str) -> bool:
        """Whether VADER reads this lowercase word: a lexicon word, a booster ("so",
        "very") or a negation ("never")."""
        return word in self._lexicon or word in BOOSTER_DICT or word in _NEGATE

    def compound(self, text: str) -> float:
        """VADER's compound score of `text`, -1..1, rounded to 4 places as VADER does."""
        if not text.isascii() and not self._emoji_chars.isdisjoint(text):
            text = self._with_emoji_described(text)
        text = text.strip()
        # SentiText: split on whitespace, strip punctuation unless that leaves <= 2
        # characters (emoticons such as ":)" survive).
        words = [w if len(s := w.strip(_PUNCTUATION)) <= 2 else s for w in text.split()]
        if not words:
            return 0.0
        lows = [w.lower() for w in words]
        lexicon = self._lexicon
        last = len(words) - 1
        capitals = sum(map(str.isupper, words))
        cap_diff = 0 < len(words) - capitals < len(words)
        # Words outside the lexicon, boosters and "kind of" carry nothing: VADER
        # appends 0 for each; only lexicon words need the full treatment.
        sentiments: list[float] = [0] * len(words)
        for i in [i for i, low in enumerate(lows) if low in lexicon]:
            low = lows[i]
            if low in BOOSTER_DICT or (low == "kind" and i < last and lows[i + 1] == "of"):
                continue
            sentiments[i] = self._valence(words, lows, i, cap_diff)
        if "but" in lows:
            sentiments = SentimentIntensityAnalyzer._but_check(words, sentiments)
        total = float(sum(sentiments))
        emphasis = _punctuation_emphasis(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return round(float(normalize(total)), 4)

    def _valence(self, words: list[str], lows: list[str], i: int, cap_diff: bool) -> float:
        # SentimentIntensityAnalyzer.sentiment_valence for a lexicon word
        lexicon = self._lexicon
        low = lows[i]
        valence = lexicon[low]
        if low == "no" and i != len(lows) - 1 and lows[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lows[i - 1] == "no")
            or (i > 1 and lows[i - 2] == "no")
            or (i > 2 and lows[i - 3] == "no" and lows[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[low] * N_SCALAR
        if cap_diff and words[i].isupper():
            if valence > 0:
                valence += C_INCR
            else:
                valence -= C_INCR
        for start_i in range(3):
            j = i - (start_i + 1)
            if i > start_i and lows[j] not in lexicon:
                # scalar_inc_dec is 0.0 unless the word is a booster
                s = scalar_inc_dec(words[j], valence, cap_diff) if lows[j] in BOOSTER_DICT else 0.0
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lows, start_i, i)
                if start_i == 2:
                    valence = _special_idioms_check(valence, lows, i)
        return _least_check(valence, lows, i, lexicon)

    def _with_emoji_described(self, text: str) -> str:
        # VADER's own pass, verbatim: each emoji becomes its description, with a
        # space before it unless the previous character was a space, none after.
        emojis = self._emojis
        out = []
        prev_space = True
        for ch in text:
            description = emojis.get(ch)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out)


def _punctuation_emphasis(text: str) -> float:
    # SentimentIntensityAnalyzer._punctuation_emphasis: up to four "!", and "?" only
    # when there are two or more.
    ep_count = text.count("!")
    if ep_count > 4:
        ep_count = 4
    qm_count = text.count("?")
    qm_amplifier: float = 0
    if qm_count > 1:
        qm_amplifier = qm_count * 0.18 if qm_count <= 3 else 0.96
    return ep_count * 0.292 + qm_amplifier


def _negation_check(valence: float, lows: list[str], start_i: int, i: int) -> float:
    # SentimentIntensityAnalyzer._negation_check on pre-lowercased words
    if start_i == 0:
        if _negated(lows[i - 1]):
            valence = valence * N_SCALAR
    elif start_i == 1:
        if lows[i - 2] == "never" and (lows[i - 1] == "so" or lows[i - 1] == "this"):
            valence = valence * 1.25
        elif lows[i - 2] == "without" and lows[i - 1] == "doubt":
            pass
        elif _negated(lows[i - 2]):
            valence = valence * N_SCALAR
    else:
        # VADER's precedence, kept: ("never" and "so"/"this" before) or "so"/"this" right before
        if (lows[i - 3] == "never" and (lows[i - 2] == "so" or lows[i - 2] == "this")) or (
            lows[i - 1] == "so" or lows[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lows[i - 3] == "without" and (lows[i - 2] == "doubt" or lows[i - 1] == "doubt"):
            pass
        elif _negated(lows[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lows: list[str], i: int) -> float:
    # SentimentIntensityAnalyzer._special_idioms_check on pre-lowercased words
    onezero = f"{lows[i - 1]} {lows[i]}"
    twoonezero = f"{lows[i - 2]} {lows[i - 1]} {lows[i]}"
    twoone = f"{lows[i - 2]} {lows[i - 1]}"
    threetwoone = f"{lows[i - 3]} {lows[i - 2]} {lows[i - 1]}"
    threetwo = f"{lows[i - 3]} {lows[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lows) - 1 > i:
        zeroone = f"{lows[i]} {lows[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lows) - 1 > i + 1:
        zeroonetwo = f"{lows[i]} {lows[i + 1]} {lows[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence: float, lows: list[str], i: int, lexicon: Mapping[str, float]) -> float:
    # SentimentIntensityAnalyzer._least_check on pre-lowercased words
    if i > 1 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        if lows[i - 2] != "at" and lows[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence
