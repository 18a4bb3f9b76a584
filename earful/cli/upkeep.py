"""Looking after the database: backup, restore, prune."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from earful import locks
from earful.cli.base import (
    Failure,
    _check_target,
    _check_writable,
    _load,
    _progress,
    _store,
    cli,
    config_option,
    handles_errors,
    json_option,
)
from earful.display import counted, duration, to_json
from storage.schema import SCHEMA_VERSION

# -- upkeep --------------------------------------------------------------------


@cli.command("backup")
@config_option
@json_option
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace TARGET if it exists.")
@handles_errors
def backup_command(config_file: Path | None, as_json: bool, target: Path, force: bool) -> None:
    """Copy the database to TARGET: consistent while the daemon runs, checked, and
    written whole or not at all. `earful restore` puts such a copy back."""
    from storage.backup import BackupError, backup, unfinished_copies

    config = _load(config_file)
    _check_target(config, target)
    if target.exists() and not force:
        raise click.UsageError(f"{target} exists; use --force to replace it")
    started = datetime.now(UTC)
    # copied as it is: after `pip install --upgrade`, this backup is the way back,
    # and only a copy at the older schema version can be restored by the older Earful
    with _store(config, upgrade=False) as store:
        if not as_json:
            click.echo(f"copying {config.db_path} ...", err=True)
        try:
            result = backup(store, target)
        except BackupError as exc:
            raise Failure(str(exc)) from None
    for left, size in unfinished_copies(result.path.parent):
        # hidden, database-sized, and no backup-pruning glob matches them
        click.echo(
            f"note: {left} ({size / 2**20:.1f} MB) is a copy an earlier "
            "backup left unfinished (it was stopped half-way): delete it, unless a backup "
            "is running now",
            err=True,
        )
    if as_json:
        click.echo(to_json(result))
        return
    took = (datetime.now(UTC) - started).total_seconds()
    click.echo(
        f"backed up {result.mentions:,} mentions ({result.bytes / 2**20:.1f} MB, schema "
        f"v{result.schema_version}) to {result.path} in {duration(took)}"
    )
    if result.schema_version < SCHEMA_VERSION:
        click.echo(
            f"the database and this copy are at schema version {result.schema_version}, "
            "as an older Earful left them (a backup does not upgrade), so that Earful can "
            f"restore the copy; this version upgrades the database to {SCHEMA_VERSION} "
            "when it next opens it"
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
    from storage.db import database_files, orphaned_log

    config = _load(config_file)
    db = config.db_path
    if copy.resolve() in database_files(db.resolve()):
        raise click.UsageError(f"{copy} is the database itself; name a backup")
    wal = orphaned_log(db)
    if wal is not None and not force:
        # the log holds the moved database's last writes: restoring deletes it, and
        # the copy (even the moved file itself) comes back without them
        raise click.UsageError(
            f"the database {db} is gone but its write-ahead log {wal.name} is still "
            "there, holding its latest writes: if the database was moved, move it back "
            f"to {db} instead (nothing is lost then). Add --force to restore {copy} and "
            f"delete {wal.name}"
        )
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
    waiting = [
        counted(result.approved_replies, "approved reply", "approved replies"),
        counted(result.pending_alerts, "pending alert"),
    ]
    if result.approved_replies or result.pending_alerts:
        click.echo(
            f"note: the copy holds {' and '.join(waiting)}, which Earful sends as soon as "
            "it starts; any that went out after the backup was taken would go out again. "
            "Look first: earful queue list --status approved (earful queue mark-sent ID for "
            "one already posted), earful alerts list --status pending (earful alerts "
            'mark-sent ID for one already in the channel; docs/operating.md, "Restoring a '
            'backup")',
            err=True,
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
            "their cases still have work for a person or a newer post, or one is the "
            "newest post, case or draft stored (kept whatever its age: its id must not "
            "be given again)"
        )
