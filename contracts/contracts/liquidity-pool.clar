;; liquidity-pool: share-vault tranches per {token, tier}, custody of STX and
;; sBTC as this contract's own principal, collateral locks for policies.
;; Spec: contracts/README.md, "liquidity-pool". Error range u400. Clarity 4.
;;
;; Protocol v2: a tranche's `locked` is the exact sum of its unsettled
;; policies' collateral. It rises only in lock-for-policy (inside a purchase)
;; and falls only in release-for-policy (inside that policy's settlement), by
;; exactly the policy's collateral; nobody can set it. Withdrawals read no price.
;; Tokens leave only inside `as-contract?` with an allowance for exactly that
;; token and amount; tokens come in inside `restrict-assets?` on the user.
;;
;; token u0 is STX (stx-transfer?), u1 is sBTC (the SIP-010 contract passed as
;; `ft`, which must be `.sbtc-token`, fixed at deployment, even for an STX
;; tranche: no admin can name another token). After the guardian's `shutdown`
;; (in `.parameters`) deposits are refused; withdrawals and settlement go on.
;; Share-inflation guard: internal accounting (a token donation to the pool
;; changes nothing), a minimum first deposit, no deposit that mints 0 shares.

(use-trait ft-trait .sip-010-trait.sip-010-trait)

(define-constant ERR-NOT-AUTHORISED (err u401))
(define-constant ERR-BAD-TRANCHE (err u402))
(define-constant ERR-BAD-TOKEN-CONTRACT (err u403))
(define-constant ERR-ZERO-AMOUNT (err u404))
(define-constant ERR-BELOW-MIN-DEPOSIT (err u405))
(define-constant ERR-TRANCHE-WIPED-OUT (err u406))
(define-constant ERR-ZERO-SHARES (err u407))
(define-constant ERR-INSUFFICIENT-SHARES (err u408))
(define-constant ERR-COLLATERAL-LOCKED (err u409))
(define-constant ERR-INSUFFICIENT-LIQUIDITY (err u411))
(define-constant ERR-UTILISATION (err u413))
(define-constant ERR-SHUTDOWN (err u430))

(define-constant REGISTRY .policy-registry)
;; fixed at deployment (PROTOCOL.md v2, "Admin"): the one SIP-010 token the pool holds
(define-constant SBTC-TOKEN .sbtc-token)
(define-constant EMPTY {total-assets: u0, total-shares: u0, locked: u0})

(define-map tranches {token: uint, tier: uint} {total-assets: uint, total-shares: uint, locked: uint})
(define-map provider-shares {token: uint, tier: uint, provider: principal} uint)

;; --- helpers -----------------------------------------------------------------

(define-private (check-tranche (token uint) (tier uint))
  (ok (asserts! (and (<= token u1) (<= tier u2)) ERR-BAD-TRANCHE)))

(define-private (check-ft (ft <ft-trait>))
  (ok (asserts! (is-eq (contract-of ft) SBTC-TOKEN) ERR-BAD-TOKEN-CONTRACT)))

(define-private (check-registry)
  (ok (asserts! (is-eq contract-caller REGISTRY) ERR-NOT-AUTHORISED)))

(define-private (min-first-deposit (token uint))
  (unwrap-panic (contract-call? .parameters get-parameter
    (if (is-eq token u0) "min-first-deposit-0" "min-first-deposit-1"))))

;; tx-sender -> the pool; the token contract may move at most AMOUNT of that
;; token of the user's (else (err u0), or (err u128) for any other asset)
(define-private (transfer-in (ft <ft-trait>) (token uint) (amount uint))
  (if (is-eq token u0)
    (restrict-assets? tx-sender ((with-stx amount))
      (try! (stx-transfer? amount tx-sender current-contract)))
    (restrict-assets? tx-sender ((with-ft .sbtc-token "sbtc" amount))
      (try! (contract-call? ft transfer amount tx-sender current-contract none)))))

;; the pool -> recipient, with an allowance for exactly that token and amount
(define-private (transfer-out (ft <ft-trait>) (token uint) (amount uint) (recipient principal))
  (if (is-eq token u0)
    (as-contract? ((with-stx amount))
      (try! (stx-transfer? amount tx-sender recipient)))
    (as-contract? ((with-ft .sbtc-token "sbtc" amount))
      (try! (contract-call? ft transfer amount tx-sender recipient none)))))

(define-private (max-utilisation (tier uint))
  (unwrap-panic (contract-call? .parameters get-parameter
    (if (is-eq tier u0) "max-utilisation-0" (if (is-eq tier u1) "max-utilisation-1" "max-utilisation-2")))))

;; stores the tranche and returns STATE, the fields every pool event carries
(define-private (store (token uint) (tier uint) (assets uint) (total uint) (locked uint))
  (let ((state {total-assets: assets, total-shares: total, locked: locked}))
    (map-set tranches {token: token, tier: tier} state)
    state))

;; --- users -------------------------------------------------------------------

(define-public (deposit (ft <ft-trait>) (token uint) (tier uint) (amount uint))
  (begin
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (asserts! (not (contract-call? .parameters is-shutdown)) ERR-SHUTDOWN)
    (asserts! (> amount u0) ERR-ZERO-AMOUNT)
    (let ((t (get-tranche token tier))
          (assets (get total-assets t))
          (total (get total-shares t))
          (minted
            (if (is-eq total u0)
              (begin
                (asserts! (>= amount (min-first-deposit token)) ERR-BELOW-MIN-DEPOSIT)
                amount)
              (begin
                (asserts! (> assets u0) ERR-TRANCHE-WIPED-OUT)
                (let ((computed (/ (* amount total) assets)))
                  (asserts! (> computed u0) ERR-ZERO-SHARES)
                  computed))))
          (provider tx-sender)
          (key {token: token, tier: tier, provider: provider}))
      (try! (transfer-in ft token amount))
      (map-set provider-shares key (+ (default-to u0 (map-get? provider-shares key)) minted))
      (print (merge
        {event: "deposit", token: token, tier: tier, provider: provider, amount: amount, shares: minted}
        (store token tier (+ assets amount) (+ total minted) (get locked t))))
      (ok minted))))

(define-public (withdraw (ft <ft-trait>) (token uint) (tier uint) (shares uint))
  (begin
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (asserts! (> shares u0) ERR-ZERO-AMOUNT)
    (let ((provider tx-sender)
          (key {token: token, tier: tier, provider: provider})
          (held (default-to u0 (map-get? provider-shares key))))
      (asserts! (>= held shares) ERR-INSUFFICIENT-SHARES)
      (let ((t (get-tranche token tier))
            (assets (get total-assets t))
            (total (get total-shares t))
            (locked (get locked t))
            (amount (/ (* shares assets) total)))
        (asserts! (<= amount (- assets locked)) ERR-COLLATERAL-LOCKED)
        (map-set provider-shares key (- held shares))
        (if (> amount u0) (try! (transfer-out ft token amount provider)) true)
        (print (merge
          {event: "withdraw", token: token, tier: tier, provider: provider, amount: amount, shares: shares}
          (store token tier (- assets amount) (- total shares) locked)))
        (ok amount)))))

;; --- the registry contract ---------------------------------------------------

;; the premium moves from tx-sender (the buyer) to the pool; the lock rises by
;; the policy's collateral. Checks, in order: registry (u401); tranche (u402);
;; token contract (u403); shares exist (u411); the premium transfer; free
;; assets after it cover the collateral (u411); utilisation after it within the
;; tier's cap: (locked + collateral) * 10000 <= assets * max-utilisation (u413).
(define-public (lock-for-policy (ft <ft-trait>) (token uint) (tier uint) (premium uint) (collateral uint))
  (begin
    (try! (check-registry))
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (let ((t (get-tranche token tier)))
      (asserts! (> (get total-shares t) u0) ERR-INSUFFICIENT-LIQUIDITY)
      (try! (transfer-in ft token premium))
      (let ((assets (+ (get total-assets t) premium))
            (locked (get locked t)))
        (asserts! (>= (- assets locked) collateral) ERR-INSUFFICIENT-LIQUIDITY)
        (asserts! (<= (* (+ locked collateral) u10000) (* assets (max-utilisation tier))) ERR-UTILISATION)
        (print (merge
          {event: "locked", token: token, tier: tier, premium: premium, collateral: collateral}
          (store token tier assets (get total-shares t) (+ locked collateral))))
        (ok true)))))

;; the lock falls by exactly the settled policy's collateral (part of `locked`
;; by construction, so the subtraction cannot underflow)
(define-public (release-for-policy (token uint) (tier uint) (collateral uint))
  (begin
    (try! (check-registry))
    (try! (check-tranche token tier))
    (let ((t (get-tranche token tier)))
      (print (merge
        {event: "released", token: token, tier: tier, collateral: collateral}
        (store token tier (get total-assets t) (get total-shares t) (- (get locked t) collateral))))
      (ok true))))

;; the settlement payout, at most the policy's collateral (the registry's
;; min(claim, collateral)), so always within `locked` <= `total-assets`
(define-public (pay-out (ft <ft-trait>) (token uint) (tier uint) (policy-id uint) (amount uint) (recipient principal))
  (begin
    (try! (check-registry))
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (let ((t (get-tranche token tier)))
      (try! (transfer-out ft token amount recipient))
      (print (merge
        {event: "payout", token: token, tier: tier, policy-id: policy-id, recipient: recipient, amount: amount}
        (store token tier (- (get total-assets t) amount) (get total-shares t) (get locked t))))
      (ok amount))))

;; --- read-only ---------------------------------------------------------------

(define-read-only (get-tranche (token uint) (tier uint))
  (default-to EMPTY (map-get? tranches {token: token, tier: tier})))

(define-read-only (get-shares (token uint) (tier uint) (provider principal))
  (default-to u0 (map-get? provider-shares {token: token, tier: tier, provider: provider})))

(define-read-only (get-sbtc-token)
  SBTC-TOKEN)
