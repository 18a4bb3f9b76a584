"""What the store holds, for people: stats, sources, export, search."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from earful.cli.base import (
    WholeNumber,
    _check_search,
    _check_target,
    _day_option,
    _limit_option,
    _load,
    _note_more,
    _store,
    _terminal_width,
    cli,
    config_option,
    handles_errors,
    json_option,
)
from earful.display import (
    EXPORT_ERRORS,
    counted,
    duration,
    named_dispositions,
    oneline,
    safe,
    shown_handle,
    tallied,
    to_json,
    write_csv,
)

# -- reports ------------------------------------------------------------------------


@cli.command()
@config_option
@json_option
@click.option(
    "--days",
    type=WholeNumber(1, 366),
    default=None,
    help="Only the last N UTC days (1 to 366), as on the console's stats page.",
)
@_day_option(
    "--until",
    "With --days: the N days ending on this UTC day (last week: --days 7 --until SUNDAY).",
)
@handles_errors
def stats(
    config_file: Path | None, as_json: bool, days: int | None, until: datetime | None
) -> None:
    """Counts by disposition, topic and platform; net sentiment; time to first reply.

    Over every stored post, or with --days over the last N UTC days, the figures of
    the console's stats page for that window. Mentions count them all; net sentiment is praise minus
    complaints per 100 posts by others, leaving out the brand's own posts and spam
    (both counted apart). Time to first reply: from a case's first complaint to its
    first reply to a complaint sent; thank-yous (likes, on X) are timed apart."""
    from storage import queries

    if until is not None and days is None:
        raise click.UsageError("--until ends a window: give its length with --days N")
    end = until.date() if until is not None else None
    with _store(_load(config_file)) as store:
        result = store.stats() if days is None else queries.series(store, days=days, until=end)
    if as_json:
        click.echo(to_json(result if days is None else _window_json(result)))
    elif days is None:
        echo_stats(result)
    else:
        _echo_window(result)


@cli.command("team")
@config_option
@json_option
@click.option(
    "--days",
    type=WholeNumber(1, 366),
    default=7,
    show_default=True,
    help="Count decisions over the last N UTC days (today included).",
)
@handles_errors
def team_command(config_file: Path | None, as_json: bool, days: int) -> None:
    """Who is working on what: for each agent and admin (and anyone else who has a
    case or decided something), the cases they have open with the drafts and
    callback tasks waiting in them, and over the last N days the drafts they
    approved (edited), rejected, the tasks they did, the cases they resolved, and
    the median time from a draft's drafting to their decision."""
    from storage import queries

    with _store(_load(config_file)) as store:
        members = queries.team(store, days=days)
    if as_json:
        click.echo(to_json(members))
        return
    if not members:
        click.echo("no agents or admins yet, and nobody has decided anything")
        return
    click.echo(
        f"held now: open cases, drafts and callback tasks waiting in them; "
        f"done in the last {counted(days, 'UTC day')} (today included)"
    )
    click.echo(
        f"{'NAME':<12} {'CASES':>5} {'DRAFTS':>6} {'TASKS':>5}  {'APPROVED':>8} {'EDITED':>6} "
        f"{'REJECTED':>8} {'CALLED':>6} {'RESOLVED':>8}  MEDIAN DRAFT TO DECISION"
    )
    for m in members:
        note = "" if m.role not in (None, "viewer") and not m.disabled else f" ({_standing(m)})"
        click.echo(
            f"{oneline(m.name, 12):<12} {m.open_cases:>5} {m.pending_drafts:>6} "
            f"{m.open_callbacks:>5}  {m.approved:>8} {m.edited:>6} {m.rejected:>8} "
            f"{m.callbacks_done:>6} {m.resolved:>8}  {duration(m.median_decision_seconds)}{note}"
        )


def _standing(m: Any) -> str:
    """Why someone listed cannot take cases now: their work may need handing on."""
    if m.role is None:
        return "no account"
    return "disabled" if m.disabled else m.role


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
    _say_if_no_daemon(config.db_path)


def _say_if_no_daemon(db: Path) -> None:
    """After a stop or a crash the table still shows the last states ("ok, 20s ago"),
    which read as a daemon at work: say that none is."""
    from earful import locks

    try:
        running = locks.is_held(locks.daemon_lock(db))
    except OSError:
        return  # a lock this user may not read (the daemon's own user, UMask=0077): unknown
    if not running:
        click.echo(
            f"no daemon is running on {db}: these are the states last recorded "
            "(by the daemon, or by `earful poll`)"
        )


def _ago(moment: str | None, now: datetime) -> str:
    from storage.db import from_iso

    when = from_iso(moment)
    return "never" if when is None else duration((now - when).total_seconds()) + " ago"


