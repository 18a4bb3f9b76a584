"""The command line at its edges: files it must never write over, numbers SQLite
cannot hold, CSV that would silently drop rows, text that would drive a terminal,
and exit codes a cron job can trust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes.hn_api import FakeHackerNews

from earful import locks
from earful.cli import cli
from earful.config import load_config
from storage.store import Store


def earful(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's config, its 200 mentions stored."""
    folder = tmp_path_factory.mktemp("edges") / "demo"
    assert earful("demo", "--once", "--dir", str(folder)).exit_code == 0
    return folder / "earful.toml"


def fingerprint(*paths: Path) -> list[bytes | None]:
    return [p.read_bytes() if p.exists() else None for p in paths]


# -- files that are Earful's own ----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", ".daemon.lock", "config"])
def test_export_never_writes_over_the_database_or_the_config(demo: Path, suffix: str) -> None:
    db = load_config(demo).db_path
    target = demo if suffix == "config" else Path(f"{db}{suffix}")
    before = fingerprint(db, target, demo)
    result = earful("export", "mentions", "-c", str(demo), "-o", str(target))
    assert result.exit_code == 2
    assert "is Earful's own database or config; name another file" in result.output
    assert fingerprint(db, target, demo) == before
    assert earful("stats", "-c", str(demo)).exit_code == 0


def test_an_export_that_fails_leaves_the_old_file(demo: Path, tmp_path: Path) -> None:
    target = tmp_path / "praise.csv"
    target.write_text("yesterday's export\n", encoding="utf-8")
    (tmp_path / ".praise.csv.partial").mkdir()  # where the new one would be written
    result = earful("export", "praise", "-c", str(demo), "-o", str(target))
    assert result.exit_code == 1
    assert target.read_text(encoding="utf-8") == "yesterday's export\n"


def test_the_demo_will_not_wipe_a_database_a_daemon_is_using(demo: Path) -> None:
    db = load_config(demo).db_path
    before = earful("stats", "-c", str(demo), "--json").output
    with locks.held(locks.daemon_lock(db), "busy"):
        result = earful("demo", "--once", "--dir", str(demo.parent))
    assert result.exit_code == 1
    assert "an Earful daemon is running on" in result.output and "--keep" in result.output
    assert earful("stats", "-c", str(demo), "--json").output == before


# -- numbers and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("queue", "show", str(2**63)),
        ("queue", "approve", str(2**63)),
        ("callbacks", "done", str(10**30)),
        ("alerts", "retry", str(2**64)),
        ("queue", "list", "--limit", str(10**20)),
        ("poll", "--source", ""),
        ("demo", "--once", "--batch", "0"),
    ],
)
def test_numbers_sqlite_cannot_hold_and_empty_names_are_usage_errors(
    demo: Path, args: tuple[str, ...]
) -> None:
    result = earful(*args, *(() if args[0] == "demo" else ("-c", str(demo))))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("stats", "--days", "\uff17"),  # a full-width 7
        ("team", "--days", "\uff17"),
        ("queue", "show", "\u0661"),  # an Arabic-Indic 1
        ("queue", "list", "--limit", "\uff15"),
        ("export", "mentions", "--since", "\uff12\uff10\uff12\uff16-11-18"),
        ("prune", "--older-than", "\uff15d", "--dry-run"),
    ],
)
def test_numbers_and_days_take_the_digits_0_to_9_only(demo: Path, args: tuple[str, ...]) -> None:
    # int(), float() and strptime read any script's digits: each of these ran as if
    # the person had typed 7, 1, 5, 2026-11-18 and 5d
    result = earful(*args, "-c", str(demo))
    assert result.exit_code == 2, result.output
    assert "is not written in the digits 0-9" in result.output or (
        'expected a duration like "90s"' in result.output
    )


@pytest.mark.parametrize("name", ["\x1b[31mmallory", "eve\u202e", "two words"])
def test_who_decides_must_be_a_plain_name(demo: Path, name: str) -> None:
    listed = json.loads(earful("queue", "list", "-c", str(demo), "--json").stdout)
    result = earful("queue", "approve", str(listed[0]["id"]), "-c", str(demo), "--as", name)
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "a name must be 1-64 printable characters without spaces" in result.output


