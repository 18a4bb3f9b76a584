"""The learned layer: a model trained on a team's own labeled posts (`earful train`)
that re-decides complaint, praise or neither, and a complaint's topic, from what the
rules found and the words of the post.

Why a model on top of the rules: cue lists stop improving where the labels follow a
team's own habits (which questions count as complaints, which cause a story about
an agent is filed under). A multinomial logistic regression learns those habits from
a few thousand labeled posts, keeps the rules' judgement as its strongest evidence,
and can say which words and rules moved it, so a verdict still says why.

Pure: fitting, deciding and the JSON form of a model are functions of their inputs.
The engine calls `decide`; earful.training fits and saves models.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.evaluate import CLASSES
from rules.verdict import Reason

FORMAT = "earful-model"
VERSION = 1
# Fitted weights stay within a few units; a bound keeps a hand-edited file from
# summing to infinity (and NaN probabilities) on some post.
_MAX_WEIGHT = 1e6

# Long posts: the opening says what the post is about; the tail is quoted text.
_MAX_WORDS = 300
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_STRETCH = re.compile(r"(\w)\1{2,}")  # "sooooo" is "soo": one feature, however long
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")
_NUMBER = re.compile(r"\d+")


def words_of(text: str) -> list[str]:
    """The post's words and symbols as the model sees them: lowercase, links and
    @handles as placeholders (a handle names a brand or a person, not a feeling),
    digits as one shape, stretched letters squeezed."""
    lowered = _URL.sub(" url ", text.lower())
    if "@" in lowered:
        lowered = _HANDLE.sub(" @ ", lowered)
    lowered = _NUMBER.sub("0", _STRETCH.sub(r"\1\1", lowered))
    return _TOKEN.findall(lowered)[:_MAX_WORDS]


def features(
    text: str,
    rules: Iterable[str],
    disposition: str,
    score: float,
    compound: float,
    topic: str | None,
) -> list[str]:
    """Everything the model weighs, as names: the rules that fired, the rules'
    disposition, topic and scores (in bands of a quarter), each word and each pair of
    neighbouring words."""
    words = words_of(text)
    out = ["bias", f"d:{disposition}", f"s:{round(score * 4):+d}", f"c:{round(compound * 4):+d}"]
    out += ["r:" + r for r in rules]
    if topic is not None:
        out.append("t:" + topic)
    out += ["w:" + w for w in words]
    out += [f"p:{a} {b}" for a, b in itertools.pairwise(words)]
    # sorted: the same post gives the same list in every process (sets are not)
    return sorted(set(out))


@dataclass(frozen=True)
class Weights:
    """One multinomial logistic regression: a weight per label for each feature."""

    labels: tuple[str, ...]
    table: Mapping[str, tuple[float, ...]]

    def probabilities(self, names: Iterable[str]) -> list[float]:
        return self._softmax(self._rows(names))

    def likeliest(self, names: Iterable[str]) -> tuple[str, float]:
        p = self.probabilities(names)
        k = max(range(len(p)), key=p.__getitem__)
        return self.labels[k], p[k]

    def best(self, names: Iterable[str]) -> tuple[str, float, list[str]]:
        """The likeliest label, its probability, and the three features that pulled
        hardest towards it against the other labels."""
        rows = self._rows(names)
        p = self._softmax(rows)
        k = max(range(len(p)), key=p.__getitem__)
        others = len(self.labels) - 1 or 1
        pulls = heapq.nlargest(
            3,
            (
                (row[k] - (sum(row) - row[k]) / others, shown)
                for name, row in rows.items()
                if (shown := _shown(name)) is not None
            ),
        )
        return self.labels[k], p[k], [shown for pull, shown in pulls if pull > 0]

    def _rows(self, names: Iterable[str]) -> dict[str, tuple[float, ...]]:
        get = self.table.get
        return {n: row for n in names if (row := get(n)) is not None}

    def _softmax(self, rows: Mapping[str, tuple[float, ...]]) -> list[float]:
        # zip(*rows) turns the rows into one column per label: the sums run in C
        z = [sum(col) for col in zip(*rows.values(), strict=True)] if rows else []
        z = z or [0.0] * len(self.labels)
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return [v / total for v in e]


@dataclass(frozen=True)
class Model:
    classes: Weights  # complaint / praise / neither
    topics: Weights | None  # a complaint's topic, when the training data had causes
    trained: Mapping[str, Any]  # what it learned from: file, rows, date, rule files
    source: str = "model"  # where it was read from, for messages

    def decide(
        self, names: Sequence[str], said: str, topical: str | None
    ) -> tuple[str, str | None, Reason]:
        """The class, the topic (None: the rules' topic `topical` stands), and the
        reason, given the class the rules `said`. Topics are learned from
        complaints: a complaint the rules gave no topic gets the model's, and so
        does any post whose rules' topic is one the model knows (it tells those
        causes apart better); a topic the model never saw stays the rules'."""
        cls, p, why = self.classes.best(names)
        topic = None
        if cls == said:
            detail = f"{cls} ({p:.0%}), as the rules said"
        else:
            detail = f"{cls} ({p:.0%}) where the rules said {said}"
        if self.topics is not None and (
            topical in self.topics.labels or (topical is None and cls == "complaint")
        ):
            topic, tp = self.topics.likeliest(names)
            detail += f"; topic {topic} ({tp:.0%})"
        lead = ", ".join(why) if why else "nothing in particular"
        return cls, topic, Reason("model", f"{detail}; leaning on {lead}")


