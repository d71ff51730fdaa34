"""The figure helpers every plot module draws with: one size and resolution, constrained layout
(no label cut off at the saved size), and when an axis needs a log scale.

A neutral home: `scenarios/plots.py` (runs, sweeps, stress) and `risk/plots.py` (solvency,
calibrate) both import it, and `risk` may import nothing from `scenarios` (pyproject.toml's
import contracts). Matplotlib runs headless (Agg): figures are files, never windows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DPI = 110
DECADES = 100  # a max/min ratio at least this wide gets a log axis


def spans_decades(values) -> bool:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and v.max() / v.min() >= DECADES


def new_figure(rows: int = 1, cols: int = 1, size=(9, 4.5), **kw):
    """A figure laid out by constrained layout, so titles and labels stay inside the canvas."""
    return plt.subplots(rows, cols, figsize=size, dpi=DPI, layout="constrained", **kw)


def save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