def test_an_empty_name_of_who_decides_is_a_usage_error_not_the_login_name(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--as "$WHO"` with WHO unset decided under the login name, without a word
    reply = str(json.loads(earful("queue", "list", "-c", str(demo), "--json").stdout)[0]["id"])
    empty_as = earful("queue", "approve", reply, "-c", str(demo), "--as", "")
    assert empty_as.exit_code == 2
    assert "Invalid value for --as: is empty: give the name of who is deciding" in empty_as.output
    monkeypatch.setenv("EARFUL_USER", "")
    empty_env = earful("queue", "approve", reply, "-c", str(demo))
    assert empty_env.exit_code == 2
    assert "EARFUL_USER is set but empty" in empty_env.output
    shown = json.loads(earful("queue", "show", reply, "-c", str(demo), "--json").stdout)
    assert shown["reply"]["status"] == "pending"  # nothing decided


# -- searches --------------------------------------------------------------------------------


def test_a_search_of_thousands_of_terms_is_refused_not_run(demo: Path) -> None:
    result = earful("search", " ".join(["a*"] * 2000), "-c", str(demo))
    assert result.exit_code == 2  # a usage error, as an empty search is
    assert "a search is at most 200 characters (this one has 5,999)" in result.output
    assert earful("search", "outage down", "-c", str(demo)).exit_code == 0


# -- labeled files ---------------------------------------------------------------------------


def labeled(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "labeled.csv"
    path.write_text("text,label\n" + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_a_stray_quote_is_an_error_naming_its_line_not_missing_rows(tmp_path: Path) -> None:
    rows = [f"the app is down again {n},negative" for n in range(300)]
    rows[40] = '"my 12 inch cable is broken,negative'  # opened, never closed
    result = earful("eval", str(labeled(tmp_path, rows)), "--map", "negative=complaint")
    assert result.exit_code == 2
    assert "line 42: not valid CSV" in result.output  # the header is line 1
    # two stray quotes: the rows between them would have become one text
    rows[40] = '"my cable is broken,negative'
    rows[90] = 'and "so is the router",negative'
    result = earful("eval", str(labeled(tmp_path, rows)), "--map", "negative=complaint")
    assert result.exit_code == 2
    assert "line 42: not valid CSV" in result.output


@pytest.mark.parametrize("column", ["\u00b2", "\uff12"])  # a superscript 2, a full-width 2
def test_a_column_number_in_other_digits_is_no_column(tmp_path: Path, column: str) -> None:
    # isdigit() is true of both: int() then failed ("²", a traceback) or read 2
    rows = [f"the app is down again {n},negative" for n in range(30)]
    path = labeled(tmp_path, rows)
    result = earful("eval", str(path), "--map", "negative=complaint", "--label-col", column)
    assert result.exit_code == 2, result.output
    assert f'--label-col "{column}": no such column; the file has: text, label' in result.output
    by_number = earful("eval", str(path), "--map", "negative=complaint", "--label-col", "2")
    assert by_number.exit_code == 0, by_number.output


def test_labels_with_terminal_escapes_are_shown_escaped_and_the_list_is_short(
    tmp_path: Path,
) -> None:
    rows = ["great service,\x1b]0;PWNED\x07"] + [f"post {n},label{n}" for n in range(2000)]
    result = earful("eval", str(labeled(tmp_path, rows)))
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\u001b]0;PWNED\\u0007" in result.output
    assert "and 1991 more" in result.output and len(result.output) < 2000


def test_training_on_one_half_and_scoring_the_other_is_refused(tmp_path: Path) -> None:
    rows = [f"post {n},{('negative', 'positive', 'neutral')[n % 3]}" for n in range(90)]
    result = earful(
        "train",
        str(labeled(tmp_path, rows)),
        "--map",
        "negative=complaint,positive=praise,neutral=neither",
        "--half",
        "odd",
        "--score-half",
        "even",
        "-o",
        str(tmp_path / "model.json"),
    )
    assert result.exit_code == 2
    assert "--score-half even scores the rows --half odd leaves out" in result.output
    assert not (tmp_path / "model.json").exists()


# -- exit codes for cron ---------------------------------------------------------------------


async def test_poll_exits_1_when_a_source_failed_and_says_which(tmp_path: Path) -> None:
    import asyncio

    async with FakeHackerNews() as hn:
        path = tmp_path / "earful.toml"
        path.write_text(
            '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
            f'[[sources]]\nname = "hn"\ntype = "hackernews"\nbase_url = "{hn.url}"\n\n'
            '[[sources]]\nname = "down"\ntype = "hackernews"\nbase_url = "http://127.0.0.1:9"\n',
            encoding="utf-8",
        )
        result = await asyncio.to_thread(earful, "poll", "-c", str(path), "--json")
        # the human summary, as cron mails it, does not read a failure as a quiet source
        shown = await asyncio.to_thread(earful, "poll", "-c", str(path))
    assert result.exit_code == 1
    summaries = {s["source"]: s for s in json.loads(result.stdout)}
    assert summaries["hn"]["error"] is None
    assert summaries["down"]["error"] and summaries["down"]["fetched"] == 0
    assert "earful: poll failed: down: " in result.stderr
    assert "earful: 1 of 2 sources failed" in result.stderr
    with Store.open(load_config(path).db_path) as store:
        assert store.cursor("hn") is not None  # what the good source found is kept
    assert shown.exit_code == 1
    lines = {line.split(":")[0]: line for line in shown.stdout.splitlines()}
    assert lines["down"].startswith("down: FAILED (see below); fetched 0, new 0 (nothing stored)")
    assert "FAILED" not in lines["hn"] and "nothing new" in lines["hn"]


def test_a_reader_that_stops_early_gets_no_error_message(demo: Path) -> None:
    # `earful export mentions | head -c 5`: the pipe closes under the writer
    earful_command = Path(sys.executable).with_name("earful")
    proc = subprocess.Popen(
        [str(earful_command), "export", "mentions", "--format", "json", "-c", str(demo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(5) == b'[\n{"i'
    proc.stdout.close()
    errors = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert errors == b""  # neither "Broken pipe" nor a traceback


# -- what a newcomer's first commands say ---------------------------------------------------


def test_eval_with_nothing_misjudged_says_so(tmp_path: Path) -> None:
    # "misjudged (first 5, earful):" stood over nothing, as if output were lost
    labeled = tmp_path / "posts.csv"
    labeled.write_text(
        "text,label\n"
        '"charged me twice and nobody answers, awful",complaint\n'
        '"love it, best coffee I have had",praise\n',
        encoding="utf-8",
    )
    config = tmp_path / "earful.toml"
    assert earful("init", str(config)).exit_code == 0
    result = earful("eval", str(labeled), "--show-errors", "5", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "misjudged (first 5, earful):\n  none: every row was judged as labeled\n"
    )


def test_init_points_to_check_before_run(tmp_path: Path) -> None:
    path = tmp_path / "earful.toml"
    result = earful("init", str(path))
    assert result.exit_code == 0
    assert f"`earful check -c {path}` says whether it is ready" in result.output


def test_demo_help_says_interval_takes_a_duration() -> None:
    # "--interval TEXT" did not say what to write
    assert "--interval DURATION" in earful("demo", "--help").output


def test_eval_of_one_row_says_row(tmp_path: Path) -> None:
    labeled = tmp_path / "one.csv"
    labeled.write_text('text,label\n"charged me twice, awful",complaint\n', encoding="utf-8")
    config = tmp_path / "earful.toml"
    assert earful("init", str(config)).exit_code == 0
    result = earful("eval", str(labeled), "-c", str(config))
    assert result.output.startswith("1 row scored\n"), result.output


@pytest.mark.parametrize(
    "args",
    [
        ["user", "-c", "{good}", "list"],
        ["-c", "{bad}", "user", "-c", "{good}", "list"],
        ["user", "-c", "{bad}", "list", "-c", "{good}"],
    ],
)
def test_c_may_come_after_a_group_name_and_the_later_one_wins(
    tmp_path: Path, args: list[str]
) -> None:
    # `earful user -c FILE list` answered "No such option: -c"
    good = tmp_path / "earful.toml"
    assert earful("init", str(good)).exit_code == 0
    added = CliRunner().invoke(
        cli,
        ["user", "add", "ana", "--role", "admin", "-c", str(good), "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    filled = [a.format(good=good, bad=tmp_path / "missing.toml") for a in args]
    result = earful(*filled)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ana ")


def test_c_after_a_group_name_that_is_wrong_is_the_one_used(tmp_path: Path) -> None:
    good = tmp_path / "earful.toml"
    assert earful("init", str(good)).exit_code == 0
    result = earful("-c", str(good), "queue", "-c", str(tmp_path / "missing.toml"), "list")
    assert result.exit_code == 2 and "missing.toml: file not found" in result.output


def test_init_help_says_force_never_overwrites_a_database() -> None:
    assert "Overwrite an existing config (never a database)." in earful("init", "--help").output


def test_an_empty_queue_for_a_topic_no_rule_gives_says_so(demo: Path) -> None:
    # `--topic biling` answered "no pending drafts", as if billing were quiet
    result = earful("queue", "list", "--topic", "biling", "-c", str(demo))
    assert result.exit_code == 0
    assert result.stdout == "no pending drafts\n"
    assert result.stderr.startswith(
        'note: --topic "biling": no rule gives it (did you mean "billing"?); the rules give '
    )
    segment = earful("queue", "list", "--segment", "VIP", "--json", "-c", str(demo))
    assert segment.stdout == "[]\n"
    assert 'note: --segment "VIP": no rule gives it (did you mean "vip"?)' in segment.stderr


def test_a_topic_the_rules_give_has_no_note(demo: Path) -> None:
    result = earful("queue", "list", "--topic", "billing", "--status", "rejected", "-c", str(demo))
    assert result.exit_code == 0 and result.stderr == ""


# -- the config nobody named ----------------------------------------------------------------


def test_no_config_named_says_where_it_looked_and_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sudo -u earful earful queue list` in the service's folder, -c forgotten: the
    # config is in /etc/earful, and "run `earful init`" alone would have made a second,
    # empty setup there
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EARFUL_CONFIG", raising=False)
    result = earful("queue", "list")
    assert result.exit_code == 2
    assert f"and no earful.toml in {tmp_path};" in result.output
    assert "-c FILE" in result.output and "EARFUL_CONFIG" in result.output
    named = earful("queue", "list", "-c", str(tmp_path / "earful.toml"))
    assert named.exit_code == 2 and "file not found (run `earful init`" in named.output
    # named as the default's own name, it is still named: not "none named with -c"
    given = earful("queue", "list", "-c", "earful.toml")
    assert given.exit_code == 2 and "file not found (run `earful init`" in given.output
    monkeypatch.setenv("EARFUL_CONFIG", "earful.toml")
    by_env = earful("queue", "list")
    assert by_env.exit_code == 2 and "none named" not in by_env.output


def test_decision_helps_say_what_they_take_and_where_a_note_goes() -> None:
    # approve and reject take a failed reply too (README); a resolve's note is in no
    # alert, as only an escalation's is
    approve = " ".join(earful("queue", "approve", "--help").output.split())
    assert "or a failed reply again" in approve
    assert "Reject drafts (or failed replies)" in earful("queue", "reject", "--help").output
    resolve = " ".join(earful("case", "resolve", "--help").output.split())
    assert "--note TEXT Why, for the case's history." in resolve and "alert" not in resolve
    escalate = " ".join(earful("case", "escalate", "--help").output.split())
    assert "history and the alert senior staff get" in escalate
