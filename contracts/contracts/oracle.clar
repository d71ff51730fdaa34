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
(define-constant ERR-NOT-GUARDIAN (err u111))
(define-constant ERR-QUEUED (err u112))
(define-constant ERR-NOT-QUEUED (err u113))
(define-constant ERR-NOT-READY (err u114))
(define-constant ERR-LAPSED (err u115))
(define-constant ERR-LAST-SUBMITTER (err u116))
(define-constant ERR-UNKNOWN-SETTING (err u117))
(define-constant ERR-SETUP-CLOSED (err u118))

;; fixed at deployment (PROTOCOL.md v2, "Admin")
(define-constant EXPIRY-INTERVAL u144)
(define-constant FIXING-WINDOW u6)

(define-data-var max-deviation-bps uint u500)
(define-data-var max-jump-bps uint u5000)
(define-data-var max-age uint u6)

(define-map submitters principal bool)
(define-data-var submitter-count uint u1)
;; queued admin changes (the queue of contracts/README.md, "Admin"): the three
;; settings by name, and one submitter addition at a time under "submitter"
(define-map queued-settings (string-ascii 32) {value: uint, eta: uint})
(define-map queued-submitters (string-ascii 32) {value: principal, eta: uint})
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

;; --- admin (protocol v2: queued; the guardian only reduces) -------------------
;; The admin and guardian roles live in `.parameters`, checked on contract-caller.

(define-private (check-admin)
  (ok (asserts! (contract-call? .parameters is-admin contract-caller) ERR-NOT-ADMIN)))

(define-private (check-guardian)
  (ok (asserts! (contract-call? .parameters is-guardian contract-caller) ERR-NOT-GUARDIAN)))

;; a queued change's eta has come (u114) and it has not lapsed (u115)
(define-private (check-ready (eta uint))
  (let ((state (contract-call? .parameters queue-state eta)))
    (asserts! (not (is-eq state u1)) ERR-NOT-READY)
    (ok (asserts! (is-eq state u0) ERR-LAPSED))))

;; the settings' bounds, inclusive: {min, max}; none for an unknown name
(define-private (setting-bounds (key (string-ascii 32)))
  (if (is-eq key "max-deviation-bps") (some {min: u1, max: u1000})
    (if (is-eq key "max-jump-bps") (some {min: u100, max: u5000})
      (if (is-eq key "max-age") (some {min: u1, max: u144}) none))))

(define-read-only (get-queued-setting (key (string-ascii 32)))
  (map-get? queued-settings key))

(define-read-only (get-queued-submitter)
  (map-get? queued-submitters "submitter"))

(define-read-only (get-submitter-count)
  (var-get submitter-count))

;; Checks, in order: admin (u100); a known setting (u117); within its bounds
;; (u105); no live change of it (u112).
(define-public (queue-setting (key (string-ascii 32)) (value uint))
  (let ((eta (contract-call? .parameters get-eta)))
    (try! (check-admin))
    (let ((range (unwrap! (setting-bounds key) ERR-UNKNOWN-SETTING)))
      (asserts! (and (<= (get min range) value) (<= value (get max range))) ERR-BAD-VALUE)
      (asserts! (contract-call? .parameters is-free (get eta (map-get? queued-settings key))) ERR-QUEUED)
      (map-set queued-settings key {value: value, eta: eta})
      (print {event: "change-queued", key: key, value: value, eta: eta})
      (ok eta))))

;; anyone. Checks: queued (u113); ready (u114); not lapsed (u115).
(define-public (apply-setting (key (string-ascii 32)))
  (let ((change (unwrap! (map-get? queued-settings key) ERR-NOT-QUEUED))
        (value (get value change)))
    (try! (check-ready (get eta change)))
    (map-delete queued-settings key)
    (if (is-eq key "max-deviation-bps")
      (var-set max-deviation-bps value)
      (if (is-eq key "max-jump-bps") (var-set max-jump-bps value) (var-set max-age value)))
    (print {event: "oracle-setting-set", key: key, value: value})
    (ok true)))

;; the admin or the guardian (u111); queued (u113).
(define-public (cancel-setting (key (string-ascii 32)))
  (begin
    (try! (check-guardian))
    (asserts! (map-delete queued-settings key) ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: key})
    (ok true)))

;; Checks: admin (u100); no live submitter addition (u112).
(define-public (queue-submitter (who principal))
  (let ((eta (contract-call? .parameters get-eta)))
    (try! (check-admin))
    (asserts! (contract-call? .parameters is-free (get eta (get-queued-submitter))) ERR-QUEUED)
    (map-set queued-submitters "submitter" {value: who, eta: eta})
    (print {event: "change-queued", key: "submitter", value: who, eta: eta})
    (ok eta)))

;; anyone. Checks: queued (u113); ready (u114); not lapsed (u115).
(define-public (apply-submitter)
  (let ((change (unwrap! (get-queued-submitter) ERR-NOT-QUEUED))
        (who (get value change)))
    (try! (check-ready (get eta change)))
    (map-delete queued-submitters "submitter")
    (if (is-submitter who) true (var-set submitter-count (+ (var-get submitter-count) u1)))
    (map-set submitters who true)
    (print {event: "submitter-added", who: who})
    (ok true)))

;; the deployment step naming more submitters at once (e.g. the backend's own key, so
;; the deployer's can stay offline), only before the first BTC-USD observation: until
;; then nothing can be bought (u309), so no one relies on the oracle yet. Every later
;; addition is queued. Checks: admin (u100); no BTC-USD observation yet (u118).
(define-public (init-submitter (who principal))
  (begin
    (try! (check-admin))
    (asserts! (is-none (map-get? feeds "BTC-USD")) ERR-SETUP-CLOSED)
    (if (is-submitter who) true (var-set submitter-count (+ (var-get submitter-count) u1)))
    (map-set submitters who true)
    (print {event: "submitter-added", who: who})
    (ok true)))

;; the admin or the guardian (u111); queued (u113).
(define-public (cancel-submitter)
  (begin
    (try! (check-guardian))
    (asserts! (map-delete queued-submitters "submitter") ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: "submitter"})
    (ok true)))

;; at once, by the admin or the guardian (u111); never the last submitter (u116).
;; Removing a principal that is not a submitter changes nothing.
(define-public (remove-submitter (who principal))
  (begin
    (try! (check-guardian))
    (if (is-submitter who)
      (begin
        (asserts! (> (var-get submitter-count) u1) ERR-LAST-SUBMITTER)
        (var-set submitter-count (- (var-get submitter-count) u1))
        (map-set submitters who false)
        (print {event: "submitter-removed", who: who})
        true)
      true)
    (ok true)))
