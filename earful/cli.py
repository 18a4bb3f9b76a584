"""The `earful` command. Exit codes: 0 ok, 1 runtime error, 2 usage or config error.

Every command that reads the store takes -c/--config (default ./earful.toml, or
$EARFUL_CONFIG); every listing takes --json, whose shape README documents.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import getpass
import io
import logging
import os
import shutil
import sqlite3
import sys
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from earful import __version__, locks, redaction
from earful.config import CREDENTIAL_SECTIONS, Config, ConfigError, config_path, load_config
from earful.display import (
    EXPORT_ERRORS,
    counted,
    duration,
    oneline,
    plain,
    safe,
    to_json,
    write_csv,
)
from listener.mention import PLATFORMS
from rules.verdict import Disposition
from storage.db import shown_time
from storage.records import ReplyRecord
from storage.schema import ALERT_STATUSES, REPLY_STATUSES, ROLES
from storage.store import (
    DECIDABLE,
    AlreadyDecided,
    EditedSince,
    NotFound,
    Store,
    StoreError,
    check_search,
)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class _RowId(click.IntRange):
    name = "id"  # "'abc' is not a valid id.", not "... a valid integer range."


# SQLite's integers are 64-bit: a bigger id cannot name a row
ROW_ID = _RowId(min=1, max=2**63 - 1)


class Failure(click.ClickException):
    """A runtime error shown as `earful: <message>`, exit code 1."""

    exit_code = EXIT_RUNTIME

    def show(self, file: Any = None) -> None:
        # safe(): a message may quote a post, a label or a name from someone else
        click.echo(f"earful: {safe(self.format_message())}", err=True)


class BadConfig(Failure):
    exit_code = EXIT_USAGE


def _config_file_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "-c",
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=help_text,
    )


def config_option(func: F) -> F:
    return _config_file_option("Config file (default: $EARFUL_CONFIG or ./earful.toml).")(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")(func)


def actor_option(func: F) -> F:
    return click.option(
        "--as",
        "actor",
        default=None,
        metavar="NAME",
        help="Who is deciding (default: $EARFUL_USER, else your login name).",
    )(func)


def _actor(explicit: str | None) -> str:
    from earful.console.passwords import name_problem

    name = explicit or os.environ.get("EARFUL_USER")
    if name:
        problem = name_problem(name)
        if problem:
            where = "--as" if explicit else "$EARFUL_USER"
            raise click.BadParameter(f"{problem}, got {safe(name)!r}", param_hint=where)
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's user id with no account and no $USER
        raise click.UsageError(
            "who is deciding? This user has no login name: pass --as NAME or set EARFUL_USER"
        ) from None


def _load(config_file: Path | None, *, credentials: tuple[str, ...] = ()) -> Config:
    """The config. `credentials`: the sections whose ${VAR}s the command uses
    ("sources" to poll or post, "escalation" to send alerts); see load_config."""
    try:
        return load_config(config_path(config_file), credentials=credentials)
    except ConfigError as exc:
        raise BadConfig(str(exc)) from None


def _setup_logging(config: Config, level: str | None = None) -> None:
    """Log to stderr at `level` (default: the config's), times in UTC as in the
    database and the JSON (2026-12-01T03:22:09Z), with every secret of the config
    masked (client libraries log their request headers at debug level) and control
    characters escaped (redaction.install does both)."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(
        level=getattr(logging, (level or config.logging.level).upper()), handlers=[handler]
    )
    # APScheduler logs every job run at INFO; that is noise for an operator.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    redaction.install(config.secret_values())  # after basicConfig: it guards its handlers


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the errors a user can cause into clear messages and exit codes."""
    try:
        yield
    except ConfigError as exc:
        raise BadConfig(str(exc)) from None
    except (StoreError, locks.Busy) as exc:
        raise Failure(str(exc)) from None
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise Failure(
                f"cannot write to the database ({exc}): this user may not write the file "
                "or its folder; run the command as the user the daemon runs as"
            ) from None
        # "database is locked" after the busy wait
        raise Failure(
            f"the database is busy ({exc}): another process is writing to it; try again"
        ) from None
    except BrokenPipeError:
        # `earful queue list | head`: the reader has all it wanted; say nothing (and
        # keep Python's exit-time flush from saying it for us)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise click.exceptions.Exit(1) from None
    except OSError as exc:  # a file to write in a folder that is not there, a full disk
        if exc.filename is None:
            raise Failure(f"cannot write: {exc.strerror or exc}") from None
        raise Failure(f"{exc.filename}: {exc.strerror or exc}") from None


def handles_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _check_target(config: Config, target: Path) -> None:
    """A file a command is to write: named, in a folder that is there, and not one of
    Earful's own: the database (with its -wal and -shm, which SQLite would take as
    its own), the daemon's lock, the config."""
    if not target.name:
        raise click.UsageError("name the file to write")
    from storage.db import database_files

    db = config.db_path.resolve()
    own = (*database_files(db), locks.daemon_lock(db), config.path.resolve())
    resolved = target.resolve()
    if resolved in own:
        raise click.UsageError(f"{target} is Earful's own database or config; name another file")
    if not resolved.parent.is_dir():
        raise click.UsageError(f"{target}: there is no folder {resolved.parent}")


def _store(config: Config, *, create: bool = False) -> Any:
    """The database, which must exist unless the command makes one (`create`)."""
    from earful.pipeline import open_store

    return open_store(config, create=create)


def _check_writable(config: Config, *, lock: bool = False) -> None:
    """Refuse to start a command that writes the database when this user may not
    write it: SQLite would open it read-only without a word, and a daemon would then
    say "earful running" and fail every poll ("attempt to write a readonly database").
    `lock`: the command takes the daemon's lock too (a root-owned one is left by
    `sudo earful restore` when there was none)."""
    from earful.pipeline import check_storage_folder
    from storage.db import write_problem

    check_storage_folder(config)  # a folder that is not there: its own message
    db = config.db_path
    problem = write_problem(db, beside=[locks.daemon_lock(db)] if lock else [])
    if problem is not None:
        raise Failure(
            f"cannot write to the database (storage.path in {config.path}): {problem}. "
            "Earful writes the database, its -wal, -shm and lock files and their folder: "
            "run it as the user who owns them, or give them back to that user (chown)"
        )


def _duration(value: str) -> str:
    """A duration option's value, checked ("90s", "5m"): a usage error otherwise."""
    from listener.base import parse_duration

    try:
        parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _limit_option(default: int) -> Callable[[F], F]:
    return click.option(
        "--limit",
        type=click.IntRange(min=1, max=10**9),
        default=default,
        show_default=True,
        help="Show at most this many.",
    )


def _note_more(rows: list[Any], limit: int) -> list[Any]:
    """The first `limit` of rows fetched with one to spare, saying so when there were
    more: a list cut short must not look complete."""
    if len(rows) > limit:
        click.echo(f"(the first {limit} shown; there are more: --limit N)", err=True)
    return rows[:limit]


