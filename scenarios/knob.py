"""The scenario knob and its error, whose home is `settings.py` (a leaf every layer may import).

Kept as a module because the adversaries (sim/adversaries) import `Knob` from here; new code
imports `settings` directly.
"""

from settings import ConfigError, Knob

__all__ = ["ConfigError", "Knob"]
