"""Hostile scenario files and --set overrides: accepted with every knob in range, or refused
with one ConfigError line; never another exception.

The documents are written as TOML text (valid or not) into a scratch scenario folder, so the
whole path a user's file takes is fuzzed: reading, decoding, flattening, each knob's parse and
the cross-knob checks.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios import config
from scenarios.config import KNOBS, ConfigError, Scenario, load
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- TOML text from Python values ---------------------------------------------------------------

scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["gbm", "jump", "1_000", "1e3", " 5 ", "nan", "inf", "-0", "0x10", "٣"]),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.one_of(
    st.sampled_from(sorted(KNOBS)),
    st.sampled_from(["description", "name", "price", "buyers.rate", "days.x"]),
    st.text(max_size=15),
)


def toml_key(key: str) -> str:
    """A knob's dotted name stays dotted (so it nests as a user writes it); others are quoted."""
    parts = key.split(".")
    if all(p and all(c.isascii() and (c.isalnum() or c in "_-") for c in p) for p in parts):
        return key
    return json.dumps(key)  # a TOML basic string; a lone surrogate makes the file invalid


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


documents = st.lists(st.tuples(keys, values), max_size=6).map(
    lambda pairs: "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in pairs)
)
raw_documents = st.one_of(
    st.text(max_size=80).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
)

# --- the contract -------------------------------------------------------------------------------


def assert_one_line(exc: ConfigError) -> None:
    text = str(exc)
    assert text and len(text.splitlines()) == 1 and "\n" not in text, repr(text)


def assert_in_range(s: Scenario) -> None:
    assert set(s.values) == set(KNOBS)
    for key, knob in KNOBS.items():
        value = s[key]
        assert type(value) is knob.kind, (key, value)
        if knob.choices:
            assert value in knob.choices, (key, value)
        else:
            assert knob.lo <= value <= knob.hi, (key, value)  # also false for NaN
    for lo, hi in (("amount_btc_min", "amount_btc_max"), ("strike_min", "strike_max")):
        assert s[f"buyers.{lo}"] <= s[f"buyers.{hi}"]
    assert s["buyers.days_min"] <= s["buyers.days_max"]


def load_text(data: bytes, overrides: list[str] = ()) -> Scenario:
    """`load` of a scenario folder holding only this file."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        (Path(folder) / "fuzzed.toml").write_bytes(data)
        mp.setattr(config, "SCENARIO_DIR", Path(folder))
        return load("fuzzed", overrides)


def check(data: bytes, overrides: list[str] = ()) -> Scenario | None:
    try:
        s = load_text(data, overrides)
    except ConfigError as exc:
        assert_one_line(exc)
        return None
    assert_in_range(s)
    return s


@FUZZ
@given(documents)
def test_a_fuzzed_scenario_file_is_accepted_in_range_or_refused_in_one_line(text):
    s = check(text.encode("utf-8", "surrogatepass"))
    if s is None:
        return
    # nothing silently changed: each knob the file set holds the file's own number
    data = tomllib.loads(text)
    data.pop("description", None)
    data.pop("name", None)
    for key, raw in config._flatten(data).items():
        knob = KNOBS[key]
        if knob.kind is float:
            assert s[key] == float(raw)
        elif knob.kind is int:
            assert s[key] == (int(raw.replace("_", "")) if isinstance(raw, str) else raw)
        else:
            assert s[key] == raw


@FUZZ
@given(raw_documents)
def test_arbitrary_bytes_as_a_scenario_file_never_crash(data):
    check(data)


override_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "9" * 5000, "1_0", " 3 ", "", "=", "True"]),
)
overrides = st.lists(
    st.one_of(
        st.tuples(keys, override_values).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.text(max_size=20),
    ),
    max_size=4,
)


@FUZZ
@given(overrides)
def test_fuzzed_overrides_are_accepted_in_range_or_refused_in_one_line(items):
    s = check(b'description = "fuzz"\n', items)
    if s is None:
        return
    for item in items:  # the last override of a key wins, with the override's own number
        key, _, raw = item.partition("=")
        key = key.strip()
        last = [i for i in items if i.partition("=")[0].strip() == key][-1]
        if item != last:
            continue
        kind = KNOBS[key].kind
        want = raw.strip() if kind is str else kind(raw.strip().replace("_", ""))
        assert s[key] == want


def test_a_broken_file_in_the_folder_is_one_line_not_a_traceback():
    """Found by the fuzzer: `available()` parsed every file unguarded, so one bad file made
    `load` (and `run.py scenarios`) raise TOMLDecodeError or UnicodeDecodeError."""
    for data in (b"days = [", b"\xff\xfe\x00days = 1", b'description = "x\n'):
        with pytest.raises(ConfigError) as err:
            load_text(data)
        assert_one_line(err.value)
        assert "fuzzed.toml" in str(err.value)


def test_a_huge_integer_for_a_number_knob_is_out_of_range_not_an_overflow():
    """Found by the fuzzer: float() of a 400-digit TOML integer raised OverflowError."""
    with pytest.raises(ConfigError, match=r"^days: 1000.* is not valid; allowed: a number"):
        load_text(("days = 1" + "0" * 400).encode())


# --- through the command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        "days=nan",
        "days=inf",
        "policies=1e400",
        "policies=" + "9" * 5000,
        "price.model=",
        "days=1\n2",
        "=1",
        "déys=1",
        "buyers.strike_min=1.4",  # above the default strike_max
    ],
)
def test_bad_overrides_through_the_cli_are_one_line_exit_2_and_no_folder(tmp_path, override):
    out_dir = tmp_path / "run"
    argv = [sys.executable, str(ROOT / "run.py"), "sim", "baseline", "--out", str(out_dir)]
    result = subprocess.run(
        [*argv, "--set", override],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not out_dir.exists() and list(tmp_path.iterdir()) == []
