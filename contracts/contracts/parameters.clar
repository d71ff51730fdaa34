;; parameters: a fixed set of uint protocol parameters, and the protocol's
;; governance: the admin and guardian roles, the admin delay and the shutdown.
;; Spec: contracts/README.md, "parameters" and "Admin". Error range u200.
;;
;; Protocol v2 ("Admin"): a change is queued with an event, applies after
;; `admin-delay` burn blocks (>= u1008, a week; a new delay waits the old one),
;; lapses ADMIN-LAPSE blocks after it became effective, is applied by anyone and
;; cancelled by the admin or the guardian. At most one queued change per key.
;; The guardian acts at once but only reduces power. The same queue shape,
;; {value, eta}, is used by the oracle and the registry for their own settings.

(define-constant ERR-NOT-ADMIN (err u200))
(define-constant ERR-UNKNOWN-KEY (err u201))
(define-constant ERR-NOT-GUARDIAN (err u202))
(define-constant ERR-OUT-OF-BOUNDS (err u203))
(define-constant ERR-QUEUED (err u204))
(define-constant ERR-NOT-QUEUED (err u205))
(define-constant ERR-NOT-READY (err u206))
(define-constant ERR-LAPSED (err u207))
(define-constant ERR-ALREADY-SET (err u208))

;; a queued change not applied within this many blocks after its eta lapses
(define-constant ADMIN-LAPSE u144)
;; fixed at deployment: the longest policy; `max-duration` may only be lower
(define-constant MAX-DURATION u12960)

(define-data-var admin principal tx-sender)
;; none until the admin names one (once, at once: init-guardian); then queued
(define-data-var guardian (optional principal) none)
(define-data-var shut-down bool false)

(define-map params (string-ascii 32) uint)

;; the keys and their values at deployment; no other key can ever be set
;; governance: burn blocks between queueing a change and its effect
(map-set params "admin-delay" u1008)
(map-set params "min-duration" u144)
(map-set params "max-duration" u12960)
(map-set params "min-amount" u100000)
(map-set params "max-amount" u10000000000)
(map-set params "strike-band-bps" u5000)
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
(map-set params "quote-price-blocks" u1)

;; what a queued change may set each key to, inclusive; a key without bounds
;; cannot be changed (contracts/README.md, "Admin", says why each bound)
(define-map bounds (string-ascii 32) {min: uint, max: uint})
(map-set bounds "min-duration" {min: u144, max: MAX-DURATION})
(map-set bounds "max-duration" {min: u144, max: MAX-DURATION})
(map-set bounds "min-amount" {min: u1, max: u10000000000})
(map-set bounds "max-amount" {min: u1, max: u100000000000})
(map-set bounds "strike-band-bps" {min: u0, max: u5000})
(map-set bounds "protocol-fee-bps" {min: u0, max: u2000})
(map-set bounds "collateral-ratio-0" {min: u5000, max: u20000})
(map-set bounds "collateral-ratio-1" {min: u5000, max: u20000})
(map-set bounds "collateral-ratio-2" {min: u5000, max: u20000})
(map-set bounds "max-utilisation-0" {min: u0, max: u10000})
(map-set bounds "max-utilisation-1" {min: u0, max: u10000})
(map-set bounds "max-utilisation-2" {min: u0, max: u10000})
(map-set bounds "tier-strike-bps-1" {min: u5000, max: u10000})
(map-set bounds "tier-strike-bps-2" {min: u5000, max: u10000})
(map-set bounds "min-first-deposit-0" {min: u1000000, max: u1000000000000})
(map-set bounds "min-first-deposit-1" {min: u10000, max: u100000000})
(map-set bounds "min-premium-0" {min: u1, max: u100000000})
(map-set bounds "min-premium-1" {min: u1, max: u1000000})
(map-set bounds "capital-rate-bps" {min: u0, max: u5000})
(map-set bounds "price-max-age" {min: u1, max: u144})
(map-set bounds "quote-ttl-seconds" {min: u10, max: u3600})
(map-set bounds "quote-slippage-bps" {min: u0, max: u1000})
(map-set bounds "quote-price-blocks" {min: u1, max: u6})
(map-set bounds "admin-delay" {min: u1008, max: u4320})

;; queued changes: parameters by key, roles ("admin", "guardian") by name
(define-map queued-parameters (string-ascii 32) {value: uint, eta: uint})
(define-map queued-roles (string-ascii 32) {value: principal, eta: uint})

;; --- roles -------------------------------------------------------------------

(define-read-only (get-admin)
  (var-get admin))

(define-read-only (get-guardian)
  (var-get guardian))

(define-read-only (is-admin (who principal))
  (is-eq who (var-get admin)))

;; the admin or the guardian: who may reduce power at once
(define-read-only (is-guardian (who principal))
  (or (is-eq who (var-get admin)) (is-eq (some who) (var-get guardian))))

(define-read-only (is-shutdown)
  (var-get shut-down))

;; --- the queue's rules, read by the oracle and the registry too ----------------

;; the height a change queued now takes effect
(define-read-only (get-eta)
  (+ burn-block-height (unwrap-panic (map-get? params "admin-delay"))))

