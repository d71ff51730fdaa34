"""A synchronous client for a Stacks node's RPC (`/v2`) and the Hiro Stacks API (`/extended`).

`StacksChain` talks to the chain only through this module. The endpoints and shapes are the
current ones: the node's `/v2` RPC (stacks-core `docs/rpc/`), and Hiro's API 9.x
`/extended/v3/transactions/{tx_id}` (with `/events`, cursor paging, at most 100 a page) and
`/extended/v2/smart-contracts/{id}/logs` (cursor paging, at most 100 a page). The `/extended/v1`
endpoints this client used before are deprecated (`Warning: 299`, then 410 Gone) and no longer
called. tests/chain/schemas/ holds the project's JSON schemas of every body read here.

Why the retry rules look the way they do:
- Reads are idempotent, so network errors, timeouts, 5xx and 429 are retried with exponential
  backoff and full jitter (a fleet of keepers must not hammer a recovering node in lockstep).
  Hiro's rate limits are per minute: a 429's `Retry-After` (or `ratelimit-reset`) is honoured
  up to a minute, and a response saying no requests remain in the window makes the next
  request wait for the window to reset instead of spending an attempt on a certain 429.
- A broadcast is idempotent too: the same bytes have the same txid. A node answers 200 with the
  txid when it already holds them; an older node refused the retry as a nonce conflict naming
  our own txid, which is the same success. A definite answer is never re-sent.
- Every way the node can fail ends in one of three exceptions with a one-line message:
  `NodeUnavailable` (gave up after retries), `NodeError` (a definite but unusable answer: an
  unexpected 4xx, a 410 for an endpoint turned off, a body of the wrong shape; to a caller it
  is no answer, `chain.errors.BadAnswer`) and `chain.errors.Rejected` (the node refused a
  transaction, in JSON with a reason or in text/plain when it could not decode the bytes).

Amounts are ints (micro-STX, token base units); Clarity values stay serialized `bytes` for
`chain.clarity.deserialize`. Txids are lowercase hex without `0x`, as SimChain reports them (the
node's RPC omits the prefix, the Hiro API adds it).
"""

from __future__ import annotations

import email.utils
import json
import logging
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
    "EVENT_PAGE",
    "Account",
    "ContractCall",
    "ContractEvent",
    "CursorNotFound",
    "EventPage",
    "FeeEstimate",
    "NodeClient",
    "NodeError",
    "NodeInfo",
    "NodeUnavailable",
    "ReadOnlyFailed",
    "TxEvent",
    "TxInfo",
    "parse_account",
    "parse_contract_logs",
    "parse_event",
    "parse_fee_estimate",
    "parse_info",
    "parse_log_event",
    "parse_read_only",
    "parse_tx",
    "tx_status",
]

EVENT_PAGE = 100  # Hiro's most events a page (pagingQueryLimits[Event].maxLimit); more is a 400
RATE_WINDOW = 60.0  # Hiro's rate limits are per minute
_BODY_SNIPPET = 200
_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_U128_DIGITS = len(str(U128_MAX))


# --- errors ------------------------------------------------------------------------------------


logger = logging.getLogger("bithedge.node")


class NodeError(errors.BadAnswer):
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


class ReadOnlyFailed(errors.ReadFailed):
    """A read-only call did not run to a value (`okay: false`); `cause` is the node's text."""

    def __init__(self, function: str, cause: str):
        super().__init__(f"read-only {function} failed: {cause}")
        self.function = function
        self.cause = cause


class CursorNotFound(errors.Reorganised):
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
    """One event of a transaction as the API lists it (`/extended/v3/transactions/{id}/events`).

    `event_type` is the API's own `type` (`contract_log`, `stx_asset`, `ft_asset`, `nft_asset`,
    `stx_lock`); a log fills `contract_id`/`topic`/`value`, an asset event fills
    `asset_event_type` (transfer/mint/burn), `asset_id` (empty for STX), `sender`, `recipient`
    and `amount` (NFT events carry their id in `value` instead).
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
class EventPage:
    """One page of a transaction's events, in `event_index` order; `next` is the cursor of the
    following page (None on the last), `total` the transaction's event count."""

    events: tuple[TxEvent, ...]
    next: str | None
    total: int


@dataclass(frozen=True, slots=True)
class TxInfo:
    tx_id: str
    status: TxStatus
    raw_status: str  # the API's status, e.g. "dropped_replace_by_fee", "problematic_skipped"
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
    event_count: int | None = None  # total events of a mined transaction (listed separately)

    @property
    def reason(self) -> str:
        """Why the transaction left the mempool without a block, as `TxReceipt.reason` wants."""
        return self.raw_status if self.status is TxStatus.DROPPED else ""


