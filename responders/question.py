"""Questions about the brand: an offer to answer, or a task where replies are impossible."""

from __future__ import annotations

from listener.mention import Mention
from responders.context import ResponderSettings, template_context
from responders.drafts import Draft, DraftKind
from rules.verdict import Verdict


def question_drafts(
    mention: Mention, verdict: Verdict, settings: ResponderSettings, *, cooling: bool
) -> list[Draft]:
    if cooling or "no_reply" in verdict.actions:
        return []
    context = template_context(mention, verdict, settings)
    about = f"question about {verdict.topic}" if verdict.topic else "question"
    if mention.platform in settings.read_only:
        body = settings.templates.render("callback", context)
        return [Draft(DraftKind.CALLBACK, body, mention.key, f"{about}: answer it", "callback")]
    body = settings.templates.render("question_reply", context)
    return [
        Draft(DraftKind.REPLY, body, mention.key, f"{about}: offer an answer", "question_reply")
    ]
