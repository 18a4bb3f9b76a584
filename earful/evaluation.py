"""`earful eval`: read a labeled CSV or TSV, judge every row, score the verdicts.

The reading and mapping live here; the arithmetic is rules.evaluate (pure). Bad
input -- a missing column, a label no mapping covers, a file that is not text --
raises EvalInputError with what is wrong and how to fix it; the CLI turns it into
exit code 2.
"""

from __future__ import annotations

import codecs
import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from earful.display import counted
from listener.mention import Author, Mention
from rules import Disposition, Ruleset, Verdict, judge
from rules.evaluate import (
    CLASS_OF,
    CLASSES,
    Misjudged,
    Scores,
    TopicScore,
    class_of,
    is_misjudged,
    misjudged,
    score,
    score_topics,
    vader_class,
)

BASELINES = ("vader",)
# Shown in --json as "unknown topic": a cause the data set itself could not tell.
_NO_TOPIC = frozenset(["", "-"])
# The longest field read, in characters. csv's own limit, 128 KiB, is shorter than
# some reviews; a bound still stops a quote that is never closed from making the rest
# of a big file one field.
FIELD_LIMIT = 4 * 2**20
# What the separator is sniffed from, in characters; and the bytes read at a time
# while making sure a file is UTF-8 (a big file is never held whole).
HEAD = 8192
CHUNK = 2**20
# The separators a file is sniffed for, as the messages name them.
_SEPARATORS = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "bars"}


class EvalInputError(Exception):
    """The file or the options cannot be evaluated as given."""


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # 1-based data row (the header not counted)
    text: str
    gold: str  # complaint | praise | neither
    gold_topic: str | None  # an Earful topic, or None when the cause is unknown


@dataclass(frozen=True, slots=True)
class Table:
    rows: tuple[Row, ...]
    skipped: int  # rows with no text or no label: not scored, but counted
    delimiter: str
    # "--map praize": mappings no row of the file has, a typo a person should hear of
    unused_maps: tuple[str, ...] = ()


@dataclass
class _Scan:
    """What reading the file's rows found."""

    rows: list[Row] = field(default_factory=list)
    skipped: int = 0
    bad_labels: Counter[str] = field(default_factory=Counter)
    bad_topics: Counter[str] = field(default_factory=Counter)
    labels_seen: set[str] = field(default_factory=set)  # casefolded, as --map keys are
    causes_seen: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Result:
    """One system's scores on one file."""

    name: str
    scores: Scores
    topics: TopicScore | None
    errors: tuple[Misjudged, ...]


# -- options ------------------------------------------------------------------------


def parse_pairs(values: Iterable[str], option: str) -> dict[str, str]:
    """ "a=b,c=d" (repeatable) to {"a": "b", "c": "d"}. Keys keep their case; a value
    holding a comma can be given in an option of its own."""
    out: dict[str, str] = {}
    for value in values:
        parts = [value] if value.count("=") == 1 else value.split(",")
        for part in parts:
            if not part.strip():
                continue
            key, sep, target = part.partition("=")
            if not sep or not key.strip():
                raise EvalInputError(f'{option}: expected FROM=TO, got "{part}"')
            out[key.strip()] = target.strip()
    return out


def label_map(pairs: Mapping[str, str]) -> dict[str, str]:
    """A --map: each target is complaint, praise or neither, or a disposition name."""
    by_disposition = {d.value: c for d, c in CLASS_OF.items()}
    out = {}
    for key, target in pairs.items():
        cls = target if target in CLASSES else by_disposition.get(target)
        if cls is None:
            allowed = ", ".join((*CLASSES, *by_disposition))
            raise EvalInputError(f'--map {key}={target}: "{target}" is not one of {allowed}')
        out[key.casefold()] = cls
    return out


# -- reading ------------------------------------------------------------------------


