"""A rule set compiled, and a post judged with it: load, compile, judge.

rules/rulefile.py reads and checks the files (the language is described there).

Rules run in file order (a rule replaced by a later file keeps its place; new rules
are appended), so `has_label` sees labels of rules above it. The verdict:
- `compound` is VADER's score; `score` is compound plus the fired rules' `score`,
  clamped to -1..1.
- `disposition`: from the fired rule with the highest priority that sets one (ties:
  the later rule). If none does: a post phrased as a question that scores above
  `clearly_negative` (and below `clearly_positive`, when set) is `question`;
  otherwise the score's cut-offs decide, where a score at least `good_at_least`
  but below `praise_at_least` (when set) is `ignore`, or `question` when phrased
  as one: mild warmth with no praise cue is not a thank-you. The brand's own posts are always
  `ignore`, and no rule runs on them.
- `topic` and `segment`: each from the fired rule with the highest priority that
  sets one; ties go to the later rule, like disposition, so a file added after
  the default one wins ties. With `topic_by = "votes"`, when the fired rules name
  more than one topic, each of them votes for its topic once per phrase of its
  own that the post contains (a phrase inside a longer one it matched counts
  once; a rule that fired on no phrase votes once), and the topic with the most
  votes wins; ties as above. A post that says "charged", "refund" and "fee" is
  about billing, even when a higher rule caught "on hold" on the way. A complaint
  no rule gave a topic gets `settings.complaint_topic` when it is set.
- `labels` and `actions`: the union over fired rules, in firing order.
- `urgency`: the disposition's base from [settings.urgency] plus the fired rules'
  points, plus up to 10 for a complaint written with capitals, stretched words
  and "!" (see `_intensity`), clamped to 0..100.
- `interest`: 0..100 from the score (and that intensity), the author's reach and
  the post's engagement (see `_interest` for the formula and why).
- `lang`: the platform's language tag, else a guess (rules/language.py). A post in
  another language is labeled `non_english`; if no rule decided its disposition,
  the English lexicon's reading is not trusted: it becomes a `question` labeled
  `needs_person`, for a person who reads the language.
- VADER scores the text without its @handles: "@united" is a name, not the word.
- Stretched words ("sooo goooood", "Awwweesssooome") are read as the word they
  stretch, for VADER and for phrases, when squeezing a run of three or more
  letters to two, to one, or every double to one gives a word VADER or a rule
  knows; the stretching itself still counts as intensity. Only posts with an ASCII
  letter three times in a row are looked at (a cheap first test).
- `reasons`: VADER's compound first, then every fired rule in order with what
  matched and its weight (its score adjustment, else its urgency points), then
  `topic` (the votes, when topics were voted on), `language`, the cut-off that
  decided when no rule did, `complaint_topic`, and `intensity`, each when it
  applies.
- "Phrased as a question": a "?" outside links, or an opening like "how", "why"
  (not "why thank you"), "does", "anyone", "can you", "is there", "any update".

Speed: judging runs once per post, next to one VADER call, so it must cost little.
At load, every phrase of every rule goes into one index: one-word phrases in a set,
longer ones under their first two words, symbol phrases as substrings. Judging a
post lowercases and splits it once, finds all its phrases with two set
intersections, and evaluates only the candidate rules: those one of whose phrases
occurred, those waiting for a label an earlier rule just set, those asking for a
question when the post is one, and the few with no such trigger. Candidates are
bits of an int, visited in file order. A `regex` is the one per-rule scan: it runs
last among a rule's conditions, so give a regex rule an `any` as well when you can.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from listener.mention import Author, Brand, Mention
from rules.evaluate import CLASS_OF
from rules.language import language_of
from rules.learned import Model, ModelError, features
from rules.learned import from_json as load_model_json
from rules.rulefile import (
    RESERVED_LISTS,
    Effects,
    Example,
    ExampleFailure,
    Rule,
    RuleError,
    RuleExampleFailed,
    RuleFileUnreadable,
    Settings,
    clipped,
    described,
    did_you_mean,
    parse_file,
    quoted,
)
from rules.sentiment import Sentiment
from rules.text import (
    HANDLE,
    MAYBE_STRETCHED,
    REDDIT_USER,
    URL,
    handle_key,
    plain_letters,
    straight_quotes,
    symbol_key,
    to_words,
    unstretched,
)
from rules.verdict import Disposition, Reason, Verdict


@dataclass(frozen=True, eq=False)
class Ruleset:
    """A compiled, immutable rule set. Build it with `load_ruleset`, use it with `judge`."""

    brand: Brand
    files: tuple[str, ...]
    names: tuple[str, ...]
    rules: tuple[Rule, ...]
    settings: Settings
    lexicon: Mapping[str, float]  # additions to VADER's lexicon
    lists: Mapping[str, tuple[str, ...]]
    examples: tuple[Example, ...]
    _engine: _Engine = field(repr=False)
    model: Model | None = None  # the learned layer (`earful train`), when configured


# A shipped rule file is named by a bare name: "default" is rules/default.toml.
_SHIPPED = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Openings that make a post a question even without "?": a word, or a word and the
# next one ("when" alone is as often "when I called, they hung up").
_QUESTION_OPENERS = frozenset(
    ["how", "hows", "why", "whys", "whats", "wheres", "whos", "anyone", "anybody", "does", "did"]
)
_AFTER_WHY_EXCLAIMED = frozenset(["thank", "thanks"])
_QUESTION_PAIRS: Mapping[str, frozenset[str]] = {
    first: frozenset(seconds.split())
    for first, seconds in {
        "what": "is are do does time happened",
        "where": "is are can do does",
        "when": "is will does do can",
        "who": "is do can",
        "which": "one",
        "can": "i you u we someone anyone",
        "could": "you someone i",
        "do": "you u i we they",
        "will": "you there it",
        "would": "you",
        "should": "i",
        "is": "there it this anyone the my",
        "are": "you there the we",
        "any": "update updates news idea ideas word eta",
    }.items()
}


# -- compiling ------------------------------------------------------------------------


class _Post:
    """What rule conditions look at, for one post."""

    __slots__ = ("author", "compound", "hits", "labels", "mention", "question", "text", "words")

    def __init__(
        self,
        mention: Mention,
        author: Author,
        text: str,
        hits: set[str],
        words: list[str],
        compound: float,
        question: bool,
    ) -> None:
        self.mention = mention
        self.author = author
        self.text = text
        self.hits = hits
        self.words = words
        self.compound = compound
        self.question = question
        self.labels: set[str] = set()


Check = Callable[[_Post], bool]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule ready to run: its checks, cheap ones first, and its effects, flat."""

    bit: int  # 1 << its position in the rule set
    priority: int
    checks: tuple[Check, ...]
    disposition: Disposition | None
    score: float
    labels: tuple[str, ...]
    topic: str | None
    urgency: int
    segment: str | None
    actions: tuple[str, ...]
    reason: Reason  # when no phrase picked it
    by_key: dict[str, tuple[int, Reason]]  # trigger phrase -> (rank, reason); never changed
    # How it becomes a candidate: by one of these phrases, a label set by an
    # earlier rule, a post phrased as a question, or on every post.
    trigger_keys: tuple[str, ...] = ()
    trigger_label: str | None = None
    trigger_question: bool = False
    wakes: int = 0  # bits of the later rules waiting for a label this rule sets


