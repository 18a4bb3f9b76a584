"""Console accounts: add, passwd, list, role, disable, enable, logout."""

from __future__ import annotations

import getpass
import sys
import warnings
from pathlib import Path

import click

from earful.cli.base import (
    _actor,
    _load,
    _store,
    actor_option,
    command_group,
    config_option,
    handles_errors,
    json_option,
)
from earful.display import counted, to_json
from storage.db import shown_time
from storage.schema import ROLES
from storage.store import Store

# -- console accounts ---------------------------------------------------------------


@command_group
def user() -> None:
    """Console accounts: admin (everything), agent (decides drafts), viewer (reads)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            with warnings.catch_warnings():
                # from a pipe, getpass warns that it cannot hide what is typed (with
                # its own file's path): nothing is typed there to hide
                warnings.simplefilter("ignore", getpass.GetPassWarning)
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
        click.echo(f"{a.name:<24} {a.role:<7} {state:<9} since {shown_time(a.created_at)}")


@user.command("role")
@config_option
@actor_option
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@handles_errors
def user_role(config_file: Path | None, actor: str | None, name: str, role: str) -> None:
    """Give NAME another role; their open sessions end (they log in again with it)."""
    with _store(_load(config_file)) as store:
        store.set_role(name, role, actor=_actor(actor))
        click.echo(f"{name} is now {role}; their sessions have ended")
        if role == "viewer":
            _still_held(store, name)


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
        _still_held(store, name)


def _still_held(store: Store, name: str) -> None:
    """The open cases an account that can no longer work them still has: nobody
    else was told, and their customers waited (the queue said "taken by" them)."""
    from storage import queries

    held = queries.held_cases(store, name)
    if held:
        ids = ", ".join(str(c) for c in held)
        click.echo(
            f"{name} still has {counted(len(held), 'open case')} ({ids}): hand them on with "
            f"`earful case handover {name} NAME` (or --nobody, back to the pool)"
        )


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


@user.command("logout")
@config_option
@actor_option
@click.argument("name")
@handles_errors
def user_logout(config_file: Path | None, actor: str | None, name: str) -> None:
    """Log NAME out everywhere: every open console session of theirs ends now."""
    with _store(_load(config_file)) as store:
        ended = store.end_sessions(name, actor=_actor(actor))
    if ended:
        click.echo(f"{name} is logged out everywhere: {counted(ended, 'session')} ended")
    else:
        click.echo(f"{name} had no open sessions")
