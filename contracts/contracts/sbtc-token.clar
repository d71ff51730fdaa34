;; sbtc-token: the test sBTC of the simulator and the Clarity test harness.
;; SIP-010, 8 decimals, asset name `sbtc`, `mint` by the deployer only.
;; Spec: contracts/README.md, "sbtc-token (test token)".

(impl-trait .sip-010-trait.sip-010-trait)

(define-fungible-token sbtc)

(define-constant DEPLOYER tx-sender)

(define-constant ERR-NOT-OWNER (err u4))

;; tx-sender must be `sender` (u4); the native ft-transfer? errors propagate
;; unchanged: u3 zero amount, u2 sender is recipient, u1 insufficient balance.
;; A memo, when given, is printed as SIP-010 asks.
(define-public (transfer (amount uint) (sender principal) (recipient principal) (memo (optional (buff 34))))
  (begin
    (asserts! (is-eq tx-sender sender) ERR-NOT-OWNER)
    (try! (ft-transfer? sbtc amount sender recipient))
    (match memo given (begin (print given) true) true)
    (ok true)))

;; Deployer only (u4); ft-mint? returns (err u1) for a zero amount.
(define-public (mint (amount uint) (recipient principal))
  (begin
    (asserts! (is-eq tx-sender DEPLOYER) ERR-NOT-OWNER)
    (try! (ft-mint? sbtc amount recipient))
    (ok true)))

(define-read-only (get-name)
  (ok "sBTC (test)"))

(define-read-only (get-symbol)
  (ok "sBTC"))

(define-read-only (get-decimals)
  (ok u8))

(define-read-only (get-balance (who principal))
  (ok (ft-get-balance sbtc who)))

(define-read-only (get-total-supply)
  (ok (ft-get-supply sbtc)))

(define-read-only (get-token-uri)
  (ok none))
