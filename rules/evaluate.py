"""Scoring judgements against human labels: pure arithmetic, no I/O.

`earful eval`, the tests and the benchmarks all score through here, so the figures
in docs/quality.md mean the same thing wherever they are printed.

Earful's four dispositions are scored as three classes, the ones a labeled data set
usually has (see CLASS_OF):

    interesting_bad  -> complaint
    interesting_good -> praise
    question, ignore -> neither

VADER alone (the baseline) is scored with the usual cut-offs on its compound:
>= 0.05 praise, <= -0.05 complaint, else neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rules.verdict import Disposition, Reason, Verdict

COMPLAINT = "complaint"
PRAISE = "praise"
NEITHER = "neither"
CLASSES: tuple[str, ...] = (COMPLAINT, PRAISE, NEITHER)

CLASS_OF: Mapping[Disposition, str] = {
    Disposition.INTERESTING_BAD: COMPLAINT,
    Disposition.INTERESTING_GOOD: PRAISE,
    Disposition.QUESTION: NEITHER,
    Disposition.IGNORE: NEITHER,
}

# VADER's own recommended thresholds (vaderSentiment README).
VADER_POSITIVE = 0.05
VADER_NEGATIVE = -0.05


def class_of(verdict: Verdict) -> str:
    """The class a verdict counts as: complaint, praise or neither."""
    return CLASS_OF[verdict.disposition]


def vader_class(compound: float) -> str:
    """VADER alone: the class its compound score falls in."""
    if compound >= VADER_POSITIVE:
        return PRAISE
    if compound <= VADER_NEGATIVE:
        return COMPLAINT
    return NEITHER


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # how many rows have this gold label
    predicted: int  # how many rows were judged to be this label


@dataclass(frozen=True, slots=True)
class Scores:
    """Per-class precision/recall/F1, macro-F1, accuracy and the confusion matrix.

    `confusion[gold][predicted]` counts rows; every label of `labels` has a row and
    a column, zeros included, so the matrix prints and serialises the same way
    every time. A class nobody predicted has precision 0 (not undefined), a class
    with no gold rows recall 0: the conventional zero-division choice, stated so
    figures are comparable with other tools (scikit-learn's zero_division=0).
    """

    labels: tuple[str, ...]
    classes: tuple[ClassScore, ...]
    confusion: Mapping[str, Mapping[str, int]]
    total: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_f1(self) -> float:
        # The mean over classes that occur in the gold labels: a class absent
        # from the data set would drag the mean down for nothing it could do.
        present = [c.f1 for c in self.classes if c.support]
        return sum(present) / len(present) if present else 0.0

    def of(self, label: str) -> ClassScore:
        for c in self.classes:
            if c.label == label:
                return c
        raise KeyError(label)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = CLASSES) -> Scores:
    """Score `predicted` against `gold`, row by row. Labels outside `labels` are an
    error: a typo in a mapping must not quietly count as a miss."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    known = set(labels)
    unknown = sorted((set(gold) | set(predicted)) - known)
    if unknown:
        raise ValueError(f"labels not among {', '.join(labels)}: {', '.join(unknown)}")
    confusion = {g: dict.fromkeys(labels, 0) for g in labels}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    classes = []
    for label in labels:
        hit = confusion[label][label]
        support = sum(confusion[label].values())
        called = sum(confusion[g][label] for g in labels)
        precision = _ratio(hit, called)
        recall = _ratio(hit, support)
        classes.append(
            ClassScore(label, precision, recall, _f1(precision, recall), support, called)
        )
    correct = sum(confusion[label][label] for label in labels)
    return Scores(tuple(labels), tuple(classes), confusion, len(gold), correct)


@dataclass(frozen=True, slots=True)
class TopicScore:
    """Root-cause accuracy on the rows whose cause is known."""

    correct: int
    total: int
    confusion: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def score_topics(pairs: Iterable[tuple[str | None, str | None]]) -> TopicScore:
    """(gold topic, judged topic) pairs; rows whose gold topic is None or "" are
    skipped (cause unknown). A row judged without a topic counts as wrong, and shows
    in the confusion as "-"."""
    correct = total = 0
    confusion: dict[str, dict[str, int]] = {}
    for gold, got in pairs:
        if not gold:
            continue
        total += 1
        correct += gold == got
        row = confusion.setdefault(gold, {})
        key = got or "-"
        row[key] = row.get(key, 0) + 1
    return TopicScore(correct, total, confusion)


@dataclass(frozen=True, slots=True)
class Misjudged:
    """One row judged wrongly, with what fired, for `--show-errors`."""

    row: int  # 1-based data row in the file (the header not counted)
    text: str
    gold: str
    predicted: str
    gold_topic: str | None
    topic: str | None
    reasons: tuple[Reason, ...]


def is_misjudged(gold: str, predicted: str, gold_topic: str | None, topic: str | None) -> bool:
    """Whether a row's class, or its topic where the cause is known, is wrong."""
    return gold != predicted or bool(gold_topic and gold_topic != topic)


def misjudged(
    rows: Iterable[tuple[int, str, str, str, str | None, str | None, tuple[Reason, ...]]],
    limit: int,
) -> list[Misjudged]:
    """The first `limit` rows whose class (or known topic) is wrong, in file order.
    Each row: (row number, text, gold, predicted, gold topic, topic, reasons)."""
    out: list[Misjudged] = []
    if limit <= 0:
        return out
    for row, text, gold, predicted, gold_topic, topic, reasons in rows:
        if is_misjudged(gold, predicted, gold_topic, topic):
            out.append(Misjudged(row, text, gold, predicted, gold_topic, topic, reasons))
            if len(out) >= limit:
                break
    return out
