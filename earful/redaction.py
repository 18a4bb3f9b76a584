"""Keeping secrets out of logs: every secret value becomes "***" in what is logged.

Third-party libraries log credentials at debug level (tweepy.client logs request
headers, `'Authorization': 'Bearer ...'`; praw/prawcore, urllib3, oauthlib and aiohttp
can do the same), so redaction happens on the *handlers*, where every record ends
up whichever logger made it:

    from earful import redaction
    redaction.install(config.secret_values())   # after the handlers are set up

The filter renders each record's message (msg % args), its exception traceback and
its stack text once, replaces every secret in them, and leaves the record holding
only the redacted text; the handler's formatter then formats that as usual.

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

MIN_LENGTH = 6
MASK = "***"


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in a log line: as is, inside a repr or JSON
    string (escaped), and in a URL (percent-encoded)."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    forms |= {quote(secret, safe=""), quote_plus(secret, safe="")}
    return {f for f in forms if f}


class RedactingFilter(logging.Filter):
    """A handler filter that replaces every secret with MASK in each record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

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

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging would print msg and args raw
            message = f"{record.msg} (arguments that did not fit: {record.args!r})"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            # the traceback now lives, redacted, in exc_text only: a formatter that
            # rendered exc_info again would bring the secret back
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()
_installed: RedactingFilter | None = None
_handlers: list[logging.Handler] = []


def install(
    secrets: Iterable[str], handlers: Iterable[logging.Handler] | None = None
) -> RedactingFilter:
    """Redact `secrets` in everything the given handlers emit (default: the root
    logger's handlers and logging's last-resort handler). Calling it again adds the
    new secrets and covers handlers added since."""
    global _installed
    if _installed is None:
        _installed = RedactingFilter()
    _installed.add(secrets)
    if handlers is None:
        targets = list(logging.getLogger().handlers)
        if logging.lastResort is not None:
            targets.append(logging.lastResort)
    else:
        targets = list(handlers)
    for handler in targets:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
            _handlers.append(handler)
    return _installed


def uninstall() -> None:
    """Remove the filter `install` added (for tests) and forget the secrets."""
    global _installed
    if _installed is not None:
        for handler in _handlers:
            handler.removeFilter(_installed)
    _handlers.clear()
    _installed = None


def redact(text: str) -> str:
    """`text` with the installed secrets masked (unchanged when none are)."""
    return _installed.redact(text) if _installed is not None else text
