"""How a reply names its author on Mastodon, which threads and notifies by mention:
shared by the approval check (limits.py) and the publisher (publish/mastodon.py), so
the length a person approves is the length that is posted."""

from __future__ import annotations

import re

MASTODON_URL_CHARACTERS = 23
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
REMOTE_MENTION = re.compile(r"(?<![\w@/])@(\w+)@[\w.-]+\w", re.UNICODE)


def _in_links(body: str) -> list[tuple[int, int]]:
    """Where the links are: an "@ana" in "https://acme.example/?by=@ana" is part of
    the link, not a mention."""
    return [m.span() for m in _URL.finditer(body)]


def _mentions(body: str, user: str, at_domain: str) -> list[re.Match[str]]:
    pattern = rf"(?<![\w@/])@{re.escape(user)}{at_domain}(?![\w@])"
    links = _in_links(body)
    return [
        m
        for m in re.finditer(pattern, body, re.IGNORECASE)
        if not any(start <= m.start() < end for start, end in links)
    ]


def names(body: str, acct: str) -> bool:
    """Whether the body already mentions this account: @user for a local one,
    @user@domain for a remote one (a bare @user is the instance's own user)."""
    user, _, domain = acct.lstrip("@").partition("@")
    return bool(_mentions(body, user, f"@{re.escape(domain)}" if domain else ""))


def addressed(body: str, acct: str) -> str:
    """The body as it must be posted to reach this account. Mastodon reads a bare
    @user as the local user of that name, so an agent's "@ana" for ana@fosstodon.org
    would notify (and a direct reply would go to) a stranger: it is written out in
    full. A body that does not name the account starts with its @acct."""
    user, _, domain = acct.lstrip("@").partition("@")
    if domain:
        # from the end, so that the spans of the earlier ones stay where they are
        for bare in reversed(_mentions(body, user, "")):
            body = f"{body[: bare.start()]}@{user}@{domain}{body[bare.end() :]}"
    return body if names(body, acct) else f"@{acct.lstrip('@')} {body}"


def mastodon_length(text: str, *, url_characters: int = MASTODON_URL_CHARACTERS) -> int:
    """Characters as Mastodon counts them: a link is `url_characters` whatever its
    length, a mention counts without its @domain. Code points, never fewer than the
    grapheme clusters Mastodon counts: a reply that passes here passes there."""
    counted = _URL.sub("x" * url_characters, text)
    counted = REMOTE_MENTION.sub(lambda m: "@" + m.group(1), counted)
    return len(counted)
