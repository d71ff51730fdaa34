"""Python models of the BitHedge Clarity contracts (see contracts/README.md)."""

from sim.models.world import ExecResult, PythonContracts

__all__ = ["ExecResult", "PythonContracts"]
