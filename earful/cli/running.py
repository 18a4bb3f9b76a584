"""Setting up and running: init, poll, run, publish, demo."""

from __future__ import annotations

import asyncio
import codecs
import functools
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from earful import locks
from earful.cli.base import (
    BadConfig,
    F,
    Failure,
    WholeNumber,
    _check_writable,
    _duration,
    _load,
    _setup_logging,
    _store,
    cli,
    config_option,
    handles_errors,
    json_option,
)
from earful.cli.reports import echo_stats
from earful.config import CREDENTIAL_SECTIONS, Config, ConfigError
from earful.display import counted, duration, plain, safe, tallied, to_json
from storage.db import shown_time
from storage.store import NotFound

# -- init -----------------------------------------------------------------------


@cli.command()
@click.argument("where", metavar="[PATH]", type=click.Path(), default="earful.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing config (never a database).")
@click.option(
    "--example",
    is_flag=True,
    help="Write config.example.toml instead: every key, each source type, commented.",
)
@handles_errors
def init(where: str, force: bool, example: bool) -> None:
    """Write a starter config to PATH (default ./earful.toml; a folder, or a name
    ending in /, gets earful.toml in it). With --example, the full reference."""
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

    name = "config.example.toml" if example else "starter.toml"
    starter = files("earful").joinpath(name).read_text(encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter, encoding="utf-8")
    click.echo(
        f"wrote {path}: set [brand] and add [[sources]]; `earful check -c {path}` says "
        f"whether it is ready for `earful run -c {path}`"
    )


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


# -- check ----------------------------------------------------------------------


@cli.command()
@config_option
@json_option
@handles_errors
def check(config_file: Path | None, as_json: bool) -> None:
    """Check a config as `earful run` would start with it, without starting: every
    key, the ${VAR}s the daemon needs, the rules (and their examples), templates and
    model, and the database's folder and file. Nothing is fetched or written."""
    from earful.pipeline import build_stages

    config = _load(config_file, credentials=CREDENTIAL_SECTIONS)
    stages = build_stages(config)
    _check_replay_files(config)
    _check_writable(config)  # no lock: a running daemon holds it
    report = _check_report(config, stages.ruleset, _database_state(config))
    if as_json:  # the figures; `said` is the text report's wording
        click.echo(to_json({k: _unsaid(v) for k, v in report.items()}))
        return
    click.echo(f"{config.path}: ready to run")
    for key, value in report.items():
        if key != "config":
            click.echo(f"  {key}: {value if isinstance(value, str) else value['said']}")
    exposed = config.console.plain_http_warning()
    if exposed:
        click.echo(f"  warning: {exposed}")


def _check_replay_files(config: Config) -> None:
    """Each replay source's file can be read. `run` starts without it all the same,
    and that source fails every poll, said once in the log and retried with backoff
    (a file may yet be put there): "ready to run" would hide a mistyped path."""
    from listener.base import SourceDown
    from listener.replay import Settings, open_replay_file

    settings = {s.name: s for s in config.sources}
    problems = []
    # named_sources: the config's own order, for the key path
    for index, (name, _type) in enumerate(config.named_sources):
        source = settings.get(name)
        if not isinstance(source, Settings):
            continue
        try:
            open_replay_file(config.resolve(source.path)).close()
        except SourceDown as exc:
            problems.append(f"sources[{index}].path: expected a JSON Lines file to replay; {exc}")
    if problems:
        raise ConfigError(config.path, problems)


def _unsaid(value: Any) -> Any:
    return {k: v for k, v in value.items() if k != "said"} if isinstance(value, dict) else value


def _database_state(config: Config) -> dict[str, Any]:
    """What the database file says: there or not, its schema version against this
    Earful's. Read-only; the same refusals as the daemon's start-up."""
    from earful.pipeline import refuse_orphaned_log
    from storage.db import stored_version
    from storage.schema import SCHEMA_VERSION

    db = config.db_path
    refuse_orphaned_log(config)  # the daemon's own refusal (a StoreError: exit 1)
    try:
        version = stored_version(db)
    except sqlite3.DatabaseError as exc:
        raise Failure(f"{db} (storage.path) is not a database Earful can use: {exc}") from None
    if version is not None and version > SCHEMA_VERSION:
        raise Failure(
            f"{db} is at schema version {version}, from a newer Earful (this one knows "
            f"{SCHEMA_VERSION}): upgrade Earful, or restore a backup made by this version"
        )
    said = (
        f"{db}: none yet (the first start makes it)"
        if version is None
        else f"{db}: empty (the first start sets it up)"
        if version == 0
        else f"{db}: schema version {version}"
        + (
            ""
            if version == SCHEMA_VERSION
            else f", upgraded to {SCHEMA_VERSION} at the next start (back up first)"
            + _older_daemon_note(db)
        )
    )
    return {"path": str(db), "version": version, "current": SCHEMA_VERSION, "said": said}


