"""Loading earful.toml: TOML, then ${VAR} from the environment, then validation.

Every mistake is reported with the key path and what was expected, all at once:

    earful.toml: sources[1].interval: expected a duration like "90s" or "5m", got 'soon'

A value that came from the environment is never shown: a message names its variable
instead ("got (the value of $POLL_EVERY)"), and values of secret-looking keys are not
echoed at all. `Config.secret_values()` lists what logs must mask (earful.redaction).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from earful import sources as registry
from earful.config_env import expand
from earful.config_problems import Findings, Loc, key_path
from listener.base import (
    PaceDuration,
    RetentionDuration,
    SourceSettings,
    SpanDuration,
    TickDuration,
    TimeoutDuration,
    no_bool_for_number,
    not_blank,
)
from listener.mention import PLATFORM_NICKNAMES, Brand
from rules.rulefile import NAME, RESERVED_LISTS, did_you_mean

DEFAULT_CONFIG = "earful.toml"
# Where the platforms' tokens and the alert webhook live: only polling, posting and
# alerting need them.
CREDENTIAL_SECTIONS = ("sources", "escalation")


class ConfigError(Exception):
    """A config that cannot be used. `problems` holds one "key.path: what" each."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        return no_bool_for_number(cls, info.field_name, value)


def _platform(name: str) -> str:
    """A [brand] handles key: a platform mentions come from, so that the brand's
    own posts there are recognised (any other key would be silently unused)."""
    if name in registry.PLATFORMS:
        return name
    folded = name.strip().casefold()
    hint = did_you_mean(folded, registry.PLATFORMS, aliases=PLATFORM_NICKNAMES)
    raise ValueError(
        f"not a platform Earful reads{hint}; expected one of {', '.join(registry.PLATFORMS)}"
    )


def _bare_handle(handle: str) -> str:
    """The handle as the platforms give an author's: no "@" (Brand.is_own and the
    rules drop it too), no Reddit "u/" or "/u/", and no URL. A Mastodon handle
    keeps its "@instance" ("acme@mastodon.social")."""
    bare = handle.strip().lstrip("@")
    for prefix in ("/u/", "u/"):
        bare = bare.removeprefix(prefix)
    if "/" in bare or any(c.isspace() for c in bare):
        raise ValueError(
            'expected the bare handle, like "AcmeHelp" ("@AcmeHelp" and Reddit\'s '
            '"u/acme_help" are fine), not a URL or words'
        )
    return bare


class BrandConfig(_Section):
    name: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    handles: dict[
        Annotated[str, AfterValidator(_platform)], Annotated[str, AfterValidator(_bare_handle)]
    ] = {}

    @field_validator("handles")
    @classmethod
    def _usable(cls, handles: dict[str, str]) -> dict[str, str]:
        mastodon = handles.get("mastodon")
        if mastodon and "@" not in mastodon:
            # Mastodon authors come as user@instance: "acme" alone never matches, and
            # the brand's own posts would be drafted apologies
            raise ValueError(
                f'mastodon: expected the handle with its instance, like "{mastodon}'
                '@mastodon.social"'
            )
        # "${ACME_X_HANDLE:-}" left empty: no account on that platform
        return {platform: handle for platform, handle in handles.items() if handle}

    def brand(self) -> Brand:
        return Brand(self.name, self.keywords, dict(self.handles))


class StorageConfig(_Section):
    path: str = "earful.db"
    # How long posts are kept (storage.retention): the daemon deletes older ones each
    # hour, except where a person still has work. None: kept for ever.
    keep_for: RetentionDuration | None = None

    @field_validator("path")
    @classmethod
    def _named(cls, value: str) -> str:
        # "" would reach SQLite as "unable to open database file", at run time
        return not_blank(value, 'a file name for the database, like "earful.db"')


