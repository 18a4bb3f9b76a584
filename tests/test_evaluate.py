"""rules.evaluate (the arithmetic) and `earful eval` (reading a labeled file)."""

from __future__ import annotations

import csv
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from earful import evaluation
from listener.mention import Brand
from rules import Disposition, load_ruleset
from rules.evaluate import (
    CLASSES,
    class_of,
    misjudged,
    score,
    score_topics,
    vader_class,
)
from rules.verdict import Reason, Verdict

DATA = Path(__file__).parent / "data"
Run = Callable[..., Result]

# -- the arithmetic -----------------------------------------------------------------


def test_per_class_precision_recall_f1_on_a_hand_counted_case() -> None:
    gold = ["complaint", "complaint", "complaint", "praise", "praise", "neither"]
    predicted = ["complaint", "complaint", "praise", "praise", "neither", "neither"]
    s = score(gold, predicted)
    complaint, praise, neither = (s.of(c) for c in CLASSES)
    # complaint: 2 of 2 called right, 2 of 3 found
    assert complaint.precision == 1.0
    assert complaint.recall == pytest.approx(2 / 3)
    assert complaint.f1 == pytest.approx(0.8)
    # praise: 1 of 2 called right, 1 of 2 found
    assert (praise.precision, praise.recall, praise.f1) == (0.5, 0.5, 0.5)
    # neither: 1 of 2 called right, 1 of 1 found
    assert neither.f1 == pytest.approx(2 / 3)
    assert s.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert s.accuracy == pytest.approx(4 / 6)
    assert (complaint.support, complaint.predicted) == (3, 2)


def test_confusion_matrix_has_every_cell_even_empty_ones() -> None:
    s = score(["complaint", "praise"], ["complaint", "complaint"])
    assert s.confusion == {
        "complaint": {"complaint": 1, "praise": 0, "neither": 0},
        "praise": {"complaint": 1, "praise": 0, "neither": 0},
        "neither": {"complaint": 0, "praise": 0, "neither": 0},
    }


def test_a_class_never_predicted_scores_zero_not_an_error() -> None:
    s = score(["praise", "complaint"], ["complaint", "complaint"])
    assert (s.of("praise").precision, s.of("praise").f1) == (0.0, 0.0)


def test_macro_f1_averages_only_classes_present_in_the_gold_labels() -> None:
    s = score(["complaint", "praise"], ["complaint", "praise"])
    assert s.of("neither").support == 0
    assert s.macro_f1 == 1.0


def test_calling_everything_a_complaint_is_scored_as_such() -> None:
    gold = ["complaint"] * 6 + ["praise"] * 2 + ["neither"] * 2
    s = score(gold, ["complaint"] * 10)
    assert s.of("complaint").f1 == pytest.approx(2 * 0.6 / 1.6)
    assert s.of("praise").f1 == 0.0


def test_unknown_labels_are_an_error_not_a_silent_miss() -> None:
    with pytest.raises(ValueError, match="negative"):
        score(["negative"], ["complaint"])


def test_gold_and_predictions_must_be_the_same_length() -> None:
    with pytest.raises(ValueError, match="2 gold labels but 1"):
        score(["complaint", "praise"], ["complaint"])


def test_topic_accuracy_counts_only_rows_whose_cause_is_known() -> None:
    t = score_topics([("billing", "billing"), ("outage", None), (None, "support"), ("", "billing")])
    assert (t.correct, t.total, t.accuracy) == (1, 2, 0.5)
    assert t.confusion == {"billing": {"billing": 1}, "outage": {"-": 1}}


def test_misjudged_keeps_file_order_and_stops_at_the_limit() -> None:
    reasons = (Reason("vader", "compound +0.5", 0.5),)
    rows = [
        (1, "fine", "praise", "praise", None, None, reasons),
        (2, "bad", "complaint", "praise", None, None, reasons),
        (3, "late", "complaint", "complaint", "delivery", "support", reasons),
        (4, "worse", "complaint", "neither", None, None, reasons),
    ]
    assert [m.row for m in misjudged(rows, 2)] == [2, 3]
    assert misjudged(rows, 0) == []


