"""Clarity values and their consensus serialization (SIP-005).

The byte format is what the Clarity VM hashes (`to-consensus-buff?`), what contract-call
arguments travel as, and what `print` events carry, so one exact implementation serves the
transaction layer, the contract models and the signed quotes alike.

Values are small immutable objects; principals are hashable so the contract models can use
them directly as map keys. Tuple fields are kept sorted by name in byte order, as the Clarity
VM sorts them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chain import c32

_CONTRACT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]{0,127}")
U128_MAX = (1 << 128) - 1
I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1
MAX_DEPTH = 32  # Clarity's maximum value nesting depth

T_INT, T_UINT, T_BUFFER, T_TRUE, T_FALSE = 0x00, 0x01, 0x02, 0x03, 0x04
T_STANDARD, T_CONTRACT, T_OK, T_ERR, T_NONE, T_SOME = 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A
T_LIST, T_TUPLE, T_ASCII, T_UTF8 = 0x0B, 0x0C, 0x0D, 0x0E


class ClarityError(ValueError):
    """A value that is not a valid Clarity value, or bytes that do not decode to one."""


class ClarityValue:
    """Base of every Clarity value."""

    __slots__ = ()

    def write(self, out: bytearray) -> None:
        raise NotImplementedError

    def serialize(self) -> bytes:
        out = bytearray()
        self.write(out)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Int(ClarityValue):
    value: int

    def __post_init__(self) -> None:
        if not I128_MIN <= self.value <= I128_MAX:
            raise ClarityError(f"int out of range: {self.value}")

    def write(self, out: bytearray) -> None:
        out.append(T_INT)
        out += self.value.to_bytes(16, "big", signed=True)


@dataclass(frozen=True, slots=True)
class UInt(ClarityValue):
    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value <= U128_MAX:
            raise ClarityError(f"uint out of range: {self.value}")

    def write(self, out: bytearray) -> None:
        out.append(T_UINT)
        out += self.value.to_bytes(16, "big")


@dataclass(frozen=True, slots=True)
class Buffer(ClarityValue):
    value: bytes

    def write(self, out: bytearray) -> None:
        out.append(T_BUFFER)
        out += struct.pack(">I", len(self.value))
        out += self.value


@dataclass(frozen=True, slots=True)
class Bool(ClarityValue):
    value: bool

    def write(self, out: bytearray) -> None:
        out.append(T_TRUE if self.value else T_FALSE)


@dataclass(frozen=True, slots=True, eq=False)
class StandardPrincipal(ClarityValue):
    version: int
    hash160: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.version < 32 or len(self.hash160) != 20:
            raise ClarityError("a standard principal is a version below 32 and 20 bytes")

    # Principals key every balance and share map: equality and hashing are on the hot path.
    def __eq__(self, other: object) -> bool:
        return (
            other.__class__ is StandardPrincipal
            and self.hash160 == other.hash160  # narrowed by the class check
            and self.version == other.version
        )

    def __hash__(self) -> int:
        return hash(self.hash160)  # bytes cache their hash

    def write(self, out: bytearray) -> None:
        out.append(T_STANDARD)
        out.append(self.version)
        out += self.hash160

    @property
    def address(self) -> str:
        return c32.address(self.version, self.hash160)

    def contract(self, name: str) -> ContractPrincipal:
        return ContractPrincipal(self.version, self.hash160, name)

    def __str__(self) -> str:
        return self.address


@dataclass(frozen=True, slots=True)
class ContractPrincipal(ClarityValue):
    version: int
    hash160: bytes
    name: str

    def __post_init__(self) -> None:
        if not 0 <= self.version < 32 or len(self.hash160) != 20:
            raise ClarityError("a contract principal is a version below 32 and 20 bytes")
        if not _CONTRACT_NAME.fullmatch(self.name):
            raise ClarityError(f"bad contract name: {self.name!r}")

    def write(self, out: bytearray) -> None:
        out.append(T_CONTRACT)
        out.append(self.version)
        out += self.hash160
        name = self.name.encode("ascii")
        out.append(len(name))
        out += name

    @property
    def issuer(self) -> StandardPrincipal:
        return StandardPrincipal(self.version, self.hash160)

    @property
    def address(self) -> str:
        return f"{c32.address(self.version, self.hash160)}.{self.name}"

    def __str__(self) -> str:
        return self.address


Principal = StandardPrincipal | ContractPrincipal


@lru_cache(maxsize=1 << 16)
def standard_principal(version: int, hash160: bytes) -> StandardPrincipal:
    """An interned standard principal: the same account decodes to the same object, so the
    balance and nonce maps find it by identity."""
    return StandardPrincipal(version, hash160)


@lru_cache(maxsize=1 << 12)
def contract_principal(version: int, hash160: bytes, name: str) -> ContractPrincipal:
    """An interned contract principal: a node sees the same few contracts in every call, so
    decoding them skips the name check and the allocation."""
    return ContractPrincipal(version, hash160, name)


@dataclass(frozen=True, slots=True)
class Ok(ClarityValue):
    value: ClarityValue

    def write(self, out: bytearray) -> None:
        out.append(T_OK)
        self.value.write(out)


@dataclass(frozen=True, slots=True)
class Err(ClarityValue):
    value: ClarityValue

    def write(self, out: bytearray) -> None:
        out.append(T_ERR)
        self.value.write(out)


@dataclass(frozen=True, slots=True)
class Some(ClarityValue):
    value: ClarityValue

    def write(self, out: bytearray) -> None:
        out.append(T_SOME)
        self.value.write(out)


@dataclass(frozen=True, slots=True)
class NoneValue(ClarityValue):
    def write(self, out: bytearray) -> None:
        out.append(T_NONE)


NONE = NoneValue()
TRUE = Bool(True)
FALSE = Bool(False)


@dataclass(frozen=True, slots=True)
class List(ClarityValue):
    items: tuple[ClarityValue, ...]

    def write(self, out: bytearray) -> None:
        out.append(T_LIST)
        out += struct.pack(">I", len(self.items))
        for item in self.items:
            item.write(out)

    def __iter__(self) -> Iterator[ClarityValue]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Tuple(ClarityValue):
    """A record. Fields are stored sorted by name (byte order), the order the VM serializes.

    Tuples are immutable, so each keeps its serialization once computed: a quote is hashed,
    signed, carried in a transaction and hashed again on chain, and is encoded once.
    """

    __slots__ = ("_raw", "data")
    data: dict[str, ClarityValue]
    _raw: bytes | None

    def __init__(self, fields: Mapping[str, ClarityValue] | Iterable[tuple[str, ClarityValue]]):
        if isinstance(fields, dict):
            order = _order_of(tuple(fields))
            data = {name: fields[name] for name in order}
        else:
            pairs = fields.items() if isinstance(fields, Mapping) else list(fields)
            data = dict(pairs)
            order = _field_order(tuple(data))
            data = {name: data[name] for name in order}
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "_raw", None)

    @classmethod
    def _decoded(cls, fields: dict[str, ClarityValue], raw: bytes) -> Tuple:
        """A tuple read from `raw`, its consensus bytes when its fields came in canonical order
        (the order is checked here, as `__init__` would sort them)."""
        names = tuple(fields)
        order = _order_of(names)
        self = cls.__new__(cls)
        canonical = order == names and all(map(_canonical, fields.values()))
        object.__setattr__(self, "data", fields if canonical else {k: fields[k] for k in order})
        object.__setattr__(self, "_raw", bytes(raw) if canonical else None)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Tuple is immutable")

    def __getitem__(self, name: str) -> ClarityValue:
        return self.data[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tuple) and self.data == other.data

    def __hash__(self) -> int:
        return hash(tuple(self.data.items()))

    def __repr__(self) -> str:
        return f"Tuple({self.data!r})"

    def write(self, out: bytearray) -> None:
        raw = self._raw
        if raw is None:
            buf = bytearray((T_TUPLE,))
            buf += struct.pack(">I", len(self.data))
            for name, value in self.data.items():
                encoded = name.encode("ascii")
                buf.append(len(encoded))
                buf += encoded
                value.write(buf)
            raw = bytes(buf)
            object.__setattr__(self, "_raw", raw)
        out += raw


_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _order_of(names: tuple[str, ...]) -> tuple[str, ...]:
    """`_field_order`, remembered for up to 4,096 shapes (bounded: decoded input adds shapes)."""
    order = _ORDERS.get(names)
    if order is None:
        order = _field_order(names)
        if len(_ORDERS) < 4096:
            _ORDERS[names] = order
    return order


def _canonical(value: ClarityValue) -> bool:
    """False when `value` holds a tuple decoded from non-canonical bytes (fields out of order),
    whose bytes are then not its serialization; every other value decodes from its own bytes."""
    kind = type(value)
    if kind is Tuple:
        return value._raw is not None  # type: ignore[attr-defined]
    if kind is List:
        return all(map(_canonical, value.items))  # type: ignore[attr-defined]
    if kind is Ok or kind is Err or kind is Some:
        return _canonical(value.value)  # type: ignore[attr-defined]
    return True


def _field_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """Validated names in serialization order (ASCII, so str order is byte order)."""
    for name in names:
        if not 1 <= len(name) <= 128 or not name.isascii():
            raise ClarityError(f"bad tuple field name: {name!r}")
    return tuple(sorted(names))


@dataclass(frozen=True, slots=True)
class StringAscii(ClarityValue):
    value: str

    def __post_init__(self) -> None:
        if not self.value.isascii():
            raise ClarityError("string-ascii holds ASCII only")

    def write(self, out: bytearray) -> None:
        raw = self.value.encode("ascii")
        out.append(T_ASCII)
        out += struct.pack(">I", len(raw))
        out += raw


@dataclass(frozen=True, slots=True)
class StringUtf8(ClarityValue):
    value: str

    def write(self, out: bytearray) -> None:
        raw = self.value.encode("utf-8")
        out.append(T_UTF8)
        out += struct.pack(">I", len(raw))
        out += raw


# --- decoding -------------------------------------------------------------------------------


class Reader:
    """A cursor over bytes that raises ClarityError, never IndexError, on short input."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ClarityError("unexpected end of input")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ClarityError("unexpected end of input")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def name(self) -> str:
        """A length-prefixed Clarity name: 1 to 128 ASCII bytes."""
        name, self.pos = _name(self.data, self.pos)
        return name

    def done(self) -> bool:
        return self.pos == len(self.data)


