"""fetch -> dedupe -> judge -> respond -> store, one batch at a time.

The cursor is read from the store, the page fetched, and the mentions, verdicts,
drafts and the new cursor written in one transaction: a crash anywhere before the
commit means the same page is fetched again next time and stored once.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from earful import locks, redaction
from earful.config import Config, ConfigError
from earful.source_status import failure_text, record_failure, record_outcome
from listener.base import FetchResult, RateLimited, Source, SourceError
from listener.mention import Mention
from responders.context import ResponderSettings
from responders.drafts import AUTHOR_FACING, Contact, contact_weight
from responders.respond import respond
from responders.templating import TemplateError, Templates
from rules import (
    RuleError,
    RuleFileUnreadable,
    Ruleset,
    judge,
    load_ruleset,
    read_model,
    with_model,
)
from storage.db import WRITE_ADVICE, version_in_use, write_problem
from storage.files import make_empty
from storage.records import IngestResult, Judged
from storage.schema import SCHEMA_VERSION, NotEarfulDatabase, SchemaTooNew
from storage.store import Store, StoreError

log = logging.getLogger(__name__)


def _warn_if_stale(ruleset: Ruleset) -> None:
    from earful.training import fingerprint

    model = ruleset.model
    trained_with = None if model is None else model.trained.get("rules_fingerprint")
    if model is not None and trained_with not in (None, fingerprint(ruleset)):
        log.warning(
            "%s was trained with other rules (rules added, removed or switched off "
            "since): rules it never saw carry no weight; train it again",
            model.source,
        )


@dataclass(frozen=True)
class Stages:
    """The judging and responding half of the pipeline, built once from config."""

    ruleset: Ruleset
    responders: ResponderSettings


@dataclass(frozen=True)
class BatchSummary:
    source: str
    fetched: int = 0
    new: int = 0
    ingest: IngestResult = field(default_factory=IngestResult)
    dispositions: dict[str, int] = field(default_factory=dict)
    more: bool = False
    next_poll_in: float | None = None
    trouble: str | None = None  # see FetchResult.trouble


def build_stages(config: Config, *, learned: bool = True) -> Stages:
    """Rules and templates from config; their mistakes are config errors. `learned`
    False leaves out `[rules] model` (for `earful train`, which makes it)."""
    brand = config.brand.brand()
    try:
        ruleset = load_ruleset(
            [f if not f.endswith(".toml") else str(config.resolve(f)) for f in config.rules.files],
            brand=brand,
            lists={k: list(v) for k, v in config.rules.lists.items()},
            base_dir=config.base_dir,
        )
    except RuleFileUnreadable as exc:
        raise ConfigError(config.path, [f"rules.files[{exc.index}]: {exc}"]) from None
    except RuleError as exc:
        raise ConfigError(config.path, [f"rules: {exc}"]) from None
    if learned and config.rules.model is not None:
        try:
            ruleset = with_model(ruleset, read_model(config.resolve(config.rules.model)))
        except RuleError as exc:
            raise ConfigError(config.path, [f"rules.model: {exc}"]) from None
        _warn_if_stale(ruleset)
    template_dir = config.responders.templates
    try:
        templates = Templates(config.resolve(template_dir) if template_dir else None)
    except TemplateError as exc:
        raise ConfigError(config.path, [f"responders.templates: {exc}"]) from None
    return Stages(
        ruleset=ruleset,
        responders=ResponderSettings(
            brand=brand,
            templates=templates,
            cooldown=timedelta(seconds=config.responders.cooldown),
            escalate_at=config.responders.escalate_at,
        ),
    )


def judge_batch(
    mentions: Iterable[Mention], store: Store, stages: Stages, *, now: datetime | None = None
) -> list[Judged]:
    """Drop what is stored already, judge the rest and draft responses."""
    now = now or datetime.now(UTC)
    fresh = store.unseen(mentions)
    contacts = store.last_contacts((m.platform, m.author.handle) for m in fresh)
    cooldown = stages.responders.cooldown
    # another batch stored meanwhile (a second source, `earful poll` from cron) may
    # draft to the same author: the store looks again when it writes
    cooling_since = now - cooldown if cooldown > timedelta(0) else None
    judged = []
    for mention in fresh:
        verdict = judge(mention, stages.ruleset)
        author = (mention.platform, mention.author.handle or "")
        drafts = respond(
            mention, verdict, stages.responders, last_contact=contacts.get(author), now=now
        )
        if mention.author.handle and any(d.kind in AUTHOR_FACING for d in drafts):
            # two posts in one batch: the cooldown holds too
            contacts[author] = Contact(now, contact_weight(verdict.disposition))
        judged.append(Judged(mention, verdict, drafts, cooling_since=cooling_since))
    return judged


def store_batch(source: str, result: FetchResult, store: Store, stages: Stages) -> BatchSummary:
    judged = judge_batch(result.mentions, store, stages)
    # an edit of a stored post is not new (its native_id is the post's): it revises
    # the stored text, and is judged only when the post was never stored
    edits = [m for m in result.mentions if m.version_id is not None]
    ingest = store.ingest(source, judged, result.cursor, edits)
    return BatchSummary(
        source=source,
        fetched=len(result.mentions),
        new=len(judged),
        ingest=ingest,
        dispositions=dict(Counter(j.verdict.disposition.value for j in judged)),
        more=result.more,
        next_poll_in=result.next_poll_in,
        trouble=result.trouble,
    )


async def poll(source: Source, store: Store, stages: Stages) -> BatchSummary:
    """One poll of one source. Nothing is written when fetch raises."""
    result = await source.fetch(await asyncio.to_thread(store.cursor, source.name))
    # Judging is CPU work: keep it off the event loop so other sources, the
    # publisher and the console stay responsive.
    return await asyncio.to_thread(store_batch, source.name, result, store, stages)


async def poll_sources(
    sources: Sequence[Source],
    store: Store,
    stages: Stages,
    *,
    max_pages: int,
    record_health: bool,
) -> tuple[list[BatchSummary], dict[str, str]]:
    """Poll each source once, following a backlog up to `max_pages` pages: each
    source's summary, and the error of each that failed (the others' finds are
    stored all the same). `record_health`: write each outcome for `earful sources`."""
    results = []
    errors: dict[str, str] = {}
    for source in sources:
        pages = []
        try:
            for _ in range(max_pages):
                summary = await poll(source, store, stages)
                pages.append(summary)
                if not summary.more:
                    break
        except SourceError as exc:
            errors[source.name] = failure_text(exc)
            if record_health:
                reset = exc.reset_at if isinstance(exc, RateLimited) else None
                record_failure(store, source.name, exc, retry_at=reset)
            results.append(combine(pages, source.name))
            continue
        combined = combine(pages, source.name)
        if combined.trouble is not None:  # read, but part of it failed
            errors[source.name] = redaction.redact(combined.trouble)
        if record_health:
            record_outcome(store, source.name, combined.trouble)
        results.append(combined)
    return results, errors


def combine(summaries: Sequence[BatchSummary], source: str = "all") -> BatchSummary:
    totals: Counter[str] = Counter()
    ingest: Counter[str] = Counter()
    for s in summaries:
        totals.update(s.dispositions)
        ingest.update({k: getattr(s.ingest, k) for k in IngestResult.__dataclass_fields__})
    return BatchSummary(
        source=source,
        fetched=sum(s.fetched for s in summaries),
        new=sum(s.new for s in summaries),
        ingest=IngestResult(**ingest),
        dispositions=dict(totals),
        trouble=next((s.trouble for s in reversed(summaries) if s.trouble), None),
    )


def rule_facets(config: Config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The topics and segments the configured rules can give, for the filters (a
    model of `[rules] model` adds none, so it is not read: megabytes for nothing)."""
    rules = build_stages(config, learned=False).ruleset.rules
    topics = sorted({r.then.topic for r in rules if r.then.topic})
    segments = sorted({r.then.segment for r in rules if r.then.segment})
    return tuple(topics), tuple(segments)


