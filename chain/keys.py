"""secp256k1 keys for Stacks accounts, on coincurve.

A `PrivateKey` never shows its secret: not in repr, str, pickling or exceptions. The only way
out is `secret_hex()`, which the key-file writer calls and nothing else should.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import coincurve
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from chain.c32 import MAINNET_SINGLE_SIG, TESTNET_SINGLE_SIG
from chain.clarity import StandardPrincipal

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# verify calls libsecp256k1 through coincurve's own cffi binding (pinned <22 in pyproject.toml):
# the C function coincurve's PublicKey.verify calls, without its compact -> DER -> parsed round
# trip on the contract models' per-purchase path (recovery gains nothing this way: C dominates)
_CTX = GLOBAL_CONTEXT.ctx


class InvalidKey(ValueError):
    """Bytes or text that are not a valid secp256k1 key or signature (never echoes a key)."""


# copies of empty hashers: `hashlib.new(name)` looks the name up on every call, and these two
# run several times per transaction on the node's path
_RIPEMD160 = hashlib.new("ripemd160")
_SHA512_256 = hashlib.new("sha512_256")


def hash160(data: bytes) -> bytes:
    h = _RIPEMD160.copy()
    h.update(hashlib.sha256(data).digest())
    return h.digest()


def sha512_256(data: bytes) -> bytes:
    h = _SHA512_256.copy()
    h.update(data)
    return h.digest()


class PrivateKey:
    __slots__ = ("_key", "compressed", "public_key")

    def __init__(self, secret: bytes, compressed: bool = True):
        if len(secret) != 32:
            raise InvalidKey("a private key is 32 bytes")
        try:
            key = coincurve.PrivateKey(secret)
        except ValueError:
            raise InvalidKey("not a valid secp256k1 private key") from None
        self._key = key
        self.compressed = compressed
        self.public_key: bytes = key.public_key.format(compressed=compressed)

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """Stacks style: 64 hex digits (uncompressed) or 66 ending in `01` (compressed)."""
        text = text.strip().lower()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise InvalidKey("a private key is 64 or 66 hex digits") from None
        if len(raw) == 33 and raw[32] == 1:
            return cls(raw[:32], compressed=True)
        if len(raw) == 32:
            return cls(raw, compressed=False)
        raise InvalidKey("a private key is 64 or 66 hex digits (66 ending in 01)")

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """A deterministic key for simulations and tests: sha256(seed), compressed."""
        return cls(hashlib.sha256(seed).digest(), compressed=True)

    def secret_hex(self) -> str:
        return self._key.secret.hex() + ("01" if self.compressed else "")

    def principal(self, mainnet: bool = False) -> StandardPrincipal:
        version = MAINNET_SINGLE_SIG if mainnet else TESTNET_SINGLE_SIG
        return StandardPrincipal(version, hash160(self.public_key))

    def sign_recoverable(self, digest: bytes) -> bytes:
        """65 bytes r || s || recovery id, over a 32-byte digest (no further hashing)."""
        return self._key.sign_recoverable(digest, hasher=None)

    def __repr__(self) -> str:
        return f"PrivateKey(<redacted>, address={self.principal().address})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("private keys are not picklable")


@lru_cache(maxsize=4096)
def _public(pub: bytes) -> coincurve.PublicKey:
    return coincurve.PublicKey(pub)


def recover(digest: bytes, signature_rsv: bytes, compressed: bool = True) -> bytes | None:
    """The public key that made an r || s || v signature of `digest`, or None."""
    if len(signature_rsv) != 65 or signature_rsv[64] > 3:
        return None
    try:
        pub = coincurve.PublicKey.from_signature_and_message(signature_rsv, digest, hasher=None)
    except ValueError:
        return None
    return pub.format(compressed=compressed)


def is_low_s(signature_rs: bytes) -> bool:
    return int.from_bytes(signature_rs[32:64], "big") <= SECP256K1_N // 2


def verify(digest: bytes, signature: bytes, public_key: bytes) -> bool:
    """Clarity's `secp256k1-verify`: 64 or 65 bytes (a 65th byte, if any, must be 0..3 and is
    otherwise ignored), r || s compact, low-S only, against a public key."""
    if len(digest) != 32 or len(signature) not in (64, 65):
        return False
    if len(signature) == 65 and signature[64] > 3:
        return False
    try:
        pub = _public(bytes(public_key))
    except (ValueError, TypeError):
        return False
    sig = ffi.new("secp256k1_ecdsa_signature *")
    if not lib.secp256k1_ecdsa_signature_parse_compact(_CTX, sig, bytes(signature[:64])):
        return False
    # libsecp256k1 refuses a high-S signature here, as the node does
    return bool(lib.secp256k1_ecdsa_verify(_CTX, sig, digest, pub.public_key))
