;; policy-registry: purchases of protection with a backend-signed quote, and
;; batched settlement at the oracle's fixings.
;; Spec: contracts/README.md, "policy-registry". Error range u300. Clarity 4.
;;
;; Protocol v2: each policy's collateral is computed here at purchase from the
;; latest token price and locked for it alone; its payout is
;; min(formula at the fixings of its expiration, collateral), so every claim is
;; paid in full up to its cap whoever settles and whenever. Anyone may settle.

(use-trait ft-trait .sip-010-trait.sip-010-trait)

(define-constant ERR-NOT-ADMIN (err u300))
(define-constant ERR-PAUSED (err u301))
(define-constant ERR-NOT-BUYER (err u302))
(define-constant ERR-BAD-SIGNATURE (err u303))
(define-constant ERR-QUOTE-EXPIRED (err u304))
(define-constant ERR-QUOTE-USED (err u305))
(define-constant ERR-BAD-TERMS (err u306))
(define-constant ERR-BAD-DURATION (err u307))
(define-constant ERR-BAD-AMOUNT (err u308))
(define-constant ERR-NO-PRICE (err u309))
(define-constant ERR-BAD-STRIKE (err u310))
(define-constant ERR-STALE-PRICE (err u317))
(define-constant ERR-BELOW-INTRINSIC (err u318))
(define-constant ERR-BELOW-MIN-PREMIUM (err u319))
(define-constant ERR-BELOW-CAPITAL-CHARGE (err u320))
(define-constant ERR-OFF-GRID (err u321))
(define-constant ERR-NOT-GUARDIAN (err u340))
(define-constant ERR-QUEUED (err u341))
(define-constant ERR-NOT-QUEUED (err u342))
(define-constant ERR-NOT-READY (err u343))
(define-constant ERR-LAPSED (err u344))
(define-constant ERR-KEY-SET (err u345))
(define-constant ERR-SHUTDOWN (err u346))
;; quotes (protocol v2, contracts/README.md "purchase-policy"): u330-u339
(define-constant ERR-WRONG-REGISTRY (err u330))
(define-constant ERR-QUOTE-STALE (err u331))
(define-constant ERR-QUOTE-TOO-LONG (err u332))
(define-constant ERR-NO-RECENT-PRICE (err u333))
(define-constant ERR-SLIPPAGE (err u334))

;; reasons printed by settle-policies
(define-constant SKIP-UNKNOWN u312)
(define-constant SKIP-NOT-ACTIVE u313)
(define-constant SKIP-NOT-EXPIRED u314)
(define-constant DEFER-BTC-FIXING u322)
(define-constant DEFER-STX-FIXING u323)

(define-constant STATUS-ACTIVE u0)
(define-constant STATUS-SETTLED u1)
(define-constant STATUS-EXPIRED u2)

(define-constant PRICE-SCALE u100000000)
(define-constant STX-UNIT u1000000)
(define-constant SBTC-UNIT u100000000)
;; the capital charge's year: 52560 burn blocks (144 x 365)
(define-constant BLOCKS-PER-YEAR u52560)

(define-constant ZERO-KEY 0x000000000000000000000000000000000000000000000000000000000000000000)

;; the admin and guardian roles live in `.parameters`

;; SIP-018 structured data: what the quote key signs is
;; sha256("SIP018" || sha256(domain) || sha256(quote)), the domain built here with this
;; chain's own chain-id. The name is the environment's, fixed at deployment: devnet and testnet
;; share chain-id 0x80000000, so a testnet deployment is made with "bithedge-testnet" and
;; mainnet with "bithedge" (chain/quotes.py QUOTE_DOMAIN_NAME is the devnet/simnet one).
(define-constant SIP018-PREFIX 0x534950303138)
(define-constant QUOTE-DOMAIN-NAME "bithedge-devnet")
(define-constant QUOTE-DOMAIN-HASH
  (sha256 (unwrap-panic (to-consensus-buff? {name: QUOTE-DOMAIN-NAME, version: "2", chain-id: chain-id}))))

(define-data-var backend principal tx-sender)
;; 33 zero bytes: no quote verifies until the admin sets the key (once, at
;; once: the deployment step); every later key is queued
(define-data-var quote-pubkey (buff 33) ZERO-KEY)
(define-data-var quote-key-set bool false)
;; queued admin changes (contracts/README.md, "Admin"), under "quote-pubkey"
;; and "backend"
(define-map queued-keys (string-ascii 32) {value: (buff 33), eta: uint})
(define-map queued-backends (string-ascii 32) {value: principal, eta: uint})
(define-data-var purchases-paused bool false)
(define-data-var policy-count uint u0)

