// Throwaway smoke test of the BitHedge contracts in the Clarinet SDK simnet.
//
//   cd contracts && node scripts/smoke.mjs
//
// Deploys the project, sets prices, deposits STX and sBTC, signs quotes with a
// quote key, buys 50 policies, mines burn blocks past expiry, pushes fresh
// prices and settles all 50 in one call. Every step must succeed; every printed
// event is checked against the field set of contracts/README.md. Exits 1 on the
// first surprise. The SDK's own echo of `print` output is silenced.

import { createHash } from 'node:crypto';
import { initSimnet } from '@stacks/clarinet-sdk';
import {
  Cl,
  cvToString,
  privateKeyToPublic,
  serializeCV,
  signMessageHashRsv,
} from '@stacks/transactions';

const out = (...a) => process.stdout.write(a.join(' ') + '\n');
const sdkLog = console.log;
console.log = () => {}; // the SDK echoes every print through console.log

const simnet = await initSimnet('Clarinet.toml', false, { trackCosts: true, trackCoverage: false });
const accounts = simnet.getAccounts();
const deployer = accounts.get('deployer');
const lpStx = accounts.get('wallet_1');
const lpSbtc = accounts.get('wallet_2');
const buyer = accounts.get('wallet_3');
const ft = Cl.contractPrincipal(deployer, 'sbtc-token');
const pool = `${deployer}.liquidity-pool`;

const STATE = ['total-assets', 'total-shares', 'locked'];
const FIELDS = {
  'price-updated': ['asset', 'price', 'height', 'prev', 'cum'],
  'fixing-set': ['asset', 'expiry', 'price', 'last-observed', 'stale'],
  'change-queued': ['key', 'value', 'eta'],
  'change-cancelled': ['key'],
  'quote-pubkey-set': ['key'],
  deposit: ['token', 'tier', 'provider', 'amount', 'shares', ...STATE],
  withdraw: ['token', 'tier', 'provider', 'amount', 'shares', ...STATE],
  locked: ['token', 'tier', 'premium', 'collateral', ...STATE],
  released: ['token', 'tier', 'collateral', ...STATE],
  payout: ['token', 'tier', 'policy-id', 'recipient', 'amount', ...STATE],
  'policy-purchased': ['id', 'owner', 'amount', 'strike', 'expiration', 'premium', 'collateral',
    'token', 'tier', 'quote-id'],
  'settlement-skipped': ['id', 'reason'],
  'settlement-deferred': ['id', 'reason'],
  'policy-settled': ['id', 'owner', 'price', 'payout', 'paid', 'claim', 'token', 'tier'],
  'policy-expired': ['id', 'price', 'token', 'tier'],
};
const seen = new Map();

function fail(msg) {
  out('FAIL:', msg);
  process.exit(1);
}

function checkEvents(events) {
  for (const e of events) {
    if (e.event !== 'print_event') continue;
    const v = e.data.value;
    if (v.type !== 'tuple') continue; // a memo buffer
    const name = v.value.event;
    if (!name || name.type !== 'ascii') fail(`print without an ascii event field: ${cvToString(v)}`);
    const want = FIELDS[name.value];
    if (!want) fail(`unknown event ${name.value}`);
    const got = Object.keys(v.value).filter((k) => k !== 'event').sort();
    if (JSON.stringify(got) !== JSON.stringify([...want].sort()))
      fail(`event ${name.value} has fields ${got} instead of ${[...want].sort()}`);
    seen.set(name.value, (seen.get(name.value) ?? 0) + 1);
  }
}

function showEvents(events) {
  for (const e of events) {
    if (e.event === 'print_event') out('    print', cvToString(e.data.value));
    else out('   ', e.event, JSON.stringify(e.data));
  }
}

