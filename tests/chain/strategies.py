"""Hypothesis strategies for Clarity values, post-conditions and signed transactions."""

from __future__ import annotations

import hashlib
import string

from hypothesis import strategies as st

from chain import clarity as c
from chain import keys
from chain import transactions as tx

U64_MAX = (1 << 64) - 1
LOWER = string.ascii_lowercase
DIGITS = string.digits

# --- leaves ------------------------------------------------------------------------------------

uints = st.integers(min_value=0, max_value=c.U128_MAX).map(c.UInt)
ints = st.integers(min_value=c.I128_MIN, max_value=c.I128_MAX).map(c.Int)
buffers = st.binary(max_size=64).map(c.Buffer)
bools = st.booleans().map(c.Bool)
ascii_strings = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
).map(c.StringAscii)
# Any scalar value (surrogates excluded), with astral characters drawn on purpose.
unicode_chars = st.one_of(
    st.characters(exclude_categories=("Cs",)),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
)
utf8_strings = st.text(alphabet=unicode_chars, max_size=24).map(c.StringUtf8)

hash160s = st.binary(min_size=20, max_size=20)
versions = st.integers(min_value=0, max_value=31)


@st.composite
def contract_names(draw, max_size: int = 40) -> str:
    """1..max_size chars from [a-z0-9-], starting with a letter."""
    first = draw(st.sampled_from(LOWER))
    rest = draw(st.text(alphabet=LOWER + DIGITS + "-", max_size=max_size - 1))
    return first + rest


@st.composite
def clarity_names(draw, max_size: int = 24) -> str:
    """Function and asset names: a letter, then letters, digits and -_!?."""
    first = draw(st.sampled_from(LOWER + string.ascii_uppercase))
    rest = draw(st.text(alphabet=LOWER + DIGITS + "-_!?", max_size=max_size - 1))
    return first + rest


standard_principals = st.builds(c.StandardPrincipal, versions, hash160s)
contract_principals = st.builds(c.ContractPrincipal, versions, hash160s, contract_names())
principals = st.one_of(standard_principals, contract_principals)

# Tuple field names: [a-z][a-z0-9-?!_]{0,12}. Includes '-', '!', '?' and '_', which sort
# differently by bytes than by locale.
field_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(LOWER),
    st.text(alphabet=LOWER + DIGITS + "-?!_", max_size=12),
)

leaves = st.one_of(
    uints,
    ints,
    bools,
    buffers,
    ascii_strings,
    utf8_strings,
    standard_principals,
    contract_principals,
    st.just(c.NONE),
)


def clarity_values(max_depth: int = 3) -> st.SearchStrategy[c.ClarityValue]:
    """Every Clarity value type, nested at most `max_depth` levels below the top value."""
    if max_depth <= 0:
        return leaves
    inner = clarity_values(max_depth - 1)
    return st.one_of(
        leaves,
        st.builds(c.Ok, inner),
        st.builds(c.Err, inner),
        st.builds(c.Some, inner),
        st.lists(inner, max_size=4).map(lambda xs: c.List(tuple(xs))),
        tuples(inner),
    )


def tuples(values: st.SearchStrategy[c.ClarityValue]) -> st.SearchStrategy[c.Tuple]:
    return st.dictionaries(field_names, values, max_size=6).map(c.Tuple)


# --- post-conditions ---------------------------------------------------------------------------

pc_principals = st.one_of(st.just(tx.ORIGIN), standard_principals, contract_principals)
assets = st.builds(tx.Asset, contract_principals, clarity_names())
u64s = st.integers(min_value=0, max_value=U64_MAX)


def post_conditions() -> st.SearchStrategy[tx.PostCondition]:
    fungible = st.sampled_from(tx.FungibleCondition)
    return st.one_of(
        st.builds(tx.STXPostCondition, pc_principals, fungible, u64s),
        st.builds(tx.FTPostCondition, pc_principals, assets, fungible, u64s),
        st.builds(
            tx.NFTPostCondition,
            pc_principals,
            assets,
            clarity_values(max_depth=1),
            st.sampled_from(tx.NonFungibleCondition),
        ),
    )


# --- keys and transactions ---------------------------------------------------------------------


@st.composite
def private_keys(draw) -> keys.PrivateKey:
    seed = draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        return keys.PrivateKey.from_seed(seed)
    return keys.PrivateKey(hashlib.sha256(seed).digest(), compressed=False)


memos = st.binary(max_size=34).map(lambda m: m.rstrip(b"\0"))


@st.composite
def transactions(draw) -> tx.Transaction:
    """A signed contract call or STX transfer."""
    key = draw(private_keys())
    common = dict(
        nonce=draw(u64s),
        fee=draw(u64s),
        network=draw(st.sampled_from(tx.Network)),
        post_conditions=draw(st.lists(post_conditions(), max_size=4)),
        post_condition_mode=draw(st.sampled_from(tx.PostConditionMode)),
    )
    if draw(st.booleans()):
        return tx.contract_call(
            key,
            draw(contract_principals),
            draw(clarity_names()),
            draw(st.lists(clarity_values(), max_size=4)),
            **common,
        )
    return tx.stx_transfer(key, draw(principals), draw(u64s), memo=draw(memos), **common)


# --- corrupting valid encodings ----------------------------------------------------------------


@st.composite
def mutated(draw, base: st.SearchStrategy[bytes]) -> bytes:
    """`base` bytes with one to three random edits: a flipped byte, a truncation, an insertion,
    a deletion, or a 32-bit field overwritten with a small or huge count."""
    raw = bytearray(draw(base))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "u32"]))
        i = draw(st.integers(min_value=0, max_value=len(raw)))
        if op == "flip" and i < len(raw):
            raw[i] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "truncate":
            del raw[i:]
        elif op == "insert":
            raw[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[i : i + draw(st.integers(min_value=1, max_value=8))]
        elif op == "u32":
            n = draw(st.one_of(st.integers(0, 8), st.integers(0, (1 << 32) - 1)))
            raw[i : i + 4] = n.to_bytes(4, "big")
    return bytes(raw)
