;; liquidity-pool: share-vault tranches per {token, tier}, custody of STX and
;; sBTC as this contract's own principal, collateral locks for policies.
;; Spec: contracts/README.md, "liquidity-pool". Error range u400. Clarity 4.
;;
;; Protocol v2: a tranche's `locked` is the exact sum of its unsettled
;; policies' collateral. It rises only in lock-for-policy (inside a purchase)
;; and falls only in release-for-policy (inside that policy's settlement), by
;; exactly the policy's collateral; nobody can set it. Withdrawals read no price.
;; Exits wait for the risk they backed: a withdrawal is requested (shares become
;; pending, ready at the last unsettled expiry) and completed later at the share
;; price of that moment; nobody enters or leaves a tranche past an unpaid expiry;
;; a tranche wiped out by payouts opens a new share epoch on the next deposit.
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
(define-constant ERR-UNSETTLED-EXPIRY (err u414))
(define-constant ERR-PENDING-RESERVED (err u415))
(define-constant ERR-NOT-READY (err u416))
(define-constant ERR-LAST-SHARES (err u417))
(define-constant ERR-NO-PENDING (err u418))
(define-constant ERR-OLD-EPOCH (err u419))

(define-constant REGISTRY .policy-registry)
;; fixed at deployment (PROTOCOL.md v2, "Admin"): the one SIP-010 token the pool holds
(define-constant SBTC-TOKEN .sbtc-token)
(define-constant EMPTY {total-assets: u0, total-shares: u0, locked: u0})
(define-constant EMPTY-VAULT {pending: u0, unsettled: u0, last-expiry: u0, epoch: u0})
;; fixed at deployment, as in the oracle and the parameters' upper bound of max-duration
(define-constant EXPIRY-INTERVAL u144)
(define-constant SHARE-BOUND u1000000)
(define-constant STEPS (list u0 u1 u2 u3 u4 u5 u6 u7 u8 u9 u10 u11 u12 u13 u14 u15 u16 u17 u18 u19 u20 u21 u22 u23 u24 u25 u26 u27 u28 u29 u30 u31 u32 u33 u34 u35 u36 u37 u38 u39 u40 u41 u42 u43 u44 u45 u46 u47 u48 u49 u50 u51 u52 u53 u54 u55 u56 u57 u58 u59 u60 u61 u62 u63 u64 u65 u66 u67 u68 u69 u70 u71 u72 u73 u74 u75 u76 u77 u78 u79 u80 u81 u82 u83 u84 u85 u86 u87 u88 u89 u90))

(define-map tranches {token: uint, tier: uint} {total-assets: uint, total-shares: uint, locked: uint})
(define-map provider-shares {token: uint, tier: uint, provider: principal} uint)
;; per tranche: pending shares (current epoch), unsettled policies, the latest expiration
;; ever locked (exact whenever it lies ahead: a policy settles only at or after it), the epoch
(define-map vaults {token: uint, tier: uint} {pending: uint, unsettled: uint, last-expiry: uint, epoch: uint})
(define-map unsettled-at {token: uint, tier: uint, grid: uint} uint)
(define-map provider-epochs {token: uint, tier: uint, provider: principal} uint)
(define-map pending-withdrawals {token: uint, tier: uint, provider: principal} {shares: uint, ready-at: uint, epoch: uint, value: uint})
(define-map closed-epochs {token: uint, tier: uint, epoch: uint} {total-assets: uint, total-shares: uint})

;; --- helpers -----------------------------------------------------------------

(define-private (check-tranche (token uint) (tier uint))
  (ok (asserts! (and (<= token u1) (<= tier u2)) ERR-BAD-TRANCHE)))

(define-private (check-ft (ft <ft-trait>))
  (ok (asserts! (is-eq (contract-of ft) SBTC-TOKEN) ERR-BAD-TOKEN-CONTRACT)))

(define-private (check-registry)
  (ok (asserts! (is-eq contract-caller REGISTRY) ERR-NOT-AUTHORISED)))

(define-private (max-of (a uint) (b uint))
  (if (> a b) a b))

(define-private (min-of (a uint) (b uint))
  (if (< a b) a b))

(define-private (holder-epoch (key {token: uint, tier: uint, provider: principal}))
  (default-to u0 (map-get? provider-epochs key)))

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

;; --- risk bookkeeping (the vault of each tranche) ------------------------

;; unsettled policies are counted under their expiry's grid point ceil(E / 144) * 144 (the
;; registry puts expirations on the grid, so that is E). The tranche's expired-and-unsettled
;; count is `unsettled` minus the policies counted at the 91 grid points after `now`: every
;; expiration lies within MAX-DURATION (12960 = 90 x 144) of its purchase, so no other grid
;; point can hold one. A bounded fold, O(1) per call.
(define-private (grid-of (expiration uint))
  (* (/ (+ expiration (- EXPIRY-INTERVAL u1)) EXPIRY-INTERVAL) EXPIRY-INTERVAL))

