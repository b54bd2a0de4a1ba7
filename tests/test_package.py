"""Packaging: one `prelabel` import namespace; bare `converters` / `cli` are not importable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import prelabel

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@pytest.mark.parametrize("name", ["converters", "cli", "core"])
def test_bare_top_level_names_do_not_import(name: str, tmp_path: Path) -> None:
    # run from an empty folder so neither the repo root nor a tests/ path is on sys.path
    proc = subprocess.run(
        [sys.executable, "-P", "-c", f"import {name}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "ModuleNotFoundError" in proc.stderr


def test_test_session_does_not_see_bare_names() -> None:
    # guards against a tests/__init__.py or `python -m pytest` putting the repo root on sys.path
    assert "converters" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        __import__("converters.registry")


@pytest.mark.parametrize(
    "module",
    ["prelabel.model", "prelabel.converters.registry", "prelabel.cli.main", "prelabel.writers"],
)
def test_everything_lives_under_prelabel(module: str) -> None:
    __import__(module)
    assert sys.modules[module].__name__.startswith("prelabel.")


def test_public_api_is_sorted_and_complete() -> None:
    assert prelabel.__all__ == sorted(prelabel.__all__)
    for name in prelabel.__all__:
        assert hasattr(prelabel, name), name


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "prelabel"
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"prelabel, version {prelabel.__version__}"


def test_oldest_constraints_pin_every_lower_bound() -> None:
    """CI's oldest-versions run installs with .ci/constraints-oldest.txt: it must pin each
    runtime dependency at exactly the floor pyproject.toml declares, so the floors are tested."""
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    floors = {}
    for req in project["dependencies"]:
        name, _, rest = req.partition(">=")
        if rest and ";" not in rest:
            floors[name.strip().lower()] = rest.strip()
    pins = {}
    for line in (root / ".ci/constraints-oldest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    assert floors and pins == floors


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """setuptools installs only the packages pyproject.toml lists: a folder left out works in
    an editable checkout and is missing from the installed wheel."""
    root = Path(__file__).resolve().parents[1]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {}
    for name, folder in tool["package-dir"].items():
        for init in sorted((root / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(root / folder).parts
            folders[".".join([name, *rel])] = init.parent
    assert set(folders) == set(tool["packages"])
