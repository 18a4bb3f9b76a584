"""Posting approved replies to Mastodon as threaded replies.

POST /api/v1/statuses with `in_reply_to_id`, through the instance the source reads
(its `base_url` and `access_token`, scope write:statuses). The reply:

- starts with @acct of the post's author unless the body already names them
  (Mastodon threads and notifies by mention, and a direct reply is only seen by
  the people it mentions);
- is never more visible than the post it answers (public > unlisted > private >
  direct), nor than the source's `reply_visibility`;
- fits the instance's own character limit (GET /api/v2/instance,
  configuration.statuses.max_characters; 500 when the instance does not say),
  counted as Mastodon counts: a link is 23 characters whatever its length, a
  mention counts without its @domain part;
- carries an Idempotency-Key made from the reply's id, so a retry after a timeout
  returns the status already created instead of posting it twice (Mastodon keeps
  keys for an hour).

find_posted (start-up reconcile) looks through the account's recent statuses
(GET /api/v1/accounts/:id/statuses, the id from verify_credentials, scope
read:accounts) for a reply to the same post with the same text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from listener.base import AuthFailed, RateLimited, SourceContext, SourceDown, SourceSettings
from listener.http_errors import HttpFactory, Refused, shared_http
from listener.http_fetch import JsonResponse, request_json
from listener.mastodon import Settings
from listener.normalize import as_id, as_mapping, as_str, get_path, html_to_text
from responders.addressing import (
    MASTODON_URL_CHARACTERS,
    REMOTE_MENTION,
    addressed,
    mastodon_length,
)
from responders.publish.base import Outgoing, Posted, PublishError

# Narrowest first.
VISIBILITIES = ("direct", "private", "unlisted", "public")
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_CHARACTERS = MASTODON_URL_CHARACTERS
# Pages of the account's own statuses looked through when reconciling.
RECONCILE_PAGES = 3

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Limits:
    max_characters: int = DEFAULT_MAX_CHARACTERS
    url_characters: int = DEFAULT_URL_CHARACTERS


def narrower(a: str, b: str) -> str:
    """The less visible of two visibilities; an unknown one counts as direct."""
    rank = {v: i for i, v in enumerate(VISIBILITIES)}
    return min(a, b, key=lambda v: rank.get(v, 0))


def idempotency_key(out: Outgoing) -> str:
    """Stable across every attempt at this reply, different for another Earful
    database's reply with the same number (the key is per account, for an hour)."""
    target = hashlib.sha256(f"{out.platform}:{out.target_id}".encode()).hexdigest()[:12]
    return f"earful-reply-{out.reply_id}-{target}"


def _same_text(posted_html: str, body: str) -> bool:
    """Whether a posted status says what the reply says. Mastodon shows a remote
    mention as @user, so mentions are compared without their domain."""

    def norm(text: str) -> str:
        text = REMOTE_MENTION.sub(lambda m: "@" + m.group(1), text)
        return _SPACE.sub(" ", text).strip().casefold()

    return norm(body) in norm(html_to_text(posted_html))


def can_post(settings: SourceSettings) -> bool:
    """Whether the source has a token to post with."""
    return isinstance(settings, Settings) and settings.token() is not None


def build(settings: SourceSettings, ctx: SourceContext) -> MastodonPublisher | None:
    """A publisher when the source has a token to post with; None otherwise."""
    if not isinstance(settings, Settings) or not can_post(settings):
        return None
    return MastodonPublisher(settings, http=shared_http(ctx.http, "the mastodon publisher"))


