"""A person's decisions: the queue of drafts, callback tasks, escalation alerts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from earful.cli.base import (
    ROW_ID,
    BadConfig,
    Failure,
    _check_search,
    _check_writable,
    _decider,
    _limit_option,
    _load,
    _note_more,
    _setup_logging,
    _store,
    _terminal_width,
    actor_option,
    change_line,
    check_holder,
    command_group,
    config_option,
    handles_errors,
    json_option,
    taken_cell,
    taken_option,
)
from earful.cli.casework import case_heading, noted
from earful.config import Config
from earful.display import counted, oneline, safe, shown_handle, tallied, to_json
from listener.mention import PLATFORMS
from rules.verdict import Disposition
from storage.db import shown_time
from storage.records import ReplyRecord
from storage.schema import ALERT_STATUSES, REPLY_STATUSES
from storage.store import (
    DECIDABLE,
    AlreadyDecided,
    Conflict,
    EditedSince,
    NotFound,
    Store,
    posted_id_problem,
)

# -- the queue --------------------------------------------------------------------


@command_group
def queue() -> None:
    """Drafts waiting for a person: list, show, approve, reject."""


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
@click.option(
    "--search",
    default=None,
    help="Only drafts whose post holds these words (one @handle: also that author's posts).",
)
@taken_option("drafts")
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
    assignee: str | None,
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
        assignee=assignee,
    )
    config = _load(config_file)
    with _store(config) as store:
        check_holder(store, assignee, "--assignee")
        rows = queries.queue(store, flt, limit=limit + 1)
    if not rows:
        _unknown_facets(config, topic, segment)
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    rows = _note_more(rows, limit)
    if not rows:
        click.echo(f"no {status if status != 'all' else ''} drafts".replace("  ", " "))
        return
    width = _terminal_width()
    header = (
        f"{'ID':>5} {'URG':>3} {'KIND':<6} {'STATUS':<8} {'PLATFORM':<10} {'AUTHOR':<18} "
        f"{'TAKEN BY':<10} "
    )
    click.echo(header + "POST")
    for r in rows:
        left = (
            f"{r.id:>5} {r.urgency:>3} {r.kind:<6} {r.status:<8} {r.platform:<10} "
            f"{shown_handle(r.author_handle, 18):<18} "
            f"{taken_cell(r.assignee):<10} "
        )
        topic = f"[{r.topic}] " if r.topic else ""
        click.echo(left + oneline(topic + r.text, max(width - len(left), 20)))


def _unknown_facets(config: Config, topic: str | None, segment: str | None) -> None:
    """A note on stderr for an empty list filtered by a topic or segment no rule
    gives: `--topic biling` said only "no pending drafts", as if billing were quiet.
    Not an error: stored drafts keep topics that rules no longer give."""
    from earful.pipeline import rule_facets
    from rules.rulefile import did_you_mean

    if topic is None and segment is None:
        return
    topics, segments = rule_facets(config)
    for option, given, known in (("--topic", topic, topics), ("--segment", segment, segments)):
        if given is not None and given not in known:
            hint = did_you_mean(given.lower(), known)  # rules name them in lower case
            click.echo(
                f'note: {option} "{safe(given)}": no rule gives it{hint}; '
                f"the rules give {', '.join(known) or '(none)'}",
                err=True,
            )


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
    who = shown_handle(m.author_handle, 200, "(unknown author)")
    reach = f", {m.author_followers:,} followers" if m.author_followers is not None else ""
    click.echo(f"reply {r.id} · {r.kind} · {r.status}")
    if r.decided_by:
        click.echo(f"decided by {safe(r.decided_by)} at {shown_time(r.decided_at)}")
    if r.reject_reason:
        click.echo(f"rejected because: {safe(r.reject_reason)}")
    if detail.case:  # its id is what `earful case` takes
        click.echo(case_heading(detail.case))
    click.echo("")
    # as the other times of these commands read ("2026-12-01 05:32:10 UTC")
    posted = shown_time(m.created_at) if m.created_at else "time unknown"
    click.echo(f"{m.platform} · {who}{reach} · {posted}")
    click.echo(f"{safe(m.url or '(no link)')}")
    if m.context:
        click.echo(f"  in reply to / quoting: {oneline(m.context, 200)}")
    click.echo("")
    for line in safe(m.text).splitlines() or [""]:
        click.echo(f"  > {line}")
    if m.judged_text is not None:
        # the verdict and draft below were made from the words before the edit
        edited = f" at {shown_time(m.edited_at)}" if m.edited_at else ""
        click.echo(f"  (edited by its author{edited}; judged as it read before:)")
        click.echo(f"  > {oneline(m.judged_text, 200)}")
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
            who = shown_handle(t.author_handle, 60)
            click.echo(f"  {t.created_at or '?'} {who}: {oneline(t.text, 100)}")
    for c in detail.callbacks:
        click.echo(f"callback {c.id} ({c.status}): {safe(c.body)}")
    for h in detail.history:
        click.echo(f"history: {change_line(h)}")


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
    """Approve a draft (optionally edited), or a failed reply again; the publisher
    posts it. When someone else edited its text, it is shown and you are asked
    first (or pass --yes)."""
    from responders.limits import reply_problem

    config = _load(config_file)
    with _store(config) as store:
        decider = _decider(store, actor)
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
        except AlreadyDecided as exc:
            raise Failure(_refused(exc)) from None
        except EditedSince as exc:
            raise Failure(str(exc)) from None
        resolved = _resolved_case(store, reply)
    edited = " (edited)" if body is not None else ""
    then, note = _what_next(config, reply)
    click.echo(f"approved reply {reply.id}{edited}; {then}:")
    # what was approved, word for word: another agent may have edited it since you read it
    click.echo("\n".join(f"  {line}" for line in safe(reply.body).splitlines()))
    for said in (note, resolved):
        if said:
            click.echo(f"note: {said}", err=True)


def _resolved_case(store: Store, reply: ReplyRecord) -> str | None:
    """A note for a reply approved in a case someone resolved: a resolve leaves its
    drafts in the queue, and the agent working down it may not know the customer
    was dealt with."""
    if reply.case_id is None:
        return None
    case = store.case(reply.case_id)
    if case.status != "resolved":
        return None
    return (
        f"its case {case.id} was resolved at {shown_time(case.resolved_at)}; "
        "the reply goes out all the same"
    )


def _what_next(config: Config, reply: ReplyRecord) -> tuple[str, str | None]:
    """What the publisher will do with an approved reply, and a note for stderr
    when that is not what the person would expect (shared by approve and retry:
    "posted on the next run" in a dry run sent agents to look for it on the platform)."""
    from earful.sources import posting_platforms, thanks_liked, unpostable_note

    live = config.publish.mode == "live"
    postable = reply.platform in posting_platforms(list(config.sources))
    # a source this shell left out for an unset ${VAR} may well post it where the
    # daemon runs with its tokens: "cannot be posted" would send the agent to reply by
    # hand, and the daemon would reply too
    waiting = not postable and reply.platform in _waiting_platforms(config)
    unpostable = live and not postable and not waiting
    if not live:
        then = "the next publisher run marks it sent without posting it (dry run)"
    elif unpostable:
        return "it cannot be posted as things are (see the note below)", unpostable_note(
            reply.platform
        )
    elif waiting:
        then = (
            f"the publisher posts it if the daemon has the {reply.platform} source's "
            "credentials (their ${VAR}s are not set in this shell)"
        )
    else:
        then = "it will be posted on the next publisher run"
    if reply.kind == "thanks" and reply.platform in thanks_liked(list(config.sources)):
        return then, (
            f'a thank-you on {reply.platform} is a like of the post (thanks_as = "like" '
            "in its source): the text is not posted"
        )
    return then, None


def _refused(exc: AlreadyDecided) -> str:
    """Why a reply cannot be approved or rejected, and, for one in doubt, what can be
    done with it: "it is already unknown" left the agent with no way forward."""
    reply = exc.reply
    if reply.status != "unknown":
        return str(exc)
    return (
        f"{exc}; check the platform, then `earful queue mark-sent {reply.id}` if it went "
        f"out, `earful queue retry {reply.id}` if it did not, or `earful queue reject "
        f"--not-posted {reply.id}` if it did not and should not"
    )


def _waiting_platforms(config: Config) -> frozenset[str]:
    """Platforms of the sources left out of this command's config for an unset ${VAR}."""
    waiting = {name for name, _ in config.waiting_sources}
    return frozenset(kind for name, kind in config.named_sources if name in waiting)


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
@click.option(
    "--not-posted",
    is_flag=True,
    help="Replies in doubt (unknown) among them were looked for on the platform and are "
    "not there: record them as not posted. Without it they are refused.",
)
@click.argument("reply_ids", metavar="REPLY_ID...", nargs=-1, required=True, type=ROW_ID)
@handles_errors
def queue_reject(
    config_file: Path | None,
    actor: str | None,
    reason: str | None,
    close_task: bool,
    not_posted: bool,
    reply_ids: tuple[int, ...],
) -> None:
    """Reject drafts (or failed replies); they are never posted. A reply in doubt
    (unknown) you found is not on the platform, and do not want sent, is settled with
    --not-posted: recorded as not posted. Their callback tasks stay open for a call unless
    --close-task. Several ids reject each in turn: one that cannot be rejected
    (decided already, or no such draft) is reported and the rest still are; the exit
    code is then 1."""

    reason = noted(reason)
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)

        def reject(reply_id: int) -> str:
            tasks = ""
            # in doubt: the guarded change takes it only while it still is
            in_doubt = store.reply(reply_id).status == "unknown"
            if in_doubt and not not_posted:
                # a bulk reject from a script must not record "not posted" on a reply
                # nobody looked for (the console asks for the same)
                raise Conflict(
                    f"reply {reply_id} is in doubt (unknown): it may be on the platform; "
                    f"look there, then `earful queue reject --not-posted {reply_id}` if it "
                    "is not and should not be sent"
                )
            if close_task:
                rejection = store.reject_with_task(
                    reply_id, decider, reason=reason, not_posted=in_doubt
                )
                tasks = _tasks_said(rejection.closed_tasks, rejection.kept_tasks)
            else:
                store.reject(reply_id, decider, reason=reason, not_posted=in_doubt)
            settled = _NOT_POSTED if in_doubt else ""
            return f"rejected reply {reply_id}{settled}{tasks}"

        _each_in_turn(reply_ids, reject, "rejected")


