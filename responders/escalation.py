"""Escalation: urgent complaints raise an alert for senior staff. Alerts ignore the
cooldown: they go to staff, not to the author."""

from __future__ import annotations

from listener.mention import Mention
from responders.context import ResponderSettings, template_context
from responders.drafts import Draft, DraftKind
from responders.templating import PLATFORM_NAMES
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


def person_escalation(
    *,
    case_id: int,
    urgency: int,
    platform: str,
    author: str | None,
    url: str | None,
    actor: str,
    note: str | None,
) -> str:
    """The alert when a person escalates a case: who did, about whom, and why."""
    who = f"@{author}" if author else "an unknown author"
    where = PLATFORM_NAMES.get(platform, platform)
    said = f"Escalated by {actor} ({urgency}/100): case {case_id}, {who} on {where}: "
    said += url or "(no link)"
    return f"{said}\nWhy: {note}" if note else said
