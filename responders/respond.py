"""From one judged mention to its drafts."""

from __future__ import annotations

from datetime import datetime

from listener.mention import Mention
from responders.complaint import complaint_drafts
from responders.context import ResponderSettings
from responders.drafts import Contact, Draft
from responders.escalation import escalation_drafts
from responders.praise import praise_drafts
from responders.question import question_drafts
from rules.verdict import Disposition, Verdict

_BY_DISPOSITION = {
    Disposition.INTERESTING_BAD: complaint_drafts,
    Disposition.INTERESTING_GOOD: praise_drafts,
    Disposition.QUESTION: question_drafts,
}


def respond(
    mention: Mention,
    verdict: Verdict,
    settings: ResponderSettings,
    *,
    last_contact: Contact | None,
    now: datetime,
) -> tuple[Draft, ...]:
    """The drafts this mention calls for. `last_contact` is its author's last
    author-facing draft (None: never), for the cooldown."""
    responder = _BY_DISPOSITION.get(verdict.disposition)
    cooling = (
        last_contact is not None
        and now - last_contact.at < settings.cooldown
        and last_contact.cools(verdict.disposition)
    )
    drafts = responder(mention, verdict, settings, cooling=cooling) if responder else []
    # a rule's `escalate` holds whatever the disposition: staff asked to see these
    drafts.extend(escalation_drafts(mention, verdict, settings))
    return tuple(drafts)