class _Phrases:
    """Every phrase of a rule set, compiled into one index: single words in a set,
    longer phrases by their first two words, symbol phrases as substrings."""

    def __init__(self, skip: frozenset[str]) -> None:
        self.skip = skip  # the brand's own words: not part of multi-word phrases
        self.singles: set[str] = set()
        # (first, second word) -> [(key, " key " for phrases of 3+ words, else None)]
        self.pairs: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        self.symbols: set[str] = set()

    def add(self, phrase: str) -> str:
        """Register a phrase; its key is what `hits` will hold when it occurs."""
        stripped = phrase.strip()
        if stripped.startswith("@") and len(stripped.split()) == 1:
            key = handle_key(stripped)  # "@ana@mastodon.social" is "@ana" in text
            self.singles.add(key)
            return key
        tokens = to_words(phrase.lower()).split()
        if not tokens:
            key = symbol_key(phrase)
            self.symbols.add(key)
            return key
        tokens = [handle_key(t) if t.startswith("@") else t for t in tokens]
        if len(tokens) > 1:
            kept = [t for t in tokens if t not in self.skip and not t.startswith("@")]
            tokens = kept or tokens
        if len(tokens) == 1:
            self.singles.add(tokens[0])
            return tokens[0]
        key = " ".join(tokens)
        entries = self.pairs.setdefault((tokens[0], tokens[1]), [])
        if all(k != key for k, _ in entries):
            entries.append((key, f" {key} " if len(tokens) > 2 else None))
        return key