def _terminal_width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def _config_defaults(group: click.Group, config_file: Path) -> dict[str, Any]:
    """A default_map giving every command under `group` that takes -c this config."""
    defaults: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            defaults[name] = _config_defaults(command, config_file)
        elif any(p.name == "config_file" for p in command.params):
            defaults[name] = {"config_file": config_file}
    return defaults


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="earful")
@_config_file_option("Config file for the command (it may also come after the command).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """Earful listens for your brand on social media, judges what people say, and
    drafts replies that wait for a person's approval.

    Start with `earful demo`, or `earful init` to write a config of your own.
    """
    # `earful -c FILE stats` as well as `earful stats -c FILE`: the first is what
    # most tools take, and "No such option: -c" helped nobody
    if config_file is not None:
        ctx.default_map = _config_defaults(cli, config_file)


# -- init -----------------------------------------------------------------------


@cli.command()
@click.argument("where", metavar="[PATH]", type=click.Path(), default="earful.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@handles_errors
def init(where: str, force: bool) -> None:
    """Write a starter config to PATH (default ./earful.toml; a folder, or a name
    ending in /, gets earful.toml in it)."""
    path = Path(where)  # `where` as typed: Path() would drop a trailing /
    if path.is_dir() or where.endswith(("/", os.sep)):
        path = path / "earful.toml"
    for folder in path.parents:
        if folder.exists() and not folder.is_dir():
            raise BadConfig(f"{folder} is a file, not a folder")
    if path.exists() and not force:
        raise BadConfig(f"{path} exists; use --force to overwrite it")
    if path.exists() and not _is_text(path):
        # --force is for a config gone wrong, not for the database beside it
        raise BadConfig(f"{path} is not a config file (it is not text); not overwriting it")
    from importlib.resources import files

    starter = files("earful").joinpath("starter.toml").read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter, encoding="utf-8")
    click.echo(f"wrote {path}: set [brand], add [[sources]], then `earful run -c {path}`")


def _is_text(path: Path) -> bool:
    """A small UTF-8 text file, as a config is; not a database or any binary file."""
    try:
        with path.open("rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    if b"\0" in head:  # SQLite's header, and any binary format, has NUL bytes
        return False
    try:  # not final: the first megabyte may end inside a character
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


# -- classify -------------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option("--explain", is_flag=True, help="Show every cue and rule that fired.")
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default="x",
    show_default=True,
    help="Judge as a post from here.",
)
@click.option("--followers", type=int, default=None, help="The author's follower count.")
@click.option("--author", default="someone", show_default=True, help="The author's handle.")
@click.argument("words", nargs=-1, required=True, metavar="TEXT")
@handles_errors
def classify(
    config_file: Path | None,
    as_json: bool,
    explain: bool,
    platform: str,
    followers: int | None,
    author: str,
    words: tuple[str, ...],
) -> None:
    """Judge TEXT the way Earful would, without storing anything. TEXT may be several
    words (quote it to keep its punctuation from the shell), or "-" to read stdin.

    Uses the rules of the config file when there is one, else the shipped rules.
    """
    from listener.mention import Author, Mention
    from rules import explain as explain_lines
    from rules import judge

    text = sys.stdin.read() if words == ("-",) else " ".join(words)

    stages = _classify_stages(config_file)
    mention = Mention(
        platform=platform,
        native_id="classify",
        text=text,
        author=Author(handle=author, followers=followers),
        created_at=datetime.now(UTC),
    )
    verdict = judge(mention, stages.ruleset)
    if as_json:
        click.echo(to_json(verdict))
        return
    if explain:
        for line in explain_lines(verdict):
            click.echo(safe(line))
        return
    topic = f" ({verdict.topic})" if verdict.topic else ""
    click.echo(f"{verdict.disposition.value}{topic} urgency {verdict.urgency}")


def _has_config(config_file: Path | None) -> bool:
    """A config named with -c or $EARFUL_CONFIG (which must then exist), or a
    ./earful.toml; without either, classify, eval and train use the shipped rules."""
    named = config_file is not None or bool(os.environ.get("EARFUL_CONFIG"))
    return named or config_path(config_file).exists()


def _classify_stages(config_file: Path | None, *, learned: bool = True) -> Any:
    """The config's rules (with its model unless `learned` is False), else the shipped
    rules for a neutral brand."""
    config = _load(config_file) if _has_config(config_file) else None
    return _stages_for(config, learned=learned)


def _stages_for(config: Config | None, *, learned: bool = True) -> Any:
    """`config`'s rules (with its model unless `learned` is False); without a config,
    the shipped rules for a neutral brand."""
    from earful.pipeline import Stages
    from responders.context import ResponderSettings
    from rules import load_ruleset

    if config is not None:
        from earful.pipeline import build_stages

        return build_stages(config, learned=learned)
    from listener.mention import Brand

    brand = Brand("your brand")
    return Stages(load_ruleset(brand=brand), ResponderSettings(brand=brand))


# -- eval -----------------------------------------------------------------------


def _pairs_option(flag: str, dest: str, metavar: str, what: str) -> Callable[[F], F]:
    return click.option(
        flag, dest, multiple=True, metavar=f"{metavar},...", help=f"Map the file's {what}."
    )


def _table_options(func: F) -> F:
    """The labeled file and how to read it: shared by `eval` and `train`."""
    options = [
        click.argument("file", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--text-col",
            default="text",
            show_default=True,
            help="Column of the post text (name or number).",
        ),
        click.option(
            "--label-col", default="label", show_default=True, help="Column of the human label."
        ),
        _pairs_option("--map", "maps", "LABEL=CLASS", "labels to complaint, praise or neither"),
        click.option(
            "--sign-labels", is_flag=True, help="Labels are numbers: >0 praise, <0 complaint."
        ),
        click.option(
            "--topic-col", default=None, help="Column with the root cause, when there is one."
        ),
        _pairs_option(
            "--topic-map", "topic_maps", "CAUSE=TOPIC", "causes to topics; CAUSE= is unknown"
        ),
        click.option("--no-header", is_flag=True, help="The first row is data; columns by number."),
        click.option(
            "--half",
            type=click.Choice(["odd", "even"]),
            default=None,
            help="Use only these data rows.",
        ),
        click.option(
            "--show-errors",
            type=click.IntRange(min=0),
            default=0,
            metavar="N",
            help="List the first N misjudged rows.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class _TableSpec:
    file: Path
    text_col: str
    label_col: str
    maps: tuple[str, ...]
    sign_labels: bool
    topic_col: str | None
    topic_maps: tuple[str, ...]
    no_header: bool
    half: str | None

    def read(self, ruleset: Any) -> Any:
        from earful import evaluation as ev
        from rules import topics_of

        try:
            return ev.read_table(
                self.file,
                text_col=self.text_col,
                label_col=self.label_col,
                labels=ev.label_map(ev.parse_pairs(self.maps, "--map")),
                sign_labels=self.sign_labels,
                topic_col=self.topic_col,
                topics=ev.parse_pairs(self.topic_maps, "--topic-map"),
                known_topics=topics_of(ruleset),
                no_header=self.no_header,
                half=self.half,
            )
        except ev.EvalInputError as exc:
            raise BadConfig(str(exc)) from None


def _watched(count: int) -> bool:
    # A bar only where a person watches work that takes a moment.
    return count >= 2000 and sys.stderr.isatty()


def _with_bar(rows: Any, label: str, *, visible: bool = True) -> Any:
    if not visible or not _watched(len(rows)):
        yield from rows
        return
    with click.progressbar(rows, label=label, file=sys.stderr) as shown:
        yield from shown


def _progress(total: int, label: str) -> Any:
    """A bar on stderr for `total` steps of work, or a stand-in that shows nothing
    (its `update` takes the same count)."""
    if not _watched(total):
        return contextlib.nullcontext(types.SimpleNamespace(update=lambda _n: None))
    return click.progressbar(length=total, label=label, file=sys.stderr)


def _echo_errors(result: Any, show_errors: int) -> None:
    from earful import evaluation as ev

    click.echo("")
    click.echo(f"misjudged (first {show_errors}, {result.name}):")
    for line in ev.error_lines(result):
        click.echo(safe(line))


_baseline_option = click.option(
    "--baseline",
    type=click.Choice(["vader"]),
    default=None,
    help="Also score VADER alone (compound, +/-0.05 cut-offs).",
)


@cli.command("eval")
@config_option
@json_option
@_table_options
@_baseline_option
@click.option(
    "--polarity",
    is_flag=True,
    help="Judge by the sign of the verdict's score instead of its disposition.",
)
@click.option(
    "--model",
    "model_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Judge with this model from `earful train` instead of the config's.",
)
@click.option(
    "--no-model", is_flag=True, help="Judge with the rules alone, ignoring [rules] model."
)
@handles_errors
def eval_command(
    config_file: Path | None,
    as_json: bool,
    show_errors: int,
    baseline: str | None,
    polarity: bool,
    model_file: Path | None,
    no_model: bool,
    **table: Any,
) -> None:
    """Score the rules on a labeled CSV or TSV file: precision, recall and F1 per
    class, macro-F1, the confusion matrix, and topic accuracy with --topic-col.

    Verdicts count as complaint (interesting_bad), praise (interesting_good) or
    neither (question, ignore). docs/quality.md has the --json shape.
    """
    from earful import evaluation as ev
    from rules import RuleError, read_model, with_model

    if model_file is not None and no_model:
        raise BadConfig("--model and --no-model: give one or the other")
    # With --model or --no-model the config's model is not read: it may not exist yet.
    ruleset = _classify_stages(config_file, learned=not (no_model or model_file)).ruleset
    if model_file is not None:
        try:
            ruleset = with_model(ruleset, read_model(model_file))
        except RuleError as exc:
            raise BadConfig(f"--model: {exc}") from None
    spec = _TableSpec(**table)
    data = spec.read(ruleset)
    if ruleset.model is not None and _seen_in_training(ruleset.model.trained, spec):
        click.echo(
            f"note: {ruleset.model.source} was trained on these rows of {spec.file.name}: "
            "the figures show what it memorised; `earful train` prints what to expect on "
            "new posts (or train on --half odd and score --half even)",
            err=True,
        )
    results = ev.evaluate(
        data,
        ruleset,
        show_errors=show_errors,
        baseline=baseline,
        progress=lambda rows: _with_bar(rows, "judging", visible=not as_json),
        polarity=polarity,
    )
    if as_json:
        report = ev.report_json(spec.file, data, results)
        model = ruleset.model
        report["model"] = (
            None if model is None else {"path": model.source, "trained": dict(model.trained)}
        )
        click.echo(to_json(report))
        return
    if ruleset.model is not None:
        click.echo(f"with the model {ruleset.model.source}")
    for line in ev.report_lines(data, results):
        click.echo(line)
    if show_errors:
        _echo_errors(results[0], show_errors)


def _seen_in_training(trained: Any, spec: _TableSpec) -> bool:
    """Whether the model was fitted on (some of) the rows being scored."""
    if trained.get("file") != spec.file.name:
        return False
    half = trained.get("half")
    return half is None or spec.half is None or half == spec.half


@cli.command()
@config_option
@json_option
@_table_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the model to this file (JSON); name it in [rules] model.",
)
@click.option(
    "--folds",
    type=click.IntRange(min=0, max=20),
    default=5,
    show_default=True,
    metavar="K",
    help="Estimate the model on posts it has not seen, by k-fold cross-validation; 0 skips.",
)
@_baseline_option
@click.option(
    "--score-half",
    type=click.Choice(["odd", "even"]),
    default=None,
    help="Score the cross-validation on these rows only (all rows still train).",
)
@click.option("--force", is_flag=True, help="Replace an -o file that is not an Earful model.")
@handles_errors
def train(
    config_file: Path | None,
    as_json: bool,
    show_errors: int,
    output: Path,
    folds: int,
    baseline: str | None,
    score_half: str | None,
    force: bool,
    **table: Any,
) -> None:
    """Fit a model on a labeled CSV or TSV file (the columns and mappings of `earful
    eval`): it re-decides complaint, praise or neither, and a complaint's topic, from
    what the rules found and the post's words. It learns your labels' habits; check
    it on rows it has not seen (the cross-validation it prints, or --half odd here and
    `earful eval --half even --model FILE`). docs/quality.md says more.
    """
    from earful import evaluation as ev
    from earful import training as tr

    if folds == 1:
        raise BadConfig("--folds 1: cross-validation needs 2 folds or more (0 skips it)")
    if folds == 0 and (show_errors or baseline or score_half):
        raise BadConfig(
            "--show-errors, --baseline and --score-half go with the cross-validation: not --folds 0"
        )
    spec = _TableSpec(**table)
    if spec.half and score_half and spec.half != score_half:
        raise BadConfig(
            f"--score-half {score_half} scores the rows --half {spec.half} leaves out: "
            "nothing to score"
        )
    config = _load(config_file) if _has_config(config_file) else None
    if config is not None:
        _check_target(config, output)
    # The config's own model is not read: training is how it gets made or remade.
    ruleset = _stages_for(config, learned=False).ruleset
    data = spec.read(ruleset)
    try:
        tr.check_enough(data, spec.file, spec.half)
        tr.check_output(output, spec.file, force=force)
    except ev.EvalInputError as exc:
        raise BadConfig(str(exc)) from None
    items = tr.samples(_with_bar(data.rows, "judging", visible=not as_json), ruleset)
    epochs = tr.fits_needed(items) * (folds + 1)
    bar = (
        click.progressbar(length=epochs, label="fitting", file=sys.stderr)
        if sys.stderr.isatty() and not as_json
        else None
    )
    tick = bar.update if bar is not None else None
    with bar if bar is not None else contextlib.nullcontext():
        estimate = (
            tr.cross_validate(items, ruleset, folds, show_errors, tick, score_half)
            if folds
            else None
        )
        model = tr.fit_model(items, tr.description(spec.file, data, spec.half, ruleset), tick)
    scored = [r for r in data.rows if ev.in_half(r, score_half)]
    baselines = ev.baseline_results(scored, baseline, show_errors) if estimate else []
    try:
        size = tr.save(model, output)
    except ev.EvalInputError as exc:
        raise BadConfig(str(exc)) from None
    if as_json:
        report = {
            "model": str(output),
            "bytes": size,
            "trained": dict(model.trained),
            "features": len(model.classes.table),
            "cross_validation": None
            if estimate is None
            else {"folds": folds, **ev.result_json(estimate)},
            "baseline": {r.name: ev.result_json(r) for r in baselines},
        }
        click.echo(to_json(report))
        return
    shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
    click.echo(
        f"trained on {len(items)} rows: {len(model.classes.table)} features; "
        f"wrote {output} ({shown})"
    )
    if estimate is not None:
        _echo_estimate(data, [estimate, *baselines], folds, score_half, show_errors)
    click.echo("")
    where = output.resolve()
    click.echo(f'use it: [rules] model = "{where}" in the config, or earful eval --model {output}')


def _echo_estimate(
    data: Any, results: list[Any], folds: int, score_half: str | None, show_errors: int
) -> None:
    from earful import evaluation as ev

    click.echo(
        f"cross-validated ({folds} folds: each row judged by a model that did not see it)"
        + (f"; scored on the {score_half} rows" if score_half else "")
    )
    for line in ev.report_lines(data, results)[1:]:
        click.echo(line)
    if show_errors:
        _echo_errors(results[0], show_errors)


# -- poll, run, publish -------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option("--source", "source_name", default=None, help="Poll only this source.")
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Follow a backlog at most this far.",
)
@handles_errors
def poll(config_file: Path | None, as_json: bool, source_name: str | None, max_pages: int) -> None:
    """Poll each source once, judge, queue, and print a summary."""
    if source_name is not None and not source_name.strip():
        raise click.BadParameter("name a source (or leave --source out)", param_hint="--source")
    # one source polled needs only its own ${VAR}s set
    config = _load(config_file, credentials=() if source_name else ("sources",))
    waiting = [problem for name, problem in config.waiting_sources if name == source_name]
    if waiting:
        raise BadConfig(str(ConfigError(config.path, waiting)))
    if not config.sources:
        raise BadConfig(
            f"{config.path}: no [[sources]] to poll; add a [[sources]] table "
            "(config.example.toml, in Earful's source, shows one for each type)"
        )
    _check_writable(config)
    _setup_logging(config, "warning" if as_json else None)
    summaries, errors = asyncio.run(_poll_all(config, source_name, max_pages))
    if as_json:
        click.echo(to_json([{**plain(s), "error": errors.get(s.source)} for s in summaries]))
    else:
        for summary in summaries:
            _echo_summary(summary, failed=summary.source in errors)
    if errors:
        # after the summary: what the other sources stored is stored; cron sees exit 1
        for name, error in errors.items():
            click.echo(f"earful: poll failed: {name}: {safe(error)}", err=True)
        raise Failure(f"{len(errors)} of {len(summaries)} sources failed")


async def _poll_all(
    config: Config, only: str | None, max_pages: int
) -> tuple[list[Any], dict[str, str]]:
    from earful.app import build_runtime
    from earful.pipeline import poll_sources

    runtime = build_runtime(config, only=only)
    # A running daemon owns each source's health: a good poll here must not clear
    # the "disabled" of a source that daemon no longer polls.
    record_health = not locks.is_held(locks.daemon_lock(config.db_path))
    try:
        return await poll_sources(
            runtime.sources,
            runtime.store,
            runtime.stages,
            max_pages=max_pages,
            record_health=record_health,
        )
    finally:
        await runtime.aclose()


def _echo_summary(summary: Any, *, failed: bool = False) -> None:
    """One source's poll. A failed one says so first (what it stored before failing is
    stored): "nothing new" would read as a quiet source in a cron job's mail."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.dispositions.items()))
    i = summary.ingest
    click.echo(
        f"{summary.source}: {'FAILED (see below); ' if failed else ''}"
        f"fetched {summary.fetched}, new {summary.new} "
        f"({counts or ('nothing stored' if failed else 'nothing new')}); "
        f"drafted: replies {i.replies}, callbacks {i.callbacks}, alerts {i.alerts}"
    )


