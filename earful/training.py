"""`earful train`: fit the learned layer (rules/learned.py) on a labeled CSV or TSV,
estimate how it does on posts it has not seen, and write the model file.

The reading is earful.evaluation's (the same columns and mappings as `earful eval`);
the fitting is rules.learned (pure). The estimate is k-fold cross-validation: each
row is judged by a model fitted on the other folds, so the figures printed are what
to expect on new posts from the same place, not what the model memorised.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from earful.evaluation import EvalInputError, Result, Row, Table
from listener.mention import Author, Mention
from rules import Model, Ruleset, Verdict, judge, judge_with_features, with_model
from rules.evaluate import CLASSES, class_of, misjudged, score, score_topics
from rules.learned import fit, to_json

EPOCHS = 10
# Below this many rows of a class the model has too little to learn it from.
MIN_PER_CLASS = 20

Tick = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Sample:
    row: Row
    features: tuple[str, ...]


def mention_of(row: Row) -> Mention:
    return Mention(
        platform="x", native_id=f"eval:{row.number}", text=row.text, author=Author(handle="eval")
    )


def samples(rows: Sequence[Row], ruleset: Ruleset) -> list[Sample]:
    """Each row with the features the rules give it (without any model)."""
    return [Sample(row, tuple(judge_with_features(mention_of(row), ruleset)[1])) for row in rows]


def check_enough(table: Table) -> None:
    counts = Counter(r.gold for r in table.rows)
    short = [f"{c} ({counts[c]})" for c in CLASSES if counts[c] < MIN_PER_CLASS]
    if short:
        raise EvalInputError(
            f"too few rows to learn from: {', '.join(short)}; a model needs at least "
            f"{MIN_PER_CLASS} rows of each of complaint, praise and neither"
        )


def fits_needed(items: Sequence[Sample]) -> int:
    """Epochs one model takes: the classes, and the topics when there are any."""
    return EPOCHS * (2 if _topic_items(items) else 1)


def fit_model(
    items: Sequence[Sample], trained: dict[str, object], tick: Tick | None = None
) -> Model:
    classes = fit(
        [s.features for s in items],
        [s.row.gold for s in items],
        CLASSES,
        epochs=EPOCHS,
        progress=tick,
    )
    topical = _topic_items(items)
    topics = None
    if topical:
        labels = sorted({s.row.gold_topic for s in topical if s.row.gold_topic})
        topics = fit(
            [s.features for s in topical],
            [s.row.gold_topic or "" for s in topical],
            labels,
            epochs=EPOCHS,
            progress=tick,
        )
    return Model(classes, topics, trained)


def _topic_items(items: Sequence[Sample]) -> list[Sample]:
    # A topic is learned from complaints whose cause is known, and only when
    # there are two causes or more to tell apart.
    topical = [s for s in items if s.row.gold == "complaint" and s.row.gold_topic]
    return topical if len({s.row.gold_topic for s in topical}) > 1 else []


def description(path: Path, table: Table, half: str | None, ruleset: Ruleset) -> dict[str, object]:
    counts = Counter(r.gold for r in table.rows)
    return {
        "file": path.name,
        "half": half,
        "rows": len(table.rows),
        "classes": {c: counts[c] for c in CLASSES},
        "topics": sum(1 for r in table.rows if r.gold == "complaint" and r.gold_topic),
        "rules": list(ruleset.names),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "epochs": EPOCHS,
    }


def cross_validate(
    items: Sequence[Sample],
    ruleset: Ruleset,
    folds: int,
    show_errors: int = 0,
    tick: Tick | None = None,
) -> Result:
    """Every row judged by a model fitted without its fold (rows dealt round-robin)."""
    verdicts: dict[int, Verdict] = {}
    for fold in range(folds):
        train = [s for i, s in enumerate(items) if i % folds != fold]
        model = fit_model(train, {}, tick)
        judged = with_model(ruleset, model)
        for i in range(fold, len(items), folds):
            verdicts[i] = judge(mention_of(items[i].row), judged)
    ordered = [verdicts[i] for i in range(len(items))]
    rows = [s.row for s in items]
    predicted = [class_of(v) for v in ordered]
    topics = score_topics((r.gold_topic, v.topic) for r, v in zip(rows, ordered, strict=True))
    errors = misjudged(
        (
            (r.number, r.text, r.gold, p, r.gold_topic, v.topic, v.reasons)
            for r, p, v in zip(rows, predicted, ordered, strict=True)
        ),
        show_errors,
    )
    has_topics = any(r.gold_topic for r in rows)
    return Result(
        f"{folds}-fold",
        score([r.gold for r in rows], predicted),
        topics if has_topics else None,
        tuple(errors),
    )


def save(model: Model, path: Path) -> int:
    """Write the model file atomically; returns its size in bytes."""
    data = json.dumps(to_json(model), ensure_ascii=False, separators=(",", ":")).encode()
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EvalInputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return len(data)
