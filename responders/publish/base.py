"""What a publisher is: post one approved reply, or find one that may have gone out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    (up to a bound); the rest stay `failed` with the reason for a person."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Publisher(Protocol):
    platform: str

    async def post(self, out: Outgoing) -> Posted: ...

    # After a crash between posting and recording it: look on the platform for this
    # reply. None when it is certainly not there; PublishError when it cannot tell.
    async def find_posted(self, out: Outgoing) -> Posted | None: ...

    async def aclose(self) -> None: ...
