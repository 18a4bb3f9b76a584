"""`earful train`: fit the learned layer (rules/learned.py) on a labeled CSV or TSV,
estimate how it does on posts it has not seen, and write the model file.

The reading is earful.evaluation's (the same columns and mappings as `earful eval`);
the fitting is rules.learned (pure). The estimate is k-fold cross-validation: each
row is judged by a model fitted on the other folds, so the figures printed are what
to expect on new posts from the same place, not what the model memorised.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from earful.evaluation import (
    EvalInputError,
    Result,
    Row,
    Table,
    in_half,
    mention_of,
    result_of,
)
from rules import Model, Ruleset, Verdict, judge, judge_with_features, with_model
from rules.evaluate import CLASSES
from rules.learned import FORMAT, fit, to_json
from storage.files import replaced

EPOCHS = 10
# Below this many rows of a class the model has too little to learn it from.
MIN_PER_CLASS = 20
# A model is a few MB (6.8 MB from 11,000 airline posts); a file far bigger is not
# read through to find out whether it is one.
MODEL_PEEK = 64 * 2**20

Tick = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Sample:
    row: Row
    features: tuple[str, ...]


def samples(rows: Iterable[Row], ruleset: Ruleset) -> list[Sample]:
    """Each row with the features the rules give it (without any model)."""
    return [Sample(row, tuple(judge_with_features(mention_of(row), ruleset)[1])) for row in rows]


def check_enough(table: Table, path: Path, half: str | None = None) -> None:
    counts = Counter(r.gold for r in table.rows)
    short = [f"{c} ({counts[c]})" for c in CLASSES if counts[c] < MIN_PER_CLASS]
    if short:
        # the counts are of the half's rows: the file itself may have enough
        where = f" in the {half} rows (--half {half})" if half else ""
        raise EvalInputError(
            f"{path}: too few rows to learn from{where}: {', '.join(short)}; a model needs "
            f"at least {MIN_PER_CLASS} rows of each of complaint, praise and neither"
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
        "rules_fingerprint": fingerprint(ruleset),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "epochs": EPOCHS,
    }


def cross_validate(
    items: Sequence[Sample],
    ruleset: Ruleset,
    folds: int,
    show_errors: int = 0,
    tick: Tick | None = None,
    score_half: str | None = None,
) -> Result:
    """Every row judged by a model fitted without its fold (rows dealt round-robin).
    `score_half` ("odd" or "even") scores only those rows; all rows still train."""
    verdicts: dict[int, Verdict] = {}
    for fold in range(folds):
        train = [s for i, s in enumerate(items) if i % folds != fold]
        model = fit_model(train, {}, tick)
        judged = with_model(ruleset, model)
        for i in range(fold, len(items), folds):
            verdicts[i] = judge(mention_of(items[i].row), judged)
    keep = (i for i, s in enumerate(items) if in_half(s.row, score_half))
    return result_of(f"{folds}-fold", ((items[i].row, verdicts[i]) for i in keep), show_errors)


def check_output(path: Path, data: Path, *, force: bool = False) -> None:
    """Refuse, before any fitting, an output that cannot be written or would destroy
    something that is not a model: the training file, a config, a folder."""
    if not path.name:
        raise EvalInputError("-o: give a file name for the model")
    if path.is_dir():
        raise EvalInputError(f"{path}: is a folder; give a file name for the model")
    folder = path.parent
    if not folder.is_dir():
        raise EvalInputError(f"{path}: cannot write: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise EvalInputError(f"{path}: cannot write: the folder {folder} is not writable")
    if not path.exists():
        return
    if data.exists() and path.samefile(data):
        raise EvalInputError(f"{path}: that is the labeled file itself; give another name")
    if not force and not _is_model(path):
        raise EvalInputError(
            f"{path} exists and is not an Earful model; give another name, or --force to replace it"
        )


def _is_model(path: Path) -> bool:
    # Parsed, not matched byte for byte: a model re-saved indented is still a model.
    try:
        with path.open("rb") as f:
            data = f.read(MODEL_PEEK + 1)
    except OSError:
        return False
    if len(data) > MODEL_PEEK:
        return False
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and parsed.get("format") == FORMAT


def fingerprint(ruleset: Ruleset) -> str:
    """What a model's rule features depend on: the rules' ids, in order, and which
    are on. A model trained with other rules should be trained again."""
    ids = [f"{r.id}:{int(r.enabled)}" for r in ruleset.rules]
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def save(model: Model, path: Path) -> int:
    """Write the model file atomically and durably, readable as a config file is
    (the umask decides, not mkstemp's owner-only mode); returns its size in bytes."""
    data = json.dumps(to_json(model), ensure_ascii=False, separators=(",", ":")).encode()
    try:
        with replaced(path) as partial:
            partial.write_bytes(data)
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return len(data)
