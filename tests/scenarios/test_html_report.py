"""report.html, rendered as a person would open it: headless Chromium (Debian's `chromium`,
installed by .ci/run) takes a screenshot, which must not be blank, and dumps the DOM after the
page's own script has counted its figures, every one of which must have loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import run
from scenarios.html_report import LOADED_SCRIPT, REPORT
from tests.scenarios.folders import KINDS, folder

FIGURES = {"run": 6, "sweep": 1, "solvency": 3, "calibrate": 1, "stress": 1}


def chromium(page: Path, tmp_path: Path, *flags: str) -> str:
    """Runs headless Chromium on a local file; a missing browser fails the test (no skip)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed: apt-get install -y chromium (.ci/run does)"
    result = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000", *flags,
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def figures_loaded(page: Path, tmp_path: Path) -> str | None:
    dom = chromium(page, tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    found = re.search(r'data-figures-loaded="(\d+/\d+)"', dom)
    return found and found.group(1)


def screenshot_spread(page: Path, tmp_path: Path) -> float:
    shot = tmp_path / "shot.png"
    chromium(page, tmp_path, f"--screenshot={shot}")
    pixels = imread(shot)[..., :3].mean(axis=2)
    return float(np.std(pixels))


def test_the_checks_catch_a_blank_page_and_a_broken_figure(tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    assert screenshot_spread(blank, tmp_path) < 0.01
    broken = tmp_path / "broken.html"
    img = '<img src="data:image/png;base64,AAAA">'
    broken.write_text(f"<html><body>{img}{LOADED_SCRIPT}</body></html>")
    assert figures_loaded(broken, tmp_path) == "0/1"


@pytest.mark.parametrize("kind", KINDS)
def test_the_report_renders_with_every_figure_loaded(kind, tmp_path_factory, tmp_path):
    out = folder(kind, tmp_path_factory)  # written by the command's --html flag
    page = out / REPORT
    html = page.read_text()
    assert html.count("<img ") == FIGURES[kind]
    assert not re.search(r'(src|href)="(?!data:)', html), "the report must be self-contained"
    assert "What happened" in html and "Seed:" in html
    assert figures_loaded(page, tmp_path) == f"{FIGURES[kind]}/{FIGURES[kind]}"
    assert screenshot_spread(page, tmp_path) > 0.05


def test_report_command_rewrites_the_page_from_the_folder(tmp_path_factory, capsys):
    out = folder("run", tmp_path_factory)
    before = (out / REPORT).read_bytes()
    (out / REPORT).unlink()
    assert run.main(["report", str(out)]) == 0
    assert f"wrote {out / REPORT}" in capsys.readouterr().out
    assert (out / REPORT).read_bytes() == before  # same folder, same bytes
    assert run.main(["report", str(out / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
