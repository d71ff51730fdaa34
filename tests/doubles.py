"""The tests' shared doubles: a node that misbehaves on request (FaultyNode), a mailbox an
actor replies to, a clock moved by hand, and a sleep that only records.

FaultyNode: an HTTP proxy in front of the devnet.

It forwards every request unchanged, except as told: refuse the next broadcasts with given
node reasons (answered as a node does, HTTP 400 with the reason; a reason `text:...` is the
node's text/plain 400), be down (close every connection without an answer), forward a broadcast
and then lose the answer (HTTP 503), the case where the sender cannot know whether its
transaction reached the mempool; answer the next requests whose path matches a pattern with
given statuses (429, 5xx, 410), hide a transaction from the API (404, an indexer that lags the
node), or report a mined transaction as `problematic_skipped`.

Two faces on the same rules: a loopback HTTP server (`url`, `listen=True`), and an httpx
transport (`transport`) for a client in this process. The upstream is a URL or a transport
(sim/devnet.py `DevnetTransport`), so a test can run with no socket at all.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from chain import keys
from chain.clarity import StringAscii, Tuple, UInt
from chain.node import (
    ContractCall,
    ContractEvent,
    LogPage,
    NodeClient,
    NodeInfo,
    TxEvent,
    TxInfo,
)
from chain.port import TxStatus


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.node.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.node.handle(self, "POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    node: FaultyNode


@dataclass
class Fault:
    """The next `times` requests whose path matches `pattern` get `status` (and `headers`)."""

    pattern: re.Pattern
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


# The API's transaction lookups and their event pages, in every version the client ever used.
TX_LOOKUP = r"^/extended/v\d/(tx|transactions)/0x[0-9a-f]{64}(\?|$)"
TX_EVENTS = r"^/extended/v3/transactions/0x[0-9a-f]{64}/events"
CONTRACT_LOGS = r"^/extended/v\d/(contract|smart-contracts)/[^/]+/(events|logs)"


@dataclass(frozen=True)
class _Reply:
    status: int
    data: bytes
    kind: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FaultyNode:
    def __init__(self, upstream: str | httpx.BaseTransport, listen: bool = True):
        if isinstance(upstream, str):
            self.upstream = httpx.Client(base_url=upstream, timeout=30)
        else:
            self.upstream = httpx.Client(base_url="http://upstream", transport=upstream)
        self.transport = _Transport(self)
        self.lock = threading.Lock()
        self.rejections: deque[str] = deque()  # reasons for the next broadcasts, in order
        self.down = False
        self.lose_responses = 0  # broadcasts to forward and then answer 503
        self.broadcasts = 0  # POST /v2/transactions that reached the devnet
        self.refused: list[str] = []
        self.faults: list[Fault] = []
        self.hidden: set[str] = set()  # txids the API answers 404 for
        self.skipped: set[str] = set()  # txids reported as problematic_skipped
        self.paths: list[str] = []  # every request's path, in order
        self.warnings: list[str] = []  # `Warning` headers the upstream answered with
        self._httpd: _Server | None = None
        if listen:
            self._httpd = _Server(("127.0.0.1", 0), _Handler)
            self._httpd.node = self
            threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "FaultyNode(listen=False) has only its transport"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self.upstream.close()

    def fail(self, pattern: str, status: int, times: int = 1, **headers: str) -> None:
        with self.lock:
            self.faults.append(Fault(re.compile(pattern), status, times, headers))

    def _fault(self, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times > 0 and f.pattern.search(path):
                    f.times -= 1
                    return f
        return None

    def handle(self, h: _Handler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        kind = h.headers.get("Content-Type")
        reply = self.respond(method, h.path, kind, body)
        if reply is None:
            h.close_connection = True  # no status line at all: a connection reset
            return
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.kind)
        h.send_header("Content-Length", str(len(reply.data)))
        for k, v in reply.headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(reply.data)

    def respond(self, method: str, path: str, kind: str | None, body: bytes) -> _Reply | None:
        """The answer to one request (`path` with its query), or None when the node is down."""
        broadcast = method == "POST" and path.startswith("/v2/transactions")
        with self.lock:
            self.paths.append(path)
            if self.down:
                return None
            reason = self.rejections.popleft() if broadcast and self.rejections else None
            lose = broadcast and self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if reason is not None:
            self.refused.append(reason)
            if reason.startswith("text:"):
                return _Reply(400, reason[5:].encode(), "text/plain")
            txid = keys.sha512_256(body).hex()
            answer = {"error": "transaction rejected", "reason": reason, "txid": txid}
            return _Reply(400, json.dumps(answer).encode())
        fault = self._fault(path)
        if fault is not None:
            answer = {"error": f"injected HTTP {fault.status}"}
            return _Reply(fault.status, json.dumps(answer).encode(), headers=fault.headers)
        if method == "GET" and any(t in path for t in self.hidden):
            return _Reply(404, b'{"error": "Not Found", "message": "Transaction not found"}')
        headers = {"content-type": kind} if kind is not None else {}
        got = self.upstream.request(method, path, content=body, headers=headers)
        if "warning" in got.headers:
            with self.lock:
                self.warnings.append(got.headers["warning"])
        if broadcast:
            with self.lock:
                self.broadcasts += 1
        if lose:
            return _Reply(503, b'{"error": "upstream timed out"}')
        content = got.content
        if method == "GET" and got.status_code == 200 and any(t in path for t in self.skipped):
            data = json.loads(content)
            if isinstance(data, dict):
                for key in ("status", "tx_status"):  # the v3 and the v1 field
                    if data.get(key) == "success":
                        data[key] = "problematic_skipped"
                content = json.dumps(data).encode()
        return _Reply(got.status_code, content, got.headers.get("content-type", "application/json"))


class _Transport(httpx.BaseTransport):
    """The FaultyNode as an httpx transport: down is a connection closed without an answer,
    as httpx reports it from a socket."""

    def __init__(self, node: FaultyNode):
        self.node = node

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii")
        reply = self.node.respond(
            request.method, path, request.headers.get("Content-Type"), request.read()
        )
        if reply is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = {"Content-Type": reply.kind, **reply.headers}
        return httpx.Response(reply.status, headers=headers, content=reply.data, request=request)


class Mailbox:
    """What an actor replies to (`reply_to`): the replies, in order, on a queue."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def tell(self, message) -> None:
        self.q.put(message)