;; u0: may be applied now; u1: not yet; u2: lapsed (then the key is free again)
(define-read-only (queue-state (eta uint))
  (if (< burn-block-height eta) u1 (if (< burn-block-height (+ eta ADMIN-LAPSE)) u0 u2)))

;; a key is free for a new change unless a change is queued that has not lapsed
(define-read-only (is-free (eta (optional uint)))
  (match eta e (is-eq (queue-state e) u2) true))

;; --- parameters --------------------------------------------------------------

(define-read-only (get-parameter (key (string-ascii 32)))
  (match (map-get? params key)
    value (ok value)
    ERR-UNKNOWN-KEY))

(define-read-only (get-bounds (key (string-ascii 32)))
  (map-get? bounds key))

(define-read-only (get-queued-parameter (key (string-ascii 32)))
  (map-get? queued-parameters key))

;; Checks, in order: contract-caller is the admin (u200); the key exists (u201);
;; min <= value <= max of its bounds (u203); no live change of the key (u204).
(define-public (queue-parameter (key (string-ascii 32)) (value uint))
  (let ((range (default-to {min: u1, max: u0} (map-get? bounds key)))
        (eta (get-eta)))
    (asserts! (is-admin contract-caller) ERR-NOT-ADMIN)
    (asserts! (is-some (map-get? params key)) ERR-UNKNOWN-KEY)
    (asserts! (and (<= (get min range) value) (<= value (get max range))) ERR-OUT-OF-BOUNDS)
    (asserts! (is-free (get eta (map-get? queued-parameters key))) ERR-QUEUED)
    (map-set queued-parameters key {value: value, eta: eta})
    (print {event: "change-queued", key: key, value: value, eta: eta})
    (ok eta)))

;; anyone. Checks: a change is queued (u205); its eta has come (u206); not lapsed (u207).
(define-public (apply-parameter (key (string-ascii 32)))
  (let ((change (unwrap! (map-get? queued-parameters key) ERR-NOT-QUEUED))
        (state (queue-state (get eta change))))
    (asserts! (not (is-eq state u1)) ERR-NOT-READY)
    (asserts! (is-eq state u0) ERR-LAPSED)
    (map-delete queued-parameters key)
    (map-set params key (get value change))
    (print {event: "parameter-set", key: key, value: (get value change)})
    (ok true)))

;; the admin or the guardian. Checks: the role (u202); a change is queued (u205).
(define-public (cancel-parameter (key (string-ascii 32)))
  (begin
    (asserts! (is-guardian contract-caller) ERR-NOT-GUARDIAN)
    (asserts! (map-delete queued-parameters key) ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: key})
    (ok true)))

;; --- roles: queued like parameters -------------------------------------------

(define-read-only (get-queued-role (role (string-ascii 32)))
  (map-get? queued-roles role))

;; Checks: the admin (u200); role is "admin" or "guardian" (u201); no live change (u204).
(define-public (queue-role (role (string-ascii 32)) (who principal))
  (let ((eta (get-eta)))
    (asserts! (is-admin contract-caller) ERR-NOT-ADMIN)
    (asserts! (or (is-eq role "admin") (is-eq role "guardian")) ERR-UNKNOWN-KEY)
    (asserts! (is-free (get eta (map-get? queued-roles role))) ERR-QUEUED)
    (map-set queued-roles role {value: who, eta: eta})
    (print {event: "change-queued", key: role, value: who, eta: eta})
    (ok eta)))

;; anyone. Checks: queued (u205); eta has come (u206); not lapsed (u207).
(define-public (apply-role (role (string-ascii 32)))
  (let ((change (unwrap! (map-get? queued-roles role) ERR-NOT-QUEUED))
        (state (queue-state (get eta change))))
    (asserts! (not (is-eq state u1)) ERR-NOT-READY)
    (asserts! (is-eq state u0) ERR-LAPSED)
    (map-delete queued-roles role)
    (if (is-eq role "admin")
      (var-set admin (get value change))
      (var-set guardian (some (get value change))))
    (print {event: "role-set", role: role, who: (get value change)})
    (ok true)))

;; the admin or the guardian. Checks: the role (u202); queued (u205).
(define-public (cancel-role (role (string-ascii 32)))
  (begin
    (asserts! (is-guardian contract-caller) ERR-NOT-GUARDIAN)
    (asserts! (map-delete queued-roles role) ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: role})
    (ok true)))

;; the deployment step that names the first guardian, at once and only once
;; (no guardian is a power the guardian could only reduce). Checks: the admin
;; (u200); no guardian yet (u208).
(define-public (init-guardian (who principal))
  (begin
    (asserts! (is-admin contract-caller) ERR-NOT-ADMIN)
    (asserts! (is-none (var-get guardian)) ERR-ALREADY-SET)
    (var-set guardian (some who))
    (print {event: "role-set", role: "guardian", who: who})
    (ok true)))

;; forever: no purchase, no deposit; withdrawals, settlement and the oracle go
;; on. The admin or the guardian (u202).
(define-public (shutdown)
  (begin
    (asserts! (is-guardian contract-caller) ERR-NOT-GUARDIAN)
    (var-set shut-down true)
    (print {event: "shutdown"})
    (ok true)))
