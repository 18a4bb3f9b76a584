"""Password hashing with scrypt (memory-hard), stored as a self-describing string:

    scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>

so the cost can be raised later without breaking the hashes already stored.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# n=2**15, r=8: 32 MiB and roughly 0.1 s per hash on one core of a small machine.
N, R, P = 2**15, 8, 1
_KEY_BYTES = 32
_MAX_N = 2**20  # refuse absurd costs read from a tampered row rather than hang


class BadHash(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _maxmem(n: int, r: int) -> int:
    return 128 * r * n + 16 * 2**20


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    secret = password.encode("utf-8", "surrogatepass")
    # maxmem: scrypt needs 128*r*n bytes; the default cap (32 MiB) is too tight
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r), dklen=length)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, N, R, P, _KEY_BYTES)
    return "$".join(("scrypt", str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; a malformed `stored` raises BadHash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise BadHash("not an Earful scrypt hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    except ValueError as exc:
        raise BadHash(f"unreadable hash: {exc}") from None
    if not (2 <= n <= _MAX_N and 1 <= r <= 32 and 1 <= p <= 16 and key):
        raise BadHash("hash parameters out of range")
    candidate = _derive(password, salt, n, r, p, len(key))
    return hmac.compare_digest(candidate, key)


@functools.cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def waste_time(password: str) -> None:
    """Checked when the user does not exist, so that "no such user" takes as long
    as "wrong password" and login timing does not reveal account names."""
    verify_password(password, _decoy())


MIN_PASSWORD = 10
# The longest account name: a login with a longer one cannot be anyone's.
MAX_NAME = 64


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters"
    return None


def name_problem(name: str) -> str | None:
    """What is wrong with a new account's name, or None."""
    if not name or len(name) > MAX_NAME or any(ch.isspace() or not ch.isprintable() for ch in name):
        return f"a name must be 1-{MAX_NAME} printable characters without spaces"
    return None
