"""Links and @mentions in a Bluesky post's text, as app.bsky.richtext.facet ranges.

Bluesky does not find links in text itself: the client says where they are, as byte
ranges into the UTF-8 encoding of the text (not character indexes: an emoji before a
link moves it by four bytes). A link is an http(s) URL; a mention is @handle where
the handle is a domain name, and it becomes a facet only when the handle resolves to
a DID (an unknown handle stays plain text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A URL runs to the next space; punctuation that usually ends a sentence is not part
# of it, nor is a closing bracket it did not open.
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
# @handle: a domain name of at least two labels, not inside a word or an e-mail address.
_MENTION = re.compile(
    r"(?<![\w@.])@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # character offsets into the text
    end: int
    value: str  # the URL, or the handle without its @


def _trim_url(url: str) -> str:
    while url and url[-1] in _TRAILING + ")]}":
        closer = url[-1]
        opener = {")": "(", "]": "[", "}": "{"}.get(closer)
        if opener and url.count(opener) >= url.count(closer):
            break  # (balanced) brackets belong to the URL, as in Wikipedia links
        url = url[:-1]
    return url


def find_links(text: str) -> list[Span]:
    spans = []
    for match in _URL.finditer(text):
        url = _trim_url(match.group(0))
        if len(url) > len("https://"):
            spans.append(Span(match.start(), match.start() + len(url), url))
    return spans


def find_mentions(text: str) -> list[Span]:
    taken = [(s.start, s.end) for s in find_links(text)]
    return [
        Span(m.start(), m.end(), m.group(1).lower())
        for m in _MENTION.finditer(text)
        if not any(start <= m.start() < end for start, end in taken)  # @ inside a URL
    ]


def _byte_offset(text: str, index: int) -> int:
    # surrogatepass: a lone surrogate must not crash the count (the PDS will judge it)
    return len(text[:index].encode("utf-8", errors="surrogatepass"))


def facet(text: str, span: Span, feature: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "index": {
            "byteStart": _byte_offset(text, span.start),
            "byteEnd": _byte_offset(text, span.end),
        },
        "features": [dict(feature)],
    }


def facets(text: str, dids: Mapping[str, str]) -> list[dict[str, Any]]:
    """Link facets for every URL and mention facets for every @handle found in
    `dids` (handle -> DID), in text order."""
    found = [
        (
            span.start,
            facet(text, span, {"$type": "app.bsky.richtext.facet#link", "uri": span.value}),
        )
        for span in find_links(text)
    ]
    found.extend(
        (span.start, facet(text, span, {"$type": "app.bsky.richtext.facet#mention", "did": did}))
        for span in find_mentions(text)
        if (did := dids.get(span.value)) is not None
    )
    return [f for _, f in sorted(found, key=lambda pair: pair[0])]