(define-map policies uint
  {owner: principal, amount: uint, strike: uint, expiration: uint, premium: uint,
   collateral: uint, token: uint, tier: uint, status: uint, payout: uint, paid: uint, price: uint,
   ratio: uint})
(define-map used-quotes uint bool)

;; --- helpers -----------------------------------------------------------------

(define-private (param (key (string-ascii 32)))
  (unwrap-panic (contract-call? .parameters get-parameter key)))

(define-private (max-of (a uint) (b uint))
  (if (> a b) a b))

(define-private (min-of (a uint) (b uint))
  (if (< a b) a b))

;; ceil(a / b)
(define-private (div-up (a uint) (b uint))
  (/ (+ a (- b u1)) b))

(define-private (unit-of (token uint))
  (if (is-eq token u0) STX-UNIT SBTC-UNIT))

;; role checks read contract-caller: a role key that calls another contract
;; lends it no authority
(define-private (check-admin)
  (ok (asserts! (contract-call? .parameters is-admin contract-caller) ERR-NOT-ADMIN)))

;; the admin or the guardian: who may reduce power at once
(define-private (check-guardian)
  (ok (asserts! (contract-call? .parameters is-guardian contract-caller) ERR-NOT-GUARDIAN)))

;; the latest price of the token's feed, at most price-max-age blocks old
(define-private (fresh-token-price (token uint) (btc {price: uint, height: uint}))
  (let ((found (if (is-eq token u0)
                 (unwrap! (contract-call? .oracle get-price "STX-USD") ERR-NO-PRICE)
                 btc)))
    (asserts! (<= (- burn-block-height (get height found)) (param "price-max-age")) ERR-STALE-PRICE)
    (ok (get price found))))

;; --- purchase ----------------------------------------------------------------