def check_storage_folder(config: Config) -> None:
    """The database's folder is there, and storage.path is no folder itself. It is
    never made: a typo in storage.path must not start a new tree and an empty queue."""
    folder = config.db_path.parent
    if not folder.is_dir():
        raise ConfigError(
            config.path,
            [f"storage.path: there is no folder {folder}; create it, or correct the path"],
        )
    if config.db_path.is_dir():
        # SQLite would say "Is a directory" with no key path, as a runtime error
        raise ConfigError(
            config.path,
            [
                f"storage.path: {config.db_path} is a folder; expected the database file, "
                f'like "{config.db_path / "earful.db"}"'
            ],
        )


def open_store(config: Config, *, create: bool = True, upgrade: bool = True) -> Store:
    """The store at storage.path; a file that cannot be Earful's database is a clear
    StoreError naming it, not a traceback. Without `create`, a database that does not
    exist yet is a ConfigError: a typo in storage.path must not quietly make a new,
    empty one for a command that only reads. Without `upgrade`, an older Earful's
    database keeps its schema version (Store.open), so an older daemon running on
    it is no reason to refuse."""
    path: Path = config.db_path
    if not path.exists():
        # before "no database yet": the reading commands an operator runs first
        # (sources, queue list) must not say `earful run` makes one
        refuse_orphaned_log(config)
    if not create and not path.exists():
        raise ConfigError(
            config.path,
            [
                f"storage.path: there is no database at {path} yet (`earful run` or "
                "`earful poll` makes it, once [[sources]] are set up); is the path right?"
            ],
        )
    check_storage_folder(config)
    new = not path.exists()
    if new:
        _make_private(path)
    elif upgrade:
        refuse_upgrade_under_daemon(config)
    try:
        store = Store.open(path, upgrade=upgrade)
    except (SchemaTooNew, NotEarfulDatabase, sqlite3.DatabaseError) as exc:
        if new and path.exists() and path.stat().st_size == 0:
            path.unlink()  # ours, left empty: the next try is a first start again
        # "unable to open database file" says nothing of why: most often a file this
        # user may not read (root's, after a `sudo` restore or copy), named with its owner
        problem = write_problem(path) if isinstance(exc, sqlite3.OperationalError) else None
        why = f"{problem}. {WRITE_ADVICE}" if problem else exc
        raise StoreError(
            f"cannot use the database {path} (storage.path in {config.path}): {why}"
        ) from None
    if new:
        log.info("made a new, empty database at %s", path)
    return store


