"""The same calls on the Python models and in the Clarity VM, compared after every step.

`Twin` resets the simnet, gives the Python executor the simnet's exact accounts and balances,
and then every call runs on both: results, printed events and asset movements must be equal,
and `assert_same_state` compares tranches, policies and every balance.
"""

from __future__ import annotations

from chain.clarity import (
    TRUE,
    Buffer,
    ClarityValue,
    ContractPrincipal,
    Ok,
    Some,
    StandardPrincipal,
    StringAscii,
    UInt,
    principal,
)
from chain.contracts import TRANCHES, Contracts
from chain.keys import PrivateKey
from sim.clarity_vm import (
    BridgeError,
    ClarityBridge,
    call_request,
    decode_events,
    decode_result,
    read_request,
)
from sim.models import PythonContracts
from sim.models.base import ArgumentError
from sim.models.clock import BlockClock
from sim.models.oracle import FIXING_WINDOW


class Twin:
    def __init__(self, bridge: ClarityBridge):
        self.bridge = bridge
        info = bridge.request("init")
        self.accounts: dict[str, StandardPrincipal] = {
            name: principal(addr) for name, addr in info["accounts"].items()
        }
        self.deployer = self.accounts["deployer"]
        self.contracts = Contracts.of(self.deployer)
        self.py = PythonContracts(self.deployer)
        self.burn = info["burn_height"]
        self.py.clock = BlockClock.at(self.burn, info["time"])  # stacks-block-time agrees
        for asset, holders in bridge.request("assets").items():
            for who, amount in holders.items():
                if asset == "STX":
                    self.py.genesis_stx(principal(who), int(amount))
                else:
                    raise AssertionError(f"unexpected asset at genesis: {asset}")
        self.steps = 0
        self.others: dict[str, ContractPrincipal] = {}  # contracts deployed by tests

    def contract(self, name: str) -> ContractPrincipal:
        return self.others.get(name) or self.deployer.contract(name)

    def deploy(self, name: str, source: str, sender: str, model: type) -> ContractPrincipal:
        """A third-party contract (Clarity 4) deployed by `sender` in the VM, and its model in
        the Python executor; afterwards `call` and `read` reach it by `name`."""
        who = self.accounts[sender]
        self.bridge.request("deploy", name=name, source=source, sender=who.address)
        self.py.clock.mine()  # a deployment is a Stacks block
        instance = model(self.py, who)
        self.py.contracts[instance.principal] = instance
        self.others[name] = instance.principal
        return instance.principal

    def call(self, sender: str, contract: str, function: str, *args: ClarityValue) -> ClarityValue:
        """Runs one public call on both; returns the (equal) result."""
        who = self.accounts[sender]
        try:
            prepared = self.py.prepare(self.contract(contract), function, args)
        except ArgumentError as exc:
            raise AssertionError(f"the model refuses a call the VM would run: {exc}") from None
        py = self.py.execute(who, prepared, self.burn)
        self.steps += 1
        where = f"step {self.steps}: {sender} {contract}.{function}"
        try:
            target = self.others[contract].address if contract in self.others else contract
            vm = self.bridge.do(call_request(target, function, args, who.address))
        except BridgeError as exc:  # the SDK throws on a runtime error instead of returning
            assert "Runtime error" in str(exc), f"{where}: {exc}"
            assert py.outcome == "abort_by_response" and py.value is None, (
                f"{where}: the VM hit a runtime error, the model returned {py.value}"
            )
            return None  # type: ignore[return-value]
        vm_result, vm_events = decode_result(vm), decode_events(vm)
        assert vm["time"] == self.py.clock.time(), f"{where}: stacks-block-time differs"
        assert py.value == vm_result, f"{where}: model {py.value} != VM {vm_result}"
        py_events = py.events if py.success else ()
        assert list(py_events) == list(vm_events), f"{where}: events differ"
        return vm_result

    def read(self, contract: str, function: str, *args: ClarityValue) -> ClarityValue:
        vm = decode_result(self.bridge.do(read_request(contract, function, args)))
        py = self.py.read_only(self.contract(contract), function, args, self.burn)
        assert py == vm, f"read {contract}.{function}: model {py} != VM {vm}"
        return vm

    def mine_burn(self, n: int = 1) -> int:
        self.burn = self.bridge.request("mine_burn", n=n)["burn_height"]
        self.py.clock.sync(self.burn)
        return self.burn

    def mine_to(self, height: int) -> int:
        """Mines burn blocks up to `height` (none if already there)."""
        assert height >= self.burn, (height, self.burn)
        return self.mine_burn(height - self.burn) if height > self.burn else self.burn

    def fix(self, asset: str, expiry: int, who: str = "deployer") -> ClarityValue:
        """`who` proves the oracle's fixing of (asset, expiry), with the hints anyone can read
        off the observations: the last one at or before each end of the window."""
        oracle = self.py.oracle
        hints = (oracle.in_force(asset, expiry - FIXING_WINDOW), oracle.in_force(asset, expiry))
        args = (StringAscii(asset), UInt(expiry), *(UInt(h or 0) for h in hints))
        return self.call(who, "oracle", "fix", *args)

    def fix_policies(self, *ids: int, who: str = "deployer") -> None:
        """What whoever settles does first: proves the fixings the given policies need once
        expired (BTC-USD, and STX-USD for STX policies); a stored fixing is returned as is."""
        for pid in ids:
            found = self.read("policy-registry", "get-policy", UInt(pid))
            if not isinstance(found, Some) or found.value["expiration"].value > self.burn:
                continue
            expiry = found.value["expiration"].value
            assets = ("BTC-USD", "STX-USD") if found.value["token"] == UInt(0) else ("BTC-USD",)
            for asset in assets:
                assert isinstance(self.fix(asset, expiry, who), Ok), (asset, expiry)

    @property
    def time(self) -> int:
        """The tip's stacks-block-time (both executors: `call` checks they agree)."""
        return self.py.clock.time()

    def quote_pins(self, ttl: int = 60) -> dict:
        """What pins a v2 quote to this deployment, spot and minute: the registry, the latest
        BTC-USD observation as spot, and valid-until `ttl` seconds after the tip (the purchase's
        block is 10 s later, so the default is the longest the registry accepts)."""
        btc = self.read("oracle", "get-price", StringAscii("BTC-USD"))
        spot = btc.value["price"].value if isinstance(btc, Ok) else 0  # type: ignore[attr-defined]
        return dict(registry=self.contracts.registry, spot=spot, valid_until=self.time + ttl)

    def assert_same_state(self, policies: int = 0) -> None:
        for token, tier in TRANCHES:
            self.read("liquidity-pool", "get-tranche", UInt(token), UInt(tier))
        for pid in range(1, policies + 1):
            self.read("policy-registry", "get-policy", UInt(pid))
        assets = self.bridge.request("assets")
        # the SDK names the test token `.sbtc-token.sbtc` in its asset map
        sbtc = next((k for k in assets if k.endswith("sbtc-token.sbtc")), "")
        holders = set(self.accounts.values()) | {self.contracts.pool}
        for who in holders:
            vm_stx = int(assets.get("STX", {}).get(who.address, 0))
            vm_sbtc = int(assets.get(sbtc, {}).get(who.address, 0))
            assert self.py.stx_balance(who) == vm_stx, f"STX of {who.address}"
            assert self.py.sbtc_balance(who) == vm_sbtc, f"sBTC of {who.address}"


QUOTE_KEY = PrivateKey.from_seed(b"clarity-tests/quote")  # the contract tests' quote signer


def trusting_twin(bridge: ClarityBridge) -> Twin:
    """A fresh twin whose registry accepts quotes signed by QUOTE_KEY."""
    twin = Twin(bridge)
    key = Buffer(QUOTE_KEY.public_key)
    assert twin.call("deployer", "policy-registry", "set-quote-pubkey", key) == Ok(TRUE)
    return twin
