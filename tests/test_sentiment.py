"""rules.sentiment: VADER's compound score, exactly, with lexicon additions on top."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

from rules.sentiment import Sentiment, base_lexicon

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# Words VADER's rules react to beyond its lexicon: negation, "but", "least", idioms.
HEURISTIC_WORDS = [
    *("no", "or", "nor", "never", "so", "this", "without", "doubt", "least", "at", "very"),
    *("kind", "of", "but", "the", "is", "isn't", "ok", "lol", "GREAT", "HORRIBLE"),
    *(":)", ":(", "!!!", "??", ",", ".", "😡", "😀", "❤️", "👍"),
]

HOSTILE = [
    "",
    "   \n\t ",
    "\x00\x00 bad \x00",
    "\ud800 lone surrogate \udfff",
    "\u202egood\u202c reversed",
    "<script>alert('x')</script> terrible",
    "😡😡😡",
    "x😡y❤️z 👍👍",
    "!!!!???!!!",
    "BUT but BuT",
    "no no no no",
    "kind of",
    "least",
]


@pytest.fixture(scope="module")
def vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@pytest.fixture(scope="module")
def sentiment() -> Sentiment:
    return Sentiment()


def _shared_texts() -> list[str]:
    texts = []
    airline = SHARED / "airline_tweets_dev.csv"
    if airline.exists():
        with airline.open(encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    # VADER's own rated tweets ship with the tests (MIT); the airline file is read
    # only where ../shared/data is present, as a larger check.
    truth = Path(__file__).parent / "data" / "sentiment" / "vader_tweets_groundtruth.tsv"
    if truth.exists():
        for line in truth.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                texts.append(parts[2])
    return texts


def _generated(n: int, seed: int) -> list[str]:
    """Sentences built from the words VADER's heuristics react to, in odd casing."""
    rng = random.Random(seed)
    lexicon = sorted(base_lexicon())
    vocab = (
        rng.sample(lexicon, 300)
        + list(BOOSTER_DICT)
        + list(NEGATE)
        + " ".join(SPECIAL_CASES).split()
        + HEURISTIC_WORDS
    )
    texts = []
    for _ in range(n):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 14))]
        words = [w.upper() if rng.random() < 0.15 else w for w in words]
        texts.append(rng.choice([" ", "  ", ", ", "! "]).join(words))
    return texts


def test_compound_equals_vader_on_real_tweets(
    vader: SentimentIntensityAnalyzer, sentiment: Sentiment
) -> None:
    texts = _shared_texts()
    assert len(texts) >= 4000
    different = [t for t in texts if sentiment.compound(t) != vader.polarity_scores(t)["compound"]]
    assert different == []


def test_compound_equals_vader_on_generated_edge_cases(
    vader: SentimentIntensityAnalyzer, sentiment: Sentiment
) -> None:
    texts = _generated(5000, seed=20261120)
    different = [t for t in texts if sentiment.compound(t) != vader.polarity_scores(t)["compound"]]
    assert different == []


@pytest.mark.parametrize("text", HOSTILE)
def test_compound_equals_vader_on_hostile_text(
    vader: SentimentIntensityAnalyzer, sentiment: Sentiment, text: str
) -> None:
    assert sentiment.compound(text) == vader.polarity_scores(text)["compound"]


def test_lexicon_addition_gives_a_word_its_valence(sentiment: Sentiment) -> None:
    assert sentiment.compound("another outage") == 0.0
    assert Sentiment({"outage": -2.0}).compound("another outage") < -0.3


def test_lexicon_addition_overrides_vaders_own_entry() -> None:
    assert Sentiment({"lol": 0.0}).compound("lol") == 0.0


def test_an_emoji_given_a_valence_is_read_as_itself(sentiment: Sentiment) -> None:
    # VADER reads "🔥" as its name, "fire" (negative): hype read as anger
    assert sentiment.compound("the new menu is 🔥") < 0
    hype = Sentiment({"🔥": 2.0})
    assert hype.compound("the new menu is 🔥") > 0.4
    assert hype.compound("🔥🔥🔥") > hype.compound("🔥") > 0
    assert hype.compound("the house is on fire") == sentiment.compound("the house is on fire")


def test_lexicon_additions_stay_in_their_own_instance(sentiment: Sentiment) -> None:
    Sentiment({"outage": -2.0, "great": -3.0})
    assert "outage" not in base_lexicon()
    assert sentiment.compound("great") > 0


def test_compound_stays_within_minus_one_and_one(sentiment: Sentiment) -> None:
    assert -1.0 <= sentiment.compound("HORRIBLE!!! " * 50) <= -0.99
    assert 0.99 <= sentiment.compound("love love love amazing!!!! " * 20) <= 1.0
