"""Hostile node answers: each parser gives a value that is exactly what the body says, or a
NodeError naming the field; never KeyError, TypeError, ValueError or a misread number.

Bodies are the recorded real ones (tests/chain/recorded/node/) with a node somewhere replaced by
anything JSON can hold, or any JSON at all. Accepted values are checked against a strict
reading of the same fields written here: unsigned integers (JSON numbers or decimal strings up
to u128), hex digits only for hex fields.
"""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.clarity import U128_MAX
from chain.node import (
    NodeError,
    ReadOnlyFailed,
    parse_account,
    parse_contract_logs,
    parse_event_page,
    parse_fee_estimate,
    parse_info,
    parse_read_only,
    parse_tx,
)
from chain.port import TxStatus
from tests.conftest import examples

FUZZ = settings(
    max_examples=examples(250),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
RECORDED = Path(__file__).parent / "recorded" / "node"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


# --- the strict reading -------------------------------------------------------------------------


def uint(v: Any) -> int | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v if 0 <= v <= U128_MAX else None
    if isinstance(v, str) and v and all(c in string.digits for c in v) and len(v) <= 39:
        return int(v) if int(v) <= U128_MAX else None
    return None


def opt_uint(body: dict, key: str) -> int | None:
    return None if body.get(key) is None else uint(body[key])


def strip0x(text: str) -> str:
    return text[2:] if text[:2] in ("0x", "0X") else text


def hexint(v: Any) -> int | None:
    if not isinstance(v, str):
        return None
    digits = strip0x(v)
    if not digits or not all(c in string.hexdigits for c in digits):
        return None
    return int(digits, 16) if int(digits, 16) <= U128_MAX else None


def clarity_hex(v: Any) -> bytes:
    text = v["hex"] if isinstance(v, dict) else v
    return bytes.fromhex(strip0x(text))


def all_ints_are_uints(value: Any) -> None:
    """Every int anywhere in a parsed value (dataclasses, tuples, lists) is a u128."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            all_ints_are_uints(getattr(value, f.name))
    elif isinstance(value, list | tuple):
        for v in value:
            all_ints_are_uints(v)
    elif isinstance(value, int) and not isinstance(value, bool | TxStatus):
        assert 0 <= value <= U128_MAX, value


def check_info(body, info) -> None:
    for key in ("stacks_tip_height", "burn_block_height", "network_id"):
        assert getattr(info, key) == uint(body[key]) is not None, key
    if body.get("is_fully_synced") is not None:
        assert info.is_fully_synced is body["is_fully_synced"]


def check_account(body, account) -> None:
    assert account.balance == hexint(body["balance"]) is not None
    assert account.locked == hexint(body["locked"]) is not None
    assert account.nonce == uint(body["nonce"]) is not None
    assert account.unlock_height == (opt_uint(body, "unlock_height") or 0)


def check_fees(body, fees) -> None:
    want = [uint(e["fee"]) for e in body["estimations"]]
    assert [fees.low, fees.medium, fees.high] == want and None not in want


def check_read_only(body, result) -> None:
    assert body["okay"] is True
    assert result == bytes.fromhex(strip0x(body["result"]))


def check_event(body, event) -> None:
    assert event.event_index == uint(body["event_index"]) is not None
    assert event.event_type == body["type"]
    if event.event_type == "contract_log":
        assert event.value == clarity_hex(body["contract_log"]["value"])
        assert event.contract_id == body["contract_log"]["contract_id"]
    elif event.event_type in ("stx_asset", "ft_asset", "nft_asset"):
        asset = body[event.event_type]
        assert event.asset_event_type == asset["type"]
        if asset.get("amount") is not None:
            assert event.amount == uint(asset["amount"]) is not None


def check_events(body, page) -> None:
    assert page.total == uint(body["total"]) is not None
    assert page.next == (body["cursor"].get("next") or None)
    assert len(page.events) == len(body["results"])
    for raw, event in zip(body["results"], page.events, strict=True):
        check_event(raw, event)


def check_tx(body, tx) -> None:
    assert tx.tx_id == strip0x(body["tx_id"]).lower()
    assert tx.raw_status == body["status"]
    final = body["status"].startswith("dropped_") or body["status"] == "problematic_skipped"
    assert tx.status.value == body["status"] or final
    assert tx.nonce == uint(body["sender"]["nonce"]) is not None
    assert tx.sender_address == body["sender"]["address"]
    block = body.get("block")
    if block is not None:
        assert (tx.block_height, tx.tx_index) == (uint(block["height"]), uint(block["tx_index"]))
    else:
        assert tx.block_height is None and tx.tx_index is None
    assert tx.event_count == opt_uint(body, "event_count")
    assert tx.fee_rate == uint(body["fee_rate"]) is not None
    if body.get("result") is not None:
        assert tx.result == clarity_hex(body["result"])


def check_contract_logs(body, page) -> None:
    assert len(page.events) == len(body["results"])
    assert page.older == (body.get("prev_cursor") or None)
    for raw, event in zip(body["results"], page.events, strict=True):
        assert raw["event_type"] == "smart_contract_log"
        assert event.tx_id == strip0x(raw["tx_id"]).lower()
        assert event.event_index == uint(raw["event_index"]) is not None
        assert event.value == clarity_hex(raw["contract_log"]["value"])


PARSERS = {
    "info": (parse_info, check_info, ["info.json"]),
    "account": (parse_account, check_account, ["account.json"]),
    "fees": (parse_fee_estimate, check_fees, ["fee-estimate.json"]),
    "read-only": (
        lambda b: parse_read_only(b, "get-x"),
        check_read_only,
        ["read-only-success.json", "read-only-failure.json"],
    ),
    "tx": (
        parse_tx,
        check_tx,
        ["tx-contract-call.json", "tx-pending.json", "tx-token-transfer.json"],
    ),
    "tx-events": (
        lambda b: parse_event_page(b, "ee" * 32, "/events"),
        check_events,
        ["tx-events.json"],
    ),
    "contract-logs": (parse_contract_logs, check_contract_logs, ["contract-logs.json"]),
}

# --- bodies -------------------------------------------------------------------------------------

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(
        [
            "0",
            "12",
            "-1",
            "+1",
            " 1",
            "1_0",
            "٣",
            "9" * 40,
            "9" * 5000,
            "0x",
            "0x1",
            "-0x1",
            "0x1_0",
            " 0x10",
            "0xzz",
            "0x" + "f" * 40,
            "0x0100000000000000000000000000000001",
            "success",
            "pending",
            "abort_by_response",
            "dropped_replace_by_fee",
            "smart_contract_log",
            "contract_log",
            "ft_asset",
            "problematic_skipped",
        ]
    ),
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(["hex", "fee", "value", "amount"]), st.text(max_size=5)),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw, name: str) -> Any:
    """A recorded body with up to three nodes, anywhere, replaced by anything."""
    doc = recorded(name)
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        parent, key, node = None, None, doc
        while True:
            if isinstance(node, dict):
                children = list(node)
            elif isinstance(node, list):
                children = list(range(len(node)))
            else:
                children = []
            # (integers are drawn biased towards 0: a weighted list keeps the descent going)
            if not children or draw(st.sampled_from(["down"] * 3 + ["stop"])) == "stop":
                break
            parent, key = node, draw(st.sampled_from(children))
            node = node[key]
        value = draw(st.one_of(json_values, st.just(DELETE)))
        if parent is None:
            doc = {} if value is DELETE else value
        elif value is DELETE:
            del parent[key]
        else:
            parent[key] = value
    return doc


DELETE = object()


def leaf_paths(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaf_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaf_paths(v, (*path, i))]
    return [path]


@st.composite
def retyped(draw, name: str) -> Any:
    """A recorded body with one or two of its fields (not containers) set to any scalar."""
    doc = recorded(name)
    for _ in range(draw(st.sampled_from([1, 1, 2]))):
        *parents, last = draw(st.sampled_from(leaf_paths(doc)))
        node = doc
        for key in parents:
            node = node[key]
        node[last] = draw(leaves)
    return doc


def run(kind: str, body: Any) -> Any:
    parse, check, _ = PARSERS[kind]
    try:
        value = parse(body)
    except NodeError as exc:
        assert str(exc) and len(str(exc).splitlines()) == 1, repr(str(exc))
        return None
    except ReadOnlyFailed:
        assert kind == "read-only" and body["okay"] is False
        return None
    all_ints_are_uints(value)
    check(body, value)
    return value


@FUZZ
@given(st.data())
def test_a_mutated_node_answer_is_read_exactly_or_a_node_error(data):
    kind = data.draw(st.sampled_from(sorted(PARSERS)))
    name = data.draw(st.sampled_from(PARSERS[kind][2]))
    run(kind, data.draw(mutated(name)))


@FUZZ
@given(st.data())
def test_a_field_of_any_value_is_read_exactly_or_a_node_error(data):
    kind = data.draw(st.sampled_from(sorted(PARSERS)))
    name = data.draw(st.sampled_from(PARSERS[kind][2]))
    run(kind, data.draw(retyped(name)))


@FUZZ
@given(st.sampled_from(sorted(PARSERS)), json_values)
def test_any_json_is_a_value_or_a_node_error(kind, body):
    run(kind, body)


def test_the_recorded_bodies_still_parse():
    """The fuzzed contract's accepted half: every recorded body is read and checked."""
    for kind, (_, _, names) in PARSERS.items():
        for name in names:
            body = recorded(name)
            value = run(kind, body)
            assert value is not None or name == "read-only-failure.json", name


@pytest.mark.parametrize(
    ("parse", "body"),
    [
        # found by the fuzzer: each was a crash or a value no node can mean
        (parse_info, {"stacks_tip_height": "9" * 5000, "burn_block_height": 1, "network_id": 1}),
        (parse_info, {"stacks_tip_height": -1, "burn_block_height": 1, "network_id": 1}),
        (parse_account, {"balance": "-0x5", "locked": "0x0", "nonce": 1}),
        (parse_account, {"balance": "0x1_0", "locked": "0x0", "nonce": 1}),
        (parse_account, {"balance": "0x0", "locked": "0x0", "nonce": 2**130}),
        (parse_fee_estimate, {"estimated_fees": {"low": -5, "middle": 1, "high": 2}}),
    ],
)
def test_fuzzer_findings_are_node_errors(parse, body):
    with pytest.raises(NodeError):
        parse(body)
