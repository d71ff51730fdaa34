"""Stacks transactions in the SIP-005 wire format: build, sign, serialize, decode, verify.

Scope is what the engine sends and what a node must check: single-signature standard
authorization, contract-call and STX-transfer payloads, STX / fungible / non-fungible
post-conditions. Anything else on the wire (sponsored or multi-sig authorization, other
payloads) decodes to a clear `TransactionError`, never a wrong value.

Signing follows the node's rule: the signature covers `presign = sha512/256(initial sighash ||
auth type || fee || nonce)`, where the initial sighash is the txid of the transaction with its
spending condition cleared (nonce 0, fee 0, an all-zero signature). The signature is stored as
recovery id || r || s. Both libraries sign deterministically (RFC 6979), so the bytes are
reproducible and checked against the reference implementation's vectors.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from enum import IntEnum

from chain import keys
from chain.clarity import (
    ClarityError,
    ClarityValue,
    ContractPrincipal,
    Principal,
    Reader,
    StandardPrincipal,
    contract_principal,
    read_value,
    standard_principal,
)


class TransactionError(ValueError):
    """Bytes that are not a transaction this engine understands, or an invalid one."""


class Network(IntEnum):
    """Transaction version byte; the chain id goes with it."""

    MAINNET = 0x00
    TESTNET = 0x80

    @property
    def chain_id(self) -> int:
        return 0x00000001 if self is Network.MAINNET else 0x80000000

    @property
    def address_version(self) -> int:
        return 22 if self is Network.MAINNET else 26


class AnchorMode(IntEnum):
    ON_CHAIN_ONLY = 1
    OFF_CHAIN_ONLY = 2
    ANY = 3


class PostConditionMode(IntEnum):
    ALLOW = 1
    DENY = 2


class FungibleCondition(IntEnum):
    EQ = 1
    GT = 2
    GTE = 3
    LT = 4
    LTE = 5

    def holds(self, sent: int, amount: int) -> bool:
        match self:
            case FungibleCondition.EQ:
                return sent == amount
            case FungibleCondition.GT:
                return sent > amount
            case FungibleCondition.GTE:
                return sent >= amount
            case FungibleCondition.LT:
                return sent < amount
        return sent <= amount


class NonFungibleCondition(IntEnum):
    SENT = 0x10
    NOT_SENT = 0x11


AUTH_STANDARD = 0x04
AUTH_SPONSORED = 0x05
HASH_MODE_P2PKH = 0x00
KEY_COMPRESSED = 0x00
KEY_UNCOMPRESSED = 0x01
PAYLOAD_TOKEN_TRANSFER = 0x00
PAYLOAD_CONTRACT_CALL = 0x02
PC_STX, PC_FT, PC_NFT = 0x00, 0x01, 0x02
PCP_ORIGIN, PCP_STANDARD, PCP_CONTRACT = 0x01, 0x02, 0x03
MEMO_BYTES = 34
EMPTY_SIGNATURE = bytes(65)
U64_MAX = (1 << 64) - 1


class Origin:
    """The post-condition principal 'whoever signed this transaction'."""

    _instance: Origin | None = None

    def __new__(cls) -> Origin:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ORIGIN"


ORIGIN = Origin()
PostConditionPrincipal = Origin | StandardPrincipal | ContractPrincipal


@dataclass(frozen=True, slots=True)
class Asset:
    """A token defined in a contract: `contract::name`."""

    contract: ContractPrincipal
    name: str

    def __str__(self) -> str:
        return f"{self.contract.address}::{self.name}"


@dataclass(frozen=True, slots=True)
class STXPostCondition:
    principal: PostConditionPrincipal
    condition: FungibleCondition
    amount: int


@dataclass(frozen=True, slots=True)
class FTPostCondition:
    principal: PostConditionPrincipal
    asset: Asset
    condition: FungibleCondition
    amount: int


@dataclass(frozen=True, slots=True)
class NFTPostCondition:
    principal: PostConditionPrincipal
    asset: Asset
    asset_id: ClarityValue
    condition: NonFungibleCondition


PostCondition = STXPostCondition | FTPostCondition | NFTPostCondition


@dataclass(frozen=True, slots=True)
class ContractCall:
    contract: ContractPrincipal
    function: str
    args: tuple[ClarityValue, ...]


@dataclass(frozen=True, slots=True)
class TokenTransfer:
    recipient: Principal
    amount: int
    memo: bytes = b""  # up to 34 bytes; zero padding is not part of the value

    def __post_init__(self) -> None:
        object.__setattr__(self, "memo", bytes(self.memo).rstrip(b"\0"))


Payload = ContractCall | TokenTransfer


@dataclass(frozen=True, slots=True)
class SpendingCondition:
    """Single-signature P2PKH spending condition."""

    signer: bytes  # hash160 of the public key
    nonce: int
    fee: int
    compressed: bool = True
    signature: bytes = EMPTY_SIGNATURE  # recovery id || r || s


@dataclass(frozen=True, slots=True)
class Transaction:
    network: Network
    auth: SpendingCondition
    payload: Payload
    post_condition_mode: PostConditionMode = PostConditionMode.DENY
    post_conditions: tuple[PostCondition, ...] = ()
    anchor_mode: AnchorMode = AnchorMode.ANY
    chain_id: int = field(default=-1)
    # the wire bytes, kept by sign() and decode(); replace() starts a copy without them
    _raw: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.chain_id == -1:
            object.__setattr__(self, "chain_id", self.network.chain_id)

    @property
    def sender(self) -> StandardPrincipal:
        return standard_principal(self.network.address_version, self.auth.signer)

    def serialize(self) -> bytes:
        if self._raw is None:
            out = bytearray()
            _write_transaction(self, out)
            object.__setattr__(self, "_raw", bytes(out))
        return self._raw  # type: ignore[return-value]

    @property
    def txid(self) -> bytes:
        return keys.sha512_256(self.serialize())


# --- building and signing ----------------------------------------------------------------------


def contract_call(
    key: keys.PrivateKey,
    contract: ContractPrincipal,
    function: str,
    args: tuple[ClarityValue, ...] | list[ClarityValue],
    *,
    nonce: int,
    fee: int,
    network: Network = Network.TESTNET,
    post_conditions: tuple[PostCondition, ...] | list[PostCondition] = (),
    post_condition_mode: PostConditionMode = PostConditionMode.DENY,
) -> Transaction:
    """A signed contract call."""
    tx = Transaction(
        network=network,
        auth=SpendingCondition(keys.hash160(key.public_key), nonce, fee, key.compressed),
        payload=ContractCall(contract, function, tuple(args)),
        post_condition_mode=post_condition_mode,
        post_conditions=tuple(post_conditions),
    )
    return sign(tx, key)


def stx_transfer(
    key: keys.PrivateKey,
    recipient: Principal,
    amount: int,
    *,
    nonce: int,
    fee: int,
    memo: bytes = b"",
    network: Network = Network.TESTNET,
    post_conditions: tuple[PostCondition, ...] | list[PostCondition] = (),
    post_condition_mode: PostConditionMode = PostConditionMode.DENY,
) -> Transaction:
    """A signed STX transfer."""
    tx = Transaction(
        network=network,
        auth=SpendingCondition(keys.hash160(key.public_key), nonce, fee, key.compressed),
        payload=TokenTransfer(recipient, amount, memo),
        post_condition_mode=post_condition_mode,
        post_conditions=tuple(post_conditions),
    )
    return sign(tx, key)


# Byte offsets of the spending condition in a standard single-sig transaction.
_NONCE_AT, _KEY_ENCODING_AT, _SIGNATURE_AT, _AUTH_END = 27, 43, 44, 109


def _initial_sighash(tx: Transaction, raw: bytes | None = None) -> bytes:
    """txid of the transaction with nonce, fee and signature cleared. Given the transaction's own
    bytes, clears them in place of re-serializing (the node-side hot path)."""
    if raw is None:
        raw = tx.serialize()
    cleared = (
        raw[:_NONCE_AT] + bytes(16) + raw[_KEY_ENCODING_AT:_SIGNATURE_AT] + EMPTY_SIGNATURE
    ) + raw[_AUTH_END:]
    return keys.sha512_256(cleared)


def _presign(initial: bytes, fee: int, nonce: int) -> bytes:
    return keys.sha512_256(initial + bytes([AUTH_STANDARD]) + struct.pack(">QQ", fee, nonce))


def sign(tx: Transaction, key: keys.PrivateKey) -> Transaction:
    if keys.hash160(key.public_key) != tx.auth.signer or key.compressed != tx.auth.compressed:
        raise TransactionError("the key does not match the transaction's signer")
    raw = tx.serialize()
    digest = _presign(_initial_sighash(tx, raw), tx.auth.fee, tx.auth.nonce)
    rsv = key.sign_recoverable(digest)
    vrs = rsv[64:] + rsv[:64]
    signed = replace(tx, auth=replace(tx.auth, signature=vrs))
    object.__setattr__(signed, "_raw", raw[:_SIGNATURE_AT] + vrs + raw[_AUTH_END:])
    return signed


def verify(tx: Transaction, raw: bytes | None = None) -> bool:
    """True when the signature recovers the signer's public key, as a node checks it. `raw`, if
    given, must be `tx.serialize()` (what `decode` was given) and saves re-serializing."""
    sig = tx.auth.signature
    if sig[0] > 3 or not keys.is_low_s(sig[1:]):
        return False
    digest = _presign(_initial_sighash(tx, raw), tx.auth.fee, tx.auth.nonce)
    pub = keys.recover(digest, sig[1:] + sig[:1], compressed=tx.auth.compressed)
    return pub is not None and keys.hash160(pub) == tx.auth.signer


# --- wire format ---------------------------------------------------------------------------


def _write_name(out: bytearray, name: str) -> None:
    raw = name.encode("ascii")
    if not 1 <= len(raw) <= 128:
        raise TransactionError(f"bad name length: {name!r}")
    out.append(len(raw))
    out += raw


def _write_u64(out: bytearray, n: int) -> None:
    if not 0 <= n <= U64_MAX:
        raise TransactionError(f"{n} does not fit in 64 bits")
    out += n.to_bytes(8, "big")


def _write_pc_principal(out: bytearray, p: PostConditionPrincipal) -> None:
    if p is ORIGIN:
        out.append(PCP_ORIGIN)
    elif isinstance(p, StandardPrincipal):
        out.append(PCP_STANDARD)
        out.append(p.version)
        out += p.hash160
    elif isinstance(p, ContractPrincipal):
        out.append(PCP_CONTRACT)
        out.append(p.version)
        out += p.hash160
        _write_name(out, p.name)
    else:
        raise TransactionError(f"bad post-condition principal {p!r}")


def _write_asset(out: bytearray, asset: Asset) -> None:
    out.append(asset.contract.version)
    out += asset.contract.hash160
    _write_name(out, asset.contract.name)
    _write_name(out, asset.name)


def _write_post_condition(out: bytearray, pc: PostCondition) -> None:
    if isinstance(pc, STXPostCondition):
        out.append(PC_STX)
        _write_pc_principal(out, pc.principal)
        out.append(pc.condition)
        _write_u64(out, pc.amount)
    elif isinstance(pc, FTPostCondition):
        out.append(PC_FT)
        _write_pc_principal(out, pc.principal)
        _write_asset(out, pc.asset)
        out.append(pc.condition)
        _write_u64(out, pc.amount)
    else:
        out.append(PC_NFT)
        _write_pc_principal(out, pc.principal)
        _write_asset(out, pc.asset)
        pc.asset_id.write(out)
        out.append(pc.condition)


def _write_transaction(tx: Transaction, out: bytearray) -> None:
    a = tx.auth
    out.append(tx.network)
    out += struct.pack(">I", tx.chain_id)
    out.append(AUTH_STANDARD)
    out.append(HASH_MODE_P2PKH)
    out += a.signer
    _write_u64(out, a.nonce)
    _write_u64(out, a.fee)
    out.append(KEY_COMPRESSED if a.compressed else KEY_UNCOMPRESSED)
    out += a.signature
    out.append(tx.anchor_mode)
    out.append(tx.post_condition_mode)
    out += struct.pack(">I", len(tx.post_conditions))
    for pc in tx.post_conditions:
        _write_post_condition(out, pc)
    _write_payload(tx.payload, out)


def payload_bytes(tx: Transaction) -> bytes:
    """The serialized payload alone: what a node's fee estimator prices."""
    out = bytearray()
    _write_payload(tx.payload, out)
    return bytes(out)


