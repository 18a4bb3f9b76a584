"""Loading earful.toml: TOML, then ${VAR} from the environment, then validation.

Every mistake is reported with the key path and what was expected, all at once:

    earful.toml: sources[1].interval: expected a duration like "90s" or "5m", got 'soon'
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from earful import sources as registry
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
    problems: list[str] = []
    expanded = _expand(raw, env, (), problems)
    try:
        root = _Root.model_validate(expanded)
    except ValidationError as exc:
        problems.extend(_describe(exc))
        raise ConfigError(path, problems) from None
    source_settings = _validate_sources(root.sources, problems)
    if problems:
        raise ConfigError(path, problems)
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
    )


def _escalation(section: EscalationConfig, responders: RespondersConfig) -> EscalationConfig:
    """min_urgency defaults to the urgency at which responders raise alerts."""
    if section.min_urgency is not None:
        return section
    return section.model_copy(update={"min_urgency": responders.escalate_at})


def _validate_sources(tables: list[dict[str, Any]], problems: list[str]) -> list[SourceSettings]:
    validated: list[SourceSettings] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        where = f"sources[{index}]"
        if not isinstance(table, dict):
            problems.append(f"{where}: expected a table of source keys")
            continue
        type_name = table.get("type")
        if type_name not in registry.SOURCE_MODULES:
            problems.append(_unknown_type(where, type_name))
            continue
        try:
            settings = registry.settings_model(type_name).model_validate(table)
        except ValidationError as exc:
            problems.extend(_describe(exc, prefix=(f"{where}",)))
            continue
        if settings.name in seen:
            problems.append(f"{where}.name: duplicate source name {settings.name!r}")
        seen.add(settings.name)
        validated.append(settings)
    return validated


def _unknown_type(where: str, type_name: Any) -> str:
    available = ", ".join(sorted(registry.SOURCE_MODULES))
    if type_name is None:
        return f"{where}.type: missing (one of {available})"
    if type_name in registry.PLANNED_SOURCES:
        return (
            f"{where}.type: {type_name!r} sources are not available in this version of "
            f"Earful (available: {available}; see README, 'Not built yet')"
        )
    return f"{where}.type: expected one of {available}, got {type_name!r}"


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: Any, env: Mapping[str, str], where: tuple[Any, ...], problems: list[str]) -> Any:
    """${NAME} (or ${NAME:-default}) in any string reads the environment."""
    if isinstance(value, dict):
        return {k: _expand(v, env, (*where, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, (*where, i), problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{_key_path(where)}: environment variable {name} is not set")
        return ""

    return _VAR.sub(substitute, value)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
_SECRETISH = re.compile(r"(token|secret|password|_key|webhook_url)$", re.IGNORECASE)


def _describe(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    problems = []
    for error in exc.errors():
        # pydantic puts the failing validator's name in loc for tagged unions etc.;
        # keep only the user's keys.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        where = _key_path((*prefix, *loc)) if prefix else _key_path(loc)
        kind = error["type"]
        message = error["msg"]
        for p in _PYDANTIC_PREFIXES:
            message = message.removeprefix(p)
        if kind == "missing":
            message = "missing (required)"
        elif kind == "extra_forbidden":
            message = "unknown key"
        elif kind not in ("value_error", "assertion_error"):
            message = message.replace("Input should be ", "expected ")
            # never echo what was given for a credential, even when it is wrong
            if not _SECRETISH.search(where):
                message += f", got {error.get('input')!r}"
        problems.append(f"{where}: {message}")
    return problems