def _delimiter(path: Path, head: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    first = head.partition("\n")[0]
    # Excel saves "CSV" with semicolons where the comma is the decimal point: a .csv
    # whose first line has no comma at all is sniffed like any other name.
    if suffix == ".csv" and "," in first:
        return ","
    try:
        return csv.Sniffer().sniff(head, delimiters="".join(_SEPARATORS)).delimiter
    except csv.Error:
        return max(_SEPARATORS, key=first.count)  # a tie goes to the comma


def _column(spec: str, header: Sequence[str] | None, what: str, delimiter: str) -> int:
    """A column by name (exact, then ignoring case) or by 1-based number."""
    if header is not None:
        folded = spec.casefold()
        for found in (
            [i for i, h in enumerate(header) if h == spec],
            [i for i, h in enumerate(header) if h.casefold() == folded],
        ):
            if len(found) > 1:
                # taking the first would score whichever column a spreadsheet put first
                numbers = " and ".join(str(i + 1) for i in found)
                raise EvalInputError(
                    f'{what} "{spec}": the file has {len(found)} columns of that name '
                    f"(columns {numbers}); give the column's number instead"
                )
            if found:
                return found[0]
    width = len(header) if header is not None else None
    # isdigit() is true of "²" and "１", which int() fails or reads as 1
    number = int(spec) if spec.isascii() and spec.isdigit() else 0
    if number >= 1 and (width is None or number <= width):
        return number - 1
    if header is None:
        raise EvalInputError(f"{what} {spec}: with --no-header, give a column number from 1")
    names = ", ".join(header)
    hint = _separator_hint(header, delimiter)
    raise EvalInputError(f'{what} "{spec}": no such column; the file has: {names}{hint}')


def _separator_hint(header: Sequence[str], delimiter: str) -> str:
    """Why the columns may be wrong: the header holds another separator than the one
    the file was read with."""
    others = [d for d in _SEPARATORS if d != delimiter and any(d in h for h in header)]
    if not others:
        return ""
    return (
        f"; the file was read as separated by {_SEPARATORS[delimiter]}, but its first "
        f"line holds {_SEPARATORS[others[0]]} (.tsv and .tab files are read as "
        "tab-separated, .csv files as comma-separated when the first line has a comma, "
        "other names are sniffed)"
    )


def in_half(row: Row, half: str | None) -> bool:
    """Whether a row is in the "odd" or "even" half (1-based data rows); None: all."""
    return _numbered_in_half(row.number, half)


def _numbered_in_half(number: int, half: str | None) -> bool:
    return half is None or number % 2 == (half == "odd")


def read_table(
    path: Path,
    *,
    text_col: str,
    label_col: str,
    labels: Mapping[str, str],
    sign_labels: bool = False,
    topic_col: str | None = None,
    topics: Mapping[str, str] | None = None,
    known_topics: Iterable[str] = (),
    no_header: bool = False,
    half: str | None = None,
) -> Table:
    """Read and map every row; raise EvalInputError on anything that would make the
    figures wrong (an unmapped label or topic is listed with its count, all at once).
    `half` = "odd" or "even" keeps only those data rows (1-based): tune the rules on
    one half, check them on the other."""
    delimiter = _delimiter(path, _text_head(path))
    # strict: a stray quote is an error, not a field that swallows the rows after it
    with _opened(path) as file, _field_limit(FIELD_LIMIT):
        reader = csv.reader(file, delimiter=delimiter, strict=True)
        # the line the record being read started on: a list, written by the generator
        # and read by the except clause below
        start_line = [1]
        records = _noting_start_line(reader, start_line)
        try:
            header = None if no_header else next(records, None)
            text_i = _column(text_col, header, "--text-col", delimiter)
            label_i = _column(label_col, header, "--label-col", delimiter)
            topic_i = _column(topic_col, header, "--topic-col", delimiter) if topic_col else None
            scan = _rows(
                records,
                (text_i, label_i, topic_i),
                labels,
                sign_labels,
                topics or {},
                known_topics,
                half,
            )
            width = _first_width(file, delimiter) if not scan.rows else 0
        except csv.Error as exc:
            raise _csv_error(path, start_line[0], exc) from None
    rows = [r for r in scan.rows if in_half(r, half)]
    problems = []
    if scan.bad_labels:
        listed = _most_common(scan.bad_labels)
        problems.append(
            f"--sign-labels reads each label as a number, and these are not: {listed}"
            if sign_labels
            else f"labels with no class: {listed}; map each with --map "
            "LABEL=complaint|praise|neither"
        )
    if scan.bad_topics:
        listed = _most_common(scan.bad_topics)
        known = ", ".join(sorted(known_topics))
        problems.append(
            f"topics Earful does not know: {listed}; map each with --topic-map CAUSE=TOPIC "
            f'(topics: {known}), or CAUSE= for "cause unknown"'
        )
    if problems:
        raise EvalInputError(f"{path}: " + "\n".join(problems))
    if not rows:
        raise EvalInputError(
            f"{path}: no rows with both a text and a label (text from column {text_i + 1}, "
            f"label from column {label_i + 1}; the first line has {width} columns)"
        )
    unused = [f"--map {k}" for k in labels if k not in scan.labels_seen]
    unused += [f"--topic-map {k}" for k in (topics or {}) if k not in scan.causes_seen]
    return Table(tuple(rows), scan.skipped, delimiter, tuple(unused))


def _text_head(path: Path) -> str:
    """The file's first characters, once all of it is known to be UTF-8 text with
    something in it."""
    head, blank = "", True
    for text in _decoded(path):
        head += text[: HEAD - len(head)]
        blank = blank and not text.strip()
    if blank:
        raise EvalInputError(f"{path}: the file is empty")
    return head


def _decoded(path: Path) -> Iterator[str]:
    """The file's text a chunk at a time, its BOM left out; where it is not UTF-8,
    EvalInputError says the line and byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = lines = 0
    try:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                buffered = decoder.getstate()[0] + chunk
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = lines + buffered[: exc.start].count(b"\n") + 1
                    at = done - (len(buffered) - len(chunk)) + exc.start
                    raise _not_utf8(path, line, at) from None
                yield text if done else text.removeprefix("\ufeff")
                done, lines = done + len(chunk), lines + chunk.count(b"\n")
            if decoder.getstate()[0]:  # a character cut off by the end of the file
                raise _not_utf8(path, lines + 1, done - len(decoder.getstate()[0]))
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _not_utf8(path: Path, line: int, at: int) -> EvalInputError:
    return EvalInputError(
        f'{path}: line {line}: not UTF-8 text (byte {at}); save it as UTF-8 (Excel: "CSV UTF-8")'
    )


@contextmanager
def _opened(path: Path) -> Iterator[TextIO]:
    """The file as text, a row at a time; its BOM, if any, left out."""
    try:
        file = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise EvalInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with file:
        yield file


def _first_width(file: TextIO, delimiter: str) -> int:
    """How many columns the file's first line has (for a message)."""
    file.seek(0)
    return len(next(csv.reader(file, delimiter=delimiter), []))


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """csv's field limit raised for one read (it is the whole process's setting)."""
    before = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _csv_error(path: Path, line: int, exc: csv.Error) -> EvalInputError:
    if "field larger than field limit" in str(exc):
        return EvalInputError(
            f"{path}: line {line}: a field starting on that line is over {FIELD_LIMIT:,} "
            "characters long, the most eval reads: no post is that long, so most likely "
            "a quote opened there is never closed"
        )
    return EvalInputError(
        f"{path}: line {line}: not valid CSV ({exc}): a quoted field starting "
        "on that line is not closed where it should be"
    )


def _most_common(counts: Counter[str], shown: int = 10) -> str:
    """The commonest values with their counts; a file of free text in the label
    column must not make a message of thousands."""
    listed = ", ".join(f'"{k}" ({n})' for k, n in counts.most_common(shown))
    more = len(counts) - shown
    return listed + (f" and {more} more" if more > 0 else "")


def _noting_start_line(reader: Any, start_line: list[int]) -> Iterator[list[str]]:
    """The reader's records, noting in `start_line` the line each one starts on."""
    while True:
        start_line[0] = reader.line_num + 1
        record = next(reader, None)
        if record is None:
            return
        yield record


def _rows(
    reader: Iterator[list[str]],
    columns: tuple[int, int, int | None],
    labels: Mapping[str, str],
    sign_labels: bool,
    topics: Mapping[str, str],
    known_topics: Iterable[str],
    half: str | None,
) -> _Scan:
    """The file's rows; `skipped` counts those of `half` only, the label and topic
    problems those of the whole file (a mapping is wrong whichever half it hits)."""
    text_i, label_i, topic_i = columns
    known = frozenset(known_topics)
    scan = _Scan()
    # Blank lines are no rows: numbered, a file saved with \r\r\n line ends would put
    # every data row on an even number and `--half odd` would find none.
    records = (r for r in reader if any(cell.strip() for cell in r))
    for number, record in enumerate(records, 1):
        text, label = _cell(record, text_i), _cell(record, label_i).strip()
        if not text.strip() or not label:
            scan.skipped += _numbered_in_half(number, half)
            continue
        scan.labels_seen.add(label.casefold())
        gold = _gold(label, labels, sign_labels)
        if gold is None:
            scan.bad_labels[label] += 1
            continue
        gold_topic = None
        if topic_i is not None:
            cause = _cell(record, topic_i).strip()
            scan.causes_seen.add(cause)
            gold_topic = topics.get(cause, cause)
            if gold_topic in _NO_TOPIC:
                gold_topic = None
            elif gold_topic not in known:
                scan.bad_topics[cause] += 1
                continue
        scan.rows.append(Row(number, text, gold, gold_topic))
    return scan


def _cell(record: Sequence[str], i: int) -> str:
    # Spreadsheets leave out a row's empty last cells: a missing cell is an empty one
    # (no cause given is "cause unknown", not a row that cannot be scored).
    return record[i] if i < len(record) else ""


def _gold(label: str, labels: Mapping[str, str], sign_labels: bool) -> str | None:
    if sign_labels:
        try:
            value = float(label)
        except ValueError:
            return None
        if not math.isfinite(value):
            return None  # "nan" has no sign, and "inf" is no rating: both are typos
        return "praise" if value > 0 else "complaint" if value < 0 else "neither"
    folded = label.casefold()
    if folded in labels:
        return labels[folded]
    return folded if folded in CLASSES else None


# -- judging and scoring --------------------------------------------------------------


def evaluate(
    table: Table,
    ruleset: Ruleset,
    *,
    show_errors: int = 0,
    baseline: str | None = None,
    progress: Callable[[Sequence[Row]], Any] | None = None,
    polarity: bool = False,
) -> list[Result]:
    """Earful's scores, then the baseline's when asked. `progress` wraps the rows
    being judged (a progress bar); it must yield them unchanged. `polarity` judges
    each verdict by the sign of its score (the +/-0.05 cut-offs VADER uses) instead
    of its disposition: plain sentiment, for data sets labeled by sentiment alone."""
    rows = table.rows
    walk = progress(rows) if progress is not None else rows
    judged = ((row, judge(mention_of(row), ruleset)) for row in walk)
    results = [result_of("earful", judged, show_errors, polarity=polarity)]
    return results + baseline_results(rows, baseline, show_errors)


def mention_of(row: Row) -> Mention:
    """A labeled row as the post it is judged as: on X, by an author with no reach."""
    return Mention(
        platform="x", native_id=f"eval:{row.number}", text=row.text, author=Author(handle="eval")
    )


def result_of(
    name: str,
    judged: Iterable[tuple[Row, Verdict]],
    show_errors: int,
    *,
    polarity: bool = False,
) -> Result:
    """The scores of one system's verdicts, taken a row at a time: a verdict is over
    a kilobyte, so only what the scores need is kept (the classes, the topics where
    the cause is known, the first `show_errors` errors), not the verdicts."""
    gold: list[str] = []
    predicted: list[str] = []
    topics: list[tuple[str, str | None]] = []
    errors: list[Misjudged] = []
    for row, verdict in judged:
        said = vader_class(verdict.score) if polarity else class_of(verdict)
        gold.append(row.gold)
        predicted.append(said)
        if row.gold_topic:
            topics.append((row.gold_topic, verdict.topic))
        if len(errors) < show_errors and is_misjudged(
            row.gold, said, row.gold_topic, verdict.topic
        ):
            errors.append(_misjudged(row, said, verdict))
    scored_topics = score_topics(topics) if topics else None
    return Result(name, score(gold, predicted), scored_topics, tuple(errors))


def _misjudged(row: Row, predicted: str, verdict: Verdict) -> Misjudged:
    return Misjudged(
        row.number, row.text, row.gold, predicted, row.gold_topic, verdict.topic, verdict.reasons
    )


def baseline_results(rows: Sequence[Row], baseline: str | None, show_errors: int) -> list[Result]:
    """The baseline's scores (none without one)."""
    if baseline is None:
        return []
    if baseline != "vader":
        raise EvalInputError(f"--baseline {baseline}: expected one of {', '.join(BASELINES)}")
    return [_vader(rows, [r.gold for r in rows], show_errors)]


def _vader(rows: Sequence[Row], gold: Sequence[str], show_errors: int) -> Result:
    # The stock library, untouched by Earful's lexicon: the baseline as anyone
    # would measure it.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from rules.verdict import Reason

    analyzer = SentimentIntensityAnalyzer()
    compounds = [analyzer.polarity_scores(r.text)["compound"] for r in rows]
    predicted = [vader_class(c) for c in compounds]
    errors = misjudged(
        (
            (r.number, r.text, g, p, None, None, (Reason("vader", f"compound {c:+.3f}", c),))
            for r, g, p, c in zip(rows, gold, predicted, compounds, strict=True)
        ),
        show_errors,
    )
    return Result("vader", score(gold, predicted), None, tuple(errors))


# -- output ---------------------------------------------------------------------------


def _r(x: float) -> float:
    return round(x, 4)


def result_json(result: Result) -> dict[str, Any]:
    s = result.scores
    topics = result.topics
    return {
        "classes": {
            c.label: {
                "precision": _r(c.precision),
                "recall": _r(c.recall),
                "f1": _r(c.f1),
                "support": c.support,
                "predicted": c.predicted,
            }
            for c in s.classes
        },
        "macro_f1": _r(s.macro_f1),
        "accuracy": _r(s.accuracy),
        "confusion": {g: dict(row) for g, row in s.confusion.items()},
        "topic": None
        if topics is None
        else {
            "accuracy": _r(topics.accuracy),
            "correct": topics.correct,
            "total": topics.total,
            "confusion": {
                g: dict(sorted(row.items())) for g, row in sorted(topics.confusion.items())
            },
        },
        "errors": [
            {
                "row": e.row,
                "text": e.text,
                "gold": e.gold,
                "predicted": e.predicted,
                "gold_topic": e.gold_topic,
                "topic": e.topic,
                "reasons": [
                    {"rule": r.rule, "detail": r.detail, "weight": r.weight} for r in e.reasons
                ],
            }
            for e in result.errors
        ],
    }


def report_json(path: Path, table: Table, results: Sequence[Result]) -> dict[str, Any]:
    return {
        "file": str(path),
        "rows": len(table.rows),
        "skipped": table.skipped,
        "classes": list(CLASSES),
        "mapping": {d.value: CLASS_OF[d] for d in Disposition},
        "results": {r.name: result_json(r) for r in results},
    }


def report_lines(table: Table, results: Sequence[Result]) -> list[str]:
    """The human-readable report: a table per system, side by side when there are two."""
    lines = [
        f"{counted(len(table.rows), 'row')} scored"
        + (f", {table.skipped} skipped (no text or label)" if table.skipped else "")
    ]
    names = [r.name for r in results]
    head = f"{'':<12}" + "".join(f"{n:>26}" for n in names)
    lines += ["", head, f"{'':<12}" + "".join(f"{'P':>8} {'R':>8} {'F1':>8}" for _ in names)]
    for label in CLASSES:
        cells = []
        for r in results:
            c = r.scores.of(label)
            cells.append(f"{c.precision:>8.3f} {c.recall:>8.3f} {c.f1:>8.3f}")
        support = results[0].scores.of(label).support
        lines.append(f"{label:<12}" + "".join(cells) + f"   ({counted(support, 'row')})")
    lines.append(f"{'macro-F1':<12}" + "".join(f"{r.scores.macro_f1:>26.3f}" for r in results))
    lines.append(f"{'accuracy':<12}" + "".join(f"{r.scores.accuracy:>26.3f}" for r in results))
    for r in results:
        if r.topics is not None:
            t = r.topics
            lines.append(
                f"{'topic':<12}{t.accuracy:>26.3f}   ({r.name}: {t.correct} of {t.total} rows "
                "whose cause is known)"
            )
    for r in results:
        lines += ["", f"confusion ({r.name}; rows: gold, columns: judged)"]
        lines.append(f"{'':<12}" + "".join(f"{p:>11}" for p in CLASSES))
        for g in CLASSES:
            lines.append(f"{g:<12}" + "".join(f"{r.scores.confusion[g][p]:>11}" for p in CLASSES))
    for r in results:
        if r.topics is not None and r.topics.total:
            lines += ["", *_topic_confusion(r.name, r.topics.confusion)]
    return lines


def _topic_confusion(name: str, confusion: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Which topic each known cause was judged as: where the topic cues go wrong."""
    judged = sorted({t for row in confusion.values() for t in row} - {"-"})
    if any("-" in row for row in confusion.values()):
        judged.append("-")
    widths = [
        max(len(t), *(len(str(row.get(t, 0))) for row in confusion.values())) + 2 for t in judged
    ]
    lines = [
        f"topic confusion ({name}; rows: the cause's topic, columns: judged; - = no topic)",
        f"{'':<14}" + "".join(f"{t:>{w}}" for t, w in zip(judged, widths, strict=True)),
    ]
    for gold in sorted(confusion):
        row = confusion[gold]
        cells = (f"{row.get(t, 0):>{w}}" for t, w in zip(judged, widths, strict=True))
        lines.append(f"{gold:<14}" + "".join(cells))
    return lines


def error_lines(result: Result) -> list[str]:
    lines = []
    for e in result.errors:
        topic = ""
        if e.gold_topic and e.gold_topic != e.topic:
            topic = f", topic {e.gold_topic} judged {e.topic or '-'}"
        lines.append(f"row {e.row}: {e.gold} judged {e.predicted}{topic}")
        lines.append(f"  {' '.join(e.text.split())}")
        for reason in e.reasons:
            lines.append(f"    {reason.rule:<24} {reason.weight:+7.2f}  {reason.detail}")
    return lines
