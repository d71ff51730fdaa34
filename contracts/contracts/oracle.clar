;; oracle: prices keyed by (string-ascii 16) names, pushed by authorised
;; submitters, with a deviation cap against a fresh previous price.
;; Spec: contracts/README.md, "oracle". Error range u100.

(define-constant ERR-NOT-ADMIN (err u100))
(define-constant ERR-NOT-SUBMITTER (err u101))
(define-constant ERR-ZERO-PRICE (err u102))
(define-constant ERR-DEVIATION (err u103))
(define-constant ERR-NO-PRICE (err u104))
(define-constant ERR-BAD-VALUE (err u105))

(define-data-var admin principal tx-sender)
(define-data-var max-deviation-bps uint u500)
(define-data-var max-age uint u6)

(define-map submitters principal bool)
(define-map prices (string-ascii 16) {price: uint, height: uint})

;; the deployer is the only submitter at deployment
(map-set submitters tx-sender true)

;; Checks, in order: submitter (u101); price > 0 (u102); against a previous
;; price younger than max-age: |price - old| * 10000 <= old * max-deviation-bps (u103).
(define-public (set-price (asset (string-ascii 16)) (price uint))
  (begin
    (asserts! (is-submitter tx-sender) ERR-NOT-SUBMITTER)
    (asserts! (> price u0) ERR-ZERO-PRICE)
    (match (map-get? prices asset)
      prev
        (if (< (- burn-block-height (get height prev)) (var-get max-age))
          (let ((old (get price prev))
                (moved (if (> price old) (- price old) (- old price))))
            (asserts! (<= (* moved u10000) (* old (var-get max-deviation-bps))) ERR-DEVIATION))
          true)
      true)
    (map-set prices asset {price: price, height: burn-block-height})
    (print {event: "price-updated", asset: asset, price: price, height: burn-block-height})
    (ok true)))

(define-read-only (get-price (asset (string-ascii 16)))
  (match (map-get? prices asset)
    found (ok found)
    ERR-NO-PRICE))

(define-read-only (is-submitter (who principal))
  (default-to false (map-get? submitters who)))

(define-read-only (get-config)
  {max-deviation-bps: (var-get max-deviation-bps), max-age: (var-get max-age)})

(define-public (add-submitter (who principal))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (map-set submitters who true)
    (ok true)))

(define-public (remove-submitter (who principal))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (map-set submitters who false)
    (ok true)))

(define-public (set-admin (who principal))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (var-set admin who)
    (ok true)))

(define-public (set-max-deviation (bps uint))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (<= bps u10000) ERR-BAD-VALUE)
    (var-set max-deviation-bps bps)
    (ok true)))

(define-public (set-max-age (blocks uint))
  (begin
    (asserts! (is-eq tx-sender (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (> blocks u0) ERR-BAD-VALUE)
    (var-set max-age blocks)
    (ok true)))
