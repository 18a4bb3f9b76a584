"""What every command shares: the `earful` group, its options, loading the config,
opening the store, and turning errors into messages and exit codes."""

from __future__ import annotations

import contextlib
import errno
import functools
import getpass
import logging
import os
import shutil
import sqlite3
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from earful import __version__, locks, redaction
from earful.config import DEFAULT_CONFIG, Config, ConfigError, config_path, load_config
from earful.display import audit_detail, audit_note, oneline, safe
from storage.db import shown_time
from storage.records import AuditEntry
from storage.schema import SCHEMA_VERSION
from storage.store import NOT_TAKEN, StoreError, check_search, day_problem

F = TypeVar("F", bound=Callable[..., Any])

EXIT_RUNTIME = 1
EXIT_USAGE = 2


def _ascii_only(value: Any, param_type: click.ParamType[Any], param: Any, ctx: Any) -> None:
    """Refuse a number or day written in other digits than 0-9: Python reads any
    script's digits ("１" is 1, "٣" is 3), which a person did not type as a number."""
    if isinstance(value, str) and not value.isascii():
        param_type.fail(f"{safe(value)!r} is not written in the digits 0-9", param, ctx)


class WholeNumber(click.IntRange):
    """A whole number in a range, written in the digits 0-9 (`_ascii_only`)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        _ascii_only(value, self, param, ctx)
        return super().convert(value, param, ctx)


class _Day(click.DateTime):
    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        _ascii_only(value, self, param, ctx)
        return super().convert(value, param, ctx)


class _RowId(WholeNumber):
    name = "id"  # "'abc' is not a valid id.", not "... a valid integer range."


# SQLite's integers are 64-bit: a bigger id cannot name a row
ROW_ID = _RowId(min=1, max=2**63 - 1)


class Failure(click.ClickException):
    """A runtime error shown as `earful: <message>`, exit code 1."""

    exit_code = EXIT_RUNTIME

    def show(self, file: Any = None) -> None:
        # safe(): a message may quote a post, a label or a name from someone else
        text = f"earful: {safe(self.format_message())}"
        if _is_journal(sys.stderr):  # why the service stopped: an error to `journalctl -p`
            text = _with_priority(text, logging.ERROR)
        click.echo(text, err=True)


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

    name = explicit if explicit is not None else os.environ.get("EARFUL_USER")
    if name == "":  # a script's unset variable: deciding under the login name would be wrong
        raise _no_name(explicit is not None)
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


def _no_name(explicit: bool) -> click.UsageError:
    """An empty --as or $EARFUL_USER is a mistake (`--as "$WHO"` with WHO unset), not
    a wish to decide under the login name."""
    if explicit:
        return click.BadParameter(
            "is empty: give the name of who is deciding, or leave --as out "
            "($EARFUL_USER, else your login name)",
            param_hint="--as",
        )
    return click.UsageError(
        "EARFUL_USER is set but empty: set it to who is deciding, unset it (your login "
        "name is used), or pass --as NAME"
    )


def account_problem(store: Any, name: str) -> str | None:
    """Why `name` may not decide or take cases: no such account, disabled, a viewer."""
    from storage.store import NotFound

    try:
        user = store.user(name)
    except NotFound:
        return "is no console account (earful user list)"
    return "is disabled" if user.disabled else "is a viewer" if user.role == "viewer" else None


def check_holder(store: Any, name: str | None, param_hint: str) -> None:
    """A name whose work is looked for must be an account's, or one that has open
    cases still (a name given before accounts): a typo ("alcie") found nothing and
    said "no drafts" or "nothing changed", as if that person held nothing."""
    from storage import queries
    from storage.store import NotFound

    if name is None or name == NOT_TAKEN:
        return
    try:
        store.user(name)
    except NotFound:
        if not queries.held_cases(store, name):
            raise click.BadParameter(
                f"{safe(name)!r} is no console account and has no open case "
                "(earful user list, earful team)",
                param_hint=param_hint,
            ) from None


def _decider(store: Any, explicit: str | None) -> str:
    """Who decides (as _actor says), which must be a console account that may: an
    enabled agent or admin, once any account exists. A viewer, a disabled account or
    a typo ("--as anna") must not approve, and be audited, under a name that cannot.
    With no accounts at all (a team working from the CLI only), any name."""
    name = _actor(explicit)
    if not store.accounts():
        return name
    where = "--as" if explicit else "$EARFUL_USER" if os.environ.get("EARFUL_USER") else None
    problem = account_problem(store, name)
    if problem is None:
        return name
    said = f"{safe(name)!r} {problem}: decisions are made by an enabled agent or admin"
    if where is None:
        raise click.UsageError(f"your login name {said}; pass --as NAME or set EARFUL_USER")
    raise click.BadParameter(said, param_hint=where)


def _load(config_file: Path | None, *, credentials: tuple[str, ...] = ()) -> Config:
    """The config. `credentials`: the sections whose ${VAR}s the command uses
    ("sources" to poll or post, "escalation" to send alerts); see load_config."""
    path = config_path(config_file)
    named = config_file is not None or bool(os.environ.get("EARFUL_CONFIG"))
    if not named and not os.path.exists(path):
        raise BadConfig(_no_config_here())
    try:
        return load_config(path, credentials=credentials)
    except ConfigError as exc:
        raise BadConfig(str(exc)) from None


def _no_config_here() -> str:
    """No -c, no $EARFUL_CONFIG and no ./earful.toml: most likely a forgotten -c (a
    service's config lives elsewhere), so say where Earful looked and how to name it."""
    try:
        here = str(Path.cwd())
    except OSError:  # the folder was deleted under the shell
        here = "the current folder"
    return (
        f"no config: none named with -c FILE or $EARFUL_CONFIG, and no {DEFAULT_CONFIG} "
        f"in {here}; name yours (-c /etc/earful/earful.toml), or run `earful init` to "
        "write a starter config here"
    )


def _is_journal(stream: Any) -> bool:
    """Is `stream` the journal? systemd names the stream it connects a service's stderr
    to in $JOURNAL_STREAM, as device:inode (systemd.exec(5)); a child with its stderr
    sent elsewhere (a file, a pipe) inherits the variable, hence the comparison."""
    named = os.environ.get("JOURNAL_STREAM")
    if not named:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no file behind it (a test's runner)
        return False
    return named == f"{stat.st_dev}:{stat.st_ino}"


class _JournalFormatter(logging.Formatter):
    """Opens each line with its record's syslog priority, "<4>" for a warning
    (sd-daemon(3)): journald takes it as the line's priority, so `journalctl -p
    warning` finds the warnings, a traceback's lines with their record. A line of a
    post's text that opens with "<0>" stays text: journald reads the first "<N>" only."""

    def format(self, record: logging.LogRecord) -> str:
        return _with_priority(super().format(record), record.levelno)


def _with_priority(text: str, level: int) -> str:
    prefix = f"<{_syslog_priority(level)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


def _syslog_priority(level: int) -> int:
    for at_least, priority in (
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
    ):
        if level >= at_least:
            return priority
    return 7  # debug


def _setup_logging(config: Config, level: str | None = None) -> None:
    """Log to stderr at `level` (default: the config's), times in UTC as in the
    database and the JSON (2026-12-01T03:22:09Z), with every secret of the config
    masked (client libraries log their request headers at debug level) and control
    characters escaped (redaction.install does both)."""
    kind = _JournalFormatter if _is_journal(sys.stderr) else logging.Formatter
    formatter = kind(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(
        level=getattr(logging, (level or config.logging.level).upper()), handlers=[handler]
    )
    # APScheduler logs every job run at INFO; that is noise for an operator. prawcore
    # warns at each retry of a 5xx and at each routine token refresh (a 401): Earful
    # logs a source's failure once, and its recovery, itself.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.root.level))
    if logging.root.level > logging.DEBUG:  # asked for debug: everything
        logging.getLogger("prawcore").setLevel(logging.ERROR)
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
        raise Failure(f"{_as_named(exc)}: {exc.strerror or exc}") from None


def _as_named(exc: OSError) -> str:
    """The file an error names, as the user named it: a folder this user may not
    write refuses the hidden .NAME.partial that an export or backup is written
    through beside NAME (storage/files.py), and that is NAME to them. Any other error
    there (a folder left in its way) is about that file, so it keeps its name."""
    path = Path(os.fsdecode(exc.filename))
    name = path.name
    hidden = name.startswith(".") and name.endswith(".partial") and len(name) > len("..partial")
    refused = isinstance(exc, PermissionError) or exc.errno == errno.EROFS
    return str(path.with_name(name[1 : -len(".partial")])) if hidden and refused else str(path)


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


def _store(config: Config, *, create: bool = False, upgrade: bool = True) -> Any:
    """The database, which must exist unless the command makes one (`create`)."""
    from earful.pipeline import open_store

    return open_store(config, create=create, upgrade=upgrade)


def _check_writable(config: Config, *, lock: bool = False) -> None:
    """Refuse to start a command that writes the database when this user may not
    write it: SQLite would open it read-only without a word, and a daemon would then
    say "earful running" and fail every poll ("attempt to write a readonly database").
    `lock`: the command takes the daemon's lock too (a root-owned one is left by
    `sudo earful restore` when there was none)."""
    from earful.pipeline import check_storage_folder
    from storage.db import WRITE_ADVICE, write_problem

    check_storage_folder(config)  # a folder that is not there: its own message
    db = config.db_path
    problem = write_problem(db, beside=[locks.daemon_lock(db)] if lock else [])
    if problem is not None:
        raise Failure(
            f"cannot write to the database (storage.path in {config.path}): {problem}. "
            f"{WRITE_ADVICE}"
        )


def _duration(value: str) -> str:
    """A duration option's value, checked ("90s", "5m"): a usage error otherwise."""
    from listener.base import parse_duration

    try:
        parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _day_option(name: str, help_text: str) -> Callable[[F], F]:
    """A UTC day given as YYYY-MM-DD (stats --until, export --since and --until)."""
    return click.option(
        name,
        type=_Day(formats=["%Y-%m-%d"]),
        default=None,
        metavar="YYYY-MM-DD",
        help=help_text,
        callback=_in_day_range,
    )


def _in_day_range(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    # 9999-12-31 or 0001-01-01 ended in an OverflowError traceback
    problem = day_problem(value.date()) if value is not None else None
    if problem:
        raise click.BadParameter(problem)
    return value


def _limit_option(default: int) -> Callable[[F], F]:
    return click.option(
        "--limit",
        type=WholeNumber(min=1, max=10**9),
        default=default,
        show_default=True,
        help="Show at most this many.",
    )


def taken_option(what: str) -> Callable[[F], F]:
    """--assignee NAME and --unassigned, one parameter `assignee`: the work whose case
    NAME has taken, or nobody has (storage.store.NOT_TAKEN). A lead sees who is
    working on what, and what a disabled account still holds."""

    def add(func: F) -> F:
        @functools.wraps(func)
        def merged(*args: Any, unassigned: bool, **kwargs: Any) -> Any:
            if unassigned:
                # one parameter shared by both options kept only the later of the two
                if kwargs["assignee"] is not None:
                    raise click.UsageError("give --assignee NAME or --unassigned, not both")
                kwargs["assignee"] = NOT_TAKEN
            return func(*args, **kwargs)

        wrapped = click.option(
            "--unassigned", is_flag=True, help=f"Only {what} whose case nobody has taken."
        )(merged)
        return cast(
            F,
            click.option(
                "--assignee",
                "assignee",
                default=None,
                metavar="NAME",
                help=f"Only {what} whose case NAME has taken (a disabled account's too).",
            )(wrapped),
        )

    return add


def taken_cell(assignee: str | None) -> str:
    """Who has a row's case, in a listing's TAKEN BY column."""
    return oneline(assignee, 10) if assignee else "-"


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
# the schema version too: the package's version has not told releases apart, and
# this says whether a database will be upgraded (`earful check` says what it is at)
@click.version_option(
    __version__,
    prog_name="earful",
    message=f"%(prog)s, version %(version)s (database schema version {SCHEMA_VERSION})",
)
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


def command_group(func: Callable[[], None]) -> click.Group:
    """A group of commands under `earful` (queue, case...) that takes -c FILE after
    its own name too: `earful queue -c FILE list` answered "No such option: -c"."""

    @_config_file_option("Config file for the command (it may also come after the command).")
    @click.pass_context
    @functools.wraps(func)
    def group(ctx: click.Context, config_file: Path | None) -> None:
        # as `earful -c FILE`: later wins, so this overrides that, and the
        # command's own -c overrides both
        if config_file is not None and isinstance(ctx.command, click.Group):
            ctx.default_map = _config_defaults(ctx.command, config_file)

    return cli.group()(group)


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


def _check_search(words: str, param_hint: str) -> None:
    """A search the store would refuse (too long) is a usage error naming the option."""
    try:
        check_search(words)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None


def change_line(h: AuditEntry) -> str:
    """An audit entry as a history line: when, who, what, and what was said with it
    (a note or a reason; for an assignment, to whom)."""
    said = audit_note(h.detail)
    if h.action == "assign":
        said = f"to {audit_detail(h.detail, 'assignee') or 'nobody'}"
    return f"{shown_time(h.at)} {safe(h.actor)} {h.action}" + (f": {safe(said)}" if said else "")
