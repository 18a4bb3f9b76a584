"""Secrets never reach the log: every value from a ${VAR} in the config, and every
secret-looking key's value, is "***" in what any logger (third-party ones included)
writes through the root handlers."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from earful import redaction
from earful.config import parse_config

SECRET = "TOPSECRETBEARER42"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler formatting like the CLI's, with the redaction installed on it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # a command run in this process before quietens prawcore as the CLI does: here
    # every library logs at debug, as with `[logging] level = "debug"`
    prawcore = logging.getLogger("prawcore")
    old_prawcore = prawcore.level
    prawcore.setLevel(logging.NOTSET)
    try:
        redaction.install([SECRET], handlers=[handler])
        yield out
    finally:
        redaction.uninstall()
        root.removeHandler(handler)
        root.setLevel(old_level)
        prawcore.setLevel(old_prawcore)


def test_a_secret_in_the_message_is_masked(captured: io.StringIO) -> None:
    logging.getLogger("tweepy.client").debug(f"Making API request: token={SECRET}")
    assert captured.getvalue() == "DEBUG tweepy.client: Making API request: token=***\n"


def test_a_secret_in_the_arguments_is_masked(captured: io.StringIO) -> None:
    headers = {"Authorization": f"Bearer {SECRET}", "User-Agent": "earful"}
    logging.getLogger("tweepy.client").debug("Request headers: %s", headers)
    logging.getLogger("prawcore").debug("Data: %(data)s", {"data": {"password": SECRET}})
    out = captured.getvalue()
    assert SECRET not in out
    assert "'Authorization': 'Bearer ***'" in out and "{'password': '***'}" in out


def test_a_secret_in_a_traceback_is_masked(captured: io.StringIO) -> None:
    try:
        raise ValueError(f"the server refused {SECRET}")
    except ValueError:
        logging.getLogger("urllib3.connectionpool").exception("request failed for %s", SECRET)
    out = captured.getvalue()
    assert SECRET not in out
    assert "request failed for ***" in out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: the server refused ***" in out


def test_a_secret_in_stack_info_is_masked(captured: io.StringIO) -> None:
    # the stack text quotes the source line of the call, which holds the secret here
    logging.getLogger("aiohttp.client").debug("here" + "TOPSECRETBEARER42"[:0], stack_info=True)
    out = captured.getvalue()
    assert "Stack (most recent call last)" in out
    assert SECRET not in out and '"***"[:0]' in out


def test_escaped_and_url_encoded_forms_are_masked(captured: io.StringIO) -> None:
    redaction.install(["p@ss/word'with\"quotes"])
    log = logging.getLogger("oauthlib.oauth1")
    log.debug("body: %r", {"password": "p@ss/word'with\"quotes"})
    log.debug("url: https://x.example/?p=p%40ss%2Fword%27with%22quotes")
    out = captured.getvalue()
    assert "p@ss" not in out and "p%40ss" not in out
    assert out.count("***") == 2


def test_arguments_that_do_not_fit_the_format_are_masked_too(captured: io.StringIO) -> None:
    # only the guarded handler sees it: pytest's own capture would raise on the call
    (guarded,) = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is captured]
    log = logging.getLogger("x.unfit")
    log.propagate = False
    log.addHandler(guarded)
    try:
        log.info("two: %s %s", SECRET)  # one argument short
    finally:
        log.removeHandler(guarded)
        log.propagate = True
    out = captured.getvalue()
    assert SECRET not in out and "***" in out


def test_the_record_itself_is_left_for_other_handlers(captured: io.StringIO) -> None:
    # a log capture (pytest's, say) keeps the record as it was made; only what the
    # guarded handler writes is masked
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            logging.getLogger("x").exception("failed: %s", SECRET)
    finally:
        logging.getLogger().removeHandler(keep)
    assert SECRET not in captured.getvalue() and "failed: ***" in captured.getvalue()
    (record,) = seen
    assert record.args == (SECRET,) and record.exc_info is not None


def test_short_values_are_not_masked(captured: io.StringIO) -> None:
    # documented: shorter than MIN_LENGTH would mangle ordinary text ("8080", "acme")
    redaction.install(["8080", "acme", "  "])
    logging.getLogger("x").info("listening on 8080 for acme")
    assert captured.getvalue() == "INFO x: listening on 8080 for acme\n"
    assert redaction.MIN_LENGTH == 6


def test_redact_masks_the_installed_secrets(captured: io.StringIO) -> None:
    assert redaction.redact(f"a {SECRET} b") == "a *** b"


def test_uninstall_gives_the_handler_its_formatter_back() -> None:
    handler = logging.StreamHandler(io.StringIO())
    own = logging.Formatter("%(message)s")
    handler.setFormatter(own)
    redaction.install([SECRET], handlers=[handler])
    assert isinstance(handler.formatter, redaction.RedactingFormatter)
    redaction.install([SECRET], handlers=[handler])  # again: wrapped once, not twice
    assert handler.formatter.inner is own
    redaction.uninstall()
    assert handler.formatter is own
    assert redaction.redact(SECRET) == SECRET


# -- what the config says is secret -----------------------------------------------------------


def test_secret_values_hold_every_substituted_value_and_secret_looking_keys() -> None:
    raw = {
        "brand": {"name": "${BRAND}", "keywords": ["${KW}"]},
        "storage": {"path": "/data/${DBNAME}.db"},
        "sources": [
            {"name": "x", "type": "x", "bearer_token": "${XTOK}", "handle": "AcmeHelp"},
            {
                "name": "m",
                "type": "mastodon",
                "base_url": "https://m.example",
                "tag": "a",
                "access_token": "literal-mastodon-token",
            },
            {
                "name": "b",
                "type": "bluesky",
                "identifier": "a.bsky.social",
                "app_password": "literal-app-pass",
            },
        ],
        "escalation": {"webhook_url": "${HOOK:-}"},
    }
    env = {"BRAND": "Acme Ltd", "KW": "acme", "DBNAME": "earful-prod", "XTOK": SECRET}
    config = parse_config(raw, Path("earful.toml"), env)
    assert config.secret_values() == {
        "Acme Ltd",
        "acme",
        "earful-prod",
        SECRET,
        "literal-mastodon-token",
        "literal-app-pass",
    }
    assert SECRET not in repr(config)


def test_a_config_without_variables_or_secrets_has_none() -> None:
    config = parse_config({"brand": {"name": "Acme"}}, Path("earful.toml"), {})
    assert config.secret_values() == frozenset()


def test_the_cli_wiring_masks_third_party_debug_logs(tmp_path: Path) -> None:
    """What `earful poll` does with [logging] level = "debug": load the config, set
    logging up as earful/cli/base.py's _setup_logging does, then install the redaction."""
    config = tmp_path / "earful.toml"
    config.write_text(
        '[brand]\nname = "Acme"\n[logging]\nlevel = "debug"\n'
        '[[sources]]\nname = "x"\ntype = "x"\nhandle = "AcmeHelp"\nbearer_token = "${XTOK}"\n',
        encoding="utf-8",
    )
    script = textwrap.dedent(
        f"""
        import logging, sys
        from earful import redaction
        from earful.config import load_config

        config = load_config({str(config)!r})
        logging.basicConfig(
            level=getattr(logging, config.logging.level.upper()),
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        redaction.install(config.secret_values())
        token = config.sources[0].bearer_token
        logging.getLogger("tweepy.client").debug(
            "Making API request: GET ... Headers: %s", {{"Authorization": f"Bearer {{token}}"}}
        )
        try:
            raise PermissionError(f"401 for {{token}}")
        except PermissionError:
            logging.getLogger("prawcore").exception("auth failed")
        logging.getLogger("urllib3").warning(f"token={{token}}")  # no handler of its own
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        env={"XTOK": SECRET, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr
    assert "'Authorization': 'Bearer ***'" in done.stderr
    assert "PermissionError: 401 for ***" in done.stderr
    assert "urllib3: token=***" in done.stderr
