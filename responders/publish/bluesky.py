"""Posting approved replies to Bluesky.

A reply is an app.bsky.feed.post record created with com.atproto.repo.createRecord
in the signed-in account's repo. It threads under the post it answers through
`reply.parent` (that post's uri and cid) and `reply.root` (the thread's first post:
the parent's own root when the parent is itself a reply). Links and @mentions get
facets (see bluesky_richtext). The text is at most 300 graphemes.

What can go wrong, and what happens:
- anything before createRecord (signing in, resolving a handle): PublishError,
  retryable unless the credentials or the target are the problem;
- createRecord refused (4xx), rate-limited, or never sent: PublishError;
- a post whose thread gate leaves the account out (viewer.replyDisabled, as the
  AppView said when the post was read or looked up): PublishError, never sent, since
  the PDS would take the reply and the AppView hide it;
- createRecord timed out, or the PDS failed with a 5xx: the post may exist, so the
  SourceDown is raised as it is and the outbox marks the reply `unknown` for a person.

find_posted looks through the account's own recent posts (getAuthorFeed, up to
three pages of 100) for a reply to the same post with the same text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from listener.base import AuthFailed, RateLimited, SourceContext, SourceDown, SourceError
from listener.bluesky import WEB, Settings
from listener.bluesky_xrpc import DEFAULT_BASE_URL, XrpcClient
from listener.http_errors import NotSent, Refused, shared_http
from listener.normalize import as_mapping, as_str, get_path
from responders.limits import reply_problem
from responders.publish.base import Outgoing, Posted, PublishError
from responders.publish.bluesky_richtext import facets, find_mentions

POST = "app.bsky.feed.post"
_FIND_PAGES = 3


@dataclass(frozen=True, slots=True)
class Ref:
    """A strong reference to a record: its uri and the cid of the version meant."""

    uri: str
    cid: str

    def as_json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def can_post(settings: Settings) -> bool:
    """Whether the source carries what posting needs: an identifier and app password."""
    return bool(settings.identifier and settings.app_password)


def build(settings: Settings, ctx: SourceContext) -> BlueskyPublisher | None:
    """A publisher for the first Bluesky source with an identifier and app password."""
    if not can_post(settings):
        return None
    client = XrpcClient(
        shared_http(ctx.http, "the bluesky publisher"),
        base_url=settings.base_url or DEFAULT_BASE_URL,
        identifier=settings.identifier,
        app_password=settings.app_password,
    )
    return BlueskyPublisher(client)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ref(value: Any) -> Ref | None:
    uri, cid = as_str(get_path(value, "uri")), as_str(get_path(value, "cid"))
    return Ref(uri, cid) if uri and cid else None


def post_url(uri: str, handle: str | None) -> str | None:
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != POST:
        return None
    return f"{WEB}/profile/{handle or parts[0]}/post/{parts[2]}"


def _before_posting(exc: SourceError, what: str) -> PublishError:
    """An error met before anything was posted: safe to try again unless it is the
    credentials or the request itself."""
    retryable = not isinstance(exc, AuthFailed | Refused)
    return PublishError(f"{what}: {exc}", retryable=retryable)


class BlueskyPublisher:
    platform = "bluesky"

    def __init__(self, client: XrpcClient, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.client = client
        self._now = now

    async def post(self, out: Outgoing) -> Posted:
        problem = reply_problem(self.platform, out.body)
        if problem is not None:
            raise PublishError(f"not posted: {problem}", retryable=False)
        try:
            session = await self.client.session()
            parent, root, view = await self._thread(out)
            author = as_mapping(view.get("author")) or {}
            dids = await self._dids(out.body, author)
        except SourceError as exc:
            raise _before_posting(exc, "bluesky: preparing the reply failed") from None
        if get_path(view, "viewer", "replyDisabled") is True:
            # the PDS would take the reply, and the AppView hide it from everyone:
            # "sent" to nobody
            raise PublishError(
                "bluesky: not posted: the thread's author lets only some accounts reply "
                "(a thread gate), and not this one; answer another way",
                retryable=False,
            )
        record: dict[str, Any] = {
            "$type": POST,
            "text": out.body,
            "createdAt": _timestamp(self._now()),
            "reply": {"root": root.as_json(), "parent": parent.as_json()},
        }
        found = facets(out.body, dids)
        if found:
            record["facets"] = found
        created = await self._create(session.did, record)
        uri = as_str(created.get("uri"))
        if uri is None:
            # it was created (2xx) but the answer does not say where: a person checks
            raise SourceDown("bluesky createRecord answered without the new post's uri")
        return Posted(uri, post_url(uri, session.handle))

    async def _create(self, did: str, record: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            return await self.client.procedure(
                "com.atproto.repo.createRecord",
                {"repo": did, "collection": POST, "record": record},
            )
        except RateLimited as exc:
            raise PublishError(
                f"bluesky: not posted: {exc}",
                retryable=True,
                rate_limited=True,
                retry_at=exc.reset_at,
            ) from None
        except NotSent as exc:
            raise PublishError(f"bluesky: not posted: {exc}", retryable=True) from None
        except (AuthFailed, Refused) as exc:
            raise PublishError(f"bluesky refused the reply: {exc}", retryable=False) from None
        # any other SourceDown (a timeout, a 5xx) propagates: the post may exist

    async def _thread(self, out: Outgoing) -> tuple[Ref, Ref, Mapping[str, Any]]:
        """The parent and root references for a reply to `out`'s target, and the
        target's postView (its author, and the account's viewer state on it)."""
        view = as_mapping(out.target_raw) or {}
        if as_mapping(view.get("post")) is not None and "uri" not in view:
            view = view["post"]  # a feed item
        parent = _ref(view)
        if parent is None or parent.uri != out.target_id:
            view = await self._fetch_post(out.target_id)
            parent = _ref(view)
            if parent is None:
                raise Refused(f"bluesky post {out.target_id} has no cid", 400)
        root = _ref(get_path(view, "record", "reply", "root")) or parent
        return parent, root, view

    async def _fetch_post(self, uri: str) -> Mapping[str, Any]:
        body = await self.client.query("app.bsky.feed.getPosts", {"uris": [uri]})
        for view in body.get("posts") or []:
            if isinstance(view, Mapping) and view.get("uri") == uri:
                return view
        raise Refused(f"bluesky post {uri} is gone (deleted, or hidden from this account)", 404)

    async def _dids(self, text: str, author: Mapping[str, Any]) -> dict[str, str]:
        """handle -> DID for each @handle in the text: the target's author is known
        already; others are resolved, and one that does not resolve stays plain text."""
        dids: dict[str, str] = {}
        handle, did = as_str(author.get("handle")), as_str(author.get("did"))
        if handle and did:
            dids[handle.lower()] = did
        for span in find_mentions(text):
            if span.value in dids:
                continue
            try:
                body = await self.client.query(
                    "com.atproto.identity.resolveHandle", {"handle": span.value}
                )
            except Refused:
                continue  # "Unable to resolve handle": not an account
            found = as_str(body.get("did"))
            if found:
                dids[span.value] = found
        return dids

    async def find_posted(self, out: Outgoing) -> Posted | None:
        try:
            session = await self.client.session()
            token: str | None = None
            for _ in range(_FIND_PAGES):
                params: dict[str, str | int | list[str]] = {
                    "actor": session.did,
                    "filter": "posts_with_replies",
                    "limit": 100,
                }
                if token:
                    params["cursor"] = token
                body = await self.client.query("app.bsky.feed.getAuthorFeed", params)
                found = _match(body.get("feed"), out)
                if found is not None:
                    return Posted(found, post_url(found, session.handle))
                token = as_str(body.get("cursor"))
                if token is None:
                    break
        except SourceError as exc:
            raise PublishError(
                f"bluesky: cannot look for the reply: {exc}", retryable=True
            ) from None
        return None

    async def aclose(self) -> None:
        return None  # the HTTP session is the daemon's


def _match(feed: Any, out: Outgoing) -> str | None:
    """The uri of the own post in `feed` that replies to out's target with out's text."""
    items: Sequence[Any] = feed if isinstance(feed, list) else []
    for item in items:
        if get_path(item, "reason") is not None:
            continue  # a repost of someone else's post
        post = get_path(item, "post")
        record = get_path(post, "record")
        if (
            get_path(record, "reply", "parent", "uri") == out.target_id
            and get_path(record, "text") == out.body
        ):
            return as_str(get_path(post, "uri"))
    return None