class _Engine:
    """A compiled rule set. Judging a post: one VADER call, one pass over its words,
    then only the rules a phrase, label or question made candidates, in order.
    Candidates are bits of an int: cheap to union, iterated lowest (first) rule first."""

    __slots__ = (
        "_always",
        "_bad",
        "_base",
        "_complaint_reason",
        "_complaint_topic",
        "_cutoffs",
        "_good",
        "_lukewarm",
        "_max_chars",
        "_model",
        "_own",
        "_pair_keys",
        "_pairs",
        "_praise",
        "_question_ceiling",
        "_question_floor",
        "_question_rules",
        "_rules",
        "_sentiment",
        "_singles",
        "_skip",
        "_skipped_singles",
        "_symbols_ascii",
        "_symbols_other",
        "_topic_votes",
        "_triggers",
        "_unskipped",
    )

    def __init__(
        self,
        rules: Sequence[Rule],
        settings: Settings,
        lexicon: Mapping[str, float],
        lists: Mapping[str, tuple[str, ...]],
        brand: Brand,
    ) -> None:
        self._sentiment = Sentiment(lexicon)
        self._model: Model | None = None  # set by with_model on a copy, after the examples
        self._max_chars = settings.max_chars
        self._bad = settings.bad_at_most
        self._good = settings.good_at_least
        praise = settings.praise_at_least
        self._praise = settings.good_at_least if praise is None else praise
        self._lukewarm = _lukewarm_reasons(settings)
        self._question_floor = settings.clearly_negative
        ceiling = settings.clearly_positive
        self._question_ceiling = 2.0 if ceiling is None else ceiling  # scores stop at 1
        self._complaint_topic = settings.complaint_topic
        self._topic_votes = settings.topic_by == "votes"
        self._complaint_reason: Reason | None = None
        if settings.complaint_topic is not None:
            self._complaint_reason = Reason(
                "complaint_topic",
                f"no cue named a cause; a complaint's topic defaults to {settings.complaint_topic}",
            )
        self._base = dict(settings.urgency)
        self._cutoffs = _cutoff_reasons(settings)
        # The same test as Brand.is_own, prepared once.
        self._own = {p: h.lstrip("@").casefold() for p, h in brand.handles.items() if h}
        self._skip = _brand_words(brand)
        phrases = _Phrases(self._skip)
        all_lists = {**lists, "brand": _brand_items(brand)}
        problems: list[str] = []
        built: list[_Compiled] = []
        for rule in (r for r in rules if r.enabled):
            item = _compile_rule(rule, 1 << len(built), phrases, all_lists, problems)
            if item is not None:
                built.append(item)
        if problems:
            raise RuleError(problems)

        waiting: dict[str, int] = {}  # label -> bits of rules gated on it
        for item in built:
            if item.trigger_label is not None:
                waiting[item.trigger_label] = waiting.get(item.trigger_label, 0) | item.bit
        compiled = []
        triggers: dict[str, int] = {}
        always = question_rules = 0
        for item in built:
            wakes = 0
            for label in item.labels:
                wakes |= waiting.get(label, 0)
            wakes &= ~((item.bit << 1) - 1)  # only rules below this one can see its labels
            compiled.append(replace(item, wakes=wakes))
            for key in item.trigger_keys:
                triggers[key] = triggers.get(key, 0) | item.bit
            if item.trigger_question:
                question_rules |= item.bit
            elif not item.trigger_keys and item.trigger_label is None:
                always |= item.bit
        self._rules = {item.bit: item for item in compiled}
        self._triggers = triggers
        self._always = always
        self._question_rules = question_rules

        skipped_singles = {k for k in phrases.singles if k.startswith("@") or k in self._skip}
        # Sets, not frozensets: their intersection is a set that can take more hits.
        self._singles = phrases.singles - skipped_singles
        self._skipped_singles = skipped_singles
        self._pairs = {k: tuple(v) for k, v in phrases.pairs.items()}
        self._pair_keys = frozenset(phrases.pairs)
        # What multi-word phrases skip in the text: @handles and the brand's own words.
        skipped = ["@\\S*", *(re.escape(w) for w in sorted(self._skip))]
        self._unskipped = re.compile(r"(?<!\S)(?:" + "|".join(skipped) + r")(?!\S)").sub
        self._symbols_ascii = tuple(sorted(k for k in phrases.symbols if k.isascii()))
        self._symbols_other = tuple(sorted(k for k in phrases.symbols if not k.isascii()))

    def judge(self, mention: Mention, learn: list[str] | None = None) -> Verdict:
        """`learn`, when given, receives the model's features of the post and the
        model is not asked: training sees exactly what deciding will."""
        text = mention.text if isinstance(mention.text, str) else ""
        author = mention.author if isinstance(mention.author, Author) else _NOBODY
        truncated = len(text) > self._max_chars
        if truncated:
            text = text[: self._max_chars]
        if not text.isascii():
            text = plain_letters(text)[: self._max_chars]
        # @handles are names, not words: "@united" or "@happyhomes" must not read
        # as praise to VADER, which would strip the "@" and score the word.
        # "goooood" is "good" to VADER and to phrases; post.text keeps the stretch,
        # which is intensity
        read = unstretched(text, self._knows) if MAYBE_STRETCHED.search(text) else text
        compound = self._sentiment.compound(HANDLE.sub("", read) if "@" in read else read)
        vader = Reason("vader", f"compound {compound:+.3f}", compound)
        own = self._own.get(mention.platform)
        if own is not None and author.handle and author.handle.lstrip("@").casefold() == own:
            return Verdict(
                disposition=Disposition.IGNORE,
                compound=compound,
                score=compound,
                reasons=(vader, Reason("own_post", f"posted by the brand's own @{author.handle}")),
                lang=mention.lang,
            )

        hits, words = self._phrases_in(read)
        question = _is_question(text, words)
        candidates = self._always
        if hits:
            triggers = self._triggers
            for key in hits:
                candidates |= triggers.get(key, 0)
        if question:
            candidates |= self._question_rules

        post = _Post(mention, author, text, hits, words, compound, question)
        rules = self._rules
        seen = post.labels
        fired = []
        while candidates:
            bit = candidates & -candidates
            candidates ^= bit
            rule = rules[bit]
            for check in rule.checks:
                if not check(post):
                    break
            else:
                fired.append(rule)
                if rule.labels:
                    seen.update(rule.labels)
                    candidates |= rule.wakes
        return self._verdict(mention, author, post, fired, vader, truncated, learn)

    def _knows(self, word: str) -> bool:
        """A word VADER scores or a one-word phrase of a rule (lowercase)."""
        return word in self._singles or self._sentiment.knows(word)

    def _phrases_in(self, text: str) -> tuple[set[str], list[str]]:
        """The keys of every phrase that occurs, and the words multi-word phrases see."""
        lowered = text.lower()
        if "u/" in lowered:
            lowered = REDDIT_USER.sub("@", lowered)
        normalized = to_words(lowered)
        # Multi-word phrases skip @handles and the brand's own words; one-word
        # phrases naming those (rare: the `brand` list) are looked up separately.
        if "@" in normalized or self._skip:
            words = self._unskipped(" ", normalized).split()
        else:
            words = normalized.split()
        hits = self._singles.intersection(words)
        if self._skipped_singles:
            hits.update(self._skipped_singles.intersection(normalized.split()))
            if "@" in normalized:
                handles = map(handle_key, HANDLE.findall(normalized))
                hits.update(self._skipped_singles.intersection(handles))
        # Longer phrases: look up each pair of neighbouring words.
        if len(words) > 1:
            pairs = self._pairs
            joined = None
            for pair in self._pair_keys.intersection(itertools.pairwise(words)):
                for key, padded in pairs[pair]:
                    if padded is None:
                        hits.add(key)
                        continue
                    # Three words or more: the whole phrase, between spaces.
                    if joined is None:
                        joined = " " + " ".join(words) + " "
                    if padded in joined:
                        hits.add(key)
        for symbol in self._symbols_ascii:
            if symbol in lowered:
                hits.add(symbol)
        if self._symbols_other and not lowered.isascii():
            for symbol in self._symbols_other:
                if symbol in lowered:
                    hits.add(symbol)
        return hits, words

    def _verdict(
        self,
        mention: Mention,
        author: Author,
        post: _Post,
        fired: list[_Compiled],
        vader: Reason,
        truncated: bool,
        learn: list[str] | None = None,
    ) -> Verdict:
        compound = post.compound
        score = compound
        points = 0
        disposition = topic = segment = None
        d_rank = t_rank = s_rank = 0
        labels: list[str] = []
        actions: list[str] = []
        reasons = [vader]
        if truncated:
            reasons.append(Reason("truncated", f"judged the first {self._max_chars} characters"))
        hits = post.hits
        named: list[_Compiled] = []  # the fired rules that name a topic
        for rule in fired:
            score += rule.score
            points += rule.urgency
            priority = rule.priority
            # `>=` because rules fire in order: on equal priority the later one wins.
            if rule.disposition is not None and (disposition is None or priority >= d_rank):
                disposition, d_rank = rule.disposition, priority
            if rule.topic is not None:
                if topic is None or priority >= t_rank:
                    topic, t_rank = rule.topic, priority
                named.append(rule)
            if rule.segment is not None and (segment is None or priority >= s_rank):
                segment, s_rank = rule.segment, priority
            if rule.labels:
                labels.extend(rule.labels)
            if rule.actions:
                actions.extend(rule.actions)
            reasons.append(_reason(rule, hits) if rule.by_key else rule.reason)
        if self._topic_votes and len(named) > 1 and any(r.topic != topic for r in named):
            topic, said = _topic_by_votes(named, hits)
            reasons.append(said)
        score = -1.0 if score < -1.0 else 1.0 if score > 1.0 else score
        lang = language_of(post.text, mention.lang)
        if lang is not None and lang != "en":
            labels.append("non_english")
            if disposition is None:
                # No rule's phrase matched, and a score from the odd English word
                # or emoji in it ("Super" said sarcastically in German) is a guess
                # made in the wrong language. A person decides.
                disposition = Disposition.QUESTION
                labels.append("needs_person")
                reasons.append(
                    Reason(
                        "language",
                        f"written in {lang}; no rule matched and the English lexicon reads "
                        f"only {score:+.2f} from it: a person who reads it should decide",
                    )
                )
            else:
                reasons.append(
                    Reason("language", f"written in {lang}; judged by the rule that matched")
                )
        if disposition is None:
            cutoffs = self._cutoffs
            if post.question and self._question_floor < score < self._question_ceiling:
                disposition = Disposition.QUESTION
            elif score <= self._bad:
                disposition = Disposition.INTERESTING_BAD
            elif score >= self._praise:
                disposition = Disposition.INTERESTING_GOOD
            elif score >= self._good:
                # Warm words and no praise cue: a request, news, politeness, sarcasm.
                disposition = Disposition.QUESTION if post.question else Disposition.IGNORE
                cutoffs = self._lukewarm
            else:
                disposition = Disposition.IGNORE
            reasons.append(cutoffs[disposition])
        model = self._model
        if (model is not None or learn is not None) and not (
            "no_reply" in actions or "needs_person" in labels
        ):
            # Spam, and posts in a language the rules handed to a person, are the
            # rules' to decide; everything else the model may re-decide.
            names = features(
                post.text,
                (r.rule[5:] for r in reasons if r.rule.startswith("rule:")),
                disposition.value,
                score,
                compound,
                topic,
            )
            if learn is not None:
                learn.extend(names)
            elif model is not None:
                disposition, topic, overruled = _learned(
                    model, names, disposition, topic, post, reasons
                )
                if overruled:
                    labels.append("by_model")
                    if disposition is not Disposition.INTERESTING_BAD:
                        # The rules' urgency points were for the complaint the
                        # model overruled; a rule's `escalate` action still stands.
                        points = 0
        fallback = self._complaint_reason
        if topic is None and fallback is not None and disposition is Disposition.INTERESTING_BAD:
            topic = self._complaint_topic
            reasons.append(fallback)
        intensity, shown = _intensity(post.text)
        if shown:
            reasons.append(Reason("intensity", shown, intensity))
            if disposition is Disposition.INTERESTING_BAD:
                # Shouting and stretched words are how an angry customer sounds.
                points += round(10 * intensity)
        urgency = self._base[disposition] + points
        return Verdict(
            disposition=disposition,
            compound=compound,
            score=score,
            labels=tuple(dict.fromkeys(labels)) if len(labels) > 1 else tuple(labels),
            topic=topic,
            urgency=0 if urgency < 0 else 100 if urgency > 100 else urgency,
            interest=_interest(score, author, mention, intensity),
            segment=segment,
            actions=tuple(dict.fromkeys(actions)) if len(actions) > 1 else tuple(actions),
            reasons=tuple(reasons),
            lang=lang,
        )


