"""The ports' error vocabulary: why a node refuses a transaction, and how else a chain fails.

Every error of the node client (chain/node.py) is one of these: `NodeUnavailable` is an
`Unavailable`, `NodeError` a `BadAnswer`, `ReadOnlyFailed` a `ReadFailed`, `CursorNotFound` a
`Reorganised`, and a refused broadcast the `Rejected` subclass named for the node's reason.

The names are the Stacks node's own rejection reasons (`reason` in the JSON body of a refused
POST /v2/transactions), so SimChain and StacksChain raise the same classes for the same cause
and the Signer handles each one in one place.
"""

from __future__ import annotations


class Unavailable(Exception):
    """No answer from the node (down, overloaded, unreachable). Unlike `Rejected`, a broadcast
    that ends here may or may not have reached the mempool: send the same bytes again later."""


class BadAnswer(Unavailable):
    """The node answered, but with nothing the caller can act on: an unexpected status (a 4xx
    that is not a refusal, a 410 for an endpoint turned off) or a body of the wrong shape. To a
    caller it is no answer at all: nothing is known about what the node did, so a broadcast
    that ends here is sent again later, unchanged, exactly like one that met `Unavailable`."""


class ReadFailed(Exception):
    """A read-only call did not run to a value (a runtime error in the call, on the node or in
    the VM). Not `Unavailable`: asking again gives the same answer until the state changes."""


class Reorganised(LookupError):
    """Events the caller already saw are no longer in the chain's history: a reorganisation
    dropped the blocks that held them. The live block source handles it itself
    (`StacksChain.poll` re-reads the history and skips what it delivered), so no actor and
    no driver loop ever sees it."""


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


# The rest of the node's reasons (stacks.js `TxRejectedReason`, the node's `MemPoolRejection`).
# SimChain never raises them; a live node can, so the Signer still sees a named class.


class DeserializationError(Rejected):
    reason = "Deserialization"


class NoSuchPublicFunction(Rejected):
    reason = "NoSuchPublicFunction"


class ContractAlreadyExists(Rejected):
    reason = "ContractAlreadyExists"


class BadAddressVersionByte(Rejected):
    reason = "BadAddressVersionByte"


class TransferRecipientCannotEqualSender(Rejected):
    reason = "TransferRecipientCannotEqualSender"


class TransferAmountMustBePositive(Rejected):
    reason = "TransferAmountMustBePositive"


class TemporarilyBlacklisted(Rejected):
    reason = "TemporarilyBlacklisted"


class EstimatorError(Rejected):
    reason = "EstimatorError"


class ServerFailureNoSuchChainTip(Rejected):
    reason = "ServerFailureNoSuchChainTip"


class ServerFailureDatabase(Rejected):
    reason = "ServerFailureDatabase"


class ServerFailureOther(Rejected):
    reason = "ServerFailureOther"


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
        DeserializationError,
        NoSuchPublicFunction,
        ContractAlreadyExists,
        BadAddressVersionByte,
        TransferRecipientCannotEqualSender,
        TransferAmountMustBePositive,
        TemporarilyBlacklisted,
        EstimatorError,
        ServerFailureNoSuchChainTip,
        ServerFailureDatabase,
        ServerFailureOther,
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
