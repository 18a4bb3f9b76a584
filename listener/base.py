"""What every source is and may report: the Source protocol, cursors, fetch results,
the errors the daemon turns into backoff, and the settings every source shares.

A source module (listener/x.py, listener/replay.py, ...) exposes two names:

    Settings            a SourceSettings subclass with the source's own config keys
    build(settings, ctx) -> Source

and is registered by type name in earful/sources.py.
"""

from __future__ import annotations

import re
import typing
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from listener.mention import Brand, Mention

# A source's position in its platform's stream: a JSON-serializable mapping the
# source alone understands (since_id, a created_utc edge, a line number...). Stored
# in the same transaction as the mentions it led to.
Cursor = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FetchResult:
    mentions: tuple[Mention, ...]
    cursor: Cursor | None
    # True when the platform has more to give right now (a backlog being paged
    # through): the daemon polls again at once instead of waiting an interval.
    more: bool = False
    # Seconds until the source would like to be polled again (adaptive intervals);
    # None keeps the configured interval.
    next_poll_in: float | None = None
    # Part of the source failed while the rest was read (one feed of several): what
    # was read is stored, and the source's health says "failing" with this as its
    # error, so that monitoring sees a feed dead for days.
    trouble: str | None = None


class SourceError(Exception):
    """A poll failed; nothing from it is stored and the cursor stays put."""


class RateLimited(SourceError):
    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class AuthFailed(SourceError):
    """Credentials were refused: retrying will not help until a person fixes them."""


class SourceDown(SourceError):
    """Network fault, timeout, 5xx or a malformed payload: back off and retry."""


@runtime_checkable
class Source(Protocol):
    name: str

    async def fetch(self, cursor: Cursor | None) -> FetchResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StreamingSource(Source, Protocol):
    """A source that can also push posts as they happen. The daemon keeps `stream`
    running beside the interval poll (which stays, as the safety net) and stores
    each batch it yields exactly as it stores a poll's."""

    def stream(self, cursor: Cursor | None) -> AsyncGenerator[FetchResult, None]:
        """One connection's worth of batches, starting from `cursor` (the stored
        one, read again at each reconnect). A batch whose cursor is None leaves the
        stored cursor alone. Raises a SourceError when the connection ends; the
        daemon reconnects with backoff. A generator, not just an iterator: the
        daemon closes it on shutdown so the connection is released at once."""


@dataclass(frozen=True)
class SourceContext:
    """What a source may use from its surroundings."""

    brand: Brand
    # Resolves a path from the config file to an absolute one (relative paths are
    # relative to the config file's folder).
    base_dir: Path = field(default_factory=Path.cwd)
    # The daemon's one shared aiohttp.ClientSession, created on first use.
    http: Callable[[], Awaitable[Any]] | None = None

    def resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


# ASCII: "\d" would take any script's digits, which float() reads ("５m" is 5 minutes)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


# The longest duration any key takes: longer ones are mistakes (and overflow dates).
MAX_DURATION_DAYS = 3650
MAX_DURATION = MAX_DURATION_DAYS * 86400.0


def as_written(value: Any) -> str:
    """A value as a message quotes it: as TOML writes it where Python would not
    (`true`, not `True`), else repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def no_bool_for_number(model: type[BaseModel], name: str | None, value: Any) -> Any:
    """`value`, or ValueError when it is true or false for a key that takes a whole
    number: pydantic reads `port = true` as port 1 and `escalate_at = true` as
    urgency 1 (every complaint escalated) without a word."""
    field_info = model.model_fields.get(name or "")
    if not isinstance(value, bool) or field_info is None:
        return value
    kinds = typing.get_args(field_info.annotation) or (field_info.annotation,)
    if int in kinds and bool not in kinds:
        raise ValueError(f"expected a whole number, got {as_written(value)}")
    return value


def parse_duration(value: Any, minimum: float = 0.0) -> float:
    """'90s', '5m', '2h', '1d', '500ms' or a number of seconds, to seconds: more than
    0 and at least `minimum`, at most MAX_DURATION_DAYS days."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f'expected a duration like "90s" or "5m", got {as_written(value)}')
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"expected a positive duration, got {value!r}")
    if seconds < minimum:
        # a bare number is seconds: "keep_for = 30" meant days, most likely
        bare = " (a number without a unit is seconds)" if not isinstance(value, str) else ""
        raise ValueError(f"expected at least {_spelled(minimum)}, got {value!r}{bare}")
    if not seconds <= MAX_DURATION:  # also catches nan
        raise ValueError(
            f'expected a duration of at most {MAX_DURATION_DAYS} days ("{MAX_DURATION_DAYS}d"),'
            f" got {value!r}"
        )
    return seconds


