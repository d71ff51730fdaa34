"""A local devnet: a Stacks-node stand-in on loopback, backed by the Clarity VM.

No stacks-node runs here (STACKS-TOOLING.md), so live mode is tried and tested against this:
the node's HTTP endpoints (the ones `chain/node.py` uses, in the shapes the Stacks node and the
Hiro API answer with) in front of a `SimChain` whose executor is the real Clarity VM (the
Clarinet SDK simnet, through the JSON-lines bridge). Each broadcast is first decoded and its
origin signature checked by `@stacks/transactions` in the bridge, then admitted by SimChain's
node rules (nonce, 25-per-sender chaining, fee, replace-by-fee, balance); blocks are mined on
the wall clock (SimChain's own block processes on `simpy.rt`, see `WallClock`), Stacks blocks
every `block_seconds` and burn blocks every `burn_seconds`.
Calls run in the VM with the Python models one step ahead (sim/lockstep.py), because only the
models can roll back a call whose post-conditions fail, as a node does.

Why SimChain and not a second mempool written in JavaScript: the admission and ordering rules
then exist once, and the simulator's tests already pin them. The node's own mempool rules that
SimChain does not model (stacks-core `can_include_tx`: at least 1 uSTX a byte, a nonce at most
the confirmed one + 26, a transfer the balance covers; identical bytes re-sent answered 200 with
their txid; undecodable or wrongly typed bodies refused in text/plain) are checked here first,
so the simulator's scenario outputs do not move.

The API side answers as Hiro's API 9.x does: `/extended/v3/transactions/{id}` (with `?include=
result`) and `/events`, `/extended/v2/smart-contracts/{id}/logs`, each page at most 100 and a
400 beyond; the deprecated `/extended/v1` endpoints with a `Warning: 299` header. `strict=True`
(`StrictHiro`) is the API on its sunset day: `/extended/v1` answers 410 Gone, and a per-window
rate limit sends 429 with `Retry-After` and the rate-limit headers on every response.
tests/chain/schemas/ holds the JSON schemas every response here must validate against.

With `executor="python"` the devnet runs on the contract models alone: no Node process, no
reference decoding, a hundred times faster; the crash-restart harness uses it for many trials.

Test controls under `/devnet/` (not node endpoints): mine Stacks or burn blocks on demand, so
that tests need not wait for the timer.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import simpy
import simpy.rt

from chain import errors, keys
from chain import transactions as txs
from chain.clarity import ClarityError, deserialize, principal
from chain.port import ChainEvent, TxReceipt, TxStatus
from sim.chain import Block, ChainConfig
from sim.clarity_vm import BridgeError
from sim.genesis import SBTC_UNIT, STX_UNIT, Deployment, deploy
from sim.models.clock import BURN_BLOCK_SECONDS

NETWORK_ID = 0x80000000  # testnet chain id, as /v2/info reports it
MAX_EVENT_PAGE = 100  # Hiro: pagingQueryLimits[Event].maxLimit
DEFAULT_EVENT_PAGE = 20  # Hiro: pagingQueryLimits[Event].defaultLimit
MAX_CHAINING = 25  # stacks-core MAXIMUM_MEMPOOL_TX_CHAINING: nonces up to confirmed + 1 + 25
FEE_PER_BYTE = 1  # stacks-core MINIMUM_TX_FEE_RATE_PER_BYTE
_TXID = re.compile(r"^(0x)?[a-fA-F0-9]{64}$")
_LOG_CURSOR = re.compile(r"^[0-9]+:[0-9]+:[0-9]+:[0-9]+$")


class WallClock(simpy.rt.RealtimeEnvironment):
    """simpy's real-time environment (`simpy.rt`) with the devnet's two needs on top: each
    event runs under the devnet's lock, because the HTTP threads change SimChain (broadcasts,
    on-demand mining) between the timer's events, and the wait for the next event is cut
    short by `stop` so that `close` never waits out a block interval. Not strict: an event
    late because an HTTP request held the lock just runs late, as a slow node's block would."""

    def __init__(self, lock: threading.RLock, stop: threading.Event):
        super().__init__(strict=False)
        self._lock, self._stop = lock, stop

    def start(self) -> None:
        """Wall time starts now, from the chain time already spent (genesis, tests)."""
        self.env_start = self.now
        self.sync()

    def step(self) -> None:
        with self._lock:
            due = self.peek()
        if due == math.inf:
            raise simpy.core.EmptySchedule()
        wait = self.real_start + (due - self.env_start) * self.factor - time.monotonic()
        if wait > 0 and self._stop.wait(wait):
            return  # closing: the event stays unrun
        with self._lock:
            simpy.Environment.step(self)


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
    receipt_height: int = 0  # the Stacks height when the mempool took it
    events: list[ChainEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A node's JSON refusal of a broadcast: its reason and `reason_data` (stacks-core
    `MemPoolRejection::into_json`)."""

    reason: str
    data: dict[str, Any] | None


class Undecodable(Exception):
    """The node could not read the request at all: its text/plain 400."""


@dataclass(frozen=True, slots=True)
class StrictHiro:
    """Hiro's API past the sunset of /extended/v1, with a rate limit of `limit` requests per
    `window` seconds (Hiro: 50 a minute without a key)."""

    limit: int = 50
    window: float = 60.0


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
        min_fee: int = 1,  # stacks-core MINIMUM_TX_FEE; the per-byte floor is checked here
        stx_each: int = 10_000_000 * STX_UNIT,
        sbtc_each: int = 100 * SBTC_UNIT,
        executor: str = "lockstep",
        parameters: Mapping[str, int] | None = None,
    ):
        """`parameters`: the deployment's own starting values (sim/genesis.py). A fast devnet's
        burn block comes every `burn_seconds` of wall time but adds 600 s of chain time
        (sim/models/clock.py), so a 60 s quote would die with the next burn block, before a
        wallet could sign it: unless `parameters` say otherwise, quotes there live three burn
        blocks of chain time, as v1's did (`quote-ttl-seconds` 1800, deployed so), and the
        purchase's BTC-USD observation may be 20 s of wall time old (`quote-price-blocks`). A
        real network keeps the contract's defaults."""
        values = dict(parameters or {})
        if burn_seconds < BURN_BLOCK_SECONDS:
            values.setdefault("quote-ttl-seconds", 3 * BURN_BLOCK_SECONDS)
            # and the purchase's BTC-USD observation may be up to 20 s of wall time old (a
            # real network's one block of slack is ten minutes)
            values.setdefault("quote-price-blocks", max(1, math.ceil(20 / burn_seconds)))
        self.block_seconds, self.burn_seconds = block_seconds, burn_seconds
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self.env = WallClock(self.lock, self._stop)  # runs only once `start` is called
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
            parameters=values,
        )
        self.chain = self.deployment.chain
        self.deployer = self.deployment.accounts.deployer.principal()
        self.bridge = getattr(self.chain.executor, "bridge", None)  # None: the models only
        self.txs: dict[str, _Mined] = {}
        # per contract, oldest first: (block height, tx index, event index) and the event
        self.contract_events: dict[str, list[tuple[tuple[int, int, int], str, ChainEvent]]] = {}
        self.chain.subscribe(self._on_block)
        self._timer: threading.Thread | None = None

    # -- the node's behaviour ------------------------------------------------------------

    def submit(self, raw: bytes) -> str:
        """Admits a broadcast or raises the node's typed rejection."""
        with self.lock:
            txid = keys.sha512_256(raw).hex()
            known = self.txs.get(txid)
            if (
                known is not None
                and known.raw
                and self.chain.status(txid).status is not (TxStatus.DROPPED)
            ):
                return txid  # a node holding these bytes answers 200 with their txid
            ref = None
            if self.bridge is not None:
                try:
                    ref = self.bridge.request("decode_tx", raw=raw.hex())
                except BridgeError as exc:
                    raise errors.SerializationError(str(exc)) from None
                if not ref["signature_ok"]:
                    raise errors.SignatureValidation(ref["reason"])
            self._node_rules(raw)
            txid = self.chain.submit(raw)
            if ref is not None and txid != ref["txid"]:  # the decoders disagree: refuse
                raise errors.SerializationError(f"txid {txid} differs from {ref['txid']}")
            payload = txs.decode(raw).payload
            mined = _Mined(raw, self.chain.status(txid), time.time())
            mined.receipt_height = self.chain.tip().stacks_height
            if isinstance(payload, txs.ContractCall):
                mined.contract_id, mined.function = payload.contract.address, payload.function
            self.txs[txid] = mined
            return txid

    def _node_rules(self, raw: bytes) -> None:
        """stacks-core's mempool checks that SimChain does not make (`can_include_tx`)."""
        try:
            tx = txs.decode(raw)
        except txs.TransactionError as exc:
            raise errors.SerializationError(str(exc)) from None
        fee, nonce, sender = tx.auth.fee, tx.auth.nonce, tx.sender
        if fee < max(1, len(raw) * FEE_PER_BYTE):
            raise errors.FeeTooLow(json.dumps({"expected": len(raw) * FEE_PER_BYTE, "actual": fee}))
        confirmed = self.chain.nonce(sender)
        if nonce > confirmed + 1 + MAX_CHAINING:
            raise errors.TooMuchChaining(
                json.dumps(
                    {
                        "message": "Nonce would exceed chaining limit in mempool",
                        "expected": confirmed + 1 + MAX_CHAINING,
                        "actual": nonce,
                        "principal": sender.address,
                        "is_origin": True,
                    }
                )
            )
        if nonce < confirmed:
            raise errors.BadNonce(
                json.dumps(
                    {
                        "expected": confirmed,
                        "actual": nonce,
                        "principal": sender.address,
                        "is_origin": True,
                    }
                )
            )
        payload = tx.payload
        spent = fee + (payload.amount if isinstance(payload, txs.TokenTransfer) else 0)
        balance = self.chain.executor.stx_balance(sender)
        if spent > balance:
            raise errors.NotEnoughFunds(
                json.dumps({"expected": f"0x{spent:032x}", "actual": f"0x{balance:032x}"})
            )

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
                at = (block.height, mined.tx_index if mined else 0, n)
                self.contract_events.setdefault(ev.event.contract, []).append((at, ev.txid, ev))

    def receipt(self, txid: str) -> _Mined | None:
        with self.lock:
            mined = self.txs.get(txid)
            if mined is not None:
                mined.receipt = self.chain.status(txid)  # a replace-by-fee drop lands here
            return mined

    # -- time ----------------------------------------------------------------------------

    def start(self) -> None:
        """Mines on the wall clock from now on, in a daemon thread."""
        self.env.start()
        self._timer = threading.Thread(target=self._run, name="devnet-blocks", daemon=True)
        self._timer.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.env.step()

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


