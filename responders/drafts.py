"""What responders propose. Pure data; nothing here is sent anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DraftKind(StrEnum):
    REPLY = "reply"  # an apology / callback offer / answer, posted under the post once approved
    CALLBACK = "callback"  # a task for a person: contact this author
    THANKS = "thanks"  # a thank-you reply to praise, posted once approved
    ESCALATION = "escalation"  # an alert that a case needs senior attention now


# Kinds that go back to the platform as a post and so wait for approval.
POSTABLE = frozenset({DraftKind.REPLY, DraftKind.THANKS})
# Kinds that count as contacting the author, for the cooldown.
AUTHOR_FACING = frozenset({DraftKind.REPLY, DraftKind.THANKS, DraftKind.CALLBACK})


@dataclass(frozen=True, slots=True)
class Draft:
    kind: DraftKind
    body: str
    target: tuple[str, str]  # (platform, native_id) of the mention it answers
    reason: str  # why this draft exists, in a person's words
    template: str | None = None  # the template it was rendered from

    @property
    def postable(self) -> bool:
        return self.kind in POSTABLE