@dataclass(frozen=True, slots=True)
class ContractEvent:
    """A contract's `print`, from the contract-logs endpoint; (tx_id, event_index) is unique."""

    event_index: int
    tx_id: str
    contract_id: str
    topic: str
    value: bytes


@dataclass(frozen=True, slots=True)
class LogPage:
    """One page of a contract's logs, newest first; `older` is the cursor of the next older
    page (None at the start of the history)."""

    events: tuple[ContractEvent, ...]
    older: str | None


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


# Statuses of a transaction that reached a block but did not run: final, and no success.
SKIPPED = frozenset({"problematic_skipped"})  # added in API 9.0.2


def tx_status(raw: str, path: str = "") -> TxStatus:
    """The port's status for an API status; every `dropped_*` flavour, and a problematic
    transaction a block skipped, is DROPPED (final, never executed, `reason` says which)."""
    if raw.startswith("dropped_") or raw in SKIPPED:
        return TxStatus.DROPPED
    try:
        return TxStatus(raw)
    except ValueError:
        raise NodeError(None, path, f"unknown status {raw!r}") from None


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
    """The node lists three `estimations`, low to high."""
    o = _Obj(body, path)
    items = o.items("estimations")
    if len(items) != 3:
        raise NodeError(None, path, f"body.estimations: expected 3 entries, got {len(items)}")
    fees = [
        _Obj(item, path, f"body.estimations[{i}]").integer("fee") for i, item in enumerate(items)
    ]
    return FeeEstimate(*fees)


def parse_read_only(body: Any, function: str, path: str = "/v2/contracts/call-read") -> bytes:
    o = _Obj(body, path)
    if not o.flag("okay"):
        cause = o.obj.get("cause")
        raise ReadOnlyFailed(function, cause if isinstance(cause, str) else "no cause given")
    return o.hex_bytes("result")


def parse_log_event(body: Any, path: str, what: str = "event") -> ContractEvent:
    """A `smart_contract_log` as the contract-logs endpoint lists it (`tx_id` included)."""
    o = _Obj(body, path, what)
    kind = o.text("event_type")
    if kind != "smart_contract_log":
        raise NodeError(None, path, f"{what}.event_type: expected smart_contract_log, got {kind!r}")
    log = o.sub("contract_log")
    return ContractEvent(
        o.integer("event_index"),
        _txid(o.text("tx_id")),
        log.text("contract_id"),
        log.text("topic"),
        log.clarity("value"),
    )


_ASSETS = {"stx_asset": "stx_asset", "ft_asset": "ft_asset", "nft_asset": "nft_asset"}


def parse_event(body: Any, path: str, what: str = "event", tx_id: str = "") -> TxEvent:
    """One event of `/extended/v3/transactions/{id}/events`."""
    o = _Obj(body, path, what)
    kind = o.text("type")
    index = o.integer("event_index")
    if kind == "contract_log":
        log = o.sub("contract_log")
        return TxEvent(
            index,
            kind,
            tx_id,
            contract_id=log.text("contract_id"),
            topic=log.text("topic"),
            value=log.clarity("value"),
        )
    if kind in _ASSETS:
        a = o.sub(kind)
        return TxEvent(
            index,
            kind,
            tx_id,
            value=a.clarity("value") if a.has("value") else None,
            asset_event_type=a.text("type"),
            asset_id=a.opt_str("asset_identifier"),
            sender=a.opt_str("sender"),
            recipient=a.opt_str("recipient"),
            amount=a.integer("amount") if a.has("amount") else 0,
        )
    return TxEvent(index, kind, tx_id)  # e.g. stx_lock: nothing the engine reads


def parse_event_page(body: Any, tx_id: str, path: str) -> EventPage:
    o = _Obj(body, path)
    cursor = o.sub("cursor")
    events = tuple(
        parse_event(e, path, f"body.results[{i}]", tx_id) for i, e in enumerate(o.items("results"))
    )
    return EventPage(events, cursor.opt_str("next") or None, o.integer("total"))


def parse_tx(body: Any, path: str = "/extended/v3/transactions") -> TxInfo:
    """A mined transaction or a mempool one, as `/extended/v3/transactions/{id}` returns it."""
    o = _Obj(body, path)
    raw = o.text("status")
    call = None
    if o.has("contract_call"):
        c = o.sub("contract_call")
        call = ContractCall(c.text("contract_id"), c.text("function_name"))
    sender = o.sub("sender")
    block = o.sub("block") if o.has("block") else None
    burn = o.sub("bitcoin_block") if o.has("bitcoin_block") else None
    return TxInfo(
        tx_id=_txid(o.text("tx_id")),
        status=tx_status(raw, path),
        raw_status=raw,
        tx_type=o.text("type"),
        sender_address=sender.text("address"),
        nonce=sender.integer("nonce"),
        fee_rate=o.integer("fee_rate"),
        result=o.clarity("result") if o.has("result") else None,
        block_height=block.integer("height") if block else None,
        burn_block_height=burn.integer("height") if burn else None,
        tx_index=block.integer("tx_index") if block else None,
        contract_call=call,
        event_count=o.opt_int("event_count"),
    )


