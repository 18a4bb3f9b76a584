"""The real judging stages and shared HTTP session, as the daemon builds them, for
tests that drive a source through the pipeline into a real Store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from earful.http import SharedSession
from earful.pipeline import Stages
from listener.mention import Brand
from responders.context import ResponderSettings
from rules import load_ruleset

BRAND = Brand("Acme", ("acme",), {"bluesky": "acme.bsky.social"})


def stages(brand: Brand = BRAND) -> Stages:
    # no cooldown: each test post is its own case, whoever wrote it
    return Stages(
        ruleset=load_ruleset(["default"], brand=brand),
        responders=ResponderSettings(brand=brand, cooldown=timedelta(0)),
    )


@asynccontextmanager
async def shared_http() -> AsyncIterator[SharedSession]:
    session = SharedSession(timeout=5.0)
    try:
        yield session
    finally:
        await session.aclose()
