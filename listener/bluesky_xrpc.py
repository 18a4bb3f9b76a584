"""Talking XRPC to a Bluesky PDS with an app-password session.

com.atproto.server.createSession trades the identifier and app password for an
access token (short-lived) and a refresh token. When a call is answered
ExpiredToken (400 or 401), the session is refreshed once with
com.atproto.server.refreshSession; if that is refused too, a new session is created;
if the app password itself is refused, AuthFailed (a web page from a CDN in front of
the PDS is no refusal: Refused, tried again later). A sign-in answered 200 without a
session in it is a broken answer, not a refusal: SourceDown, tried again later. Tokens
live in memory only: never in the database, never in a log line or an error message.

Used by the Bluesky source and by the Bluesky publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from listener.base import AuthFailed, SourceDown
from listener.http_errors import (
    Answer,
    HttpFactory,
    NotSent,
    Refused,
    error_for,
    is_web_page,
    json_body,
    request,
)

log = logging.getLogger("earful.bluesky")

DEFAULT_BASE_URL = "https://bsky.social"
# XRPC error names that mean "the access token is no good, get another".
_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})

Params = Mapping[str, str | int | list[str]]


@dataclass(frozen=True, slots=True)
class Session:
    did: str
    handle: str | None
    access: str
    refresh: str


def _token_error(answer: Answer) -> bool:
    if answer.status not in (400, 401):
        return False
    body = answer.body
    return isinstance(body, Mapping) and body.get("error") in _TOKEN_ERRORS


class XrpcClient:
    def __init__(
        self,
        http: HttpFactory,
        *,
        base_url: str = DEFAULT_BASE_URL,
        identifier: str | None = None,
        app_password: str | None = None,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._identifier = identifier
        self._password = app_password
        self._session: Session | None = None
        self._lock = asyncio.Lock()

    @property
    def has_credentials(self) -> bool:
        return bool(self._identifier and self._password)

    async def session(self) -> Session:
        """The current session, created on first use."""
        async with self._lock:
            if self._session is None:
                self._session = await self._create()
            return self._session

    async def query(self, nsid: str, params: Params, *, auth: bool = True) -> Mapping[str, Any]:
        return await self._call("GET", nsid, params=params, auth=auth)

    async def procedure(self, nsid: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._call("POST", nsid, json=body, auth=True)

    async def _call(
        self, method: str, nsid: str, *, auth: bool, **kwargs: Any
    ) -> Mapping[str, Any]:
        what = f"bluesky {nsid}"
        if not auth:
            answer = await self._send(method, nsid, None, **kwargs)
        else:
            session = await self.session()
            answer = await self._send(method, nsid, session.access, **kwargs)
            if _token_error(answer):
                session = await self._renewed(session, what)
                answer = await self._send(method, nsid, session.access, **kwargs)
        error = error_for(answer, what, credentials=auth)
        if error is not None:
            raise error
        return json_body(answer, what)

    async def _send(self, method: str, nsid: str, token: str | None, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if "params" in kwargs:
            kwargs["params"] = _query_pairs(kwargs["params"])
        return await request(
            await self._http(),
            method,
            f"{self.base_url}/xrpc/{quote(nsid)}",
            what=f"bluesky {nsid}",
            headers=headers,
            **kwargs,
        )

    async def _renewed(self, stale: Session, what: str) -> Session:
        try:
            return await self._renew(stale)
        except NotSent:
            raise
        except SourceDown as exc:
            # The call was answered ExpiredToken and never sent again: a publisher may
            # try the reply again, where a plain SourceDown would leave it `unknown`.
            raise NotSent(
                f"{what}: not sent again, the session could not be renewed: {exc}"
            ) from None

    async def _renew(self, stale: Session) -> Session:
        """After ExpiredToken: refresh once, else a new session (AuthFailed if the
        app password is refused)."""
        async with self._lock:
            if self._session is not None and self._session.access != stale.access:
                return self._session  # another call renewed it meanwhile
            answer = await self._send("POST", "com.atproto.server.refreshSession", stale.refresh)
            fresh = _session_from(answer) if answer.status == 200 else None
            if fresh is None:
                what = "bluesky com.atproto.server.refreshSession"
                error = error_for(answer, what, credentials=True)
                if error is not None and not isinstance(error, AuthFailed | Refused):
                    raise error  # down or rate-limited: the refresh token may still be good
                # A 200 without tokens too: the PDS may have spent the refresh token on
                # an answer that did not arrive whole, and only a sign-in gets another.
                said = "answered no session" if error is None else "refused"
                log.info("bluesky: session refresh %s; signing in again", said)
                fresh = await self._create()
            self._session = fresh
            return fresh

    async def _create(self) -> Session:
        if not self.has_credentials:
            raise AuthFailed(
                "bluesky: this call needs a session; set the source's identifier and app_password"
            )
        nsid = "com.atproto.server.createSession"
        answer = await self._send(
            "POST", nsid, None, json={"identifier": self._identifier, "password": self._password}
        )
        page = is_web_page(answer.headers.get("Content-Type", ""), answer.text)
        if answer.status in (400, 401) and not page:
            # the PDS answers a wrong password 401 AuthenticationRequired (older ones
            # 400); a web page is something in front of it, for error_for below
            raise AuthFailed(
                f"bluesky refused the app password for {self._identifier!r} "
                f"(HTTP {answer.status}); create a new app password and set app_password"
            )
        error = error_for(answer, f"bluesky {nsid}", credentials=True)
        if error is not None:
            raise error
        session = _session_from(answer)
        if session is None:
            # The password was not refused (that is a 401): a proxy's or a PDS's broken
            # answer, which must not disable the source nor fail a reply for good.
            # raises for a body that is not an object, unquoted: it may hold the tokens
            json_body(answer, f"bluesky {nsid}", quote=False)
            raise SourceDown(f"bluesky {nsid}: the answer has no did or tokens")
        return session


def _session_from(answer: Answer) -> Session | None:
    body = answer.body
    if not isinstance(body, Mapping):
        return None
    did, access, refresh = body.get("did"), body.get("accessJwt"), body.get("refreshJwt")
    if not (isinstance(did, str) and isinstance(access, str) and isinstance(refresh, str)):
        return None
    if not (did and access and refresh):  # present but empty is no session either
        return None
    handle = body.get("handle")
    return Session(did, handle if isinstance(handle, str) else None, access, refresh)


def _query_pairs(params: Params) -> list[tuple[str, str]]:
    """XRPC arrays are the key repeated: uris=a&uris=b."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((key, str(v)) for v in values)
    return pairs
