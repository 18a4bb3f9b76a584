"""Questions about the brand: an offer to answer, or a task where replies are impossible,
the post is in a language the rules cannot read, or the customer has moved to private
messages ("DM sent")."""

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

    def task(reason: str) -> list[Draft]:
        body = settings.templates.render("callback", context)
        return [Draft(DraftKind.CALLBACK, body, mention.key, reason, "callback")]

    if "needs_person" in verdict.labels:
        # Written in a language the rules cannot read: an English reply drafted
        # blind would be worse than none. A person reads it first.
        why = f"written in {verdict.lang}" if verdict.lang else "not in English"
        return task(f"{why}: read it and decide")
    if "follow_up" in verdict.labels:
        # "DM sent": the conversation has moved to private messages, where a person
        # picks it up; a public "send us a DM" would ask for what they just did.
        return task("follow-up in private messages: answer it there")
    if mention.platform in settings.read_only:
        return task(f"{about}: answer it")
    body = settings.templates.render("question_reply", context)
    return [
        Draft(DraftKind.REPLY, body, mention.key, f"{about}: offer an answer", "question_reply")
    ]