def _each_in_turn(ids: Sequence[int], act: Callable[[int], str], verb: str) -> None:
    """`act` on each id once, in the order given, printing what it says. One that
    cannot be acted on (decided or done already, or no such id) is reported and the
    rest still are, with exit code 1 at the end; a lone id fails as it always did."""
    refused = []
    once = list(dict.fromkeys(ids))  # `done 7 7` names one task: it fails as `done 7`
    for row_id in once:
        try:
            said = act(row_id)
        except (Conflict, NotFound) as exc:
            why = _refused(exc) if isinstance(exc, AlreadyDecided) else str(exc)
            if len(once) == 1:
                raise Failure(why) from None
            refused.append(row_id)
            click.echo(f"earful: {safe(why)}", err=True)
            continue
        click.echo(said)
    if refused:
        raise Failure(f"not {verb}: {', '.join(map(str, refused))}")


# What rejecting a reply in doubt records, said to the person who did it.
_NOT_POSTED = ": recorded that it was not posted; Earful will not post it"


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
    config = _load(config_file)
    with _store(config) as store:
        try:
            reply = store.retry(reply_id, _decider(store, actor))
        except AlreadyDecided as exc:
            raise Failure(str(exc)) from None
    then, note = _what_next(config, reply)
    click.echo(f"reply {reply_id} is approved again; {then}")
    if note:
        click.echo(f"note: {note}", err=True)


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
            _reply, tasks = store.reopen(reply_id, _decider(store, actor))
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
    """Record that an unknown, failed or approved reply did go out (found on the
    platform): after a restore, an approved reply posted since the backup."""
    posted_id = (posted_id or "").strip() or None
    if posted_id is not None and (problem := posted_id_problem(posted_id)):
        raise click.BadParameter(f"{problem}, got {safe(posted_id)!r}", param_hint="--posted-id")
    with _store(_load(config_file)) as store:
        try:
            store.confirm_sent(reply_id, _decider(store, actor), posted_id=posted_id)
        except AlreadyDecided as exc:
            raise Failure(str(exc)) from None
    click.echo(f"reply {reply_id} marked sent")


