"""Praise: a thank-you reply (the praise itself is kept for marketing's wall by the
store, whatever happens to the draft)."""

from __future__ import annotations

from listener.mention import Mention
from responders.context import ResponderSettings, template_context
from responders.drafts import Draft, DraftKind
from rules.verdict import Verdict


def praise_drafts(
    mention: Mention, verdict: Verdict, settings: ResponderSettings, *, cooling: bool
) -> list[Draft]:
    if cooling or mention.platform in settings.read_only or "no_reply" in verdict.actions:
        return []
    body = settings.templates.render("thanks", template_context(mention, verdict, settings))
    return [Draft(DraftKind.THANKS, body, mention.key, "praise: say thank you", "thanks")]
