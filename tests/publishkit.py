"""What the publisher tests of every platform check alike: how a reply left in
doubt is told to the operator."""

from __future__ import annotations

import logging

import pytest


def the_one_warning(caplog: pytest.LogCaptureFixture, reply_id: int, platform: str) -> str:
    """The journal's whole account of a post the platform may have taken: one WARNING
    line, no traceback, naming the reply and the platform and saying what to do.
    Returns the line."""
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelno, r.exc_info) for r in loud] == [(logging.WARNING, None)], caplog.text
    line = loud[0].getMessage()
    assert f"posting reply {reply_id} to " in line and f" on {platform}: " in line
    assert f"`earful queue mark-sent {reply_id}` if it is there" in line
    assert f"`earful queue retry {reply_id}` to send it again" in line
    assert f"`earful queue reject {reply_id}` if it should not be" in line
    return line
