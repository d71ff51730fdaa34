"""The solvency and calibrate figures: bands, titles naming book, model, paths and seed, a
log fan chart without a 0 tick, the calibrate frontier drawn by `plot` too; no label cut off."""

from __future__ import annotations

import json

import pytest

import run
from scenarios.plots import plot_folder
from tests.scenarios.folders import cut_labels, folder, kept_figures

figures = pytest.fixture(kept_figures)


def test_solvency_figures_name_their_study_and_keep_labels_inside(tmp_path_factory, figures):
    out = folder("solvency", tmp_path_factory)
    assert {p.name for p in plot_folder(out)} == {"solvency_curve.png", "coverage_fan.png",
                                                  "ruin_stress.png"}  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    model = summary["inputs"]["model"]["model"]
    for name, fig in figures.items():
        assert cut_labels(fig) == [], name
        title = fig.get_suptitle() + " ".join(ax.get_title() for ax in fig.axes)
        for part in ("book scenario:baseline", f"model {model}", "300 paths", "seed 4"):
            assert part in title, (name, part)
    curve = figures["solvency_curve.png"].axes[0]
    assert len(curve.collections) >= 3  # a 5-95% band per tier
    fan = figures["coverage_fan.png"].axes[0]
    assert fan.get_yscale() == "log" and fan.get_ylim()[0] > 0


def test_calibrate_draws_its_frontier_and_plot_redraws_it(tmp_path_factory, figures, capsys):
    out = folder("calibrate", tmp_path_factory)
    assert (out / "calibrate_frontier.png").is_file()  # drawn by the calibrate command
    assert run.main(["plot", str(out)]) == 0
    assert f"wrote {out / 'calibrate_frontier.png'}" in capsys.readouterr().out
    fig = figures["calibrate_frontier.png"]
    assert cut_labels(fig) == []
    ax = fig.axes[0]
    doc = json.loads((out / "calibrate.json").read_text())
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == 4 + (doc["best"] is not None)  # every grid point, and the best starred
    assert "seed 4" in ax.get_title() and "limit 0.5%" in ax.get_legend_handles_labels()[1]
