"""A synchronous client for a Stacks node's RPC (`/v2`) and the Hiro Stacks API (`/extended`).

`StacksChain` talks to the chain only through this module, and the local devnet stand-in serves
the same JSON shapes; the example bodies under tests/chain/recorded/node/ are that contract.

Why the retry rules look the way they do:
- Reads are idempotent, so network errors, timeouts, 5xx and 429 are retried with exponential
  backoff and full jitter (a fleet of keepers must not hammer a recovering node in lockstep).
- A broadcast is idempotent too: the same bytes have the same txid, so re-sending after a network
  error cannot create a second transaction. What can happen is that the first attempt did reach
  the mempool and the retry is refused as a nonce conflict; when the refusal names our own txid it
  is the success we were waiting for. A definite answer (accepted or refused) is never re-sent.
- Every way the node can fail ends in one of three exceptions with a one-line message:
  `NodeUnavailable` (gave up after retries), `NodeError` (a definite but unusable answer: 4xx or a
  body of the wrong shape) and `chain.errors.Rejected` (the mempool refused a transaction).

Amounts are ints (micro-STX, token base units); Clarity values stay serialized `bytes` for
`chain.clarity.deserialize`. Txids are lowercase hex without `0x`, as SimChain reports them (the
node's RPC omits the prefix, the Hiro API adds it).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from chain import errors, keys
from chain.clarity import U128_MAX
from chain.port import TxStatus

__all__ = [
    "Account",
    "ContractCall",
    "ContractEvent",
    "CursorNotFound",
    "FeeEstimate",
    "NodeClient",
    "NodeError",
    "NodeInfo",
    "NodeUnavailable",
    "ReadOnlyFailed",
    "TxEvent",
    "TxInfo",
    "parse_account",
    "parse_contract_events",
    "parse_event",
    "parse_fee_estimate",
    "parse_info",
    "parse_read_only",
    "parse_tx",
    "tx_status",
]

_BODY_SNIPPET = 200
_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_U128_DIGITS = len(str(U128_MAX))


# --- errors ------------------------------------------------------------------------------------


class NodeError(Exception):
    """The node answered, but not with something usable (4xx, or a body of the wrong shape)."""

    def __init__(self, status: int | None, path: str, detail: str):
        where = f"{path}: HTTP {status}" if status is not None else path
        super().__init__(f"{where}: {detail}")
        self.status = status
        self.path = path
        self.detail = detail


class NodeUnavailable(errors.Unavailable):
    """No usable answer after every attempt: the node is down, slow, overloaded or rate-limiting."""

    def __init__(self, method: str, path: str, attempts: int, cause: str):
        super().__init__(f"{method} {path}: node unavailable after {attempts} attempts: {cause}")
        self.method = method
        self.path = path
        self.attempts = attempts
        self.cause = cause


class ReadOnlyFailed(Exception):
    """A read-only call did not run to a value (`okay: false`); `cause` is the node's text."""

    def __init__(self, function: str, cause: str):
        super().__init__(f"read-only {function} failed: {cause}")
        self.function = function
        self.cause = cause


class CursorNotFound(LookupError):
    """The last event seen is no longer in the contract's event history (a reorg dropped it).

    Raised instead of returning the whole history, which would re-deliver events the caller has
    already acted on; the caller decides how to resynchronise.
    """


# --- what the node returns ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeInfo:
    stacks_tip_height: int
    burn_block_height: int
    network_id: int
    stacks_tip: str = ""
    server_version: str = ""
    is_fully_synced: bool | None = None  # absent on older nodes


@dataclass(frozen=True, slots=True)
class Account:
    balance: int  # micro-STX, unlocked
    locked: int
    nonce: int  # the next nonce the node expects (confirmed state)
    unlock_height: int = 0


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    """Total fees in micro-STX for the whole transaction, cheapest to fastest."""

    low: int
    medium: int
    high: int


@dataclass(frozen=True, slots=True)
class ContractCall:
    contract_id: str
    function_name: str