(define-public (purchase-policy
    (quote {amount: uint, buyer: principal, collateral: uint, expiration: uint, premium: uint,
            quote-expiry: uint, quote-id: uint, registry: principal, spot: uint, strike: uint,
            tier: uint, token: uint, valid-until: uint})
    (signature (buff 65))
    (ft <ft-trait>))
  (let ((now burn-block-height)
        (buyer (get buyer quote))
        (amount (get amount quote))
        (strike (get strike quote))
        (expiration (get expiration quote))
        (premium (get premium quote))
        (collateral (get collateral quote))
        (token (get token quote))
        (tier (get tier quote))
        (quote-id (get quote-id quote)))
    (asserts! (not (var-get purchases-paused)) ERR-PAUSED)
    (asserts! (not (contract-call? .parameters is-shutdown)) ERR-SHUTDOWN)
    (asserts! (is-eq tx-sender buyer) ERR-NOT-BUYER)
    ;; r || s || recovery id; a stacks-node rejects high-S signatures, while the
    ;; Clarinet SDK's wasm build of the VM accepts them (signers emit low-S only)
    (asserts! (secp256k1-verify (get-quote-hash quote) signature (var-get quote-pubkey)) ERR-BAD-SIGNATURE)
    (asserts! (is-eq (get registry quote) current-contract) ERR-WRONG-REGISTRY)
    (asserts! (<= now (get quote-expiry quote)) ERR-QUOTE-EXPIRED)
    ;; short-lived: valid until a stacks-block-time at most quote-ttl-seconds ahead
    (asserts! (<= stacks-block-time (get valid-until quote)) ERR-QUOTE-STALE)
    (asserts! (<= (get valid-until quote) (+ stacks-block-time (param "quote-ttl-seconds")))
              ERR-QUOTE-TOO-LONG)
    (asserts! (not (is-quote-used quote-id)) ERR-QUOTE-USED)
    (asserts! (and (<= token u1) (<= tier u2) (> premium u0) (> collateral u0)) ERR-BAD-TERMS)
    (asserts! (> expiration now) ERR-BAD-DURATION)
    (asserts! (and (<= (param "min-duration") (- expiration now))
                   (<= (- expiration now) (param "max-duration")))
              ERR-BAD-DURATION)
    ;; expirations lie on the oracle's grid: one fixing serves every policy of a day
    (asserts! (is-eq (mod expiration (get expiry-interval (contract-call? .oracle get-config))) u0)
              ERR-OFF-GRID)
    (asserts! (and (<= (param "min-amount") amount) (<= amount (param "max-amount"))) ERR-BAD-AMOUNT)
    (let ((btc (unwrap! (contract-call? .oracle get-price "BTC-USD") ERR-NO-PRICE))
          (spot (get price btc))
          (quoted (get spot quote))
          (band (param "strike-band-bps")))
      ;; pinned to spot: a BTC-USD observation at most quote-price-blocks burn blocks old (u1:
      ;; this or the previous one), within quote-slippage-bps of the spot the quote was priced
      ;; at; a stale quote is no free option
      (asserts! (<= burn-block-height (+ (get height btc) (param "quote-price-blocks")))
                ERR-NO-RECENT-PRICE)
      (asserts! (<= (* (if (> spot quoted) (- spot quoted) (- quoted spot)) u10000)
                    (* quoted (param "quote-slippage-bps")))
                ERR-SLIPPAGE)
      (asserts! (and (>= (+ (* strike u10000) (* spot band)) (* spot u10000))
                     (<= (* strike u10000) (* spot (+ u10000 band))))
                ERR-BAD-STRIKE)
      (let ((price (try! (fresh-token-price token btc)))
            (unit (unit-of token))
            (ratio (param (if (is-eq tier u0) "collateral-ratio-0"
                            (if (is-eq tier u1) "collateral-ratio-1" "collateral-ratio-2"))))
            (cover (/ (* (/ (* strike amount) PRICE-SCALE) ratio) u10000))
            (locks (max-of collateral (div-up (* cover unit) price)))
            (intrinsic (if (> strike spot) (/ (* (- strike spot) amount) PRICE-SCALE) u0)))
        (asserts! (>= premium (div-up (* intrinsic unit) price)) ERR-BELOW-INTRINSIC)
        (asserts! (>= premium (param (if (is-eq token u0) "min-premium-0" "min-premium-1"))) ERR-BELOW-MIN-PREMIUM)
        (asserts! (>= premium (div-up (* (* locks (param "capital-rate-bps")) (- expiration now))
                                      (* u10000 BLOCKS-PER-YEAR)))
                  ERR-BELOW-CAPITAL-CHARGE)
        (try! (contract-call? .liquidity-pool lock-for-policy ft token tier premium locks expiration))
      (let ((id (+ (var-get policy-count) u1)))
        (map-set policies id
          {owner: buyer, amount: amount, strike: strike, expiration: expiration, premium: premium,
           collateral: locks, token: token, tier: tier, status: STATUS-ACTIVE,
           payout: u0, paid: u0, price: u0, ratio: ratio})
        (var-set policy-count id)
        (map-set used-quotes quote-id true)
        (print {event: "policy-purchased", id: id, owner: buyer, amount: amount, strike: strike,
                expiration: expiration, premium: premium, collateral: locks, token: token,
                tier: tier, quote-id: quote-id})
        (ok id))))))

;; --- settlement --------------------------------------------------------------

;; Settlement reads the fixings the oracle has stored and nothing else: a fixing
;; is the average over the FIXING-WINDOW blocks before the expiration, final from
;; the expiration on, so no price pushed later, and no choice of when or by whom
;; to settle, changes a payout. A policy whose fixing is not stored yet is
;; deferred; anyone can store it first with the oracle's `fix` (O(1): two hints).

(define-private (fixing-of (asset (string-ascii 16)) (expiration uint))
  (contract-call? .oracle get-fixing asset expiration))

(define-private (skip (id uint) (reason uint)
    (acc {ft: <ft-trait>, settled: uint, expired: uint, deferred: uint, skipped: uint}))
  (begin
    (print {event: "settlement-skipped", id: id, reason: reason})
    (ok (merge acc {skipped: (+ (get skipped acc) u1)}))))

(define-private (defer (id uint) (reason uint)
    (acc {ft: <ft-trait>, settled: uint, expired: uint, deferred: uint, skipped: uint}))
  (begin
    (print {event: "settlement-deferred", id: id, reason: reason})
    (ok (merge acc {deferred: (+ (get deferred acc) u1)}))))

