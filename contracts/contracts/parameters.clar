;; parameters: a fixed set of uint protocol parameters, admin-only writes.
;; Spec: contracts/README.md, "parameters". Error range u200.

(define-constant ERR-NOT-ADMIN (err u200))
(define-constant ERR-UNKNOWN-KEY (err u201))

(define-data-var admin principal tx-sender)

(define-map params (string-ascii 32) uint)

;; the keys and their values at deployment; no other key can ever be set
(map-set params "min-duration" u144)
(map-set params "max-duration" u12960)
(map-set params "min-amount" u100000)
(map-set params "max-amount" u10000000000)
(map-set params "strike-band-bps" u5000)
(map-set params "settle-max-age" u6)
(map-set params "protocol-fee-bps" u1000)
(map-set params "collateral-ratio-0" u11000)
(map-set params "collateral-ratio-1" u10000)
(map-set params "collateral-ratio-2" u9000)
(map-set params "max-utilisation-0" u6000)
(map-set params "max-utilisation-1" u7500)
(map-set params "max-utilisation-2" u8500)
(map-set params "tier-strike-bps-1" u8000)
(map-set params "tier-strike-bps-2" u9500)
(map-set params "min-first-deposit-0" u10000000)
(map-set params "min-first-deposit-1" u100000)
;; Protocol v2 purchase bounds (contracts/README.md, "parameters")
(map-set params "min-premium-0" u100000)
(map-set params "min-premium-1" u1000)
(map-set params "capital-rate-bps" u200)
(map-set params "price-max-age" u6)
(map-set params "quote-ttl-seconds" u60)
(map-set params "quote-slippage-bps" u50)

;; Checks, in order: admin (u200); the key exists (u201).
(define-public (set-parameter (key (string-ascii 32)) (value uint))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (is-some (map-get? params key)) ERR-UNKNOWN-KEY)
    (map-set params key value)
    (print {event: "parameter-set", key: key, value: value})
    (ok true)))

(define-read-only (get-parameter (key (string-ascii 32)))
  (match (map-get? params key)
    value (ok value)
    ERR-UNKNOWN-KEY))

(define-public (set-admin (who principal))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (var-set admin who)
    (ok true)))
