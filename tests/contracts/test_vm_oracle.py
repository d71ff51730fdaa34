"""The oracle's fixings: final at the expiry, whatever is pushed later (PROTOCOL.md v2).

A model-only property test over random observation histories, against a brute-force average
computed block by block, and the same claim in the Clarity VM and the models at once.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.clarity import FALSE, TRUE, Ok, Some, StringAscii, Tuple, UInt
from chain.keys import PrivateKey
from sim.models import PythonContracts
from sim.models.oracle import EXPIRY_INTERVAL, FIXING_WINDOW
from tests.contracts.twin import Twin

USD = 100_000_000
ASSET = "BTC-USD"
DEPLOYER = PrivateKey.from_seed(b"test_vm_oracle/deployer").principal()


def twap(history: list[tuple[int, int]], expiry: int) -> int:
    """The fixing by definition: the price in force at each block of the window, averaged."""
    total = 0
    for block in range(expiry - FIXING_WINDOW, expiry):
        total += [p for h, p in history if h <= block][-1]
    return total // FIXING_WINDOW


class Model:
    """The oracle model alone, pushed at chosen heights."""

    def __init__(self) -> None:
        self.world = PythonContracts(DEPLOYER)
        self.oracle = self.world.oracle

    def _call(self, function: str, height: int, *args):
        call = self.world.prepare(self.oracle.principal, function, list(args))
        return self.world.execute(DEPLOYER, call, height).value

    def push(self, price: int, height: int):
        return self._call("set-price", height, StringAscii(ASSET), UInt(price))

    def fix(self, expiry: int, height: int):
        start = self.oracle.in_force(ASSET, expiry - FIXING_WINDOW)
        end = self.oracle.in_force(ASSET, expiry)
        return self._call("fix", height, StringAscii(ASSET), UInt(expiry), UInt(start),
                          UInt(end))  # fmt: skip


# steps of (blocks elapsed, move in bps of the last price)
histories = st.lists(
    st.tuples(st.integers(0, 60), st.integers(-6_000, 6_000)), min_size=1, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(steps=histories, first=st.integers(1, 137), late=st.integers(0, 200))
def test_a_fixing_is_the_window_average_and_nothing_after_expiry_changes_it(steps, first, late):
    """Observations from height `first` on; every grid point E with an observation at or before
    E - window gets a fixing equal to the block-by-block average; fixing E right at E gives the
    same record as fixing it after every later push."""
    full, history = Model(), []
    assert full.push(65_000 * USD, first) == Ok(TRUE)
    history.append((first, 65_000 * USD))
    height, price = first, 65_000 * USD
    for elapsed, move in steps:
        height += elapsed
        target = max(1, price * (10_000 + move) // 10_000)
        if full.push(target, height) == Ok(TRUE):
            since = height - history[-1][0]  # blocks since the last accepted observation
            assert since > 0  # one observation per block
            cap = min(5_000, 500 * since)
            assert abs(target - price) * 10_000 <= price * cap  # never beyond the cap
            history.append((height, target))
            price = target
    end = height + late
    for expiry in range(EXPIRY_INTERVAL, end + 1, EXPIRY_INTERVAL):
        if history[0][0] > expiry - FIXING_WINDOW:
            continue
        got = full.fix(expiry, end)
        assert got.value["price"] == UInt(twap(history, expiry))
        # the same history cut at the expiry, fixed at the expiry itself
        at_expiry = Model()
        for h, p in history:
            if h <= expiry:
                assert at_expiry.push(p, h) == Ok(TRUE)
        assert at_expiry.fix(expiry, expiry) == got


@pytest.mark.clarity
def test_pushes_after_the_expiry_change_no_fixing_in_the_vm(bridge):
    """In the VM and the models: the fixing of E is proven first after three later pushes (a
    compromised key pushing the largest allowed falls), and equals the average of what was
    observed up to E; the hints stay valid; a second `fix` returns the stored record."""
    t = Twin(bridge)
    asset = StringAscii(ASSET)
    history = [(130, 65_000 * USD), (139, 66_000 * USD), (142, 64_000 * USD), (144, 63_000 * USD)]
    for h, p in history:
        t.mine_burn(h - t.burn)
        assert t.call("deployer", "oracle", "set-price", asset, UInt(p)) == Ok(TRUE)
    hints = (UInt(130), UInt(144))
    price = 63_000 * USD
    for _ in range(3):  # after E: -5% a block, the most the cap allows
        t.mine_burn(1)
        price = -(-price * 95 // 100)
        assert t.call("deployer", "oracle", "set-price", asset, UInt(price)) == Ok(TRUE)
    expected = Tuple(
        {"price": UInt(twap(history, 144)), "last-observed": UInt(144), "stale": FALSE}
    )
    assert expected["price"] == UInt((65_000 + 66_000 * 3 + 64_000 * 2) * USD // 6)
    assert t.call("wallet_3", "oracle", "fix", asset, UInt(144), *hints) == Ok(expected)
    t.mine_burn(1)
    assert t.call("deployer", "oracle", "set-price", asset, UInt(price * 96 // 100)) == Ok(TRUE)
    assert t.call("wallet_4", "oracle", "fix", asset, UInt(144), UInt(0), UInt(0)) == Ok(expected)
    assert t.read("oracle", "get-fixing", asset, UInt(144)) == Some(expected)
