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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chain.clarity import ClarityValue, deserialize
from chain.port import Event
from contracts import DIR as CONTRACTS_DIR


class BridgeError(RuntimeError):
    """The bridge could not start, died, or answered with an error."""


class ClarityBridge:
    def __init__(self, contracts_dir: Path = CONTRACTS_DIR, node: str = "node"):
        exe = shutil.which(node)
        if exe is None:
            raise BridgeError(f"{node!r} is not on PATH: the Clarity VM needs Node.js 20")
        if not (contracts_dir / "node_modules" / "@stacks" / "clarinet-sdk").exists():
            raise BridgeError(
                f"the Clarinet SDK is not installed: run `npm ci --prefix {contracts_dir}`"
            )
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

    @property
    def pid(self) -> int:
        """The Node process's id (benchmarks read its CPU time)."""
        return self._proc.pid

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


FEE_SINK = "ST000000000000000000002AMW42H"  # where the VM executor sends fees (burnt in the model)


class ClarityContracts:
    """SimChain's second executor: every contract call runs in the Clarity VM.

    The same interface as `sim.models.PythonContracts`. The contracts are deployed by the
    simulation's own deployer; burn height follows SimChain's (the VM mines empty burn blocks
    to catch up before each call); fees leave the sender as they do on the Python side. What the
    VM cannot do is undo: a post-condition failure cannot be rolled back, and snapshot/restore
    are unavailable, so both raise rather than diverge quietly.
    """

    name = "clarity"

    def __init__(
        self,
        deployer,
        bridge: ClarityBridge | None = None,
        parameter_values: Mapping[str, int] | None = None,
    ):
        from sim.models.assets import SbtcToken
        from sim.models.oracle import Oracle
        from sim.models.parameters import Parameters
        from sim.models.pool import Pool
        from sim.models.registry import Registry

        self.bridge = bridge or ClarityBridge()
        self._own_bridge = bridge is None
        self.deployer = deployer
        values = {key: str(value) for key, value in (parameter_values or {}).items()}
        info = self.bridge.request("init", deployer=deployer.address, parameters=values)
        self.burn = info["burn_height"]
        self.genesis_burn_height = self.burn
        from sim.models.clock import BlockClock, deployed

        expected = deployed()
        if BlockClock.at(self.burn, info["time"]) != expected:
            raise BridgeError(
                f"the simnet's clock stands at {info['time']} at burn height {self.burn}; the "
                f"models expect {expected.time()} (sim/models/clock.py)"
            )
        # the models' function tables are the contracts' interface (contracts/README.md)
        self.interfaces = {
            deployer.contract(cls.name): cls
            for cls in (SbtcToken, Oracle, Parameters, Pool, Registry)
        }

    def close(self) -> None:
        if self._own_bridge:
            self.bridge.close()

    def _sync(self, burn_height: int) -> None:
        if burn_height > self.burn:
            self.burn = self.bridge.request("mine_burn", n=burn_height - self.burn)["burn_height"]
        if burn_height != self.burn:
            raise BridgeError(f"the VM is at burn height {self.burn}, the chain at {burn_height}")

    def prepare(self, contract, function: str, args):
        from sim.models.base import ArgumentError

        cls = self.interfaces.get(contract)
        if cls is None:
            raise ArgumentError(f"no such contract {contract.address}")
        spec = cls.functions.get(function)
        if spec is None or spec[0] != "public":
            raise ArgumentError(f"no public function {function!r} in {contract.name}")
        if len(args) != len(spec[2]):
            raise ArgumentError(f"{function} takes {len(spec[2])} arguments, got {len(args)}")
        for parse, arg in zip(spec[2], args, strict=True):
            parse(arg)
        return (contract, function, tuple(args))

    def execute(self, sender, call, burn_height: int, check=None):
        from sim.models.world import ExecResult

        contract, function, args = call
        self._sync(burn_height)
        try:
            answer = self.bridge.do(call_request(contract.name, function, args, sender.address))
        except BridgeError as exc:  # the VM throws on runtime errors (overflow and the like)
            return ExecResult("abort_by_response", None, error=str(exc))
        result, events = decode_result(answer), decode_events(answer)
        if type(result).__name__ != "Ok":
            return ExecResult("abort_by_response", result)
        if check is not None and not check(events):
            raise BridgeError(
                f"post-conditions failed on {contract.name}.{function}; the Clarity VM executor "
                "cannot roll a call back"
            )
        return ExecResult("success", result, events)

    def transfer_stx(self, sender, recipient, amount: int, burn_height: int, check=None):
        from sim.models.world import ExecResult

        self._sync(burn_height)
        answer = self.bridge.request(
            "transfer_stx", amount=str(amount), recipient=recipient.address, sender=sender.address
        )
        result = decode_result(answer)
        if type(result).__name__ != "Ok":
            return ExecResult("abort_by_response", result)
        return ExecResult("success", result, decode_events(answer))

    def read_only(self, contract, function: str, args, burn_height: int = 0):
        if burn_height:
            self._sync(burn_height)
        return decode_result(self.bridge.do(read_request(contract.name, function, args)))

    def pay_fee(self, sender, fee: int) -> bool:
        if self.stx_balance(sender) < fee:
            return False
        if fee:
            self.bridge.request(
                "transfer_stx", amount=str(fee), recipient=FEE_SINK, sender=sender.address
            )
        return True

    @property
    def time(self) -> int:
        """The tip's `stacks-block-time`, as the VM stamps it."""
        return int(self.bridge.request("tip")["time"])

    def stx_balance(self, who) -> int:
        return int(self.bridge.request("stx_balance", address=who.address))

    def sbtc_balance(self, who) -> int:
        from chain.clarity import Ok, UInt

        got = self.read_only(self.deployer.contract("sbtc-token"), "get-balance", [who])
        return got.value.value if isinstance(got, Ok) and isinstance(got.value, UInt) else 0

    def genesis_stx(self, who, amount: int) -> None:
        self.bridge.request("mint_stx", recipient=who.address, amount=str(amount))

    def genesis_sbtc(self, who, amount: int) -> None:
        from chain.clarity import UInt

        token = self.deployer.contract("sbtc-token")
        answer = self.bridge.do(call_request(token.name, "mint", [UInt(amount), who],
                                             self.deployer.address))  # fmt: skip
        if type(decode_result(answer)).__name__ != "Ok":
            raise BridgeError(f"genesis sBTC for {who.address} failed")

    def snapshot(self):
        raise NotImplementedError("the Clarity VM executor cannot snapshot; use --executor python")

    def restore(self, snap) -> None:
        raise NotImplementedError("the Clarity VM executor cannot restore")
