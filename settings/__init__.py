"""What a user sets, and how a bad setting is refused: `ConfigError`, the one range check, `Knob`.

A top-level package of its own so that every layer that reads user input (the scenario knobs, the
live config, the CLI, `risk/` studies, the adversaries' knobs) refuses it the same way without
importing another layer: it imports nothing from the project (a leaf, `pyproject.toml`'s import
contracts). The message is one line naming the field and what is allowed (README, "Bad input").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A user's mistake in a scenario, a config or an option: the message is one line for them."""


def _number(x: float) -> str:
    """An integer in full (`4294967295`), a float short (`0.05`, `1e+06`)."""
    return str(x) if isinstance(x, int) else f"{x:g}"


def allowed_range(lo: float | None, hi: float | None, kind: type | None = None) -> str:
    """`an integer from 1 to 3`, `a number from 0.001 to 365`, `an integer from 1` (no upper
    bound), or `1 to 3` when the kind is said elsewhere (an option argparse already typed)."""
    if kind is None:
        assert lo is not None and hi is not None, "a range without a kind has both bounds"
        return f"{_number(lo)} to {_number(hi)}"
    bounds = [f"{word} {_number(x)}" for word, x in (("from", lo), ("to", hi)) if x is not None]
    return " ".join(["an integer" if kind is int else "a number", *bounds])


def check_range(
    name: str,
    value: float,
    lo: float | None,
    hi: float | None,
    *,
    kind: type | None = None,
    shown: Any = None,
) -> None:
    """Refuses `value` outside [lo, hi] (None: no bound on that side) with
    `NAME: VALUE is out of range; allowed: ...`.

    `shown` is what the user typed when it differs from the parsed value (`'400'` for a knob set
    as text), so the message quotes their input; a parsed float is shown short (`2`, not `2.0`)."""
    # written as "not inside" so that NaN, which compares false with everything, is refused
    if (lo is not None and not value >= lo) or (hi is not None and not value <= hi):
        text = repr(shown) if shown is not None else _number(value)
        raise ConfigError(f"{name}: {text} is out of range; allowed: {allowed_range(lo, hi, kind)}")


@dataclass(frozen=True)
class Knob:
    """One setting of the scenario table: its type (the default's), range, choices and help."""

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
        assert self.lo is not None and self.hi is not None, "a numeric knob has a range"
        return allowed_range(self.lo, self.hi, self.kind)

    def parse(self, key: str, raw: Any) -> Any:
        kind = self.kind
        value: Any
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
        if self.choices:
            if value not in self.choices:
                raise ConfigError(f"{key}: {raw!r} is not valid; allowed: {self.allowed()}")
            return value
        assert self.lo is not None and self.hi is not None, "a numeric knob has a range"
        check_range(key, value, self.lo, self.hi, kind=kind, shown=raw)
        return value