;; payout = min(claim, collateral), claim being the put's formula in tokens at
;; the fixings (BTC-USD's as the price, the token's as the token price); pay-out
;; (always in full: payout <= collateral <= locked <= total-assets), release
;; exactly the collateral, record
(define-private (close (id uint)
    (p {owner: principal, amount: uint, strike: uint, expiration: uint, premium: uint,
        collateral: uint, token: uint, tier: uint, status: uint, payout: uint, paid: uint, price: uint,
        ratio: uint})
    (price uint) (token-price uint)
    (acc {ft: <ft-trait>, settled: uint, expired: uint, deferred: uint, skipped: uint}))
  (let ((strike (get strike p))
        (token (get token p))
        (tier (get tier p))
        (payout-usd (if (> strike price) (/ (* (- strike price) (get amount p)) PRICE-SCALE) u0))
        (claim (/ (* payout-usd (unit-of token)) token-price))
        (payout (min-of claim (get collateral p)))
        (paid (if (> payout u0)
                (try! (contract-call? .liquidity-pool pay-out (get ft acc) token tier id payout (get owner p)))
                u0)))
    (try! (contract-call? .liquidity-pool release-for-policy token tier (get collateral p) (get expiration p)))
    (map-set policies id
      (merge p {status: (if (> payout u0) STATUS-SETTLED STATUS-EXPIRED), payout: payout, paid: paid, price: price}))
    (if (> payout u0)
      (begin
        (print {event: "policy-settled", id: id, owner: (get owner p), price: price,
                token-price: token-price, payout: payout, paid: paid, claim: claim,
                token: token, tier: tier})
        (ok (merge acc {settled: (+ (get settled acc) u1)})))
      (begin
        (print {event: "policy-expired", id: id, price: price, token-price: token-price,
                token: token, tier: tier})
        (ok (merge acc {expired: (+ (get expired acc) u1)}))))))

(define-private (settle-one (id uint)
    (acc {ft: <ft-trait>, settled: uint, expired: uint, deferred: uint, skipped: uint}))
  (match (map-get? policies id)
    p (if (not (is-eq (get status p) STATUS-ACTIVE))
        (skip id SKIP-NOT-ACTIVE acc)
        (if (< burn-block-height (get expiration p))
          (skip id SKIP-NOT-EXPIRED acc)
          (match (fixing-of "BTC-USD" (get expiration p))
            btc
              (match (if (is-eq (get token p) u0)
                       (fixing-of "STX-USD" (get expiration p))
                       (some btc))
                token-fixing (close id p (get price btc) (get price token-fixing) acc)
                (defer id DEFER-STX-FIXING acc))
            (defer id DEFER-BTC-FIXING acc))))
    (skip id SKIP-UNKNOWN acc)))

;; the fold step: once a pool error has been returned, it is passed on unchanged
(define-private (settle-step (id uint)
    (acc (response {ft: <ft-trait>, settled: uint, expired: uint, deferred: uint, skipped: uint} uint)))
  (match acc
    counts (settle-one id counts)
    failure (err failure)))

;; callable by anyone: what a policy is paid depends on its terms and the
;; fixings of its expiration alone, not on who settles or when
(define-public (settle-policies (ids (list 50 uint)) (ft <ft-trait>))
  (let ((counts (try! (fold settle-step ids
                        (ok {ft: ft, settled: u0, expired: u0, deferred: u0, skipped: u0})))))
    (ok {settled: (get settled counts), expired: (get expired counts),
         deferred: (get deferred counts), skipped: (get skipped counts)})))

;; --- admin (protocol v2: queued; the guardian only reduces) -------------------

;; a queued change's eta has come (u343) and it has not lapsed (u344)
(define-private (check-ready (eta uint))
  (let ((state (contract-call? .parameters queue-state eta)))
    (asserts! (not (is-eq state u1)) ERR-NOT-READY)
    (ok (asserts! (is-eq state u0) ERR-LAPSED))))

;; the deployment step: the first key, at once and only once. Checks: admin
;; (u300); never set before (u345); 33 bytes, as secp256k1-verify takes (u306).
(define-public (set-quote-pubkey (key (buff 33)))
  (begin
    (try! (check-admin))
    (asserts! (not (var-get quote-key-set)) ERR-KEY-SET)
    (asserts! (is-eq (len key) u33) ERR-BAD-TERMS)
    (var-set quote-key-set true)
    (var-set quote-pubkey key)
    (print {event: "quote-pubkey-set", key: key})
    (ok true)))

