"""The devnet's executor: the Clarity VM, with the Python models one step ahead of it.

A node rolls back a transaction whose post-conditions fail and keeps only its fee. The VM
behind the Clarinet SDK cannot roll a call back, so here the models, which have Clarity's
rollback and agree with the VM call for call (the conformance tests), run each call first:
one that fails its post-conditions is rolled back on the models and never reaches the VM;
any other runs on both, and the two must agree on the result and every event. A disagreement
is a conformance bug, and the devnet stops rather than serve a state it cannot vouch for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.clarity_vm import ClarityContracts
from sim.models import PythonContracts


class Divergence(RuntimeError):
    """The models and the VM disagreed on a committed call."""


class Lockstep:
    name = "clarity"

    def __init__(self, deployer, parameter_values: Mapping[str, int] | None = None):
        self.vm = ClarityContracts(deployer, parameter_values=parameter_values)
        self.py = PythonContracts(deployer, parameter_values=dict(parameter_values or {}))
        self.genesis_burn_height = self.vm.genesis_burn_height
        self.deployer = deployer

    def close(self) -> None:
        self.vm.close()

    def prepare(self, contract, function: str, args):
        vm = self.vm.prepare(contract, function, args)
        return vm, self.py.prepare(contract, function, args)

    @staticmethod
    def _agree(what: str, vm, py) -> None:
        if (vm.outcome, vm.value) != (py.outcome, py.value) or (
            vm.success and list(vm.events) != list(py.events)
        ):
            raise Divergence(
                f"{what}: VM {vm.outcome} {vm.value} != models {py.outcome} {py.value}"
            )

    def execute(self, sender, call, burn_height: int, check=None):
        vm_call, py_call = call
        py = self.py.execute(sender, py_call, burn_height, check)
        if py.outcome == "abort_by_post_condition":
            return py  # rolled back on the models; the VM never saw it, as a node keeps nothing
        vm = self.vm.execute(sender, vm_call, burn_height)
        self._agree(f"{vm_call[0].name}.{vm_call[1]}", vm, py)
        return vm

    def transfer_stx(self, sender, recipient, amount: int, burn_height: int, check=None):
        py = self.py.transfer_stx(sender, recipient, amount, burn_height, check)
        vm = self.vm.transfer_stx(sender, recipient, amount, burn_height)
        self._agree("stx-transfer", vm, py)
        return vm

    def read_only(self, contract, function: str, args, burn_height: int = 0):
        return self.vm.read_only(contract, function, args, burn_height)

    def pay_fee(self, sender, fee: int) -> bool:
        paid = self.vm.pay_fee(sender, fee)
        if paid != self.py.pay_fee(sender, fee):
            raise Divergence(f"fee of {sender.address}: VM {paid}, models {not paid}")
        return paid

    def stx_balance(self, who) -> int:
        return self.vm.stx_balance(who)

    def sbtc_balance(self, who) -> int:
        return self.vm.sbtc_balance(who)

    def genesis_stx(self, who, amount: int) -> None:
        self.vm.genesis_stx(who, amount)
        self.py.genesis_stx(who, amount)

    def genesis_sbtc(self, who, amount: int) -> None:
        self.vm.genesis_sbtc(who, amount)
        self.py.genesis_sbtc(who, amount)

    def snapshot(self) -> Any:
        raise NotImplementedError("the devnet's VM cannot snapshot")

    def restore(self, snap: Any) -> None:
        raise NotImplementedError("the devnet's VM cannot restore")

    @property
    def bridge(self):
        return self.vm.bridge
