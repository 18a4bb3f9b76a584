"""What responders know besides the mention and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from listener.mention import Brand, Mention
from responders.templating import PLATFORM_NAMES, Templates
from rules.verdict import Verdict

# Platforms Earful reads but cannot post to: complaints there become callback tasks.
READ_ONLY_PLATFORMS = frozenset({"hackernews", "rss"})


@dataclass(frozen=True)
class ResponderSettings:
    brand: Brand
    templates: Templates = field(default_factory=Templates)
    # No second author-facing draft (reply, thanks, callback) to the same author
    # within this window: one conversation at a time, not a reply to every post.
    cooldown: timedelta = timedelta(hours=12)
    # Urgency at or above which a complaint also raises an escalation alert.
    escalate_at: int = 80
    read_only: frozenset[str] = READ_ONLY_PLATFORMS


def first_name(display_name: str | None) -> str | None:
    """The first word of a display name when it looks like a name ("Ana 🌸 | she/her"
    -> "Ana"), so replies greet people the way a person would."""
    if not display_name:
        return None
    word = display_name.split(maxsplit=1)[0] if display_name.split() else ""
    return word if word.isalpha() and len(word) <= 30 else None


def template_context(
    mention: Mention, verdict: Verdict, settings: ResponderSettings
) -> dict[str, Any]:
    return {
        "author": mention.author.handle,
        "name": first_name(mention.author.name),
        "brand": settings.brand.name,
        "topic": verdict.topic,
        "platform": mention.platform,
        "platform_name": PLATFORM_NAMES.get(mention.platform, mention.platform),
        "url": mention.url,
        "text": mention.text,
        "urgency": verdict.urgency,
        "segment": verdict.segment,
        "followers": mention.author.followers,
        "labels": verdict.labels,
    }
