"""${VAR} in a config: read from the environment, and recorded as such so that no
message shows the value.

May import: earful.config_problems.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from earful.config_problems import SECRETISH, Findings, Loc

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VAR = re.compile(rf"\$\{{({_NAME})(?::-([^}}]*))?\}}")
_REFERENCE_FORM = "expected ${NAME} or ${NAME:-default}"
# How other tools write a variable, which Earful does not read: the shell's $NAME
# and $(command), Windows' %NAME%
_FOREIGN = re.compile(rf"\$\((?P<command>[^)]*)\)|\$(?P<dollar>{_NAME})|%(?P<percent>{_NAME})%")
# A name that can only be an environment variable ("$X_BEARER_TOKEN"), unlike a
# cashtag ("$ACME") or a word after "$" in a password ("$uperS3cret")
_ENV_LIKE = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+")


def expand(
    value: Any, env: Mapping[str, str], where: Loc, found: Findings, secret: bool = False
) -> Any:
    """${NAME} (or ${NAME:-default}) in any string reads the environment. Records
    what came from the environment, so that it is never shown in a message."""
    if isinstance(value, dict):
        return {
            k: expand(v, env, (*where, k), found, secret or bool(SECRETISH.search(str(k))))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand(v, env, (*where, i), found, secret) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if "$" in value or "%" in value:
        value = _substitute(value, env, where, found, secret)
    if secret:
        # A mounted secret file ends in a newline (Kubernetes, Docker): in a header it
        # fails every request ("Forbidden control character"). No credential has
        # spaces around it.
        value = value.strip()
        _refuse_control_characters(value, where, found)
    if secret and value:
        found.secret_keys.append((where, value))
    return value


def _substitute(
    value: str, env: Mapping[str, str], where: Loc, found: Findings, secret: bool
) -> str:
    pieces = list(_VAR.finditer(value))
    _report_malformed(value, pieces, where, found, secret)
    _report_foreign(value, pieces, env, where, found, secret)
    out: list[str] = []  # the value
    shown: list[str] = []  # the value as a message may show it
    at = 0
    for piece in pieces:
        text = value[at : piece.start()]
        out.append(text)
        shown.append(text)
        got, said = _piece(piece, env, where, found, secret)
        out.append(got)
        shown.append(said)
        at = piece.end()
    out.append(value[at:])
    shown.append(value[at:])
    result = "".join(out)
    if pieces:
        whole = len(pieces) == 1 and pieces[0].span() == (0, len(value))
        found.expanded.append((where, result, "".join(shown), whole))
    return result


def _piece(
    piece: re.Match[str], env: Mapping[str, str], where: Loc, found: Findings, secret: bool
) -> tuple[str, str]:
    """(what one ${...} stands for, what a message shows for it)."""
    name, default = piece.group(1), piece.group(2)
    got = env.get(name, "")
    got = got.strip() if secret else got  # see expand
    if got:
        found.from_env.append((where, name, got))
        return got, f"(the value of ${name})"
    if default is not None:
        return default, default
    # "set but empty" sends the reader to the file that sets it, not to set it again
    found.unset(where, name, empty=name in env)
    return "", ""


def _report_malformed(
    value: str, pieces: list[re.Match[str]], where: Loc, found: Findings, secret: bool
) -> None:
    """Each "${" that starts no valid reference."""
    starts = {m.start() for m in pieces}
    for index in (i for i in range(len(value)) if value.startswith("${", i)):
        if index in starts:
            continue
        within = [m for m in pieces if m.start() < index < m.end()]
        rest = value[index:]
        end = rest.find("}")
        if within:
            what = "a ${...} default cannot hold another ${...}"
        elif end < 0:
            what = f"unterminated ${{ (no closing }}): {_REFERENCE_FORM}"
        else:
            what = (
                f"not a valid variable reference: {_REFERENCE_FORM}, NAME being letters, "
                "digits and _, not starting with a digit"
            )
        if not secret:
            fragment = rest[: end + 1] if end >= 0 else rest
            fragment = fragment if len(fragment) <= 40 else fragment[:40] + "..."
            what += f", got {fragment!r}"
        found.problem(where, what)
        found.reported.append(where)


def _report_foreign(
    value: str,
    pieces: list[re.Match[str]],
    env: Mapping[str, str],
    where: Loc,
    found: Findings,
    secret: bool,
) -> None:
    """$NAME, $(NAME) or %NAME% in the file's own text: passed on as written, a
    platform would get "$X_BEARER_TOKEN" for a token. The first one in the value is
    refused, saying what to write."""
    bounds = [0, *(edge for p in pieces for edge in p.span()), len(value)]
    for start, end in zip(bounds[::2], bounds[1::2], strict=True):
        for match in _FOREIGN.finditer(value, start, end):
            if _is_foreign(match, value, env, secret):
                found.problem(where, _foreign_message(match, secret))
                found.reported.append(where)
                return


def _is_foreign(match: re.Match[str], value: str, env: Mapping[str, str], secret: bool) -> bool:
    """Whether a $NAME, %NAME% or $(...) is surely a reference, not text. A secret
    may hold any characters ("pa$$word", "Pa$SW_RD"): there only a name that is
    set in the environment, or a reference standing as a word of its own, counts."""
    starts_a_word = match.start() == 0 or value[match.start() - 1].isspace()
    if match.group("command") is not None:
        # no config value means "$(...)" literally
        return starts_a_word if secret else True
    name = match.group("dollar") or match.group("percent")
    if name in env:
        return True
    return bool(_ENV_LIKE.fullmatch(name)) and (starts_a_word or not secret)


def _foreign_message(match: re.Match[str], secret: bool) -> str:
    if secret:
        # the reference may be the secret itself, written with a "$": never shown
        return (
            "the value looks like an environment variable written as $NAME, %NAME% or "
            "$(...), which Earful does not read: write ${NAME}"
        )
    command = match.group("command")
    name = match.group("dollar") or match.group("percent") or (command or "").strip()
    if not re.fullmatch(_NAME, name):
        # a command, not a variable: its text may be part of a secret
        return (
            "a $(...) command is not run: put its output in an environment variable "
            "NAME and write ${NAME}"
        )
    # the reference itself, unquoted: under a secret key a quoted value is hidden
    why = "Earful runs no commands" if command is not None else "only ${NAME} is"
    return f"{match.group(0)} is not read from the environment ({why}): write ${{{name}}}"


def _refuse_control_characters(value: str, where: Loc, found: Findings) -> None:
    """A credential goes into HTTP headers, where a line break is refused (or worse,
    starts a header of its own): at start-up, not at the first request. The value is
    not shown."""
    if where in found.reported:
        return
    if any(unicodedata.category(c) == "Cc" for c in value):
        found.problem(
            where,
            "contains a control character (a line break, tab or the like) inside the "
            "value: remove it (spaces and line breaks around it are dropped)",
        )
        found.reported.append(where)
