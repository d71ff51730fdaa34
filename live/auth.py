"""Sign-in with a Stacks wallet: a SIP-018 challenge, signature recovery, a short-lived session.

1. `challenge(principal)` makes a message tuple `{action: "sign-in", principal, nonce,
   issued-at, expires-at}` under the domain `{name: api.signin_domain, version: "1",
   chain-id}`; the wallet shows it and signs it (`signStructuredData`,
   `stx_signStructuredMessage`).
2. `sign_in(nonce, signature)` takes the challenge out of the table (so a replay finds nothing),
   refuses it once expired, recovers the signer from the SIP-018 hash computed *here* with this
   deployment's domain (a signature made under another chain id or domain name recovers some
   other key), and requires that signer to be the challenge's principal.
3. The session token is 32 random bytes (URL-safe text); only its sha256 is kept, so the table
   never holds a usable token, and no log line or error carries one.

Everything lives in memory: a restart or a failover signs every user out, which costs a wallet
one more signature and keeps the database free of credentials.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chain import sip018
from chain.clarity import StandardPrincipal, StringAscii, Tuple, UInt
from chain.transactions import Network

SIGNIN_VERSION = "1"
MAX_OPEN_CHALLENGES = 100_000  # a flood of challenges evicts the oldest, never grows memory


class SignInRefused(ValueError):
    """Why a sign-in was refused; `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Challenge:
    principal: str
    nonce: str  # 32 hex digits
    issued_at: int
    expires_at: int

    def message(self) -> Tuple:
        return Tuple(
            {
                "action": StringAscii("sign-in"),
                "principal": StringAscii(self.principal),
                "nonce": StringAscii(self.nonce),
                "issued-at": UInt(self.issued_at),
                "expires-at": UInt(self.expires_at),
            }
        )


@dataclass(frozen=True, slots=True)
class Session:
    principal: str
    expires_at: float


class Auth:
    def __init__(
        self,
        network: Network,
        domain_name: str,
        challenge_ttl: float,
        session_ttl: float,
        clock: Callable[[], float],
    ):
        self.network = network
        self.domain = sip018.Domain(domain_name, SIGNIN_VERSION, network.chain_id)
        self.challenge_ttl = challenge_ttl
        self.session_ttl = session_ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge] = {}
        self._sessions: dict[bytes, Session] = {}

    def challenge(self, principal: StandardPrincipal) -> Challenge:
        now = int(self.clock())
        c = Challenge(principal.address, secrets.token_hex(16), now, now + int(self.challenge_ttl))
        with self._lock:
            self._expire(now)
            while len(self._challenges) >= MAX_OPEN_CHALLENGES:
                self._challenges.pop(next(iter(self._challenges)))
            self._challenges[c.nonce] = c
        return c

    def sign_in(self, nonce: str, signature: bytes) -> tuple[str, Session]:
        """(token, session) for a valid signature of an open challenge; else `SignInRefused`."""
        with self._lock:
            c = self._challenges.pop(nonce, None)  # single use, whatever happens next
        if c is None:
            raise SignInRefused("unknown-challenge", "no open challenge has this nonce (used?)")
        if self.clock() > c.expires_at:
            raise SignInRefused("expired", "the challenge has expired; ask for a new one")
        digest = sip018.message_hash(self.domain, c.message())
        signer = sip018.recover_principal(digest, signature, self.network)
        if signer is None or signer.address != c.principal:
            raise SignInRefused(
                "signature",
                "the signature is not the challenge's principal signing this challenge "
                f"on this chain (domain {self.domain.name!r}, chain id {self.domain.chain_id})",
            )
        token = secrets.token_urlsafe(32)
        session = Session(c.principal, self.clock() + self.session_ttl)
        with self._lock:
            self._sessions[_digest(token)] = session
        return token, session

    def session(self, token: str) -> Session | None:
        key = _digest(token)
        with self._lock:
            s = self._sessions.get(key)
            if s is not None and self.clock() > s.expires_at:
                del self._sessions[key]
                s = None
        return s

    def _expire(self, now: float) -> None:
        for nonce in [n for n, c in self._challenges.items() if c.expires_at < now]:
            del self._challenges[nonce]
        for key in [k for k, s in self._sessions.items() if s.expires_at < now]:
            del self._sessions[key]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