@dataclass(frozen=True, slots=True)
class TxEvent:
    """One event of a transaction as the Hiro API lists it.

    `event_type` is the API's own (`smart_contract_log`, `stx_asset`, `fungible_token_asset`,
    `non_fungible_token_asset`, `stx_lock`); a log fills `contract_id`/`topic`/`value`, an asset
    event fills `asset_event_type` (transfer/mint/burn), `asset_id` (empty for STX), `sender`,
    `recipient` and `amount` (NFT events carry their id in `value` instead).
    """

    event_index: int
    event_type: str
    tx_id: str = ""
    contract_id: str = ""
    topic: str = ""
    value: bytes | None = None
    asset_event_type: str = ""
    asset_id: str = ""
    sender: str = ""
    recipient: str = ""
    amount: int = 0


@dataclass(frozen=True, slots=True)
class TxInfo:
    tx_id: str
    status: TxStatus
    raw_status: str  # the API's tx_status, e.g. "dropped_replace_by_fee"
    tx_type: str
    sender_address: str = ""
    nonce: int | None = None
    fee_rate: int = 0  # micro-STX paid
    result: bytes | None = None  # serialized Clarity value; absent while pending
    block_height: int | None = None
    burn_block_height: int | None = None
    tx_index: int | None = None
    contract_call: ContractCall | None = None
    events: tuple[TxEvent, ...] = ()
    event_count: int | None = None  # total events, when the API reports it (events may be a page)

    @property
    def reason(self) -> str:
        """Why the transaction left the mempool without a block, as `TxReceipt.reason` wants."""
        return self.raw_status if self.status is TxStatus.DROPPED else ""


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """A contract's `print`, from the contract-events endpoint; (tx_id, event_index) is unique."""

    event_index: int
    tx_id: str
    contract_id: str
    topic: str
    value: bytes


# --- parsing -----------------------------------------------------------------------------------


class _Obj:
    """A JSON object read field by field, every failure a NodeError naming the field."""

    def __init__(self, obj: Any, path: str, what: str = "body"):
        if not isinstance(obj, dict):
            raise NodeError(None, path, f"{what}: expected a JSON object, got {_kind(obj)}")
        self.obj = obj
        self.path = path
        self.what = what

    def _fail(self, key: str, expected: str, value: Any) -> NodeError:
        return NodeError(
            None, self.path, f"{self.what}.{key}: expected {expected}, got {_kind(value)}"
        )

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def _get(self, key: str) -> Any:
        if key not in self.obj:
            raise NodeError(None, self.path, f"{self.what}: missing field {key!r}")
        return self.obj[key]

    def integer(self, key: str) -> int:
        """A JSON integer, or a decimal string (the API sends 64-bit amounts as strings).

        Every integer the node sends (heights, nonces, indexes, amounts, fees) is a Clarity
        uint: a negative or a wider value is a broken body, not a number to act on.
        """
        value = self._get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= U128_MAX:
            return value
        digits = isinstance(value, str) and 0 < len(value) <= _U128_DIGITS
        if digits and _DEC.issuperset(value) and int(value) <= U128_MAX:
            return int(value)
        raise self._fail(key, "an unsigned integer", value)

    def opt_int(self, key: str) -> int | None:
        return self.integer(key) if self.has(key) else None

    def hex_int(self, key: str) -> int:
        """Hex digits only: `int(text, 16)` alone would also take a sign, `_` and spaces."""
        value = self._get(key)
        if isinstance(value, str):
            digits = _strip0x(value)
            if digits and _HEX.issuperset(digits) and int(digits, 16) <= U128_MAX:
                return int(digits, 16)
        raise self._fail(key, "an unsigned hex integer", value)

    def hex_bytes(self, key: str) -> bytes:
        value = self._get(key)
        if isinstance(value, str):
            try:
                return bytes.fromhex(_strip0x(value))
            except ValueError:
                pass
        raise self._fail(key, "hex bytes", value)

    def text(self, key: str) -> str:
        value = self._get(key)
        if isinstance(value, str):
            return value
        raise self._fail(key, "a string", value)

    def opt_str(self, key: str) -> str:
        return self.text(key) if self.has(key) else ""

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if isinstance(value, bool):
            return value
        raise self._fail(key, "true or false", value)

    def sub(self, key: str) -> _Obj:
        return _Obj(self._get(key), self.path, f"{self.what}.{key}")

    def items(self, key: str) -> list[Any]:
        value = self._get(key)
        if isinstance(value, list):
            return value
        raise self._fail(key, "a list", value)

    def clarity(self, key: str) -> bytes:
        """A Clarity value: `{hex, repr}` in the Hiro API, a bare hex string in node RPC."""
        value = self._get(key)
        if isinstance(value, dict):
            return self.sub(key).hex_bytes("hex")
        return self.hex_bytes(key)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"{type(value).__name__} {value!r}"


