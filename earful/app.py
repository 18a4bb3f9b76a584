"""Everything a command needs, built from one config: the store, the judging
stages, the sources and the publishers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from earful.config import Config
from earful.http import SharedSession
from earful.pipeline import Stages, build_stages, open_store
from earful.sources import build_publishers, build_source
from listener.base import Source, SourceContext, SourceSettings
from responders.publish.base import Publisher
from storage.store import Store

log = logging.getLogger("earful")


@dataclass
class Runtime:
    config: Config
    store: Store
    stages: Stages
    sources: list[Source]
    settings: list[SourceSettings]
    publishers: dict[str, Publisher]
    http: SharedSession = field(default_factory=SharedSession)

    async def aclose(self) -> None:
        closables: list[Source | Publisher | SharedSession] = [
            *self.sources,
            *self.publishers.values(),
            self.http,
        ]
        for closable in closables:
            try:
                await closable.aclose()
            except Exception:
                log.warning("closing %r failed", closable, exc_info=True)
        self.store.close()


def source_context(config: Config, http: SharedSession) -> SourceContext:
    return SourceContext(brand=config.brand.brand(), base_dir=config.base_dir, http=http.get)


def build_runtime(
    config: Config,
    *,
    only: Sequence[str] = (),
    with_sources: bool = True,
    stages: Stages | None = None,
) -> Runtime:
    """`only` limits the sources to those with these names (in the config's order)."""
    stages = stages or build_stages(config)
    http = SharedSession()
    ctx = source_context(config, http)
    for name in only:
        config.source(name)  # a name the config does not have: its ConfigError
    settings = [s for s in config.sources if not only or s.name in only]
    sources = [build_source(s, ctx) for s in settings] if with_sources else []
    publishers = build_publishers(list(config.sources), ctx)
    store = open_store(config)
    return Runtime(
        config, store, stages, sources, settings if with_sources else [], publishers, http
    )