# -- callbacks ------------------------------------------------------------------------


@command_group
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
@taken_option("tasks")
@_limit_option(100)
@handles_errors
def callbacks_list(
    config_file: Path | None, as_json: bool, status: str, assignee: str | None, limit: int
) -> None:
    """Callback tasks, most urgent first, with who has each one's case."""
    with _store(_load(config_file)) as store:
        check_holder(store, assignee, "--assignee")
        rows = store.callbacks(
            None if status == "all" else status, limit=limit + 1, assignee=assignee
        )
    if as_json:
        click.echo(to_json(_note_more(rows, limit)))
        return
    if not rows:
        click.echo(f"no {status} callbacks")
        return
    rows = _note_more(rows, limit)
    click.echo(f"{'ID':>5} {'URG':>3} {'STATUS':<6} {'TAKEN BY':<10} TASK")
    # at least 20 characters of the task, as the queue shows of a post: a narrow
    # terminal showed each task as a lone "…"
    width = max(_terminal_width() - 28, 20)
    for c in rows:
        click.echo(
            f"{c.id:>5} {c.urgency:>3} {c.status:<6} {taken_cell(c.assignee):<10} "
            f"{oneline(c.body, width)}"
        )


@callbacks.command("done")
@config_option
@actor_option
@click.argument("callback_ids", metavar="CALLBACK_ID...", nargs=-1, required=True, type=ROW_ID)
@handles_errors
def callbacks_done(
    config_file: Path | None, actor: str | None, callback_ids: tuple[int, ...]
) -> None:
    """Mark callback tasks done. Several ids (an outage's wave of tasks nobody will
    call about) are done each in turn: one done already, or no such task, is
    reported and the rest still are; the exit code is then 1."""
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)

        def done(callback_id: int) -> str:
            store.complete_callback(callback_id, decider)
            return f"callback {callback_id} done"

        _each_in_turn(callback_ids, done, "done")


