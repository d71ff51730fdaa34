"""Backend-signed quotes: the tuple the buyer submits and the registry verifies on chain.

PROTOCOL.md "Quotes: SIP-018, short-lived, pinned to spot": the quote key signs the SIP-018
hash of the quote tuple under the domain `{name, version: "2", chain-id}`, and the tuple names
the registry contract that may accept it, the BTC-USD spot its premium was priced at and a
`valid-until` time (`stacks-block-time` seconds, at most `quote-ttl-seconds` ahead). So a quote
is good on one deployment of one chain, for a minute, within `quote-slippage-bps` of spot; the
buyer cannot change a single term (their own principal included). The registry builds the
domain itself with its own `chain-id`; the name is the environment's, fixed at deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from chain import sip018
from chain.clarity import ContractPrincipal, Principal, Tuple, UInt
from chain.keys import PrivateKey
from chain.transactions import Network

QUOTE_VERSION = "2"  # the domain's version: a v1-era signature can never verify as v2
# policy-registry.clar's QUOTE-DOMAIN-NAME in this repository's deployments (simnet, SimChain,
# the local devnet); testnet shares devnet's chain id, so a testnet deployment is made with
# "bithedge-testnet" and mainnet with "bithedge".
QUOTE_DOMAIN_NAME = "bithedge-devnet"


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
    quote_expiry: int  # burn height: the issuer's reservation ends here
    quote_id: int
    registry: ContractPrincipal  # the registry contract that may accept it
    spot: int  # BTC-USD the premium was priced at, price units (USD x 1e8)
    valid_until: int  # `stacks-block-time` seconds, at most quote-ttl-seconds ahead

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
            "registry": self.registry,
            "spot": UInt(self.spot),
            "strike": UInt(self.strike),
            "tier": UInt(self.tier),
            "token": UInt(self.token),
            "valid-until": UInt(self.valid_until),
        }
    )


def quote_domain(name: str, chain_id: int) -> sip018.Domain:
    """The registry's SIP-018 domain; `name` differs per environment (devnet and testnet share
    chain id 0x80000000), `chain_id` is the contract's own `chain-id`."""
    return sip018.Domain(name, QUOTE_VERSION, chain_id)


def network_domain(network: Network, name: str = QUOTE_DOMAIN_NAME) -> sip018.Domain:
    """The domain of a registry deployed on `network` under the environment's `name`."""
    return quote_domain(name, network.chain_id)


# every deployment this repository makes itself: the simnet, SimChain and the local devnet
DEVNET_DOMAIN = network_domain(Network.TESTNET)


def quote_hash(quote: Tuple, domain: sip018.Domain) -> bytes:
    """The SIP-018 hash of a quote tuple: what the quote key signs and `get-quote-hash` returns."""
    return sip018.message_hash(domain, quote)


def sign_quote(quote: Quote, key: PrivateKey, domain: sip018.Domain = DEVNET_DOMAIN) -> bytes:
    """65 bytes r || s || v over the SIP-018 hash; the same bytes `signStructuredData` makes."""
    return sip018.sign(domain, quote.to_clarity(), key)
