"""A non-editable install carries every package and data file the app reads at run time.

Tests run against an editable install, which finds sub-packages on disk whether or not
pyproject.toml lists them; `pip install .` does not. So the list is checked against the tree.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGES = SETUPTOOLS["packages"]
DATA = SETUPTOOLS["package-data"]


def _packages_on_disk() -> set[str]:
    found = set()
    for top in {name.split(".")[0] for name in PACKAGES}:
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_is_listed():
    assert set(PACKAGES) == _packages_on_disk()


def test_every_data_file_is_listed():
    unlisted = []
    for package in PACKAGES:
        folder = ROOT / Path(*package.split("."))
        patterns = DATA.get(package, [])
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if (not path.is_file() or path.suffix in {".py", ".pyc"}
                    or "__pycache__" in relative.parts
                    or any((folder / part).joinpath("__init__.py").exists()
                           for part in relative.parts[:1] if len(relative.parts) > 1)):
                continue  # code, caches, or a file that belongs to a sub-package
            if not any(fnmatch.fnmatch(str(relative), pattern) for pattern in patterns):
                unlisted.append(f"{package}: {relative}")
    assert not unlisted, f"data files a wheel would leave out: {unlisted}"
