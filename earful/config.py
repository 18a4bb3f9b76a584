"""Loading earful.toml: TOML, then ${VAR} from the environment, then validation.

Every mistake is reported with the key path and what was expected, all at once:

    earful.toml: sources[1].interval: expected a duration like "90s" or "5m", got 'soon'

A value that came from the environment is never shown: a message names its variable
instead ("got (the value of $POLL_EVERY)"), and values of secret-looking keys are not
echoed at all. `Config.secret_values()` lists what logs must mask (earful.redaction).
"""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from earful import sources as registry
from earful.redaction import MIN_LENGTH as MIN_HIDDEN_LENGTH
from listener.base import Duration, SourceSettings
from listener.mention import Brand

DEFAULT_CONFIG = "earful.toml"


class ConfigError(Exception):
    """A config that cannot be used. `problems` holds one "key.path: what" each."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Section):
    name: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    handles: dict[str, str] = {}

    def brand(self) -> Brand:
        return Brand(self.name, self.keywords, dict(self.handles))


class StorageConfig(_Section):
    path: str = "earful.db"


class RulesConfig(_Section):
    # Entries without ".toml" name a shipped rule set ("default"); others are files,
    # relative to this config file. Later files override earlier ones.
    files: tuple[str, ...] = ("default",)
    # Named lists for rule conditions, merged over the rule files' own [lists].
    lists: dict[str, tuple[str, ...]] = {}


class RespondersConfig(_Section):
    cooldown: Duration = 12 * 3600.0
    escalate_at: int = Field(80, ge=0, le=100)
    templates: str | None = None  # a folder whose *.j2 files override the shipped ones


class PublishConfig(_Section):
    mode: Literal["dry-run", "live"] = "dry-run"
    interval: Duration = 15.0
    max_attempts: int = Field(5, ge=1)
    retry_after: Duration = 60.0
    batch: int = Field(10, ge=1)


class EscalationConfig(_Section):
    """Where escalation alerts go: a Slack-compatible incoming webhook. No URL (or an
    empty one, e.g. "${EARFUL_SLACK_WEBHOOK:-}") keeps alerts in the store only."""

    webhook_url: str | None = None  # a secret: never logged (only its host)
    min_urgency: int | None = Field(None, ge=0, le=100)  # None: responders.escalate_at
    interval: Duration = 15.0
    timeout: Duration = 10.0
    max_attempts: int = Field(5, ge=1)
    retry_after: Duration = 30.0
    # An alert not yet tried by this age is skipped: after downtime, or when a webhook
    # is first configured, a backlog of old alerts is not urgent news for a channel.
    max_age: Duration = 86400.0
    # True only for a receiver that drops repeats of one X-Earful-Alert-Id (Slack does
    # not): then a timeout or a crash mid-send is retried instead of left `unknown`.
    receiver_dedupes: bool = False

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        # The messages never repeat the value: the URL itself is the credential.
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected an http(s) URL like https://hooks.slack.com/services/..., "
                "or leave it out to keep alerts in the store only"
            )
        if any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("the URL contains spaces or control characters")
        return value

    @property
    def receiver(self) -> str:
        """The webhook's host (and port), the only part of the URL that is logged."""
        parts = urlsplit(self.webhook_url or "")
        return parts.netloc.rpartition("@")[2] or "(no webhook)"


