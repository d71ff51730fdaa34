"""The node client on recorded real bodies, a scripted loopback server and MockTransport."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain import errors, keys
from chain.clarity import Bool, ContractPrincipal, Ok, Tuple, UInt, deserialize
from chain.node import (
    Account,
    ContractCall,
    ContractEvent,
    CursorNotFound,
    FeeEstimate,
    NodeClient,
    NodeError,
    NodeUnavailable,
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
from tests.doubles import Sleeps

RECORDED = Path(__file__).parent / "recorded" / "node"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


# --- parsers on recorded bodies ----------------------------------------------------------------


def test_info_nakamoto_node():
    info = parse_info(recorded("info.json"))
    assert info.stacks_tip_height == 1832097
    assert info.burn_block_height == 16
    assert info.network_id == 1
    assert info.is_fully_synced is False
    assert info.server_version.startswith("stacks-node 3.1.0.0.12")


def test_account_balance_is_hex():
    assert parse_account(recorded("account.json")) == Account(
        balance=0x7A120, locked=0x7A120, nonce=2867, unlock_height=126
    )
    assert parse_account(recorded("account.json")).balance == 500_000


def test_fee_estimate():
    assert parse_fee_estimate(recorded("fee-estimate.json")) == FeeEstimate(17, 125, 140)


def test_read_only_success_and_failure():
    raw = parse_read_only(recorded("read-only-success.json"), "get-x")
    assert deserialize(raw) == UInt(1)
    with pytest.raises(ReadOnlyFailed) as info:
        parse_read_only(recorded("read-only-failure.json"), "get-x")
    assert info.value.cause == "NotReadOnly"
    assert str(info.value) == "read-only get-x failed: NotReadOnly"


def test_tx_mined_contract_call():
    tx = parse_tx(recorded("tx-contract-call.json"))
    assert tx.tx_id == "ee0049faf8dde5507418140ed72bd64f73cc001b08de98e0c16a3a8d9f2c38cf"
    assert (tx.status, tx.raw_status, tx.reason) == (TxStatus.SUCCESS, "success", "")
    assert (tx.nonce, tx.fee_rate, tx.tx_index) == (2, 943, 85)
    assert (tx.block_height, tx.burn_block_height) == (168868, 864594)
    assert tx.sender_address == "SP3F7B2PGN7TVMTNBS1HBJBEC6M64DMCY944MXDD0"
    assert tx.tx_type == "contract_call"
    assert tx.contract_call == ContractCall(
        "SP2N959SER36FZ5QT1CX9BR63W3E8X35WQCMBYYWC.leo-cats", "list-in-ustx"
    )
    assert tx.result is not None and deserialize(tx.result) == Ok(Bool(True))
    assert tx.event_count == 2 and tx.events == ()  # events are listed apart


def test_tx_events_page_log_and_ft():
    page = parse_event_page(recorded("tx-events.json"), "ee" * 32, "/events")
    assert (page.next, page.total) == (None, 2)
    log, ft = page.events
    assert (log.event_index, log.event_type, log.topic) == (0, "contract_log", "print")
    assert log.contract_id == "SP2N959SER36FZ5QT1CX9BR63W3E8X35WQCMBYYWC.leo-cats"
    assert log.tx_id == "ee" * 32
    printed = deserialize(log.value)
    assert isinstance(printed, Tuple)
    assert printed.data["id"] == UInt(3441) and printed.data["price"] == UInt(5147059)
    assert isinstance(printed.data["commission"], ContractPrincipal)
    assert (ft.event_type, ft.asset_event_type, ft.amount) == ("ft_asset", "transfer", 1548865732)
    assert ft.asset_id == "SP3K8BC0PPEVCV7NZ6QSRWPQ2JE9E5B6N3PA0KBR9.brc20-db20::brc20-db20"
    assert ft.sender == "SPP2B792YYNWTM5W8N3TBJT51745K8HPSCP9EFTT"
    assert ft.recipient == "SP38AN2F75Y4AP8ZVA7402XPK77F82TBQX05R8EH6"


def test_tx_token_transfer_and_pending():
    tx = parse_tx(recorded("tx-token-transfer.json"))
    assert tx.contract_call is None and tx.fee_rate == 50 and tx.tx_type == "token_transfer"
    assert (tx.block_height, tx.tx_index, tx.result) == (2, 0, None)  # no ?include=result
    pending = parse_tx(recorded("tx-pending.json"))
    assert pending.status is TxStatus.PENDING and not pending.status.final
    assert (pending.block_height, pending.result, pending.nonce) == (None, None, 1)


def test_contract_logs_page():
    page = parse_contract_logs(recorded("contract-logs.json"))
    (ev,) = page.events
    assert page.older is None
    assert (ev.event_index, ev.tx_id, ev.topic) == (
        0,
        "ee0049faf8dde5507418140ed72bd64f73cc001b08de98e0c16a3a8d9f2c38cf",
        "print",
    )
    assert ev.contract_id == "SP2N959SER36FZ5QT1CX9BR63W3E8X35WQCMBYYWC.leo-cats"


def test_problematic_skipped_is_a_final_drop():
    tx = parse_tx(dict(recorded("tx-contract-call.json"), status="problematic_skipped"))
    assert tx.status is TxStatus.DROPPED and tx.reason == "problematic_skipped"


@pytest.mark.parametrize(
    "raw",
    [
        "dropped_replace_by_fee",
        "dropped_replace_across_fork",
        "dropped_too_expensive",
        "dropped_stale_garbage_collect",
        "dropped_problematic",
    ],
)
def test_dropped_statuses(raw):
    body = dict(recorded("tx-pending.json"), status=raw)
    tx = parse_tx(body)
    assert tx.status is TxStatus.DROPPED and tx.reason == raw and tx.raw_status == raw


@pytest.mark.parametrize(
    ("parse", "body", "words"),
    [
        (parse_account, [], "expected a JSON object, got a list"),
        (parse_account, {"locked": "0x0", "nonce": 1}, "missing field 'balance'"),
        (parse_account, {"balance": "zz", "locked": "0x0", "nonce": 1}, "body.balance"),
        (parse_account, {"balance": "0x1", "locked": "0x0", "nonce": "1.5"}, "body.nonce"),
        (parse_account, {"balance": "0x1", "locked": "0x0", "nonce": True}, "body.nonce"),
        (parse_info, {"stacks_tip_height": 1, "burn_block_height": 2}, "'network_id'"),
        (parse_fee_estimate, {"estimations": [{"fee": 1}]}, "expected 3 entries"),
        (parse_fee_estimate, {"estimations": [{"fee": 1.5}] * 3}, "estimations[0].fee"),
        (parse_fee_estimate, {"estimated_fees": {"low": 1}}, "'estimations'"),
        (parse_tx, dict(recorded("tx-pending.json"), status="weird"), "unknown status"),
        (parse_tx, dict(recorded("tx-contract-call.json"), result={"repr": "x"}), "'hex'"),
        (parse_tx, dict(recorded("tx-contract-call.json"), sender="SP1"), "body.sender"),
        (parse_contract_logs, {"results": "none"}, "body.results"),
        (parse_contract_logs, {"results": [{"event_index": 0}]}, "event_type"),
    ],
)
def test_malformed_bodies_are_node_errors(parse, body, words):
    with pytest.raises(NodeError) as info:
        parse(body)
    assert words in str(info.value)


# --- a scripted loopback server ----------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Loopback:
    """Replies per (method, path) in order; the last reply repeats once the script runs out."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.url = ""

    def script(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def next(self, method: str, path: str) -> Reply:
        with self.lock:
            queue = self.routes.get((method, path.split("?")[0]))
            if not queue:
                return Reply(404, {"error": "unscripted"})
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(lb: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            with lb.lock:
                lb.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            reply = lb.next(self.command, self.path)
            time.sleep(reply.delay)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        do_GET = do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server():
    lb = Loopback()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lb))
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    lb.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield lb
    httpd.shutdown()
    httpd.server_close()


