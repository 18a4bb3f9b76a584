"""The bundled demo: a replay of mentions of an invented brand, no credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path

from earful import locks
from earful.config import Config, load_config
from listener.base import parse_duration
from storage.db import database_files


def demo_mentions() -> Path:
    with as_file(files("earful.demo").joinpath("mentions.jsonl")) as path:
        return Path(path)


# The first line of the demo's config: how the demo knows a folder is its own.
_MARKER = "# The demo: Earful on the bundled mentions of"


class NotADemoFolder(Exception):
    """The folder holds a config or database `earful demo` did not make."""


def demo_database(workdir: Path) -> Path:
    """Where the demo in `workdir` keeps its database (the config says `earful.db`)."""
    return workdir / "earful.db"


def _check_is_demo_folder(workdir: Path) -> None:
    # The demo rewrites its config and deletes its database: never someone else's.
    config, database = workdir / "earful.toml", demo_database(workdir)
    if config.exists():
        with config.open(encoding="utf-8", errors="replace") as f:
            first = f.readline()
        if not first.startswith(_MARKER):
            raise NotADemoFolder(
                f"{config} was not written by `earful demo`: the demo would replace it and "
                f"delete {database}. Pick another folder with --dir."
            )
    elif database.exists():
        raise NotADemoFolder(
            f"{database} is not the demo's (no demo config next to it): the demo would "
            f"delete it. Pick another folder with --dir."
        )


@contextmanager
def demo_lock(workdir: Path) -> Iterator[None]:
    """Held while a demo runs in `workdir`: a second `earful demo` there would
    delete the database the first one is using (locks.Busy). Never taken in a folder
    the demo did not make (NotADemoFolder)."""
    _check_is_demo_folder(workdir)
    busy = (
        f"a demo is already running in {workdir}: stop it first, or pick another folder with --dir"
    )
    with locks.held(workdir / ".demo.lock", busy):
        yield


def prepare_demo(
    workdir: Path,
    *,
    port: int | None = None,
    interval: str = "3s",
    batch: int = 5,
    fresh: bool = True,
) -> Config:
    """Write the demo's config into `workdir` and return it loaded; with `fresh`,
    start from an empty database. Raises NotADemoFolder rather than touch a config or
    database the demo did not make, and ValueError for a bad `interval`."""
    parse_duration(interval)
    _check_is_demo_folder(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    template = files("earful.demo").joinpath("earful.toml").read_text(encoding="utf-8")
    text = (
        template.replace("@@MENTIONS@@", demo_mentions().as_posix())
        .replace("@@BATCH@@", str(batch))
        .replace("@@INTERVAL@@", interval)
        .replace("@@PORT@@", str(8080 if port is None else port))
    )
    path = workdir / "earful.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    if fresh:
        if locks.is_held(locks.daemon_lock(config.db_path)):
            raise locks.Busy(
                f"an Earful daemon is running on {config.db_path} (`earful run` on this "
                "demo's config); stop it first, or continue its data with --keep"
            )
        for path in database_files(config.db_path):
            path.unlink(missing_ok=True)
    return config