def test_dispositions_map_to_three_classes() -> None:
    def verdict(d: Disposition) -> Verdict:
        return Verdict(disposition=d, compound=0.0, score=0.0)

    assert [class_of(verdict(d)) for d in Disposition] == [
        "complaint",
        "praise",
        "neither",
        "neither",
    ]


@pytest.mark.parametrize(
    ("compound", "expected"),
    [(0.05, "praise"), (0.0499, "neither"), (-0.0499, "neither"), (-0.05, "complaint")],
)
def test_vader_baseline_uses_the_usual_cut_offs(compound: float, expected: str) -> None:
    assert vader_class(compound) == expected


# -- earful eval ----------------------------------------------------------------------


AIRLINE_LIKE = (
    "id,sentiment,reason,text\n"
    '1,negative,Late Flight,"flight delayed 3 hours and still no update, not ok"\n'
    '2,positive,,"thank you so much, the crew was amazing"\n'
    "3,neutral,,how do I change the email on my account?\n"
    '4,negative,Customer Service Issue,"been on hold for an hour, nobody answers"\n'
    "5,negative,Can't Tell,lol ok\n"
)
MAP = "negative=complaint,positive=praise,neutral=neither"
CAUSES = "Late Flight=delivery,Customer Service Issue=support,Can't Tell="


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def airline(run_cli: Run, tmp_path: Path) -> Run:
    """`earful eval` on AIRLINE_LIKE with its text and label columns, plus `extra`."""
    path = write(tmp_path, "posts.csv", AIRLINE_LIKE)

    def invoke(*extra: str) -> Result:
        return run_cli("eval", str(path), "--text-col", "text", "--label-col", "sentiment", *extra)

    return invoke


def test_eval_json_shape(airline: Run) -> None:
    result = airline("--map", MAP, "--topic-col", "reason", "--topic-map", CAUSES, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"file", "rows", "skipped", "classes", "mapping", "results", "model"}
    assert report["model"] is None
    assert (report["rows"], report["skipped"]) == (5, 0)
    assert report["classes"] == ["complaint", "praise", "neither"]
    assert report["mapping"] == {
        "interesting_bad": "complaint",
        "interesting_good": "praise",
        "question": "neither",
        "ignore": "neither",
    }
    earful = report["results"]["earful"]
    assert set(earful) == {"classes", "macro_f1", "accuracy", "confusion", "topic", "errors"}
    assert set(earful["classes"]["complaint"]) == {
        "precision",
        "recall",
        "f1",
        "support",
        "predicted",
    }
    assert earful["classes"]["complaint"]["support"] == 3
    assert sum(sum(row.values()) for row in earful["confusion"].values()) == 5
    # "Can't Tell" maps to unknown: two rows have a known cause.
    assert earful["topic"]["total"] == 2
    assert earful["errors"] == []  # no --show-errors


def test_eval_scores_the_shipped_rules_on_the_hand_made_case(airline: Run) -> None:
    result = airline("--map", MAP, "--topic-col", "reason", "--topic-map", CAUSES, "--json")
    earful = json.loads(result.output)["results"]["earful"]
    assert earful["confusion"]["complaint"]["complaint"] == 2
    assert earful["confusion"]["praise"]["praise"] == 1
    assert earful["topic"] == {
        "accuracy": 1.0,
        "correct": 2,
        "total": 2,
        "confusion": {"delivery": {"delivery": 1}, "support": {"support": 1}},
    }


def test_eval_text_report_with_errors_and_reasons(airline: Run) -> None:
    result = airline("--map", MAP, "--show-errors", "1")
    assert result.exit_code == 0, result.output
    assert "5 rows scored" in result.output
    assert "macro-F1" in result.output
    assert "confusion (earful; rows: gold, columns: judged)" in result.output
    # "lol ok" labeled negative is the one misjudged row; its reasons are listed.
    assert "row 5: complaint judged neither" in result.output
    assert "rule:filler" in result.output