def _hash(*parts: object) -> str:
    """A stable stand-in for a block or consensus hash (the devnet has no real blocks)."""
    return keys.sha512_256(":".join(map(str, parts)).encode()).hex()


def event_json(index: int, ev: ChainEvent) -> dict[str, Any]:
    """One event as `/extended/v3/transactions/{id}/events` lists it."""
    e = ev.event
    if e.kind == "print":
        log = {"contract_id": e.contract, "topic": "print", "value": _clarity_json(e.value)}
        return {"event_index": index, "type": "contract_log", "contract_log": log}
    if e.kind == "stx_transfer":
        asset = {"type": "transfer", "sender": e.sender, "recipient": e.recipient,
                 "amount": str(e.amount), "memo": None}  # fmt: skip
        return {"event_index": index, "type": "stx_asset", "stx_asset": asset}
    ft: dict[str, Any] = {"type": "mint" if e.kind == "ft_mint" else "transfer",
                          "asset_identifier": e.contract}  # fmt: skip
    if e.kind != "ft_mint":
        ft["sender"] = e.sender
    ft.update(recipient=e.recipient, amount=str(e.amount))
    return {"event_index": index, "type": "ft_asset", "ft_asset": ft}


def _log_json(txid: str, index: int, ev: ChainEvent) -> dict[str, Any]:
    """One print as `/extended/v2/smart-contracts/{id}/logs` (and v1 events) list it."""
    log = {
        "contract_id": ev.event.contract,
        "topic": "print",
        "value": _clarity_json(ev.event.value),
    }
    return {"event_index": index, "event_type": "smart_contract_log", "tx_id": "0x" + txid,
            "contract_log": log}  # fmt: skip


