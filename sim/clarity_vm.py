"""The Clarity VM, reached through the Node bridge (`contracts/bridge.mjs`) to the Clarinet SDK.

One long-lived `node` process serves a whole test run or simulation; requests and responses
are JSON lines, Clarity values the hex of their consensus serialization. The process's stderr
(where the SDK echoes contract prints) is drained by a thread so the bridge never blocks on a
full pipe, and its last lines are quoted when the bridge fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chain.clarity import ClarityValue, deserialize
from chain.port import Event

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"


class BridgeError(RuntimeError):
    """The bridge could not start, died, or answered with an error."""


class ClarityBridge:
    def __init__(self, contracts_dir: Path = CONTRACTS_DIR, node: str = "node"):
        exe = shutil.which(node)
        if exe is None:
            raise BridgeError(f"{node!r} is not on PATH: the Clarity VM needs Node.js 20")
        if not (contracts_dir / "node_modules" / "@stacks" / "clarinet-sdk").exists():
            raise BridgeError("the Clarinet SDK is not installed: run `npm ci --prefix contracts`")
        self._proc = subprocess.Popen(
            [exe, "bridge.mjs"],
            cwd=contracts_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._stderr: deque[str] = deque(maxlen=200)
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    def _send(self, payload: dict[str, Any]) -> Any:
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(payload) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise BridgeError(f"the bridge died: {exc}; {self._tail()}") from None
        if not line:
            raise BridgeError(f"the bridge closed its output; {self._tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise BridgeError(answer["error"])
        return answer["ok"]

    def _tail(self) -> str:
        return "last stderr: " + " | ".join(list(self._stderr)[-5:])

    def request(self, op: str, **fields: Any) -> Any:
        return self._send({"op": op, **fields})

    def do(self, request: dict[str, Any]) -> Any:
        """A request built by `call_request` / `read_request`."""
        return self._send(request)

    def batch(self, requests: Sequence[dict[str, Any]]) -> list[Any]:
        """Many requests in one round trip; each answer is unwrapped, an error raises."""
        answers = self._send({"op": "batch", "requests": list(requests)})
        out = []
        for a in answers:
            if "error" in a:
                raise BridgeError(a["error"])
            out.append(a["ok"])
        return out

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> ClarityBridge:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def call_request(
    contract: str, function: str, args: Sequence[ClarityValue], sender: str
) -> dict[str, Any]:
    return {
        "op": "call",
        "contract": contract,
        "function": function,
        "args": [a.serialize().hex() for a in args],
        "sender": sender,
    }


def read_request(
    contract: str, function: str, args: Sequence[ClarityValue], sender: str | None = None
) -> dict[str, Any]:
    return {
        "op": "read",
        "contract": contract,
        "function": function,
        "args": [a.serialize().hex() for a in args],
        "sender": sender,
    }


def decode_result(answer: dict[str, Any]) -> ClarityValue:
    return deserialize(bytes.fromhex(answer["result"]))


def decode_events(answer: dict[str, Any]) -> tuple[Event, ...]:
    """The VM's events as the engine's `Event`s (the same shape SimChain produces)."""
    out = []
    for e in answer["events"]:
        kind = e["kind"]
        if kind == "print":
            out.append(Event("print", e["contract"], deserialize(bytes.fromhex(e["value"]))))
        elif kind in ("stx_transfer", "ft_transfer", "ft_mint"):
            out.append(
                Event(
                    kind,
                    e.get("contract", ""),
                    None,
                    e.get("sender", ""),
                    e["recipient"],
                    int(e["amount"]),
                )
            )
        else:
            out.append(Event(kind))
    return tuple(out)