def _strip0x(text: str) -> str:
    return text[2:] if text[:2] in ("0x", "0X") else text


def _txid(text: str) -> str:
    return _strip0x(text).lower()


def tx_status(raw: str, path: str = "") -> TxStatus:
    """The port's status for an API `tx_status`; every `dropped_*` flavour is DROPPED."""
    if raw.startswith("dropped_"):
        return TxStatus.DROPPED
    try:
        return TxStatus(raw)
    except ValueError:
        raise NodeError(None, path, f"unknown tx_status {raw!r}") from None


def parse_info(body: Any, path: str = "/v2/info") -> NodeInfo:
    o = _Obj(body, path)
    synced = o.flag("is_fully_synced") if o.has("is_fully_synced") else None
    return NodeInfo(
        stacks_tip_height=o.integer("stacks_tip_height"),
        burn_block_height=o.integer("burn_block_height"),
        network_id=o.integer("network_id"),
        stacks_tip=o.opt_str("stacks_tip"),
        server_version=o.opt_str("server_version"),
        is_fully_synced=synced,
    )


def parse_account(body: Any, path: str = "/v2/accounts") -> Account:
    o = _Obj(body, path)
    return Account(
        balance=o.hex_int("balance"),
        locked=o.hex_int("locked"),
        nonce=o.integer("nonce"),
        unlock_height=o.opt_int("unlock_height") or 0,
    )


def parse_fee_estimate(body: Any, path: str = "/v2/fees/transaction") -> FeeEstimate:
    """Current nodes list three `estimations` (low to high); older ones sent `estimated_fees`."""
    o = _Obj(body, path)
    if o.has("estimations"):
        items = o.items("estimations")
        if len(items) != 3:
            raise NodeError(None, path, f"body.estimations: expected 3 entries, got {len(items)}")
        fees = [
            _Obj(item, path, f"body.estimations[{i}]").integer("fee")
            for i, item in enumerate(items)
        ]
        return FeeEstimate(*fees)
    legacy = o.sub("estimated_fees")
    return FeeEstimate(legacy.integer("low"), legacy.integer("middle"), legacy.integer("high"))


def parse_read_only(body: Any, function: str, path: str = "/v2/contracts/call-read") -> bytes:
    o = _Obj(body, path)
    if not o.flag("okay"):
        cause = o.obj.get("cause")
        raise ReadOnlyFailed(function, cause if isinstance(cause, str) else "no cause given")
    return o.hex_bytes("result")


def parse_event(body: Any, path: str, what: str = "event") -> TxEvent:
    o = _Obj(body, path, what)
    kind = o.text("event_type")
    tx_id = _txid(o.opt_str("tx_id"))
    index = o.integer("event_index")
    if kind == "smart_contract_log":
        log = o.sub("contract_log")
        return TxEvent(
            index,
            kind,
            tx_id,
            contract_id=log.text("contract_id"),
            topic=log.text("topic"),
            value=log.clarity("value"),
        )
    if o.has("asset"):
        a = o.sub("asset")
        return TxEvent(
            index,
            kind,
            tx_id,
            value=a.clarity("value") if a.has("value") else None,
            asset_event_type=a.opt_str("asset_event_type"),
            asset_id=a.opt_str("asset_id"),
            sender=a.opt_str("sender"),
            recipient=a.opt_str("recipient"),
            amount=a.integer("amount") if a.has("amount") else 0,
        )
    return TxEvent(index, kind, tx_id)  # e.g. stx_lock: nothing the engine reads


