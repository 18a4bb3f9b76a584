"""What a server install gets: the wheel's files and version, and the systemd unit
docs/operating.md gives.

An install from a wheel (`pip install earful-*.whl`, not an editable one) has only
what pyproject.toml's package-data names besides the modules: a template, static
file, rule file or demo file added to the source tree without a pattern there works
in a checkout and is missing on a server."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shipped(setuptools: dict[str, object]) -> set[str]:
    """Every file the package-data patterns take, as a path from the repository."""
    patterns = setuptools["package-data"]
    assert isinstance(patterns, dict)
    found: set[str] = set()
    for package, globs in patterns.items():
        root = REPO / package.replace(".", "/")
        for pattern in globs:
            found |= {
                f"{root.relative_to(REPO)}/{hit}" for hit in glob.glob(pattern, root_dir=root)
            }
    return found


def _source_files(tops: list[str]) -> list[str]:
    """The packages' files: git's list in a checkout (what a wheel is built from),
    else every file under them but Python's caches (an unpacked sdist)."""
    git = shutil.which("git")
    if git is not None and (REPO / ".git").exists():
        return subprocess.run(
            [git, "ls-files", "--", *tops], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    return [
        str(path.relative_to(REPO))
        for top in tops
        for path in (REPO / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


def test_every_data_file_of_the_packages_is_in_the_wheel() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    tops = [name.rstrip("*") for name in setuptools["packages"]["find"]["include"]]
    data = {path for path in _source_files(tops) if not path.endswith(".py")}
    assert "earful/console/static/vendor/chart.umd.min.js" in data  # the listing works
    missing = sorted(data - _shipped(setuptools))
    assert not missing, f"add a [tool.setuptools.package-data] pattern for {missing}"


def test_the_wheel_has_the_version_earful_version_says() -> None:
    # after `pip install --upgrade`, `earful --version` is how an operator checks
    import earful

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    if "version" in project.get("dynamic", []):
        source = pyproject["tool"]["setuptools"]["dynamic"]["version"]
        assert source == {"attr": "earful.__version__"}
    else:
        assert project["version"] == earful.__version__


def _unit() -> str:
    """The systemd unit docs/operating.md gives."""
    text = (REPO / "docs" / "operating.md").read_text(encoding="utf-8")
    start = text.index("`/etc/systemd/system/earful.service`:\n\n```ini\n")
    body = text[start:].split("```ini\n", 1)[1]
    return body.split("```", 1)[0]


def test_the_documented_unit_matches_the_daemon(tmp_path: Path) -> None:
    from earful.cli.base import EXIT_USAGE
    from earful.daemon import SHUTDOWN_WAIT

    unit = _unit()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"
    )
    # not restarted on a config mistake; not killed while it drains its work
    assert settings["RestartPreventExitStatus"] == str(EXIT_USAGE)
    assert settings["Restart"] == "on-failure" and settings["UMask"] == "0077"
    assert int(settings["TimeoutStopSec"]) > SHUTDOWN_WAIT
    assert settings["ExecStart"].split()[1:3] == ["run", "-c"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    # the unit as systemd reads it (the command at a path that is there)
    local = unit.replace("/opt/earful/venv/bin/earful", str(Path(sys.executable).parent / "earful"))
    (tmp_path / "earful.service").write_text(local, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "earful.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