def _kind_json(mined: _Mined) -> dict[str, Any]:
    if mined.contract_id:
        call = {"contract_id": mined.contract_id, "function_name": mined.function}
        return {"type": "contract_call", "contract_call": call}
    recipient, amount, memo = mined.receipt.sender, 0, None
    if mined.raw:
        payload = txs.decode(mined.raw).payload
        if isinstance(payload, txs.TokenTransfer):
            recipient, amount = payload.recipient.address, payload.amount
            memo = {"hex": "0x" + payload.memo.hex(), "repr": payload.memo.decode(errors="replace")}
    transfer = {"recipient": recipient, "amount": str(amount), "memo": memo}
    return {"type": "token_transfer", "token_transfer": transfer}


def _mined(r: TxReceipt) -> bool:
    return r.status.final and r.status is not TxStatus.DROPPED


def tx_json(mined: _Mined, include_result: bool = True) -> dict[str, Any]:
    """A transaction as `/extended/v3/transactions/{id}` returns it: mined, or in the mempool."""
    r = mined.receipt
    body: dict[str, Any] = {
        "tx_id": "0x" + r.txid,
        "sender": {"address": r.sender, "nonce": r.nonce},
        "sponsor": None,
        "fee_rate": str(r.fee),
    }
    if _mined(r):
        time_s = int(mined.block_time)
        body.update(
            block={
                "height": r.block_height,
                "hash": "0x" + _hash("block", r.block_height),
                "index_hash": "0x" + _hash("index", r.block_height),
                "time": time_s,
                "tx_index": mined.tx_index,
            },
            bitcoin_block={"height": r.burn_height, "time": time_s},
            status=r.status.value,
            parent_block={
                "hash": "0x" + _hash("block", r.block_height - 1),
                "index_hash": "0x" + _hash("index", r.block_height - 1),
            },
            event_count=len(mined.events),
            execution_cost={
                "read_count": 0,
                "read_length": 0,
                "runtime": 0,
                "write_count": 0,
                "write_length": 0,
            },
            vm_error=None,
        )
        if include_result:
            body["result"] = _clarity_json(r.result) if r.result is not None else None
            if body["result"] is None:
                del body["result"]
    else:
        body.update(
            receipt_time=int(mined.received),
            receipt_block_height=mined.receipt_height,
            status=r.status.value if r.status is TxStatus.PENDING else _dropped(r.reason),
            replaced_by_tx_id=None,
        )
    body.update(_kind_json(mined))
    return body