def no_console_option(func: F) -> F:
    return click.option(
        "--no-console", is_flag=True, help="Do not serve the web console this time."
    )(func)


@cli.command()
@config_option
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log this much this time (default: [logging] level in the config).",
)
@no_console_option
@handles_errors
def run(config_file: Path | None, log_level: str | None, no_console: bool) -> None:
    """Run the daemon: pollers, publisher (and console) until SIGINT, SIGTERM or
    SIGHUP (each a clean stop; the config is not reloaded)."""
    config = _load(config_file, credentials=CREDENTIAL_SECTIONS)
    _check_writable(config, lock=True)
    _setup_logging(config, log_level)
    _run_daemon(config, console=not no_console)


def _run_daemon(
    config: Config,
    on_batch: Callable[[Any], None] | None = None,
    *,
    console: bool = True,
    on_console_up: Callable[[], None] | None = None,
) -> None:
    """`on_console_up` is called once the console listens."""
    from earful.app import build_runtime
    from earful.daemon import Daemon

    services = []
    if console and config.console.enabled:
        from earful.console import ConsoleService

        start_console = ConsoleService(config)

        async def start() -> Callable[[], Awaitable[None]]:
            stop = await start_console()
            if on_console_up is not None:
                on_console_up()
            return stop

        services.append(start)
    runtime = build_runtime(config)
    daemon = Daemon(runtime, services=services, on_batch=on_batch or (lambda summary: None))
    asyncio.run(daemon.run(exiting=True))
    if daemon.failure is not None:  # exit 1: systemd (or whoever) should know
        raise Failure(daemon.failure)


