"""Property tests: encodings round-trip, corrupted bytes fail cleanly, signatures bind.

The reference-vector agreement lives in test_vectors.py; these tests check the invariants on
random inputs that the vectors cannot enumerate.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chain import c32, keys
from chain import clarity as c
from chain import transactions as tx
from chain.c32 import AddressError
from chain.clarity import ClarityError
from tests.chain import strategies as S
from tests.conftest import examples

FAST = settings(deadline=None, max_examples=examples(300))
SLOW = settings(
    deadline=None,
    max_examples=examples(40),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def sha512_256(data: bytes) -> bytes:
    return hashlib.new("sha512_256", data).digest()


# --- Clarity values ----------------------------------------------------------------------------


@settings(deadline=None, max_examples=examples(200))
@given(S.clarity_values())
def test_clarity_serialize_round_trip(value):
    raw = value.serialize()
    assert c.deserialize(raw) == value
    assert c.deserialize(raw).serialize() == raw
    # Prefix-free: the reader stops exactly at the end of the value, whatever follows it.
    r = c.Reader(raw + b"\x00trailing")
    assert c.read_value(r) == value
    assert r.pos == len(raw)
    with pytest.raises(ClarityError):
        c.deserialize(raw + b"\x00")


@settings(deadline=None, max_examples=examples(150))
@given(S.clarity_values())
def test_clarity_json_round_trip(value):
    obj = c.to_json(value)
    assert c.from_json(obj) == value
    # The typed JSON survives an actual JSON text round trip too (events.jsonl).
    assert c.from_json(json.loads(json.dumps(obj))) == value
    assert c.to_json(c.from_json(obj)) == obj


def _field_names_on_the_wire(raw: bytes) -> list[str]:
    r = c.Reader(raw)
    assert r.byte() == c.T_TUPLE
    names = []
    for _ in range(r.u32()):
        names.append(r.name())
        c.read_value(r)
    assert r.done()
    return names


@settings(deadline=None, max_examples=examples(150))
@given(st.dictionaries(S.field_names, S.leaves, max_size=6), st.randoms(use_true_random=False))
def test_tuple_serialization_ignores_insertion_order(fields, rnd):
    items = list(fields.items())
    shuffled = items[:]
    rnd.shuffle(shuffled)
    reference = c.Tuple(fields).serialize()
    assert c.Tuple(shuffled).serialize() == reference  # iterable of pairs
    assert c.Tuple(dict(shuffled)).serialize() == reference  # mapping
    assert c.Tuple(shuffled) == c.Tuple(fields)
    assert hash(c.Tuple(shuffled)) == hash(c.Tuple(fields))
    names = _field_names_on_the_wire(reference)
    assert names == sorted(fields, key=str.encode)
    # Bytes with the fields in another order decode to the same tuple, re-encoded sorted.
    raw = bytearray([c.T_TUPLE]) + struct.pack(">I", len(shuffled))
    for name, value in shuffled:
        raw += bytes([len(name)]) + name.encode() + value.serialize()
    assert c.deserialize(bytes(raw)) == c.Tuple(fields)
    assert c.deserialize(bytes(raw)).serialize() == reference


def test_a_decoded_tuple_serializes_canonically_when_a_nested_tuple_came_out_of_order():
    # decoding keeps a canonical tuple's bytes to hash it without encoding it again; bytes that
    # hold a tuple out of order anywhere inside must still re-encode sorted, as the VM would
    inner = [("b", c.UInt(1)), ("a", c.UInt(2))]  # out of order on the wire
    raw_inner = bytearray([c.T_TUPLE]) + struct.pack(">I", 2)
    for name, value in inner:
        raw_inner += bytes([len(name)]) + name.encode() + value.serialize()
    outer = {"x": c.Some(c.List((bytes(raw_inner),))), "y": bytes(raw_inner)}
    raw = bytearray([c.T_TUPLE]) + struct.pack(">I", 2)
    raw += b"\x01x" + bytes([c.T_SOME, c.T_LIST]) + struct.pack(">I", 1) + outer["x"].value.items[0]
    raw += b"\x01y" + outer["y"]
    expected = c.Tuple(
        {"x": c.Some(c.List((c.Tuple(dict(inner)),))), "y": c.Tuple(dict(inner))}
    ).serialize()
    assert bytes(raw) != expected
    assert c.deserialize(bytes(raw)).serialize() == expected
    canonical = c.deserialize(expected)
    assert canonical.serialize() == expected


def test_tuple_order_is_byte_order_not_locale_order():
    # '-' (0x2d) < '0' < '?' (0x3f) < '_' (0x5f) < 'a' in bytes; a locale sort differs.
    t = c.Tuple({"a_b": c.NONE, "a-b": c.NONE, "ab": c.NONE, "a?": c.NONE, "a0": c.NONE})
    assert _field_names_on_the_wire(t.serialize()) == ["a-b", "a0", "a?", "a_b", "ab"]


def _check_deserialize(raw: bytes) -> None:
    """Either a ClarityError, or a value that re-encodes and decodes to itself. Any other
    exception (IndexError, UnicodeDecodeError, struct.error, RecursionError...) fails."""
    try:
        value = c.deserialize(raw)
    except ClarityError:
        return
    assert isinstance(value, c.ClarityValue)
    assert c.deserialize(value.serialize()) == value


typed_noise = st.builds(
    lambda t, rest: bytes([t]) + rest,
    st.integers(min_value=0, max_value=0x10),
    st.binary(max_size=64),
)


@settings(deadline=None, max_examples=examples(500))
@given(st.one_of(st.binary(max_size=64), typed_noise))
@example(b"")
@example(b"\x0a" * 10_000 + b"\x09")  # far deeper than MAX_DEPTH and the recursion limit
@example(b"\x0b\xff\xff\xff\xff")  # a 4-billion-item list with no items
@example(b"\x0c\x00\x00\x00\x01\x00\x09")  # a tuple field with an empty name
@example(b"\x0c\x00\x00\x00\x02\x01a\x09\x01a\x09")  # a repeated field
@example(b"\x0e\x00\x00\x00\x03\xed\xa0\x80")  # an encoded UTF-16 surrogate
@example(b"\x0d\x00\x00\x00\x01\x80")  # non-ASCII in string-ascii
@example(b"\x05\x20" + bytes(20))  # principal version 32
@example(b"\x06\x1a" + bytes(20) + b"\x01\xff")  # non-ASCII contract name
def test_deserialize_random_bytes(raw):
    _check_deserialize(raw)


@settings(deadline=None, max_examples=examples(250))
@given(S.mutated(S.clarity_values().map(lambda v: v.serialize())))
def test_deserialize_corrupted_values(raw):
    _check_deserialize(raw)


def test_nesting_limit():
    deepest = c.NONE
    for _ in range(c.MAX_DEPTH):
        deepest = c.Some(deepest)
    assert c.deserialize(deepest.serialize()) == deepest
    with pytest.raises(ClarityError):
        c.deserialize(c.Some(deepest).serialize())


# --- transactions ------------------------------------------------------------------------------


@SLOW
@given(S.transactions())
def test_transaction_round_trip(t):
    raw = t.serialize()
    decoded = tx.decode(raw)
    assert decoded == t
    assert decoded.serialize() == raw
    assert tx.verify(t)
    assert tx.verify(decoded, raw)
    assert t.txid == decoded.txid == sha512_256(raw)
    assert t.sender == tx.decode(raw).sender
    assert t.sender.version == t.network.address_version


@settings(
    deadline=None,
    max_examples=examples(15),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(S.transactions(), st.randoms(use_true_random=False))
def test_no_single_byte_change_yields_a_valid_transaction(t, rnd):
    """Every byte of a signed transaction, each changed by a random nonzero xor: the result
    fails to decode, or fails verification, or is another transaction. Never the same
    transaction still verifying, and (stronger) never anything that verifies."""
    raw = t.serialize()
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= rnd.randrange(1, 256)
        bad = bytes(bad)
        try:
            decoded = tx.decode(bad)
        except tx.TransactionError:
            continue
        assert not (decoded == t and tx.verify(decoded, bad))
        # Every byte but the signature is signed, and the signature is not malleable.
        assert not tx.verify(decoded, bad), f"byte {i} changed, still verifies"
        assert not tx.verify(decoded, decoded.serialize())


@SLOW
@given(S.transactions())
def test_high_s_signature_variant_is_rejected(t):
    """(r, n - s) with the other recovery id recovers the same key: only the low-S rule stops
    this third-party malleation of the txid."""
    rec, r, s = t.auth.signature[:1], t.auth.signature[1:33], t.auth.signature[33:]
    high_s = (keys.SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big")
    flipped = bytes([rec[0] ^ 1]) + r + high_s
    malleated = tx.Transaction(
        t.network,
        tx.SpendingCondition(t.auth.signer, t.auth.nonce, t.auth.fee, t.auth.compressed, flipped),
        t.payload,
        t.post_condition_mode,
        t.post_conditions,
        t.anchor_mode,
        t.chain_id,
    )
    assert tx.decode(malleated.serialize()) == malleated
    digest = tx._presign(tx._initial_sighash(malleated), t.auth.fee, t.auth.nonce)
    same_key = keys.recover(digest, r + high_s + bytes([rec[0] ^ 1]), t.auth.compressed)
    assert same_key is not None and keys.hash160(same_key) == t.auth.signer
    assert not tx.verify(malleated)
    assert malleated.txid != t.txid


def _check_decode(raw: bytes) -> None:
    """decode raises TransactionError only; what it accepts re-encodes to itself."""
    try:
        decoded = tx.decode(raw)
    except tx.TransactionError:
        return
    assert tx.decode(decoded.serialize()) == decoded


@settings(deadline=None, max_examples=examples(300))
@given(st.one_of(st.binary(max_size=200), st.binary(min_size=100, max_size=400)))
@example(b"")
@example(b"\x80\x80\x00\x00\x00\x04\x00" + bytes(20 + 16 + 1 + 65) + b"\x03\x02\xff\xff\xff\xff")
def test_decode_random_bytes(raw):
    _check_decode(raw)


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(S.mutated(S.transactions().map(lambda t: t.serialize())))
def test_decode_corrupted_transactions(raw):
    _check_decode(raw)


def _call_with_function_name(name_bytes: bytes) -> bytes:
    key = keys.PrivateKey.from_seed(b"bug")
    t = tx.contract_call(key, key.principal().contract("c"), "fn", [], nonce=0, fee=0)
    raw = t.serialize()
    at = raw.rindex(b"\x02fn")
    return raw[:at] + bytes([len(name_bytes)]) + name_bytes + raw[at + 3 :]


# A node rejects names that are empty or longer than 128 bytes; decode does too, so what it
# accepts always re-encodes.
@pytest.mark.parametrize("name", [b"", b"f" * 129])
def test_decode_rejects_what_serialize_refuses(name):
    raw = _call_with_function_name(name)
    with pytest.raises(tx.TransactionError):
        tx.decode(raw)


def test_decode_accepts_the_longest_name():
    raw = _call_with_function_name(b"f" * 128)
    assert tx.decode(raw).serialize() == raw


# --- c32 addresses -----------------------------------------------------------------------------

hashes_with_leading_zeros = st.builds(
    lambda zeros, rest: bytes(zeros) + rest[: 20 - zeros],
    st.integers(min_value=0, max_value=20),
    S.hash160s,
)


@FAST
@given(S.versions, st.one_of(S.hash160s, hashes_with_leading_zeros))
def test_c32_address_round_trip(version, h):
    text = c32.address(version, h)
    assert c32.decode_address(text) == (version, h)
    assert c32.decode_address(text.lower()) == (version, h)
    assert text[0] == "S" and text[1] == c32.ALPHABET[version]


@settings(deadline=None, max_examples=examples(40))
@given(S.versions, st.one_of(S.hash160s, hashes_with_leading_zeros))
def test_c32_single_character_change_never_decodes_to_the_same_account(version, h):
    text = c32.address(version, h)
    for i in range(len(text)):
        for ch in c32.ALPHABET:
            if ch == text[i]:
                continue
            changed = text[:i] + ch + text[i + 1 :]
            try:
                decoded = c32.decode_address(changed)
            except AddressError:
                continue
            assert decoded != (version, h), changed


# --- keys --------------------------------------------------------------------------------------

digests = st.binary(min_size=32, max_size=32)


@settings(deadline=None)
@given(S.private_keys(), digests)
def test_sign_verify_recover(key, digest):
    sig = key.sign_recoverable(digest)
    assert len(sig) == 65 and sig[64] <= 3
    compressed = keys.recover(digest, sig, compressed=True)
    assert keys.verify(digest, sig, compressed)
    assert keys.verify(digest, sig[:64], compressed)
    assert keys.verify(digest, sig, key.public_key)
    assert keys.recover(digest, sig, compressed=key.compressed) == key.public_key
    assert keys.is_low_s(sig)
    other = bytes([digest[0] ^ 1]) + digest[1:]
    assert not keys.verify(other, sig, compressed)


@settings(deadline=None)
@given(S.private_keys(), digests, st.integers(min_value=4, max_value=255))
def test_high_s_and_bad_recovery_byte_are_rejected(key, digest, bad_v):
    sig = key.sign_recoverable(digest)
    pub = key.public_key
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high = r + (keys.SECP256K1_N - s).to_bytes(32, "big")
    assert not keys.is_low_s(high)
    assert not keys.verify(digest, high, pub)
    assert not keys.verify(digest, high + bytes([v ^ 1]), pub)
    assert not keys.verify(digest, sig[:64] + bytes([bad_v]), pub)
    assert keys.recover(digest, sig[:64] + bytes([bad_v])) is None


@settings(deadline=None, max_examples=examples(50))
@given(S.private_keys())
def test_private_key_never_shows_its_secret(key):
    secret = key.secret_hex()[:64]
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert secret not in text.lower()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(key, protocol=protocol)
        assert secret not in str(info.value).lower()


# --- principal() -------------------------------------------------------------------------------


@FAST
@given(S.standard_principals, S.contract_names())
def test_principal_parses_standard_and_contract_text(p, name):
    assert c.principal(p.address) == p
    assert c.principal(str(p)) == p
    contract = c.principal(f"{p.address}.{name}")
    assert contract == c.ContractPrincipal(p.version, p.hash160, name) == p.contract(name)
    assert c.principal(contract.address) == contract
    assert contract.issuer == p


def _an_address() -> str:
    return keys.PrivateKey.from_seed(b"principal").principal().address


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".",
        "S",
        "ST",
        "SP.name",
        ".name",
        "hello",
        "ST0",
        _an_address()[:-1],
        _an_address() + "0",
        _an_address() + "U",  # U is not a c32 digit
        " " + _an_address(),
        _an_address() + "\n",
        _an_address() + ".é",
        _an_address() + "." + "a" * 129,
        "SX" + _an_address()[2:],
    ],
)
def test_principal_rejects_invalid_text(text):
    with pytest.raises(ValueError) as info:
        c.principal(text)
    assert isinstance(info.value, AddressError | ClarityError)


@settings(deadline=None)
@given(st.text(max_size=60))
def test_principal_of_random_text_raises_value_error(text):
    with pytest.raises((AddressError, ClarityError)):
        c.principal(text)


# A contract name is ^[a-zA-Z]([a-zA-Z0-9]|[-_])*$; a trailing dot is not "no name".
@pytest.mark.parametrize("suffix", [".", ".a.b", ".a b", ".1abc"])
def test_principal_rejects_malformed_contract_ids(suffix):
    with pytest.raises(ValueError):
        c.principal(_an_address() + suffix)
