;; oracle (protocol v2): at most one immutable observation per asset per burn
;; block, with cumulative sums, under a cap that scales with elapsed time and is
;; never lifted; and settlement fixings, time-weighted averages over the
;; FIXING-WINDOW burn blocks before an expiry of the EXPIRY-INTERVAL grid.
;; Spec: contracts/README.md, "oracle". Error range u100. Clarity 4.

(define-constant ERR-NOT-ADMIN (err u100))
(define-constant ERR-NOT-SUBMITTER (err u101))
(define-constant ERR-ZERO-PRICE (err u102))
(define-constant ERR-DEVIATION (err u103))
(define-constant ERR-NO-PRICE (err u104))
(define-constant ERR-BAD-VALUE (err u105))
(define-constant ERR-SAME-BLOCK (err u106))
(define-constant ERR-OFF-GRID (err u107))
(define-constant ERR-NOT-YET (err u108))
(define-constant ERR-TOO-EARLY (err u109))
(define-constant ERR-BAD-HINT (err u110))

;; fixed at deployment (PROTOCOL.md v2, "Admin")
(define-constant EXPIRY-INTERVAL u144)
(define-constant FIXING-WINDOW u6)

(define-data-var admin principal tx-sender)
(define-data-var max-deviation-bps uint u500)
(define-data-var max-jump-bps uint u5000)
(define-data-var max-age uint u6)

(define-map submitters principal bool)
;; per asset: heights of its first and latest observations
(define-map feeds (string-ascii 16) {first: uint, latest: uint})
;; immutable once written
(define-map observations {asset: (string-ascii 16), height: uint}
  {price: uint, height: uint, prev: (optional uint), cum: uint})
;; the height of the observation that followed {asset, height}, written when it arrives
(define-map successors {asset: (string-ascii 16), height: uint} uint)
(define-map fixings {asset: (string-ascii 16), expiry: uint}
  {price: uint, last-observed: uint, stale: bool})

;; the deployer is the only submitter at deployment
(map-set submitters tx-sender true)

(define-private (min-uint (a uint) (b uint))
  (if (< a b) a b))

;; Checks, in order: contract-caller is a submitter (u101); price > 0 (u102);
;; against the latest observation p: not in this burn block (u106), and
;; |price - p.price| * 10000 <= p.price * min(max-jump-bps, max-deviation-bps * elapsed) (u103).
(define-public (set-price (asset (string-ascii 16)) (price uint))
  (let ((height burn-block-height))
    (asserts! (is-submitter contract-caller) ERR-NOT-SUBMITTER)
    (asserts! (> price u0) ERR-ZERO-PRICE)
    (match (map-get? feeds asset)
      feed
        (let ((p (unwrap-panic (map-get? observations {asset: asset, height: (get latest feed)})))
              (old (get price p))
              (elapsed (- height (get height p)))
              (moved (if (> price old) (- price old) (- old price))))
          (asserts! (> elapsed u0) ERR-SAME-BLOCK)
          (asserts! (<= (* moved u10000)
                        (* old (min-uint (var-get max-jump-bps)
                                         (* (var-get max-deviation-bps) elapsed))))
                    ERR-DEVIATION)
          (let ((cum (+ (get cum p) (* old elapsed))))
            (map-set observations {asset: asset, height: height}
              {price: price, height: height, prev: (some (get height p)), cum: cum})
            (map-set successors {asset: asset, height: (get height p)} height)
            (map-set feeds asset {first: (get first feed), latest: height})
            (print {event: "price-updated", asset: asset, price: price, height: height,
                    prev: (some (get height p)), cum: cum})
            (ok true)))
      (begin
        (map-set observations {asset: asset, height: height}
          {price: price, height: height, prev: none, cum: u0})
        (map-set feeds asset {first: height, latest: height})
        (print {event: "price-updated", asset: asset, price: price, height: height,
                prev: none, cum: u0})
        (ok true)))))

;; The latest observation's price and height (the registry reads this shape).
(define-read-only (get-price (asset (string-ascii 16)))
  (match (get-latest asset)
    o (ok {price: (get price o), height: (get height o)})
    ERR-NO-PRICE))