# -- escalation alerts -------------------------------------------------------------


@command_group
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
            f"{shown_handle(a.author_handle, 18):<18} "
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
        click.echo(f"alerts to {summary.receiver}: {_alert_outcomes(summary)}")
    undelivered = sum(summary.outcomes.get(k, 0) for k in ("retry", "failed", "unknown"))
    if undelivered:  # for cron: a webhook that refuses everything must not look fine
        alerts = "alert" if undelivered == 1 else "alerts"
        raise Failure(f"{undelivered} {alerts} not delivered (earful alerts list shows why)")


def _alert_outcomes(summary: Any) -> str:
    """What the round did, and the alerts it held back while the receiver is failing:
    "nothing due" would read as if none were pending."""
    said = tallied(summary.outcomes)
    if not summary.waiting:
        return said or "nothing due"
    waiting = f"{counted(summary.waiting, 'alert')} waiting for the receiver (the next try at "
    waiting += f"{shown_time(summary.next_at)})"
    return f"{said}; {waiting}" if said else f"nothing sent; {waiting}"


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
        store.retry_alert(alert_id, _decider(store, actor))
    click.echo(f"alert {alert_id} will be sent on the next run")


@alerts.command("mark-sent")
@config_option
@actor_option
@click.argument("alert_id", type=ROW_ID)
@handles_errors
def alerts_mark_sent(config_file: Path | None, actor: str | None, alert_id: int) -> None:
    """Record that an unknown, failed or pending alert did arrive (found in the
    channel): after a restore, a pending alert sent since the backup."""
    with _store(_load(config_file)) as store:
        store.confirm_alert_sent(alert_id, _decider(store, actor), pending=True)
    click.echo(f"alert {alert_id} marked sent")