@cli.command()
@config_option
@json_option
@handles_errors
def publish(config_file: Path | None, as_json: bool) -> None:
    """Post approved replies now (in dry-run mode: mark them sent and log them), when
    no daemon runs: a running daemon posts them itself."""
    config = _load(config_file, credentials=("sources",))
    _setup_logging(config, "warning" if as_json else None)
    db = config.db_path
    _check_writable(config, lock=True)  # before the lock, which would make the folder
    # The daemon's lock, held while posting: a daemon starting meanwhile would take
    # the reply in flight for a crash's. Held, a reply found in `sending` is one.
    busy = (
        f"a daemon is running on {db} and posts approved replies itself "
        f"(every {duration(config.publish.interval)}); earful publish is for when none runs"
    )
    with locks.held(locks.daemon_lock(db), busy):
        summary = asyncio.run(_publish(config))
    if as_json:
        click.echo(to_json(summary))
    else:
        outcomes = ", ".join(
            f"{n} {_PUBLISH_OUTCOMES.get(k, k)}" for k, n in summary.outcomes.items()
        )
        click.echo(f"publish ({config.publish.mode}): {outcomes or 'no approved replies to post'}")
    stuck = sum(summary.outcomes.get(k, 0) for k in ("failed", "unknown"))
    if stuck:  # exit 1, as poll and alerts send do: a cron job should hear of it
        raise Failure(
            f"{stuck} {'reply' if stuck == 1 else 'replies'} failed or in doubt "
            "(earful queue list --status failed, or --status unknown)"
        )


# What each outcome of a publish run means, said to the operator.
_PUBLISH_OUTCOMES = {
    "sent": "posted",
    "dry-run": "marked sent without posting (dry run)",
    "reconciled": "found already posted",
    "retry": "to try again later",
    "failed": "failed (see `earful queue list --status failed`)",
    "unknown": "unknown: check the platform, then `earful queue mark-sent` or `retry`",
}


async def _publish(config: Config) -> Any:
    from collections import Counter

    from earful.app import build_runtime
    from earful.outbox import PublishSummary, publish_due, reconcile_sending

    runtime = build_runtime(config, with_sources=False)
    try:
        # a reply left in `sending` by a crash or a killed run: looked for first
        settled = await reconcile_sending(runtime.store, runtime.publishers)
        posted = await publish_due(runtime.store, runtime.publishers, config.publish)
        return PublishSummary(dict(Counter(settled.outcomes) + Counter(posted.outcomes)))
    finally:
        await runtime.aclose()


# -- demo -----------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("earful-demo"),
    show_default=True,
    help="Where the demo keeps its config and database.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Console port."
)
@click.option("--once", is_flag=True, help="Replay the whole demo file, print a summary, exit.")
@click.option("--keep", is_flag=True, help="Continue the last demo instead of starting afresh.")
@click.option(
    "--interval",
    default="3s",
    show_default=True,
    callback=lambda _ctx, _param, value: _duration(value),
    help="Time between replay ticks.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=10_000),
    default=5,
    show_default=True,
    help="Posts per replay tick.",
)
@no_console_option
@json_option
@handles_errors
def demo(
    workdir: Path,
    port: int,
    once: bool,
    keep: bool,
    interval: str,
    batch: int,
    no_console: bool,
    as_json: bool,
) -> None:
    """Run Earful on the bundled demo data: no credentials needed."""
    from earful.demo import NotADemoFolder, demo_lock

    try:
        with demo_lock(workdir):
            _demo(workdir, port, once, keep, interval, batch, no_console, as_json)
    except NotADemoFolder as exc:
        raise BadConfig(str(exc)) from None


def _demo(
    workdir: Path,
    port: int,
    once: bool,
    keep: bool,
    interval: str,
    batch: int,
    no_console: bool,
    as_json: bool,
) -> None:
    from earful.demo import demo_database, prepare_demo

    replaced = not keep and demo_database(workdir).exists()
    config = prepare_demo(
        workdir, port=port, interval=interval, batch=200 if once else batch, fresh=not keep
    )
    if replaced and not as_json:
        click.echo(
            "Started afresh: the last demo's posts and decisions were deleted "
            "(`earful demo --keep` or `make demo KEEP=1` continues the last demo).",
            err=True,
        )
    _check_writable(config, lock=not once)  # --once holds no daemon lock
    if once:
        summary, stats = asyncio.run(_demo_once(config))
        if as_json:
            click.echo(to_json({"replayed": summary, "stats": stats}))
        else:
            _echo_summary(summary)
            _echo_stats(stats)
        return
    _setup_logging(config)
    click.echo(
        f"Earful demo: replaying mentions of {config.brand.name}, {batch} every {interval}.\n"
        f"  database: {config.db_path}\n"
        f"  the queue, from another terminal in this folder:\n"
        f"    export EARFUL_CONFIG={config.path}\n"
        f"    earful queue list      earful queue show ID      earful queue approve ID\n"
        f"  stop with Ctrl-C",
        err=True,
    )
    console_up = None
    if not no_console:
        password = _demo_account(config)

        def console_up() -> None:
            # once it listens: a port already taken fails start-up with no login shown
            click.echo(
                f"  the console: http://{config.console.host}:{config.console.port}/\n"
                f"    log in as {DEMO_USER!r} with password {password!r} "
                "(made for this demo run)",
                err=True,
            )

    _run_daemon(config, console=not no_console, on_console_up=console_up)


DEMO_USER = "demo"


def _demo_account(config: Config) -> str:
    """An admin account for the demo's console, with a fresh random password each
    run (printed to the terminal; the demo's database is local and throwaway)."""
    import secrets

    from earful.console.passwords import hash_password

    password = secrets.token_urlsafe(9)
    with _store(config, create=True) as store:
        try:
            store.user(DEMO_USER)
        except NotFound:
            store.add_user(DEMO_USER, "admin", hash_password(password), actor="earful demo")
        else:
            store.set_password(DEMO_USER, hash_password(password), actor="earful demo")
    return password


async def _demo_once(config: Config) -> tuple[Any, Any]:
    from earful.app import build_runtime
    from earful.pipeline import combine, poll
    from storage import health

    runtime = build_runtime(config)
    try:
        pages = []
        for source in runtime.sources:
            while True:
                summary = await poll(source, runtime.store, runtime.stages)
                pages.append(summary)
                if not summary.fetched:
                    break
            health.record_ok(runtime.store, source.name)
        return combine(pages, "demo"), runtime.store.stats()
    finally:
        await runtime.aclose()


# -- the queue --------------------------------------------------------------------


@cli.group()
def queue() -> None:
    """Drafts waiting for a person: list, show, approve, reject."""