class RulesConfig(_Section):
    # Entries without ".toml" name a shipped rule set ("default"); others are files,
    # relative to this config file. Later files override earlier ones.
    files: tuple[str, ...] = ("default",)
    # Named lists for rule conditions, merged over the rule files' own [lists].
    lists: dict[str, tuple[str, ...]] = {}
    # A model from `earful train` (relative to this config file): the learned layer
    # that may re-decide each verdict. None: the rules alone.
    model: str | None = Field(None, min_length=1)

    @field_validator("lists")
    @classmethod
    def _nameable(cls, lists: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        # a rule names a list as author_in = "white_glove": "white glove" could never
        # be named, and the list would quietly do nothing
        for name in lists:
            if name in RESERVED_LISTS:
                # said here, at its key path, rather than when the rules load
                raise ValueError(
                    f'"{name}" is built in (the brand\'s name, keywords and handles) and '
                    "cannot be set"
                )
            if not NAME.match(name):
                raise ValueError(
                    f'"{name}": a list name is letters, digits, "_", "-" or ".", '
                    'as rules name it (author_in = "white_glove")'
                )
        return lists


class RespondersConfig(_Section):
    cooldown: SpanDuration = 12 * 3600.0
    escalate_at: int = Field(80, ge=0, le=100)
    templates: str | None = None  # a folder whose *.j2 files override the shipped ones


class PublishConfig(_Section):
    mode: Literal["dry-run", "live"] = "dry-run"
    interval: TickDuration = 15.0  # reads the store; posts only what people approved
    # Upper bounds on counts: a number past them is a typo, and past 2**63 SQLite
    # cannot store it at all (OverflowError mid-run instead of an error at start-up).
    max_attempts: int = Field(5, ge=1, le=100)
    retry_after: PaceDuration = 60.0
    batch: int = Field(10, ge=1, le=1000)  # replies claimed per round (dry-run; live: 1)


class EscalationConfig(_Section):
    """Where escalation alerts go: a Slack-compatible incoming webhook. No URL (or an
    empty one, e.g. "${EARFUL_SLACK_WEBHOOK:-}") keeps alerts in the store only."""

    webhook_url: str | None = None  # a secret: never logged (only its host)
    min_urgency: int | None = Field(None, ge=0, le=100)  # None: responders.escalate_at
    interval: TickDuration = 15.0  # reads the store; each alert's retries wait retry_after
    timeout: TimeoutDuration = 10.0
    max_attempts: int = Field(5, ge=1, le=100)
    retry_after: PaceDuration = 30.0
    # An alert not yet tried by this age is skipped: after downtime, or when a webhook
    # is first configured, a backlog of old alerts is not urgent news for a channel.
    max_age: SpanDuration = 86400.0
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
    session_ttl: SpanDuration = 12 * 3600.0  # idle time after which a login ends
    # time after which a login ends however much it is used: a cookie copied from an
    # unlocked machine, or a browser left logged in, is not good for ever
    session_lifetime: SpanDuration = 7 * 86400.0
    refresh: PaceDuration = 5.0  # how often the queue page asks for new drafts
    secure_cookie: bool = False  # true when served over HTTPS (behind a proxy)
    # true behind a proxy that appends the client's address to X-Forwarded-For: the
    # login limit then counts per client, not all clients as the proxy's one address
    forwarded_for: bool = False

    @field_validator("host")
    @classmethod
    def _one_address(cls, value: str) -> str:
        # aiohttp reads an empty host as every interface, IPv4 and IPv6: an unset
        # "${CONSOLE_HOST:-}" would open the console to the network
        expected = (
            'an address to listen on, like "127.0.0.1" (the default); write "0.0.0.0" '
            "to listen on every interface"
        )
        host = not_blank(value, expected).strip()
        if ":" in host and not _is_ipv6(host):
            # "localhost:8080" or "http://127.0.0.1" passed `earful check` and failed
            # only when `earful run` tried to listen
            raise ValueError(
                f"expected a host name or address alone, without a scheme or port (the port "
                f'is console.port), like "127.0.0.1", got {host!r}'
            )
        return host

    def plain_http_warning(self) -> str | None:
        """What is wrong with serving the console this way, or None: on an address
        other machines reach, over plain HTTP (no TLS proxy said to be in front),
        passwords and session cookies cross the network readable by anyone on the way."""
        if not self.enabled or self.secure_cookie or _loopback(self.host):
            return None
        return (
            f"console: listening on {self.host} over plain HTTP: passwords and session "
            "cookies cross the network unencrypted; put a TLS proxy in front and set "
            '[console] secure_cookie = true, or keep host = "127.0.0.1"'
        )


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well be reached from elsewhere


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
    # (name, type) of every source the config names, in its order, those left out
    # for an unset ${VAR} included (see load_config's `credentials`)
    named_sources: tuple[tuple[str, str], ...] = ()
    # (name, problem) for each source left out that way: why it cannot be polled
    waiting_sources: tuple[tuple[str, str], ...] = ()
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
        """Paths in the config are relative to the config file's folder (the folder
        of the file a symlink points to)."""
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


def load_config(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    *,
    credentials: Collection[str] = CREDENTIAL_SECTIONS,
) -> Config:
    """The config at `path`, or ConfigError with every problem in it.

    `credentials`: which of "sources" and "escalation" must have every ${VAR} set
    (the platforms' tokens, the alert webhook). A command names only what it uses, so
    that an agent's shell needs no platform tokens to work the queue. In a section
    left out, an unset ${VAR} is an error only if the config fails for another
    reason; a source with one is left out of `sources` (still in `named_sources`)."""
    path = Path(path)
    try:
        # utf-8-sig: Windows editors start UTF-8 files with a byte order mark
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(
            path, ["file not found (run `earful init` to write a starter config)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    return parse_config(raw, path, os.environ if env is None else env, credentials=credentials)


def parse_config(
    raw: Mapping[str, Any],
    path: Path,
    env: Mapping[str, str],
    *,
    credentials: Collection[str] = CREDENTIAL_SECTIONS,
) -> Config:
    lenient = tuple(s for s in CREDENTIAL_SECTIONS if s not in credentials)
    found = Findings(lenient=lenient)
    expanded = expand(raw, env, (), found)
    root: _Root | None
    try:
        root = _Root.model_validate(expanded)
    except ValidationError as exc:
        found.validation_errors(exc, _Root)
        root = None
    # the sources are checked even when another section is wrong: every problem at once
    tables = root.sources if root is not None else expanded.get("sources")
    brand_handles = root.brand.handles if root is not None else None
    source_settings, named, waiting = _validate_sources(tables, found, brand_handles)
    found.settle(failed=root is None)
    if found.problems or root is None:
        raise ConfigError(path, found.messages())
    return Config(
        # resolve(): a symlinked config's relative paths are beside the file it points
        # to, as they have always been; changing that would move an existing
        # install's database to an empty new one at the link
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
        named_sources=tuple(named),
        waiting_sources=tuple(waiting),
        secrets=found.secret_values(source_settings),
    )


def _escalation(section: EscalationConfig, responders: RespondersConfig) -> EscalationConfig:
    """min_urgency defaults to the urgency at which responders raise alerts."""
    if section.min_urgency is not None:
        return section
    return section.model_copy(update={"min_urgency": responders.escalate_at})


def _validate_sources(
    tables: Any, found: Findings, brand_handles: Mapping[str, str] | None = None
) -> tuple[list[SourceSettings], list[tuple[str, str]], list[tuple[str, str]]]:
    """The sources that can be built, (name, type) of every source named, and (name,
    problem) for each left out for an unset ${VAR}. `brand_handles`: [brand] handles,
    None when [brand] itself is wrong."""
    validated: list[SourceSettings] = []
    named: list[tuple[str, str]] = []
    waiting: list[tuple[str, str]] = []
    mastodon: dict[str, tuple[str, Loc]] = {}  # the first Mastodon source's host
    seen: set[str] = set()
    for index, table in enumerate(tables if isinstance(tables, list) else []):
        where = ("sources", index)
        if not isinstance(table, dict):
            found.problem(where, "expected a table of source keys")
            continue
        type_name = table.get("type")
        # a list or table is no type name, and no dict key either (unhashable)
        if not isinstance(type_name, str) or type_name not in registry.SOURCE_MODULES:
            found.problem((*where, "type"), _unknown_type(type_name))
            continue
        name = table.get("name")
        if isinstance(name, str):
            if name in seen:
                found.problem((*where, "name"), f"duplicate source name {name!r}")
            seen.add(name)
            named.append((name, type_name))
        model = registry.settings_model(type_name)
        before = len(found.problems)
        try:
            settings = model.model_validate(table)
        except ValidationError as exc:
            found.validation_errors(exc, model, where)
            settings = None
        if found.waits_under(where):
            # An unset token left "" behind, which fails the source's own checks
            # ("mentions mode needs access_token"): left out, and those wait too.
            found.waiting.extend(found.problems[before:])
            del found.problems[before:]
            if isinstance(name, str):
                waiting.extend((name, m) for m in found.messages_under(where))
        elif settings is not None:
            validated.append(settings)
            if type_name == "mastodon":
                _one_instance(settings, where, mastodon, found)
            unknown = _account_problem(settings, where, brand_handles, found)
            if unknown is not None and "sources" in found.lenient:
                # an agent's `queue approve` polls nothing; `poll --source NAME` says it
                if isinstance(name, str):
                    waiting.append((name, f"{key_path(unknown[0])}: {unknown[1]}"))
            elif unknown is not None:
                found.problem(*unknown)
    return validated, named, waiting


def _one_instance(
    settings: SourceSettings, where: Loc, first: dict[str, tuple[str, Loc]], found: Findings
) -> None:
    """Mastodon sources must read one instance: status ids are each instance's own,
    so two instances' posts would collide in the store and replies would go out
    through the wrong one (docs/mastodon.md)."""
    host = (urlsplit(str(getattr(settings, "base_url", "") or "")).hostname or "").lower()
    if not first:
        first["host"] = (host, where)
        return
    seen, at = first["host"]
    if host != seen:
        found.problem(
            (*where, "base_url"),
            f"one Mastodon instance per Earful: {key_path(at)} reads {seen}, this one "
            f"{host} (status ids are each instance's own; see docs/mastodon.md)",
        )


def _account_problem(
    settings: SourceSettings,
    where: Loc,
    brand_handles: Mapping[str, str] | None,
    found: Findings,
) -> tuple[Loc, str] | None:
    """An X mentions source follows the brand account, named by its `handle` or
    [brand] handles.x: with neither, `check` said "ready to run" and the first poll
    disabled the source. (key path, problem), or None; not judged while [brand] or
    the source's own keys are wrong."""
    if brand_handles is None or any(loc[: len(where)] == where for loc, _ in found.problems):
        return None
    mentions_of = getattr(settings, "mode", None) == "mentions" and settings.type == "x"
    if mentions_of and not getattr(settings, "handle", None) and not brand_handles.get("x"):
        return (
            (*where, "handle"),
            'mode = "mentions" follows the brand account: expected handle = "YourHandle" '
            'here, or handles = { x = "YourHandle" } in [brand]',
        )
    return None


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
