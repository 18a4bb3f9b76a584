"""The rule language as written: a rule file's TOML, read and checked.

A rule set is one or more TOML files. Later files override earlier ones, so a
deployment ships "default" and adds its own file after it.

    [meta]
    name = "default"                  # optional: name, description

    [settings]                        # all optional; later files override per key
    bad_at_most = -0.05               # score <= this: interesting_bad   (when no rule decides)
    good_at_least = 0.05              # score >= this: interesting_good  (when no rule decides)
    clearly_negative = -0.5           # a question scoring above this is a `question`...
    clearly_positive = 0.5            # ...and below this (default: unset, no limit)
    praise_at_least = 0.6             # with no rule deciding, a score from good_at_least up
                                      #   to this is warm but not praise: `ignore` (a
                                      #   question: `question`). Default: good_at_least
    max_chars = 4000                  # judge only the first N characters of a post
    complaint_topic = "support"       # the topic of a complaint no topic rule named
                                      #   (default: unset, no topic)
    topic_by = "votes"                # how the topic is chosen when rules name several:
                                      #   "priority" (default) or "votes" (see "Verdict")
    [settings.urgency]                # urgency a verdict starts from, per disposition
    interesting_bad = 30
    interesting_good = 5
    question = 15
    ignore = 0

    [lexicon]                         # single word = valence (-4..4), added to VADER's lexicon
                                      #   (an emoji, too: then read as itself, not its name)
    outage = -2.0

    [lists]                           # named lists for `author_in` and `mentions`: defined
    competitors = ["globex", "initech"]  # here, in an earlier file, or in the app's config
    white_glove = []                  # the app's config [rules.lists] is merged over these

    [[rules]]
    id = "outage"                     # required; unique per file; a later file's rule
    description = "..."               #   with the same id replaces this one in place
    priority = 10                     # optional, default 0 (see "Verdict" below)
    enabled = true                    # optional; `enabled = false` switches off a rule by id
    [rules.when]                      # ALL listed conditions must hold (none listed: always)
    any = ["is down", "outage"]       # at least one phrase occurs
    all = ["refund", "still"]         # every phrase occurs
    none = ["not down"]               # no phrase occurs
    regex = "..."                     # Python regex, case-insensitive, searched in the text;
                                      #   {brand} in it stands for the brand's name,
                                      #   keywords or handles, as written: "{brand}\b"
                                      #   for whole words, "#{brand}down" inside one
    sentiment_below = 0.3             # VADER compound (with the lexicon), before any rule,
    sentiment_above = -0.2            #   strictly below / above: a neutral post is 0.0
    platform = ["x", "reddit"]        # a platform name or a list of them
    followers_at_least = 10000
    verified = true
    author_in = "white_glove"         # list name: the author's handle, or a domain of the
                                      #   author's url or handle, is in the list
    mentions = "competitors"          # list name: the text mentions an item of the list
    engagement_at_least = 50          # likes + reposts + replies
    is_reply = true
    question = true                   # phrased as a question (see below)
    words_at_most = 3                 # a short post: at most N words, not counting
                                      #   @handles, the brand's name and symbols
    has_label = "outage"              # a label (or every label of a list) set by an
    lacks_label = ["spam", "praise"]  #   earlier rule; none of these labels set yet
    [rules.then]                      # what the rule does when it fires (at least one)
    disposition = "interesting_bad"   # interesting_bad | interesting_good | question | ignore
    score = -0.6                      # added to the sentiment score
    labels = ["outage"]
    topic = "outage"                  # root cause
    urgency = 25                      # points added (may be negative)
    segment = "white_glove"
    actions = ["escalate"]            # escalate | no_reply

    [[examples]]                      # checked as soon as the file is loaded, against
                                      #   the rules so far (and the app's lists)
    text = "app down again? can't log in"
    expect = "interesting_bad"        # required: the disposition
    topic = "outage"                  # optional: the topic it must have
    labels = ["outage"]               # optional: labels it must carry (among others)
    platform = "x"                    # optional, default "x"
    followers = 120                   # optional author details: followers, author
    author = "ana"                    #   (handle), verified
    engagement = 500                  # optional: the post's likes+reposts+replies
    reply = true                      # optional: the post is a reply (for is_reply)
    note = "why this example exists"  # optional

Phrases (`any`, `all`, `none`, and the items of lists used with `mentions`):
- match whole words, case-insensitively; whitespace between words is flexible;
- apostrophes do not count: "can't", "can’t" and "cant" are the same word;
- other punctuation separates words: "#outage" matches "outage", "wi-fi" is "wi fi";
- @handles and the brand's own name are skipped when matching multi-word phrases,
  so "cancel my account" matches "cancel my @Acme account" and "thanks Acme for
  nothing" matches "thanks for nothing"; a one-word phrase still finds them;
- a phrase of symbols only (":(", "😡", "!!!") matches anywhere in the text.

The list `brand` is built in: the brand's name, keywords and "@handle"s, so
`mentions = "brand"` tests that a post names the brand. It cannot be redefined.

Every mistake in a file is a RuleError naming the file and the key path (indexes
count from 0): `my.toml: rules[3].when.followers_at_least: expected an integer,
got "many"`. Unknown keys are mistakes too: a typo must not switch a rule off.

rules/engine.py says how a rule set judges a post.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from listener.mention import PLATFORM_NICKNAMES, PLATFORMS, Author, Mention
from rules.sentiment import VALENCE_MAX, VALENCE_MIN
from rules.text import symbol_key, to_words
from rules.verdict import Disposition, Reason

# Actions the responders understand; anything else is a typo that would do nothing.
ACTIONS = ("escalate", "no_reply")
RESERVED_LISTS = ("brand",)

# a rule, list or topic name; also what earful.toml may call a list
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# -- errors -------------------------------------------------------------------------


class RuleError(Exception):
    """A rule file that cannot be used. `problems` holds one "file: key.path: what" each."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RuleFileUnreadable(RuleError):
    """A `files` entry that names no rule file: `index` is its place in the list, so
    that the config can say which of its `rules.files` it is."""

    def __init__(self, index: int, problem: str) -> None:
        self.index = index
        super().__init__(problem)


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    where: str  # "examples[4]"
    text: str
    expected: str
    got: str
    reasons: tuple[Reason, ...]