# What a person can read in a reason: words, not the placeholders words_of puts in.
_PLACEHOLDERS = frozenset(["url", "@", "0"])


def _word(value: str) -> bool:
    return value not in _PLACEHOLDERS and any(c.isalnum() for c in value)


def _shown(name: str) -> str | None:
    """A feature as a reason shows it; None for those that say nothing to a person
    (punctuation, placeholders, the bias, the rules' disposition the reason states)."""
    kind, _, value = name.partition(":")
    if kind == "w":
        return f'"{value}"' if _word(value) else None
    if kind == "p":
        return f'"{value}"' if all(_word(w) for w in value.split(" ")) else None
    if kind in ("s", "c") and value.lstrip("+-").isdigit():
        lead = "score" if kind == "s" else "VADER"
        return f"{lead} about {int(value) / 4:+.2f}"
    if kind == "r":
        return f"rule {value}"
    if kind == "t":
        return f"the rules' topic {value}"
    return None


# -- fitting ----------------------------------------------------------------------------


def fit(
    samples: Sequence[Sequence[str]],
    gold: Sequence[str],
    labels: Sequence[str],
    *,
    epochs: int = 10,
    rate: float = 0.05,
    l2: float = 1e-4,
    min_count: int = 1,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Weights:
    """Stochastic gradient descent on the log loss, the learning rate falling each
    epoch. Features seen in fewer than `min_count` samples are dropped (one-off words
    still help a little on the airline tweets, so the default keeps them).
    Deterministic for a given seed. `progress` is called with 1 after each epoch."""
    if len(samples) != len(gold):
        raise ValueError("one gold label per sample")
    counts = Counter(name for names in samples for name in names)
    index: dict[str, int] = {}
    for name, n in counts.items():
        if n >= min_count:
            index[name] = len(index)
    at = {label: k for k, label in enumerate(labels)}
    xs = [[index[n] for n in names if n in index] for names in samples]
    ys = [at[g] for g in gold]
    w = [[0.0] * len(index) for _ in labels]
    order = list(range(len(xs)))
    shuffle = random.Random(seed).shuffle
    for epoch in range(epochs):
        shuffle(order)
        eta = rate / (1 + 0.5 * epoch)
        shrink = eta * l2
        for i in order:
            x = xs[i]
            z = [sum(map(row.__getitem__, x)) for row in w]
            top = max(z)
            e = [math.exp(v - top) for v in z]
            total = sum(e)
            y = ys[i]
            for k, row in enumerate(w):
                g = e[k] / total - (k == y)
                if -1e-4 < g < 1e-4:
                    continue  # nothing to learn here; saves most of the time late on
                step = eta * g
                for j in x:
                    row[j] -= step + shrink * row[j]
        if progress is not None:
            progress(1)
    table = {
        name: tuple(round(w[k][j], 4) for k in range(len(labels))) for name, j in index.items()
    }
    return Weights(tuple(labels), {n: r for n, r in table.items() if any(r)})


# -- the file ---------------------------------------------------------------------------


class ModelError(Exception):
    """A model file that cannot be used, and why."""


def to_json(model: Model) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "trained": dict(model.trained),
        "classes": _weights_json(model.classes),
        "topics": None if model.topics is None else _weights_json(model.topics),
    }


def _weights_json(weights: Weights) -> dict[str, Any]:
    table = {n: list(r) for n, r in weights.table.items()}
    return {"labels": list(weights.labels), "weights": table}


def from_json(data: Any, source: str) -> Model:
    """A model from its JSON form; ModelError says what is wrong with it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"{source}: not an Earful model (made by `earful train`)")
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        raise ModelError(
            f"{source}: model format version {version!r:.20}; this Earful reads "
            f"version {VERSION}: train it again with `earful train`"
        )
    classes = _weights(data.get("classes"), f"{source}: classes")
    if set(classes.labels) != set(CLASSES):
        raise ModelError(f"{source}: classes: expected the labels {', '.join(CLASSES)}")
    topics = data.get("topics")
    trained = data.get("trained")
    return Model(
        classes=classes,
        topics=None if topics is None else _weights(topics, f"{source}: topics"),
        trained=trained if isinstance(trained, dict) else {},
        source=source,
    )


def _weights(data: Any, where: str) -> Weights:
    if not isinstance(data, dict):
        raise ModelError(f"{where}: expected a table with labels and weights")
    labels = data.get("labels")
    table = data.get("weights")
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ModelError(f"{where}: labels: expected a list of different names")
    if not isinstance(table, dict):
        raise ModelError(f"{where}: weights: expected a table of feature -> numbers")
    if "bias" not in table:
        raise ModelError(f"{where}: weights: no bias row; a fitted model always has one")
    out = {}
    for name, row in table.items():
        if (
            not isinstance(row, list)
            or len(row) != len(labels)
            or not all(type(v) in (int, float) and -_MAX_WEIGHT <= v <= _MAX_WEIGHT for v in row)
        ):
            raise ModelError(
                f"{where}: weights[{name!r:.40}]: expected {len(labels)} numbers between "
                f"-{_MAX_WEIGHT:g} and {_MAX_WEIGHT:g}, got {row!r:.60}"
            )
        out[name] = tuple(float(v) for v in row)
    return Weights(tuple(labels), out)
