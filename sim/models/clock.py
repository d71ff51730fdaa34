"""`stacks-block-time` as the Clarinet simnet advances it, so the models see the VM's clock.

The simnet's clock is its own: a new burn block's first Stacks block is stamped
`GENESIS_TIME + 600 x burn height`, and each further Stacks block of that tenure 10 s later.
Every public call, STX transfer and contract deployment in the simnet mines one Stacks block
(failed calls too); read-only calls mine none and see the tip's time. contracts/bridge.mjs pins
the wall clock the SDK reads at `initSimnet`, which makes GENESIS_TIME a constant. The Python
executor counts the same blocks (sim/models/world.py), so a quote's `valid-until` is judged
against the same second on both executors and `--executor clarity` stays byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

# the simnet's time at burn height 0 once contracts/bridge.mjs pinned its wall clock
# (PINNED_WALL_CLOCK_MS / 1000 + 10, measured: the tip after `init` is 1700001210 at burn 2)
GENESIS_TIME = 1_700_000_010
BURN_BLOCK_SECONDS = 600
STACKS_BLOCK_SECONDS = 10


@dataclass
class BlockClock:
    """The tip's burn height and how many Stacks blocks its tenure has after the first."""

    burn: int
    blocks: int = 0

    @classmethod
    def at(cls, burn: int, time: int) -> BlockClock:
        """The clock of a simnet whose tip is at `burn` and stamped `time` (the bridge's tip)."""
        return cls(burn, (time - GENESIS_TIME - BURN_BLOCK_SECONDS * burn) // STACKS_BLOCK_SECONDS)

    def time(self) -> int:
        """The tip's `stacks-block-time`, what a read-only call sees."""
        return GENESIS_TIME + BURN_BLOCK_SECONDS * self.burn + STACKS_BLOCK_SECONDS * self.blocks

    def sync(self, burn: int) -> None:
        """Burn blocks mined up to `burn`: each opens a tenure with its own first Stacks block."""
        if burn != self.burn:
            self.burn, self.blocks = burn, 0

    def mine(self, burn: int | None = None) -> int:
        """One more Stacks block (at `burn`, if given); returns its time, what a call in it sees."""
        if burn is not None:
            self.sync(burn)
        self.blocks += 1
        return self.time()


def deployed() -> BlockClock:
    """The simnet's clock once contracts/bridge.mjs's `init` has deployed the six contracts
    under the simulator's deployer (one Stacks block each) at burn height 2: where a chain on
    either executor starts."""
    return BlockClock(2, 6)