def parse_tx(body: Any, path: str = "/extended/v1/tx") -> TxInfo:
    o = _Obj(body, path)
    raw = o.text("tx_status")
    call = None
    if o.has("contract_call"):
        c = o.sub("contract_call")
        call = ContractCall(c.text("contract_id"), c.text("function_name"))
    events = tuple(
        parse_event(e, path, f"body.events[{i}]")
        for i, e in enumerate(o.items("events") if o.has("events") else [])
    )
    return TxInfo(
        tx_id=_txid(o.text("tx_id")),
        status=tx_status(raw, path),
        raw_status=raw,
        tx_type=o.text("tx_type"),
        sender_address=o.opt_str("sender_address"),
        nonce=o.opt_int("nonce"),
        fee_rate=o.integer("fee_rate") if o.has("fee_rate") else 0,
        result=o.clarity("tx_result") if o.has("tx_result") else None,
        block_height=o.opt_int("block_height"),
        burn_block_height=o.opt_int("burn_block_height"),
        tx_index=o.opt_int("tx_index"),
        contract_call=call,
        events=events,
        event_count=o.opt_int("event_count"),
    )


def parse_contract_events(
    body: Any, path: str = "/extended/v1/contract/events"
) -> list[ContractEvent]:
    """The page as served, newest first. Only `print` logs are contract events here."""
    o = _Obj(body, path)
    out = []
    for i, item in enumerate(o.items("results")):
        e = parse_event(item, path, f"body.results[{i}]")
        if e.event_type != "smart_contract_log":
            continue
        if not e.tx_id:
            raise NodeError(None, path, f"body.results[{i}]: missing field 'tx_id'")
        assert e.value is not None  # a log always carries its value (parse_event checked)
        out.append(ContractEvent(e.event_index, e.tx_id, e.contract_id, e.topic, e.value))
    return out


# --- the client --------------------------------------------------------------------------------