class ConsoleConfig(_Section):
    enabled: bool = True  # `earful run --no-console` turns it off for one run
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    session_ttl: Duration = 12 * 3600.0  # idle time after which a login ends
    refresh: Duration = 5.0  # how often the queue page asks for new drafts
    secure_cookie: bool = False  # true when served over HTTPS (behind a proxy)


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class _Root(_Section):
    brand: BrandConfig
    storage: StorageConfig = StorageConfig()
    sources: list[dict[str, Any]] = []
    rules: RulesConfig = RulesConfig()
    responders: RespondersConfig = RespondersConfig()
    publish: PublishConfig = PublishConfig()
    escalation: EscalationConfig = EscalationConfig()
    console: ConsoleConfig = ConsoleConfig()
    logging: LoggingConfig = LoggingConfig()

    @field_validator("sources", mode="before")
    @classmethod
    def _tables(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("expected [[sources]] tables")
        return value


@dataclass(frozen=True)
class Config:
    path: Path  # the file it came from
    brand: BrandConfig
    storage: StorageConfig
    sources: tuple[SourceSettings, ...]
    rules: RulesConfig
    responders: RespondersConfig
    publish: PublishConfig
    console: ConsoleConfig
    logging: LoggingConfig
    escalation: EscalationConfig
    # what must never be logged: see secret_values()
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def secret_values(self) -> frozenset[str]:
        """Every value to keep out of logs: each one a `${VAR}` put in the config
        (whatever key it is under), the values of keys that look secret (`*_token`,
        `*_secret`, `*password`, `*_key`, `webhook_url`) and every SecretStr setting.
        Short values are included; `earful.redaction.install` skips those."""
        return self.secrets

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, value: str | Path) -> Path:
        """Paths in the config are relative to the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def db_path(self) -> Path:
        return self.resolve(self.storage.path)

    def source(self, name: str) -> SourceSettings:
        for s in self.sources:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(self.path, [f"no source named {name!r} (sources: {names})"])


def config_path(explicit: str | Path | None = None) -> Path:
    """-c wins, then $EARFUL_CONFIG, then ./earful.toml."""
    return Path(explicit or os.environ.get("EARFUL_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            path, ["file not found (run `earful init` to write a starter config)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    return parse_config(raw, path, os.environ if env is None else env)


def parse_config(raw: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> Config:
    found = _Findings()
    expanded = _expand(raw, env, (), found)
    root: _Root | None
    try:
        root = _Root.model_validate(expanded)
    except ValidationError as exc:
        found.validation_errors(exc, _Root)
        root = None
    # the sources are checked even when another section is wrong: every problem at once
    tables = root.sources if root is not None else expanded.get("sources")
    source_settings = _validate_sources(tables, found) if isinstance(tables, list) else []
    if found.problems or root is None:
        raise ConfigError(path, found.messages())
    return Config(
        path=path.resolve(),
        brand=root.brand,
        storage=root.storage,
        sources=tuple(source_settings),
        rules=root.rules,
        responders=root.responders,
        publish=root.publish,
        console=root.console,
        logging=root.logging,
        escalation=_escalation(root.escalation, root.responders),
        secrets=found.secret_values(source_settings),
    )


def _escalation(section: EscalationConfig, responders: RespondersConfig) -> EscalationConfig:
    """min_urgency defaults to the urgency at which responders raise alerts."""
    if section.min_urgency is not None:
        return section
    return section.model_copy(update={"min_urgency": responders.escalate_at})


def _validate_sources(tables: list[Any], found: _Findings) -> list[SourceSettings]:
    validated: list[SourceSettings] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        where = ("sources", index)
        if not isinstance(table, dict):
            found.problem(where, "expected a table of source keys")
            continue
        type_name = table.get("type")
        if type_name not in registry.SOURCE_MODULES:
            found.problem((*where, "type"), _unknown_type(type_name))
            continue
        model = registry.settings_model(type_name)
        try:
            settings = model.model_validate(table)
        except ValidationError as exc:
            found.validation_errors(exc, model, where)
            continue
        if settings.name in seen:
            found.problem((*where, "name"), f"duplicate source name {settings.name!r}")
        seen.add(settings.name)
        validated.append(settings)
    return validated


def _unknown_type(type_name: Any) -> str:
    available = ", ".join(sorted(registry.SOURCE_MODULES))
    if type_name is None:
        return f"missing (one of {available})"
    if type_name in registry.PLANNED_SOURCES:
        return (
            f"{type_name!r} sources are not available in this version of "
            f"Earful (available: {available}; see README, 'What is not built')"
        )
    return f"expected one of {available}, got {type_name!r}"


# -- what went wrong, and what must not be shown ------------------------------------------

Loc = tuple[Any, ...]  # a key path: ("sources", 0, "interval")

_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
# Keys whose values are credentials even when written in the file itself.
_SECRETISH = re.compile(r"(token|secret|password|_key|webhook_url)$", re.IGNORECASE)
_LIST_KINDS = ("list_type", "tuple_type", "set_type", "frozen_set_type")


@dataclass
class _Findings:
    """What loading found: the problems, and which values must not be shown in them
    (nor logged): those read from the environment and those of secret-looking keys."""

    problems: list[tuple[Loc, str]] = field(default_factory=list)
    # (key path, variable, value) for each ${VAR} the environment filled in
    from_env: list[tuple[Loc, str, str]] = field(default_factory=list)
    # (key path, value) of strings under keys that look secret
    secret_keys: list[tuple[Loc, str]] = field(default_factory=list)
    # key paths whose ${...} was already reported (unset, malformed): not again
    reported: list[Loc] = field(default_factory=list)

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def messages(self) -> list[str]:
        """Each problem as "key.path: what", with no value from the environment or
        of a secret-looking key in it; repeats left out."""
        out: list[str] = []
        for loc, message in self.problems:
            text = f"{_key_path(loc)}: {self._conceal(loc, message)}"
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
        labels: list[str] = []
        hidden = [(where, value, f"(the value of ${name})") for where, name, value in self.from_env]
        hidden += [(where, value, "(hidden)") for where, value in self.secret_keys]
        for where, value, label in hidden:
            # Values of MIN_HIDDEN_LENGTH or more are hidden wherever they appear;
            # shorter ones only where the problem is about their key or its table.
            own = loc[: len(where)] == where  # the problem is about this value itself
            near = own or where[: len(loc)] == loc  # ...or about a table holding it
            long = len(value.strip()) >= MIN_HIDDEN_LENGTH
            if not (near or long):
                continue
            token = f"\x00{len(labels)}\x00"
            message, hit = _replace(message, (repr(value), repr(value.strip())), token)
            # The bare value, when no repr of it was found: for a short value only in
            # a message about the key itself (elsewhere "s" or "80" is ordinary text).
            if long or (own and not hit):
                message, found_bare = _replace(message, (value, value.strip()), token)
                hit = hit or found_bare
            if hit:
                labels.append(label)
        for index, label in enumerate(labels):
            message = message.replace(f"\x00{index}\x00", label)
        return message

    def validation_errors(
        self, exc: ValidationError, model: type[BaseModel], prefix: Loc = ()
    ) -> None:
        """pydantic's errors in plain words, at the user's key paths."""
        grouped: dict[Loc, list[tuple[Any, bool]]] = {}
        for error in exc.errors():
            loc, via_union = _user_loc(model, tuple(error["loc"]))
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


def _replace(message: str, forms: tuple[str, ...], token: str) -> tuple[str, bool]:
    hit = False
    for form in dict.fromkeys(forms):
        if form and form in message:
            message = message.replace(form, token)
            hit = True
    return message, hit


def _describe(error: Any, model: type[BaseModel], loc: Loc, where: Loc) -> str:
    kind = error["type"]
    message = str(error["msg"])
    for p in _PYDANTIC_PREFIXES:
        message = message.removeprefix(p)
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("value_error", "assertion_error"):
        return message
    if kind in _LIST_KINDS:
        expected = _plain(_annotation_at(model, loc))
        message = f"expected {expected if expected and 'list' in expected else 'a list'}"
    else:
        message = message.replace("Input should be ", "expected ")
    return _with_input(message, error, where)


def _with_input(message: str, error: Any, where: Loc) -> str:
    # never echo what was given for a credential, even when it is wrong (values from
    # the environment are replaced by the variable's name in `_Findings.messages`)
    if _SECRETISH.search(_key_path(where)) or "input" not in error:
        return message
    return f"{message}, got {error['input']!r}"


def _key_path(loc: Loc) -> str:
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


# -- ${VAR} ---------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REFERENCE_FORM = "expected ${NAME} or ${NAME:-default}"


def _expand(
    value: Any, env: Mapping[str, str], where: Loc, found: _Findings, secret: bool = False
) -> Any:
    """${NAME} (or ${NAME:-default}) in any string reads the environment. Records
    what came from the environment, so that it is never shown in a message."""
    if isinstance(value, dict):
        return {
            k: _expand(v, env, (*where, k), found, secret or bool(_SECRETISH.search(str(k))))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, env, (*where, i), found, secret) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if "${" in value:
        value = _substitute(value, env, where, found, secret)
    if secret and value.strip():
        found.secret_keys.append((where, value))
    return value


def _substitute(
    value: str, env: Mapping[str, str], where: Loc, found: _Findings, secret: bool
) -> str:
    matches = list(_VAR.finditer(value))
    starts = {m.start() for m in matches}
    for index in (i for i in range(len(value)) if value.startswith("${", i)):
        if index in starts:
            continue
        inside = any(m.start() < index < m.end() for m in matches)
        rest = value[index:]
        end = rest.find("}")
        if inside:
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

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            found.from_env.append((where, name, env[name]))
            return env[name]
        if default is not None:
            return default
        found.problem(where, f"environment variable {name} is not set")
        found.reported.append(where)
        return ""

    return _VAR.sub(substitute, value)
