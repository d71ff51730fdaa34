;; sip-010-trait: the SIP-010 fungible-token trait, declared locally with the
;; standard's signatures (see contracts/README.md, "Deployment and principals").

(define-trait sip-010-trait
  (
    ;; transfer amount from sender to recipient, with an optional memo
    (transfer (uint principal principal (optional (buff 34))) (response bool uint))
    (get-name () (response (string-ascii 32) uint))
    (get-symbol () (response (string-ascii 32) uint))
    (get-decimals () (response uint uint))
    (get-balance (principal) (response uint uint))
    (get-total-supply () (response uint uint))
    (get-token-uri () (response (optional (string-utf8 256)) uint))
  )
)