def _check_search(words: str, param_hint: str) -> None:
    """A search the store would refuse (too long) is a usage error naming the option."""
    try:
        check_search(words)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None


@queue.command("list")
@config_option
@json_option
@click.option(
    "--status",
    type=click.Choice([*REPLY_STATUSES, "all"]),
    default="pending",
    show_default=True,
    help="Only drafts in this state.",
)
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default=None,
    help="Only drafts answering posts from here.",
)
@click.option(
    "--disposition",
    type=click.Choice([d.value for d in Disposition]),
    default=None,
    help="Only drafts for posts judged so.",
)
@click.option("--topic", default=None, help="Only drafts for complaints of this cause.")
@click.option("--segment", default=None, help="Only drafts for this segment (vip, ...).")
@click.option("--search", default=None, help="Only drafts whose post holds these words.")
@_limit_option(50)
@handles_errors
def queue_list(
    config_file: Path | None,
    as_json: bool,
    status: str,
    platform: str | None,
    disposition: str | None,
    topic: str | None,
    segment: str | None,
    search: str | None,
    limit: int,
) -> None:
    """Drafts, most urgent first; the filters are the console's queue's."""
    from storage import queries

    if search is not None:
        _check_search(search, "--search")
    flt = queries.QueueFilter(
        status=None if status == "all" else status,
        platform=platform,
        disposition=disposition,
        topic=topic,
        segment=segment,
        search=search,
    )
    with _store(_load(config_file)) as store:
        rows = queries.queue(store, flt, limit=limit + 1)
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    rows = _note_more(rows, limit)
    if not rows:
        click.echo(f"no {status if status != 'all' else ''} drafts".replace("  ", " "))
        return
    width = _terminal_width()
    header = f"{'ID':>5} {'URG':>3} {'KIND':<6} {'STATUS':<8} {'PLATFORM':<10} {'AUTHOR':<18} "
    click.echo(header + "POST")
    for r in rows:
        left = (
            f"{r.id:>5} {r.urgency:>3} {r.kind:<6} {r.status:<8} {r.platform:<10} "
            f"{oneline('@' + r.author_handle if r.author_handle else '-', 18):<18} "
        )
        topic = f"[{r.topic}] " if r.topic else ""
        click.echo(left + oneline(topic + r.text, max(width - len(left), 20)))


@queue.command("show")
@config_option
@json_option
@click.argument("reply_id", type=ROW_ID)
@handles_errors
def queue_show(config_file: Path | None, as_json: bool, reply_id: int) -> None:
    """The post, the verdict and why, and the draft."""
    with _store(_load(config_file)) as store:
        detail = store.detail(reply_id)
    if as_json:
        click.echo(to_json(detail))
        return
    r, m, v = detail.reply, detail.mention, detail.verdict
    who = f"@{m.author_handle}" if m.author_handle else "(unknown author)"
    reach = f", {m.author_followers:,} followers" if m.author_followers is not None else ""
    click.echo(f"reply {r.id} · {r.kind} · {r.status}")
    if r.decided_by:
        click.echo(f"decided by {safe(r.decided_by)} at {shown_time(r.decided_at)}")
    if r.reject_reason:
        click.echo(f"rejected because: {safe(r.reject_reason)}")
    click.echo("")
    click.echo(f"{m.platform} · {safe(who)}{reach} · {m.created_at or 'time unknown'}")
    click.echo(f"{safe(m.url or '(no link)')}")
    if m.context:
        click.echo(f"  in reply to / quoting: {oneline(m.context, 200)}")
    click.echo("")
    for line in safe(m.text).splitlines() or [""]:
        click.echo(f"  > {line}")
    click.echo("")
    topic = f" · topic {v.topic}" if v.topic else ""
    segment = f" · {v.segment}" if v.segment else ""
    click.echo(
        f"verdict: {v.disposition}{topic} · urgency {v.urgency} · interest {v.interest}{segment}"
    )
    click.echo(f"sentiment: VADER {v.compound:+.3f}, adjusted {v.score:+.3f}")
    if v.labels:
        click.echo(f"labels: {', '.join(v.labels)}")
    click.echo("why:")
    for reason in v.reasons:
        weight = f" ({reason['weight']:+g})" if reason.get("weight") else ""
        click.echo(f"  - {reason['rule']}: {safe(reason['detail'])}{weight}")
    click.echo("")
    click.echo(f"draft ({r.reason}):")
    for line in safe(r.body).splitlines():
        click.echo(f"  | {line}")
    if r.body != r.drafted_body:
        click.echo("  (edited; the original draft was:)")
        for line in safe(r.drafted_body).splitlines():
            click.echo(f"  : {line}")
    if r.last_error:
        click.echo(f"last error: {safe(r.last_error)}")
    if detail.thread:
        click.echo("")
        click.echo(f"case {detail.case.id if detail.case else '-'}, the rest of the thread:")
        for t in detail.thread:
            click.echo(f"  {t.created_at or '?'} @{safe(t.author_handle)}: {oneline(t.text, 100)}")
    for c in detail.callbacks:
        click.echo(f"callback {c.id} ({c.status}): {safe(c.body)}")
    for h in detail.history:
        click.echo(f"history: {h.at} {safe(h.actor)} {h.action}")


@queue.command("approve")
@config_option
@actor_option
@click.option("--edit", "body", default=None, help="Approve with this text instead of the draft.")
@click.option(
    "--yes",
    is_flag=True,
    help="Approve text someone else edited without being asked (for scripts).",
)
@click.argument("reply_id", type=ROW_ID)
@handles_errors
def queue_approve(
    config_file: Path | None, actor: str | None, body: str | None, yes: bool, reply_id: int
) -> None:
    """Approve a draft (optionally edited); the publisher posts it. When someone
    else edited its text, it is shown and you are asked first (or pass --yes)."""
    from earful.sources import posting_platforms, thanks_liked, unpostable_note
    from responders.limits import reply_problem

    config = _load(config_file)
    decider = _actor(actor)
    with _store(config) as store:
        current = store.reply(reply_id)
        if body is None and not yes:
            _confirm_their_edit(store, current, decider)
        problem = reply_problem(
            current.platform,
            body if body is not None else current.body,
            current.author_handle,
        )
        if problem:
            raise Failure(f"reply {reply_id} not approved: {problem}")
        try:
            # the text that was shown: someone saving another meanwhile stops it
            reply = store.approve(reply_id, decider, body=body, body_was=current.body)
        except (AlreadyDecided, EditedSince) as exc:
            raise Failure(str(exc)) from None
    edited = " (edited)" if body is not None else ""
    live = config.publish.mode == "live"
    unpostable = live and reply.platform not in posting_platforms(list(config.sources))
    if not live:
        then = "the next publisher run marks it sent without posting it (dry run)"
    elif unpostable:
        then = "it cannot be posted as things are (see the note below)"
    else:
        then = "it will be posted on the next publisher run"
    click.echo(f"approved reply {reply.id}{edited}; {then}:")
    # what was approved, word for word: another agent may have edited it since you read it
    click.echo("\n".join(f"  {line}" for line in safe(reply.body).splitlines()))
    if unpostable:
        click.echo(f"note: {unpostable_note(reply.platform)}", err=True)
    elif reply.kind == "thanks" and reply.platform in thanks_liked(list(config.sources)):
        click.echo(
            f'note: a thank-you on {reply.platform} is a like of the post (thanks_as = "like" '
            "in its source): the text is not posted",
            err=True,
        )


def _confirm_their_edit(store: Store, reply: ReplyRecord, decider: str) -> None:
    """A draft whose text someone else changed is approved only once the decider
    has seen that text: in the console the page shows it; here it is printed and
    asked about (a script passes --yes, having read it with `queue show`)."""
    edit = store.last_edit(reply.id)
    if edit is None or edit.actor == decider or reply.status not in DECIDABLE:
        return
    click.echo(
        f"reply {reply.id}'s text was changed by {safe(edit.actor)} at {shown_time(edit.at)}; "
        "it reads:"
    )
    click.echo("\n".join(f"  | {line}" for line in safe(reply.body).splitlines()))
    try:
        agreed = click.confirm("Approve this text?", default=False)
    except click.Abort:  # no answer to read (a script, stdin closed)
        agreed = False
        click.echo("")
    if not agreed:
        raise Failure(
            f"reply {reply.id} not approved; approve this text with --yes, "
            "or your own with --edit TEXT"
        )