(define-read-only (get-latest (asset (string-ascii 16)))
  (match (map-get? feeds asset)
    feed (map-get? observations {asset: asset, height: (get latest feed)})
    none))

(define-read-only (get-observation (asset (string-ascii 16)) (height uint))
  (map-get? observations {asset: asset, height: height}))

(define-read-only (get-fixing (asset (string-ascii 16)) (expiry uint))
  (map-get? fixings {asset: asset, expiry: expiry}))

;; C(x) = cum(h) + price(h) * (x - h), h = `hint` the last observation at or
;; before x: proven by h <= x and (h is the latest, or its successor is > x).
(define-private (cumulative-at (asset (string-ascii 16)) (latest uint) (x uint) (hint uint))
  (let ((o (unwrap! (map-get? observations {asset: asset, height: hint}) ERR-BAD-HINT)))
    (asserts! (<= hint x) ERR-BAD-HINT)
    (asserts! (or (is-eq hint latest)
                  (> (default-to u0 (map-get? successors {asset: asset, height: hint})) x))
              ERR-BAD-HINT)
    (ok (+ (get cum o) (* (get price o) (- x hint))))))

;; Checks, in order: expiry on the grid (u107); expiry <= burn-block-height (u108);
;; a stored fixing is returned as it is; an observation exists (u104); the first
;; is at or before expiry - FIXING-WINDOW (u109); the hints (u110).
(define-public (fix (asset (string-ascii 16)) (expiry uint) (start-hint uint) (end-hint uint))
  (begin
    (asserts! (is-eq (mod expiry EXPIRY-INTERVAL) u0) ERR-OFF-GRID)
    (asserts! (<= expiry burn-block-height) ERR-NOT-YET)
    (match (map-get? fixings {asset: asset, expiry: expiry})
      stored (ok stored)
      (let ((feed (unwrap! (map-get? feeds asset) ERR-NO-PRICE))
            (latest (get latest feed)))
        (asserts! (and (>= expiry FIXING-WINDOW) (<= (get first feed) (- expiry FIXING-WINDOW)))
                  ERR-TOO-EARLY)
        (let ((c-start (try! (cumulative-at asset latest (- expiry FIXING-WINDOW) start-hint)))
              (c-end (try! (cumulative-at asset latest expiry end-hint)))
              (record {price: (/ (- c-end c-start) FIXING-WINDOW),
                       last-observed: end-hint,
                       stale: (> (- expiry end-hint) (var-get max-age))}))
          (map-set fixings {asset: asset, expiry: expiry} record)
          (print {event: "fixing-set", asset: asset, expiry: expiry, price: (get price record),
                  last-observed: end-hint, stale: (get stale record)})
          (ok record))))))

(define-read-only (is-submitter (who principal))
  (default-to false (map-get? submitters who)))

(define-read-only (get-config)
  {max-deviation-bps: (var-get max-deviation-bps), max-jump-bps: (var-get max-jump-bps),
   max-age: (var-get max-age), expiry-interval: EXPIRY-INTERVAL, fixing-window: FIXING-WINDOW})

(define-public (add-submitter (who principal))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (map-set submitters who true)
    (ok true)))

(define-public (remove-submitter (who principal))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (map-set submitters who false)
    (ok true)))

(define-public (set-admin (who principal))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (var-set admin who)
    (ok true)))

(define-public (set-max-deviation (bps uint))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (<= bps u10000) ERR-BAD-VALUE)
    (var-set max-deviation-bps bps)
    (ok true)))

(define-public (set-max-jump (bps uint))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (<= bps u10000) ERR-BAD-VALUE)
    (var-set max-jump-bps bps)
    (ok true)))

(define-public (set-max-age (blocks uint))
  (begin
    (asserts! (is-eq contract-caller (var-get admin)) ERR-NOT-ADMIN)
    (asserts! (> blocks u0) ERR-BAD-VALUE)
    (var-set max-age blocks)
    (ok true)))
