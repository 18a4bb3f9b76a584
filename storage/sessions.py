"""Console login sessions, kept server-side so that logging out (or a password
change) ends a session at once. Only the SHA-256 of a session token is stored:
whoever reads the database cannot log in with what they find there.

A session ends at the first of: `ttl` without use (the idle limit, which use
extends), `lifetime` after its login (the absolute limit, which nothing extends),
a logout, or its user's sessions all being ended (Store.end_sessions)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from storage.db import from_iso, iso
from storage.store import Store

# A session's expiry slides forward with use, but the row is rewritten at most this
# often: a page full of API calls should not be a page full of writes.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    name: str
    role: str
    csrf: str
    expires_at: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _ends_at(created: datetime, now: datetime, *, ttl: timedelta, lifetime: timedelta) -> datetime:
    """When a session used at `now` ends if not used again: after `ttl` of idleness,
    but never past `lifetime` from its login."""
    return min(now + ttl, created + lifetime)


def start_session(
    store: Store, user_id: int, *, ttl: timedelta, lifetime: timedelta, ip: str | None
) -> str:
    """A new session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = store.clock()
    with store._write() as conn:
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at, expires_at, "
            "ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _digest(token),
                user_id,
                secrets.token_urlsafe(32),
                iso(now),
                iso(now),
                iso(_ends_at(now, now, ttl=ttl, lifetime=lifetime)),
                ip,
            ),
        )
        name = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        store._audit(conn, name, "login", f"user:{name}", ip=ip)
    return token


def find_session(
    store: Store, token: str, *, ttl: timedelta, lifetime: timedelta, touch: bool = True
) -> Session | None:
    """The live session of this token, or None (unknown, idle past `ttl`, logged in
    longer than `lifetime` ago, or its user is disabled). Using a session extends it
    by `ttl` up to its lifetime, unless `touch` is False: a page polling in the
    background is not someone using the console, and must not keep an idle login
    alive for ever. The lifetime is checked against the login time itself, so a
    shorter [console] session_lifetime applies to sessions already open."""
    now = store.clock()
    rows = store._rows(
        "SELECT s.user_id, u.name, u.role, s.csrf, s.created_at, s.expires_at, s.seen_at "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND s.created_at > ? AND u.disabled = 0",
        (_digest(token), iso(now), iso(now - lifetime)),
    )
    if not rows:
        return None
    row = rows[0]
    expires_at = row["expires_at"]
    if touch and row["seen_at"] < (iso(now - _TOUCH_EVERY) or ""):
        created = from_iso(row["created_at"]) or now
        expires_at = iso(_ends_at(created, now, ttl=ttl, lifetime=lifetime))
        with store._write() as conn:
            conn.execute(
                "UPDATE sessions SET seen_at = ?, expires_at = ? WHERE token_hash = ?",
                (iso(now), expires_at, _digest(token)),
            )
    return Session(row["user_id"], row["name"], row["role"], row["csrf"], expires_at)


Ending = Literal["lifetime", "idle", "ended"]


def why_ended(store: Store, token: str, *, lifetime: timedelta) -> Ending:
    """Why the session of a token that find_session no longer takes has ended, for
    the login page to say: "lifetime" (logged in longer than `lifetime` ago),
    "idle" (not used within its idle limit), or "ended" when its row is gone (a
    logout, a new password, a new role, a disabled account, its user's sessions
    ended everywhere, or an expired row cleared when the console started)."""
    rows = store._rows(
        "SELECT created_at, expires_at FROM sessions WHERE token_hash = ?", (_digest(token),)
    )
    if not rows:
        return "ended"
    created, expires = from_iso(rows[0]["created_at"]), from_iso(rows[0]["expires_at"])
    if created is None or expires is None:
        return "ended"
    # whichever limit came first
    return "lifetime" if created + lifetime <= expires else "idle"


def end_session(store: Store, token: str) -> None:
    with store._write() as conn:
        row = conn.execute(
            "SELECT u.name FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (_digest(token),),
        ).fetchone()
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
        if row is not None:
            store._audit(conn, row[0], "logout", f"user:{row[0]}")


def purge_expired(store: Store) -> int:
    with store._write() as conn:
        return conn.execute(
            "DELETE FROM sessions WHERE expires_at <= ?", (iso(store.clock()),)
        ).rowcount
