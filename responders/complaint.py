"""Complaints: an apology with a callback offer (where the platform takes replies)
and a callback task for a person."""

from __future__ import annotations

from listener.mention import Mention
from responders.context import ResponderSettings, template_context
from responders.drafts import Draft, DraftKind
from rules.verdict import Verdict


def complaint_drafts(
    mention: Mention, verdict: Verdict, settings: ResponderSettings, *, cooling: bool
) -> list[Draft]:
    context = template_context(mention, verdict, settings)
    about = f"complaint about {verdict.topic}" if verdict.topic else "complaint"
    english = "non_english" not in verdict.labels
    if not english:
        # An English apology to a post in another language would be worse than none:
        # the callback task asks a person who reads it to answer.
        written = f"written in {verdict.lang}" if verdict.lang else "not in English"
        about = f"{about}, {written}: read it and answer in its language"
    callback = Draft(
        DraftKind.CALLBACK,
        settings.templates.render("callback", context),
        mention.key,
        f"{about} (urgency {verdict.urgency})",
        "callback",
    )
    if cooling:
        # the author was answered within the cooldown: no second reply, but news
        return [callback.as_follow_up()]
    drafts = []
    if english and mention.platform not in settings.read_only and "no_reply" not in verdict.actions:
        drafts.append(
            Draft(
                DraftKind.REPLY,
                settings.templates.render("complaint_reply", context),
                mention.key,
                f"{about}: apologise and offer a callback",
                "complaint_reply",
            )
        )
    drafts.append(callback)
    return drafts
