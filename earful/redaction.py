"""Keeping secrets out of logs: every secret value becomes "***" in what is logged;
and keeping the log readable: control characters are escaped (earful.display.safe).

Third-party libraries log credentials at debug level (tweepy.client logs request
headers, `'Authorization': 'Bearer ...'`; praw/prawcore, urllib3, oauthlib and aiohttp
can do the same), so redaction happens on the *handlers*, where every record ends
up whichever logger made it:

    from earful import redaction
    redaction.install(config.secret_values())   # after the handlers are set up

Each guarded handler's formatter is wrapped: the record is formatted as before
(message with its arguments, traceback, stack text), every secret in the finished
text is masked, and every control character but newline and tab (with bidi overrides
and lone surrogates) is shown as a visible \\u escape. Error bodies and post text come
from remote servers: an ESC sequence among them must not drive the terminal of the
operator reading the log, nor a carriage return hide what came before it on the line.
Newlines stay, so tracebacks read as usual. Records themselves are not changed, so
nothing else that handles them (a test's log capture, say) is affected.

The secrets are the values Earful knows to be secret: what `${VAR}` substitution put
in the config (whatever key it is under) and the values of keys that look secret
(`*_token`, `*_secret`, `*password`, `*_key`, `webhook_url`); see
`earful.config.Config.secret_values`. Besides each value as it is, the forms it takes
in a repr, in JSON and in a URL (percent-encoded) are redacted too.

Values shorter than MIN_LENGTH characters are NOT redacted: replacing "8080" or
"acme" everywhere would mangle ordinary log text (ports, counts, words) while hiding
nothing worth hiding. Keep real credentials long.

Only handlers present when `install` runs are covered (the root logger's, and the
"last resort" handler logging uses when there are none): call it after logging is
configured, and again if handlers are added later (it is idempotent).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from earful.display import safe

MIN_LENGTH = 6
MASK = "***"


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in a log line: as is, inside a repr or JSON
    string (escaped), and in a URL (percent-encoded)."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    forms |= {quote(secret, safe=""), quote_plus(secret, safe="")}
    return {f for f in forms if f}


class Redactor:
    """The secrets to mask, compiled into one pattern."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        """Redact these too (values shorter than MIN_LENGTH are ignored)."""
        fresh = {s for s in secrets if isinstance(s, str) and len(s.strip()) >= MIN_LENGTH}
        fresh |= {s.strip() for s in fresh}
        if fresh <= self._secrets:
            return
        self._secrets |= fresh
        forms: set[str] = set()
        for secret in self._secrets:
            forms |= _forms(secret)
        # longest first, so a secret that contains another is masked whole
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered))

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)


class RedactingFormatter(logging.Formatter):
    """Formats a record with the handler's own formatter, then masks the secrets in
    the finished text (message, arguments, traceback and stack alike) and escapes its
    control characters. The record itself is left as it was, for whatever else
    handles it."""

    def __init__(self, inner: logging.Formatter | None, redactor: Redactor) -> None:
        super().__init__()
        self.inner = inner
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        try:
            text = (self.inner or _FORMATTER).format(record)
        except Exception:  # a bad format string: logging would print msg and args raw
            text = f"{record.msg} (arguments that did not fit: {record.args!r})"
        # masked first: a secret is matched as it is, before any of it is escaped
        return safe(self._redactor.redact(text))


_FORMATTER = logging.Formatter()
_redactor: Redactor | None = None
_guarded: list[logging.Handler] = []


def install(secrets: Iterable[str], handlers: Iterable[logging.Handler] | None = None) -> Redactor:
    """Redact `secrets` in everything the given handlers write (default: the root
    logger's handlers and logging's last-resort handler). Calling it again adds the
    new secrets and covers handlers added since."""
    global _redactor
    if _redactor is None:
        _redactor = Redactor()
    _redactor.add(secrets)
    if handlers is None:
        targets = list(logging.getLogger().handlers)
        if logging.lastResort is not None:
            targets.append(logging.lastResort)
    else:
        targets = list(handlers)
    for handler in targets:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter, _redactor))
            _guarded.append(handler)
    return _redactor


def uninstall() -> None:
    """Give the guarded handlers their own formatters back and forget the secrets
    (for tests)."""
    global _redactor
    for handler in _guarded:
        if isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(handler.formatter.inner)
    _guarded.clear()
    _redactor = None


def redact(text: str) -> str:
    """`text` with the installed secrets masked (unchanged when none are)."""
    return _redactor.redact(text) if _redactor is not None else text