def client(url: str, **kw: Any) -> tuple[NodeClient, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("timeout", 2.0)
    return NodeClient(url, sleep=sleeps, rng=random.Random(7), **kw), sleeps


INFO = recorded("info.json")
RAW_TX = b"\x80\x80\x00\x00\x00\x00not-a-real-transaction"
OUR_TXID = keys.sha512_256(RAW_TX).hex()
OTHER_TXID = "ab" * 32


def test_503_twice_then_200_is_retried_with_jittered_backoff(server):
    server.script("GET", "/v2/info", Reply(503, "busy"), Reply(503, "busy"), Reply(200, INFO))
    node, sleeps = client(server.url, backoff=0.5)
    assert node.info().stacks_tip_height == 1832097
    assert len(server.seen) == 3 and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0
    assert sleeps != [0.5, 1.0]  # full jitter, not a fixed schedule


def test_backoff_is_capped_by_max_backoff(server):
    server.script("GET", "/v2/info", Reply(502, "bad gateway"))
    node, sleeps = client(server.url, retries=6, backoff=1.0, max_backoff=2.0)
    with pytest.raises(NodeUnavailable) as info:
        node.info()
    assert len(server.seen) == 7 and len(sleeps) == 6
    assert all(0 <= s <= 2.0 for s in sleeps)
    assert "GET /v2/info" in str(info.value) and "HTTP 502" in str(info.value)


def test_429_honours_retry_after_capped(server):
    server.script(
        "GET",
        "/v2/info",
        Reply(429, "slow down", {"Retry-After": "3"}),
        Reply(429, "slow down", {"Retry-After": "100"}),
        Reply(200, INFO),
    )
    node, sleeps = client(server.url, max_backoff=8.0)
    assert node.info().network_id == 1
    assert sleeps == [3.0, 60.0]  # Hiro's windows are a minute: more than max_backoff, capped


def test_hang_longer_than_timeout_gives_up(server):
    server.script("GET", "/v2/info", Reply(200, INFO, delay=1.5))
    node, sleeps = client(server.url, timeout=0.2, retries=1)
    started = time.monotonic()
    with pytest.raises(NodeUnavailable) as info:
        node.info()
    assert time.monotonic() - started < 1.2
    assert info.value.attempts == 2 and len(sleeps) == 1
    assert "timed out" in str(info.value)


def test_connection_refused_after_all_attempts():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node, sleeps = client(f"http://127.0.0.1:{port}", retries=4)
    with pytest.raises(NodeUnavailable) as info:
        node.info()
    assert info.value.attempts == 5 and len(sleeps) == 4
    assert str(info.value).startswith("GET /v2/info: node unavailable after 5 attempts: Connect")


def test_garbage_json_is_a_node_error_not_retried(server):
    server.script("GET", "/v2/info", Reply(200, b"<html>oops"))
    node, sleeps = client(server.url)
    with pytest.raises(NodeError) as info:
        node.info()
    assert "body is not JSON: <html>oops" in str(info.value)
    assert len(server.seen) == 1 and sleeps == []


def test_other_4xx_is_a_node_error_not_retried(server):
    principal = "ST2ZRX0K27GW0SP3GJCEMHD95TQGJMKB7G9Y0X1MH"
    server.script("GET", f"/v2/accounts/{principal}", Reply(400, {"error": "bad principal"}))
    node, sleeps = client(server.url)
    with pytest.raises(NodeError) as info:
        node.account(principal)
    assert info.value.status == 400 and "bad principal" in str(info.value)
    assert len(server.seen) == 1 and sleeps == []


def test_account_request_and_parse(server):
    principal = "ST2ZRX0K27GW0SP3GJCEMHD95TQGJMKB7G9Y0X1MH"
    server.script("GET", f"/v2/accounts/{principal}", Reply(200, recorded("account.json")))
    node, _ = client(server.url)
    assert node.account(principal).nonce == 2867
    assert server.seen[0].path == f"/v2/accounts/{principal}?proof=0"


def test_fee_estimate_request(server):
    request = recorded("fee-request.json")
    server.script("POST", "/v2/fees/transaction", Reply(200, recorded("fee-estimate.json")))
    node, _ = client(server.url)
    payload = bytes.fromhex(request["transaction_payload"])
    assert node.estimate_fee(payload, request["estimated_len"]) == FeeEstimate(17, 125, 140)
    assert json.loads(server.seen[0].body) == request


def test_read_only_request_and_failure(server):
    path = "/v2/contracts/call-read/ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM/oracle/get-price"
    server.script(
        "POST",
        path,
        Reply(200, recorded("read-only-success.json")),
        Reply(200, recorded("read-only-failure.json")),
    )
    node, _ = client(server.url)
    contract = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.oracle"
    sender = "ST2ZRX0K27GW0SP3GJCEMHD95TQGJMKB7G9Y0X1MH"
    arg = bytes.fromhex("0100000000000000000000000000000007")
    assert deserialize(node.call_read_only(contract, "get-price", [arg], sender)) == UInt(1)
    assert json.loads(server.seen[0].body) == {"sender": sender, "arguments": ["0x" + arg.hex()]}
    with pytest.raises(ReadOnlyFailed):
        node.call_read_only(contract, "get-price", [arg], sender)


def test_tx_lookup_path_params_and_404(server):
    path = f"/extended/v3/transactions/0x{OUR_TXID}"
    server.script("GET", path, Reply(200, recorded("tx-pending.json")))
    server.script(
        "GET",
        f"/extended/v3/transactions/0x{OTHER_TXID}",
        Reply(404, recorded("tx-not-found.json")),
    )
    node, sleeps = client(server.url)
    assert node.tx("0x" + OUR_TXID).status is TxStatus.PENDING
    assert server.seen[0].path == f"{path}?include=result"
    assert node.tx(OTHER_TXID) is None
    assert sleeps == []


def test_broadcast_success_sends_raw_bytes_once(server):
    server.script("POST", "/v2/transactions", Reply(200, OUR_TXID))
    node, _ = client(server.url)
    assert node.broadcast(RAW_TX) == OUR_TXID
    (seen,) = server.seen
    assert seen.body == RAW_TX and seen.headers["content-type"] == "application/octet-stream"


def test_broadcast_success_with_a_different_txid_is_an_error(server):
    server.script("POST", "/v2/transactions", Reply(200, "0x" + OTHER_TXID))
    node, _ = client(server.url)
    with pytest.raises(NodeError) as info:
        node.broadcast(RAW_TX)
    assert OUR_TXID in str(info.value)


def test_recorded_rejection_is_bad_nonce_and_not_retried(server):
    server.script("POST", "/v2/transactions", Reply(400, recorded("broadcast-rejected.json")))
    node, sleeps = client(server.url)
    with pytest.raises(errors.BadNonce) as info:
        node.broadcast(RAW_TX)
    assert '"expected": 0' in info.value.detail and "caf6fd60" in info.value.detail
    assert len(server.seen) == 1 and sleeps == []


def _refusal(reason: str, txid: str) -> dict[str, Any]:
    return {"error": "transaction rejected", "reason": reason, "reason_data": {}, "txid": txid}


@pytest.mark.parametrize(("reason", "cls"), sorted(errors.REASONS.items()))
def test_each_rejection_reason_is_its_class(server, reason, cls):
    server.script("POST", "/v2/transactions", Reply(400, _refusal(reason, OTHER_TXID)))
    node, _ = client(server.url)
    with pytest.raises(errors.Rejected) as info:
        node.broadcast(RAW_TX)
    assert type(info.value) is cls and info.value.reason == reason
    assert len(server.seen) == 1


def test_unknown_reason_stays_a_plain_rejection(server):
    server.script("POST", "/v2/transactions", Reply(400, _refusal("SomethingNew", OTHER_TXID)))
    node, _ = client(server.url)
    with pytest.raises(errors.Rejected) as info:
        node.broadcast(RAW_TX)
    assert type(info.value) is errors.Rejected and info.value.reason == "SomethingNew"


def test_conflicting_nonce_for_our_own_txid_is_success(server):
    refusal = _refusal("ConflictingNonceInMempool", "0x" + OUR_TXID)
    server.script("POST", "/v2/transactions", Reply(400, refusal))
    node, _ = client(server.url)
    assert node.broadcast(RAW_TX) == OUR_TXID


def test_already_in_mempool_wording_for_our_own_txid_is_success(server):
    refusal = dict(_refusal("Other", OUR_TXID), error="transaction already in mempool")
    server.script("POST", "/v2/transactions", Reply(400, refusal))
    node, _ = client(server.url)
    assert node.broadcast(RAW_TX) == OUR_TXID


@pytest.mark.parametrize("cls", [errors.BadNonce, errors.ContractAlreadyExists])
def test_other_refusals_of_our_own_txid_are_still_rejections(server, cls):
    server.script("POST", "/v2/transactions", Reply(400, _refusal(cls.reason, OUR_TXID)))
    node, _ = client(server.url)
    with pytest.raises(cls):
        node.broadcast(RAW_TX)


def test_api_key_header_present_only_when_configured_and_never_shown(server):
    server.script("GET", "/v2/info", Reply(200, INFO))
    server.script("GET", "/v2/accounts/SP1", Reply(403, {"error": "forbidden"}))
    keyed, _ = client(server.url, api_key="sekrit-key-123")
    keyed.info()
    with pytest.raises(NodeError) as info:
        keyed.account("SP1")
    plain, _ = client(server.url)
    plain.info()
    assert server.seen[0].headers["x-api-key"] == "sekrit-key-123"
    assert "x-api-key" not in server.seen[2].headers
    assert "sekrit" not in repr(keyed) and "sekrit" not in str(info.value)


# --- MockTransport: broadcast after a network error, event paging ------------------------------


def test_broadcast_retried_after_network_error_then_in_mempool_is_success():
    calls: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        if len(calls) == 1:
            raise httpx.ConnectError("connection reset", request=request)
        return httpx.Response(400, json=_refusal("ConflictingNonceInMempool", OUR_TXID))

    sleeps = Sleeps()
    node = NodeClient("http://node", transport=httpx.MockTransport(handler), sleep=sleeps)
    assert node.broadcast(RAW_TX) == OUR_TXID
    assert calls == [RAW_TX, RAW_TX] and len(sleeps) == 1


def test_broadcast_unavailable_message_names_no_bytes():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    node = NodeClient(
        "http://node", transport=httpx.MockTransport(handler), sleep=Sleeps(), retries=2
    )
    with pytest.raises(NodeUnavailable) as info:
        node.broadcast(RAW_TX)
    text = str(info.value)
    assert text == "POST /v2/transactions: node unavailable after 3 attempts: ConnectError: refused"
    assert RAW_TX.hex() not in text


CONTRACT = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.bithedge-vault"


def _event(i: int) -> dict[str, Any]:
    """Event i of the contract's history; two prints per transaction, one transaction a block."""
    return {
        "event_index": i % 2,
        "event_type": "smart_contract_log",
        "tx_id": f"0x{i // 2:064x}",
        "contract_log": {
            "contract_id": CONTRACT,
            "topic": "print",
            "value": {"hex": "0x" + UInt(i).serialize().hex(), "repr": f"u{i}"},
        },
    }


def _pos(i: int) -> str:
    return f"{i // 2}:0:0:{i % 2}"


class History:
    """The v2 logs endpoint: newest first, position cursors; `grow` appends after the first
    page (new events above the pages still to come)."""

    def __init__(self, n: int, grow_after_first_page: int = 0):
        self.events = [_event(i) for i in range(n)]
        self.grow = grow_after_first_page
        self.pages: list[tuple[int, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/extended/v2/smart-contracts/{CONTRACT}/logs"
        limit, cursor = int(request.url.params["limit"]), request.url.params.get("cursor")
        assert 1 <= limit <= 100
        self.pages.append((limit, cursor))
        order = list(range(len(self.events)))[::-1]
        if cursor is not None:
            at = tuple(int(x) for x in cursor.split(":"))
            order = [i for i in order if (i // 2, 0, 0, i % 2) <= at]
        page, older = order[:limit], order[limit : limit + 1]
        body = {
            "limit": limit,
            "offset": 0,
            "total": len(self.events),
            "next_cursor": None,
            "prev_cursor": _pos(older[0]) if older else None,
            "cursor": _pos(page[0]) if page else None,
            "results": [self.events[i] for i in page],
        }
        if len(self.pages) == 1:
            n = len(self.events)
            self.events += [_event(n + k) for k in range(self.grow)]
        return httpx.Response(200, json=body)


def _numbers(events: list[ContractEvent]) -> list[int]:
    return [deserialize(e.value).value for e in events]  # type: ignore[attr-defined]


def _cursor(i: int) -> tuple[str, int]:
    return (f"0x{i // 2:064x}", i % 2)


def test_events_since_pages_down_to_the_cursor_and_returns_oldest_first():
    history = History(23)
    node = NodeClient("http://api", transport=httpx.MockTransport(history))
    assert _numbers(node.contract_events_since(CONTRACT, _cursor(9), page=5)) == list(range(10, 23))
    assert history.pages == [(5, None), (5, _pos(17)), (5, _pos(12))]


def test_events_since_none_returns_the_whole_history():
    history = History(12)
    node = NodeClient("http://api", transport=httpx.MockTransport(history))
    assert _numbers(node.contract_events_since(CONTRACT, None, page=5)) == list(range(12))
    assert history.pages == [(5, None), (5, _pos(6)), (5, _pos(1))]


def test_events_since_the_newest_is_empty():
    node = NodeClient("http://api", transport=httpx.MockTransport(History(12)))
    assert node.contract_events_since(CONTRACT, _cursor(11), page=5) == []


def test_events_arriving_while_paging_are_neither_repeated_nor_skipped():
    history = History(12, grow_after_first_page=2)
    node = NodeClient("http://api", transport=httpx.MockTransport(history))
    got = _numbers(node.contract_events_since(CONTRACT, _cursor(3), page=5))
    assert got == list(range(4, 12))  # 12 and 13 arrived after the first page: next call's


def test_events_since_a_vanished_cursor_raises():
    node = NodeClient("http://api", transport=httpx.MockTransport(History(7)))
    with pytest.raises(CursorNotFound):
        node.contract_events_since(CONTRACT, ("0x" + "ee" * 32, 0), page=5)


def test_pages_beyond_hiros_limit_are_refused_before_asking():
    node = NodeClient("http://api", transport=httpx.MockTransport(History(3)))
    with pytest.raises(ValueError):
        node.contract_logs(CONTRACT, limit=101)
    with pytest.raises(ValueError):
        node.tx_events("ab" * 32, limit=101)


def test_all_tx_events_follows_the_cursor_and_counts():
    txid = "ab" * 32
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/extended/v3/transactions/0x{txid}/events"
        assert request.url.params["limit"] == "100"
        cursor = request.url.params.get("cursor")
        seen.append(cursor)
        start = int(cursor or 0)
        rows = list(range(start, min(start + 100, 250)))
        nxt = str(start + 100) if start + 100 < 250 else None
        results = [
            {
                "event_index": i,
                "type": "stx_lock",
                "stx_lock": {"amount": "1", "unlock_bitcoin_height": 1, "address": "SP1"},
            }
            for i in rows
        ]
        page = {"total": 250, "limit": 100, "results": results,
                "cursor": {"next": nxt, "previous": None, "current": str(start)}}  # fmt: skip
        return httpx.Response(200, json=page)

    node = NodeClient("http://api", transport=httpx.MockTransport(handler))
    events = node.all_tx_events(txid, expected=250)
    assert [e.event_index for e in events] == list(range(250))
    assert seen == [None, "100", "200"]
    with pytest.raises(NodeError):
        node.all_tx_events(txid, expected=251)


def test_a_text_plain_400_on_broadcast_is_a_typed_rejection():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="Failed to deserialize posted transaction: eof")

    node = NodeClient("http://node", transport=httpx.MockTransport(handler), sleep=Sleeps())
    with pytest.raises(errors.DeserializationError) as info:
        node.broadcast(RAW_TX)
    assert "Failed to deserialize posted transaction: eof" in str(info.value)


def test_a_410_is_a_node_error_at_once_and_counts_as_no_answer():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(410, json={"error": "Gone", "message": "disabled"})

    node = NodeClient("http://node", transport=httpx.MockTransport(handler), sleep=Sleeps())
    with pytest.raises(errors.BadAnswer) as info:
        node.info()
    assert isinstance(info.value, NodeError) and info.value.status == 410 and len(calls) == 1
    assert "endpoint gone" in str(info.value)


def test_retry_after_as_an_http_date_and_ratelimit_reset_as_a_time():
    replies = iter([
        httpx.Response(429, headers={"Retry-After": "Fri, 15 Jan 2027 08:00:10 GMT"}),
        httpx.Response(429, headers={"ratelimit-reset": "1800000030"}),
        httpx.Response(200, json=INFO),
    ])  # fmt: skip
    sleeps = Sleeps()
    node = NodeClient("http://node", transport=httpx.MockTransport(lambda r: next(replies)),
                      sleep=sleeps, clock=lambda: 1.8e9)  # fmt: skip
    assert node.info().network_id == 1
    assert sleeps == [10.0, 30.0]
