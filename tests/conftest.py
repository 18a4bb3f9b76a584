from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))

from storage.store import Store

# No test, nor a module's fixture, reads the config a developer's shell points at.
os.environ.pop("EARFUL_CONFIG", None)


@pytest.fixture(autouse=True)
def _machine_independent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Who decides from the CLI does not depend on the machine: a CI container's uid
    may have no login name."""
    monkeypatch.setenv("EARFUL_USER", "tester")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "earful.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as s:
        yield s


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`earful ARGS...` in-process, in an empty folder with no config: the shipped
    rules judge, as for a new user."""
    from earful.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EARFUL_CONFIG", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke
