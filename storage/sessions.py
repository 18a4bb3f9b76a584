"""Console login sessions, kept server-side so that logging out (or a password
change) ends a session at once. Only the SHA-256 of a session token is stored:
whoever reads the database cannot log in with what they find there."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from storage.db import iso
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


def start_session(store: Store, user_id: int, *, ttl: timedelta, ip: str | None) -> str:
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
                iso(now + ttl),
                ip,
            ),
        )
        name = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        store._audit(conn, name, "login", f"user:{name}", ip=ip)
    return token


def find_session(store: Store, token: str, *, ttl: timedelta, touch: bool = True) -> Session | None:
    """The live session of this token, or None (unknown, expired, or its user is
    disabled). Using a session extends it by `ttl`, unless `touch` is False: a page
    polling in the background is not someone using the console, and must not keep
    an idle login alive for ever."""
    now = store.clock()
    rows = store._rows(
        "SELECT s.user_id, u.name, u.role, s.csrf, s.expires_at, s.seen_at "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0",
        (_digest(token), iso(now)),
    )
    if not rows:
        return None
    row = rows[0]
    expires_at = row["expires_at"]
    if touch and row["seen_at"] < (iso(now - _TOUCH_EVERY) or ""):
        expires_at = iso(now + ttl) or expires_at
        with store._write() as conn:
            conn.execute(
                "UPDATE sessions SET seen_at = ?, expires_at = ? WHERE token_hash = ?",
                (iso(now), expires_at, _digest(token)),
            )
    return Session(row["user_id"], row["name"], row["role"], row["csrf"], expires_at)


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