def test_eval_text_report_shows_where_topics_go(airline: Run) -> None:
    result = airline("--map", MAP, "--topic-col", "reason", "--topic-map", CAUSES)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index(
        "topic confusion (earful; rows: the cause's topic, columns: judged; - = no topic)"
    )
    head, *rows = lines[start + 1 : start + 4]
    assert head.split() == ["delivery", "support"]
    assert [r.split() for r in rows] == [["delivery", "1", "0"], ["support", "0", "1"]]


def test_eval_json_errors_carry_the_reasons(airline: Run) -> None:
    result = airline("--map", MAP, "--show-errors", "5", "--json")
    errors = json.loads(result.output)["results"]["earful"]["errors"]
    assert [e["row"] for e in errors] == [5]
    assert errors[0]["text"] == "lol ok"
    assert {"rule", "detail", "weight"} == set(errors[0]["reasons"][0])


def test_eval_baseline_vader_reports_both(airline: Run) -> None:
    result = airline("--map", MAP, "--baseline", "vader", "--json")
    results = json.loads(result.output)["results"]
    assert list(results) == ["earful", "vader"]
    assert results["vader"]["topic"] is None
    # VADER reads "lol ok" as warm: praise.
    assert results["vader"]["confusion"]["complaint"]["praise"] >= 1