(define-private (add-at (i uint) (acc {token: uint, tier: uint, first: uint, sum: uint}))
  (merge acc {sum: (+ (get sum acc) (default-to u0 (map-get? unsettled-at
    {token: (get token acc), tier: (get tier acc), grid: (+ (get first acc) (* i EXPIRY-INTERVAL))})))}))

(define-private (expired-unsettled (token uint) (tier uint))
  (let ((v (get-vault token tier))
        (first (* (+ (/ burn-block-height EXPIRY-INTERVAL) u1) EXPIRY-INTERVAL)))
    (if (is-eq (get unsettled v) u0)
      u0
      (- (get unsettled v) (get sum (fold add-at STEPS {token: token, tier: tier, first: first, sum: u0}))))))

(define-private (check-no-unpaid-expiry (token uint) (tier uint))
  (ok (asserts! (is-eq (expired-unsettled token tier) u0) ERR-UNSETTLED-EXPIRY)))

;; the value of the pending shares at the current share price (0 for an empty tranche)
(define-private (pending-value (t {total-assets: uint, total-shares: uint, locked: uint}) (pending uint))
  (if (is-eq (get total-shares t) u0) u0 (/ (* pending (get total-assets t)) (get total-shares t))))

;; --- users -------------------------------------------------------------------

;; A deposit into a tranche whose share price fell below 10^-6 (total-shares > 10^6 x
;; total-assets, wiped out by payouts) with no unsettled policy opens a new epoch: the old
;; epoch's assets and shares are set aside for its holders (`closed-epochs`), and this deposit
;; is the new epoch's first. With unsettled policies it is refused (u406). Otherwise the share
;; price is at least 10^-6, so the minted shares keep total-shares <= 10^6 x total-assets and
;; `amount * total-shares` < 2^128 for any amount up to a token's supply.
(define-public (deposit (ft <ft-trait>) (token uint) (tier uint) (amount uint))
  (begin
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (asserts! (not (contract-call? .parameters is-shutdown)) ERR-SHUTDOWN)
    (asserts! (> amount u0) ERR-ZERO-AMOUNT)
    (try! (check-no-unpaid-expiry token tier))
    (let ((t0 (get-tranche token tier))
          (v0 (get-vault token tier))
          (wiped (> (get total-shares t0) (* SHARE-BOUND (get total-assets t0))))
          (renew (and wiped (is-eq (get unsettled v0) u0)))
          (epoch (if renew (+ (get epoch v0) u1) (get epoch v0)))
          (t (if renew EMPTY t0))
          (assets (get total-assets t))
          (total (get total-shares t))
          (provider tx-sender)
          (key {token: token, tier: tier, provider: provider})
          (held (default-to u0 (map-get? provider-shares key)))
          (minted
            (if (is-eq total u0)
              (begin
                (asserts! (>= amount (min-first-deposit token)) ERR-BELOW-MIN-DEPOSIT)
                amount)
              (begin
                (asserts! (not wiped) ERR-TRANCHE-WIPED-OUT)
                (let ((computed (/ (* amount total) assets)))
                  (asserts! (> computed u0) ERR-ZERO-SHARES)
                  computed)))))
      ;; balances carry their epoch: old shares must be withdrawn before new ones are held
      (asserts! (or (is-eq held u0) (is-eq (holder-epoch key) epoch)) ERR-OLD-EPOCH)
      (if renew
        (begin
          (map-set closed-epochs {token: token, tier: tier, epoch: (get epoch v0)}
            {total-assets: (get total-assets t0), total-shares: (get total-shares t0)})
          (map-set vaults {token: token, tier: tier} (merge v0 {epoch: epoch, pending: u0})))
        true)
      (try! (transfer-in ft token amount))
      (map-set provider-shares key (+ held minted))
      (map-set provider-epochs key epoch)
      (print (merge
        {event: "deposit", token: token, tier: tier, provider: provider, amount: amount, shares: minted, epoch: epoch}
        (store token tier (+ assets amount) (+ total minted) (get locked t))))
      (ok minted))))