def _write_payload(p: ContractCall | TokenTransfer, out: bytearray) -> None:
    if isinstance(p, ContractCall):
        out.append(PAYLOAD_CONTRACT_CALL)
        out.append(p.contract.version)
        out += p.contract.hash160
        _write_name(out, p.contract.name)
        _write_name(out, p.function)
        out += struct.pack(">I", len(p.args))
        for arg in p.args:
            arg.write(out)
    else:
        out.append(PAYLOAD_TOKEN_TRANSFER)
        p.recipient.write(out)
        _write_u64(out, p.amount)
        if len(p.memo) > MEMO_BYTES:
            raise TransactionError(f"memo is at most {MEMO_BYTES} bytes")
        out += p.memo.ljust(MEMO_BYTES, b"\0")


def _enum(cls, value: int, what: str):
    try:
        return cls(value)
    except ValueError:
        raise TransactionError(f"bad {what}: 0x{value:02x}") from None


def _read_pc_principal(r: Reader) -> PostConditionPrincipal:
    t = r.byte()
    if t == PCP_ORIGIN:
        return ORIGIN
    if t == PCP_STANDARD:
        return StandardPrincipal(r.byte(), r.take(20))
    if t == PCP_CONTRACT:
        version, h = r.byte(), r.take(20)
        return ContractPrincipal(version, h, r.name())
    raise TransactionError(f"bad post-condition principal type 0x{t:02x}")


