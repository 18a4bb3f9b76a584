"""What responders propose. Pure data; nothing here is sent anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rules.verdict import Disposition


class DraftKind(StrEnum):
    REPLY = "reply"  # an apology / callback offer / answer, posted under the post once approved
    CALLBACK = "callback"  # a task for a person: contact this author
    THANKS = "thanks"  # a thank-you reply to praise, posted once approved
    ESCALATION = "escalation"  # an alert that a case needs senior attention now
    # A complaint from an author contacted within the cooldown: no second reply, but
    # news for whoever has their case. It raises the author's pending reply and its
    # case's open task, or becomes that case's task when none is open: a churn
    # threat after an apology must not go unseen (storage.ingest._follow_up).
    FOLLOW_UP = "follow_up"


# Kinds that go back to the platform as a post and so wait for approval.
POSTABLE = frozenset({DraftKind.REPLY, DraftKind.THANKS})
# Kinds that count as contacting the author, for the cooldown.
AUTHOR_FACING = frozenset({DraftKind.REPLY, DraftKind.THANKS, DraftKind.CALLBACK})

# What a contact weighs for the cooldown: a draft to an author cools their later
# posts of the same or a lighter kind only, so a thank-you never hides the complaint
# that follows it, while a thread of complaints gets one apology.
CONTACT_WEIGHT: Mapping[Disposition, int] = {
    Disposition.INTERESTING_GOOD: 1,
    Disposition.QUESTION: 2,
    Disposition.INTERESTING_BAD: 3,
}
HEAVIEST = max(CONTACT_WEIGHT.values())


def contact_weight(disposition: Disposition) -> int:
    return CONTACT_WEIGHT.get(disposition, HEAVIEST)


@dataclass(frozen=True, slots=True)
class Contact:
    """An author's last author-facing draft: when, and what it answered."""

    at: datetime
    weight: int = HEAVIEST

    def cools(self, disposition: Disposition) -> bool:
        """Whether a post of this disposition is answered by this contact already."""
        return self.weight >= contact_weight(disposition)


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

    def as_follow_up(self) -> Draft:
        """This callback task as news for the author's open work (FOLLOW_UP)."""
        reason = f"{self.reason}; again within the cooldown: no second reply"
        return replace(self, kind=DraftKind.FOLLOW_UP, reason=reason)