// A public call; `expect` is the printed Clarity result it must return.
function call(contract, fn, args, sender, expect, { quiet = false } = {}) {
  const r = simnet.callPublicFn(contract, fn, args, sender);
  const got = cvToString(r.result);
  if (expect !== undefined && got !== expect) {
    showEvents(r.events);
    fail(`${contract}.${fn}: ${got}, expected ${expect}`);
  }
  if (expect === undefined && !got.startsWith('(ok')) fail(`${contract}.${fn}: ${got}`);
  checkEvents(r.events);
  if (!quiet) {
    out(`${contract}.${fn} by ${sender.slice(0, 6)}… @burn ${simnet.burnBlockHeight} -> ${got}`);
    showEvents(r.events);
  }
  return r;
}

function ro(contract, fn, args = []) {
  return simnet.callReadOnlyFn(contract, fn, args, deployer).result;
}

function costLine(label, r) {
  if (!r.costs) return out(`${label}: no costs reported`);
  const t = r.costs.total;
  const l = r.costs.limit;
  const pct = (a, b) => ((100 * a) / b).toFixed(3);
  out(`${label}: runtime ${t.runtime} (${pct(t.runtime, l.runtime)}% of block), ` +
    `read_count ${t.readCount} (${pct(t.readCount, l.readCount)}%), ` +
    `read_length ${t.readLength} (${pct(t.readLength, l.readLength)}%), ` +
    `write_count ${t.writeCount} (${pct(t.writeCount, l.writeCount)}%), ` +
    `write_length ${t.writeLength} (${pct(t.writeLength, l.writeLength)}%)`);
}

out(`epoch ${simnet.currentEpoch}, burn ${simnet.burnBlockHeight}, stacks ${simnet.stacksBlockHeight}`);
out(`deployer ${deployer}`);

// --- prices, parameters, tokens ---------------------------------------------
const BTC = 6_500_000_000_000n; // 65,000.00 USD
const STXP = 200_000_000n; // 2.00 USD
call('oracle', 'set-price', [Cl.stringAscii('BTC-USD'), Cl.uint(BTC)], deployer, '(ok true)');
call('oracle', 'set-price', [Cl.stringAscii('STX-USD'), Cl.uint(STXP)], deployer, '(ok true)');
call('oracle', 'set-price', [Cl.stringAscii('BTC-USD'), Cl.uint(BTC * 2n)], deployer, '(err u106)'); // one a burn block
call('oracle', 'set-price', [Cl.stringAscii('BTC-USD'), Cl.uint(BTC)], lpStx, '(err u101)');
out('oracle.get-config ->', cvToString(ro('oracle', 'get-config')));
// protocol v2: a parameter change is queued a week (1008 burn blocks) ahead; here it is cancelled
const eta = BigInt(simnet.burnBlockHeight) + 1008n;
call('parameters', 'queue-parameter', [Cl.stringAscii('protocol-fee-bps'), Cl.uint(1000)], deployer, `(ok u${eta})`);
call('parameters', 'apply-parameter', [Cl.stringAscii('protocol-fee-bps')], lpStx, '(err u206)');
call('parameters', 'cancel-parameter', [Cl.stringAscii('protocol-fee-bps')], deployer, '(ok true)');
call('parameters', 'queue-parameter', [Cl.stringAscii('no-such-key'), Cl.uint(1)], deployer, '(err u201)');
call('sbtc-token', 'mint', [Cl.uint(1_000_000_000), Cl.principal(lpSbtc)], deployer, '(ok true)');
call('sbtc-token', 'mint', [Cl.uint(100_000_000), Cl.principal(buyer)], deployer, '(ok true)');
call('sbtc-token', 'mint', [Cl.uint(1), Cl.principal(buyer)], buyer, '(err u4)');
call('sbtc-token', 'transfer', [Cl.uint(1), Cl.principal(lpSbtc), Cl.principal(buyer), Cl.none()], buyer, '(err u4)');
call('sbtc-token', 'transfer', [Cl.uint(0), Cl.principal(buyer), Cl.principal(lpSbtc), Cl.none()], buyer, '(err u3)');
call('sbtc-token', 'transfer', [Cl.uint(1), Cl.principal(buyer), Cl.principal(buyer), Cl.none()], buyer, '(err u2)');
call('sbtc-token', 'transfer', [Cl.uint(10n ** 12n), Cl.principal(buyer), Cl.principal(lpSbtc), Cl.none()], buyer, '(err u1)');