def read_value(r: Reader) -> ClarityValue:
    """Reads one value at the reader's position and moves past it."""
    try:
        value, r.pos = _read(r.data, r.pos, 0)
    except (IndexError, struct.error):
        raise ClarityError("unexpected end of input") from None
    return value


def _take(data: bytes, pos: int, n: int) -> bytes:
    end = pos + n
    if end > len(data):
        raise ClarityError("unexpected end of input")
    return data[pos:end]


def _name(data: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(data):
        raise ClarityError("unexpected end of input")
    n = data[pos]
    if not 1 <= n <= 128:
        raise ClarityError(f"a name is 1 to 128 bytes, not {n}")
    raw = _take(data, pos + 1, n)
    if not raw.isascii():
        raise ClarityError("name is not ASCII")
    return raw.decode("ascii"), pos + 1 + n


_U32 = struct.Struct(">I").unpack_from


def _read(data: bytes, pos: int, depth: int) -> tuple[ClarityValue, int]:
    """Positional decoder (the hot path of transaction admission): (value, next position)."""
    if depth > MAX_DEPTH:
        raise ClarityError("value nested too deeply")
    t = data[pos]
    pos += 1
    if t == T_UINT:
        return UInt(int.from_bytes(_take(data, pos, 16), "big")), pos + 16
    if t == T_INT:
        return Int(int.from_bytes(_take(data, pos, 16), "big", signed=True)), pos + 16
    if t == T_TUPLE:
        start = pos - 1
        (n,) = _U32(data, pos)
        pos += 4
        fields: dict[str, ClarityValue] = {}
        for _ in range(n):
            name, pos = _name(data, pos)
            fields[name], pos = _read(data, pos, depth + 1)
        if len(fields) != n:
            raise ClarityError("tuple has a repeated field")
        # any order is accepted, as the node does; in canonical order these bytes are the
        # tuple's own serialization, kept so that hashing it (a quote) does not encode it again
        return Tuple._decoded(fields, data[start:pos]), pos
    if t == T_STANDARD:
        return standard_principal(data[pos], _take(data, pos + 1, 20)), pos + 21
    if t == T_CONTRACT:
        version, h = data[pos], _take(data, pos + 1, 20)
        name, pos = _name(data, pos + 21)
        return contract_principal(version, h, name), pos
    if t == T_BUFFER:
        (n,) = _U32(data, pos)
        return Buffer(_take(data, pos + 4, n)), pos + 4 + n
    if t == T_TRUE:
        return TRUE, pos
    if t == T_FALSE:
        return FALSE, pos
    if t == T_OK:
        value, pos = _read(data, pos, depth + 1)
        return Ok(value), pos
    if t == T_ERR:
        value, pos = _read(data, pos, depth + 1)
        return Err(value), pos
    if t == T_NONE:
        return NONE, pos
    if t == T_SOME:
        value, pos = _read(data, pos, depth + 1)
        return Some(value), pos
    if t == T_LIST:
        (n,) = _U32(data, pos)
        pos += 4
        if n > len(data) - pos:
            raise ClarityError("list longer than its input")
        items = []
        for _ in range(n):
            value, pos = _read(data, pos, depth + 1)
            items.append(value)
        return List(tuple(items)), pos
    if t == T_ASCII:
        (n,) = _U32(data, pos)
        raw = _take(data, pos + 4, n)
        if not raw.isascii():
            raise ClarityError("string-ascii holds non-ASCII bytes")
        return StringAscii(raw.decode("ascii")), pos + 4 + n
    if t == T_UTF8:
        (n,) = _U32(data, pos)
        try:
            return StringUtf8(_take(data, pos + 4, n).decode("utf-8")), pos + 4 + n
        except UnicodeDecodeError as exc:
            raise ClarityError("string-utf8 is not valid UTF-8") from exc
    raise ClarityError(f"unknown Clarity type prefix 0x{t:02x}")


def deserialize(data: bytes) -> ClarityValue:
    r = Reader(data)
    value = read_value(r)
    if not r.done():
        raise ClarityError("trailing bytes after value")
    return value


# --- constructors and conversions ------------------------------------------------------------


def principal(text: str) -> Principal:
    """`ST…` or `ST….name` to a principal value."""
    address, dot, name = text.partition(".")
    version, h = c32.decode_address(address)
    return ContractPrincipal(version, h, name) if dot else StandardPrincipal(version, h)


def ascii_(text: str) -> StringAscii:
    return StringAscii(text)


def record(**fields: ClarityValue) -> Tuple:
    """A tuple from keyword fields; Clarity names use '-', so `quote_id` becomes `quote-id`."""
    return Tuple({k.replace("_", "-"): v for k, v in fields.items()})


def to_json(value: ClarityValue) -> dict[str, Any]:
    """Typed JSON: the form used by the reference vectors and by events.jsonl."""
    if isinstance(value, UInt):
        return {"type": "uint", "value": str(value.value)}
    if isinstance(value, Int):
        return {"type": "int", "value": str(value.value)}
    if isinstance(value, Tuple):
        return {"type": "tuple", "value": {k: to_json(v) for k, v in value.data.items()}}
    if isinstance(value, StandardPrincipal | ContractPrincipal):
        return {"type": "principal", "value": value.address}
    if isinstance(value, StringAscii):
        return {"type": "string-ascii", "value": value.value}
    if isinstance(value, Buffer):
        return {"type": "buffer", "value": value.value.hex()}
    if isinstance(value, Bool):
        return {"type": "bool", "value": value.value}
    if isinstance(value, Ok):
        return {"type": "ok", "value": to_json(value.value)}
    if isinstance(value, Err):
        return {"type": "err", "value": to_json(value.value)}
    if isinstance(value, Some):
        return {"type": "some", "value": to_json(value.value)}
    if isinstance(value, NoneValue):
        return {"type": "none"}
    if isinstance(value, List):
        return {"type": "list", "value": [to_json(v) for v in value.items]}
    if isinstance(value, StringUtf8):
        return {"type": "string-utf8", "value": value.value}
    raise ClarityError(f"not a Clarity value: {value!r}")


def from_json(obj: Mapping[str, Any]) -> ClarityValue:
    t: str = obj["type"]
    v: Any = obj.get("value")  # whatever JSON the type holds
    match t:
        case "uint":
            return UInt(int(v))
        case "int":
            return Int(int(v))
        case "bool":
            return Bool(bool(v))
        case "buffer":
            return Buffer(bytes.fromhex(v))
        case "principal":
            return principal(v)
        case "none":
            return NONE
        case "some":
            return Some(from_json(v))
        case "ok":
            return Ok(from_json(v))
        case "err":
            return Err(from_json(v))
        case "list":
            return List(tuple(from_json(x) for x in v))
        case "tuple":
            return Tuple({k: from_json(x) for k, x in v.items()})
        case "string-ascii":
            return StringAscii(v)
        case "string-utf8":
            return StringUtf8(v)
    raise ClarityError(f"unknown typed-JSON Clarity type {t!r}")