def v1_tx_json(mined: _Mined, limit: int, offset: int) -> dict[str, Any]:
    """The deprecated `/extended/v1/tx/{id}` shape, for a client that still calls it."""
    r = mined.receipt
    body: dict[str, Any] = {
        "tx_id": "0x" + r.txid,
        "nonce": r.nonce,
        "fee_rate": str(r.fee),
        "sender_address": r.sender,
        "sponsored": False,
        "tx_status": r.status.value if r.status is not TxStatus.DROPPED else _dropped(r.reason),
        "tx_type": "contract_call" if mined.contract_id else "token_transfer",
    }
    if mined.contract_id:
        body["contract_call"] = {"contract_id": mined.contract_id, "function_name": mined.function}
    if _mined(r):
        page = mined.events[offset : offset + limit]
        body.update(block_height=r.block_height, burn_block_height=r.burn_height,
                    tx_index=mined.tx_index, event_count=len(mined.events),
                    tx_result=_clarity_json(r.result) if r.result is not None else None,
                    events=[_log_json(r.txid, offset + i, ev) for i, ev in enumerate(page)
                            if ev.event.kind == "print"])  # fmt: skip
    return body


def _dropped(reason: str) -> str:
    return "dropped_replace_by_fee" if reason == "ReplaceByFee" else "dropped_problematic"


# Reasons whose refusal carries no `reason_data` (stacks-core `MemPoolRejection::into_json`).
_NO_DATA = frozenset({"BadTransactionVersion", "ConflictingNonceInMempool", "NoSuchContract",
                      "NoSuchPublicFunction", "TransferAmountMustBePositive",
                      "BadAddressVersionByte", "TemporarilyBlacklisted"})  # fmt: skip