;; Step 1 of a withdrawal: SHARES move to the provider's pending balance, ready at
;; max(now, the tranche's last expiry among unsettled policies), that expiry taken at its grid
;; point (the expirations' own, as the registry puts them on the grid). Pending shares still share
;; premiums and payouts; purchases may not use their value. A provider has one pending
;; balance: a second request adds to it and the later ready-at holds for all of it. Shares of
;; a closed epoch are ready at once (no policy backs them).
(define-public (request-withdraw (token uint) (tier uint) (shares uint))
  (begin
    (try! (check-tranche token tier))
    (asserts! (> shares u0) ERR-ZERO-AMOUNT)
    (try! (check-no-unpaid-expiry token tier))
    (let ((provider tx-sender)
          (key {token: token, tier: tier, provider: provider})
          (held (default-to u0 (map-get? provider-shares key)))
          (epoch (holder-epoch key))
          (v (get-vault token tier))
          (current (is-eq epoch (get epoch v)))
          (p (default-to {shares: u0, ready-at: u0, epoch: epoch, value: u0} (map-get? pending-withdrawals key)))
          (t (get-tranche token tier))
          ;; what these shares are worth now: the most their completion may pay (current epoch)
          (worth (if (and current (<= shares held) (> (get total-shares t) u0))
                   (/ (* shares (get total-assets t)) (get total-shares t))
                   u0))
          ;; the last expiry matters only while a policy is unsettled
          (ready (if (and current (> (get unsettled v) u0))
                   (max-of (max-of burn-block-height (grid-of (get last-expiry v))) (get ready-at p))
                   (max-of burn-block-height (get ready-at p))))
          (now-pending (+ (get shares p) shares)))
      (asserts! (>= held shares) ERR-INSUFFICIENT-SHARES)
      (asserts! (or (is-eq (get shares p) u0) (is-eq (get epoch p) epoch)) ERR-OLD-EPOCH)
      (map-set provider-shares key (- held shares))
      (map-set pending-withdrawals key {shares: now-pending, ready-at: ready, epoch: epoch, value: (+ (get value p) worth)})
      (if current (map-set vaults {token: token, tier: tier} (merge v {pending: (+ (get pending v) shares)})) true)
      (print (merge
        {event: "withdraw-requested", token: token, tier: tier, provider: provider, shares: shares,
         pending-shares: now-pending, ready-at: ready, epoch: epoch}
        t))
      (ok ready))))

;; Step 2: burns the whole pending balance at the share price of this moment (at most what
;; it was worth when requested: pending shares bear payouts, but the premiums of purchases
;; their value did not back stay with the other holders), once ready-at
;; has passed (or the tranche has no unsettled policy) and no expired policy of the tranche is
;; unsettled. Burning a tranche's last
;; shares is refused while it has unsettled policies (u417). A closed epoch's shares are paid
;; from what that epoch left.
(define-public (complete-withdraw (ft <ft-trait>) (token uint) (tier uint))
  (begin
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (let ((provider tx-sender)
          (key {token: token, tier: tier, provider: provider})
          (p (unwrap! (map-get? pending-withdrawals key) ERR-NO-PENDING))
          (shares (get shares p))
          (v (get-vault token tier)))
      ;; (with no policy unsettled, every one unsettled at the request is settled: the same
      ;; moment when expirations lie on the grid, earlier for an off-grid one)
      (asserts! (or (>= burn-block-height (get ready-at p)) (is-eq (get unsettled v) u0)) ERR-NOT-READY)
      (map-delete pending-withdrawals key)
      (if (is-eq (get epoch p) (get epoch v))
        (let ((t (get-tranche token tier))
              (assets (get total-assets t))
              (total (get total-shares t))
              (locked (get locked t))
              ;; pending shares share payouts, not the premiums of later purchases (which
              ;; their value did not back): at most what they were worth when requested
              (amount (min-of (/ (* shares assets) total) (get value p))))
          (try! (check-no-unpaid-expiry token tier))
          (asserts! (or (< shares total) (is-eq (get unsettled v) u0)) ERR-LAST-SHARES)
          (asserts! (<= amount (- assets locked)) ERR-COLLATERAL-LOCKED)
          (map-set vaults {token: token, tier: tier} (merge v {pending: (- (get pending v) shares)}))
          (if (> amount u0) (try! (transfer-out ft token amount provider)) true)
          (print (merge
            {event: "withdraw", token: token, tier: tier, provider: provider, amount: amount,
             shares: shares, epoch: (get epoch p)}
            (store token tier (- assets amount) (- total shares) locked)))
          (ok amount))
        (let ((ckey {token: token, tier: tier, epoch: (get epoch p)})
              (c (unwrap-panic (map-get? closed-epochs ckey)))
              (amount (/ (* shares (get total-assets c)) (get total-shares c))))
          (map-set closed-epochs ckey
            {total-assets: (- (get total-assets c) amount), total-shares: (- (get total-shares c) shares)})
          (if (> amount u0) (try! (transfer-out ft token amount provider)) true)
          (print (merge
            {event: "withdraw", token: token, tier: tier, provider: provider, amount: amount,
             shares: shares, epoch: (get epoch p)}
            (get-tranche token tier)))
          (ok amount))))))

;; --- the registry contract ---------------------------------------------------

;; the premium moves from tx-sender (the buyer) to the pool; the lock rises by
;; the policy's collateral, and the policy is counted as unsettled at its
;; expiration. Checks, in order: registry (u401); tranche (u402); token contract
;; (u403); shares exist (u411); no expired unsettled policy (u414); the premium
;; transfer; free assets after it cover the collateral (u411); utilisation after
;; it within the tier's cap: (locked + collateral) * 10000 <= assets *
;; max-utilisation (u413); the pending withdrawals' value stays free:
;; locked + collateral <= assets - value(pending) (u415).
(define-public (lock-for-policy (ft <ft-trait>) (token uint) (tier uint) (premium uint) (collateral uint) (expiration uint))
  (begin
    (try! (check-registry))
    (try! (check-tranche token tier))
    (try! (check-ft ft))
    (let ((t (get-tranche token tier))
          (v (get-vault token tier)))
      (asserts! (> (get total-shares t) u0) ERR-INSUFFICIENT-LIQUIDITY)
      (try! (check-no-unpaid-expiry token tier))
      (try! (transfer-in ft token premium))
      (let ((assets (+ (get total-assets t) premium))
            (locked (get locked t))
            (after (merge t {total-assets: assets}))
            (gkey {token: token, tier: tier, grid: (grid-of expiration)}))
        (asserts! (>= (- assets locked) collateral) ERR-INSUFFICIENT-LIQUIDITY)
        (asserts! (<= (* (+ locked collateral) u10000) (* assets (max-utilisation tier))) ERR-UTILISATION)
        (asserts! (<= (+ locked collateral) (- assets (pending-value after (get pending v)))) ERR-PENDING-RESERVED)
        (map-set unsettled-at gkey (+ (default-to u0 (map-get? unsettled-at gkey)) u1))
        (map-set vaults {token: token, tier: tier}
          (merge v {unsettled: (+ (get unsettled v) u1), last-expiry: (max-of (get last-expiry v) expiration)}))
        (print (merge
          {event: "locked", token: token, tier: tier, premium: premium, collateral: collateral}
          (store token tier assets (get total-shares t) (+ locked collateral))))
        (ok true)))))

;; the lock falls by exactly the settled policy's collateral (part of `locked`
;; by construction, so the subtraction cannot underflow), and the policy is no
;; longer counted as unsettled at its expiration
(define-public (release-for-policy (token uint) (tier uint) (collateral uint) (expiration uint))
  (begin
    (try! (check-registry))
    (try! (check-tranche token tier))
    (let ((t (get-tranche token tier))
          (v (get-vault token tier))
          (gkey {token: token, tier: tier, grid: (grid-of expiration)}))
      (map-set unsettled-at gkey (- (default-to u0 (map-get? unsettled-at gkey)) u1))
      (map-set vaults {token: token, tier: tier} (merge v {unsettled: (- (get unsettled v) u1)}))
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

(define-read-only (get-vault (token uint) (tier uint))
  (default-to EMPTY-VAULT (map-get? vaults {token: token, tier: tier})))

(define-read-only (get-pending (token uint) (tier uint) (provider principal))
  (map-get? pending-withdrawals {token: token, tier: tier, provider: provider}))

(define-read-only (get-provider-epoch (token uint) (tier uint) (provider principal))
  (holder-epoch {token: token, tier: tier, provider: provider}))

(define-read-only (get-closed-epoch (token uint) (tier uint) (epoch uint))
  (map-get? closed-epochs {token: token, tier: tier, epoch: epoch}))

(define-read-only (get-sbtc-token)
  SBTC-TOKEN)
