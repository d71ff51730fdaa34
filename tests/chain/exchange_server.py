"""The tests' loopback exchanges: one home in sim/feed.py, which the devnet's feed serves too."""

from sim.feed import MODES, PRICE_AT, RECORDED, ExchangeServer, render

__all__ = ["MODES", "PRICE_AT", "RECORDED", "ExchangeServer", "render"]
