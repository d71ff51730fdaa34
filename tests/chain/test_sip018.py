"""SIP-018 structured data: the SIP document's own test vectors, and the rules around them.

The vectors are copied as data from stacksgov/sips, sips/sip-018/sip-018-signed-structured-data.md
(section "Test vectors", commit 1f9e1b0537e49c8e233461caeb30172f8a7e6f1d). The same hashes and
signatures from `@stacks/transactions` are in test_vectors.py; the Clarity VM check is in
test_sip018_vm.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from chain import clarity, keys, sip018
from chain.clarity import ClarityError, StringAscii, UInt
from chain.quotes import (
    DEVNET_DOMAIN,
    QUOTE_DOMAIN_NAME,
    QUOTE_VERSION,
    Quote,
    quote_domain,
    quote_hash,
    sign_quote,
)
from chain.transactions import Network

# -- the SIP's vectors, verbatim ------------------------------------------------------------------
SIP_STRUCTURED_DATA_HASHES = [
    (
        StringAscii("Hello World"),
        "5297eef9765c466d945ad1cb2c81b30b9fed6c165575dc9226e9edf78b8cd9e8",
    ),
    (StringAscii(""), "3c8f1b104592e3ebb2b2602b3979a27e77f586fb4c655369fa4eccb6d545a0f8"),
]
SIP_DOMAIN = sip018.Domain(name="Test App", version="1.0.0", chain_id=1)
SIP_DOMAIN_HASH = "2538b5dc06c5ae2f11549261d7ae174d9f77a55a92b00f330884695497be5065"
SIP_MESSAGE = StringAscii("Hello World")
SIP_MESSAGE_HASH = "1bfdab6d4158313ce34073fbb8d6b0fc32c154d439def12247a0f44bb2225259"
SIP_PRIVATE_KEY = "753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601"
SIP_PUBLIC_KEY = "0390a5cac7c33fda49f70bc1b0866fa0ba7a9440d9de647fecb8132ceb76a94dfa"
SIP_ADDRESS = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"
SIP_SIGNATURE_RSV = (
    "8b94e45701d857c9f1d1d70e8b2ca076045dae4920fb0160be0642a68cd78de0"
    "72ab527b5c5277a593baeb2a8b657c216b99f7abb5d14af35b4bf12ba6460ba401"
)


@pytest.mark.parametrize("value,expected", SIP_STRUCTURED_DATA_HASHES)
def test_sip_structured_data_hash(value, expected):
    assert hashlib.sha256(value.serialize()).hexdigest() == expected


def test_sip_domain_hash():
    assert sip018.domain_hash(SIP_DOMAIN).hex() == SIP_DOMAIN_HASH


def test_sip_message_hash():
    assert sip018.message_hash(SIP_DOMAIN, SIP_MESSAGE).hex() == SIP_MESSAGE_HASH


def test_sip_key_and_signature():
    key = keys.PrivateKey.from_hex(SIP_PRIVATE_KEY)
    assert key.public_key.hex() == SIP_PUBLIC_KEY
    assert key.principal().address == SIP_ADDRESS
    signature = sip018.sign(SIP_DOMAIN, SIP_MESSAGE, key)
    assert signature.hex() == SIP_SIGNATURE_RSV
    assert sip018.verify(SIP_DOMAIN, SIP_MESSAGE, signature, bytes.fromhex(SIP_PUBLIC_KEY))


def test_sip_signature_recovers_the_signer():
    digest, signature = bytes.fromhex(SIP_MESSAGE_HASH), bytes.fromhex(SIP_SIGNATURE_RSV)
    assert sip018.recover_public_key(digest, signature).hex() == SIP_PUBLIC_KEY
    signer = sip018.recover_principal(digest, signature, Network.TESTNET)
    assert signer.address == SIP_ADDRESS


# -- rules around the vectors -------------------------------------------------------------------
SIGNATURE = bytes.fromhex(SIP_SIGNATURE_RSV)
PUBLIC_KEY = bytes.fromhex(SIP_PUBLIC_KEY)


def test_signature_byte_order_is_r_s_v():
    """The recovery id is the last byte; the v || r || s order of transaction auth fails."""
    assert SIGNATURE[64] in (0, 1)
    vrs = SIGNATURE[64:] + SIGNATURE[:64]
    assert not sip018.verify(SIP_DOMAIN, SIP_MESSAGE, vrs, PUBLIC_KEY)
    assert sip018.recover_public_key(bytes.fromhex(SIP_MESSAGE_HASH), vrs) is None


@pytest.mark.parametrize(
    "domain",
    [
        sip018.Domain("Test App", "1.0.0", Network.TESTNET.chain_id),
        sip018.Domain("Test App", "2", 1),
        sip018.Domain("Test app", "1.0.0", 1),
    ],
)
def test_another_domain_does_not_verify(domain):
    """Replay protection: the same message signed for one domain fails in every other."""
    assert sip018.message_hash(domain, SIP_MESSAGE) != sip018.message_hash(SIP_DOMAIN, SIP_MESSAGE)
    assert not sip018.verify(domain, SIP_MESSAGE, SIGNATURE, PUBLIC_KEY)


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_a_flipped_signature_byte_fails(position):
    bad = bytearray(SIGNATURE)
    bad[position] ^= 0x01
    assert not sip018.verify(SIP_DOMAIN, SIP_MESSAGE, bytes(bad), PUBLIC_KEY)
    recovered = sip018.recover_public_key(bytes.fromhex(SIP_MESSAGE_HASH), bytes(bad))
    assert recovered != PUBLIC_KEY


def test_another_message_does_not_verify():
    assert not sip018.verify(SIP_DOMAIN, StringAscii("Hello World!"), SIGNATURE, PUBLIC_KEY)


def high_s(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same hash: s -> n - s, recovery parity flipped."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (keys.SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])


def test_high_s_twin_is_refused():
    """Clarity's `secp256k1-verify` refuses high S, so verification and recovery both do:
    otherwise one message would have two accepted signatures."""
    twin = high_s(SIGNATURE)
    digest = bytes.fromhex(SIP_MESSAGE_HASH)
    assert keys.recover(digest, twin) == PUBLIC_KEY  # the curve accepts it ...
    assert not sip018.verify(SIP_DOMAIN, SIP_MESSAGE, twin, PUBLIC_KEY)  # ... we do not
    assert sip018.recover_public_key(digest, twin) is None
    assert sip018.recover_principal(digest, twin, Network.MAINNET) is None


@pytest.mark.parametrize("length", [0, 64, 66])
def test_recovery_needs_65_bytes(length):
    digest = bytes.fromhex(SIP_MESSAGE_HASH)
    assert sip018.recover_public_key(digest, (SIGNATURE * 2)[:length]) is None
    assert sip018.recover_public_key(digest[:31], SIGNATURE) is None


def test_recovery_id_above_3_is_refused():
    assert (
        sip018.recover_public_key(bytes.fromhex(SIP_MESSAGE_HASH), SIGNATURE[:64] + b"\x04") is None
    )


def test_principal_follows_the_network():
    digest = bytes.fromhex(SIP_MESSAGE_HASH)
    testnet = sip018.recover_principal(digest, SIGNATURE, Network.TESTNET)
    mainnet = sip018.recover_principal(digest, SIGNATURE, Network.MAINNET)
    assert testnet.hash160 == mainnet.hash160 == keys.hash160(PUBLIC_KEY)
    assert testnet.address.startswith("ST") and mainnet.address.startswith("SP")


@pytest.mark.parametrize(
    "name,version,chain_id",
    [("Tést", "2", 1), ("app", "2", -1), ("app", "2", 1 << 128)],
)
def test_domain_fields_are_clarity_values(name, version, chain_id):
    with pytest.raises(ClarityError):
        sip018.Domain(name, version, chain_id).to_clarity()


# -- v2 quotes ------------------------------------------------------------------------------------
QUOTE_KEY = keys.PrivateKey.from_seed(b"sip018-quote-key")
BUYER = keys.PrivateKey.from_seed(b"sip018-buyer").principal()
REGISTRY = keys.PrivateKey.from_seed(b"sip018-deployer").principal().contract("policy-registry")
QUOTE = Quote(
    buyer=BUYER,
    amount=100_000_000,
    strike=6_500_000_000_000,
    expiration=915_120,
    premium=1_234_567,
    collateral=2_500_000_000,
    token=1,
    tier=2,
    quote_expiry=912_345,
    quote_id=42,
    registry=REGISTRY,
    spot=6_823_456_000_000,
    valid_until=1_767_225_660,
)
DOMAIN = quote_domain("bithedge-devnet", Network.TESTNET.chain_id)
V1_FIELDS = {
    "amount", "buyer", "collateral", "expiration", "premium", "quote-expiry", "quote-id",
    "strike", "tier", "token",
}  # fmt: skip


def test_quote_message_is_v1_plus_registry_spot_valid_until_in_byte_order():
    message = QUOTE.to_clarity()
    names = list(message.data)
    assert names == sorted(names, key=str.encode)
    assert set(names) == V1_FIELDS | {"registry", "spot", "valid-until"}
    assert message["buyer"] == BUYER and message["quote-id"] == UInt(42)
    assert message["registry"] == REGISTRY
    assert message["spot"] == UInt(6_823_456_000_000)
    assert message["valid-until"] == UInt(1_767_225_660)
    assert clarity.deserialize(message.serialize()) == message


def test_quote_domain_is_version_2_on_the_given_chain():
    assert QUOTE_VERSION == "2"
    assert DOMAIN.to_clarity() == clarity.Tuple(
        {
            "name": StringAscii("bithedge-devnet"),
            "version": StringAscii("2"),
            "chain-id": UInt(0x80000000),
        }
    )
    assert quote_domain("bithedge", Network.MAINNET.chain_id).chain_id == 1


def test_v2_quote_signature_verifies_only_on_its_domain_and_terms():
    signature = sign_quote(QUOTE, QUOTE_KEY, DOMAIN)
    message = QUOTE.to_clarity()
    assert sip018.verify(DOMAIN, message, signature, QUOTE_KEY.public_key)
    assert quote_hash(message, DOMAIN) == sip018.message_hash(DOMAIN, message)
    other_chain = quote_domain("bithedge-devnet", Network.MAINNET.chain_id)
    other_env = quote_domain("bithedge-testnet", Network.TESTNET.chain_id)
    for domain in (other_chain, other_env):
        assert not sip018.verify(domain, message, signature, QUOTE_KEY.public_key)
    other_registry = replace(QUOTE, registry=REGISTRY.issuer.contract("policy-registry-2"))
    later = replace(QUOTE, valid_until=QUOTE.valid_until + 1)
    for quote in (other_registry, later):
        assert not sip018.verify(DOMAIN, quote.to_clarity(), signature, QUOTE_KEY.public_key)


def test_the_plain_v1_hash_no_longer_verifies():
    """v1 signed sha256 of the tuple with no SIP-018 framing: such a signature is refused."""
    v1_digest = hashlib.sha256(QUOTE.to_clarity().serialize()).digest()
    v1_signature = QUOTE_KEY.sign_recoverable(v1_digest)
    assert not sip018.verify(DOMAIN, QUOTE.to_clarity(), v1_signature, QUOTE_KEY.public_key)


def test_the_default_domain_is_the_devnet_name_on_the_testnet_chain_id():
    assert quote_domain(QUOTE_DOMAIN_NAME, Network.TESTNET.chain_id) == DEVNET_DOMAIN
    assert sign_quote(QUOTE, QUOTE_KEY) == sign_quote(QUOTE, QUOTE_KEY, DEVNET_DOMAIN)
