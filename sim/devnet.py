"""A local devnet: a Stacks-node stand-in on loopback, backed by the Clarity VM.

No stacks-node runs here (STACKS-TOOLING.md), so live mode is tried and tested against this:
the node's HTTP endpoints (the ones `chain/node.py` uses, in the shapes the Stacks node and the
Hiro API answer with) in front of a `SimChain` whose executor is the real Clarity VM (the
Clarinet SDK simnet, through the JSON-lines bridge). Each broadcast is first decoded and its
origin signature checked by `@stacks/transactions` in the bridge, then admitted by SimChain's
node rules (nonce, 25-per-sender chaining, fee, replace-by-fee, balance); blocks are mined on a
wall-clock timer, Stacks blocks every `block_seconds` and burn blocks every `burn_seconds`.
Calls run in the VM with the Python models one step ahead (sim/lockstep.py), because only the
models can roll back a call whose post-conditions fail, as a node does.

Why SimChain and not a second mempool written in JavaScript: the admission and ordering rules
then exist once, and the simulator's tests already pin them.

With `executor="python"` the devnet runs on the contract models alone: no Node process, no
reference decoding, a hundred times faster; the crash-restart harness uses it for many trials.

Test controls under `/devnet/` (not node endpoints): mine Stacks or burn blocks on demand, so
that tests need not wait for the timer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import simpy

from chain import errors, keys
from chain import transactions as txs
from chain.clarity import ClarityError, deserialize, principal
from chain.port import ChainEvent, TxReceipt, TxStatus
from sim.chain import Block, ChainConfig
from sim.clarity_vm import BridgeError
from sim.genesis import SBTC_UNIT, STX_UNIT, Deployment, deploy

NETWORK_ID = 0x80000000  # testnet chain id, as /v2/info reports it
MAX_EVENT_PAGE = 50


@dataclass
class _Mined:
    """What the devnet remembers of a transaction, to answer /extended/v1/tx/{txid}."""

    raw: bytes
    receipt: TxReceipt
    received: float
    contract_id: str = ""  # of a contract call
    function: str = ""
    tx_index: int = 0
    block_time: float = 0.0
    events: list[ChainEvent] = field(default_factory=list)


class Devnet:
    """The chain behind the HTTP front. Every access holds one lock: the HTTP threads and the
    block timer never interleave inside SimChain or the bridge."""

    def __init__(
        self,
        *,
        users: int = 4,
        seed: str = "devnet",
        block_seconds: float = 2.0,
        burn_seconds: float = 10.0,
        min_fee: int = 180,
        stx_each: int = 10_000_000 * STX_UNIT,
        sbtc_each: int = 100 * SBTC_UNIT,
        executor: str = "lockstep",
    ):
        self.block_seconds, self.burn_seconds = block_seconds, burn_seconds
        self.lock = threading.RLock()
        self.env = simpy.Environment()
        config = ChainConfig(
            stacks_block_seconds=block_seconds,
            burn_block_seconds=burn_seconds,
            burn_block_shape=0.0,
            min_fee=min_fee,
        )
        self.deployment: Deployment = deploy(
            users,
            stx_each=stx_each,
            sbtc_each=sbtc_each,
            config=config,
            env=self.env,
            executor=executor,
            seed=seed,
        )
        self.chain = self.deployment.chain
        self.deployer = self.deployment.accounts.deployer.principal()
        self.bridge = getattr(self.chain.executor, "bridge", None)  # None: the models only
        self.txs: dict[str, _Mined] = {}
        self.contract_events: dict[str, list[tuple[str, int, ChainEvent]]] = {}
        self.chain.subscribe(self._on_block)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- the node's behaviour ------------------------------------------------------------

    def submit(self, raw: bytes) -> str:
        """Admits a broadcast or raises the node's typed rejection."""
        with self.lock:
            ref = None
            if self.bridge is not None:
                try:
                    ref = self.bridge.request("decode_tx", raw=raw.hex())
                except BridgeError as exc:
                    raise errors.SerializationError(str(exc)) from None
                if not ref["signature_ok"]:
                    raise errors.SignatureValidation(ref["reason"])
            txid = self.chain.submit(raw)
            if ref is not None and txid != ref["txid"]:  # the decoders disagree: refuse
                raise errors.SerializationError(f"txid {txid} differs from {ref['txid']}")
            payload = txs.decode(raw).payload
            mined = _Mined(raw, self.chain.status(txid), time.time())
            if isinstance(payload, txs.ContractCall):
                mined.contract_id, mined.function = payload.contract.address, payload.function
            self.txs[txid] = mined
            return txid

    def _on_block(self, block: Block) -> None:
        now = time.time()
        for index, receipt in enumerate(block.receipts):
            mined = self.txs.get(receipt.txid)
            if mined is None:  # sent to the chain object directly (genesis helpers, tests)
                mined = self.txs[receipt.txid] = _Mined(b"", receipt, now)
                if "." in receipt.call:
                    name, _, mined.function = receipt.call.partition(".")
                    mined.contract_id = f"{self.deployer.address}.{name}"
            mined.receipt, mined.tx_index, mined.block_time = receipt, index, now
        per_tx: dict[str, int] = {}
        for ev in block.events:
            n = per_tx.get(ev.txid, 0)
            per_tx[ev.txid] = n + 1
            mined = self.txs.get(ev.txid)
            if mined is not None:
                mined.events.append(ev)
            if ev.event.kind == "print":
                self.contract_events.setdefault(ev.event.contract, []).append((ev.txid, n, ev))

    def receipt(self, txid: str) -> _Mined | None:
        with self.lock:
            mined = self.txs.get(txid)
            if mined is not None:
                mined.receipt = self.chain.status(txid)  # a replace-by-fee drop lands here
            return mined

    # -- time ----------------------------------------------------------------------------

    def start(self) -> None:
        """Mines on the wall clock from now on, in a daemon thread."""
        self._started = time.monotonic() - self.env.now
        self._timer = threading.Thread(target=self._run, name="devnet-blocks", daemon=True)
        self._timer.start()

    def _run(self) -> None:
        while not self._stop.wait(min(0.2, self.block_seconds / 4)):
            with self.lock:
                target = time.monotonic() - self._started
                if target > self.env.now:
                    self.chain.advance(target - self.env.now)

    def mine(self, n: int = 1) -> None:
        with self.lock:
            self.chain.mine(n)

    def mine_burn(self, n: int = 1) -> None:
        """n burn blocks, each followed by a Stacks block so that the tip reports it."""
        with self.lock:
            for _ in range(n):
                self.chain.mine_burn(1)
                self.chain.mine(1)

    def close(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        with self.lock:
            self.chain.executor.close()


# -- JSON shapes of the node (/v2) and of the Hiro API (/extended) -------------------------


def _hex(value) -> str:
    return "0x" + value.serialize().hex()


def _clarity_json(value) -> dict[str, str]:
    return {"hex": _hex(value), "repr": str(value)}


def _event_json(index: int, ev: ChainEvent) -> dict[str, Any]:
    e = ev.event
    base: dict[str, Any] = {"event_index": index, "tx_id": "0x" + ev.txid}
    if e.kind == "print":
        base["event_type"] = "smart_contract_log"
        base["contract_log"] = {
            "contract_id": e.contract,
            "topic": "print",
            "value": _clarity_json(e.value),
        }
    elif e.kind == "stx_transfer":
        base["event_type"] = "stx_asset"
        base["asset"] = {
            "asset_event_type": "transfer",
            "sender": e.sender,
            "recipient": e.recipient,
            "amount": str(e.amount),
        }
    else:
        base["event_type"] = "fungible_token_asset"
        base["asset"] = {
            "asset_event_type": "mint" if e.kind == "ft_mint" else "transfer",
            "asset_id": e.contract,
            "sender": e.sender,
            "recipient": e.recipient,
            "amount": str(e.amount),
        }
    return base


def tx_json(mined: _Mined) -> dict[str, Any]:
    r = mined.receipt
    body: dict[str, Any] = {
        "tx_id": "0x" + r.txid,
        "nonce": r.nonce,
        "fee_rate": str(r.fee),
        "sender_address": r.sender,
        "sponsored": False,
        "tx_status": r.status.value if r.status is not TxStatus.DROPPED else _dropped(r.reason),
        "receipt_time": int(mined.received),
    }
    if mined.contract_id:
        body["tx_type"] = "contract_call"
        body["contract_call"] = {
            "contract_id": mined.contract_id,
            "function_name": mined.function,
        }
    else:
        body["tx_type"] = "token_transfer"
    if r.status.final and r.status is not TxStatus.DROPPED:
        body.update(
            block_height=r.block_height,
            burn_block_height=r.burn_height,
            block_time=int(mined.block_time),
            tx_index=mined.tx_index,
            canonical=True,
            tx_result=_clarity_json(r.result)
            if r.result is not None
            else {"hex": "0x", "repr": ""},
            event_count=len(mined.events),
            events=[_event_json(i, ev) for i, ev in enumerate(mined.events)],
        )
    return body


def _dropped(reason: str) -> str:
    return "dropped_replace_by_fee" if reason == "ReplaceByFee" else "dropped_problematic"


# -- the HTTP front ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: DevnetServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stderr
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        devnet = self.server.devnet
        try:
            status, body = _dispatch(devnet, method, parts, query, self._body())
        except Exception as exc:  # a bug or a VM error: answer as a node would, 500
            status, body = 500, {"error": f"{type(exc).__name__}: {exc}"}
        self._send(status, body)


def _dispatch(devnet: Devnet, method: str, parts: list[str], query: dict, body: bytes):
    chain = devnet.chain
    match method, parts:
        case "GET", ["v2", "info"]:
            with devnet.lock:
                tip = chain.tip()
            return 200, {
                "peer_version": 0,
                "network_id": NETWORK_ID,
                "parent_network_id": 0x0B110907,
                "server_version": "bithedge-devnet (Clarinet SDK simnet)",
                "burn_block_height": tip.burn_height,
                "stacks_tip_height": tip.stacks_height,
                "stacks_tip": "0x" + keys.sha512_256(str(tip.stacks_height).encode()).hex(),
            }
        case "GET", ["v2", "accounts", who]:
            try:
                p = principal(who)
            except (ClarityError, ValueError):
                return 400, {"error": f"invalid principal {who}"}
            with devnet.lock:
                balance = chain.balances(p).stx
                nonce = chain.nonce(p)
            return 200, {
                "balance": f"0x{balance:032x}",
                "locked": "0x" + "0" * 32,
                "unlock_height": 0,
                "nonce": nonce,
                "balance_proof": "",
                "nonce_proof": "",
            }
        case "POST", ["v2", "fees", "transaction"]:
            fee = chain.config.min_fee
            return 200, {
                "estimated_cost_scalar": 1,
                "cost_scalar_change_by_byte": 0.0,
                "estimations": [
                    {"fee_rate": 1.0, "fee": fee},
                    {"fee_rate": 2.0, "fee": fee * 2},
                    {"fee_rate": 4.0, "fee": fee * 4},
                ],
            }
        case "POST", ["v2", "transactions"]:
            try:
                return 200, devnet.submit(body)
            except errors.Rejected as exc:
                txid = keys.sha512_256(body).hex()
                return 400, {
                    "error": "transaction rejected",
                    "reason": exc.reason,
                    "reason_data": {"message": exc.detail},
                    "txid": txid,
                }
        case "POST", ["v2", "contracts", "call-read", address, name, function]:
            req = json.loads(body or b"{}")
            try:
                args = [deserialize(bytes.fromhex(a.removeprefix("0x"))) for a in req["arguments"]]
                with devnet.lock:
                    result = chain.read_only(principal(f"{address}.{name}"), function, args)
            except (BridgeError, ClarityError, KeyError, ValueError) as exc:
                return 200, {"okay": False, "cause": str(exc)}
            return 200, {"okay": True, "result": _hex(result)}
        case "GET", ["extended", "v1", "tx", txid]:
            mined = devnet.receipt(txid.removeprefix("0x"))
            if mined is None:
                return 404, {"error": f"could not find transaction by ID {txid}"}
            return 200, tx_json(mined)
        case "GET", ["extended", "v1", "contract", contract_id, "events"]:
            limit = min(int(query.get("limit", 20)), MAX_EVENT_PAGE)
            offset = int(query.get("offset", 0))
            with devnet.lock:
                events = list(devnet.contract_events.get(contract_id, ()))
            newest_first = events[::-1][offset : offset + limit]
            return 200, {
                "limit": limit,
                "offset": offset,
                "results": [
                    {**_event_json(index, ev), "tx_id": "0x" + txid}
                    for txid, index, ev in newest_first
                ],
            }
        case "POST", ["devnet", "mine"]:
            devnet.mine(int(query.get("n", 1)))
            return 200, _tip(devnet)
        case "POST", ["devnet", "mine_burn"]:
            devnet.mine_burn(int(query.get("n", 1)))
            return 200, _tip(devnet)
    return 404, {"error": f"no route {method} /{'/'.join(parts)}"}


def _tip(devnet: Devnet) -> dict[str, int]:
    with devnet.lock:
        tip = devnet.chain.tip()
    return {"stacks_height": tip.stacks_height, "burn_height": tip.burn_height}


class DevnetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, devnet: Devnet, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.devnet = devnet

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-request (a killed engine) is not the server's error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="devnet-http", daemon=True)
        thread.start()
        return thread
