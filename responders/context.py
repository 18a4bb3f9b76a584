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


# Titles are skipped ("Dr Alex Khan" is greeted "Alex"); a display name with one of
# these words is a shop, a channel, a newsroom or a team, not a person to greet by name.
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "sir", "dame", "rev"})
_NOT_A_PERSON = frozenset(
    [
        "guy",
        "official",
        "ltd",
        "inc",
        "llc",
        "co",
        "shop",
        "store",
        "news",
        "newsdesk",
        "newsroom",
        "tv",
        "reviews",
        "review",
        "tech",
        "media",
        "hq",
        "team",
        "uk",
        "us",
        "the",
        "club",
        "radio",
        "blog",
        "ops",
        "support",
        "help",
        "helpdesk",
        "service",
        "services",
        "logistics",
        "group",
        "company",
        "agency",
        "studio",
        "studios",
        "labs",
        "games",
        "gaming",
        "daily",
        "weekly",
        "live",
        "network",
        "digital",
        "press",
        "magazine",
        "podcast",
        "fm",
        "online",
        "app",
        "bot",
        "alerts",
        "updates",
        "status",
        "community",
    ]
)
# A role before a name ("Nurse Jo", "Nightshift Nurse Jo", "Coach Dee"): the name is
# the word after it, and what comes before the role is no name at all.
_ROLES = frozenset(
    [
        "nurse",
        "doctor",
        "doc",
        "coach",
        "chef",
        "captain",
        "capt",
        "pastor",
        "auntie",
        "aunty",
        "uncle",
        "nana",
        "grandma",
        "grandpa",
        "granny",
        "teacher",
        "officer",
    ]
)


def first_name(display_name: str | None) -> str | None:
    """The first word of a display name when it looks like a person's name ("Ana 🌸 |
    she/her" -> "Ana", "Dr. Alex Khan" -> "Alex", "Nurse Jo" -> "Jo"), so replies
    greet people the way a person would; None for names that are not a person's
    ("Gadget Guy UK", "Newsdesk North")."""
    words = (display_name or "").split()
    lowered = [w.lower().strip(".") for w in words]
    if any(w in _NOT_A_PERSON for w in lowered):
        return None
    roles = [i for i, w in enumerate(lowered) if w in _ROLES]
    if roles:
        words = words[roles[-1] + 1 :]
    while words and words[0].lower().rstrip(".") in _TITLES:
        words = words[1:]
    word = words[0] if words else ""
    return word if word.isalpha() and len(word) <= 30 else None


def handle_name(handle: str | None, platform: str) -> str | None:
    """The handle as a greeting says it: "ana" for Mastodon's "ana@other.social" and
    Bluesky's "ana.bsky.social" (the reply @mentions the whole handle already)."""
    if not handle:
        return None
    short = handle.lstrip("@").split("@", 1)[0]
    short = short.split(".", 1)[0] if platform == "bluesky" else short
    # None for a handle holding what no greeting should pass on: a direction override
    # (approval refuses the reply), a zero-width or control character (posted unseen)
    return short if short.isprintable() else None


def template_context(
    mention: Mention, verdict: Verdict, settings: ResponderSettings
) -> dict[str, Any]:
    return {
        "author": mention.author.handle,
        "name": first_name(mention.author.name),
        "handle_name": handle_name(mention.author.handle, mention.platform),
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
        "disposition": verdict.disposition.value,
    }