class NodeClient:
    """One node or Hiro API endpoint, with retries. Calls block: use it from the actor's thread."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        headers = {"accept": "application/json"}
        if api_key:
            headers["x-api-key"] = api_key  # Hiro's header; kept only inside the httpx client
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"NodeClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints ------------------------------------------------------------------------------

    def info(self) -> NodeInfo:
        path = "/v2/info"
        return parse_info(self._json(self._request("GET", path), path), path)

    def account(self, principal: str) -> Account:
        path = f"/v2/accounts/{_seg(principal)}"
        resp = self._request("GET", path, params={"proof": "0"})
        return parse_account(self._json(resp, path), path)

    def estimate_fee(self, payload: bytes, estimated_len: int) -> FeeEstimate:
        """Fees for a transaction whose serialized *payload* is `payload`, `estimated_len` bytes."""
        path = "/v2/fees/transaction"
        body = {"transaction_payload": payload.hex(), "estimated_len": estimated_len}
        return parse_fee_estimate(
            self._json(self._request("POST", path, json_body=body), path), path
        )

    def broadcast(self, raw: bytes) -> str:
        """Sends signed transaction bytes; returns the txid or raises a typed `Rejected`."""
        path = "/v2/transactions"
        ours = keys.sha512_256(raw).hex()
        resp = self._request(
            "POST",
            path,
            content=raw,
            headers={"content-type": "application/octet-stream"},
            accept=(200, 400),
        )
        body = self._json(resp, path)
        if resp.status_code == 200:
            if not isinstance(body, str):
                raise NodeError(200, path, f"expected the txid as a JSON string, got {_kind(body)}")
            if _txid(body) != ours:
                raise NodeError(200, path, f"node reports txid {_txid(body)}, ours is {ours}")
            return ours
        o = _Obj(body, path)
        reason = o.opt_str("reason") or "Rejected"
        theirs = _txid(o.opt_str("txid"))
        if theirs == ours and _already_known(reason, o.opt_str("error")):
            return ours  # an earlier attempt of these same bytes reached the mempool
        detail = o.opt_str("error")
        if isinstance(o.obj.get("reason_data"), dict):
            detail = f"{detail} {json.dumps(o.obj['reason_data'], sort_keys=True)}".strip()
        raise errors.rejection(reason, f"txid {theirs or ours}: {detail}".rstrip(": "))

    def tx(
        self, txid: str, *, event_limit: int | None = None, event_offset: int | None = None
    ) -> TxInfo | None:
        """The API's view of a transaction; None when it has never heard of the txid."""
        path = f"/extended/v1/tx/0x{_seg(_txid(txid))}"
        params = {}
        if event_limit is not None:
            params["event_limit"] = str(event_limit)
        if event_offset is not None:
            params["event_offset"] = str(event_offset)
        resp = self._request("GET", path, params=params, accept=(200, 404))
        if resp.status_code == 404:
            return None
        return parse_tx(self._json(resp, path), path)

    def call_read_only(
        self, contract_id: str, function: str, args: Sequence[bytes], sender: str
    ) -> bytes:
        """Runs a read-only function; `args` and the result are serialized Clarity values."""
        address, _, name = contract_id.partition(".")
        if not address or not name:
            raise ValueError(f"contract_id must be <address>.<name>, got {contract_id!r}")
        path = f"/v2/contracts/call-read/{_seg(address)}/{_seg(name)}/{_seg(function)}"
        body = {"sender": sender, "arguments": ["0x" + a.hex() for a in args]}
        return parse_read_only(
            self._json(self._request("POST", path, json_body=body), path), function, path
        )

    def contract_events(
        self, contract_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[ContractEvent]:
        """One page of the contract's prints, newest first (the endpoint's own order)."""
        path = f"/extended/v1/contract/{_seg(contract_id)}/events"
        resp = self._request("GET", path, params={"limit": str(limit), "offset": str(offset)})
        return parse_contract_events(self._json(resp, path), path)

    def contract_events_since(
        self, contract_id: str, last_seen: tuple[str, int] | None, page: int = 50
    ) -> list[ContractEvent]:
        """Events after `last_seen` (tx_id, event_index), oldest first.

        The endpoint pages newest first and reports no total, so an offset is not a stable
        cursor: every new event shifts all offsets by one. The last event seen is stable, so we
        page down from the newest until we meet it. Events arriving while we page shift older
        ones to later offsets, which can only repeat an event, never skip one; repeats are
        dropped. `last_seen=None` means from the beginning of the contract's history.
        """
        stop = None if last_seen is None else (_txid(last_seen[0]), last_seen[1])
        seen: set[tuple[str, int]] = set()
        newest_first: list[ContractEvent] = []
        offset = 0
        while True:
            batch = self.contract_events(contract_id, limit=page, offset=offset)
            for e in batch:
                key = (e.tx_id, e.event_index)
                if key == stop:
                    return newest_first[::-1]
                if key not in seen:
                    seen.add(key)
                    newest_first.append(e)
            if len(batch) < page:
                break
            offset += page
        if stop is not None:
            raise CursorNotFound(
                f"{contract_id}: event {stop[0]}:{stop[1]} is not in the contract's history"
            )
        return newest_first[::-1]

    # -- transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        attempts = self.retries + 1
        cause = ""
        for attempt in range(attempts):
            wait = None
            try:
                resp = self._http.request(
                    method, path, params=params, json=json_body, content=content, headers=headers
                )
            except httpx.TimeoutException as exc:
                cause = f"timed out ({type(exc).__name__})"
            except httpx.RequestError as exc:  # network, protocol, decoding: all worth a retry
                cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = resp.status_code
                if status in accept:
                    return resp
                if status == 429:
                    cause = "HTTP 429 rate limited"
                    wait = _retry_after(resp.headers.get("retry-after"))
                elif status >= 500:
                    cause = f"HTTP {status} {_snippet(resp)}".rstrip()
                else:
                    raise NodeError(status, path, _snippet(resp) or resp.reason_phrase)
            if attempt + 1 < attempts:
                self._sleep(self._delay(attempt, wait))
        raise NodeUnavailable(method, path, attempts, cause)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        return self._rng.uniform(0.0, min(self.max_backoff, self.backoff * 2**attempt))

    @staticmethod
    def _json(resp: httpx.Response, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise NodeError(resp.status_code, path, f"body is not JSON: {_snippet(resp)}") from None


def _seg(text: str) -> str:
    """One URL path segment; principals and names are URL-safe already, this keeps it that way."""
    return quote(text, safe=".-_")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is ignored (falls back to backoff)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _snippet(resp: httpx.Response) -> str:
    text = resp.text.strip().replace("\n", " ")
    return text if len(text) <= _BODY_SNIPPET else text[:_BODY_SNIPPET] + "..."


def _already_known(reason: str, error: str) -> bool:
    """The node's words for "these very bytes are already waiting" (a conflict with itself)."""
    text = f"{reason} {error}".lower()
    return reason == errors.ConflictingNonceInMempool.reason or "already in mempool" in text