def _older_daemon_note(db: Path) -> str:
    """For an old schema: a daemon (the older Earful's) running on it now must be
    stopped first; this version's commands refuse to upgrade it from under it."""
    if not locks.held_elsewhere(locks.daemon_lock(db)):
        return ""
    return (
        "; a daemon is running on it now (the older Earful's, started before the "
        "upgrade): stop it, then start this version"
    )


def _check_report(config: Config, ruleset: Any, database: dict[str, Any]) -> dict[str, Any]:
    """What `earful run` would start with, section by section; each entry's `said`
    (or the entry itself, a string) is its line in the text report."""
    from earful.sources import posting_platforms

    sources = [{"name": s.name, "type": s.type, "interval": s.interval} for s in config.sources]
    polled = ", ".join(f"{s.name} ({s.type}, every {duration(s.interval)})" for s in config.sources)
    posting = sorted(posting_platforms(list(config.sources)))
    if config.publish.mode == "live":
        publishing = f"live: posts to {', '.join(posting) or 'no platform (no credentials)'}"
    else:
        publishing = "dry-run (approved replies are marked sent, not posted)"
    rules = f"{', '.join(ruleset.names)}: {counted(len(ruleset.rules), 'rule')}, "
    rules += f"{counted(len(ruleset.examples), 'example')} holding"
    if config.rules.model:
        rules += f"; model {config.rules.model}"
    webhook = config.escalation.webhook_url
    return {
        "config": str(config.path),
        "brand": config.brand.name,
        "sources": {"list": sources, "said": polled or "none: nothing is polled"},
        "rules": {
            "files": list(ruleset.files),
            "rules": len(ruleset.rules),
            "examples": len(ruleset.examples),
            "said": rules,
        },
        "templates": config.responders.templates or "shipped",
        "publish": {"mode": config.publish.mode, "posting": posting, "said": publishing},
        # the webhook's host only: its path is the secret
        "escalation": (urlsplit(webhook).hostname or "?")
        if webhook
        else "none (kept in the store)",
        "console": (
            f"http://{config.console.host}:{config.console.port}"
            if config.console.enabled
            else "off"
        ),
        "database": database,
    }


