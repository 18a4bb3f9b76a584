"""The registry of source types and publishers: which module serves which `type`.

Modules are imported on first use, so a config that only reads RSS never pays for
importing tweepy or praw.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from listener.base import Source, SourceContext, SourceSettings
from responders.publish.base import Publisher

# type name -> module exposing `Settings` and `build(settings, ctx) -> Source`
SOURCE_MODULES: dict[str, str] = {
    "replay": "listener.replay",
    "x": "listener.x",
    "reddit": "listener.reddit",
    "mastodon": "listener.mastodon",
    "bluesky": "listener.bluesky",
    "hackernews": "listener.hackernews",
    "rss": "listener.rss",
}

# The platforms a mention comes from, as Mention.platform and [brand] handles name
# them: every source type but replay, which re-plays posts of these.
PLATFORMS: tuple[str, ...] = tuple(t for t in SOURCE_MODULES if t != "replay")

# Types named by the design that this version does not have yet; config naming them
# gets a clear "not available" instead of "unknown type".
PLANNED_SOURCES: tuple[str, ...] = ()

# platform -> module exposing `build(settings, ctx) -> Publisher`, taking the
# settings of a source of that platform (which hold the posting credentials)
PUBLISHER_MODULES: dict[str, str] = {
    "x": "responders.publish.x",
    "reddit": "responders.publish.reddit",
    "mastodon": "responders.publish.mastodon",
    "bluesky": "responders.publish.bluesky",
}


def posting_platforms(sources: list[SourceSettings]) -> frozenset[str]:
    """The platforms some source carries posting credentials for: approved replies
    to other platforms can only fail at the publisher (in live mode)."""
    return frozenset(
        s.type
        for s in sources
        if s.type in PUBLISHER_MODULES
        and importlib.import_module(PUBLISHER_MODULES[s.type]).can_post(s)
    )


def thanks_liked(sources: list[SourceSettings]) -> frozenset[str]:
    """The platforms where an approved thank-you is a like, not a reply (X with
    thanks_as = "like" on the source its publisher is built from): the draft's
    text is never posted there."""
    for settings in sources:
        if settings.type == "x" and importlib.import_module(PUBLISHER_MODULES["x"]).can_post(
            settings
        ):
            return (
                frozenset({"x"})
                if getattr(settings, "thanks_as", "reply") == "like"
                else frozenset()
            )
    return frozenset()


def unpostable_note(platform: str) -> str:
    """What a person approving a reply no source can post should know."""
    return (
        f"no {platform} source has posting credentials, so the publisher will mark this "
        f"reply failed; add them to your {platform} source, or reply by hand and "
        "mark it sent"
    )


def source_module(type_name: str) -> ModuleType:
    return importlib.import_module(SOURCE_MODULES[type_name])


def settings_model(type_name: str) -> type[SourceSettings]:
    model: type[SourceSettings] = source_module(type_name).Settings
    return model


def build_source(settings: SourceSettings, ctx: SourceContext) -> Source:
    source: Source = source_module(settings.type).build(settings, ctx)
    return source


def build_publishers(sources: list[SourceSettings], ctx: SourceContext) -> dict[str, Publisher]:
    """One publisher per platform, from the first source of that platform whose
    settings carry what posting needs (a module's build returns None otherwise)."""
    publishers: dict[str, Publisher] = {}
    for settings in sources:
        module_name = PUBLISHER_MODULES.get(settings.type)
        if module_name is None or settings.type in publishers:
            continue
        publisher: Any = importlib.import_module(module_name).build(settings, ctx)
        if publisher is not None:
            publishers[settings.type] = publisher
    return publishers
