"""The one way a value becomes a CSV cell in the files the engine writes (sweep, solvency and
calibrate tables; `scenarios/outputs.py`'s `_fmt` is the same rule at 6 digits).

Floats in Python's shortest round-trip form, optionally rounded first so that tables stay
readable; `inf`, `-inf` and `nan` as words; booleans as 0/1; a missing value as an empty cell.
"""

from __future__ import annotations

import math
from typing import Any


def csv_cell(value: Any, digits: int | None = None) -> Any:
    """`value` as written to a CSV cell; `digits` rounds finite floats first."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return repr(value if digits is None else round(value, digits))
    return value