// --- deposits ----------------------------------------------------------------
call('liquidity-pool', 'deposit', [ft, Cl.uint(0), Cl.uint(1), Cl.uint(1_000_000_000_000)], lpStx, '(ok u1000000000000)');
call('liquidity-pool', 'deposit', [ft, Cl.uint(0), Cl.uint(0), Cl.uint(10_000_000)], lpStx, '(ok u10000000)');
call('liquidity-pool', 'deposit', [ft, Cl.uint(1), Cl.uint(2), Cl.uint(1_000_000_000)], lpSbtc, '(ok u1000000000)');
call('liquidity-pool', 'deposit', [ft, Cl.uint(1), Cl.uint(0), Cl.uint(99_999)], lpSbtc, '(err u405)');
call('liquidity-pool', 'deposit', [Cl.contractPrincipal(deployer, 'oracle'), Cl.uint(0), Cl.uint(1), Cl.uint(1)], lpStx, '(err u403)');
try { // contract-of on a missing contract is a runtime error (the SDK throws), not (err u403)
  simnet.callPublicFn('liquidity-pool', 'deposit', [Cl.contractPrincipal(deployer, 'no-such-contract'), Cl.uint(0), Cl.uint(1), Cl.uint(1)], lpStx);
  fail('deposit with a missing ft contract did not abort');
} catch (e) { out('deposit with a missing ft contract -> runtime error:', String(e).split('->').pop().trim().slice(0, 120)); }
call('liquidity-pool', 'deposit', [ft, Cl.uint(2), Cl.uint(1), Cl.uint(1)], lpStx, '(err u402)');
call('liquidity-pool', 'deposit', [ft, Cl.uint(0), Cl.uint(1), Cl.uint(0)], lpStx, '(err u404)');
try { // protocol v2: no one sets a lock
  simnet.callPublicFn('liquidity-pool', 'set-locked', [Cl.uint(0), Cl.uint(1), Cl.uint(0)], deployer);
  fail('set-locked exists');
} catch (e) { out('set-locked -> no such function'); }

// --- the quote key and quotes -------------------------------------------------
const quoteSecret = createHash('sha256').update('bithedge smoke quote key').digest('hex') + '01';
const quotePub = privateKeyToPublic(quoteSecret); // 33-byte compressed
call('policy-registry', 'set-quote-pubkey', [Cl.bufferFromHex(quotePub.slice(0, 64))], deployer, '(err u306)');
call('policy-registry', 'set-quote-pubkey', [Cl.bufferFromHex(quotePub)], deployer, '(ok true)');
call('policy-registry', 'set-quote-pubkey', [Cl.bufferFromHex(quotePub)], deployer, '(err u345)'); // once; then queued

const start = BigInt(simnet.burnBlockHeight);
const EXPIRATION = start + 200n;
const AMOUNT = 10_000_000n; // 0.1 BTC
const ratio = { 0: 11000n, 1: 10000n, 2: 9000n };
const unit = { 0: 1_000_000n, 1: 100_000_000n };
const tokenPrice = { 0: STXP, 1: BTC };

function quoteCV(q) {
  return Cl.tuple({
    amount: Cl.uint(q.amount), buyer: Cl.principal(q.buyer), collateral: Cl.uint(q.collateral),
    expiration: Cl.uint(q.expiration), premium: Cl.uint(q.premium),
    'quote-expiry': Cl.uint(q.quoteExpiry), 'quote-id': Cl.uint(q.quoteId),
    strike: Cl.uint(q.strike), tier: Cl.uint(q.tier), token: Cl.uint(q.token),
  });
}
function sign(cv) {
  const digest = createHash('sha256').update(Buffer.from(serializeCV(cv), 'hex')).digest('hex');
  // @stacks/transactions 7 returns r || s || v (recovery id last), low-S: what secp256k1-verify takes
  return { digest, sig: signMessageHashRsv({ messageHash: digest, privateKey: quoteSecret }) };
}
function makeQuote(i) {
  let token = i % 2 === 1 ? 0 : 1;
  let tier = token === 0 ? 1 : 2;
  const strike = (token === 0 ? i % 4 === 1 : i % 4 === 0) ? 6_000_000_000_000n : 5_000_000_000_000n;
  let collateral = (strike * AMOUNT / 100_000_000n) * ratio[tier] / 10_000n * unit[token] / tokenPrice[token];
  let premium = token === 0 ? 100_000_000n : 100_000n;
  if (i === 50) { // a quote that under-states its collateral: the chain locks its own
    token = 0; tier = 1; collateral = 1n; premium = 1_000_000n;
  }
  return { amount: AMOUNT, buyer, collateral, expiration: EXPIRATION, premium,
    quoteExpiry: start + 5n, quoteId: 1000 + i, strike: i === 50 ? 6_000_000_000_000n : strike, tier, token };
}

