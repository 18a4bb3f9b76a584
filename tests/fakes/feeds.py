"""Fake feed servers on 127.0.0.1: RSS 2.0, RSS 1.0 (RDF) and Atom documents at /feeds/<name>, with
ETag and Last-Modified, answering 304 to a matching If-None-Match or
If-Modified-Since the way a web server or CDN does."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

from fakes.server import FakeServer

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Item:
    """One entry, written into either format."""

    id: str | None
    title: str
    html: str = ""
    link: str | None = None
    author: str | None = None
    published: datetime = BASE_TIME
    full: str = ""  # the whole post beside the excerpt (`html`): a "full text" feed


def _item_parts(item: Item, guid: str, date: str) -> list[str]:
    """An RSS item's elements, 2.0 and 1.0 alike but for its id and date."""
    parts = [f"<title>{escape(item.title)}</title>"]
    if item.link:
        parts.append(f"<link>{escape(item.link)}</link>")
    if guid:
        parts.append(guid)
    if item.author:
        parts.append(f"<dc:creator>{escape(item.author)}</dc:creator>")
    return [*parts, date, f"<description>{escape(item.html)}</description>"]


def rss(title: str, items: list[Item], link: str = "https://news.example/") -> str:
    entries = []
    for item in items:
        guid = f'<guid isPermaLink="false">{escape(item.id)}</guid>' if item.id else ""
        date = f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>"
        parts = _item_parts(item, guid, date)
        if item.full:
            parts.append(f"<content:encoded>{escape(item.full)}</content:encoded>")
        entries.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        "<description>News</description>" + "".join(entries) + "</channel></rss>"
    )


def atom(title: str, items: list[Item]) -> str:
    entries = []
    for item in items:
        parts = [f'<title type="text">{escape(item.title)}</title>']
        if item.id:
            parts.append(f"<id>{escape(item.id)}</id>")
        if item.link:
            parts.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        if item.author:
            parts.append(f"<author><name>{escape(item.author)}</name></author>")
        stamp = item.published.isoformat().replace("+00:00", "Z")
        parts.append(f"<published>{stamp}</published><updated>{stamp}</updated>")
        if item.full:
            parts.append(f'<summary type="html">{escape(item.html)}</summary>')
        parts.append(f'<content type="html">{escape(item.full or item.html)}</content>')
        entries.append("<entry>" + "".join(parts) + "</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>"
        f"<updated>{BASE_TIME.isoformat().replace('+00:00', 'Z')}</updated>"
        + "".join(entries)
        + "</feed>"
    )


def rdf(title: str, items: list[Item], link: str = "https://news.example/") -> str:
    """RSS 1.0: RDF, each item named by its rdf:about, with Dublin Core's dc:date and
    dc:creator (RSS 1.0 has no pubDate or author of its own)."""
    entries, listed = [], []
    for item in items:
        about = escape(item.link or item.id or "", {'"': "&quot;"})
        listed.append(f'<rdf:li rdf:resource="{about}"/>')
        parts = _item_parts(item, "", f"<dc:date>{item.published.isoformat()}</dc:date>")
        entries.append(f'<item rdf:about="{about}">' + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="{escape(link)}rss"><title>{escape(title)}</title>'
        f"<link>{escape(link)}</link><description>News</description>"
        f"<items><rdf:Seq>{''.join(listed)}</rdf:Seq></items></channel>"
        + "".join(entries)
        + "</rdf:RDF>"
    )


@dataclass
class Document:
    body: bytes
    content_type: str
    modified: datetime = field(default_factory=lambda: BASE_TIME)
    etag: bool = True  # some servers send only Last-Modified

    @property
    def tag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FakeFeeds(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[str, Document] = {}
        self.app.router.add_get("/feeds/{name}", self.feed)

    def publish(
        self,
        name: str,
        body: str | bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        *,
        etag: bool = True,
    ) -> str:
        """Put (or replace) a document; returns its URL."""
        previous = self.documents.get(name)
        modified = previous.modified + timedelta(minutes=1) if previous else BASE_TIME
        raw = body.encode("utf-8") if isinstance(body, str) else body
        self.documents[name] = Document(raw, content_type, modified, etag)
        return self.feed_url(name)

    def feed_url(self, name: str) -> str:
        return f"{self.url}/feeds/{name}"

    async def feed(self, request: web.Request) -> web.Response:
        document = self.documents.get(request.match_info["name"])
        if document is None:
            return web.Response(status=404, text="Not Found")
        headers = {"Last-Modified": format_datetime(document.modified, usegmt=True)}
        if document.etag:
            headers["ETag"] = document.tag
        if_none_match = request.headers.get("If-None-Match")
        if_modified = request.headers.get("If-Modified-Since")
        if (if_none_match and document.etag and if_none_match == document.tag) or (
            if_none_match is None and if_modified == headers["Last-Modified"]
        ):
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=document.body, headers={**headers, "Content-Type": document.content_type}
        )