@queue.command("reject")
@config_option
@actor_option
@click.option("--reason", default=None, help="Why, for the audit log.")
@click.option(
    "--close-task",
    is_flag=True,
    help="Also close the callback task drafted with each (a false alarm: nobody should call).",
)
@click.argument("reply_ids", metavar="REPLY_ID...", nargs=-1, required=True, type=ROW_ID)
@handles_errors
def queue_reject(
    config_file: Path | None,
    actor: str | None,
    reason: str | None,
    close_task: bool,
    reply_ids: tuple[int, ...],
) -> None:
    """Reject drafts; they are never posted. Their callback tasks stay open for a
    call unless --close-task. Several ids reject each in turn: one that cannot be
    rejected (decided already, or no such draft) is reported and the rest still are;
    the exit code is then 1."""

    refused = []
    with _store(_load(config_file)) as store:
        for reply_id in dict.fromkeys(reply_ids):  # each once, in the order given
            tasks = ""
            try:
                if close_task:
                    rejection = store.reject_with_task(reply_id, _actor(actor), reason=reason)
                    tasks = _tasks_said(rejection.closed_tasks, rejection.kept_tasks)
                else:
                    store.reject(reply_id, _actor(actor), reason=reason)
            except (AlreadyDecided, NotFound) as exc:
                if len(reply_ids) == 1:
                    raise Failure(str(exc)) from None
                refused.append(reply_id)
                click.echo(f"earful: {safe(str(exc))}", err=True)
                continue
            click.echo(f"rejected reply {reply_id}{tasks}")
    if refused:
        raise Failure(f"not rejected: {', '.join(map(str, refused))}")


def _tasks_said(closed: Sequence[int], kept: Sequence[int]) -> str:
    said = f" and closed callback task {', '.join(map(str, closed))}" if closed else ""
    if kept:
        said += (
            f"; callback task {', '.join(map(str, kept))} stays open: a later complaint "
            "in its case needs it"
        )
    return said


@queue.command("retry")
@config_option
@actor_option
@click.argument("reply_id", type=ROW_ID)
@handles_errors
def queue_retry(config_file: Path | None, actor: str | None, reply_id: int) -> None:
    """Send a failed or unknown reply again (check the platform first)."""
    with _store(_load(config_file)) as store:
        try:
            store.retry(reply_id, _actor(actor))
        except AlreadyDecided as exc:
            raise Failure(str(exc)) from None
    click.echo(f"reply {reply_id} is approved again and will be posted on the next run")


@queue.command("reopen")
@config_option
@actor_option
@click.argument("reply_id", type=ROW_ID)
@handles_errors
def queue_reopen(config_file: Path | None, actor: str | None, reply_id: int) -> None:
    """Undo a rejection: the draft is pending again (and a callback task closed with
    it, by --close-task, is open again)."""
    with _store(_load(config_file)) as store:
        try:
            _reply, tasks = store.reopen(reply_id, _actor(actor))
        except AlreadyDecided as exc:
            raise Failure(str(exc)) from None
    again = f"; callback task {', '.join(map(str, tasks))} is open again" if tasks else ""
    click.echo(f"reply {reply_id} is pending again{again}")


@queue.command("mark-sent")
@config_option
@actor_option
@click.option("--posted-id", default=None, help="The platform's id of the reply, if known.")
@click.argument("reply_id", type=ROW_ID)
@handles_errors
def queue_mark_sent(
    config_file: Path | None, actor: str | None, posted_id: str | None, reply_id: int
) -> None:
    """Record that an unknown or failed reply did go out (found on the platform)."""
    with _store(_load(config_file)) as store:
        try:
            store.confirm_sent(reply_id, _actor(actor), posted_id=posted_id)
        except AlreadyDecided as exc:
            raise Failure(str(exc)) from None
    click.echo(f"reply {reply_id} marked sent")


# -- callbacks ------------------------------------------------------------------------


@cli.group()
def callbacks() -> None:
    """Callback tasks: people to contact."""


@callbacks.command("list")
@config_option
@json_option
@click.option(
    "--status",
    type=click.Choice(["open", "done", "all"]),
    default="open",
    show_default=True,
    help="Only tasks in this state.",
)
@_limit_option(100)
@handles_errors
def callbacks_list(config_file: Path | None, as_json: bool, status: str, limit: int) -> None:
    """Callback tasks, most urgent first."""
    with _store(_load(config_file)) as store:
        rows = store.callbacks(None if status == "all" else status, limit=limit + 1)
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    if not rows:
        click.echo(f"no {status} callbacks")
        return
    rows = _note_more(rows, limit)
    click.echo(f"{'ID':>5} {'URG':>3} {'STATUS':<5} TASK")
    for c in rows:
        click.echo(
            f"{c.id:>5} {c.urgency:>3} {c.status:<5} {oneline(c.body, _terminal_width() - 16)}"
        )


@callbacks.command("done")
@config_option
@actor_option
@click.argument("callback_id", type=ROW_ID)
@handles_errors
def callbacks_done(config_file: Path | None, actor: str | None, callback_id: int) -> None:
    """Mark a callback task done."""
    with _store(_load(config_file)) as store:
        store.complete_callback(callback_id, _actor(actor))
    click.echo(f"callback {callback_id} done")


# -- escalation alerts -------------------------------------------------------------


@cli.group()
def alerts() -> None:
    """Escalation alerts for urgent complaints, sent to the [escalation] webhook."""


@alerts.command("list")
@config_option
@json_option
@click.option(
    "--status",
    type=click.Choice([*ALERT_STATUSES, "all"]),
    default="all",
    show_default=True,
    help="Only alerts in this state.",
)
@_limit_option(50)
@handles_errors
def alerts_list(config_file: Path | None, as_json: bool, status: str, limit: int) -> None:
    """Alerts, newest first."""
    with _store(_load(config_file)) as store:
        rows = store.alert_list(None if status == "all" else status, limit=limit + 1)
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    if not rows:
        click.echo("no alerts" if status == "all" else f"no {status} alerts")
        return
    rows = _note_more(rows, limit)
    width = _terminal_width()
    click.echo(f"{'ID':>5} {'URG':>3} {'STATUS':<8} {'PLATFORM':<10} {'AUTHOR':<18} POST")
    for a in rows:
        left = (
            f"{a.id:>5} {a.urgency:>3} {a.status:<8} {a.platform:<10} "
            f"{oneline('@' + a.author_handle if a.author_handle else '-', 18):<18} "
        )
        click.echo(left + oneline(a.text, max(width - len(left), 20)))
        if a.last_error and a.status != "sent":
            click.echo(f"{'':>6}{oneline(a.last_error, max(width - 6, 20))}")


@alerts.command("send")
@config_option
@json_option
@handles_errors
def alerts_send(config_file: Path | None, as_json: bool) -> None:
    """Send the alerts that are due to the webhook now."""
    config = _load(config_file, credentials=("escalation",))
    if not config.escalation.webhook_url:
        why = (
            'empty (a "${VAR:-}" whose variable is unset or empty leaves it empty)'
            if "webhook_url" in config.escalation.model_fields_set
            else "not set: alerts stay in the store"
        )
        raise BadConfig(
            f"{config.path}: escalation.webhook_url: {why}; set it in the [escalation] "
            "section to send them; see docs/escalation.md in Earful's source"
        )
    _check_writable(config)
    _setup_logging(config, "warning" if as_json else None)
    summary = asyncio.run(_send_alerts(config))
    if as_json:
        click.echo(to_json(summary))
    else:
        outcomes = ", ".join(f"{k} {v}" for k, v in summary.outcomes.items())
        click.echo(f"alerts to {summary.receiver}: {outcomes or 'nothing due'}")
    undelivered = sum(summary.outcomes.get(k, 0) for k in ("retry", "failed", "unknown"))
    if undelivered:  # for cron: a webhook that refuses everything must not look fine
        alerts = "alert" if undelivered == 1 else "alerts"
        raise Failure(f"{undelivered} {alerts} not delivered (earful alerts list shows why)")


async def _send_alerts(config: Config) -> Any:
    from earful.alerts import deliver_due
    from earful.http import SharedSession

    http = SharedSession()
    try:
        with _store(config) as store:
            return await deliver_due(store, config.escalation, await http.get())
    finally:
        await http.aclose()