class RuleExampleFailed(RuleError):
    """A rule file's own [[examples]] do not come out as the file says they should."""

    def __init__(self, source: str, total: int, failures: Sequence[ExampleFailure]) -> None:
        self.source = source
        self.failures = tuple(failures)
        lines = [f"{source}: {len(failures)} of {total} examples failed:"]
        for f in failures:
            lines.append(f"  {f.where} {quoted(clipped(f.text, 80))}")
            lines.append(f"    expected {f.expected}, got {f.got}")
            fired = "; ".join(f"{r.rule} {r.detail}" for r in f.reasons)
            lines.append(f"    because: {fired}")
        super().__init__("\n".join(lines))


# -- the rule set as written --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    bad_at_most: float = -0.05
    good_at_least: float = 0.05
    clearly_negative: float = -0.5
    clearly_positive: float | None = None  # None: a question may be as positive as it likes
    praise_at_least: float | None = None  # None: good_at_least, any warmth is praise
    max_chars: int = 4000
    complaint_topic: str | None = None  # the topic of a complaint no topic cue matched
    topic_by: str = "priority"  # or "votes": see rules/engine.py, "the verdict"
    urgency: Mapping[Disposition, int] = field(
        default_factory=lambda: MappingProxyType(
            {
                Disposition.INTERESTING_BAD: 30,
                Disposition.INTERESTING_GOOD: 5,
                Disposition.QUESTION: 15,
                Disposition.IGNORE: 0,
            }
        )
    )


@dataclass(frozen=True, slots=True)
class Conditions:
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    regex: str | None = None
    sentiment_below: float | None = None
    sentiment_above: float | None = None
    platform: tuple[str, ...] = ()
    followers_at_least: int | None = None
    verified: bool | None = None
    author_in: str | None = None
    mentions: str | None = None
    engagement_at_least: int | None = None
    is_reply: bool | None = None
    question: bool | None = None
    words_at_most: int | None = None
    has_label: tuple[str, ...] = ()
    lacks_label: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Effects:
    disposition: Disposition | None = None
    score: float = 0.0
    labels: tuple[str, ...] = ()
    topic: str | None = None
    urgency: int = 0
    segment: str | None = None
    actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: Conditions
    then: Effects
    description: str = ""
    priority: int = 0
    enabled: bool = True
    source: str = ""  # the file it came from
    where: str = ""  # its key path there: "rules[3]"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    expect: Disposition
    topic: str | None = None
    labels: tuple[str, ...] = ()
    platform: str = "x"
    followers: int | None = None
    author: str | None = None
    verified: bool | None = None
    engagement: int | None = None
    reply: bool | None = None
    note: str = ""
    source: str = ""
    where: str = ""

    def mention(self) -> Mention:
        return Mention(
            platform=self.platform,
            native_id=f"example:{self.where}",
            text=self.text,
            author=Author(
                handle=self.author or "example_author",
                followers=self.followers,
                verified=self.verified,
            ),
            # engagement is what rules and interest weigh: likes+reposts+replies
            likes=self.engagement,
            in_reply_to=f"example:{self.where}:parent" if self.reply else None,
        )


