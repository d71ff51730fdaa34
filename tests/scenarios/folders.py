"""Small real output folders of every kind, made once per test session through run.py itself
(with --html, so the flag is exercised too) and shared by the figure and report tests."""

from __future__ import annotations

from pathlib import Path

import run

SIM = ["--set", "days=1.1", "--set", "drain_days=0.3", "--set", "policies=30",
       "--set", "crash.start_hours=20", "--set", "burst.days=1.15",
       "--set", "providers.stx_each=20000", "--set", "providers.panic_drop=0.1"]  # fmt: skip
STUDY = ["--set", "days=1", "--set", "buyers.days_max=5", "--paths", "300",
         "--chunk-size", "150", "--workers", "1", "--seed", "4"]  # fmt: skip
KINDS = ("run", "sweep", "solvency", "calibrate", "stress")
_made: dict[str, Path] = {}


def folder(kind: str, tmp_path_factory) -> Path:
    """The folder of one kind, made on first use; the command must exit 0."""
    if kind not in _made:
        out = tmp_path_factory.mktemp("folders") / kind
        args = {
            "run": ["sim", "flash-crash", "--seed", "2", *SIM, "--out", str(out)],
            "sweep": ["sweep", "flash-crash", "--grid", "crash.change=-0.3,-0.6",
                      "--grid", "providers.sbtc_each=0.5,5", *SIM, "--workers", "1",
                      "--out", str(out)],
            "solvency": ["solvency", *STUDY, "--stress-paths", "100", "--out", str(out)],
            "stress": ["stress", "--scenarios", "bank-run,flash-crash", "--days", "1.5",
                       "--policies", "300", "--workers", "2", "--out", str(out)],
            "calibrate": ["calibrate", *STUDY, "--grid", "vol_multiplier=1,2",
                          "--grid", "cap_scale=0.5,1", "--grid", "collateral_scale=1",
                          "--out", str(out)],
        }[kind]  # fmt: skip
        assert run.main([*args, "--html"]) == 0, kind
        _made[kind] = out
    return _made[kind]


def cut_labels(fig) -> list[str]:
    """Every visible text of the figure whose drawn extent leaves the canvas, at the DPI the
    figure is saved with (risk.figures.DPI): what a reader would see clipped.

    Tick labels are measured through their axes' tight box, which holds only the ticks that
    are drawn (matplotlib keeps labels for ticks outside the view, never drawn)."""
    import matplotlib.text

    fig.canvas.draw()  # runs constrained layout at the saved size
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for minor in (False, True) for t in axis.get_ticklabels(minor=minor)}  # fmt: skip
    boxes = [(repr(t.get_text()), t.get_window_extent(renderer))
             for t in fig.findobj(matplotlib.text.Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in ticks]  # fmt: skip
    boxes += [(f"axes {i} with its ticks", ax.get_tightbbox(renderer))
              for i, ax in enumerate(fig.axes)]  # fmt: skip
    return [f"{name} at {box.bounds} outside {canvas.bounds}" for name, box in boxes
            if box.x0 < canvas.x0 - 0.5 or box.y0 < canvas.y0 - 0.5
            or box.x1 > canvas.x1 + 0.5 or box.y1 > canvas.y1 + 0.5]  # fmt: skip


def capture(monkeypatch) -> dict[str, object]:
    """Makes the plot modules' `save` (risk/figures.py's, imported by scenarios.plots and
    risk.plots) keep each figure open and hand it back by file name; the caller closes them."""
    import risk.figures
    import risk.plots
    import scenarios.plots

    figures: dict[str, object] = {}

    def keep(fig, path: Path) -> Path:
        figures[path.name] = fig
        fig.savefig(path, dpi=risk.figures.DPI)
        return path

    monkeypatch.setattr(scenarios.plots, "save", keep)
    monkeypatch.setattr(risk.plots, "save", keep)
    return figures


def kept_figures(monkeypatch):
    """The body of the `figures` fixture: figures kept by `capture`, closed afterwards."""
    import matplotlib.pyplot as plt

    drawn = capture(monkeypatch)
    yield drawn
    for fig in drawn.values():
        plt.close(fig)
