"""Clarity values and their consensus serialization (SIP-005).

The byte format is what the Clarity VM hashes (`to-consensus-buff?`), what contract-call
arguments travel as, and what `print` events carry, so one exact implementation serves the
transaction layer, the contract models and the signed quotes alike.

Values are small immutable objects; principals are hashable so the contract models can use
them directly as map keys. Tuple fields are kept sorted by name in byte order, as the Clarity
VM sorts them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chain import c32

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


@dataclass(frozen=True, slots=True)
class StandardPrincipal(ClarityValue):
    version: int
    hash160: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.version < 32 or len(self.hash160) != 20:
            raise ClarityError("a standard principal is a version below 32 and 20 bytes")

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
        if not 1 <= len(self.name) <= 128 or not self.name.isascii():
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
    """A record. Fields are stored sorted by name (byte order), the order the VM serializes."""

    __slots__ = ("data",)

    def __init__(self, fields: Mapping[str, ClarityValue] | Iterable[tuple[str, ClarityValue]]):
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        data = dict(sorted(pairs, key=lambda kv: kv[0].encode()))
        for name in data:
            if not 1 <= len(name) <= 128 or not name.isascii():
                raise ClarityError(f"bad tuple field name: {name!r}")
        object.__setattr__(self, "data", data)

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
        out.append(T_TUPLE)
        out += struct.pack(">I", len(self.data))
        for name, value in self.data.items():
            raw = name.encode("ascii")
            out.append(len(raw))
            out += raw
            value.write(out)


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
        raw = self.take(self.byte())
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ClarityError("name is not ASCII") from exc

    def done(self) -> bool:
        return self.pos == len(self.data)


def read_value(r: Reader, depth: int = 0) -> ClarityValue:
    if depth > MAX_DEPTH:
        raise ClarityError("value nested too deeply")
    t = r.byte()
    if t == T_UINT:
        return UInt(int.from_bytes(r.take(16), "big"))
    if t == T_INT:
        return Int(int.from_bytes(r.take(16), "big", signed=True))
    if t == T_TUPLE:
        n = r.u32()
        pairs = [(r.name(), read_value(r, depth + 1)) for _ in range(n)]
        if len({name for name, _ in pairs}) != n:
            raise ClarityError("tuple has a repeated field")
        return Tuple(pairs)  # any order is accepted, as the node does; the VM's is byte order
    if t == T_STANDARD:
        return StandardPrincipal(r.byte(), r.take(20))
    if t == T_CONTRACT:
        version, h = r.byte(), r.take(20)
        return ContractPrincipal(version, h, r.name())
    if t == T_BUFFER:
        return Buffer(r.take(r.u32()))
    if t == T_TRUE:
        return TRUE
    if t == T_FALSE:
        return FALSE
    if t == T_OK:
        return Ok(read_value(r, depth + 1))
    if t == T_ERR:
        return Err(read_value(r, depth + 1))
    if t == T_NONE:
        return NONE
    if t == T_SOME:
        return Some(read_value(r, depth + 1))
    if t == T_LIST:
        n = r.u32()
        if n > len(r.data) - r.pos:
            raise ClarityError("list longer than its input")
        return List(tuple(read_value(r, depth + 1) for _ in range(n)))
    if t == T_ASCII:
        raw = r.take(r.u32())
        if not raw.isascii():
            raise ClarityError("string-ascii holds non-ASCII bytes")
        return StringAscii(raw.decode("ascii"))
    if t == T_UTF8:
        try:
            return StringUtf8(r.take(r.u32()).decode("utf-8"))
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
    address, _, name = text.partition(".")
    version, h = c32.decode_address(address)
    return ContractPrincipal(version, h, name) if name else StandardPrincipal(version, h)


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
    t, v = obj["type"], obj.get("value")
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
