"""Escalation: urgent complaints raise an alert for senior staff. Alerts ignore the
cooldown: they go to staff, not to the author."""

from __future__ import annotations

from listener.mention import Mention
from responders.context import ResponderSettings, template_context
from responders.drafts import Draft, DraftKind
from rules.verdict import Disposition, Verdict


def needs_escalation(verdict: Verdict, settings: ResponderSettings) -> bool:
    if "escalate" in verdict.actions:
        return True
    return (
        verdict.disposition is Disposition.INTERESTING_BAD
        and verdict.urgency >= settings.escalate_at
    )


def escalation_drafts(
    mention: Mention, verdict: Verdict, settings: ResponderSettings
) -> list[Draft]:
    if not needs_escalation(verdict, settings):
        return []
    why = (
        "rule asked to escalate"
        if "escalate" in verdict.actions
        else (f"urgency {verdict.urgency} >= {settings.escalate_at}")
    )
    body = settings.templates.render("escalation", template_context(mention, verdict, settings))
    return [Draft(DraftKind.ESCALATION, body, mention.key, why, "escalation")]