const q1 = quoteCV(makeQuote(1));
const { digest, sig } = sign(q1);
const onChainHash = cvToString(ro('policy-registry', 'get-quote-hash', [q1]));
out('quote hash js', digest, 'chain', onChainHash);
if (onChainHash !== `0x${digest}`) fail('quote hash differs');

const badSig = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
call('policy-registry', 'purchase-policy', [q1, Cl.bufferFromHex(badSig), ft], buyer, '(err u303)');
call('policy-registry', 'purchase-policy', [q1, Cl.bufferFromHex(sig), ft], lpStx, '(err u302)');
const purchase = call('policy-registry', 'purchase-policy', [q1, Cl.bufferFromHex(sig), ft], buyer, '(ok u1)');
call('policy-registry', 'purchase-policy', [q1, Cl.bufferFromHex(sig), ft], buyer, '(err u305)');
for (let i = 2; i <= 50; i++) {
  const q = quoteCV(makeQuote(i));
  call('policy-registry', 'purchase-policy', [q, Cl.bufferFromHex(sign(q).sig), ft], buyer, `(ok u${i})`, { quiet: true });
}
out(`bought 50 policies, count ${cvToString(ro('policy-registry', 'get-policy-count'))}`);
out('policy 1:', cvToString(ro('policy-registry', 'get-policy', [Cl.uint(1)])));
out('tranche STX/1:', cvToString(ro('liquidity-pool', 'get-tranche', [Cl.uint(0), Cl.uint(1)])));
out('tranche sBTC/2:', cvToString(ro('liquidity-pool', 'get-tranche', [Cl.uint(1), Cl.uint(2)])));

// --- settlement ----------------------------------------------------------------
call('policy-registry', 'settle-policies', [Cl.list([Cl.uint(1), Cl.uint(99)]), ft], deployer,
  '(ok (tuple (deferred u0) (expired u0) (settled u0) (skipped u2)))');
call('policy-registry', 'settle-policies', [Cl.list([Cl.uint(1)]), ft], lpStx,
  '(ok (tuple (deferred u0) (expired u0) (settled u0) (skipped u1)))'); // anyone may settle

const before = simnet.burnBlockHeight;
const after = simnet.mineEmptyBurnBlocks(Number(EXPIRATION - start) + 2);
out(`mineEmptyBurnBlocks: burn ${before} -> ${after} (stacks ${simnet.stacksBlockHeight}), expiration ${EXPIRATION}`);
call('policy-registry', 'settle-policies', [Cl.list([Cl.uint(1), Cl.uint(2)]), ft], deployer,
  '(ok (tuple (deferred u2) (expired u0) (settled u0) (skipped u0)))');

const DROP = 5_500_000_000_000n; // 55,000.00 USD: -15%, within the cap after this many blocks
call('oracle', 'set-price', [Cl.stringAscii('BTC-USD'), Cl.uint(DROP)], deployer, '(ok true)');
call('policy-registry', 'settle-policies', [Cl.list([Cl.uint(1), Cl.uint(2)]), ft], deployer,
  '(ok (tuple (deferred u1) (expired u1) (settled u0) (skipped u0)))');
call('oracle', 'set-price', [Cl.stringAscii('STX-USD'), Cl.uint(STXP)], deployer, '(ok true)');