@alerts.command("retry")
@config_option
@actor_option
@click.argument("alert_id", type=ROW_ID)
@handles_errors
def alerts_retry(config_file: Path | None, actor: str | None, alert_id: int) -> None:
    """Send a failed, unknown or skipped alert again (check the channel first)."""
    with _store(_load(config_file)) as store:
        store.retry_alert(alert_id, _actor(actor))
    click.echo(f"alert {alert_id} will be sent on the next run")


@alerts.command("mark-sent")
@config_option
@actor_option
@click.argument("alert_id", type=ROW_ID)
@handles_errors
def alerts_mark_sent(config_file: Path | None, actor: str | None, alert_id: int) -> None:
    """Record that an unknown or failed alert did arrive (found in the channel)."""
    with _store(_load(config_file)) as store:
        store.confirm_alert_sent(alert_id, _actor(actor))
    click.echo(f"alert {alert_id} marked sent")


# -- reports ------------------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=None,
    help="Only the last N UTC days (1 to 366), as on the console's stats page.",
)
@handles_errors
def stats(config_file: Path | None, as_json: bool, days: int | None) -> None:
    """Counts by disposition, topic and platform; net sentiment; time to first reply.

    Over every stored post, or with --days over the last N UTC days, the figures of
    the console's stats page for that window. Mentions count them all; net sentiment is praise minus
    complaints per 100 posts by others, leaving out the brand's own posts and spam
    (both counted apart). Time to first reply: from a complaint case's first post to
    its first reply sent; thank-yous (likes, on X) are timed apart."""
    from storage import queries

    with _store(_load(config_file)) as store:
        result = store.stats() if days is None else queries.series(store, days=days)
    if as_json:
        click.echo(to_json(result))
    elif days is None:
        _echo_stats(result)
    else:
        _echo_window(result)


@cli.command("backup")
@config_option
@json_option
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace TARGET if it exists.")
@handles_errors
def backup_command(config_file: Path | None, as_json: bool, target: Path, force: bool) -> None:
    """Copy the database to TARGET: consistent while the daemon runs, checked, and
    written whole or not at all. `earful restore` puts such a copy back."""
    from storage.backup import BackupError, backup

    config = _load(config_file)
    _check_target(config, target)
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; use --force to replace it")
    started = datetime.now(UTC)
    with _store(config) as store:
        if not as_json:
            click.echo(f"copying {config.db_path} ...", err=True)
        try:
            result = backup(store, target)
        except BackupError as exc:
            raise Failure(str(exc)) from None
    if as_json:
        click.echo(to_json(result))
        return
    took = (datetime.now(UTC) - started).total_seconds()
    click.echo(
        f"backed up {result.mentions:,} mentions ({result.bytes / 2**20:.1f} MB, schema "
        f"v{result.schema_version}) to {result.path} in {duration(took)}"
    )


