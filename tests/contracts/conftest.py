from __future__ import annotations

import pytest

from sim.clarity_vm import ClarityBridge


@pytest.fixture(scope="session")
def bridge():
    """One Node process with the Clarinet SDK for the whole session; a missing Node toolchain
    or SDK is an error here, never a skip."""
    with ClarityBridge() as b:
        yield b