def _learned(
    model: Model,
    names: Sequence[str],
    disposition: Disposition,
    topic: str | None,
    post: _Post,
    reasons: list[Reason],
) -> tuple[Disposition, str | None, bool]:
    """The model's disposition and topic, and whether it overruled the rules' class."""
    said = CLASS_OF[disposition]
    cls, learned_topic, reason = model.decide(names, said, topic)
    reasons.append(reason)
    topic = learned_topic or topic
    if cls == said:
        return disposition, topic, False
    if cls == "complaint":
        return Disposition.INTERESTING_BAD, topic, True
    if cls == "praise":
        return Disposition.INTERESTING_GOOD, topic, True
    if disposition in (Disposition.QUESTION, Disposition.IGNORE):
        return disposition, topic, True
    return (Disposition.QUESTION if post.question else Disposition.IGNORE), topic, True


def _cutoff_reasons(settings: Settings) -> dict[Disposition, Reason]:
    # Made once per rule set: the score itself is in the verdict.
    bad, good = settings.bad_at_most, settings.good_at_least
    span = f"score > {settings.clearly_negative}"
    if settings.clearly_positive is not None:
        span += f" and < {settings.clearly_positive}"
    return {
        Disposition.QUESTION: Reason("cutoff", f"no rule decided; phrased as a question, {span}"),
        Disposition.INTERESTING_BAD: Reason("cutoff", f"no rule decided; score <= {bad}"),
        Disposition.INTERESTING_GOOD: Reason("cutoff", f"no rule decided; score >= {good}"),
        Disposition.IGNORE: Reason("cutoff", f"no rule decided; score between {bad} and {good}"),
    }


def _lukewarm_reasons(settings: Settings) -> dict[Disposition, Reason]:
    span = f"{settings.good_at_least} <= score < {settings.praise_at_least}"
    why = "warm, but no rule found praise in it"
    return {
        Disposition.QUESTION: Reason("cutoff", f"no rule decided; {span}: {why}; a question"),
        Disposition.IGNORE: Reason("cutoff", f"no rule decided; {span}: {why}"),
    }


_NOBODY = Author(handle=None)


def _topic_by_votes(named: list[_Compiled], hits: set[str]) -> tuple[str, Reason]:
    """The topic the fired rules `named` vote for most, and the reason saying so.
    A rule votes once per phrase of its own in the post, not counting a phrase
    inside a longer one it matched ("waiting" in "still waiting"); once if it fired
    on no phrase. A tie goes to the higher priority, then the later rule."""
    votes: dict[str, int] = {}
    ranks: dict[str, tuple[int, int]] = {}
    for rule in named:
        topic = rule.topic
        assert topic is not None
        by_key = rule.by_key
        matched = [f" {key} " for key in hits if key in by_key]
        n = sum(1 for k in matched if not any(k != o and k in o for o in matched)) or 1
        votes[topic] = votes.get(topic, 0) + n
        rank = (rule.priority, rule.bit)  # rules come in firing order
        if topic not in ranks or rank > ranks[topic]:
            ranks[topic] = rank
    ranked = sorted(votes, key=lambda t: (votes[t], ranks[t]), reverse=True)
    said = ", ".join(f"{t} {votes[t]}" for t in ranked)
    return ranked[0], Reason("topic", f"{ranked[0]}: most votes among the topics named ({said})")


def _reason(rule: _Compiled, hits: set[str]) -> Reason:
    """The rule's reason naming the phrase that made it fire (its first, as listed)."""
    by_key = rule.by_key
    best: tuple[int, Reason] | None = None
    for key in hits:
        found = by_key.get(key)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best[1] if best is not None else rule.reason


