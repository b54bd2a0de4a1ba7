"""The README's in-memory example runs as written and prints what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def block(name: str, language: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    pattern = rf"<!-- {name}:start -->\n```{language}\n(.*?)```\n<!-- {name}:end -->"
    found = re.search(pattern, text, re.S)
    assert found, f"README has no {name} block"
    return found.group(1)


def test_the_readme_library_example_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block("library-example", "python"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    printed = [line.rstrip() for line in done.stdout.splitlines()]
    assert printed == block("library-output", "text").splitlines()
    assert (tmp_path / "journal.sqlite").is_file()