def _make_private(path: Path) -> None:
    """Make the new database file readable by its owner only (0600, or less if the
    umask says so): it will hold password hashes and session digests, and SQLite
    would make it with whatever the umask allows (0644 under the usual 022). SQLite
    gives its -wal and -shm the same mode."""
    make_empty(path, 0o600)


def refuse_upgrade_under_daemon(config: Config) -> None:
    """A database an older Earful's daemon is running on is not upgraded from under it
    (a `pip install --upgrade`, then a cron job's `earful stats` or a quick `earful
    sources`; `earful backup` copies without upgrading): the old daemon's writes
    would fail against the new schema, and it would go on running, storing nothing,
    with nothing to restart it."""
    path = config.db_path
    if not locks.held_elsewhere(locks.daemon_lock(path)):
        return
    # through SQLite, not stored_version: this process may have connections open on it
    try:
        version = version_in_use(path)
    except sqlite3.Error:
        return  # not a database, or not one to open: Store.open says so
    if version and version < SCHEMA_VERSION:
        raise StoreError(
            f"the database {path} (storage.path in {config.path}) is at schema version "
            f"{version}, and this Earful would upgrade it to {SCHEMA_VERSION}, but another "
            f"process holds its lock {locks.daemon_lock(path).name}: a daemon is running on "
            "it (an older Earful, started before the upgrade), or that version's `earful "
            "publish` or `restore` is, and it could not write to the upgraded database. "
            "Nothing was changed: stop the daemon (systemctl stop earful) or let that "
            "command finish, then run this version"
        )


def refuse_orphaned_log(config: Config) -> None:
    """A database file gone while its write-ahead log is still there was deleted or
    moved under a running Earful: the log may hold its latest writes. Starting a new,
    empty database beside it would lose them (and send every alert again)."""
    from storage.db import orphaned_log

    path = config.db_path
    wal = orphaned_log(path)
    if wal is not None:
        raise StoreError(
            f"the database {path} (storage.path in {config.path}) is gone but its "
            f"write-ahead log {wal.name} is still there: the database was deleted or moved "
            "while in use. Put it back (or `earful restore` a backup); to start over with "
            f"an empty database instead, move {wal.name} and {path.name}-shm away first"
        )
