"""Working a case from the command line, as on its page in the console: show it,
assign it, escalate, resolve and reopen it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from earful.cli.base import (
    ROW_ID,
    F,
    Failure,
    _decider,
    _load,
    _store,
    account_problem,
    actor_option,
    change_line,
    check_holder,
    command_group,
    config_option,
    handles_errors,
    json_option,
)
from earful.config import Config
from earful.display import counted, oneline, safe, shown_handle, to_json
from storage.db import shown_time
from storage.queries import CASE_HISTORY, CaseView
from storage.records import CaseRecord, ReplyRecord
from storage.store import CaseConflict, SeenAssignee, Store


@command_group
def case() -> None:
    """Cases: an author's posts in one conversation, and the work on them."""


# a feed entry has no handle ("@" alone would read as a cut-off name)
_NO_HANDLE = "(unknown author)"


def case_change(func: F) -> F:
    """What each change to a case takes: the config, who changes it (--as), the
    case. A conflict (someone changed it first) or an unknown id exits 1, as for a
    draft."""
    func = handles_errors(click.argument("case_id", type=ROW_ID)(func))
    return config_option(actor_option(func))


def note_option(why: str) -> Callable[[F], F]:
    """--note, saying where it shows (only an escalation's goes in an alert: saying
    so on resolve had agents write resolve notes for senior staff)."""

    def decorate(func: F) -> F:
        return click.option("--note", default=None, metavar="TEXT", help=why)(func)

    return decorate


@case.command("show")
@config_option
@json_option
@click.argument("case_id", type=ROW_ID)
@handles_errors
def case_show(config_file: Path | None, as_json: bool, case_id: int) -> None:
    """The case: its state and who has it, its posts, drafts, callback tasks and
    history."""
    from storage import queries

    with _store(_load(config_file)) as store:
        view = queries.case_view(store, case_id)
    if as_json:
        click.echo(to_json(view))
        return
    c = view.case
    click.echo(case_heading(c))
    who = shown_handle(c.author_handle, 200, _NO_HANDLE)
    topic = f" · topic {c.topic}" if c.topic else ""
    click.echo(f"{c.platform} · {who} · {c.disposition or '-'}{topic} · urgency {c.urgency}")
    times = f"opened {shown_time(c.opened_at)} · updated {shown_time(c.updated_at)}"
    if c.resolved_at:
        times += f" · resolved {shown_time(c.resolved_at)}"
    click.echo(times)
    _echo_work(view)


def case_heading(c: CaseRecord) -> str:
    """The case's id, state and who has it: the first line of `case show`."""
    return f"case {c.id} · {c.status} · assigned to {safe(c.assignee or 'nobody')}"


def _echo_work(view: CaseView) -> None:
    """The case's posts, drafts, tasks and history, each under its heading."""
    click.echo("\nposts:")
    for m in view.mentions:
        when = shown_time(m.created_at) if m.created_at else "time unknown"
        who = shown_handle(m.author_handle, 60, _NO_HANDLE)
        click.echo(f"  {when} {who}: {oneline(m.text, 100)}")
    if view.replies:
        click.echo("drafts:")
        for r in view.replies:
            click.echo(f"  {_draft_line(r)}")
    if view.callbacks:
        click.echo("callbacks:")
        for t in view.callbacks:
            done = f" by {safe(t.done_by)} at {shown_time(t.done_at)}" if t.done_by else ""
            click.echo(f"  callback {t.id} ({t.status}{done}): {oneline(t.body, 100)}")
    click.echo("history:")
    if len(view.history) == CASE_HISTORY:  # there may be more: saying nothing hid them
        click.echo(f"  (the latest {CASE_HISTORY} changes; the console's Audit page has them all)")
    # oldest first, as `queue show` and the draft's page tell it (the store's newest first)
    for h in reversed(view.history):
        click.echo(f"  {change_line(h)}")
    if not view.history:
        click.echo("  no changes yet")


def _draft_line(r: ReplyRecord) -> str:
    decided = f" by {safe(r.decided_by)}" if r.decided_by else ""
    return f"reply {r.id} · {r.kind} · {r.status}{decided}: {oneline(r.body, 80)}"


@case.command("assign")
@config_option
@actor_option
@click.option("--nobody", is_flag=True, help="Take the case back to the pool: nobody has it.")
@click.argument("case_id", type=ROW_ID)
@click.argument("assignee", metavar="[USER]", required=False)
@handles_errors
def case_assign(
    config_file: Path | None, actor: str | None, nobody: bool, case_id: int, assignee: str | None
) -> None:
    """Give a case to USER (a console account that may take cases: an agent or an
    admin), or back to the pool with --nobody. A case someone else had is theirs no
    more: the message names them."""
    _check_assignee(assignee, nobody)
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)
        _check_taker(store, assignee, "USER")
        current = store.case(case_id)
        was = current.assignee
        if current.already_with(assignee):
            click.echo(f"case {case_id} is {_with_whom(assignee)} already: nothing changed")
            return
        # whom it was read assigned to: someone taking it meanwhile is named, not overruled
        now = store.assign_case(case_id, decider, assignee, seen=SeenAssignee(was)).assignee
    whose = _with_whom(now) if now else "is back in the pool: nobody has it"
    before = f" (it was {safe(was)}'s)" if was and was != now else ""
    click.echo(f"case {case_id} {whose}{before}")


def _check_taker(store: Store, assignee: str | None, param_hint: str) -> None:
    """A typo or a viewer is a usage mistake (exit 2), as it is for --as."""
    if assignee is not None and (problem := account_problem(store, assignee)):
        raise click.BadParameter(
            f"{safe(assignee)!r} {problem}: cases go to an enabled agent or admin",
            param_hint=param_hint,
        )