def parse_contract_logs(body: Any, path: str = "/extended/v2/smart-contracts/logs") -> LogPage:
    """The page as served, newest first, with the cursor of the next older page."""
    o = _Obj(body, path)
    events = tuple(
        parse_log_event(item, path, f"body.results[{i}]")
        for i, item in enumerate(o.items("results"))
    )
    return LogPage(events, o.opt_str("prev_cursor") or None)


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
        max_retry_after: float = RATE_WINDOW,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
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
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._not_before = 0.0  # the rate-limit window is spent until then (clock time)
        self.deprecated: set[str] = set()  # paths answered with `Warning: 299` (logged once)
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
        if resp.status_code == 400 and not _is_json(resp):
            # The node's text/plain 400: it could not decode the request (empty or garbled
            # bytes, a wrong content type). Definite: these bytes will never be accepted.
            raise errors.DeserializationError(f"txid {ours}: {_snippet(resp) or 'HTTP 400'}")
        body = self._json(resp, path)
        if resp.status_code == 200:
            if not isinstance(body, str):
                raise NodeError(200, path, f"expected the txid as a JSON string, got {_kind(body)}")
            if _txid(body) != ours:
                raise NodeError(200, path, f"node reports txid {_txid(body)}, ours is {ours}")
            return ours  # accepted now, or already held: the node answers 200 to both
        o = _Obj(body, path)
        reason = o.opt_str("reason") or "Rejected"
        theirs = _txid(o.opt_str("txid"))
        if theirs == ours and _already_known(reason, o.opt_str("error")):
            return ours  # an older node's words for "these very bytes are already waiting"
        detail = o.opt_str("error")
        if isinstance(o.obj.get("reason_data"), dict):
            detail = f"{detail} {json.dumps(o.obj['reason_data'], sort_keys=True)}".strip()
        raise errors.rejection(reason, f"txid {theirs or ours}: {detail}".rstrip(": "))

    def tx(self, txid: str) -> TxInfo | None:
        """The API's view of a transaction, mined or in the mempool, with its result; None
        when the API has not heard of the txid (or not yet: its indexer lags the node)."""
        path = f"/extended/v3/transactions/0x{_seg(_txid(txid))}"
        resp = self._request("GET", path, params={"include": "result"}, accept=(200, 404))
        if resp.status_code == 404:
            return None
        return parse_tx(self._json(resp, path), path)

    def tx_events(self, txid: str, cursor: str | None = None, limit: int = EVENT_PAGE) -> EventPage:
        """One page of a mined transaction's events, from `cursor` (an event index) on."""
        if not 1 <= limit <= EVENT_PAGE:
            raise ValueError(f"limit must be 1..{EVENT_PAGE}, got {limit}")
        ours = _txid(txid)
        path = f"/extended/v3/transactions/0x{_seg(ours)}/events"
        params = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        return parse_event_page(
            self._json(self._request("GET", path, params=params), path), ours, path
        )

    def all_tx_events(self, txid: str, expected: int | None = None) -> tuple[TxEvent, ...]:
        """Every event of a mined transaction, page after page, in `event_index` order."""
        events: list[TxEvent] = []
        cursor = None
        while True:
            page = self.tx_events(txid, cursor)
            events.extend(page.events)
            if page.next is None or not page.events:
                break
            cursor = page.next
        total = page.total if expected is None else expected
        if len(events) != total:
            path = f"/extended/v3/transactions/0x{_txid(txid)}/events"
            raise NodeError(None, path, f"listed {len(events)} events of {total}")
        return tuple(sorted(events, key=lambda e: e.event_index))

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

    def contract_logs(
        self, contract_id: str, *, limit: int = EVENT_PAGE, cursor: str | None = None
    ) -> LogPage:
        """One page of the contract's prints, newest first (the endpoint's own order)."""
        if not 1 <= limit <= EVENT_PAGE:
            raise ValueError(f"limit must be 1..{EVENT_PAGE}, got {limit}")
        path = f"/extended/v2/smart-contracts/{_seg(contract_id)}/logs"
        params = {"limit": str(limit)}
        if cursor is not None:
            params["cursor"] = cursor
        return parse_contract_logs(
            self._json(self._request("GET", path, params=params), path), path
        )

    def contract_events_since(
        self, contract_id: str, last_seen: tuple[str, int] | None, page: int = EVENT_PAGE
    ) -> list[ContractEvent]:
        """Events after `last_seen` (tx_id, event_index), oldest first.

        The endpoint pages newest first. Its cursors are positions in the chain (block, index
        in block, event index), so new events arriving while we page do not move the pages
        below them; we page down from the newest until we meet the last event seen.
        `last_seen=None` means from the beginning of the contract's history.
        """
        stop = None if last_seen is None else (_txid(last_seen[0]), last_seen[1])
        seen: set[tuple[str, int]] = set()
        newest_first: list[ContractEvent] = []
        cursor = None
        while True:
            batch = self.contract_logs(contract_id, limit=page, cursor=cursor)
            for e in batch.events:
                key = (e.tx_id, e.event_index)
                if key == stop:
                    return newest_first[::-1]
                if key not in seen:
                    seen.add(key)
                    newest_first.append(e)
            if batch.older is None or not batch.events:
                break
            cursor = batch.older
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
            self._wait_for_window()
            try:
                resp = self._http.request(
                    method, path, params=params, json=json_body, content=content, headers=headers
                )
            except httpx.TimeoutException as exc:
                cause = f"timed out ({type(exc).__name__})"
            except httpx.RequestError as exc:  # network, protocol, decoding: all worth a retry
                cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                self._note_limits(resp)
                self._note_deprecation(resp, path)
                status = resp.status_code
                if status in accept:
                    return resp
                if status == 429:
                    cause = "HTTP 429 rate limited"
                    wait = _retry_after(resp.headers.get("retry-after"), self._clock())
                    if wait is None:
                        wait = _reset_in(resp.headers, self._clock())
                elif status >= 500:
                    cause = f"HTTP {status} {_snippet(resp)}".rstrip()
                elif status == 410:
                    raise NodeError(status, path, f"endpoint gone: {_snippet(resp) or 'Gone'}")
                else:
                    raise NodeError(status, path, _snippet(resp) or resp.reason_phrase)
            if attempt + 1 < attempts:
                self._sleep(self._delay(attempt, wait))
        raise NodeUnavailable(method, path, attempts, cause)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_retry_after, retry_after)
        return self._rng.uniform(0.0, min(self.max_backoff, self.backoff * 2**attempt))

    def _note_limits(self, resp: httpx.Response) -> None:
        """A response saying no request remains in the window: hold the next one until the
        window resets (a request sent now could only earn a 429 and cost an attempt)."""
        remaining = [_number(resp.headers.get(h)) for h in _REMAINING]
        if any(r is not None and r <= 0 for r in remaining) and resp.status_code != 429:
            wait = _reset_in(resp.headers, self._clock())
            wait = RATE_WINDOW if wait is None else wait
            self._not_before = self._clock() + min(self.max_retry_after, wait)

    def _wait_for_window(self) -> None:
        if self._not_before:
            wait = self._not_before - self._clock()
            self._not_before = 0.0
            if wait > 0:
                self._sleep(wait)

    def _note_deprecation(self, resp: httpx.Response, path: str) -> None:
        warning = resp.headers.get("warning", "")
        if warning.startswith("299") and path not in self.deprecated:
            self.deprecated.add(path)
            logger.warning("%s is deprecated: %s", path, warning[:200])

    @staticmethod
    def _json(resp: httpx.Response, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise NodeError(resp.status_code, path, f"body is not JSON: {_snippet(resp)}") from None


def _seg(text: str) -> str:
    """One URL path segment; principals and names are URL-safe already, this keeps it that way."""
    return quote(text, safe=".-_")


# Hiro's "requests left in this window" headers: the generic one and the Stacks service's.
_REMAINING = (
    "ratelimit-remaining",
    "x-ratelimit-remaining-stacks-minute",
    "x-ratelimit-remaining-minute",
)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _retry_after(value: str | None, now: float) -> float | None:
    """Retry-After in seconds, or as an HTTP date (RFC 9110 allows both)."""
    seconds = _number(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    if value is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _reset_in(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until the rate-limit window resets: `ratelimit-reset` is a Unix time in Hiro's
    documentation and a delay in seconds in the IETF draft; a value past 10^9 is a time."""
    reset = _number(headers.get("ratelimit-reset"))
    if reset is None or reset < 0:
        return None
    return max(0.0, reset - now) if reset >= 1e9 else reset


def _is_json(resp: httpx.Response) -> bool:
    return "json" in resp.headers.get("content-type", "").lower()


def _snippet(resp: httpx.Response) -> str:
    text = resp.text.strip().replace("\n", " ")
    return text if len(text) <= _BODY_SNIPPET else text[:_BODY_SNIPPET] + "..."


def _already_known(reason: str, error: str) -> bool:
    """The node's words for "these very bytes are already waiting" (a conflict with itself)."""
    text = f"{reason} {error}".lower()
    return reason == errors.ConflictingNonceInMempool.reason or "already in mempool" in text