def _is_question(text: str, words: list[str]) -> bool:
    if "?" in text and ("://" not in text or "?" in URL.sub(" ", text)):
        return True
    if not words:
        return False
    first = words[0]
    if first in _QUESTION_OPENERS:
        # "why thank you!" is "why" the interjection, not a question
        return not (first == "why" and len(words) > 1 and words[1] in _AFTER_WHY_EXCLAIMED)
    seconds = _QUESTION_PAIRS.get(first)
    return seconds is not None and len(words) > 1 and words[1] in seconds


def _interest(score: float, author: Author, mention: Mention, intensity: float = 0.0) -> int:
    """0..100: how much a post deserves attention, to rank the queue.

    A weighted sum, not a product: a furious post from an account with no followers
    still deserves a look, and a product would score it 0. Emotion (|score|, raised
    by up to 0.3 for shouting: see `_intensity`) weighs
    most because it is what the post says; reach and engagement are log-scaled
    because both are heavy-tailed (1M followers is not 1000x as urgent as 1k):
    reach is full at 1M followers, plus 0.15 for a verified account; engagement
    (likes + reposts + replies) is full at 10k.
    """
    followers = author.followers
    reach = _log10(1 + followers) / 6 if followers and followers > 0 else 0.0
    if author.verified:
        reach += 0.15
    if reach > 1.0:
        reach = 1.0
    count = mention.engagement
    engagement = _log10(1 + count) / 4 if count > 0 else 0.0
    if engagement > 1.0:
        engagement = 1.0
    emotion = abs(score) + 0.3 * intensity
    if emotion > 1.0:
        emotion = 1.0
    return round(50 * emotion + 30 * reach + 20 * engagement)


# A word of three or more capital letters, alone between spaces or punctuation
# ("WHERE", "BAG?!"), but not part of a handle, hashtag or code ("AA1457").
_CAPS_WORD = re.compile(r"(?<![\w@#])[A-Z]{3,}(?!\w)")
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")  # a letter three times or more: "sooo"
# Cheap first looks, twice as fast as the exact patterns on a post with no match
# (most posts): any word character three times running; three capitals running.
_TRIPLE = re.compile(r"(\w)\1\1")
_THREE_CAPS = re.compile(r"[A-Z]{3}")


def _intensity(text: str) -> tuple[float, str]:
    """0..1 from how a post is written, not what it says: words in capitals,
    stretched words and exclamation marks. VADER already boosts a capitalised
    sentiment word; this catches "WHERE IS MY BAG" and "whyyyy", which carry
    no sentiment word at all. Also a human-readable detail ("" when 0)."""
    caps = len(_CAPS_WORD.findall(text)) if _THREE_CAPS.search(text) else 0
    stretched = len(_ELONGATED.findall(text)) if _TRIPLE.search(text) else 0
    bangs = text.count("!")
    if not (caps or stretched or bangs):
        return 0.0, ""
    value = min(0.15 * min(caps, 4) + 0.15 * min(stretched, 3) + 0.1 * min(bangs, 3), 1.0)
    parts = []
    if caps:
        parts.append(f"{caps} word{'s' if caps > 1 else ''} in capitals")
    if stretched:
        parts.append(f"{stretched} stretched word{'s' if stretched > 1 else ''}")
    if bangs:
        parts.append(f"{bangs} '!'")
    return value, "written with " + ", ".join(parts)


_log10 = math.log10


def _brand_words(brand: Brand) -> frozenset[str]:
    # The brand's name and plain keywords, where they are single words. Hashtags
    # like "#acmefail" stay: they say something.
    words = set()
    for term in (brand.name, *brand.keywords):
        if "#" in term or "@" in term:
            continue
        tokens = to_words(term.lower()).split()
        if len(tokens) == 1:
            words.add(tokens[0])
    return frozenset(words)


def _brand_items(brand: Brand) -> tuple[str, ...]:
    """The `brand` list: name, keywords and handles. A keyword of several words that
    holds one of the brand's own words ("acme internet") is left to that word:
    phrases skip the brand's words, so it would be "internet", and a post about
    anyone's internet would name the brand."""
    own = _brand_words(brand)
    handles = tuple("@" + h.lstrip("@") for h in brand.handles.values() if h)
    return tuple(
        t
        for t in (brand.name, *brand.keywords, *handles)
        if t and t.strip() and not _holds_own_word(t, own)
    )


def _holds_own_word(term: str, own: frozenset[str]) -> bool:
    tokens = to_words(term.lower()).split()
    return len(tokens) > 1 and not own.isdisjoint(tokens)


def _with_brand(regex: str, brand: Sequence[str]) -> str:
    """`{brand}` in a regex stands for the brand: its name, keywords or handles, with
    or without the "@", so a shipped rule can say "switched to {brand}\b". No word
    boundary is added: "#{brand}down" must still match "#acmedown"."""
    if "{brand}" not in regex:
        return regex
    names = sorted({b.lstrip("@") for b in brand}, key=len, reverse=True)
    return regex.replace("{brand}", "@?(?:" + "|".join(map(re.escape, names)) + ")")


