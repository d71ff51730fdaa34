"""The Python unit facts (`chain/protocol.py`) against the numbers the Clarity contracts hard-code.

The contracts are the chain's truth; the simulator's models, the actors and `risk/` compute with
`chain.protocol`. Reading the constants out of the `.clar` source means a change on either side
fails here instead of silently making the simulator disagree with the chain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chain import protocol

CLARITY = Path(__file__).resolve().parents[2] / "contracts" / "contracts"


def clar(name: str) -> str:
    return (CLARITY / name).read_text()


def constant(source: str, name: str) -> int:
    """The uint value of `(define-constant NAME uN)` in a contract's source."""
    found = re.findall(rf"\(define-constant {re.escape(name)} u(\d+)\)", source)
    assert len(found) == 1, f"{name}: expected one uint definition, found {found}"
    return int(found[0])


@pytest.mark.parametrize(
    ("contract", "name", "python"),
    [
        ("policy-registry.clar", "PRICE-SCALE", protocol.PRICE_SCALE),
        ("policy-registry.clar", "STX-UNIT", protocol.TOKEN_UNIT[protocol.STX]),
        ("policy-registry.clar", "SBTC-UNIT", protocol.TOKEN_UNIT[protocol.SBTC]),
        ("policy-registry.clar", "BLOCKS-PER-YEAR", protocol.BLOCKS_PER_YEAR),
        # PROTOCOL.md: expirations lie on a grid of 144 burn blocks, one a day.
        ("oracle.clar", "EXPIRY-INTERVAL", protocol.BLOCKS_PER_DAY),
    ],
)
def test_clarity_constant_matches(contract: str, name: str, python: int) -> None:
    assert constant(clar(contract), name) == python


def test_sbtc_test_token_decimals_match_its_unit() -> None:
    decimals = re.search(
        r"\(define-read-only \(get-decimals\)\s*\(ok u(\d+)\)\)", clar("sbtc-token.clar")
    )
    assert decimals is not None
    assert 10 ** int(decimals[1]) == protocol.TOKEN_UNIT[protocol.SBTC] == protocol.SATS


def test_token_and_tier_ids_match_the_pool_tranche_check() -> None:
    """The pool accepts `token <= u1` and `tier <= u2`, and `u0` is STX (`stx-transfer?`)."""
    pool = clar("liquidity-pool.clar")
    bounds = re.search(r"\(and \(<= token u(\d+)\) \(<= tier u(\d+)\)\) ERR-BAD-TRANCHE", pool)
    assert bounds is not None
    assert int(bounds[1]) == max(protocol.TOKEN_UNIT) == protocol.SBTC
    assert int(bounds[2]) == max(protocol.TIERS)
    assert tuple(range(len(protocol.TIERS))) == protocol.TIERS
    assert "token u0 is STX" in pool and protocol.STX == 0
    assert set(protocol.TOKEN_UNIT) == set(protocol.TOKEN_NAMES) == {protocol.STX, protocol.SBTC}
    assert len(protocol.TRANCHES) == len(protocol.TOKEN_UNIT) * len(protocol.TIERS)


def test_bps_is_the_contracts_basis_point_denominator() -> None:
    """Every ratio check divides by u10000 (e.g. the pool's utilisation cap)."""
    cap = r"\(<= \(\* \(\+ locked collateral\) u(\d+)\) \(\* assets \(max-utilisation tier\)\)\)"
    found = re.search(cap, clar("liquidity-pool.clar"))
    assert found is not None
    assert int(found[1]) == protocol.BPS


def test_protocol_imports_nothing_from_the_project() -> None:
    """Any layer (`risk/` included) may import the facts, so they must depend on nothing."""
    source = Path(protocol.__file__).read_text()
    imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, flags=re.MULTILINE)
    assert imports == ["__future__"]


@pytest.mark.parametrize(
    ("height", "blocks", "longest", "expected"),
    [
        (1000, 144, 12960, 1152),  # 1000 + 144 = 1144 -> the next grid point, 1152
        (1008, 144, 12960, 1152),  # exactly on the grid: kept
        (1009, 144, 12960, 1296),  # never shorter than asked
        (1000, 12960, 12960, 13824),  # 13960 rounded up would pass 12960 blocks: one day less
    ],
)
def test_expiry_on_grid(height: int, blocks: int, longest: int, expected: int) -> None:
    got = protocol.expiry_on_grid(height, blocks, longest)
    assert got == expected and got % protocol.BLOCKS_PER_DAY == 0
    assert got - height <= longest


def test_parameter_defaults_are_the_parameters_contract() -> None:
    """Every key the contract seeds, with its value, and no key the contract lacks."""
    seeded = re.findall(r'\(map-set params "([a-z0-9-]+)" u(\d+)\)', clar("parameters.clar"))
    assert seeded, "parameters.clar seeds no defaults: the pattern no longer matches"
    assert {key: int(value) for key, value in seeded} == protocol.PARAMETER_DEFAULTS


def test_the_parameters_model_starts_from_the_protocol_defaults() -> None:
    """sim/models/parameters.py keeps its own table until it imports this one: same numbers."""
    from sim.models.parameters import DEFAULTS

    assert protocol.PARAMETER_DEFAULTS == DEFAULTS