const ids = Cl.list(Array.from({ length: 50 }, (_, k) => Cl.uint(k + 1)));
const settle = call('policy-registry', 'settle-policies', [ids, ft], deployer,
  '(ok (tuple (deferred u0) (expired u23) (settled u26) (skipped u1)))', { quiet: true });
const kinds = {};
for (const e of settle.events) {
  const k = e.event === 'print_event' ? e.data.value.value.event.value : e.event;
  kinds[k] = (kinds[k] ?? 0) + 1;
}
out(`settle-policies (50 ids) -> ${cvToString(settle.result)}; events ${JSON.stringify(kinds)}`);
showEvents(settle.events.slice(0, 4));
out('policy 1:', cvToString(ro('policy-registry', 'get-policy', [Cl.uint(1)])));
out('policy 4:', cvToString(ro('policy-registry', 'get-policy', [Cl.uint(4)])));
out('policy 50:', cvToString(ro('policy-registry', 'get-policy', [Cl.uint(50)])));
call('policy-registry', 'settle-policies', [Cl.list([Cl.uint(1), Cl.uint(51)]), ft], deployer,
  '(ok (tuple (deferred u0) (expired u0) (settled u0) (skipped u2)))');

// --- a settlement fixing: the average over the 6 blocks before the last grid point -----
// (the hint for x is the last observation at or before x, found by walking `prev` back)
function inForce(asset, x) {
  let o = ro('oracle', 'get-latest', [Cl.stringAscii(asset)]).value.value;
  while (BigInt(o.height.value) > x) {
    o = ro('oracle', 'get-observation', [Cl.stringAscii(asset), o.prev.value]).value.value;
  }
  return BigInt(o.height.value);
}
const E = BigInt(simnet.burnBlockHeight - (simnet.burnBlockHeight % 144));
const fixArgs = [Cl.stringAscii('BTC-USD'), Cl.uint(E)];
call('oracle', 'fix', [...fixArgs, Cl.uint(E - 7n), Cl.uint(E)], lpStx, '(err u110)');
call('oracle', 'fix', [...fixArgs, Cl.uint(inForce('BTC-USD', E - 6n)), Cl.uint(inForce('BTC-USD', E))], lpStx);
out('oracle.get-fixing ->', cvToString(ro('oracle', 'get-fixing', fixArgs)));

// --- withdrawals -----------------------------------------------------------------
call('liquidity-pool', 'withdraw', [ft, Cl.uint(0), Cl.uint(1), Cl.uint(0)], lpStx, '(err u404)');
call('liquidity-pool', 'withdraw', [ft, Cl.uint(0), Cl.uint(1), Cl.uint(500_000_000_000)], lpStx);
call('liquidity-pool', 'withdraw', [ft, Cl.uint(1), Cl.uint(2), Cl.uint(1_000_000_000)], lpSbtc);
call('liquidity-pool', 'withdraw', [ft, Cl.uint(0), Cl.uint(0), Cl.uint(10_000_000)], lpStx, '(ok u10000000)');

// --- custody invariant: the pool's balances equal its tranches' assets -------------
const assets = simnet.getAssetsMap();
const stxHeld = assets.get('STX')?.get(pool) ?? 0n;
const sbtcHeld = assets.get('.sbtc-token.sbtc')?.get(pool) ?? 0n;
const sum = (token) => [0, 1, 2].reduce((acc, tier) =>
  acc + BigInt(ro('liquidity-pool', 'get-tranche', [Cl.uint(token), Cl.uint(tier)]).value['total-assets'].value), 0n);
out(`pool holds ${stxHeld} uSTX (tranches ${sum(0)}), ${sbtcHeld} sats (tranches ${sum(1)})`);
if (stxHeld !== sum(0) || sbtcHeld !== sum(1)) fail('custody differs from tranche accounting');

const missing = Object.keys(FIELDS).filter((k) => !seen.has(k));
out(`events seen: ${JSON.stringify(Object.fromEntries(seen))}`);
if (missing.length) fail(`events never seen: ${missing}`);

costLine('cost purchase-policy (policy 1, STX)', purchase);
costLine('cost settle-policies (50 ids)', settle);
console.log = sdkLog;
out('smoke: all steps succeeded');
