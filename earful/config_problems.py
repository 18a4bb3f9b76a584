"""What loading a config found wrong, said plainly: each problem at the user's key
path ("sources[0].interval"), in words rather than pydantic's ("expected a list of
strings"), and never showing a value that came from the environment or sits under a
secret-looking key. Also collects those values, for the logs to mask.

May import: pydantic, earful.redaction, listener.base.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, SecretStr, ValidationError

from earful.redaction import MIN_LENGTH as MIN_HIDDEN_LENGTH
from listener.base import SourceSettings, as_written
from rules.rulefile import did_you_mean

Loc = tuple[Any, ...]  # a key path: ("sources", 0, "interval")

_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
# Keys whose values are credentials even when written in the file itself.
SECRETISH = re.compile(r"(token|secret|password|_key|webhook_url)$", re.IGNORECASE)
_LIST_KINDS = ("list_type", "tuple_type", "set_type", "frozen_set_type")


# Which commands need a lenient section's environment variables
_NEEDED_BY = {
    "sources": "needed by run, poll and publish only",
    "escalation": "needed by run and alerts send only",
}


@dataclass
class Findings:
    """What loading found: the problems, and which values must not be shown in them
    (nor logged): those read from the environment and those of secret-looking keys."""

    problems: list[tuple[Loc, str]] = field(default_factory=list)
    # (key path, variable, value) for each ${VAR} the environment filled in
    from_env: list[tuple[Loc, str, str]] = field(default_factory=list)
    # (key path, value, how a message shows it, whether one ${VAR} is all of it) for
    # each string with a ${VAR} in it: "news.example/rss?k=(the value of $FT)"
    expanded: list[tuple[Loc, str, str, bool]] = field(default_factory=list)
    # (key path, value) of strings under keys that look secret
    secret_keys: list[tuple[Loc, str]] = field(default_factory=list)
    # key paths whose ${...} was already reported (unset, malformed): not again
    reported: list[Loc] = field(default_factory=list)
    # sections where an unset ${VAR} waits: reported only if the config fails anyway
    lenient: tuple[str, ...] = ()
    # (key path, message) of each unset ${VAR} in a lenient section
    waiting: list[tuple[Loc, str]] = field(default_factory=list)

    def problem(self, loc: Loc, message: str) -> None:
        if any(
            where[:-1] == loc and isinstance(where[-1], str) and f"`{where[-1]}`" in message
            for where in self.reported
        ):
            return  # 'mode "mentions" needs `access_token`': its unset variable said so
        self.problems.append((loc, message))

    def unset(self, loc: Loc, name: str, empty: bool = False) -> None:
        """An environment variable the config names is not set (or `empty`: set to
        nothing, as `KEY=` in an EnvironmentFile does): a problem, or in a lenient
        section one that waits (see `settle`)."""
        message = f"environment variable {name} is {'set but empty' if empty else 'not set'}"
        if loc and loc[0] in self.lenient:
            self.waiting.append((loc, message))
        else:
            self.problem(loc, message)
        self.reported.append(loc)

    def waits_under(self, loc: Loc) -> bool:
        """An unset variable waits somewhere under `loc`."""
        return any(where[: len(loc)] == loc for where, _ in self.waiting)

    def settle(self, failed: bool) -> None:
        """A config that fails for another reason reports its waiting unset
        variables too: every problem at once, each saying which commands need it, so
        that fixing a typo does not read as "set a secret you do not need"."""
        if failed or self.problems:
            self.problems.extend(
                (loc, f"{message} ({_NEEDED_BY.get(loc[0], 'needed later')})")
                for loc, message in self.waiting
            )

    def messages(self) -> list[str]:
        """Each problem as "key.path: what", with no value from the environment or
        of a secret-looking key in it; repeats left out."""
        return self._said(self.problems)

    def messages_under(self, loc: Loc) -> list[str]:
        """The waiting unset variables under `loc`, said as `messages` says them."""
        return self._said([(where, m) for where, m in self.waiting if where[: len(loc)] == loc])

    def _said(self, problems: list[tuple[Loc, str]]) -> list[str]:
        out: list[str] = []
        for loc, message in problems:
            text = f"{key_path(loc)}: {self._conceal(loc, message)}"
            if text not in out:
                out.append(text)
        return out

    def secret_values(self, sources: list[SourceSettings]) -> frozenset[str]:
        values = {value for _, _, value in self.from_env}
        values |= {value for _, value in self.secret_keys}
        for settings in sources:
            for name in type(settings).model_fields:
                value = getattr(settings, name, None)
                if isinstance(value, SecretStr):
                    values.add(value.get_secret_value())
        return frozenset(v for v in values if v.strip())

    def _conceal(self, loc: Loc, message: str) -> str:
        """The message with each value shown in it that came from the environment,
        or sits under a secret-looking key, replaced by what may be shown.

        Only the value as a message quotes it ('xm', "search") is replaced, never
        the same letters elsewhere: a value "x" must not turn "expected" into
        "e(the value of $N)pected". Messages quote what they were given; those
        that name a value bare name one of a few fixed words (modes)."""
        swaps: dict[str, str] = {}
        for where, value, shown, whole in self.expanded:
            if _concerns(loc, where, value):
                said = shown if whole else repr(shown)
                _quoted(swaps, value, said, f'"{shown}"')
        for where, name, value in self.from_env:  # a value quoted on its own
            if _concerns(loc, where, value):
                _quoted(swaps, value, f"(the value of ${name})", f'"(the value of ${name})"')
        for where, value in self.secret_keys:
            if _concerns(loc, where, value):
                _quoted(swaps, value, "(hidden)", '"(hidden)"')
        if not swaps:
            return message
        # one pass, longest first: what was put in is not looked at again
        forms = sorted(swaps, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(f) for f in forms))
        return pattern.sub(lambda m: swaps[m.group(0)], message)

    def validation_errors(
        self, exc: ValidationError, model: type[BaseModel], prefix: Loc = ()
    ) -> None:
        """pydantic's errors in plain words, at the user's key paths."""
        grouped: dict[Loc, list[tuple[Any, bool]]] = {}
        for error in exc.errors():
            loc, via_union = _user_loc(model, tuple(error["loc"]))
            loc, error = _keyed(model, loc, error)
            if self._already_reported((*prefix, *loc)):
                continue
            grouped.setdefault(loc, []).append((error, via_union))
        for loc, errors in grouped.items():
            where = (*prefix, *loc)
            if len(errors) > 1 and all(via_union for _, via_union in errors):
                # one value that fits no member of a union: say what would fit
                expected = _plain(_annotation_at(model, loc))
                if expected:
                    message = f"expected {expected}"
                    self.problem(where, _with_input(message, errors[0][0], where))
                    continue
            for error, _ in errors:
                self.problem(where, _describe(error, model, loc, where))

    def _already_reported(self, loc: Loc) -> bool:
        """True for an error about a value whose ${...} was reported already (an
        unset variable leaves "", which fails checks of its own), or about the list
        holding it."""
        for where in self.reported:
            if loc[: len(where)] == where:
                return True
            if where and isinstance(where[-1], int) and loc == where[:-1]:
                return True
        return False


def _keyed(model: type[BaseModel], loc: Loc, error: Any) -> tuple[Loc, Any]:
    """A whole table's check that names its key first ('query: mode = "search"
    needs...', 'mastodon: expected the handle with its instance'): at that key's
    path ("sources[0].query: mode = ..."), not the table's ("sources[0]: query: ...").
    The key is one of the model's own (a table's check), or of the table given."""
    message = str(error["msg"])
    for p in _PYDANTIC_PREFIXES:
        message = message.removeprefix(p)
    key, colon, rest = message.partition(": ")
    given = error.get("input")
    keys = model.model_fields if not loc else given if isinstance(given, dict) else {}
    if error["type"] != "value_error" or not colon or key not in keys:
        return loc, error
    return (*loc, key), {**error, "msg": rest}


def _concerns(loc: Loc, where: Loc, value: str) -> bool:
    """Whether a problem at `loc` may show the value at `where`: a value of
    MIN_HIDDEN_LENGTH or more wherever it appears; a shorter one only in a problem
    about its key or a table holding it (elsewhere '80' may be another key's)."""
    own = loc[: len(where)] == where
    holding = where[: len(loc)] == loc
    return own or holding or len(value.strip()) >= MIN_HIDDEN_LENGTH


def _quoted(swaps: dict[str, str], value: str, said: str, double_quoted: str) -> None:
    """The ways a message quotes `value` (repr, or in double quotes), to be said
    instead as `said` (for repr) and `double_quoted`. The first swap for a form wins."""
    for form in dict.fromkeys((value, value.strip())):
        if form.strip():
            swaps.setdefault(repr(form), said)
            swaps.setdefault(f'"{form}"', double_quoted)


def _describe(error: Any, model: type[BaseModel], loc: Loc, where: Loc) -> str:
    kind = error["type"]
    message = str(error["msg"])
    for p in _PYDANTIC_PREFIXES:
        message = message.removeprefix(p)
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown key" + _did_you_mean(model, loc)
    if kind in ("value_error", "assertion_error"):
        return message
    if kind in _LIST_KINDS:
        expected = _plain(_annotation_at(model, loc))
        message = f"expected {expected if expected and 'list' in expected else 'a list'}"
    elif kind == "string_too_short":
        # "String should have at least 1 character"
        message = "expected a non-empty string"
    elif kind == "too_short":
        # "List should have at least 1 item after validation, not 0"
        found = re.match(r"\w+ should have at least (\d+) (items?)\D*(\d+)", message)
        if found:
            least, items, got = found.groups()
            return f"expected at least {least} {items}, got {got}"
    else:
        message = message.replace("Input should be ", "expected ")
        for said in _LIBRARY_ASIDES:  # what the library adds says nothing more
            message = message.replace(said, "")
    return _with_input(message, error, where)


_LIBRARY_ASIDES = (
    ", got a number with a fractional part",  # the value itself is shown after it
    ", unable to parse string as an integer",
    ", unable to parse string as a number",
    ", unable to interpret input",
)


def _did_you_mean(model: type[BaseModel], loc: Loc) -> str:
    """' (did you mean "cooldown"?)' for a misspelt key, from its table's known keys."""
    if not loc or not isinstance(loc[-1], str):
        return ""
    table = _annotation_at(model, loc[:-1])
    known = [
        name
        for member in _members(table)
        if isinstance(member, type) and issubclass(member, BaseModel)
        for name in member.model_fields
    ]
    return did_you_mean(loc[-1], known)


def _with_input(message: str, error: Any, where: Loc) -> str:
    # never echo what was given for a credential, even when it is wrong (values from
    # the environment are replaced by the variable's name in `Findings.messages`)
    if SECRETISH.search(key_path(where)) or "input" not in error:
        return message
    return f"{message}, got {as_written(error['input'])}"


def key_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


# -- what a key expects, from the models' annotations ---------------------------------------


def _members(annotation: Any) -> list[Any]:
    """A union's members without None; [annotation] for anything else."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one key or index below `annotation` (None: unknown)."""
    members = _members(annotation)
    if len(members) != 1:
        return None
    (inner,) = members
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        info = inner.model_fields.get(part) if isinstance(part, str) else None
        return None if info is None else info.annotation
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
        return args[0]
    return None


def _user_loc(model: type[BaseModel], loc: Loc) -> tuple[Loc, bool]:
    """pydantic's loc as the user's key path: without the union members' tags
    ("str", "list[str]", "function-after[...]") pydantic puts in it. Also says
    whether a union tag was dropped."""
    annotation: Any = model
    out: list[Any] = []
    via_union = False
    for part in loc:
        union_here = len(_members(annotation)) > 1
        if isinstance(part, str) and ("[" in part or union_here):
            via_union = via_union or union_here or "[" in part
            continue
        out.append(part)
        annotation = _step(annotation, part)
    return tuple(out), via_union


def _annotation_at(model: type[BaseModel], loc: Loc) -> Any:
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return annotation


def _plain(annotation: Any) -> str | None:
    """What a key takes, in plain words ("a list of strings"); None if unsure."""
    if annotation is None:
        return None
    members = _members(annotation)
    if len(members) > 1:
        words = [_plain(m) for m in members]
        return None if None in words else " or ".join(w for w in words if w)
    (inner,) = members
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if inner is str or (origin is Literal and all(isinstance(a, str) for a in args)):
        return "a string"
    if inner is bool:
        return "true or false"
    if inner is int:
        return "a whole number"
    if inner is float:
        return "a number"
    if origin in (list, tuple, set, frozenset):
        items = [a for a in args if a is not Ellipsis]
        return "a list of strings" if items and _plain(items[0]) == "a string" else "a list"
    if origin is dict or (isinstance(inner, type) and issubclass(inner, BaseModel)):
        return "a table"
    return None
