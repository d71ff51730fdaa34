"""README's "Layout" table matches the tree: every row names a path that exists, and every
top-level folder of the project (but the tool and cache folders) has its row."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def _tracked_top_level() -> set[str]:
    """The top-level folders git tracks (so a local `runs/` or `devnet/` does not count)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:  # not a checkout (an sdist): the folders on disk instead
        return {p.name + "/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return {line.split("/", 1)[0] + "/" for line in listed.stdout.splitlines() if "/" in line}


def test_every_layout_row_exists() -> None:
    rows = _rows()
    assert rows, "README has no Layout rows"
    assert [r for r in rows if not (ROOT / r).exists()] == []


def test_every_top_level_folder_has_a_row() -> None:
    folders = {f for f in _tracked_top_level() if not f.startswith(".")}
    assert sorted(folders - set(_rows())) == []