def _read_asset(r: Reader) -> Asset:
    version, h = r.byte(), r.take(20)
    contract = ContractPrincipal(version, h, r.name())
    return Asset(contract, r.name())


def _read_post_condition(r: Reader) -> PostCondition:
    t = r.byte()
    principal = _read_pc_principal(r)
    if t == PC_STX:
        cond = _enum(FungibleCondition, r.byte(), "condition code")
        return STXPostCondition(principal, cond, r.u64())
    if t == PC_FT:
        asset = _read_asset(r)
        cond = _enum(FungibleCondition, r.byte(), "condition code")
        return FTPostCondition(principal, asset, cond, r.u64())
    if t == PC_NFT:
        asset = _read_asset(r)
        asset_id = read_value(r)
        cond = _enum(NonFungibleCondition, r.byte(), "condition code")
        return NFTPostCondition(principal, asset, asset_id, cond)
    raise TransactionError(f"bad post-condition type 0x{t:02x}")


def decode(raw: bytes) -> Transaction:
    """Wire bytes to a Transaction; raises TransactionError on anything malformed or unsupported."""
    try:
        return _decode(Reader(raw))
    except ClarityError as exc:
        raise TransactionError(str(exc)) from None


# The fixed-size head of a standard single-sig transaction, up to the post-condition count:
# version, chain id, auth type, hash mode, signer, nonce, fee, key encoding, signature, anchor
# mode, post-condition mode, post-condition count. One unpack instead of twelve reads.
_HEAD = struct.Struct(">BIBB20sQQB65sBBI")


