"""Why a node refuses a transaction, as typed errors.

The names are the Stacks node's own rejection reasons (`reason` in the JSON body of a refused
POST /v2/transactions), so SimChain and StacksChain raise the same classes for the same cause
and the Signer handles each one in one place.
"""

from __future__ import annotations


class Rejected(Exception):
    """The node refused the transaction; it never entered the mempool."""

    reason = "Rejected"

    def __init__(self, detail: str = ""):
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)
        self.detail = detail


class SerializationError(Rejected):
    reason = "Serialization"


class BadTransactionVersion(Rejected):
    reason = "BadTransactionVersion"


class SignatureValidation(Rejected):
    reason = "SignatureValidation"


class BadNonce(Rejected):
    reason = "BadNonce"


class ConflictingNonceInMempool(Rejected):
    reason = "ConflictingNonceInMempool"


class TooMuchChaining(Rejected):
    reason = "TooMuchChaining"


class NotEnoughFunds(Rejected):
    reason = "NotEnoughFunds"


class FeeTooLow(Rejected):
    reason = "FeeTooLow"


class NoSuchContract(Rejected):
    reason = "NoSuchContract"


class BadFunctionArgument(Rejected):
    reason = "BadFunctionArgument"


REASONS: dict[str, type[Rejected]] = {
    cls.reason: cls
    for cls in (
        SerializationError,
        BadTransactionVersion,
        SignatureValidation,
        BadNonce,
        ConflictingNonceInMempool,
        TooMuchChaining,
        NotEnoughFunds,
        FeeTooLow,
        NoSuchContract,
        BadFunctionArgument,
    )
}


def rejection(reason: str, detail: str = "") -> Rejected:
    """The typed error for a node's reason string; unknown reasons stay a plain Rejected."""
    cls = REASONS.get(reason)
    if cls is None:
        err = Rejected(detail)
        err.reason = reason
        return err
    return cls(detail)