def not_blank(value: str, expected: str) -> str:
    """`value`, or ValueError("expected ...") when it is empty or spaces: a blank
    value would mean something else further on (a default, every interface)."""
    if not value.strip():
        raise ValueError(f"expected {expected}")
    return value


def _spelled(seconds: float) -> str:
    """A minimum in words and as written: 'at least 1 second ("1s")'."""
    for unit, size, word in (
        ("d", 86400.0, "day"),
        ("h", 3600.0, "hour"),
        ("m", 60.0, "minute"),
        ("s", 1.0, "second"),
        ("ms", 0.001, "millisecond"),
    ):
        count = round(seconds / size, 6)
        if count >= 1 and count == int(count):
            n = int(count)
            return f'{n} {word}{"" if n == 1 else "s"} ("{n}{unit}")'
    return f"{seconds} seconds"


def _at_least(minimum: float) -> BeforeValidator:
    # A one-argument function: pydantic before 2.8 passes its ValidationInfo as the
    # second positional argument of a validator that takes two (it became `minimum`).
    def parse(value: Any) -> float:
        return parse_duration(value, minimum)

    return BeforeValidator(parse)


# Durations, by what too short a one would do.
Duration = Annotated[float, _at_least(0.0)]  # nothing worse than waste
# How often a loop over local things runs (the store, a replay file): a tighter loop
# only burns CPU, and tests and the demo tick fast.
TickDuration = Annotated[float, _at_least(0.01)]
# How often something reaches over the network (a poll, a retry, the console pages
# asking the server): "10ms" made an RSS source fetch its feed 90 times a second.
PaceDuration = Annotated[float, _at_least(1.0)]
# How long one request may take: shorter, and every answer would come too late.
TimeoutDuration = Annotated[float, _at_least(0.1)]
# How long a state lasts (a login, a cooldown, an alert's shelf life): seconds would
# end it before anyone could use it.
SpanDuration = Annotated[float, _at_least(60.0)]
# How long posts are kept: shorter than a day, and posts would go while the cases
# they started are still being worked.
RetentionDuration = Annotated[float, _at_least(86400.0)]


class SourceSettings(BaseModel):
    """Keys every source takes. Subclasses add their own and pin `type`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Why a source type has no use for base_url ("" when it calls an API there): a
    # base_url it would ignore is refused rather than silently doing nothing.
    no_base_url: ClassVar[str] = ""
    # The shortest interval between polls: a poll reaches a platform. A source that
    # reads local things may allow less.
    shortest_interval: ClassVar[float] = 1.0
    # What base_url is and an example of it, for the message about a malformed one.
    base_url_is: ClassVar[str] = "an http:// or https:// URL"
    base_url_example: ClassVar[str] = "http://127.0.0.1:9000"
    # The paths the source puts after base_url: a base_url that already ends in one
    # (pasted from the API's docs) would be asked for /api/v1/api/v1/... and answer 404.
    api_paths: ClassVar[tuple[str, ...]] = ()

    name: str
    type: str
    interval: Duration = 120.0
    base_url: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        return no_bool_for_number(cls, info.field_name, value)

    @field_validator("interval", mode="before")
    @classmethod
    def _not_hammering(cls, value: Any) -> float:
        return parse_duration(value, cls.shortest_interval)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        # the name keys the source's cursor and `earful poll --source`: a blank one
        # cannot be told apart in logs or typed on a command line
        return not_blank(name, 'a name for the source, like "x-mentions"')

    @field_validator("base_url", mode="before")
    @classmethod
    def _blank_is_the_default(cls, value: Any) -> Any:
        # "${X_BASE_URL:-}" left empty: the platform's own API, where base_url may
        # be left out; a source that needs one (Mastodon) says so
        blank = isinstance(value, str) and not value.strip()
        return None if blank and not cls.model_fields["base_url"].is_required() else value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_used(cls, base_url: str | None) -> str | None:
        if base_url is None:
            return None
        if cls.no_base_url:
            raise ValueError(f"{cls.no_base_url}; base_url is not used")
        # checked here, not at the first poll: a URL without scheme or host fails
        # every poll with a library's error instead
        url = base_url.strip()

        def expected(but: str = "") -> str:
            return f'expected {cls.base_url_is}{but}, like "{cls.base_url_example}", got {url!r}'

        if not _is_http_url(url):
            raise ValueError(expected())
        parts = urlsplit(url)
        if parts.query or parts.fragment:
            # the API's paths go after it: "?x=1/api/v1/..." reaches nothing
            raise ValueError(expected(" with no ?query or #fragment"))
        path = parts.path.rstrip("/")
        for api_path in cls.api_paths:
            if path.endswith(api_path):
                raise ValueError(expected(f" without {api_path} (Earful adds the API's paths)"))
        return url.rstrip("/")


def _is_http_url(url: str) -> bool:
    """http(s)://host[:port][/path], with nothing a request line could not carry."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
