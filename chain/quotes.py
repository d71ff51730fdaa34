"""Backend-signed quotes: the tuple the buyer submits and the registry verifies on chain.

Version 1 (what the registry checks today): the signature covers sha256 of the quote tuple's
consensus serialization, so the buyer cannot change a single term (their own principal
included) without the registry refusing it.

Version 2 (PROTOCOL.md "Quotes: SIP-018, short-lived, pinned to spot", below): the signature
covers the SIP-018 hash of the tuple under the domain `{name, version: "2", chain-id}`, and the
tuple also names the registry contract, the spot price the premium was computed at and a
`valid-until` time, so a quote is good on one deployment of one chain, for a minute, near spot.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from chain import sip018
from chain.clarity import ContractPrincipal, Principal, Tuple, UInt
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


# --- version 2: SIP-018 structured data ------------------------------------------------------

QUOTE_VERSION = "2"  # the domain's version: a v1-era signature can never verify as v2


@dataclass(frozen=True, slots=True)
class QuoteV2:
    """A v1 quote's terms plus what pins it to one deployment, one price and one minute."""

    terms: Quote
    registry: ContractPrincipal  # the registry contract that may accept it
    spot: int  # BTC-USD the premium was priced at, price units (USD x 1e8)
    valid_until: int  # `stacks-block-time` seconds, at most quote-ttl-seconds ahead

    def to_clarity(self) -> Tuple:
        return quote_message(self)


@lru_cache(maxsize=4096)
def quote_message(quote: QuoteV2) -> Tuple:
    """The v2 quote tuple the buyer submits: v1's ten fields plus `registry`, `spot` and
    `valid-until` (the Tuple sorts the names in byte order, as Clarity does)."""
    fields = dict(quote.terms.to_clarity().data)
    fields["registry"] = quote.registry
    fields["spot"] = UInt(quote.spot)
    fields["valid-until"] = UInt(quote.valid_until)
    return Tuple(fields)


def quote_domain(name: str, chain_id: int) -> sip018.Domain:
    """The registry's SIP-018 domain; `name` differs per environment (devnet and testnet share
    chain id 0x80000000), `chain_id` is the contract's own `chain-id`."""
    return sip018.Domain(name, QUOTE_VERSION, chain_id)


def sign_quote_v2(quote: QuoteV2, domain: sip018.Domain, key: PrivateKey) -> bytes:
    """65 bytes r || s || v over the SIP-018 hash; the same bytes `signStructuredData` makes."""
    return sip018.sign(domain, quote_message(quote), key)
