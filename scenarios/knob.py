"""One knob of the scenario table: its type, range, default and help, and how it parses.

Its own module so that the adversaries (sim/adversaries), which declare their knobs, need not
import the scenario loader that gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A user's mistake in a scenario or an override: the message is one line for them."""


@dataclass(frozen=True)
class Knob:
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} from {self.lo:g} to {self.hi:g}"

    def parse(self, key: str, raw: Any) -> Any:
        kind = self.kind
        try:
            if kind is str:
                value = str(raw)
            elif kind is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError
                value = int(raw) if not isinstance(raw, str) else int(raw.replace("_", ""))
            else:
                if isinstance(raw, bool):
                    raise ValueError
                value = float(raw)
        except (TypeError, ValueError, OverflowError):  # float() of a 400-digit TOML integer
            raise ConfigError(f"{key}: {raw!r} is not valid; allowed: {self.allowed()}") from None
        if self.choices and value not in self.choices:
            raise ConfigError(f"{key}: {raw!r} is not valid; allowed: {self.allowed()}")
        if not self.choices and not (self.lo <= value <= self.hi):  # type: ignore[operator]
            raise ConfigError(f"{key}: {raw!r} is out of range; allowed: {self.allowed()}")
        return value
