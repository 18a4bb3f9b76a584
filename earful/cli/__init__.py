"""The `earful` command. Exit codes: 0 ok, 1 runtime error, 2 usage or config error.

Every command that reads the store takes -c/--config (default ./earful.toml, or
$EARFUL_CONFIG); every listing takes --json, whose shape README documents.

One module per kind of work (base holds the group and what every command shares);
importing them registers their commands on `cli`. May import every other package.
"""

from __future__ import annotations

from earful.cli import casework, deciding, judging, reports, running, upkeep, users
from earful.cli.base import cli

__all__ = [
    "casework",
    "cli",
    "deciding",
    "judging",
    "main",
    "reports",
    "running",
    "upkeep",
    "users",
]


def main() -> None:
    cli(prog_name="earful")