# -- reading and validating one file ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FileSpec:
    source: str
    name: str | None
    settings: Mapping[str, Any]
    urgency: Mapping[Disposition, int]
    lexicon: Mapping[str, float]
    lists: Mapping[str, tuple[str, ...]]
    rules: tuple[Rule, ...]
    examples: tuple[Example, ...]


def described(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def clipped(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _key(path: str, key: str) -> str:
    part = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else quoted(key)
    return f"{path}.{part}" if path else part


_MISSING = object()


def did_you_mean(
    word: str,
    known: Iterable[str],
    cutoff: float = 0.6,
    aliases: Mapping[str, str] | None = None,
) -> str:
    """' (did you mean "x"?)' for what `aliases` say people call `word` ("twitter":
    difflib finds typos, not nicknames), else the known name closest to it, else ""."""
    meant = (aliases or {}).get(word.strip().casefold())
    if meant is None:
        close = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
        meant = close[0] if close else None
    return f' (did you mean "{meant}"?)' if meant else ""


class _Checker:
    """Collects every problem of one file, each with its key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, path: str, what: str) -> None:
        self.problems.append(f"{self.source}: {path}: {what}")

    def table(self, value: Any, path: str, known: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {described(value)}")
            return {}
        for key in value:
            if key not in known:
                choices = ", ".join(known)
                hint = did_you_mean(key, known)
                self.problem(_key(path, key), f"unknown key{hint}; known keys: {choices}")
        return value

    def string(self, value: Any, path: str, *, pattern: re.Pattern[str] | None = None) -> Any:
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {described(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(
                path,
                f"expected a name of letters, digits, '_', '-' or '.', got {described(value)}",
            )
            return None
        return value

    def integer(self, value: Any, path: str, lo: int | None = None, hi: int | None = None) -> Any:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, got {described(value)}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
            self.problem(path, f"expected an integer {span}, got {value}")
            return None
        return value

    def number(self, value: Any, path: str, lo: float, hi: float) -> Any:
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number, got {described(value)}")
            return None
        if not lo <= value <= hi:
            self.problem(path, f"expected a number from {lo:g} to {hi:g}, got {described(value)}")
            return None
        return float(value)

    def boolean(self, value: Any, path: str) -> Any:
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {described(value)}")
            return None
        return value

    def strings(
        self, value: Any, path: str, *, pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        """A string or an array of strings (a lone string is an array of one)."""
        if value is _MISSING:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            self.problem(path, f"expected a string or an array of strings, got {described(value)}")
            return ()
        out = []
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if not isinstance(value, str) else path
            checked = self.string(item, where, pattern=pattern)
            if checked is not None:
                if not checked.strip():
                    self.problem(where, "expected a non-empty string")
                    continue
                out.append(checked)
        return tuple(out)

    def choice(
        self,
        value: Any,
        path: str,
        choices: Sequence[str],
        aliases: Mapping[str, str] | None = None,
    ) -> Any:
        """`value` if it is one of `choices`; else a problem, with the choice it was
        likely meant to be: a near spelling, or what `aliases` say people call it."""
        if value is _MISSING:
            return None
        if not isinstance(value, str) or value not in choices:
            self.problem(path, _not_one_of(value, choices, aliases))
            return None
        return value


_TOP_KEYS = ("meta", "settings", "lexicon", "lists", "rules", "examples")
_META_KEYS = ("name", "description")
_SETTINGS_KEYS = (
    "bad_at_most",
    "good_at_least",
    "clearly_negative",
    "clearly_positive",
    "praise_at_least",
    "max_chars",
    "complaint_topic",
    "topic_by",
    "urgency",
)
_RULE_KEYS = ("id", "description", "priority", "enabled", "when", "then")
_WHEN_KEYS = tuple(f for f in Conditions.__dataclass_fields__)
_THEN_KEYS = tuple(f for f in Effects.__dataclass_fields__)
_EXAMPLE_KEYS = (
    "text",
    "expect",
    "topic",
    "labels",
    "platform",
    "followers",
    "author",
    "verified",
    "engagement",
    "reply",
    "note",
)
_DISPOSITIONS = tuple(d.value for d in Disposition)
# The classes `earful eval` counts in, which a newcomer writes for a disposition
_DISPOSITION_NICKNAMES = {"complaint": "interesting_bad", "praise": "interesting_good"}


def _not_one_of(value: Any, choices: Sequence[str], aliases: Mapping[str, str] | None) -> str:
    """'expected one of a, b, got "c"', with ' (did you mean "b"?)' where one fits."""
    hint = did_you_mean(value, choices, aliases=aliases) if isinstance(value, str) else ""
    return f"expected one of {', '.join(choices)}, got {described(value)}{hint}"


_TOPIC_BY = ("priority", "votes")


def _escape_hint(exc: tomllib.TOMLDecodeError) -> str:
    """What to do about a backslash TOML refuses: in rule files it is nearly always a
    regex written in double quotes, which TOML reads as escapes."""
    if "Unescaped '\\'" not in str(exc):
        return ""
    return (
        "; in double quotes a backslash starts an escape: write a regex in single "
        "quotes, like regex = '\\d+ days'"
    )


def parse_file(source: str, text: str) -> _FileSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: invalid TOML: {exc}{_escape_hint(exc)}") from None
    c = _Checker(source)
    c.table(data, "", _TOP_KEYS)
    meta = c.table(data.get("meta", {}), "meta", _META_KEYS)
    name = c.string(meta.get("name", _MISSING), "meta.name")
    c.string(meta.get("description", _MISSING), "meta.description")
    settings, urgency = _parse_settings(c, data.get("settings", {}))
    lexicon = _parse_lexicon(c, data.get("lexicon", {}))
    lists = _parse_lists(c, data.get("lists", {}))
    rules = _parse_rules(c, data.get("rules", []))
    examples = _parse_examples(c, data.get("examples", []))
    if c.problems:
        raise RuleError(c.problems)
    return _FileSpec(source, name, settings, urgency, lexicon, lists, rules, examples)


def _parse_settings(c: _Checker, value: Any) -> tuple[dict[str, Any], dict[Disposition, int]]:
    raw = c.table(value, "settings", _SETTINGS_KEYS)
    out: dict[str, Any] = {}
    for key in (
        "bad_at_most",
        "good_at_least",
        "clearly_negative",
        "clearly_positive",
        "praise_at_least",
    ):
        v = c.number(raw.get(key, _MISSING), f"settings.{key}", -1.0, 1.0)
        if v is not None:
            out[key] = v
    v = c.integer(raw.get("max_chars", _MISSING), "settings.max_chars", 1, 1_000_000)
    if v is not None:
        out["max_chars"] = v
    v = c.string(raw.get("complaint_topic", _MISSING), "settings.complaint_topic", pattern=NAME)
    if v is not None:
        out["complaint_topic"] = v
    v = c.choice(raw.get("topic_by", _MISSING), "settings.topic_by", _TOPIC_BY)
    if v is not None:
        out["topic_by"] = v
    urgency: dict[Disposition, int] = {}
    if "urgency" in raw:
        table = c.table(raw["urgency"], "settings.urgency", _DISPOSITIONS)
        for key, points in table.items():
            n = c.integer(points, f"settings.urgency.{key}", 0, 100)
            if n is not None and key in _DISPOSITIONS:
                urgency[Disposition(key)] = n
    return out, urgency


def _parse_lexicon(c: _Checker, value: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for word, valence in _items(c, value):
        path = _key("lexicon", word)
        if not word or any(ch.isspace() for ch in word):
            c.problem(path, "VADER scores single words: write one word without spaces")
            continue
        v = c.number(valence, path, VALENCE_MIN, VALENCE_MAX)
        if v is not None:
            out[word.lower()] = v
    return out


def _items(c: _Checker, value: Any) -> Iterable[tuple[str, Any]]:
    if not isinstance(value, dict):
        c.problem("lexicon", f"expected a table, got {described(value)}")
        return ()
    return value.items()


def _parse_lists(c: _Checker, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        c.problem("lists", f"expected a table, got {described(value)}")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, items in value.items():
        path = _key("lists", name)
        if name in RESERVED_LISTS:
            c.problem(path, f'"{name}" is built in (the brand\'s name, keywords, handles)')
            continue
        if not NAME.match(name):
            c.problem(path, "expected a list name of letters, digits, '_', '-' or '.'")
            continue
        if not isinstance(items, list):
            c.problem(path, f"expected an array of strings, got {described(items)}")
            continue
        out[name] = c.strings(items, path)
    return out


def _parse_rules(c: _Checker, value: Any) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        c.problem("rules", f"expected an array of tables ([[rules]]), got {described(value)}")
        return ()
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(value):
        where = f"rules[{i}]"
        before = len(c.problems)  # this rule's problems get its id: see below
        table = c.table(raw, where, _RULE_KEYS)
        if not table:
            if isinstance(raw, dict):
                c.problem(where, "expected a rule with an id")
            continue
        rule_id = c.string(table.get("id", _MISSING), f"{where}.id", pattern=NAME)
        if "id" not in table:
            c.problem(f"{where}.id", "missing: every rule needs an id")
        elif rule_id is not None:
            if rule_id in seen:
                c.problem(f"{where}.id", f'"{rule_id}" is already the id of {seen[rule_id]}')
            seen[rule_id] = where
        description = c.string(table.get("description", _MISSING), f"{where}.description")
        priority = c.integer(table.get("priority", _MISSING), f"{where}.priority")
        enabled = c.boolean(table.get("enabled", _MISSING), f"{where}.enabled")
        when = _parse_when(c, table.get("when", {}), f"{where}.when")
        then = _parse_then(c, table.get("then", _MISSING), f"{where}.then", enabled is not False)
        if len(c.problems) == before and rule_id is not None:
            rules.append(
                Rule(
                    id=rule_id,
                    when=when,
                    then=then,
                    description=description or "",
                    priority=priority or 0,
                    enabled=enabled is not False,
                    source=c.source,
                    where=where,
                )
            )
        elif rule_id is not None:
            # "rules[41]" alone sends a reader counting blocks in a long file
            c.problems[before:] = [f'{p} (rule "{rule_id}")' for p in c.problems[before:]]
    return tuple(rules)


def _parse_when(c: _Checker, value: Any, path: str) -> Conditions:
    raw = c.table(value, path, _WHEN_KEYS)

    def get(key: str) -> Any:
        return raw.get(key, _MISSING)

    regex = c.string(get("regex"), f"{path}.regex")
    if regex is not None:
        try:
            re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            c.problem(f"{path}.regex", f"bad regex: {exc}")
            regex = None
        else:
            if "\b" in regex or "\f" in regex:
                # TOML's basic strings read "\b" as a backspace: the word boundary
                # silently never matches, and the rule never fires.
                c.problem(
                    f"{path}.regex",
                    r'holds a backspace or form feed: in a "..." or """...""" TOML string '
                    r"write \\b for a word boundary, or use a '...' literal string",
                )
                regex = None
    phrases = {}
    for key in ("any", "all", "none"):
        phrases[key] = c.strings(get(key), f"{path}.{key}")
        for i, phrase in enumerate(phrases[key]):
            if not to_words(phrase.lower()).split() and not symbol_key(phrase):
                c.problem(f"{path}.{key}[{i}]", f"{quoted(phrase)} has no words or symbols")
    platforms = c.strings(get("platform"), f"{path}.platform")
    for p in platforms:
        if p not in PLATFORMS:
            c.problem(f"{path}.platform", _not_one_of(p, PLATFORMS, PLATFORM_NICKNAMES))
    below = c.number(get("sentiment_below"), f"{path}.sentiment_below", -1.0, 1.0)
    above = c.number(get("sentiment_above"), f"{path}.sentiment_above", -1.0, 1.0)
    return Conditions(
        any=phrases["any"],
        all=phrases["all"],
        none=phrases["none"],
        regex=regex,
        sentiment_below=below,
        sentiment_above=above,
        platform=platforms,
        followers_at_least=c.integer(
            get("followers_at_least"), f"{path}.followers_at_least", 0, None
        ),
        verified=c.boolean(get("verified"), f"{path}.verified"),
        author_in=c.string(get("author_in"), f"{path}.author_in", pattern=NAME),
        mentions=c.string(get("mentions"), f"{path}.mentions", pattern=NAME),
        engagement_at_least=c.integer(
            get("engagement_at_least"), f"{path}.engagement_at_least", 0, None
        ),
        is_reply=c.boolean(get("is_reply"), f"{path}.is_reply"),
        question=c.boolean(get("question"), f"{path}.question"),
        words_at_most=c.integer(get("words_at_most"), f"{path}.words_at_most", 0, None),
        has_label=c.strings(get("has_label"), f"{path}.has_label", pattern=NAME),
        lacks_label=c.strings(get("lacks_label"), f"{path}.lacks_label", pattern=NAME),
    )


def _parse_then(c: _Checker, value: Any, path: str, required: bool) -> Effects:
    if value is _MISSING:
        if required:
            c.problem(path, "missing: a rule must say what it does")
        return Effects()
    raw = c.table(value, path, _THEN_KEYS)
    if required and isinstance(value, dict) and not value:
        c.problem(path, f"empty: a rule must set one of {', '.join(_THEN_KEYS)}")
    disposition = c.choice(
        raw.get("disposition", _MISSING),
        f"{path}.disposition",
        _DISPOSITIONS,
        _DISPOSITION_NICKNAMES,
    )
    actions = c.strings(raw.get("actions", _MISSING), f"{path}.actions")
    for i, action in enumerate(actions):
        if action not in ACTIONS:
            c.problem(
                f"{path}.actions[{i}]",
                f"expected one of {', '.join(ACTIONS)}, got {described(action)}",
            )
    return Effects(
        disposition=Disposition(disposition) if disposition else None,
        score=c.number(raw.get("score", _MISSING), f"{path}.score", -2.0, 2.0) or 0.0,
        labels=c.strings(raw.get("labels", _MISSING), f"{path}.labels", pattern=NAME),
        topic=c.string(raw.get("topic", _MISSING), f"{path}.topic", pattern=NAME),
        urgency=c.integer(raw.get("urgency", _MISSING), f"{path}.urgency", -100, 100) or 0,
        segment=c.string(raw.get("segment", _MISSING), f"{path}.segment", pattern=NAME),
        actions=actions,
    )


def _parse_examples(c: _Checker, value: Any) -> tuple[Example, ...]:
    if not isinstance(value, list):
        c.problem("examples", f"expected an array of tables ([[examples]]), got {described(value)}")
        return ()
    out = []
    for i, raw in enumerate(value):
        where = f"examples[{i}]"
        table = c.table(raw, where, _EXAMPLE_KEYS)
        if not isinstance(raw, dict):  # said so; an empty table is missing its text
            continue
        before = len(c.problems)
        text = c.string(table.get("text", _MISSING), f"{where}.text")
        expect = c.choice(
            table.get("expect", _MISSING), f"{where}.expect", _DISPOSITIONS, _DISPOSITION_NICKNAMES
        )
        for key in ("text", "expect"):
            if key not in table:
                c.problem(f"{where}.{key}", "missing")
        platform = c.choice(
            table.get("platform", _MISSING), f"{where}.platform", PLATFORMS, PLATFORM_NICKNAMES
        )
        example = Example(
            text=text or "",
            expect=Disposition(expect or "ignore"),
            topic=c.string(table.get("topic", _MISSING), f"{where}.topic", pattern=NAME),
            labels=c.strings(table.get("labels", _MISSING), f"{where}.labels", pattern=NAME),
            platform=platform or "x",
            followers=c.integer(table.get("followers", _MISSING), f"{where}.followers", 0, None),
            author=c.string(table.get("author", _MISSING), f"{where}.author"),
            verified=c.boolean(table.get("verified", _MISSING), f"{where}.verified"),
            engagement=c.integer(table.get("engagement", _MISSING), f"{where}.engagement", 0, None),
            reply=c.boolean(table.get("reply", _MISSING), f"{where}.reply"),
            note=c.string(table.get("note", _MISSING), f"{where}.note") or "",
            source=c.source,
            where=where,
        )
        if len(c.problems) == before:
            out.append(example)
    return tuple(out)
