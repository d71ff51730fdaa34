"""`stacks-block-time` as the Clarinet simnet advances it, so the models see the VM's clock.

The simnet keeps its own clock (measured on @stacks/clarinet-sdk 3.21, 300 random steps of
Stacks and burn blocks, no mismatch): every Stacks block is 10 s after the previous one; a new
burn block opens a tenure whose first Stacks block is 600 s after the previous tenure's first,
unless the previous tenure's blocks already reached that far (last + 10 > start + 600), in which
case it is 20 s after the last block. Every public call, STX transfer and contract deployment
mines one Stacks block (failed calls and runtime errors too); read-only calls mine none and see
the tip's time. contracts/bridge.mjs pins the wall clock the SDK reads at `initSimnet`, so the
clock is a pure function of the blocks mined. The Python executor counts the same blocks
(sim/models/world.py), so a quote's `valid-until` is judged against the same second on both
executors and `--executor clarity` stays byte-identical.
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
    """The tip's burn height, the time of its tenure's first Stacks block, and the tip's time."""

    burn: int
    start: int
    tip: int

    @classmethod
    def at(cls, burn: int, time: int) -> BlockClock:
        """The clock of a fresh simnet whose tip is at `burn` and stamped `time`."""
        return cls(burn, GENESIS_TIME + BURN_BLOCK_SECONDS * burn, time)

    def time(self) -> int:
        """The tip's `stacks-block-time`, what a read-only call sees."""
        return self.tip

    def sync(self, burn: int) -> None:
        """Burn blocks mined up to `burn`: each opens a tenure with its own first Stacks block."""
        while self.burn < burn:
            self.burn += 1
            if self.tip + STACKS_BLOCK_SECONDS <= self.start + BURN_BLOCK_SECONDS:
                self.start += BURN_BLOCK_SECONDS
            else:
                self.start = self.tip + 2 * STACKS_BLOCK_SECONDS
            self.tip = self.start

    def mine(self, burn: int | None = None) -> int:
        """One more Stacks block (at `burn`, if given); returns its time, what a call in it sees."""
        if burn is not None:
            self.sync(burn)
        self.tip += STACKS_BLOCK_SECONDS
        return self.tip


def deployed() -> BlockClock:
    """The simnet's clock once contracts/bridge.mjs's `init` has deployed the six contracts
    under the simulator's deployer (one Stacks block each) at burn height 2: where a chain on
    either executor starts."""
    return BlockClock.at(2, GENESIS_TIME + 2 * BURN_BLOCK_SECONDS + 6 * STACKS_BLOCK_SECONDS)