class MastodonPublisher:
    platform = "mastodon"

    def __init__(self, settings: Settings, *, http: HttpFactory) -> None:
        self.settings = settings
        self.base = URL(settings.base_url)
        self._http = http
        self._limits: Limits | None = None
        self._me: str | None = None

    # -- plumbing -------------------------------------------------------------

    async def aclose(self) -> None:
        return None  # the session is the daemon's, closed by it

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Authorization": f"Bearer {self.settings.token()}"}

    async def _call(self, method: str, target: str | URL, **kwargs: Any) -> JsonResponse:
        """One API call (a path under base_url, or a whole URL from a Link header);
        the platform's answer as a PublishError when it fails."""
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        url = self.base / target if isinstance(target, str) else target
        try:
            return await request_json(
                await self._http(),
                method,
                url,
                headers=headers,
                what=f"mastodon {self.base.host}",
                credentials=True,
                **kwargs,
            )
        except RateLimited as exc:
            raise PublishError(
                str(exc), retryable=True, rate_limited=True, retry_at=exc.reset_at
            ) from None
        except (AuthFailed, Refused) as exc:  # refused: asking again will not help
            raise PublishError(str(exc), retryable=False) from None
        except SourceDown as exc:
            # a timeout may hide a post that went out: the Idempotency-Key makes the
            # retry return it instead of posting again
            raise PublishError(str(exc), retryable=True) from None

    async def limits(self) -> Limits:
        if self._limits is None:
            try:
                resp = await self._call("GET", "api/v2/instance", retries=1)
            except PublishError as exc:
                if exc.retryable:
                    raise
                self._limits = Limits()  # an older server without /api/v2/instance
            else:
                config = as_mapping(get_path(resp.payload, "configuration", "statuses")) or {}
                most = config.get("max_characters")
                per_url = config.get("characters_reserved_per_url")
                self._limits = Limits(
                    most if isinstance(most, int) and most > 0 else DEFAULT_MAX_CHARACTERS,
                    per_url
                    if isinstance(per_url, int) and per_url >= 0
                    else DEFAULT_URL_CHARACTERS,
                )
        return self._limits

    # -- posting --------------------------------------------------------------

    async def _target(self, out: Outgoing) -> Mapping[str, Any]:
        """The post being answered, as a Status: from the stored mention, or asked
        for when the stored copy does not say its visibility."""
        raw = as_mapping(out.target_raw) or {}
        status = as_mapping(raw.get("reblog")) or raw
        if as_str(status.get("visibility")) and as_id(status.get("id")) == out.target_id:
            return status
        resp = await self._call("GET", f"api/v1/statuses/{out.target_id}", retries=1)
        found = as_mapping(resp.payload)
        if found is None:
            raise PublishError(f"mastodon: status {out.target_id} is not a status", retryable=True)
        return found

    async def text_for(self, out: Outgoing, target: Mapping[str, Any]) -> str:
        acct = as_str(get_path(target, "account", "acct")) or as_str(out.target_author)
        body = addressed(out.body.strip(), acct) if acct else out.body.strip()
        limits = await self.limits()
        length = mastodon_length(body, url_characters=limits.url_characters)
        if length > limits.max_characters:
            raise PublishError(
                f"the reply is {length} characters with the @mention; "
                f"{self.base.host} allows {limits.max_characters}. Shorten it and approve again.",
                retryable=False,
            )
        return body

    async def post(self, out: Outgoing) -> Posted:
        target = await self._target(out)
        text = await self.text_for(out, target)
        visibility = narrower(
            as_str(target.get("visibility")) or "direct", self.settings.reply_visibility
        )
        resp = await self._call(
            "POST",
            "api/v1/statuses",
            json_body={"status": text, "in_reply_to_id": out.target_id, "visibility": visibility},
            headers={"Idempotency-Key": idempotency_key(out)},
            retries=0,
        )
        posted = as_mapping(resp.payload) or {}
        posted_id = as_id(posted.get("id"))
        if posted_id is None:
            # it may well be out there: not a PublishError, so it goes to `unknown`
            raise SourceDown(f"mastodon {self.base.host} accepted the reply but sent no status id")
        return Posted(posted_id, as_str(posted.get("url")) or as_str(posted.get("uri")))

    # -- reconciling ------------------------------------------------------------

    async def _account_id(self) -> str:
        if self._me is None:
            resp = await self._call("GET", "api/v1/accounts/verify_credentials", retries=1)
            me = as_id((as_mapping(resp.payload) or {}).get("id"))
            if me is None:
                raise PublishError(
                    "mastodon: verify_credentials sent no account id", retryable=True
                )
            self._me = me
        return self._me

    async def find_posted(self, out: Outgoing) -> Posted | None:
        me = await self._account_id()
        url: URL | None = self.base / "api/v1/accounts" / me / "statuses"
        params: list[tuple[str, str]] | None = [("limit", "40"), ("exclude_reblogs", "true")]
        for _ in range(RECONCILE_PAGES):
            if url is None:
                break
            resp = await self._call("GET", url, params=params, retries=1)
            statuses = resp.payload if isinstance(resp.payload, list) else []
            for status in statuses:
                found = as_mapping(status) or {}
                content = found.get("content")
                if (
                    as_id(found.get("in_reply_to_id")) == out.target_id
                    and isinstance(content, str)
                    and _same_text(content, out.body)
                ):
                    posted_id = as_id(found.get("id"))
                    return Posted(posted_id, as_str(found.get("url")))
            following = resp.links.get("next")
            url = following if following and following.origin() == self.base.origin() else None
            params = None
        return None