def test_eval_reads_a_headerless_tsv_with_numeric_ratings(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rated.tsv",
        "1\t2.5\tWhat a lovely day, thank you all\n"
        "2\t-3.1\tThis is the worst service I have ever had\n"
        "3\t0\t\n",
    )
    result = run_cli(
        "eval",
        str(path),
        "--no-header",
        "--text-col",
        "3",
        "--label-col",
        "2",
        "--sign-labels",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows"], report["skipped"]) == (2, 1)  # the row with no text
    classes = report["results"]["earful"]["classes"]
    assert classes["praise"]["f1"] == 1.0
    assert classes["complaint"]["f1"] == 1.0


def test_eval_polarity_judges_by_the_sign_of_the_score(run_cli: Run, tmp_path: Path) -> None:
    # "lol ok" is filler (ignore: neither) though its score is warm; a plain
    # sentiment data set calls it positive, and --polarity reads it that way.
    path = write(tmp_path, "rated.tsv", "1\t1.2\tlol ok\n2\t-2.0\tthe worst day ever\n")
    args = ["eval", str(path), "--no-header", "--text-col", "3", "--label-col", "2"]
    by_disposition = run_cli(*args, "--sign-labels", "--json")
    by_sign = run_cli(*args, "--sign-labels", "--polarity", "--json")
    assert by_sign.exit_code == 0, by_sign.output
    confusion = json.loads(by_disposition.output)["results"]["earful"]["confusion"]
    assert confusion["praise"]["neither"] == 1
    classes = json.loads(by_sign.output)["results"]["earful"]["classes"]
    assert classes["praise"]["f1"] == 1.0
    assert classes["complaint"]["f1"] == 1.0


def test_eval_sniffs_tabs_in_a_file_without_a_telling_extension(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "export.txt", "text\tlabel\nlove it, thanks!\tpraise\nmeh, sure\tneither\n"
    )
    result = run_cli("eval", str(path), "--json")  # "text" and "label" are the defaults
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 2


def test_eval_reads_a_csv_that_excel_saved_with_semicolons(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "export.csv",
        'text;label;score\n"late again, terrible service";complaint;-2,5\n'
        "thanks so much;praise;3,0\nwhat time do you open;neither;0\n",
    )
    result = run_cli("eval", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 3


def test_eval_missing_column_says_when_the_header_holds_another_separator(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(tmp_path, "posts.tsv", "text,label\nlate again,complaint\n")
    result = run_cli("eval", str(path))
    assert result.exit_code == 2
    assert "read as separated by tabs, but its first line holds commas" in result.output


def test_eval_missing_column_is_a_usage_error_listing_the_columns(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(tmp_path, "posts.csv", AIRLINE_LIKE)
    result = run_cli("eval", str(path), "--text-col", "body", "--label-col", "sentiment")
    assert result.exit_code == 2
    assert '--text-col "body": no such column; the file has: id, sentiment, reason, text' in (
        result.output
    )


def test_eval_column_name_given_twice_is_a_usage_error_naming_the_columns(
    run_cli: Run, tmp_path: Path
) -> None:
    path = write(tmp_path, "dup.csv", "text,label,Text\nfoo,complaint,terrible service\n")
    result = run_cli("eval", str(path), "--text-col", "TEXT")
    assert result.exit_code == 2
    assert '--text-col "TEXT": the file has 2 columns of that name (columns 1 and 3)' in (
        result.output
    )
    assert run_cli("eval", str(path), "--text-col", "3").exit_code == 0


def test_eval_unmapped_labels_are_a_usage_error_with_counts(run_cli: Run, tmp_path: Path) -> None:
    path = write(tmp_path, "posts.csv", AIRLINE_LIKE)
    result = run_cli("eval", str(path), "--text-col", "text", "--label-col", "sentiment")
    assert result.exit_code == 2
    assert '"negative" (3), "positive" (1), "neutral" (1)' in result.output
    assert "--map LABEL=complaint|praise|neither" in result.output


def test_eval_unknown_topic_is_a_usage_error(airline: Run) -> None:
    result = airline("--map", MAP, "--topic-col", "reason")
    assert result.exit_code == 2
    assert '"Late Flight" (1)' in result.output
    assert "--topic-map CAUSE=TOPIC" in result.output


def test_eval_row_missing_only_its_cause_cell_is_scored_with_the_cause_unknown(
    run_cli: Run, tmp_path: Path
) -> None:
    # a spreadsheet leaves out an empty last cell: only the complaint has its cause
    path = write(
        tmp_path,
        "short.csv",
        "text,label,cause\n"
        "my package is late again,negative,Late\n"
        "thanks so much you are great,positive\n"
        "what time do you open,neutral\n"
        "no label here\n",
    )
    causes = ["--topic-col", "cause", "--topic-map", "Late=delivery"]
    result = run_cli("eval", str(path), "--map", MAP, *causes, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows"], report["skipped"]) == (3, 1)
    earful = report["results"]["earful"]
    assert [earful["classes"][c]["support"] for c in CLASSES] == [1, 1, 1]
    assert earful["topic"]["total"] == 1


def test_eval_bad_map_target_is_a_usage_error(airline: Run) -> None:
    result = airline("--map", "negative=angry")
    assert result.exit_code == 2
    assert '"angry" is not one of complaint, praise, neither' in result.output


def test_eval_map_accepts_disposition_names(airline: Run) -> None:
    result = airline(
        "--map",
        "negative=interesting_bad",
        "--map",
        "positive=interesting_good",
        "--map",
        "neutral=question",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["results"]["earful"]["classes"]["complaint"]["support"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"text,label\n\xff\xfe broken,praise\n", "not UTF-8 text"),
        (b"text,label\nok,praise\ncaf\xe9 bad,complaint\n", "line 3: not UTF-8 text (byte 24)"),
        (b"text,label\nok,pr\xc3", "line 2: not UTF-8 text (byte 16)"),  # cut off
        (b"\xef\xbb\xbf \r\n", "the file is empty"),
        (b"text,label\n", "no rows with both a text and a label"),
    ],
)
def test_eval_unusable_files_are_usage_errors(
    run_cli: Run, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = run_cli("eval", str(path), "--text-col", "text", "--label-col", "label")
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--text-col", "7", "--label-col", "2"],
            "text from column 7, label from column 2; the first line has 2 columns",
        ),
        (
            ["--text-col", "1", "--label-col", "2", "--sign-labels"],
            '--sign-labels reads each label as a number, and these are not: "pos" (1)',
        ),
    ],
)
def test_eval_says_which_columns_or_labels_it_could_not_use(
    run_cli: Run, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write(tmp_path, "two.tsv", "good\tpos\nbad\tneg\n")
    result = run_cli("eval", str(path), "--no-header", *args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("label", ["nan", "inf", "-Infinity"])
def test_eval_sign_labels_list_a_number_that_is_not_finite_as_a_bad_label(
    run_cli: Run, tmp_path: Path, label: str
) -> None:
    path = write(tmp_path, "rated.tsv", f"I hate this awful service\t{label}\nlovely\t2\n")
    result = run_cli(
        "eval", str(path), "--no-header", "--text-col", "1", "--label-col", "2", "--sign-labels"
    )
    assert result.exit_code == 2
    assert f'these are not: "{label}" (1)' in result.output


def test_eval_reads_a_text_longer_than_csvs_own_field_limit(run_cli: Run, tmp_path: Path) -> None:
    long_review = "terrible service " * 10_000  # 170 kB: csv's default stops at 128 KiB
    path = write(tmp_path, "long.csv", f'text,label\n"{long_review}",complaint\nok,neither\n')
    before = csv.field_size_limit()
    result = run_cli("eval", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 2
    assert csv.field_size_limit() == before  # raised for the read only


def test_eval_a_field_over_the_limit_is_its_own_error(run_cli: Run, tmp_path: Path) -> None:
    # a quote never closed: the rest of the file is one field
    rows = "".join(f"post number {n},neither\n" for n in range(300_000))
    path = write(tmp_path, "runaway.csv", f'text,label\nfine,praise\n"oops,complaint\n{rows}')
    result = run_cli("eval", str(path))
    assert result.exit_code == 2
    assert "line 3: a field starting on that line is over 4,194,304 characters" in result.output
    assert "a quote opened there is never closed" in result.output


def test_eval_missing_file_is_a_usage_error(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli("eval", str(tmp_path / "nope.csv"), "--text-col", "t", "--label-col", "l")
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_eval_hostile_text_does_not_break_the_report(run_cli: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hostile.csv",
        'text,label\n"\x1b[31mred\x1b[0m \u202eevil\x00 outage",praise\n"ok",neither\n',
    )
    result = run_cli(
        "eval", str(path), "--text-col", "text", "--label-col", "label", "--show-errors", "5"
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "\\u001b" in result.output


# -- memory ---------------------------------------------------------------------------


def traced_peak(work: Callable[[], object]) -> tuple[int, int]:
    """(bytes still held after `work`, most held at once above that) by Python."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held - before, peak - held


def labeled_rows(tmp_path: Path, rows: int, filler: int = 0) -> Path:
    pad = " and more" * filler
    return write(
        tmp_path,
        "big.csv",
        "text,label\n"
        + "".join(
            f'"parcel {n} is late again, awful{pad}",complaint\nthanks {n}{pad},praise\n'
            for n in range(rows // 2)
        ),
    )


def test_reading_holds_the_rows_not_copies_of_the_whole_file(tmp_path: Path) -> None:
    path = labeled_rows(tmp_path, 6000, filler=50)  # 3 MB
    size = path.stat().st_size

    def read() -> None:
        evaluation.read_table(path, text_col="text", label_col="label", labels={})

    _, above = traced_peak(read)
    # the bytes, the text and csv's copy of it were all held at once: six times the file
    assert above < 2 * size


def test_judging_keeps_what_the_scores_need_not_every_verdict(tmp_path: Path) -> None:
    path = labeled_rows(tmp_path, 4000)
    table = evaluation.read_table(path, text_col="text", label_col="label", labels={})
    ruleset = load_ruleset(brand=Brand("Acme"))
    evaluation.evaluate(table, ruleset)  # loads what the rules load once

    results: list[evaluation.Result] = []
    held, above = traced_peak(lambda: results.extend(evaluation.evaluate(table, ruleset)))
    # every verdict kept was some 340 bytes a row; a class a row is 16
    assert held + above < 50 * len(table.rows)
    assert results[0].scores.total == 4000


# -- the project's own labeled sample -------------------------------------------------


def test_shipped_rules_beat_vader_alone_on_the_project_sample(run_cli: Run) -> None:
    """tests/data/quality_sample.csv: brand posts written for this project (not copied
    from any data set), labeled by hand. A regression guard, not the quality figures:
    those are measured on real data (docs/quality.md)."""
    result = run_cli(
        "eval",
        str(DATA / "quality_sample.csv"),
        "--text-col",
        "text",
        "--label-col",
        "label",
        "--topic-col",
        "cause",
        "--baseline",
        "vader",
        "--json",
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)["results"]
    earful, vader = results["earful"], results["vader"]
    assert earful["classes"]["complaint"]["f1"] >= 0.9
    assert earful["classes"]["praise"]["f1"] >= 0.85
    assert earful["classes"]["neither"]["f1"] >= 0.8
    assert earful["topic"]["accuracy"] >= 0.9
    assert earful["macro_f1"] >= vader["macro_f1"] + 0.2


def test_blank_lines_are_no_rows_for_the_halves(run_cli: Run, tmp_path: Path) -> None:
    # Python's csv writer on Windows without newline="" ends lines in \r\r\n: a blank
    # line after every row. Numbered as rows, every data row fell on an even number.
    path = tmp_path / "posts.csv"
    path.write_bytes(AIRLINE_LIKE.replace("\n", "\r\r\n").encode("utf-8"))
    args = ("eval", str(path), "--text-col", "text", "--label-col", "sentiment", "--map", MAP)
    odd = json.loads(run_cli(*args, "--half", "odd", "--json").output)
    even = json.loads(run_cli(*args, "--half", "even", "--json").output)
    assert (odd["rows"], even["rows"]) == (3, 2) and odd["skipped"] == even["skipped"] == 0


def test_eval_half_keeps_odd_or_even_data_rows(airline: Run) -> None:
    odd = json.loads(airline("--map", MAP, "--half", "odd", "--json").output)
    even = json.loads(airline("--map", MAP, "--half", "even", "--json").output)
    assert (odd["rows"], even["rows"]) == (3, 2)
    # rows 2 (praise) and 4 (complaint) are the even ones
    assert even["results"]["earful"]["classes"]["praise"]["support"] == 1
    assert even["results"]["earful"]["classes"]["complaint"]["support"] == 1


def test_a_half_counts_only_its_own_skipped_rows(run_cli: Run, tmp_path: Path) -> None:
    # row 2 has no text: it is the even half's to skip, not the odd half's too
    path = tmp_path / "posts.csv"
    path.write_text(
        "text,label\nstill down,complaint\n,praise\nlove it,praise\nlol ok,neither\n",
        encoding="utf-8",
    )
    args = ("eval", str(path), "--json")
    odd = json.loads(run_cli(*args, "--half", "odd").output)
    even = json.loads(run_cli(*args, "--half", "even").output)
    whole = json.loads(run_cli(*args).output)
    assert (odd["rows"], odd["skipped"]) == (2, 0)
    assert (even["rows"], even["skipped"]) == (1, 1)
    assert (whole["rows"], whole["skipped"]) == (3, 1)


def test_a_mapping_no_row_has_is_noted_on_stderr(run_cli: Run, tmp_path: Path) -> None:
    # "--map praize=praise" on a file labeled "praise": the mapping does nothing
    path = tmp_path / "posts.csv"
    path.write_text(
        "text,label,cause\nstill down,complaint,Outage\nlove it,praise,\n", encoding="utf-8"
    )
    result = run_cli(
        "eval", str(path), "--json", "--map", "praize=praise", "--topic-col", "cause",
        "--topic-map", "Outage=outage,Outtage=outage",
    )  # fmt: skip
    assert result.exit_code == 0
    assert json.loads(result.stdout)["rows"] == 2
    assert result.stderr.splitlines() == [
        "note: --map praize: no row of posts.csv has it (a typo?)",
        "note: --topic-map Outtage: no row of posts.csv has it (a typo?)",
    ]
