"""What a publisher is: post one approved reply, or find one that may have gone out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An approved reply on its way out, with what the platform needs to thread it."""

    reply_id: int
    kind: str  # "reply" or "thanks"
    body: str
    platform: str
    target_id: str  # native id of the post being answered
    target_url: str | None = None
    target_author: str | None = None
    conversation_id: str | None = None
    target_raw: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Posted:
    native_id: str | None
    url: str | None = None


class PublishError(Exception):
    """Posting failed. `retryable` errors go back to `approved` for another attempt
    (up to a bound); the rest stay `failed` with the reason for a person. A rate
    limit says so with `rate_limited`, and when it ends with `retry_at` if the
    platform told: the reply waits that long, and the attempt does not count."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        rate_limited: bool = False,
        retry_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable or rate_limited
        self.rate_limited = rate_limited
        self.retry_at = retry_at


@runtime_checkable
class Publisher(Protocol):
    platform: str

    async def post(self, out: Outgoing) -> Posted: ...

    # After a crash between posting and recording it: look on the platform for this
    # reply. None when it is certainly not there; PublishError when it cannot tell.
    async def find_posted(self, out: Outgoing) -> Posted | None: ...

    async def aclose(self) -> None: ...
