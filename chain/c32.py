"""c32check addresses (Crockford base-32 with a double-sha256 checksum), as Stacks writes them.

An address is `S` + the version's c32 digit + c32(hash160 + checksum). Leading zero bytes of
the payload become leading `0` digits one for one, exactly as the reference `c32check` does.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
MAINNET_SINGLE_SIG = 22  # SP…
TESTNET_SINGLE_SIG = 26  # ST…
MAINNET_MULTI_SIG = 20  # SM…
TESTNET_MULTI_SIG = 21  # SN…


class AddressError(ValueError):
    """Text that is not a valid c32check Stacks address."""


def encode(data: bytes) -> str:
    """c32-encode bytes: big-endian base 32, one extra `0` per leading zero byte."""
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, rem = divmod(n, 32)
        digits.append(ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "0" * zeros + "".join(reversed(digits))


def _checksum(version: int, data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(bytes([version]) + data).digest()).digest()[:4]


@lru_cache(maxsize=65536)
def address(version: int, hash160: bytes) -> str:
    if not 0 <= version < 32:
        raise AddressError(f"address version must be 0..31, got {version}")
    return "S" + ALPHABET[version] + encode(hash160 + _checksum(version, hash160))


def _normalize(text: str) -> str:
    return text.upper().replace("O", "0").replace("L", "1").replace("I", "1")


@lru_cache(maxsize=65536)
def decode_address(text: str) -> tuple[int, bytes]:
    """Address text to (version, hash160); rejects bad characters and bad checksums."""
    norm = _normalize(text)
    if len(norm) < 3 or norm[0] != "S" or any(c not in _INDEX for c in norm[1:]):
        raise AddressError(f"not a Stacks address: {text!r}")
    version = _INDEX[norm[1]]
    body = norm[2:]
    n = 0
    for c in body:
        n = n * 32 + _INDEX[c]
    if n >= 1 << (24 * 8):
        raise AddressError(f"not a Stacks address: {text!r}")
    raw = n.to_bytes(24, "big")
    h, check = raw[:20], raw[20:]
    if check != _checksum(version, h) or encode(raw) != body:
        raise AddressError(f"bad address checksum: {text!r}")
    return version, h