def _decode(r: Reader) -> Transaction:
    data = r.data
    if len(data) < _HEAD.size:
        raise TransactionError("unexpected end of input")
    (version, chain_id, auth_type, hash_mode, signer, nonce, fee, encoding, signature, anchor_b,
     pc_b, n) = _HEAD.unpack_from(data)  # fmt: skip
    r.pos = _HEAD.size
    network = _enum(Network, version, "transaction version")
    if auth_type != AUTH_STANDARD:
        raise TransactionError("only standard (non-sponsored) authorization is supported")
    if hash_mode != HASH_MODE_P2PKH:
        raise TransactionError("only single-signature P2PKH spending conditions are supported")
    if encoding not in (KEY_COMPRESSED, KEY_UNCOMPRESSED):
        raise TransactionError(f"bad key encoding 0x{encoding:02x}")
    anchor = _enum(AnchorMode, anchor_b, "anchor mode")
    pc_mode = _enum(PostConditionMode, pc_b, "post-condition mode")
    if n > len(data):
        raise TransactionError("too many post-conditions")
    pcs = tuple(_read_post_condition(r) for _ in range(n)) if n else ()
    kind = r.byte()
    payload: Payload
    if kind == PAYLOAD_CONTRACT_CALL:
        version, h = r.byte(), r.take(20)
        contract = contract_principal(version, h, r.name())
        function = r.name()
        nargs = r.u32()
        if nargs > len(r.data):
            raise TransactionError("too many arguments")
        payload = ContractCall(contract, function, tuple(read_value(r) for _ in range(nargs)))
    elif kind == PAYLOAD_TOKEN_TRANSFER:
        recipient = read_value(r)
        if not isinstance(recipient, StandardPrincipal | ContractPrincipal):
            raise TransactionError("a transfer's recipient must be a principal")
        amount = r.u64()
        memo = r.take(MEMO_BYTES).rstrip(b"\0")
        payload = TokenTransfer(recipient, amount, memo)
    else:
        raise TransactionError(f"unsupported payload type 0x{kind:02x}")
    if not r.done():
        raise TransactionError("trailing bytes after transaction")
    auth = SpendingCondition(signer, nonce, fee, encoding == KEY_COMPRESSED, signature)
    tx = Transaction(network, auth, payload, pc_mode, pcs, anchor, chain_id)
    object.__setattr__(tx, "_raw", bytes(r.data))  # what was signed, byte for byte
    return tx
