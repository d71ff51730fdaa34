"""Backend-signed quotes: the tuple the buyer submits and the registry verifies on chain.

The signature covers sha256 of the quote tuple's consensus serialization, so the buyer cannot
change a single term (their own principal included) without the registry refusing it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from chain.clarity import Principal, Tuple, UInt
from chain.keys import PrivateKey


@dataclass(frozen=True, slots=True)
class Quote:
    buyer: Principal
    amount: int  # sats of BTC protected
    strike: int  # price units (USD x 1e8)
    expiration: int  # burn height
    premium: int  # token units
    collateral: int  # token units
    token: int  # 0 STX, 1 sBTC
    tier: int  # 0 conservative, 1 balanced, 2 aggressive
    quote_expiry: int  # burn height
    quote_id: int

    def to_clarity(self) -> Tuple:
        """The quote tuple; memoised, since a quote is signed, sent and hashed as one value."""
        return _to_clarity(self)


@lru_cache(maxsize=4096)
def _to_clarity(self: Quote) -> Tuple:
    return Tuple(
        {
            "amount": UInt(self.amount),
            "buyer": self.buyer,
            "collateral": UInt(self.collateral),
            "expiration": UInt(self.expiration),
            "premium": UInt(self.premium),
            "quote-expiry": UInt(self.quote_expiry),
            "quote-id": UInt(self.quote_id),
            "strike": UInt(self.strike),
            "tier": UInt(self.tier),
            "token": UInt(self.token),
        }
    )


def quote_digest(quote: Tuple) -> bytes:
    """sha256(to-consensus-buff? quote): what the quote key signs and the registry checks."""
    return hashlib.sha256(quote.serialize()).digest()


def sign_quote(quote: Quote, key: PrivateKey) -> bytes:
    """65 bytes r || s || recovery id, the form `secp256k1-verify` takes."""
    return key.sign_recoverable(quote_digest(quote.to_clarity()))
