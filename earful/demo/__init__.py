"""The bundled demo: a replay of mentions of an invented brand, no credentials."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from earful.config import Config, load_config
from listener.base import parse_duration


def demo_mentions() -> Path:
    with as_file(files("earful.demo").joinpath("mentions.jsonl")) as path:
        return Path(path)


def prepare_demo(
    workdir: Path,
    *,
    port: int | None = None,
    interval: str = "3s",
    batch: int = 5,
    fresh: bool = True,
) -> Config:
    """Write the demo's config into `workdir` and return it loaded; with `fresh`,
    start from an empty database."""
    parse_duration(interval)  # a bad --interval fails here, with the usual message
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
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.db_path}{suffix}").unlink(missing_ok=True)
    return config
