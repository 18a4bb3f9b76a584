"""The real judging stages and shared HTTP session, as the daemon builds them, for
tests that drive a source through the pipeline into a real Store."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import timedelta

from earful.http import SharedSession
from earful.pipeline import Stages
from listener.mention import Brand
from responders.context import ResponderSettings
from rules import load_ruleset

BRAND = Brand("Acme", ("acme",), {"bluesky": "acme.bsky.social"})


@functools.cache
def stages() -> Stages:
    """The shipped rules for BRAND, read once. No cooldown: each test post is its
    own case, whoever wrote it."""
    return Stages(
        ruleset=load_ruleset(["default"], brand=BRAND),
        responders=ResponderSettings(brand=BRAND, cooldown=timedelta(0)),
    )


async def shared_http() -> AsyncIterator[SharedSession]:
    """The daemon's shared HTTP session (a fixture in the test modules: `http`)."""
    session = SharedSession(timeout=5.0)
    try:
        yield session
    finally:
        await session.aclose()
