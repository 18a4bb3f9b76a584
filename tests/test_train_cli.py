"""`earful train` and the model it writes, end to end through the command line:
the file, the cross-validation it prints, `eval --model`, and `[rules] model` in a
config."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from rules.learned import FORMAT, VERSION

Run = Callable[..., Result]

MAP = "bad=complaint,good=praise,meh=neither"
CAUSES = "slow=outage,money=billing,staff=support,dunno="

# (template, cause) for complaints; every template takes a thing and a time.
COMPLAINTS = [
    ("the {thing} has been down for {n} hours, nothing works", "slow"),
    ("{thing} keeps dropping every {n} minutes, so annoying", "slow"),
    ("charged twice for the {thing} and still no refund after {n} days", "money"),
    ("my bill went up by {n} dollars for the {thing}, ridiculous", "money"),
    ("on hold for {n} minutes about the {thing} and nobody picks up", "staff"),
    ("the agent hung up on me twice about my {thing}, awful service", "staff"),
    ("terrible experience with the {thing}, {n} days of nonsense", "dunno"),
]
PRAISE = [
    "love the new {thing}, works great, thank you!",
    "the {thing} is amazing, set up in {n} minutes, well done",
    "thanks so much for fixing my {thing} so quickly, brilliant team",
    "really happy with the {thing}, best one I've had in {n} years",
]
NEUTRAL = [
    "does the {thing} come in another colour?",
    "saw an ad for the {thing} on the bus today",
    "reading the manual for the {thing}, page {n}",
    "what time does the shop open on day {n}?",
]
THINGS = ["router", "app", "modem", "plan", "box", "account", "connection", "tv service"]


def rows(complaints: int = 42, praise: int = 42, neither: int = 42) -> list[tuple[str, str, str]]:
    """(text, label, cause): varied posts from the templates, in mixed order."""
    out: list[tuple[str, str, str]] = []
    for i in range(max(complaints, praise, neither)):
        thing, n = THINGS[i % len(THINGS)], 2 + i
        if i < complaints:
            template, cause = COMPLAINTS[i % len(COMPLAINTS)]
            out.append((template.format(thing=thing, n=n), "bad", cause))
        if i < praise:
            out.append((PRAISE[i % len(PRAISE)].format(thing=thing, n=n), "good", ""))
        if i < neither:
            out.append((NEUTRAL[i % len(NEUTRAL)].format(thing=thing, n=n), "meh", ""))
    return out


def write_csv(path: Path, data: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "text", "feeling", "cause"])
        for i, (text, label, cause) in enumerate(data, 1):
            out.writerow([i, text, label, cause])
    return path


@pytest.fixture
def labeled(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "posts.csv", rows())


def table_args(command: str, data: Path, *extra: str) -> list[str]:
    return [
        command,
        str(data),
        "--text-col",
        "text",
        "--label-col",
        "feeling",
        "--map",
        MAP,
        *extra,
    ]


def train_args(data: Path, output: Path, *extra: str) -> list[str]:
    topics = ["--topic-col", "cause", "--topic-map", CAUSES]
    return table_args("train", data, *topics, "-o", str(output), *extra)


def eval_args(data: Path, *extra: str) -> list[str]:
    return table_args("eval", data, *extra)


@pytest.fixture
def model(run_cli: Run, labeled: Path, tmp_path: Path) -> Path:
    """A model trained on `labeled`, without cross-validation."""
    path = tmp_path / "model.json"
    result = run_cli(*train_args(labeled, path, "--folds", "0"))
    assert result.exit_code == 0, result.output
    return path


def assert_usage_error(result: Result, *said: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for words in said:
        assert words in result.output, result.output


# -- earful train -------------------------------------------------------------------------


def test_train_writes_a_model_and_prints_the_cross_validation(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    output = tmp_path / "model.json"
    result = run_cli(*train_args(labeled, output, "--folds", "2", "--show-errors", "3"))
    assert result.exit_code == 0, result.output
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT and data["version"] == VERSION
    assert data["classes"]["labels"] == ["complaint", "praise", "neither"]
    assert data["classes"]["weights"]
    assert data["topics"] is not None
    assert set(data["topics"]["labels"]) == {"outage", "billing", "support"}
    assert data["trained"]["file"] == "posts.csv" and data["trained"]["rows"] == len(rows())
    assert data["trained"]["classes"] == {"complaint": 42, "praise": 42, "neither": 42}
    out = result.output
    assert f"trained on {len(rows())} rows" in out and f"wrote {output}" in out
    assert "cross-validated (2 folds" in out
    for word in ("complaint", "praise", "neither"):
        assert word in out
    assert f'[rules] model = "{output}"' in out
    assert not list(tmp_path.glob(".model.json.*"))  # no temporary file left behind


def test_train_json_output(run_cli: Run, labeled: Path, tmp_path: Path) -> None:
    output = tmp_path / "model.json"
    result = run_cli(*train_args(labeled, output, "--folds", "2", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"model", "bytes", "trained", "features", "cross_validation", "baseline"}
    assert report["baseline"] == {}
    assert report["model"] == str(output)
    assert report["bytes"] == output.stat().st_size
    assert report["features"] > 0
    assert report["trained"]["rows"] == len(rows())
    cv = report["cross_validation"]
    assert cv["folds"] == 2
    assert set(cv["classes"]) == {"complaint", "praise", "neither"}
    assert sum(c["support"] for c in cv["classes"].values()) == len(rows())
    # the toy posts are easy: clearly better than chance on rows the model did not see
    assert cv["macro_f1"] > 0.6 and cv["topic"]["total"] > 0


def test_train_scores_the_vader_baseline_next_to_the_cross_validation(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    args = train_args(labeled, tmp_path / "m.json", "--folds", "2", "--baseline", "vader")
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "2-fold" in line)
    assert "vader" in header
    report = json.loads(run_cli(*args, "--json").output)
    vader = report["baseline"]["vader"]
    assert sum(c["support"] for c in vader["classes"].values()) == len(rows())
    assert vader["topic"] is None


def test_train_json_without_folds_has_no_cross_validation(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    result = run_cli(*train_args(labeled, tmp_path / "m.json", "--folds", "0", "--json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cross_validation"] is None


def test_train_half_uses_only_those_rows(run_cli: Run, labeled: Path, tmp_path: Path) -> None:
    output = tmp_path / "m.json"
    # the odd half of 126 rows has 21 of each class (the rows cycle through the three)
    result = run_cli(*train_args(labeled, output, "--folds", "0", "--half", "odd"))
    assert result.exit_code == 0, result.output
    trained = json.loads(output.read_text(encoding="utf-8"))["trained"]
    assert trained["half"] == "odd" and trained["rows"] == len(rows()) // 2


def test_train_with_too_few_rows_of_a_class_names_the_class(run_cli: Run, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "few.csv", rows(praise=5))
    output = tmp_path / "m.json"
    result = run_cli(*train_args(data, output))
    assert_usage_error(result, "too few rows to learn from", "praise (5)", "few.csv")
    assert "complaint (" not in result.output
    assert not output.exists()


def test_train_with_too_few_rows_in_the_half_says_it_counted_the_half(
    run_cli: Run, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "few.csv", rows(praise=30))  # 15 of them odd rows
    result = run_cli(*train_args(data, tmp_path / "m.json", "--half", "odd"))
    assert_usage_error(result, "too few rows to learn from in the odd rows (--half odd)")


def test_train_refuses_one_fold(run_cli: Run, labeled: Path, tmp_path: Path) -> None:
    output = tmp_path / "m.json"
    result = run_cli(*train_args(labeled, output, "--folds", "1"))
    assert_usage_error(result, "--folds 1", "2 folds or more")
    assert not output.exists()


def test_train_into_a_missing_folder_is_a_usage_error(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    output = tmp_path / "nowhere" / "m.json"
    result = run_cli(*train_args(labeled, output, "--folds", "0"))
    assert_usage_error(result, str(output), "cannot write")
    assert not output.parent.exists()


def test_train_a_missing_file_is_a_usage_error(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli(*train_args(tmp_path / "nope.csv", tmp_path / "m.json"))
    assert_usage_error(result, "nope.csv")


# -- earful eval --model ------------------------------------------------------------------


def test_eval_with_the_model_says_so(run_cli: Run, labeled: Path, model: Path) -> None:
    result = run_cli(*eval_args(labeled, "--model", str(model)))
    assert result.exit_code == 0, result.output
    assert f"with the model {model}" in result.output.splitlines()
    # scored on the very rows it was fitted on: the command says so
    assert f"note: {model} was trained on these rows of posts.csv" in result.output
    report = json.loads(run_cli(*eval_args(labeled, "--model", str(model), "--json")).stdout)
    assert report["model"]["path"] == str(model)
    assert report["model"]["trained"]["file"] == "posts.csv"
    assert report["model"]["trained"]["rows"] == len(rows())
    rules_alone = run_cli(*eval_args(labeled, "--no-model"))
    assert rules_alone.exit_code == 0, rules_alone.output
    assert "with the model" not in rules_alone.output


def test_eval_with_a_broken_model_is_a_usage_error(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "earful-model", "version": 1, "classes": [', encoding="utf-8")
    assert_usage_error(run_cli(*eval_args(labeled, "--model", str(broken))), "--model", "not JSON")
    broken.write_text('{"hello": "world"}', encoding="utf-8")
    assert_usage_error(
        run_cli(*eval_args(labeled, "--model", str(broken))), str(broken), "not an Earful model"
    )
    missing = tmp_path / "missing.json"
    assert_usage_error(
        run_cli(*eval_args(labeled, "--model", str(missing))), str(missing), "cannot read"
    )


def test_a_model_saved_again_with_a_byte_order_mark_is_read(
    run_cli: Run, labeled: Path, model: Path, tmp_path: Path
) -> None:
    # opened and saved by a Windows editor: the same model, three bytes in front
    marked = tmp_path / "marked.json"
    marked.write_bytes(b"\xef\xbb\xbf" + model.read_bytes())
    result = run_cli(*eval_args(labeled, "--model", str(marked)))
    assert result.exit_code == 0, result.output
    assert f"with the model {marked}" in result.output


def test_eval_refuses_model_with_no_model(run_cli: Run, labeled: Path, model: Path) -> None:
    result = run_cli(*eval_args(labeled, "--model", str(model), "--no-model"))
    assert_usage_error(result, "--model and --no-model")


# -- [rules] model in the config ----------------------------------------------------------


def write_config(folder: Path, model: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "earful.toml"
    path.write_text(f'[brand]\nname = "Acme"\n\n[rules]\nmodel = "{model}"\n', encoding="utf-8")
    return path


def test_a_config_model_is_read_relative_to_the_config(
    run_cli: Run, model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    model.rename(folder / "m.json")
    config = write_config(folder, "m.json")
    # the cwd is tmp_path, which has no m.json: the model is found next to the config
    assert not (tmp_path / "m.json").exists()
    result = run_cli("classify", "--explain", "love the new router, works great", "-c", str(config))
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.strip().startswith("model ")]
    assert "leaning on" in line
    # eval with the config uses it too, and --no-model drops it
    labeled = tmp_path / "posts.csv"
    with_config = run_cli(*eval_args(labeled, "-c", str(config)))
    assert with_config.exit_code == 0, with_config.output
    assert f"with the model {folder / 'm.json'}" in with_config.output
    without = run_cli(*eval_args(labeled, "-c", str(config), "--no-model"))
    assert without.exit_code == 0 and "with the model" not in without.output


def test_a_config_naming_a_missing_model_exits_2(run_cli: Run, tmp_path: Path) -> None:
    config = write_config(tmp_path / "conf", "gone.json")
    result = run_cli("classify", "--explain", "hello", "-c", str(config))
    assert_usage_error(result, str(config), "rules", "model", "gone.json", "cannot read")


def test_train_and_eval_without_a_model_ignore_the_configs_missing_model(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    # The documented order: name the model in the config, then train it.
    config = write_config(tmp_path / "conf", "future.json")
    output = tmp_path / "conf" / "future.json"
    result = run_cli(*train_args(labeled, output, "--folds", "0", "-c", str(config)))
    assert result.exit_code == 0, result.output
    assert f'[rules] model = "{output.resolve()}"' in result.output
    output.unlink()
    result = run_cli(*eval_args(labeled, "-c", str(config), "--no-model"))
    assert result.exit_code == 0, result.output


def test_train_will_not_overwrite_the_data_or_a_file_that_is_not_a_model(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    before = labeled.read_bytes()
    assert_usage_error(
        run_cli(*train_args(labeled, labeled, "--folds", "0")), "the labeled file itself"
    )
    assert labeled.read_bytes() == before
    config = tmp_path / "settings.toml"  # not ./earful.toml: the next runs would read it
    config.write_text('[brand]\nname = "Acme"\n', encoding="utf-8")
    assert_usage_error(
        run_cli(*train_args(labeled, config, "--folds", "0")), "is not an Earful model", "--force"
    )
    assert config.read_text(encoding="utf-8") == '[brand]\nname = "Acme"\n'
    forced = run_cli(*train_args(labeled, config, "--folds", "0", "--force"))
    assert forced.exit_code == 0, forced.output
    # a model is simply replaced: retraining is the point
    again = run_cli(*train_args(labeled, config, "--folds", "0"))
    assert again.exit_code == 0, again.output
    assert_usage_error(run_cli(*train_args(labeled, tmp_path, "--folds", "0")), "is a directory")


def test_train_replaces_a_model_that_was_saved_again_indented(
    run_cli: Run, labeled: Path, model: Path
) -> None:
    model.write_text(json.dumps(json.loads(model.read_bytes()), indent=2), encoding="utf-8")
    result = run_cli(*train_args(labeled, model, "--folds", "0"))
    assert result.exit_code == 0, result.output
    assert model.read_bytes().startswith(b'{"format":"earful-model"')


def test_train_will_not_overwrite_json_that_is_not_a_model(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else", "note": "earful-model"}', encoding="utf-8")
    assert_usage_error(
        run_cli(*train_args(labeled, other, "--folds", "0")), "is not an Earful model"
    )


def test_the_model_file_is_readable_as_the_umask_says(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    old = os.umask(0o022)
    try:
        result = run_cli(*train_args(labeled, tmp_path / "m.json", "--folds", "0"))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644


def test_show_errors_and_baseline_need_the_cross_validation(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    for extra in (("--show-errors", "3"), ("--baseline", "vader")):
        result = run_cli(*train_args(labeled, tmp_path / "m.json", "--folds", "0", *extra))
        assert_usage_error(result, "--folds 0")
    assert not (tmp_path / "m.json").exists()


def test_an_empty_model_setting_is_a_config_error(run_cli: Run, tmp_path: Path) -> None:
    config = write_config(tmp_path / "conf", "")
    assert_usage_error(run_cli("classify", "hello", "-c", str(config)), "rules.model")


def test_a_model_trained_with_other_rules_is_used_with_a_warning(
    run_cli: Run, model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = json.loads(model.read_text(encoding="utf-8"))
    data["trained"]["rules_fingerprint"] = "0" * 16
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "m.json").write_text(json.dumps(data), encoding="utf-8")
    config = write_config(folder, "m.json")
    result = run_cli("classify", "--explain", "love it", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "trained with other rules" in caplog.text and "train it again" in caplog.text
    caplog.clear()
    config = write_config(tmp_path / "fresh", str(model))
    assert run_cli("classify", "love it", "-c", str(config)).exit_code == 0
    assert "trained with other rules" not in caplog.text


def test_score_half_scores_the_cross_validation_on_those_rows_only(
    run_cli: Run, labeled: Path, tmp_path: Path
) -> None:
    output = tmp_path / "m.json"
    args = train_args(labeled, output, "--folds", "2", "--score-half", "even", "--json")
    report = json.loads(run_cli(*args, "--baseline", "vader").output)
    cv = report["cross_validation"]
    assert sum(c["support"] for c in cv["classes"].values()) == len(rows()) // 2
    vader = report["baseline"]["vader"]
    assert sum(c["support"] for c in vader["classes"].values()) == len(rows()) // 2
    # every row still trains the model it writes
    assert report["trained"]["rows"] == len(rows())
    text = run_cli(*train_args(labeled, output, "--folds", "2", "--score-half", "even")).output
    assert "scored on the even rows" in text
    assert_usage_error(
        run_cli(*train_args(labeled, output, "--folds", "0", "--score-half", "odd")), "--folds 0"
    )
