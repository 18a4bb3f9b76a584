"""How fast the whole pipeline is, against raw VADER on the same texts.

Pushes N generated mentions through dedupe, judge, respond and store (a fresh
SQLite file, pages of --batch like a source delivers them), and in the same run
times `SentimentIntensityAnalyzer.polarity_scores` alone on the same texts. The two
take turns every 2,000 texts (VADER on them, then the pipeline on their pages), so a
shared machine's slow and fast minutes fall on both alike and the ratio holds still
even when the rates do not. Turns are that long because VADER in a tight loop keeps
its caches warm: turns of one page (100 texts) slowed it by a quarter, which would
flatter the ratio. Prints both rates, peak memory, and as its last
line `ratio=<pipeline rate / VADER rate>`.

    python bench/pipeline.py [--n 100000] [--batch 100]
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argtypes import positive
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from earful.pipeline import Stages, judge_batch
from listener.mention import Author, Brand, Mention
from responders.context import ResponderSettings
from rules import load_ruleset
from storage.store import Store

BRAND = Brand("Acme", ("acme",), {"x": "AcmeHelp"})
TURN = 2_000  # texts VADER and the pipeline each take in one turn

# Fragments a generator combines into varied, tweet-sized posts: complaints of
# several causes, praise, questions, chatter and spam, in roughly real proportions.
COMPLAINTS = [
    "@AcmeHelp my internet has been down since {t}, {f}",
    "been on hold for {n} minutes with acme support. {f}",
    "acme charged me twice this month and still no refund {e}",
    "app down again? can't log in {e}",
    "where is my router?? order #{n} was due {d} @AcmeHelp",
    "thanks acme for nothing. third outage this week {e}",
    "I'm cancelling my acme account, switching to globex {f}",
    "@AcmeHelp the new update broke wifi calling on my phone",
    "acme price went up again by ${n} with zero warning. unreal",
    "speeds are {n}mbps on a 500 plan, what am I paying for @AcmeHelp",
]
PRAISE = [
    "shoutout to acme support, {name} fixed my connection in {n} minutes {e}",
    "love the new acme app, so much faster!",
    "@AcmeHelp thank you for sorting the bill so quickly, great service",
    "acme fiber is honestly the best thing in my flat {e}",
    "really impressed with how acme handled the outage updates today",
]
QUESTIONS = [
    "@AcmeHelp how do I change my plan to the {n} one?",
    "does acme cover {place} yet?",
    "anyone know if acme routers support wifi 6?",
]
CHATTER = [
    "watching the game at {place} tonight",
    "acme tower in {place} looks nice in the snow",
    "new blog post about home networking, link in bio",
    "lol ok",
]
SPAM = [
    "GIVEAWAY! follow + RT to win a free acme router, DM for promo code {n}",
    "earn ${n} a day with crypto, acme users click here",
]
MIX = [(COMPLAINTS, 0.5), (PRAISE, 0.17), (QUESTIONS, 0.1), (CHATTER, 0.18), (SPAM, 0.05)]
FEELINGS = ["absolutely furious", "so tired of this", "not impressed", "again!!", "ugh", ""]
EMOJI = ["😡", "🙄", "😤", "🔥", "❤️", "👏", ":(", ":)", ""]
PLACES = ["Leeds", "Porto", "Austin", "Kraków", "Osaka", "Lyon"]
NAMES = ["Priya", "Tom", "Ines", "Kenji", "Maya"]


def generate_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pools, weights = zip(*MIX, strict=True)
    texts = []
    for _ in range(n):
        pool = rng.choices(pools, weights)[0]
        text = rng.choice(pool).format(
            t=f"{rng.randint(1, 12)}{rng.choice(['am', 'pm'])}",
            f=rng.choice(FEELINGS),
            e=rng.choice(EMOJI),
            n=rng.randint(2, 9999),
            d=rng.choice(["monday", "last week", "yesterday"]),
            place=rng.choice(PLACES),
            name=rng.choice(NAMES),
        )
        texts.append(text)
    return texts


def mentions_for(texts: list[str], start: int, seed: int = 11) -> Iterator[Mention]:
    rng = random.Random(seed + start)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for offset, text in enumerate(texts):
        i = start + offset
        handle = f"user{rng.randint(1, 40_000)}"
        yield Mention(
            platform="x",
            native_id=str(10**18 + i),
            text=text,
            author=Author(handle=handle, name=handle.title(), followers=rng.randint(0, 200_000)),
            url=f"https://x.com/{handle}/status/{10**18 + i}",
            created_at=base + timedelta(seconds=i),
            lang="en",
            likes=rng.randint(0, 50),
            reposts=rng.randint(0, 10),
            replies=rng.randint(0, 5),
            conversation_id=str(10**18 + i),
            raw={"id": str(10**18 + i), "text": text, "author_id": handle},
        )


@dataclass(frozen=True)
class Timings:
    vader: float  # seconds, all texts
    judging: float  # dedupe, judge and respond
    storing: float  # Store.ingest: one transaction a page


def time_both(texts: list[str], batch: int, db: Path) -> tuple[Timings, dict[str, int]]:
    """How long VADER and the pipeline's two halves took; what the pipeline stored."""
    analyzer = SentimentIntensityAnalyzer()
    stages = Stages(load_ruleset(brand=BRAND), ResponderSettings(brand=BRAND))
    vader = judging = storing = 0.0
    totals = {"stored": 0, "replies": 0, "callbacks": 0, "alerts": 0}
    turn = max(batch, TURN)
    with Store.open(db) as store:
        for first in range(0, len(texts), turn):
            started = time.perf_counter()
            for text in texts[first : first + turn]:
                analyzer.polarity_scores(text)
            vader += time.perf_counter() - started
            for start in range(first, min(first + turn, len(texts)), batch):
                # Building Mention objects is the source's work, not the pipeline's.
                page = list(mentions_for(texts[start : start + batch], start))
                started = time.perf_counter()
                judged = judge_batch(page, store, stages)
                judged_at = time.perf_counter()
                result = store.ingest("bench", judged, {"offset": start + len(page)})
                judging += judged_at - started
                storing += time.perf_counter() - judged_at
                for key in totals:
                    totals[key] += getattr(result, key)
    return Timings(vader, judging, storing), totals


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=positive, default=100_000, help="mentions (default 100000)")
    parser.add_argument(
        "--batch", type=positive, default=100, help="mentions per page (default 100)"
    )
    args = parser.parse_args(argv)

    texts = generate_texts(args.n)
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        timings, totals = time_both(texts, args.batch, Path(tmp) / "bench.db")
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    vader_rate = args.n / timings.vader
    pipeline_rate = args.n / (timings.judging + timings.storing)
    print(f"vader     {vader_rate:10,.0f} mentions/s  (polarity_scores alone, {args.n:,} texts)")
    print(
        f"pipeline  {pipeline_rate:10,.0f} mentions/s  (dedupe+judge+respond+store, "
        f"pages of {args.batch})"
    )
    print(
        f"stored {totals['stored']:,} mentions, {totals['replies']:,} replies, "
        f"{totals['callbacks']:,} callbacks, {totals['alerts']:,} alerts; "
        f"database {size_mb:.0f} MB"
    )
    per_mention = {k: v / args.n * 1e6 for k, v in vars(timings).items()}
    print(
        f"per mention: dedupe+judge+respond {per_mention['judging']:.0f} us, "
        f"store {per_mention['storing']:.0f} us; VADER alone {per_mention['vader']:.0f} us"
    )
    print(f"peak memory {peak_rss_mb():.0f} MB (RSS)")
    print(f"ratio={pipeline_rate / vader_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
