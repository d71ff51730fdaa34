"""The run and sweep figures: what each shows (log coverage, shaded windows, rates, caps,
per-tranche flows that add up to the report) and that no label is cut off at the saved size."""

from __future__ import annotations

import csv
import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.image import imread

import run
from risk.figures import DPI
from scenarios.plots import fault_windows, load_run, plot_folder, time_axis
from tests.scenarios.folders import cut_labels, folder, kept_figures

RUN_FIGURES = {"price.png", "coverage.png", "utilisation.png", "flows.png", "withdrawals.png",
               "pool.png"}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return folder("run", tmp_path_factory)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return folder("sweep", tmp_path_factory)


figures = pytest.fixture(kept_figures)


def test_the_checker_sees_a_label_pushed_off_the_canvas():
    fig, ax = plt.subplots(figsize=(4, 3), dpi=DPI, layout="constrained")
    ax.set_title("fits")
    assert cut_labels(fig) == []
    ax.text(1.3, 0.5, "off the right edge", transform=ax.transAxes)
    assert any("off the right edge" in c for c in cut_labels(fig))
    plt.close(fig)


def test_every_run_figure_keeps_its_labels_inside_at_the_saved_size(run_dir, figures):
    written = plot_folder(run_dir)
    assert {p.name for p in written} == RUN_FIGURES == set(figures)
    for name, fig in figures.items():
        assert cut_labels(fig) == [], name
        height, width = imread(run_dir / name).shape[:2]
        assert (width, height) == tuple(round(v) for v in fig.get_size_inches() * DPI), name


def test_run_figures_show_the_story(run_dir, figures):
    plot_folder(run_dir)
    report = json.loads((run_dir / "report.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    coverage = figures["coverage.png"].axes[0]
    assert coverage.get_yscale() == "log"
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in coverage.get_lines())
    crash = [w for w in fault_windows(config["values"]) if w.label.startswith("crash")]
    assert crash and crash[0].start_h == config["values"]["crash.start_hours"]
    price = figures["price.png"].axes[0]
    assert any(label.startswith("crash") for label in price.get_legend_handles_labels()[1])
    assert "seed 2" in figures["price.png"].get_suptitle()
    caps = figures["utilisation.png"].axes[0].get_legend_handles_labels()[1]
    assert {"conservative cap 60%", "balanced cap 75%", "aggressive cap 85%"} <= set(caps)
    withdrawals = figures["withdrawals.png"].axes[0].get_legend_handles_labels()[1]
    refused = report["withdrawals_refused_locked"]
    assert f"requests refused or made to wait ({refused})" in withdrawals
    assert f"withdrawal requests ready at once ({report['withdrawals'] - refused})" in withdrawals


def test_per_tranche_flows_add_up_to_the_report(run_dir):
    data = load_run(run_dir)
    report = data.report
    paid = sum(float(f.payout_usd.sum()) for f in data.tranches.values())
    premiums = sum(float(f.premium_usd.sum()) for f in data.tranches.values())
    assert paid == pytest.approx(report["payouts_usd"], abs=0.05)
    assert premiums == pytest.approx(report["premiums_usd"], rel=0.01)
    assert sum(len(f.premium_h) for f in data.tranches.values()) == report["policies_purchased"]
    assert len(data.withdraw_ok_h) + len(data.withdraw_refused_h) == report["withdrawals"]


def test_long_axes_are_in_days_and_windows_come_from_the_knobs():
    assert time_axis(np.array([0.0, 72.0]))[1] == "time (hours)"
    assert time_axis(np.array([0.0, 2900.0])) == (24.0, "time (days)")
    windows = fault_windows({"faults.oracle_fail_from_hours": 5.0, "faults.oracle_fail_hours": 2.0,
                             "faults.signer_down_hours": 0.0, "crash.change": 0.0})  # fmt: skip
    assert [(w.label, w.start_h, w.end_h) for w in windows] == [("oracle refused", 5.0, 7.0)]


def test_sweep_heatmaps_for_any_metric_keep_their_labels(sweep_dir, figures, capsys):
    assert run.main(["plot", str(sweep_dir), "--metric", "payouts_usd"]) == 0
    assert run.main(["plot", str(sweep_dir)]) == 0
    assert set(figures) == {"payouts_usd_heatmap.png", "ruin_heatmap.png"}
    for name, fig in figures.items():
        assert cut_labels(fig) == [], name
    texts = [t.get_text() for t in figures["payouts_usd_heatmap.png"].axes[0].texts]
    assert len(texts) == 4 and all(t != "no runs" for t in texts)
    assert "mean payouts_usd" in figures["payouts_usd_heatmap.png"].axes[0].get_title()


def test_an_unknown_metric_is_one_line_naming_the_choices(sweep_dir, capsys):
    assert run.main(["plot", str(sweep_dir), "--metric", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--metric: 'nonsense' is not one of ruin," in err
    assert "payouts_usd" in err


def test_one_knob_lines_use_a_log_axis_across_decades(sweep_dir, figures, tmp_path):
    with (sweep_dir / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    amounts = {"-0.3": "20000", "-0.6": "2000000"}  # as a sweep of 20k / 2M would give
    one = tmp_path / "one"
    one.mkdir()
    columns = [c for c in rows[0] if c != "providers.sbtc_each"]
    with (one / "sweep.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows({**r, "crash.change": amounts[r["crash.change"]]} for r in rows)
    assert {p.name for p in plot_folder(one)} == {"ruin.png"}
    assert {p.name for p in plot_folder(one, "premiums_usd")} == {"premiums_usd.png"}
    for name, fig in figures.items():
        assert cut_labels(fig) == [], name
        assert fig.axes[0].get_xscale() == "log", name
    labels = figures["ruin.png"].axes[0].get_legend_handles_labels()[1]
    assert labels == ["95% Wilson interval", "ruin probability"]


def test_the_stress_figure_shows_each_limit_with_its_bound_and_keeps_labels_inside(
    tmp_path_factory, figures
):
    stress_dir = folder("stress", tmp_path_factory)
    assert [p.name for p in plot_folder(stress_dir)] == ["limits.png"]
    fig = figures["limits.png"]
    assert cut_labels(fig) == []
    doc = json.loads((stress_dir / "stress.json").read_text())
    assert [ax.get_xlabel() for ax in fig.axes] == list(doc["limits"])
    for ax, bound in zip(fig.axes, doc["limits"].values(), strict=True):
        drawn = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_ls() == "--")
        assert drawn == sorted(bound.values())
        assert [t.get_text() for t in ax.get_yticklabels()] == doc["scenarios"]