def refusal_json(exc: errors.Rejected, txid: str) -> dict[str, Any]:
    body: dict[str, Any] = {"txid": txid, "error": "transaction rejected", "reason": exc.reason}
    if exc.reason in _NO_DATA:
        return body
    try:
        data = json.loads(exc.detail)
    except ValueError:
        data = None
    body["reason_data"] = data if isinstance(data, dict) else {"message": exc.detail}
    return body


# -- the HTTP front ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any  # JSON unless `text` is set
    text: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _api_error(status: int, message: str) -> Answer:
    """Hiro's error body (Fastify's): status code, the HTTP phrase and the message."""
    phrase = {400: "Bad Request", 404: "Not Found", 410: "Gone", 429: "Too Many Requests"}
    return Answer(status, {"statusCode": status, "error": phrase.get(status, "Error"),
                           "message": message})  # fmt: skip


class _BadQuery(Exception):
    pass


def _limit(query: dict, lo: int, hi: int, default: int) -> int:
    raw = query.get("limit")
    if raw is None:
        return default
    if not raw.isdigit():
        raise _BadQuery("querystring/limit must be integer")
    value = int(raw)
    if value > hi:
        raise _BadQuery(f"querystring/limit must be <= {hi}")
    if value < lo:
        raise _BadQuery(f"querystring/limit must be >= {lo}")
    return value


def encoded(answer: Answer) -> tuple[bytes, str]:
    """An answer's body bytes and Content-Type, as both fronts (socket and transport) send it."""
    if answer.text:
        return str(answer.body).encode(), "text/plain"
    return json.dumps(answer.body).encode(), "application/json"