;; Checks: admin (u300); 33 bytes (u306); no live change (u341).
(define-public (queue-quote-pubkey (key (buff 33)))
  (let ((eta (contract-call? .parameters get-eta)))
    (try! (check-admin))
    (asserts! (is-eq (len key) u33) ERR-BAD-TERMS)
    (asserts! (contract-call? .parameters is-free (get eta (get-queued-quote-pubkey))) ERR-QUEUED)
    (map-set queued-keys "quote-pubkey" {value: key, eta: eta})
    (print {event: "change-queued", key: "quote-pubkey", value: key, eta: eta})
    (ok eta)))

;; anyone. Checks: queued (u342); ready (u343); not lapsed (u344).
(define-public (apply-quote-pubkey)
  (let ((change (unwrap! (get-queued-quote-pubkey) ERR-NOT-QUEUED)))
    (try! (check-ready (get eta change)))
    (map-delete queued-keys "quote-pubkey")
    (var-set quote-key-set true)
    (var-set quote-pubkey (get value change))
    (print {event: "quote-pubkey-set", key: (get value change)})
    (ok true)))

;; the admin or the guardian (u340); queued (u342).
(define-public (cancel-quote-pubkey)
  (begin
    (try! (check-guardian))
    (asserts! (map-delete queued-keys "quote-pubkey") ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: "quote-pubkey"})
    (ok true)))

;; at once, by the admin or the guardian (u340): no quote verifies until a
;; queued key applies
(define-public (zero-quote-pubkey)
  (begin
    (try! (check-guardian))
    (var-set quote-key-set true)
    (var-set quote-pubkey ZERO-KEY)
    (print {event: "quote-pubkey-set", key: ZERO-KEY})
    (ok true)))

;; Checks: admin (u300); no live change (u341).
(define-public (queue-backend (who principal))
  (let ((eta (contract-call? .parameters get-eta)))
    (try! (check-admin))
    (asserts! (contract-call? .parameters is-free (get eta (get-queued-backend))) ERR-QUEUED)
    (map-set queued-backends "backend" {value: who, eta: eta})
    (print {event: "change-queued", key: "backend", value: who, eta: eta})
    (ok eta)))

;; anyone. Checks: queued (u342); ready (u343); not lapsed (u344).
(define-public (apply-backend)
  (let ((change (unwrap! (get-queued-backend) ERR-NOT-QUEUED)))
    (try! (check-ready (get eta change)))
    (map-delete queued-backends "backend")
    (var-set backend (get value change))
    (print {event: "backend-set", who: (get value change)})
    (ok true)))

;; the admin or the guardian (u340); queued (u342).
(define-public (cancel-backend)
  (begin
    (try! (check-guardian))
    (asserts! (map-delete queued-backends "backend") ERR-NOT-QUEUED)
    (print {event: "change-cancelled", key: "backend"})
    (ok true)))

;; pausing reduces power: the admin or the guardian, at once (u340);
;; unpausing: the admin (u300), at once
(define-public (set-paused (paused bool))
  (begin
    (try! (if paused (check-guardian) (check-admin)))
    (var-set purchases-paused paused)
    (ok true)))

(define-read-only (get-queued-quote-pubkey)
  (map-get? queued-keys "quote-pubkey"))

(define-read-only (get-queued-backend)
  (map-get? queued-backends "backend"))

(define-read-only (get-quote-pubkey)
  (var-get quote-pubkey))

;; --- read-only ---------------------------------------------------------------

(define-read-only (get-policy (id uint))
  (map-get? policies id))

(define-read-only (get-policy-count)
  (var-get policy-count))

(define-read-only (is-quote-used (quote-id uint))
  (default-to false (map-get? used-quotes quote-id)))

;; the SIP-018 message hash of the quote under this deployment's domain: what the quote
;; key signs (the same 32 bytes as @stacks/transactions' signStructuredData hashes)
(define-read-only (get-quote-hash
    (quote {amount: uint, buyer: principal, collateral: uint, expiration: uint, premium: uint,
            quote-expiry: uint, quote-id: uint, registry: principal, spot: uint, strike: uint,
            tier: uint, token: uint, valid-until: uint}))
  (sha256 (concat SIP018-PREFIX
                  (concat QUOTE-DOMAIN-HASH (sha256 (unwrap-panic (to-consensus-buff? quote)))))))

;; the tip's stacks-block-time: the clock a quote's valid-until is judged against
(define-read-only (get-block-time)
  stacks-block-time)

(define-read-only (get-backend)
  (var-get backend))

(define-read-only (is-paused)
  (var-get purchases-paused))