def _compile_rule(
    rule: Rule,
    bit: int,
    phrases: _Phrases,
    lists: Mapping[str, tuple[str, ...]],
    problems: list[str],
) -> _Compiled | None:
    """A rule's checks, cheap ones first, and what makes it a candidate. None when
    the rule can never fire (an empty list) or is broken (added to `problems`)."""
    w = rule.when
    where = f"{rule.source}: {rule.where}.when"
    unknown = [k for k in ("author_in", "mentions") if getattr(w, k) not in (None, *lists)]
    for key in unknown:
        name = getattr(w, key)
        problems.append(
            f'{where}.{key}: unknown list "{name}"{did_you_mean(name, lists)} '
            f'(lists: {", ".join(sorted(lists))}) (rule "{rule.id}")'
        )
    if unknown:
        return None

    any_keys = _ranked(phrases, w.any)
    all_keys = [phrases.add(p) for p in w.all]
    none_keys = frozenset(phrases.add(p) for p in w.none)
    mention_keys = _ranked(phrases, lists[w.mentions]) if w.mentions else {}
    if w.mentions and not mention_keys:
        return None  # an empty list is mentioned by no post
    if w.author_in and not lists[w.author_in]:
        return None  # nobody is in an empty list

    checks: list[Check] = []
    said: list[str] = []
    # Each check is a closure over names of its own: one name reused by two checks
    # would leave both reading its last value.
    if w.has_label:
        labels_needed = frozenset(w.has_label)
        checks.append(lambda p: labels_needed <= p.labels)
        said.append("has label " + "+".join(w.has_label))
    if w.lacks_label:
        labels_avoided = frozenset(w.lacks_label)
        checks.append(lambda p: p.labels.isdisjoint(labels_avoided))
    if w.platform:
        platforms = frozenset(w.platform)
        checks.append(lambda p: p.mention.platform in platforms)
        said.append("on " + "/".join(w.platform))
    if (min_followers := w.followers_at_least) is not None:
        checks.append(lambda p: (p.author.followers or 0) >= min_followers)
        said.append(f"followers >= {min_followers:,}")
    if (verified := w.verified) is not None:
        checks.append(lambda p: bool(p.author.verified) is verified)
        said.append("verified" if verified else "not verified")
    if (is_reply := w.is_reply) is not None:
        checks.append(lambda p: bool(p.mention.in_reply_to) is is_reply)
        said.append("a reply" if is_reply else "not a reply")
    if (min_engagement := w.engagement_at_least) is not None:
        checks.append(lambda p: p.mention.engagement >= min_engagement)
        said.append(f"engagement >= {min_engagement:,}")
    if (below := w.sentiment_below) is not None:
        checks.append(lambda p: p.compound < below)
        said.append(f"compound < {below:+.2f}")
    if (above := w.sentiment_above) is not None:
        checks.append(lambda p: p.compound > above)
        said.append(f"compound > {above:+.2f}")
    if (question := w.question) is not None:
        checks.append(lambda p: p.question is question)
        said.append("phrased as a question" if question else "not a question")
    if (max_words := w.words_at_most) is not None:
        checks.append(lambda p: len(p.words) <= max_words)
        said.append(f"at most {max_words} words")
    if all_keys:
        keys_needed = frozenset(all_keys)
        checks.append(lambda p: keys_needed <= p.hits)
        said.append("with " + " + ".join(quoted(p) for p in w.all))
    if none_keys:
        checks.append(lambda p: p.hits.isdisjoint(none_keys))
    # The trigger group needs no check: the rule is only a candidate when it occurs.
    triggers: tuple[str, ...] | None
    shown_any = bool(any_keys)
    if any_keys:
        triggers = tuple(any_keys)
        if mention_keys:
            mentioned = frozenset(mention_keys)
            checks.append(lambda p: not p.hits.isdisjoint(mentioned))
            said.append(f"mentions {w.mentions}")
    elif mention_keys:
        triggers = tuple(mention_keys)
    elif all_keys:
        triggers = (all_keys[0],)
    else:
        triggers = None
    if w.author_in:
        checks.append(_author_check(lists[w.author_in]))
        said.append(f"author in {w.author_in}")
    if w.regex:
        try:
            search = re.compile(_with_brand(w.regex, lists["brand"]), re.IGNORECASE).search
        except re.error as exc:  # fine as written, broken once {brand} is filled in
            problems.append(
                f"{where}.regex: bad regex once {{brand}} stands for the brand's names: {exc}"
            )
            return None
        checks.append(lambda p: search(straight_quotes(p.text)) is not None)
        # a person reading the reason needs the gist; the rule file has the whole
        said.append(f"regex {quoted(clipped(w.regex, 40))}")

    then = rule.then
    did = _effects(then)
    weight = then.score if then.score else float(then.urgency)
    name = f"rule:{rule.id}"

    def detail(lead: str | None) -> str:
        parts = ([lead] if lead else []) + said
        return "; ".join(filter(None, ["; ".join(parts) or "always", did]))

    by_key: dict[str, tuple[int, Reason]] = {}
    group = any_keys if shown_any else mention_keys
    for key, (rank, original) in group.items():
        lead = (
            f"matched {quoted(original)}"
            if shown_any
            else f"mentions {w.mentions} ({quoted(original)})"
        )
        by_key[key] = (rank, Reason(name, detail(lead), weight))
    return _Compiled(
        bit=bit,
        priority=rule.priority,
        checks=tuple(checks),
        disposition=then.disposition,
        score=then.score,
        labels=then.labels,
        topic=then.topic,
        urgency=then.urgency,
        segment=then.segment,
        actions=then.actions,
        reason=Reason(name, detail(None), weight),
        by_key=by_key,
        trigger_keys=triggers or (),
        trigger_label=w.has_label[0] if triggers is None and w.has_label else None,
        trigger_question=triggers is None and not w.has_label and w.question is True,
    )


def _ranked(phrases: _Phrases, items: Sequence[str]) -> dict[str, tuple[int, str]]:
    # key -> (position in the rule's list, the phrase as written), first one wins
    out: dict[str, tuple[int, str]] = {}
    for rank, item in enumerate(items):
        out.setdefault(phrases.add(item), (rank, item))
    return out


def _effects(then: Effects) -> str:
    parts = []
    if then.disposition is not None:
        parts.append(then.disposition.value)
    if then.topic:
        parts.append(f"topic {then.topic}")
    if then.score:
        parts.append(f"score {then.score:+.2f}")
    if then.urgency:
        parts.append(f"urgency {then.urgency:+d}")
    if then.segment:
        parts.append(f"segment {then.segment}")
    parts.extend(then.actions)
    if then.labels:
        parts.append("labels " + ", ".join(then.labels))
    return "then " + ", ".join(parts) if parts else ""


def _author_check(items: Sequence[str]) -> Check:
    """Handles match case-insensitively without "@"; items with a dot are domains too,
    matched against the author's url host and the domain part of the handle."""
    handles = frozenset(i.strip().lstrip("@").casefold() for i in items if i.strip())
    domains = tuple(h for h in handles if "." in h)

    def check(p: _Post) -> bool:
        handle = (p.author.handle or "").lstrip("@").casefold()
        if handle in handles:
            return True
        if not domains:
            return False
        hosts = [handle.rsplit("@", 1)[-1]] if handle else []
        url = p.author.url
        if url:
            hosts.append(url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1])
        for host in hosts:
            host = host.split(":", 1)[0].casefold()
            for d in domains:
                if host == d or host.endswith("." + d):
                    return True
        return False

    return check


# -- loading --------------------------------------------------------------------------


