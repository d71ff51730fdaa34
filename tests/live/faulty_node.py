"""A node that misbehaves on request: an HTTP proxy in front of the devnet.

It forwards every request unchanged, except as told: refuse the next broadcasts with given
node reasons (answered as a node does, HTTP 400 with the reason), be down (close every
connection without an answer), or forward a broadcast and then lose the answer (HTTP 503), the
case where the sender cannot know whether its transaction reached the mempool.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from chain import keys


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


class FaultyNode:
    def __init__(self, upstream: str):
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.lock = threading.Lock()
        self.rejections: deque[str] = deque()  # reasons for the next broadcasts, in order
        self.down = False
        self.lose_responses = 0  # broadcasts to forward and then answer 503
        self.broadcasts = 0  # POST /v2/transactions that reached the devnet
        self.refused: list[str] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.node = self
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.upstream.close()

    def handle(self, h: _Handler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        broadcast = method == "POST" and h.path.startswith("/v2/transactions")
        with self.lock:
            if self.down:
                h.close_connection = True  # no status line at all: a connection reset
                return
            reason = self.rejections.popleft() if broadcast and self.rejections else None
            lose = broadcast and self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if reason is not None:
            self.refused.append(reason)
            txid = keys.sha512_256(body).hex()
            answer = {"error": "transaction rejected", "reason": reason, "txid": txid}
            return self._send(h, 400, json.dumps(answer).encode())
        headers = {k: v for k, v in h.headers.items() if k.lower() in ("content-type",)}
        got = self.upstream.request(method, h.path, content=body, headers=headers)
        if broadcast:
            with self.lock:
                self.broadcasts += 1
        if lose:
            return self._send(h, 503, b'{"error": "upstream timed out"}')
        self._send(h, got.status_code, got.content)

    @staticmethod
    def _send(h: _Handler, status: int, data: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