class _Handler(BaseHTTPRequestHandler):
    server: DevnetServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stderr
        pass

    def _send(self, answer: Answer) -> None:
        data, kind = encoded(answer)
        self.send_response(answer.status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for k, v in answer.headers.items():
            self.send_header(k, v)
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
        body = self._body()  # read even when unused: the connection is kept alive
        kind = self.headers.get("Content-Type", "")
        self._send(self.server.answer(method, self.path, kind, body))


def _broadcast_bytes(body: bytes, kind: str) -> bytes:
    """The transaction in a POST /v2/transactions body, as stacks-core reads it."""
    if not body:
        raise Undecodable("Invalid Http request: expected non-zero-length body for PostTransaction")
    if kind == "application/octet-stream":
        return body
    if kind == "application/json":
        try:
            tx = json.loads(body)["tx"]
            return bytes.fromhex(tx)
        except (ValueError, KeyError, TypeError):
            raise Undecodable("Failed to parse body") from None
    if not kind:
        raise Undecodable("Missing Content-Type for transaction")
    raise Undecodable(
        "Wrong Content-Type for transaction; expected application/json or application/octet-stream"
    )


def _dispatch(
    server: DevnetFront, method: str, parts: list[str], query: dict, body: bytes, kind: str
) -> Answer:
    devnet = server.devnet
    chain = devnet.chain
    match method, parts:
        case "GET", ["v2", "info"]:
            with devnet.lock:
                tip = chain.tip()
            tip_hash = _hash("block", tip.stacks_height)
            return Answer(200, {
                "peer_version": 4207599116,
                "pox_consensus": _hash("pox", tip.burn_height)[:40],
                "burn_block_height": tip.burn_height,
                "stable_pox_consensus": _hash("pox", max(0, tip.burn_height - 1))[:40],
                "stable_burn_block_height": max(0, tip.burn_height - 1),
                "server_version": "bithedge-devnet (Clarinet SDK simnet)",
                "network_id": NETWORK_ID,
                "parent_network_id": 0x0B110907,
                "stacks_tip_height": tip.stacks_height,
                "stacks_tip": tip_hash,
                "stacks_tip_consensus_hash": _hash("consensus", tip.stacks_height)[:40],
                "genesis_chainstate_hash": _hash("genesis"),
                "unanchored_tip": None,
                "unanchored_seq": None,
                "tenure_height": tip.burn_height,
                "exit_at_block_height": None,
                "is_fully_synced": True,
            })  # fmt: skip
        case "GET", ["v2", "accounts", who]:
            try:
                p = principal(who)
            except (ClarityError, ValueError):
                return Answer(400, f"Failed to parse principal {who}", text=True)
            with devnet.lock:
                balance = chain.balances(p).stx
                nonce = chain.nonce(p)
            return Answer(200, {"balance": f"0x{balance:032x}", "locked": "0x" + "0" * 32,
                                "unlock_height": 0, "nonce": nonce})  # fmt: skip
        case "POST", ["v2", "fees", "transaction"]:
            try:
                req = json.loads(body)
                size = int(req["estimated_len"] or 0)
                payload = bytes.fromhex(str(req["transaction_payload"]).removeprefix("0x"))
            except (ValueError, KeyError, TypeError):
                return Answer(400, "Failed to parse fee estimate request", text=True)
            size = max(size, len(payload))
            cost = {"read_count": 0, "read_length": 0, "runtime": 0, "write_count": 0,
                    "write_length": 0}  # fmt: skip
            return Answer(200, {
                "estimated_cost": cost,
                "estimated_cost_scalar": 1,
                "cost_scalar_change_by_byte": 0.0,
                "estimations": [{"fee_rate": float(r), "fee": size * r * FEE_PER_BYTE}
                                for r in (1, 2, 4)],
            })  # fmt: skip
        case "POST", ["v2", "transactions"]:
            try:
                raw = _broadcast_bytes(body, kind)
                return Answer(200, devnet.submit(raw))
            except Undecodable as exc:
                return Answer(400, str(exc), text=True)
            except errors.SerializationError as exc:
                return Answer(400, f"Failed to deserialize posted transaction: {exc.detail}",
                              text=True)  # fmt: skip
            except errors.Rejected as exc:
                return Answer(400, refusal_json(exc, keys.sha512_256(raw).hex()))
        case "POST", ["v2", "contracts", "call-read", address, name, function]:
            req = json.loads(body or b"{}")
            try:
                args = [deserialize(bytes.fromhex(a.removeprefix("0x"))) for a in req["arguments"]]
                with devnet.lock:
                    result = chain.read_only(principal(f"{address}.{name}"), function, args)
            except (BridgeError, ClarityError, KeyError, ValueError) as exc:
                return Answer(200, {"okay": False, "cause": str(exc)})
            return Answer(200, {"okay": True, "result": _hex(result)})
        case "GET", ["extended", "v3", "transactions", txid]:
            if not _TXID.match(txid):
                raise _BadQuery('params/tx_id must match pattern "^(0x)?[a-fA-F0-9]{64}$"')
            include = {i for v in [query.get("include", "")] for i in v.split(",") if i}
            mined = devnet.receipt(txid.removeprefix("0x").lower())
            if mined is None:
                return _api_error(404, "Transaction not found")
            return Answer(200, tx_json(mined, "result" in include))
        case "GET", ["extended", "v3", "transactions", txid, "events"]:
            if not _TXID.match(txid):
                raise _BadQuery('params/tx_id must match pattern "^(0x)?[a-fA-F0-9]{64}$"')
            limit = _limit(query, 1, MAX_EVENT_PAGE, DEFAULT_EVENT_PAGE)
            cursor = query.get("cursor")
            if cursor is not None and not cursor.isdigit():
                raise _BadQuery('querystring/cursor must match pattern "^[0-9]+$"')
            mined = devnet.receipt(txid.removeprefix("0x").lower())
            if mined is None or not _mined(mined.receipt):
                return _api_error(400, "Transaction not found")
            return Answer(200, _events_page(mined.events, limit, int(cursor or 0)))
        case "GET", ["extended", "v2", "smart-contracts", contract_id, "logs"]:
            limit = _limit(query, 0, MAX_EVENT_PAGE, DEFAULT_EVENT_PAGE)
            cursor = query.get("cursor")
            if cursor is not None and not _LOG_CURSOR.match(cursor):
                raise _BadQuery("querystring/cursor must match pattern "
                                "\"^[0-9]+:[0-9]+:[0-9]+:[0-9]+$\"")  # fmt: skip
            offset = query.get("offset", "0")
            if not offset.lstrip("-").isdigit() or abs(int(offset)) > MAX_EVENT_PAGE * 10:
                raise _BadQuery(f"querystring/offset must be within {MAX_EVENT_PAGE * 10}")
            with devnet.lock:
                events = list(devnet.contract_events.get(contract_id, ()))
            return _logs_page(events, limit, int(offset), cursor)
        case "GET", ["extended", "v1", "tx", txid]:
            if server.strict is not None:
                return _gone()
            limit = _limit({"limit": query.get("event_limit", "96")}, 0, MAX_EVENT_PAGE, 96)
            offset = int(query.get("event_offset", "0") or 0)
            mined = devnet.receipt(txid.removeprefix("0x").lower())
            answer = (_api_error(404, f"could not find transaction by ID {txid}") if mined is None
                      else Answer(200, v1_tx_json(mined, limit, offset)))  # fmt: skip
            answer.headers["Warning"] = _DEPRECATED
            return answer
        case "GET", ["extended", "v1", "contract", contract_id, "events"]:
            if server.strict is not None:
                return _gone()
            limit = _limit(query, 0, MAX_EVENT_PAGE, DEFAULT_EVENT_PAGE)
            offset = int(query.get("offset", "0") or 0)
            with devnet.lock:
                events = list(devnet.contract_events.get(contract_id, ()))
            page = events[::-1][offset : offset + limit]
            results = [_log_json(txid, at[2], ev) for at, txid, ev in page]
            return Answer(200, {"limit": limit, "offset": offset, "results": results},
                          headers={"Warning": _DEPRECATED})  # fmt: skip
        case "POST", ["devnet", "mine"]:
            devnet.mine(int(query.get("n", 1)))
            return Answer(200, _tip(devnet))
        case "POST", ["devnet", "mine_burn"]:
            devnet.mine_burn(int(query.get("n", 1)))
            return Answer(200, _tip(devnet))
    return _api_error(404, f"Route {method}:/{'/'.join(parts)} not found")


_DEPRECATED = '299 - "Deprecated: See https://docs.hiro.so/stacks/api for more information"'


def _gone() -> Answer:
    return _api_error(410, "This endpoint has been disabled. See https://docs.hiro.so/stacks/api "
                      "for more information")  # fmt: skip


def _events_page(events: list[ChainEvent], limit: int, start: int) -> dict[str, Any]:
    """Hiro's v3 cursor page over a transaction's events: `cursor` is the first event index."""
    rows = [(i, ev) for i, ev in enumerate(events) if i >= start]
    page, extra = rows[:limit], rows[limit : limit + 1]
    first = page[0][0] if page else None
    return {
        "total": len(events),
        "limit": limit,
        "cursor": {
            "next": str(extra[0][0]) if extra else None,
            "previous": str(max(first - limit, 0)) if first else None,
            "current": str(first) if first is not None else None,
        },
        "results": [event_json(i, ev) for i, ev in page],
    }


def _pos(at: tuple[int, int, int]) -> str:
    """A log's place in the chain as Hiro writes it: block height, microblock (always 0 since
    Nakamoto), index in block, event index."""
    return f"{at[0]}:0:{at[1]}:{at[2]}"


def _logs_page(events: list, limit: int, offset: int, cursor: str | None) -> Answer:
    """Hiro's v2 contract-logs page: newest first, from `cursor` (a position) down."""
    newest_first = events[::-1]
    if cursor is not None:
        h, _, i, e = (int(x) for x in cursor.split(":"))
        newest_first = [row for row in newest_first if row[0] <= (h, i, e)]
    below = newest_first[max(offset, 0) :]
    if cursor is not None and not below:
        return _api_error(404, "Cursor not found")
    page = below[:limit]
    top = page[0][0] if page else None
    older = below[limit][0] if len(below) > limit else None
    newer = None
    if top is not None:
        above = [row for row in events if row[0] > top]
        newer = above[limit - 1][0] if limit and len(above) >= limit else None
    return Answer(200, {
        "limit": limit,
        "offset": offset,
        "total": len(events),
        "next_cursor": _pos(newer) if newer else None,
        "prev_cursor": _pos(older) if older else None,
        "cursor": _pos(top) if top else None,
        "results": [_log_json(txid, at[2], ev) for at, txid, ev in page],
    })  # fmt: skip


def _tip(devnet: Devnet) -> dict[str, int]:
    with devnet.lock:
        tip = devnet.chain.tip()
    return {"stacks_height": tip.stacks_height, "burn_height": tip.burn_height}


class DevnetFront:
    """The node's and Hiro's HTTP API as a function of the request: routing, the strict
    double's rate limit, and the answer. `DevnetServer` serves it on a loopback socket and
    `DevnetTransport` to an `httpx.Client` in this process; both answer byte for byte alike."""

    def __init__(self, devnet: Devnet, strict: StrictHiro | None = None, clock=time.time):
        self.devnet = devnet
        self.strict = strict
        self.clock = clock
        self._rate_lock = threading.Lock()
        self._window = (0.0, 0)  # (start, requests counted in it)
        self.limited = 0  # requests answered 429

    def _window_now(self) -> tuple[float, int]:
        assert self.strict is not None
        now = self.clock()
        start, used = self._window
        if now - start >= self.strict.window:
            start, used = now - (now - start) % self.strict.window if start else now, 0
        return start, used

    def rate_check(self) -> Answer | None:
        """Counts a request against the window; a 429 when the window is spent."""
        if self.strict is None:
            return None
        with self._rate_lock:
            start, used = self._window_now()
            if used >= self.strict.limit:
                self._window = (start, used)
                self.limited += 1
                wait = max(1, math.ceil(start + self.strict.window - self.clock()))
                answer = _api_error(429, "Too Many Requests")
                answer.headers.update(self._headers(start, used), **{"Retry-After": str(wait)})
                return answer
            self._window = (start, used + 1)
        return None

    def rate_headers(self) -> dict[str, str]:
        if self.strict is None:
            return {}
        with self._rate_lock:
            start, used = self._window
            return self._headers(start, used)

    def _headers(self, start: float, used: int) -> dict[str, str]:
        """Hiro's rate-limit headers (docs.hiro.so, "Response headers")."""
        assert self.strict is not None
        left = str(max(0, self.strict.limit - used))
        return {"ratelimit-limit": str(self.strict.limit), "ratelimit-remaining": left,
                "ratelimit-reset": str(math.ceil(start + self.strict.window)),
                "x-ratelimit-limit-stacks-minute": str(self.strict.limit),
                "x-ratelimit-remaining-stacks-minute": left}  # fmt: skip

    def answer(self, method: str, target: str, content_type: str, body: bytes) -> Answer:
        """The answer to `METHOD target` (path and query, as on the request line)."""
        url = urlsplit(target)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        limited = self.rate_check() if parts[:1] != ["devnet"] else None
        if limited is not None:
            return limited
        kind = content_type.split(";")[0].strip().lower()
        try:
            answer = _dispatch(self, method, parts, query, body, kind)
        except _BadQuery as exc:
            answer = _api_error(400, str(exc))
        except Exception as exc:  # a bug or a VM error: answer as a node would, 500
            answer = Answer(500, {"error": f"{type(exc).__name__}: {exc}"})
        answer.headers.update(self.rate_headers())
        return answer


class DevnetServer(DevnetFront, ThreadingHTTPServer):
    """The front on a loopback socket: what `run.py devnet` serves and a real client meets."""

    daemon_threads = True

    def __init__(
        self,
        devnet: Devnet,
        host: str = "127.0.0.1",
        port: int = 0,
        strict: StrictHiro | None = None,
        clock=time.time,
    ):
        ThreadingHTTPServer.__init__(self, (host, port), _Handler)
        DevnetFront.__init__(self, devnet, strict, clock)

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


class DevnetTransport(httpx.BaseTransport):
    """The front as an httpx transport: `NodeClient(url, transport=DevnetTransport(devnet))`
    talks to the devnet in this process, no socket, no thread. For the tests that need the
    node's answers and not a network between (the loopback tests keep DevnetServer)."""

    def __init__(self, devnet: Devnet, strict: StrictHiro | None = None, clock=time.time):
        self.front = DevnetFront(devnet, strict, clock)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        kind = request.headers.get("Content-Type", "")
        answer = self.front.answer(request.method, target, kind, request.read())
        data, content_type = encoded(answer)
        headers = {"Content-Type": content_type, **answer.headers}
        return httpx.Response(answer.status, headers=headers, content=data, request=request)