def _read(entry: str | Path, base_dir: Path | None) -> tuple[str, str]:
    """(source name for messages, file text)."""
    if isinstance(entry, str) and not entry.endswith(".toml"):
        if not _SHIPPED.match(entry):
            raise RuleError(f'"{entry}": not a shipped rule set name; files must end in ".toml"')
        resource = resources.files("rules").joinpath(f"{entry}.toml")
        if not resource.is_file():
            shipped = sorted(
                r.name.removesuffix(".toml")
                for r in resources.files("rules").iterdir()
                if r.name.endswith(".toml")
            )
            raise RuleError(
                f'"{entry}": no shipped rule set of that name (shipped: {", ".join(shipped)})'
                f'{did_you_mean(entry, shipped)}; a file of your own must end in ".toml"'
            )
        return f"{entry}.toml", resource.read_text(encoding="utf-8")
    path = Path(entry)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) is no TOML
        return str(entry), path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        # the path as read: a relative entry is relative to base_dir, the config's folder
        raise RuleError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_ruleset(
    files: Sequence[str | Path] = ("default",),
    *,
    brand: Brand,
    lists: Mapping[str, Sequence[str]] | None = None,
    base_dir: Path | None = None,
    model: str | Path | None = None,
) -> Ruleset:
    """Read, validate and compile rule files, later ones overriding earlier ones.

    An entry without ".toml" names a shipped rule set ("default"); other entries are
    paths, relative ones resolved against `base_dir`. `lists` (from the app's config)
    replace the files' lists of the same name. Each file's [[examples]] are checked
    against the rule set composed so far, right after the file is read.
    `model` is a file from `earful train` (relative to `base_dir`): the learned layer
    that may re-decide each verdict. The files' examples are checked without it: they
    say what the rules do.
    Raises RuleError (RuleExampleFailed for examples) on any problem.
    """
    if isinstance(files, str | Path):
        files = [files]
    config_lists = _config_lists(lists or {})
    rules: list[Rule] = []
    settings: dict[str, Any] = {}
    urgency: dict[Disposition, int] = dict(Settings().urgency)
    lexicon: dict[str, float] = {}
    file_lists: dict[str, tuple[str, ...]] = {}
    sources: list[str] = []
    names: list[str] = []
    examples: list[Example] = []
    # labels any rule sets, replaced and switched-off rules too: has_label naming one
    # of those is no typo
    labels_set: set[str] = set()
    composed: tuple[_Engine, Settings] | None = None
    failed: RuleExampleFailed | None = None  # the first file whose examples failed
    for index, entry in enumerate(files):
        try:
            source, text = _read(entry, base_dir)
        except RuleError as exc:
            raise RuleFileUnreadable(index, str(exc)) from None
        spec = parse_file(source, text)
        sources.append(source)
        names.append(spec.name or Path(source).stem)
        switched_off: list[str] = []  # what switches off nothing: all of a file's at once
        for rule in spec.rules:
            labels_set.update(rule.then.labels)
            at = next((i for i, r in enumerate(rules) if r.id == rule.id), None)
            if at is None and not rule.enabled:
                switched_off += _check_switch_off(source, rule, [r.id for r in rules])
            if at is None:
                rules.append(rule)
            else:
                rules[at] = rule
        if switched_off:
            raise RuleError(switched_off)
        settings.update(spec.settings)
        urgency.update(spec.urgency)
        lexicon.update(spec.lexicon)
        file_lists.update(spec.lists)
        _check_cutoffs(source, settings)
        composed = _compose(
            rules, settings, urgency, lexicon, {**file_lists, **config_lists}, brand
        )
        topics = {r.then.topic for r in rules if r.enabled and r.then.topic}
        topics.add(composed[1].complaint_topic or "")
        try:
            _check_examples(source, spec.examples, composed[0], topics - {""})
        except RuleExampleFailed as exc:
            # held until the names are checked: a misspelt has_label is what makes
            # an example fail, and the failure alone would not say so
            failed = failed or exc
        examples.extend(spec.examples)
    _check_names(rules, labels_set, settings.get("complaint_topic"), failed)
    if failed is not None:
        raise failed
    if composed is None:  # no files at all: plain VADER with the default cut-offs
        composed = _compose(rules, settings, urgency, lexicon, config_lists, brand)
    ruleset = Ruleset(
        brand=brand,
        files=tuple(sources),
        names=tuple(names),
        rules=tuple(rules),
        settings=composed[1],
        lexicon=MappingProxyType(dict(lexicon)),
        lists=MappingProxyType({**file_lists, **config_lists}),
        examples=tuple(examples),
        _engine=composed[0],
    )
    if model is None:
        return ruleset
    try:
        return with_model(ruleset, read_model(model, base_dir))
    except RuleError as exc:
        raise RuleError(f"model: {exc}") from None


def _check_switch_off(source: str, rule: Rule, earlier: Sequence[str]) -> list[str]:
    """A switch-off with nothing to switch off: a mistyped id would leave the rule it
    meant running, silently. A whole rule written switched off under a new id is a
    draft kept for later, unless its id is a typo of an earlier rule's."""
    if rule.then == Effects():
        return [
            f"{source}: {rule.where}.id: `enabled = false` switches off a rule by id, "
            f'and no earlier rule file has a rule "{rule.id}"{did_you_mean(rule.id, earlier)}'
        ]
    near = _typo_of(rule.id, earlier)
    if near is not None:
        return [
            f'{source}: {rule.where}.id: "{rule.id}" is switched off, and no earlier rule '
            f'has that id; did you mean to switch off "{near}"? (a rule kept switched off '
            "for later needs an id of its own)"
        ]
    return []


def _typo_of(name: str, known: Iterable[str]) -> str | None:
    """The known name `name` is a slip of the keyboard away from, if any: very close,
    and not the same name with a part added ("brand_down_v2", "delivery_uk")."""
    for close in difflib.get_close_matches(name, list(known), n=3, cutoff=0.85):
        short, long = sorted((name, close), key=len)
        if not (long.startswith(short) and long[len(short)] in "_-.0123456789"):
            return close
    return None


def _check_names(
    rules: Sequence[Rule],
    labels: Collection[str],
    complaint_topic: str | None,
    failed: RuleExampleFailed | None = None,
) -> None:
    """The labels and topics the rules name, against those of every rule: a label no
    rule sets is a typo that keeps a rule from ever firing (has_label) or lets it
    always fire (lacks_label), and a topic a letter or two off an earlier rule's would
    count complaints under a cause of its own. Examples that `failed` are reported
    after these problems, which are likely their cause."""
    topics = {complaint_topic} if complaint_topic else set()  # named by earlier rules
    problems = []
    for rule in rules:
        where = f"{rule.source}: {rule.where}"
        for key in ("has_label", "lacks_label"):
            for label in getattr(rule.when, key):
                if label not in labels:
                    problems.append(
                        f"{where}.when.{key}: no rule sets the label "
                        f'"{label}"{did_you_mean(label, labels)} (rule "{rule.id}")'
                    )
        topic = rule.then.topic
        if topic and topic not in topics and (near := _typo_of(topic, topics)):
            problems.append(
                f'{where}.then.topic: no earlier rule has the topic "{topic}" (did you mean '
                f'"{near}"?); a new topic is fine, but a misspelt one counts complaints apart '
                f'(rule "{rule.id}")'
            )
        if topic:
            topics.add(topic)
    if problems:
        raise RuleError(problems + (failed.problems if failed else []))