class Sink:
    """An actor's peer that only keeps what it is told (`got`, in order): single-threaded."""

    def __init__(self) -> None:
        self.got: list = []

    def tell(self, message) -> None:
        self.got.append(message)


class NoLog:
    """An event log that keeps nothing."""

    def record(self, kind: str, **fields) -> None:
        pass


class Clock:
    """A clock a test moves by hand: `clock()` reads it, `clock.t += seconds` moves it."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sleeps(list):
    """A `sleep` that records how long it was asked to wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass(frozen=True)
class Mined:
    """A transaction in a block of the current fork; it printed one event `n` on `contract`."""

    txid: str
    height: int
    burn: int
    contract: str
    n: int

    def print_value(self) -> bytes:
        return Tuple({"event": StringAscii("scripted"), "n": UInt(self.n)}).serialize()


class ForkingNode:
    """The node API over `self.chain`, a list of `Mined` in chain order that a test edits
    (append to mine, cut and append to reorganise). Contract logs page newest first as the
    API does, `page` to a page, and `contract_events_since` is NodeClient's own, so a cursor
    lost to a reorganisation raises `CursorNotFound` exactly as against a real node."""

    contract_events_since = NodeClient.contract_events_since

    def __init__(self, page: int = 2):
        self.chain: list[Mined] = []
        self.page = page
        self.reads: list[str] = []  # the contract logs' cursors asked for, for the tests

    def mine(self, txid: str, contract: str, n: int) -> Mined:
        height = self.chain[-1].height + 1 if self.chain else 1
        m = Mined(txid, height, 100 + height, contract, n)
        self.chain.append(m)
        return m

    def reorganise(self, depth: int) -> list[Mined]:
        """Drops the last `depth` blocks (their transactions back to nowhere); returns them."""
        cut = [m for m in self.chain if m.height > self.chain[-1].height - depth]
        self.chain = self.chain[: len(self.chain) - len(cut)]
        return cut

    def info(self) -> NodeInfo:
        tip = self.chain[-1] if self.chain else Mined("", 0, 100, "", 0)
        return NodeInfo(tip.height, tip.burn, 0x80000000, stacks_tip=f"0x{tip.txid}")

    def contract_logs(self, contract_id: str, *, limit: int = 100, cursor: str | None = None):
        self.reads.append(f"{contract_id}@{cursor}")
        mine = [m for m in self.chain if m.contract == contract_id][::-1]
        start = int(cursor) if cursor else 0
        batch = mine[start : start + self.page]
        older = str(start + self.page) if start + self.page < len(mine) else None
        events = tuple(
            ContractEvent(0, m.txid, contract_id, "print", m.print_value()) for m in batch
        )
        return LogPage(events, older)

    def _mined(self, txid: str) -> Mined | None:
        return next((m for m in self.chain if m.txid == txid), None)

    def tx(self, txid: str) -> TxInfo | None:
        m = self._mined(txid)
        if m is None:
            return None
        index = [x.txid for x in self.chain if x.height == m.height].index(txid)
        name, function = m.contract.split(".", 1)[1], "scripted"
        return TxInfo(
            txid, TxStatus.SUCCESS, "success", "contract_call", block_height=m.height,
            burn_block_height=m.burn, tx_index=index,
            contract_call=ContractCall(m.contract, f"{function}-{name}"), event_count=1,
        )  # fmt: skip

    def all_tx_events(self, txid: str, expected: int | None = None) -> tuple[TxEvent, ...]:
        m = self._mined(txid)
        assert m is not None
        return (TxEvent(0, "contract_log", txid, m.contract, "print", m.print_value()),)
