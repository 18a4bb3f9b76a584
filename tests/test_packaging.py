"""An install from a wheel (`pip install earful-*.whl`, not an editable one) has only
what pyproject.toml's package-data names besides the modules: a template, static
file, rule file or demo file added to the source tree without a pattern there works
in a checkout and is missing on a server."""

from __future__ import annotations

import glob
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

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


def test_every_data_file_of_the_packages_is_in_the_wheel() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (its list of files)")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    tops = [name.rstrip("*") for name in setuptools["packages"]["find"]["include"]]
    listed = subprocess.run(
        [git, "ls-files", "--", *tops], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    data = {path for path in listed if not path.endswith(".py")}
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