def read_model(entry: str | Path, base_dir: Path | None = None) -> Model:
    """A model file from `earful train`; RuleError says what is wrong with it."""
    path = Path(entry)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RuleError(f"{path}: not JSON: {exc}") from None
    try:
        return load_model_json(data, str(path))
    except ModelError as exc:
        raise RuleError(str(exc)) from None


def _check_cutoffs(source: str, settings: Mapping[str, Any]) -> None:
    defaults = Settings()
    bad = settings.get("bad_at_most", defaults.bad_at_most)
    if bad >= settings.get("good_at_least", defaults.good_at_least):
        raise RuleError(f"{source}: settings.bad_at_most: must be below good_at_least")
    low = settings.get("clearly_negative", defaults.clearly_negative)
    high = settings.get("clearly_positive")
    if high is not None and low >= high:
        raise RuleError(f"{source}: settings.clearly_negative: must be below clearly_positive")
    praise = settings.get("praise_at_least")
    if praise is not None and praise < settings.get("good_at_least", defaults.good_at_least):
        raise RuleError(f"{source}: settings.praise_at_least: must be at least good_at_least")


def _config_lists(lists: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    out = {}
    for name, items in lists.items():
        if name in RESERVED_LISTS:
            raise RuleError(f'lists.{name}: "{name}" is built in and cannot be set')
        if isinstance(items, str):
            raise RuleError(f"lists.{name}: expected a list of strings, got {described(items)}")
        out[name] = tuple(str(i) for i in items)
    return out


def _compose(
    rules: Sequence[Rule],
    settings: Mapping[str, Any],
    urgency: Mapping[Disposition, int],
    lexicon: Mapping[str, float],
    lists: Mapping[str, tuple[str, ...]],
    brand: Brand,
) -> tuple[_Engine, Settings]:
    merged = Settings(**settings, urgency=MappingProxyType(dict(urgency)))
    return _Engine(rules, merged, lexicon, lists, brand), merged


def _check_examples(
    source: str, examples: Sequence[Example], engine: _Engine, topics: Collection[str]
) -> None:
    failures = []
    for example in examples:
        verdict = engine.judge(example.mention())
        ok = verdict.disposition is example.expect
        if example.topic is not None and verdict.topic != example.topic:
            ok = False
        missing = [label for label in example.labels if label not in verdict.labels]
        if not ok or missing:
            failures.append(
                ExampleFailure(
                    where=example.where,
                    text=example.text,
                    expected=_describe(example.expect, example.topic, example.labels, "")
                    + _unknown_topic(example.topic, topics),
                    got=_describe(verdict.disposition, verdict.topic, verdict.labels),
                    reasons=verdict.reasons,
                )
            )
    if failures:
        raise RuleExampleFailed(source, len(examples), failures)


def _describe(
    disposition: Disposition,
    topic: str | None,
    labels: Sequence[str],
    no_topic: str = " (no topic)",
) -> str:
    out = disposition.value
    out += f" (topic {topic})" if topic else no_topic
    if labels:
        out += f" [labels {', '.join(labels)}]"
    return out


def _unknown_topic(topic: str | None, known: Collection[str]) -> str:
    """' (no rule gives the topic "x"; did you mean "y"?)' for a topic no rule names."""
    if topic is None or topic in known:
        return ""
    return f' (no rule gives the topic "{topic}"{did_you_mean(topic, known)})'


# -- the public verbs ---------------------------------------------------------------


def judge(mention: Mention, ruleset: Ruleset) -> Verdict:
    """The verdict on one mention. Pure; never raises on any text."""
    return ruleset._engine.judge(mention)


def topics_of(ruleset: Ruleset) -> frozenset[str]:
    """Every topic a verdict of the rule set can carry."""
    topics = {r.then.topic for r in ruleset.rules if r.then.topic}
    if ruleset.settings.complaint_topic is not None:
        topics.add(ruleset.settings.complaint_topic)
    return frozenset(topics)


def with_model(ruleset: Ruleset, model: Model | None) -> Ruleset:
    """The same rules with another learned layer (None: the rules alone). RuleError
    if the model gives topics the rules do not know (it was trained with others)."""
    if model is not None and model.topics is not None:
        unknown = sorted(set(model.topics.labels) - topics_of(ruleset))
        if unknown:
            raise RuleError(
                f"{model.source}: topics the rules do not have: {', '.join(unknown)}; "
                "train the model again with these rules"
            )
    engine = copy.copy(ruleset._engine)
    engine._model = model
    return replace(ruleset, _engine=engine, model=model)


def judge_with_features(mention: Mention, ruleset: Ruleset) -> tuple[Verdict, list[str]]:
    """The rules' verdict without the model, and the features a model would weigh:
    what `earful train` learns from."""
    names: list[str] = []
    return ruleset._engine.judge(mention, names), names


def explain(verdict: Verdict) -> list[str]:
    """Human-readable lines: the outcome, then every reason with its weight."""
    lines = [
        f"disposition: {verdict.disposition.value}",
        f"score: {verdict.score:+.3f} (VADER compound {verdict.compound:+.3f}, "
        "plus the rules' score adjustments, clamped to -1..1)",
        f"topic: {verdict.topic or '-'}",
        f"urgency: {verdict.urgency}/100",
        f"interest: {verdict.interest}/100",
        f"segment: {verdict.segment or '-'}",
        f"labels: {', '.join(verdict.labels) or '-'}",
        f"actions: {', '.join(verdict.actions) or '-'}",
        "reasons:",
    ]
    width = max((len(reason.rule) for reason in verdict.reasons), default=0)
    for reason in verdict.reasons:
        lines.append(f"  {reason.rule:<{width}} {reason.weight:+7.2f}  {reason.detail}")
    return lines