@case.command("handover")
@config_option
@actor_option
@click.option("--nobody", is_flag=True, help="Take the cases back to the pool: nobody has them.")
@click.argument("holder", metavar="FROM")
@click.argument("assignee", metavar="[TO]", required=False)
@handles_errors
def case_handover(
    config_file: Path | None, actor: str | None, nobody: bool, holder: str, assignee: str | None
) -> None:
    """Give every case FROM has and is not resolved to TO, or back to the pool with
    --nobody: an agent off sick, or leaving (FROM may be disabled already). Each is
    assigned as `case assign` does, audited; one someone else took meanwhile stays
    theirs and is named (exit code 1)."""
    from storage import queries

    _check_assignee(assignee, nobody, "TO")
    if assignee == holder:
        raise click.UsageError(f"FROM and TO are both {safe(holder)!r}: nothing to hand over")
    failures: list[tuple[int, str]] = []
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)
        _check_taker(store, assignee, "TO")
        check_holder(store, holder, "FROM")
        held = queries.held_cases(store, holder)
        moved = []
        for case_id in held:
            try:
                store.assign_case(case_id, decider, assignee, seen=SeenAssignee(holder))
                moved.append(case_id)
            except CaseConflict as exc:
                failures.append((case_id, str(exc)))
    if not held:
        click.echo(f"{safe(holder)} has no open cases: nothing changed")
        return
    to = f"to {safe(assignee)}" if assignee else "back to the pool"
    ids = ", ".join(str(c) for c in moved)
    click.echo(f"handed {len(moved):,} of {safe(holder)}'s open cases {to}: {ids or 'none'}")
    if failures:
        for _, why in failures:  # one line each: who took it, and when
            click.echo(f"earful: {safe(why)}", err=True)
        raise Failure(f"not handed over: {', '.join(str(c) for c, _ in failures)}")


def _with_whom(assignee: str | None) -> str:
    return f"assigned to {safe(assignee)}" if assignee else "in the pool"


def _check_assignee(assignee: str | None, nobody: bool, arg: str = "USER") -> None:
    """`arg` (USER, or handover's TO) or --nobody, one of them, and it a name an
    account can have."""
    from earful.console.passwords import name_problem

    if assignee is not None and nobody:
        raise click.UsageError(f"give {arg} or --nobody, not both")
    if assignee is None and not nobody:
        raise click.UsageError(f"assign to whom? Give {arg}, or --nobody for the pool")
    problem = name_problem(assignee) if assignee is not None else None
    if problem:
        raise click.BadParameter(f"{problem}, got {safe(assignee)!r}", param_hint=arg)


def noted(note: str | None) -> str | None:
    """A note or reason as typed, trimmed; a blank one is none (as the console keeps
    a note; a rejection's blank reason showed as an empty "rejected because:")."""
    return (note or "").strip() or None


@case.command("escalate")
@note_option("Why, for the case's history and the alert senior staff get.")
@case_change
def case_escalate(
    config_file: Path | None, actor: str | None, note: str | None, case_id: int
) -> None:
    """Escalate a case (open or waiting): senior staff get an alert, through the
    [escalation] webhook whatever its min_urgency, saying who escalated it and why."""
    from earful.cases import escalate

    config = _load(config_file)
    with _store(config) as store:
        decider = _decider(store, actor)
        escalate(store, case_id, decider, note=noted(note))
    click.echo(f"case {case_id} escalated; {_who_hears(config)} (earful alerts list shows it)")


def _who_hears(config: Config) -> str:
    """Whether senior staff hear of it: with no webhook_url the alert only waits in
    the store, and an agent told "they are alerted" would wait for a call that never
    comes. A webhook_url whose ${VAR} this shell lacks may be set where the daemon runs."""
    if config.escalation.webhook_url:
        return "senior staff are alerted"
    if "webhook_url" in config.escalation.model_fields_set:
        return (
            "senior staff are alerted if the daemon has [escalation] webhook_url "
            "(it is empty in this shell)"
        )
    return "the alert stays in the store: no [escalation] webhook_url is set, so nobody is told"


@case.command("resolve")
@note_option("Why, for the case's history.")
@case_change
def case_resolve(
    config_file: Path | None, actor: str | None, note: str | None, case_id: int
) -> None:
    """Resolve a case: its open callback tasks are done with it (nobody works them
    twice); its drafts keep their state."""
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)
        _resolved, closed = store.resolve_case(case_id, decider, note=noted(note))
    tasks = (
        f"; closed {counted(len(closed), 'open callback task')} with it ({_ids(closed)})"
        if closed
        else ""
    )
    click.echo(f"case {case_id} resolved{tasks}; earful case reopen {case_id} undoes it")


@case.command("reopen")
@case_change
def case_reopen(config_file: Path | None, actor: str | None, case_id: int) -> None:
    """Undo a resolve: the case is as it was (open, or escalated), and so are the
    callback tasks its resolving closed. Refused when a newer case is open for the
    same author and conversation (a later post opened it: work that one)."""
    with _store(_load(config_file)) as store:
        decider = _decider(store, actor)
        reopened, tasks = store.reopen_case(case_id, decider)
    tasks_are = "callback task {} is" if len(tasks) == 1 else "callback tasks {} are"
    again = f"; {tasks_are.format(_ids(tasks))} open again" if tasks else ""
    click.echo(f"case {case_id} is {reopened.status} again{again}")


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids))