# -- poll, run, publish -------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option(
    "--source",
    "source_names",
    multiple=True,
    help="Poll only this source (repeat the option for several).",
)
@click.option(
    "--max-pages",
    type=WholeNumber(min=1),
    default=20,
    show_default=True,
    help="Follow a backlog at most this far.",
)
@handles_errors
def poll(
    config_file: Path | None, as_json: bool, source_names: tuple[str, ...], max_pages: int
) -> None:
    """Poll each source once, judge, queue, and print a summary."""
    if any(not name.strip() for name in source_names):
        raise click.BadParameter("name a source (or leave --source out)", param_hint="--source")
    # the sources named need only their own ${VAR}s set
    config = _load(config_file, credentials=() if source_names else ("sources",))
    waiting = [problem for name, problem in config.waiting_sources if name in source_names]
    if waiting:
        raise BadConfig(str(ConfigError(config.path, waiting)))
    if not config.sources:
        raise BadConfig(
            f"{config.path}: no [[sources]] to poll; add a [[sources]] table "
            "(`earful init --example FILE` writes config.example.toml: one of each type)"
        )
    _check_writable(config)
    _setup_logging(config, "warning" if as_json else None)
    summaries, errors = asyncio.run(_poll_all(config, source_names, max_pages))
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
    config: Config, only: tuple[str, ...], max_pages: int
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
    counts = tallied(dict(sorted(summary.dispositions.items())))
    i = summary.ingest
    mark = ""
    if failed:  # a source read in part (one feed of several failed) stored the rest
        mark = "PARTLY FAILED (see below); " if summary.trouble else "FAILED (see below); "
    click.echo(
        f"{summary.source}: {mark}"
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
        click.echo(f"publish ({config.publish.mode}): {_publish_outcomes(summary)}")
    _fail_if_unsettled(summary)


def _publish_outcomes(summary: Any) -> str:
    """What the run did, each reply counted once: one this run left to retry is among
    those `waiting`, which say when the first retry is."""
    shown = {k: n for k, n in summary.outcomes.items() if not (k == "retry" and summary.waiting)}
    parts = [f"{n} {_PUBLISH_OUTCOMES.get(k, k)}" for k, n in shown.items()]
    if summary.waiting:  # "no approved replies" read as if nothing were approved
        later = counted(summary.waiting, "approved reply", "approved replies")
        first = shown_time(summary.next_at)
        parts.append(f"{later} waiting to be tried again (the first at {first})")
    said = ", ".join(parts)
    if not summary.outcomes and said:
        said = "nothing due; " + said
    return said or "no approved replies to post"


def _fail_if_unsettled(summary: Any) -> None:
    """Exit 1 while any reply waits for a person, this run's or one an earlier run (or
    the daemon) left: a cron job's mail is how they hear of it, as with poll and
    alerts send."""
    stuck = sum(summary.unsettled.values())
    if not stuck:
        return
    earlier = stuck - sum(summary.outcomes.get(k, 0) for k in summary.unsettled)
    since = ""
    if earlier == stuck:
        since = " from an earlier run"
    elif earlier > 0:
        since = f" ({earlier} from an earlier run)"
    raise Failure(
        f"{counted(stuck, 'reply', 'replies')} failed or in doubt{since}, "
        f"{'waits' if stuck == 1 else 'wait'} for a person "
        "(earful queue list --status failed, or --status unknown)"
    )


# What each outcome of a publish run means, said to the operator.
_PUBLISH_OUTCOMES = {
    "sent": "posted",
    "dry-run": "marked sent without posting (dry run)",
    "reconciled": "found already posted",
    "retry": "to try again later",
    "failed": "failed (see `earful queue list --status failed`)",
    "unknown": "unknown: check the platform, then `earful queue mark-sent`, `retry` or `reject`",
}


async def _publish(config: Config) -> Any:
    from collections import Counter

    from earful.app import build_runtime
    from earful.outbox import PublishSummary, publish_due, reconcile_sending
    from storage import queries

    runtime = build_runtime(config, with_sources=False)
    try:
        # a reply left in `sending` by a crash or a killed run: looked for first
        settled = await reconcile_sending(runtime.store, runtime.publishers)
        posted = await publish_due(runtime.store, runtime.publishers, config.publish)
        waiting, next_at = await asyncio.to_thread(runtime.store.approved_later)
        left = await asyncio.to_thread(queries.counts, runtime.store)
        outcomes = dict(Counter(settled.outcomes) + Counter(posted.outcomes))
        unsettled = {"failed": left.failed, "unknown": left.unknown}
        return PublishSummary(outcomes, waiting=waiting, next_at=next_at, unsettled=unsettled)
    finally:
        await runtime.aclose()


# -- demo -----------------------------------------------------------------------


def _holding_the_demo_folder(command: Callable[..., None]) -> Callable[..., None]:
    """Run the demo command holding its folder's lock (two demos on one folder would
    write one database); a folder that is not a demo's is a usage error."""

    @functools.wraps(command)
    def held(*args: Any, **options: Any) -> None:
        from earful.demo import NotADemoFolder, demo_lock

        try:
            with demo_lock(options["workdir"]):
                command(*args, **options)
        except NotADemoFolder as exc:
            raise BadConfig(str(exc)) from None

    return held


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
    "--port", type=WholeNumber(0, 65535), default=8080, show_default=True, help="Console port."
)
@click.option("--once", is_flag=True, help="Replay the whole demo file, print a summary, exit.")
@click.option("--keep", is_flag=True, help="Continue the last demo instead of starting afresh.")
@click.option(
    "--interval",
    default="3s",
    show_default=True,
    metavar="DURATION",
    callback=lambda _ctx, _param, value: _duration(value),
    help='Time between replay ticks ("3s", "500ms").',
)
@click.option(
    "--batch",
    type=WholeNumber(min=1, max=10_000),
    default=5,
    show_default=True,
    help="Posts per replay tick.",
)
@no_console_option
@json_option
@handles_errors
@_holding_the_demo_folder
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
    from earful.demo import demo_database, prepare_demo

    replaced = not keep and demo_database(workdir).exists()
    config = prepare_demo(
        workdir, port=port, interval=interval, batch=200 if once else batch, fresh=not keep
    )
    if replaced and not as_json:
        click.echo(
            "Started afresh: the last demo's posts and decisions were deleted "
            "(`earful demo --keep` continues the last demo; in a checkout, `make demo KEEP=1`).",
            err=True,
        )
    _check_writable(config, lock=not once)  # --once holds no daemon lock
    if once:
        summary, stats = asyncio.run(_demo_once(config))
        if as_json:
            click.echo(to_json({"replayed": summary, "stats": stats}))
        else:
            _echo_summary(summary)
            echo_stats(stats)
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
