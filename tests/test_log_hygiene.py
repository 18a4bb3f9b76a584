"""What the daemon logs is safe to read in a terminal and stamped in UTC: a remote
server's words (error bodies, post text) have their control characters escaped, so
an ESC sequence cannot drive the operator's terminal; tracebacks keep their lines;
times are UTC with the zone shown, as in the database and the JSON."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from factories import EARFUL
from fakes.hn_api import FakeHackerNews
from fakes.server import Scripted

# Kathmandu is UTC+05:45: a local time there is never taken for UTC by mistake.
FAR_FROM_UTC = {**os.environ, "TZ": "Asia/Kathmandu"}
HOSTILE = "\x1b]0;pwned\x07\x1b[2Jcleared \x1b[8mhidden\x1b[0m \u202eevil\r ok"
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")
# C0/C1 controls but newline and tab, bidi overrides: never raw in the log
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stamps(lines: list[str]) -> list[datetime]:
    found = [STAMP.match(line) for line in lines]
    return [datetime.fromisoformat(m.group(1)) for m in found if m]


async def test_a_servers_error_text_reaches_the_log_escaped_and_stamped_in_utc(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run.log"
    async with FakeHackerNews() as hn:
        hn.script("/api/v1/search_by_date", Scripted(503, json.dumps({"message": HOSTILE})))
        config = tmp_path / "earful.toml"
        config.write_text(
            '[brand]\nname = "Lumenet"\nkeywords = ["lumenet"]\n\n'
            f'[[sources]]\nname = "hn"\ntype = "hackernews"\nbase_url = "{hn.url}"\n',
            encoding="utf-8",
        )
        before = now()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(EARFUL), "run", "--no-console", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=FAR_FROM_UTC,
            )
        try:
            for _ in range(6000):  # a hang guard (a minute), not a timing
                if "source hn failed" in log.read_text("utf-8") or proc.poll() is not None:
                    break
                await asyncio.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
        after = now()
    text = log.read_text("utf-8")
    assert code == 0, text
    (failed,) = [line for line in text.splitlines() if "source hn failed" in line]
    assert "\\u001b]0;pwned\\u0007\\u001b[2Jcleared \\u001b[8mhidden" in failed
    assert "\\u202eevil" in failed
    assert not RAW.search(text), text
    lines = text.splitlines()
    times = stamps(lines)
    assert len(times) == len(lines) and times  # every line, none without its time
    assert all(before <= t <= after for t in times), (before, after, lines)


def test_a_traceback_keeps_its_lines_and_loses_its_escapes(tmp_path: Path) -> None:
    """Logging as `earful run` sets it up (earful/cli/base.py's _setup_logging)."""
    config = tmp_path / "earful.toml"
    config.write_text('[brand]\nname = "Lumenet"\n', encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import logging
        from earful.cli.base import _setup_logging
        from earful.config import load_config

        _setup_logging(load_config({str(config)!r}))
        post = {HOSTILE!r}
        logging.getLogger("earful.daemon").warning("a post: %s\\n\\tindented", post)
        try:
            raise ValueError("the server said " + post)
        except ValueError:
            logging.getLogger("earful.daemon").exception("the source failed")
        """
    )
    before = now()
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=FAR_FROM_UTC,
        check=False,
    )
    after = now()
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not RAW.search(done.stderr), done.stderr
    assert re.match(r"^\S+Z WARNING earful\.daemon: a post: \\u001b\]0;pwned", lines[0])
    assert lines[1] == "\tindented"  # newlines and tabs are kept
    assert lines[2].endswith("ERROR   earful.daemon: the source failed")
    assert lines[3] == "Traceback (most recent call last):"
    assert lines[-1].startswith("ValueError: the server said \\u001b]0;pwned\\u0007")
    assert all(before <= t <= after for t in stamps(lines)) and len(stamps(lines)) == 2


def test_under_systemd_each_line_carries_its_level_to_the_journal(tmp_path: Path) -> None:
    """systemd names the stream it gives a service in $JOURNAL_STREAM (device:inode);
    journald reads a "<N>" opening each line as that line's syslog priority, so
    `journalctl -u earful -p warning` finds the warnings, tracebacks whole."""
    config = tmp_path / "earful.toml"
    config.write_text('[brand]\nname = "Lumenet"\n', encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import logging
        from earful.cli.base import _setup_logging
        from earful.config import load_config

        _setup_logging(load_config({str(config)!r}))
        logging.getLogger("earful.daemon").info("earful running")
        # a post's text cannot give its own line another priority
        logging.getLogger("earful.daemon").warning("a post: %s", "one\\n<0>two")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("earful.daemon").exception("the source failed")
        """
    )

    def run(journal: bool) -> list[str]:
        log = tmp_path / "journal.log"
        with log.open("w", encoding="utf-8") as stream:
            stat = os.fstat(stream.fileno())
            env = {**os.environ, "JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
            if not journal:  # a terminal, a file, a pipe: what systemd did not open
                env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino + 1}"
            done = subprocess.run(
                [sys.executable, "-c", script], stderr=stream, env=env, timeout=60, check=False
            )
        assert done.returncode == 0, log.read_text(encoding="utf-8")
        return log.read_text(encoding="utf-8").splitlines()

    lines = run(journal=True)
    assert re.match(r"^<6>\S+Z INFO    earful\.daemon: earful running$", lines[0])
    assert re.match(r"^<4>\S+Z WARNING earful\.daemon: a post: one$", lines[1])
    assert lines[2] == "<4><0>two"  # journald takes the first "<N>" only
    assert lines[3].startswith("<3>")
    assert lines[3].endswith("ERROR   earful.daemon: the source failed")
    assert lines[4:] and all(line.startswith("<3>") for line in lines[4:])
    assert lines[-1] == "<3>ValueError: boom"
    plain = run(journal=False)
    assert STAMP.match(plain[0]) and plain[2] == "<0>two" and plain[-1] == "ValueError: boom"


def test_under_systemd_the_error_that_stops_a_command_is_an_error_in_the_journal(
    tmp_path: Path,
) -> None:
    # `earful run` refusing to start (a config mistake, a database it cannot use): the
    # last line `journalctl -u earful -p err` should show
    log = tmp_path / "journal.log"
    with log.open("w", encoding="utf-8") as stream:
        stat = os.fstat(stream.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        done = subprocess.run(
            [str(EARFUL), "run", "-c", str(tmp_path / "missing.toml")],
            stderr=stream,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    text = log.read_text(encoding="utf-8")
    assert text.startswith("<3>earful: ") and "file not found" in text
    assert all(line.startswith("<3>") for line in text.splitlines())
