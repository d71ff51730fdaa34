;; TEST ONLY, never deployed outside the simnet: a third-party contract that a
;; role key (oracle submitter, admin, backend) may be lured into calling. It
;; relays the call to the protocol contract as itself: under v2's role checks on
;; contract-caller it is refused; under v1's checks on tx-sender it was the key.
;; Attack rows of tests/contracts/test_attacks.py use it.

(define-public (set-price (asset (string-ascii 16)) (price uint))
  (contract-call? .oracle set-price asset price))

(define-public (add-submitter (who principal))
  (contract-call? .oracle queue-submitter who))