def _counts(counts: dict[str, int]) -> str:
    return tallied(counts) or "none"


def echo_stats(s: Any) -> None:
    _echo_sentiment(s.mentions, s.own_posts, s.spam, s.net_sentiment)
    click.echo(f"by disposition: {_counts(named_dispositions(s.by_disposition))}")
    click.echo(f"complaint topics: {_counts(s.by_topic)}")
    _echo_platforms(s)
    click.echo(f"replies: {_counts(s.replies_by_status)}")
    click.echo(f"open callbacks: {s.open_callbacks}   escalated cases: {s.escalated_cases}")
    _echo_waits(s)


def _echo_window(s: Any) -> None:
    """queries.Series, the window's totals: what the console's stats page shows."""
    # one day is named once: "1 UTC day, 2026-12-01", not "1 UTC days, X to X"
    span = s.days[0] if len(s.days) == 1 else f"{s.days[0]} to {s.days[-1]}"
    click.echo(f"{counted(len(s.days), 'UTC day')}, {span}")
    _echo_sentiment(s.mentions, s.own_posts, s.spam, s.window_net_sentiment)
    click.echo(f"by disposition: {_counts(named_dispositions(_totals(s.by_disposition)))}")
    click.echo(f"complaint topics: {_counts(_totals(s.topics_by_week))}")
    _echo_platforms(s)
    _echo_waits(s, " first answered in these days")


def _window_json(s: Any) -> dict[str, Any]:
    """queries.Series for scripts: the keys `stats --json` has mean the same here, over
    the window (net_sentiment a number, by_disposition and by_topic counts); the
    charts' series are under `daily` and `weekly`."""
    return {
        "days": len(s.days),
        "first_day": s.days[0],
        "last_day": s.days[-1],
        "mentions": s.mentions,
        "own_posts": s.own_posts,
        "spam": s.spam,
        "by_disposition": _totals(s.by_disposition),
        "by_topic": _totals(s.topics_by_week),
        "by_platform": s.by_platform,
        "net_sentiment": s.window_net_sentiment,
        "net_by_platform": s.net_by_platform,
        "median_first_reply_seconds": s.median_first_reply_seconds,
        "replied_cases": s.replied_cases,
        "median_first_thanks_seconds": s.median_first_thanks_seconds,
        "thanked_cases": s.thanked_cases,
        "daily": {
            "days": s.days,
            "by_disposition": s.by_disposition,
            "net_sentiment": s.net_sentiment,
        },
        "weekly": {
            "weeks": s.weeks,
            "week_days": s.week_days,
            "by_topic": s.topics_by_week,
            "median_first_reply_seconds": s.first_reply_by_week,
        },
    }


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
        f"{counted(mentions - own - spam, 'post')} by others, spam left out)"
    )


def _echo_waits(s: Any, which: str = "") -> None:
    click.echo(
        f"median time to first reply to a complaint: {duration(s.median_first_reply_seconds)} "
        f"(over {counted(s.replied_cases, 'case')}{which})"
    )
    click.echo(
        f"median time to first thank-you: {duration(s.median_first_thanks_seconds)} "
        f"(over {counted(s.thanked_cases, 'case')}{which})"
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
@_day_option(
    "--since",
    "Only posts from this UTC day on (undated posts by when they were fetched); "
    "replies: those drafted or sent from that day on.",
)
@_day_option(
    "--until",
    "Only posts up to this UTC day, included; with --since, a report's days "
    "(replies: those drafted or sent in them).",
)
@click.option("--starred", is_flag=True, help="Only praise someone starred (testimonials).")
@handles_errors
def export(
    config_file: Path | None,
    kind: str,
    fmt: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    starred: bool,
) -> None:
    """Export mentions, praise (with permalinks) or replies as CSV or JSON.

    Written to a terminal, control characters in posts are shown escaped, as every
    other command shows them; -o FILE or a pipe gets the exact text."""
    if starred and kind != "praise":
        raise click.UsageError(f"--starred is for praise: {kind} are not starred")
    first = since.date() if since is not None else None
    last = until.date() if until is not None else None
    if first is not None and last is not None and last < first:
        raise click.UsageError(f"--until {last} is before --since {first}: no day is in both")
    config = _load(config_file)
    if output is not None:
        _check_target(config, output)
    with _store(config) as store:
        columns, rows = store.export(kind, since=first, until=last, starred_only=starred)
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
    quoted phrase", a prefix* and OR; anything else is searched for as written.
    One @handle also finds that author's own posts, newest first."""
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
        draft = ",".join(map(str, drafts.get(m.id, []))) or "-"
        who = shown_handle(m.author_handle, 18)
        click.echo(f"{m.id:>7} {draft:>6} {m.platform:<10} {who:<18} {oneline(m.text, 80)}")