@cli.command("restore")
@config_option
@json_option
@click.argument("copy", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the database that is there now.")
@handles_errors
def restore_command(config_file: Path | None, as_json: bool, copy: Path, force: bool) -> None:
    """Put COPY (made by `earful backup`) back as the database at storage.path. The
    daemon must be stopped; the copy is checked before anything is replaced."""
    from storage.backup import BackupError, restore
    from storage.db import database_files

    config = _load(config_file)
    db = config.db_path
    if copy.resolve() in database_files(db.resolve()):
        raise click.UsageError(f"{copy} is the database itself; name a backup")
    if db.exists() and not force:
        raise click.UsageError(
            f"this replaces the database {db} with {copy}; add --force to go ahead "
            "(`earful backup` it first if you may want it back)"
        )
    if not db.parent.is_dir():
        raise click.UsageError(f"there is no folder {db.parent} (storage.path)")
    # the daemon's own lock: none may start while the file is swapped
    busy = f"a daemon is running on {db}; stop it first (Ctrl-C or SIGTERM)"
    try:
        with locks.held(locks.daemon_lock(db), busy):
            result = restore(copy, db)
    except BackupError as exc:
        raise Failure(str(exc)) from None
    if as_json:
        click.echo(to_json(result))
        return
    click.echo(
        f"restored {result.mentions:,} mentions (schema v{result.schema_version}) from "
        f"{copy} to {result.path}; start Earful again"
    )


@cli.command("prune")
@config_option
@json_option
@click.option(
    "--older-than",
    "older_than",
    default=None,
    metavar="DURATION",
    help='Delete posts older than this ("400d"; at least a day). '
    "Default: storage.keep_for in the config.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@handles_errors
def prune_command(
    config_file: Path | None, as_json: bool, older_than: str | None, dry_run: bool
) -> None:
    """Delete posts older than a time, with their verdicts, drafts, callback tasks,
    alerts and cases, except where a person still has work: a draft not decided or
    not posted, an open task or alert, an escalated case, starred praise, or a newer
    post in the same case. The audit log and the charts' daily counts stay. A post
    from before the cutoff is not stored again if a source delivers it once more.
    The daemon does this each hour when storage.keep_for is set."""
    from listener.base import parse_duration

    config = _load(config_file)
    if older_than is not None:
        try:
            seconds = parse_duration(older_than, 86400.0)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--older-than'") from None
    elif config.storage.keep_for is not None:
        seconds = config.storage.keep_for
    else:
        raise click.UsageError(
            f"say how old: --older-than 400d, or set keep_for in [storage] of {config.path}"
        )
    if not dry_run:
        _check_writable(config)
    span = timedelta(seconds=seconds)
    with _store(config) as store:
        verb = "counting" if dry_run else "pruning"
        with _progress(
            store.old_posts(span), f"{verb} posts older than {duration(seconds)}"
        ) as bar:
            pruned = store.prune(span, dry_run=dry_run, progress=bar.update)
    if as_json:
        click.echo(to_json({"dry_run": dry_run, **vars(pruned)}))
        return
    before = pruned.cutoff[:16].replace("T", " ") + " UTC"
    drafts = pruned.replies + pruned.callbacks + pruned.alerts
    click.echo(
        f"{'would delete' if dry_run else 'deleted'} {counted(pruned.mentions, 'post')} "
        f"from before {before}, with {counted(pruned.cases, 'case')} and "
        f"{counted(drafts, 'draft')} ({pruned.replies:,} replies, {pruned.callbacks:,} "
        f"callback tasks, {pruned.alerts:,} alerts)"
    )
    if pruned.kept:
        click.echo(
            f"{'would keep' if dry_run else 'kept'} {counted(pruned.kept, 'older post')}: "
            "their cases still have work for a person, or a newer post"
        )


@cli.command("sources")
@config_option
@json_option
@handles_errors
def sources_command(config_file: Path | None, as_json: bool) -> None:
    """How each source's polling is going, as last recorded: ok, failing,
    rate_limited or disabled (bad credentials: no more polls until a restart)."""
    from earful.source_status import statuses
    from storage import health

    config = _load(config_file)
    with _store(config) as store:
        rows = statuses(config.named_sources, health.read(store))
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo("no sources configured")
        return
    now = datetime.now(UTC)
    width = _terminal_width()
    click.echo(f"{'SOURCE':<20} {'TYPE':<10} {'STATE':<14} {'LAST OK':<14} {'FAILED':>6}")
    for row in rows:
        click.echo(
            f"{oneline(row.name, 20):<20} {row.type or '-':<10} {row.state:<14} "
            f"{_ago(row.last_ok_at, now):<14} {row.failures:>6}"
        )
        for note in row.notes(now):
            click.echo("  " + oneline(note, max(width - 2, 20)))


def _ago(moment: str | None, now: datetime) -> str:
    from storage.db import from_iso

    when = from_iso(moment)
    return "never" if when is None else duration((now - when).total_seconds()) + " ago"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _echo_stats(s: Any) -> None:
    _echo_sentiment(s.mentions, s.own_posts, s.spam, s.net_sentiment)
    click.echo(f"by disposition: {_counts(s.by_disposition)}")
    click.echo(f"complaint topics: {_counts(s.by_topic)}")
    _echo_platforms(s)
    click.echo(f"replies: {_counts(s.replies_by_status)}")
    click.echo(f"open callbacks: {s.open_callbacks}   escalated cases: {s.escalated_cases}")
    _echo_waits(s)


def _echo_window(s: Any) -> None:
    """queries.Series, the window's totals: what the console's stats page shows."""
    click.echo(f"the last {len(s.days)} UTC days, {s.days[0]} to {s.days[-1]}")
    _echo_sentiment(s.mentions, s.own_posts, s.spam, s.window_net_sentiment)
    click.echo(f"by disposition: {_counts(_totals(s.by_disposition))}")
    click.echo(f"complaint topics: {_counts(_totals(s.topics_by_week))}")
    _echo_platforms(s)
    _echo_waits(s, " first answered in these days")


def _echo_platforms(s: Any) -> None:
    """Posts per platform, each with its own net sentiment."""
    shown = [
        f"{name} {n} (net {_net(s.net_by_platform.get(name))})" for name, n in s.by_platform.items()
    ]
    click.echo(f"by platform: {', '.join(shown) or 'none'}")


def _net(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def _totals(series: dict[str, list[int]]) -> dict[str, int]:
    """Each key's sum over the window, largest first (as the all-time counts are)."""
    totals = {key: sum(counts) for key, counts in series.items()}
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def _echo_sentiment(mentions: int, own: int, spam: int, net_sentiment: float | None) -> None:
    click.echo(f"mentions: {mentions} ({own} the brand's own posts, {spam} spam)")
    click.echo(
        f"net sentiment: {_net(net_sentiment)} (% praise - % complaints of the "
        f"{mentions - own - spam} posts by others, spam left out)"
    )


def _echo_waits(s: Any, which: str = "") -> None:
    click.echo(
        f"median time to first reply to a complaint: {duration(s.median_first_reply_seconds)} "
        f"(over {s.replied_cases} cases{which})"
    )
    click.echo(
        f"median time to first thank-you: {duration(s.median_first_thanks_seconds)} "
        f"(over {s.thanked_cases} cases{which})"
    )


@cli.command()
@config_option
@click.argument("kind", type=click.Choice(["mentions", "praise", "replies"]))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="CSV for spreadsheets, JSON with the exact text.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)."
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Only posts from this UTC day on (undated posts by when they were fetched).",
)
@click.option("--starred", is_flag=True, help="Only praise someone starred (testimonials).")
@handles_errors
def export(
    config_file: Path | None,
    kind: str,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    starred: bool,
) -> None:
    """Export mentions, praise (with permalinks) or replies as CSV or JSON.

    Written to a terminal, control characters in posts are shown escaped, as every
    other command shows them; -o FILE or a pipe gets the exact text."""
    if starred and kind != "praise":
        raise click.UsageError(f"--starred is for praise: {kind} are not starred")
    config = _load(config_file)
    if output is not None:
        _check_target(config, output)
    with _store(config) as store:
        day = since.date() if since is not None else None
        columns, rows = store.export(kind, since=day, starred_only=starred)
        if output is None and sys.stdout.isatty():
            rows = (tuple(safe(v) if isinstance(v, str) else v for v in row) for row in rows)
        if output is None:
            stream = io.TextIOWrapper(
                sys.stdout.buffer, encoding="utf-8", errors=EXPORT_ERRORS, newline=""
            )
            try:
                count = _write_export(stream, fmt, columns, rows)
            finally:
                stream.flush()
                stream.detach()
        else:
            from storage.files import replaced

            # an export that fails half-way leaves yesterday's file
            with (
                replaced(output) as partial,
                partial.open("w", encoding="utf-8", errors=EXPORT_ERRORS, newline="") as f,
            ):
                count = _write_export(f, fmt, columns, rows)
    if output is not None:
        click.echo(f"wrote {count} {kind} to {output}", err=True)


def _write_export(
    stream: Any, fmt: str, columns: list[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    if fmt == "csv":
        return write_csv(stream, columns, rows)
    count = 0
    stream.write("[")
    for row in rows:
        record = to_json(dict(zip(columns, row, strict=True)), indent=None)
        stream.write(("," if count else "") + "\n" + record)
        count += 1
    stream.write("\n]\n")
    return count


@cli.command()
@config_option
@json_option
@_limit_option(20)
@click.argument("query")
@handles_errors
def search(config_file: Path | None, as_json: bool, limit: int, query: str) -> None:
    """Full-text search of stored mentions: words (all must occur, any order), "a
    quoted phrase", a prefix* and OR; anything else is searched for as written."""
    if not query.strip():
        raise click.BadParameter("give a word or phrase to search for", param_hint="QUERY")
    _check_search(query, "QUERY")
    with _store(_load(config_file)) as store:
        rows = store.search(query, limit=limit + 1)
        drafts = store.drafts_of([m.id for m in rows])
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    if not rows:
        click.echo(f"no stored mentions match {query!r}")
        return
    rows = _note_more(rows, limit)
    # DRAFT: the reply ids `earful queue show` takes; MENTION is the post's own id
    click.echo(f"{'MENTION':>7} {'DRAFT':>6} {'PLATFORM':<10} {'AUTHOR':<18} POST")
    for m in rows:
        handle = f"@{m.author_handle}" if m.author_handle else "-"
        draft = ",".join(map(str, drafts.get(m.id, []))) or "-"
        click.echo(
            f"{m.id:>7} {draft:>6} {m.platform:<10} {oneline(handle, 18):<18} {oneline(m.text, 80)}"
        )


# -- console accounts ---------------------------------------------------------------


@cli.group()
def user() -> None:
    """Console accounts: admin (everything), agent (decides drafts), viewer (reads)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        except click.Abort:  # stdin ended: a script, or </dev/null
            raise click.UsageError(
                "no password was typed; a script can pipe it in with --password-stdin"
            ) from None
    from earful.console.passwords import password_problem

    problem = password_problem(password)
    if problem:
        raise click.BadParameter(problem, param_hint="password")
    return password


@user.command("add")
@config_option
@actor_option
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="admin: everything; agent: decides drafts; viewer: reads.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.argument("name")
@handles_errors
def user_add(
    config_file: Path | None, actor: str | None, role: str, password_stdin: bool, name: str
) -> None:
    """Create console account NAME; the password is asked for (never echoed)."""
    from earful.console.passwords import hash_password, name_problem

    name = name.strip()
    problem = name_problem(name)
    if problem:
        raise click.BadParameter(problem, param_hint="NAME")
    config = _load(config_file)
    password = _read_password(password_stdin)
    with _store(config, create=True) as store:  # the first account may come before a run
        store.add_user(name, role, hash_password(password), actor=_actor(actor))
    click.echo(f"added {role} {name}")


@user.command("passwd")
@config_option
@actor_option
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.argument("name")
@handles_errors
def user_passwd(
    config_file: Path | None, actor: str | None, password_stdin: bool, name: str
) -> None:
    """Set a new password for NAME; their open sessions end."""
    from earful.console.passwords import hash_password

    config = _load(config_file)
    password = _read_password(password_stdin)
    with _store(config) as store:
        store.set_password(name, hash_password(password), actor=_actor(actor))
    click.echo(f"new password set for {name}; their sessions have ended")


@user.command("list")
@config_option
@json_option
@handles_errors
def user_list(config_file: Path | None, as_json: bool) -> None:
    """Console accounts: name, role, and whether they are disabled."""
    with _store(_load(config_file)) as store:
        accounts = store.accounts()
    if as_json:
        click.echo(to_json(accounts))
        return
    if not accounts:
        click.echo("no accounts yet: `earful user add NAME --role admin`")
    for a in accounts:
        state = "disabled" if a.disabled else "enabled"
        click.echo(f"{a.name:<24} {a.role:<7} {state:<9} since {a.created_at}")


@user.command("role")
@config_option
@actor_option
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@handles_errors
def user_role(config_file: Path | None, actor: str | None, name: str, role: str) -> None:
    """Give NAME another role; it applies to their next click."""
    with _store(_load(config_file)) as store:
        store.set_role(name, role, actor=_actor(actor))
    click.echo(f"{name} is now {role}")


@user.command("disable")
@config_option
@actor_option
@click.argument("name")
@handles_errors
def user_disable(config_file: Path | None, actor: str | None, name: str) -> None:
    """Stop NAME logging in; their open sessions end now."""
    with _store(_load(config_file)) as store:
        store.set_disabled(name, True, actor=_actor(actor))
    click.echo(f"{name} is disabled; their sessions have ended")


@user.command("enable")
@config_option
@actor_option
@click.argument("name")
@handles_errors
def user_enable(config_file: Path | None, actor: str | None, name: str) -> None:
    """Let a disabled NAME log in again."""
    with _store(_load(config_file)) as store:
        store.set_disabled(name, False, actor=_actor(actor))
    click.echo(f"{name} is enabled")


def main() -> None:
    cli(prog_name="earful")
