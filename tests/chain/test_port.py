"""The ports are what their implementations offer: each executor has every `Executor` method
with the protocol's parameters, the store offers what `StorePort` names, and both chains
offer `Chain` (checked by signature, since SimChain and the executors do not name the
protocol they implement)."""

from __future__ import annotations

import inspect

import pytest

from chain import port
from chain.stacks import StacksChain
from sim.chain import SimChain
from sim.clarity_vm import ClarityContracts
from sim.lockstep import Lockstep
from sim.models import PythonContracts
from store import open_store


def _methods(protocol: type) -> dict[str, inspect.Signature]:
    own = {}
    for klass in protocol.__mro__:
        if klass in (object, port.Protocol) or not getattr(klass, "_is_protocol", False):
            continue
        for name, fn in vars(klass).items():
            if inspect.isfunction(fn) and not name.startswith("_"):
                own.setdefault(name, inspect.signature(fn))
    return own


def _parameters(sig: inspect.Signature) -> list[str]:
    return [p for p in sig.parameters if p != "self"]


@pytest.mark.parametrize("impl", [PythonContracts, ClarityContracts, Lockstep])
def test_every_executor_has_the_protocols_methods_and_parameters(impl: type) -> None:
    wanted = _methods(port.Executor)
    assert len(wanted) == 12
    for name, sig in wanted.items():
        fn = getattr(impl, name, None)
        assert callable(fn), f"{impl.__name__} lacks {name}"
        assert _parameters(inspect.signature(fn)) == _parameters(sig), (impl.__name__, name)


@pytest.mark.parametrize("impl", [SimChain, StacksChain])
def test_both_chains_offer_the_full_chain(impl: type) -> None:
    for name, sig in _methods(port.FullChain).items():
        fn = getattr(impl, name, None)
        assert callable(fn), f"{impl.__name__} lacks {name}"
        assert _parameters(inspect.signature(fn)) == _parameters(sig), (impl.__name__, name)


def test_blocks_are_pushed_by_simchain_and_polled_from_stackschain() -> None:
    for impl, protocol in ((SimChain, port.PushedBlocks), (StacksChain, port.PolledBlocks)):
        for name, sig in _methods(protocol).items():
            fn = getattr(impl, name)
            assert _parameters(inspect.signature(fn)) == _parameters(sig), (impl.__name__, name)


def test_the_actors_chain_is_narrower_than_the_full_one() -> None:
    narrow, full = set(_methods(port.Chain)), set(_methods(port.FullChain))
    assert narrow < full and {"events_since", "balances"} == full - narrow


def test_the_store_offers_what_the_port_names() -> None:
    store = open_store("sqlite://")
    try:
        for repo_name in ("prices", "quotes", "policies", "shares", "tranches", "outbox"):
            prop = getattr(port.StorePort, repo_name)
            rows = prop.fget.__annotations__["return"]  # the repository protocol's name
            protocol = getattr(port, rows)
            repo = getattr(store, repo_name)
            assert _methods(protocol), rows
            for name, sig in _methods(protocol).items():
                fn = getattr(repo, name)
                assert _parameters(inspect.signature(fn)) == _parameters(sig), (repo_name, name)
        assert callable(store.flush)
    finally:
        store.close()
