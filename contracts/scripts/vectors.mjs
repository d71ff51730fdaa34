// Reference vectors for the Python side of the BitHedge engine.
//
// Usage (from the repository root, after `npm ci` in contracts/):
//
//   LC_ALL=C.UTF-8 node contracts/scripts/vectors.mjs > tests/chain/vectors.json
//
// Everything here is derived deterministically: no randomness, no clock and no
// network. The JSON is printed with a 1-space indent and every object is built
// with its keys in a fixed order, so two runs give identical bytes.
//
// Integers that may exceed 2^53 are written as decimal strings, byte strings
// as lowercase hex without a 0x prefix.
//
// Note on tuples: @stacks/transactions 7.6.0 orders tuple keys with
// String.prototype.localeCompare (default locale), not by bytes as the Clarity
// VM does. The script refuses to run if the process locale would order any
// tuple differently from the "en-US" collation, and flags every clarity_values
// entry whose en-US order differs from plain byte order with
// "locale_sort_differs": true.

import { createHash } from 'node:crypto';
import {
  addressToString,
  Cl,
  createLPList,
  deserializeCV,
  deserializeTransaction,
  encodeStructuredData,
  getAddressFromPrivateKey,
  makeContractCall,
  makeSTXTokenTransfer,
  makeUnsignedSTXTokenTransfer,
  PostConditionMode,
  postConditionModeFrom,
  postConditionToWire,
  privateKeyIsCompressed,
  privateKeyToPublic,
  PubKeyEncoding,
  publicKeyFromSignatureRsv,
  serializeCV,
  signMessageHashRsv,
  signStructuredData,
  TransactionSigner,
  wireToPostCondition,
} from '@stacks/transactions';
import { c32address, c32addressDecode } from 'c32check';

const GENERATOR = '@stacks/transactions 7.6.0, c32check 2.0.0';

// ---------------------------------------------------------------------------
// No network: the library only reaches the network through the global fetch
// (fee estimate, nonce, ABI). Explicit fee/nonce and validateWithAbi: false
// avoid that; this guard turns any attempt into a hard failure.
globalThis.fetch = async (input) => {
  throw new Error(`vectors.mjs: network access attempted (${String(input)})`);
};

// ---------------------------------------------------------------------------
// Helpers

function sha256(data) {
  return createHash('sha256').update(data).digest();
}

function sha256hex(data) {
  return sha256(data).toString('hex');
}

function assert(cond, msg) {
  if (!cond) throw new Error(`vectors.mjs: assertion failed: ${msg}`);
}

const pow2 = (n) => 2n ** BigInt(n);

// Byte order of ASCII strings (Clarity names are ASCII).
const byteCompare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const enUS = new Intl.Collator('en-US');

// ---------------------------------------------------------------------------
// Typed JSON <-> Clarity values

function toCV(j) {
  switch (j.type) {
    case 'int':
      return Cl.int(BigInt(j.value));
    case 'uint':
      return Cl.uint(BigInt(j.value));
    case 'bool':
      return Cl.bool(j.value);
    case 'buffer':
      return Cl.bufferFromHex(j.value);
    case 'principal':
      return Cl.principal(j.value);
    case 'none':
      return Cl.none();
    case 'some':
      return Cl.some(toCV(j.value));
    case 'ok':
      return Cl.ok(toCV(j.value));
    case 'err':
      return Cl.error(toCV(j.value));
    case 'list':
      return Cl.list(j.value.map(toCV));
    case 'tuple':
      return Cl.tuple(Object.fromEntries(Object.entries(j.value).map(([k, v]) => [k, toCV(v)])));
    case 'string-ascii':
      return Cl.stringAscii(j.value);
    case 'string-utf8':
      return Cl.stringUtf8(j.value);
    default:
      throw new Error(`unknown CV type ${j.type}`);
  }
}

// Library CV -> typed JSON, with tuple keys in byte order (used only to
// check that a value survives a serialize/deserialize round trip).
function fromCV(cv) {
  switch (cv.type) {
    case 'int':
      return { type: 'int', value: cv.value.toString() };
    case 'uint':
      return { type: 'uint', value: cv.value.toString() };
    case 'true':
      return { type: 'bool', value: true };
    case 'false':
      return { type: 'bool', value: false };
    case 'buffer':
      return { type: 'buffer', value: cv.value.toLowerCase() };
    case 'address':
    case 'contract':
      return { type: 'principal', value: cv.value };
    case 'none':
      return { type: 'none' };
    case 'some':
      return { type: 'some', value: fromCV(cv.value) };
    case 'ok':
      return { type: 'ok', value: fromCV(cv.value) };
    case 'err':
      return { type: 'err', value: fromCV(cv.value) };
    case 'list':
      return { type: 'list', value: cv.value.map(fromCV) };
    case 'tuple': {
      const keys = Object.keys(cv.value).sort(byteCompare);
      return { type: 'tuple', value: Object.fromEntries(keys.map((k) => [k, fromCV(cv.value[k])])) };
    }
    case 'ascii':
      return { type: 'string-ascii', value: cv.value };
    case 'utf8':
      return { type: 'string-utf8', value: cv.value };
    default:
      throw new Error(`unknown library CV type ${cv.type}`);
  }
}

// Typed JSON with tuple keys put in byte order (canonical form for comparing).
function canonical(j) {
  switch (j.type) {
    case 'some':
    case 'ok':
    case 'err':
      return { type: j.type, value: canonical(j.value) };
    case 'list':
      return { type: 'list', value: j.value.map(canonical) };
    case 'tuple': {
      const keys = Object.keys(j.value).sort(byteCompare);
      return { type: 'tuple', value: Object.fromEntries(keys.map((k) => [k, canonical(j.value[k])])) };
    }
    default:
      return j;
  }
}

// Every tuple key set inside a typed JSON value.
function tupleKeySets(j, out = []) {
  switch (j.type) {
    case 'some':
    case 'ok':
    case 'err':
      tupleKeySets(j.value, out);
      break;
    case 'list':
      j.value.forEach((v) => tupleKeySets(v, out));
      break;
    case 'tuple':
      out.push(Object.keys(j.value));
      Object.values(j.value).forEach((v) => tupleKeySets(v, out));
      break;
    default:
      break;
  }
  return out;
}

const sameOrder = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// Returns true when some tuple inside j has a different key order under
// en-US localeCompare than under byte order. Throws if the process's default
// locale would order any tuple differently from en-US (the output would then
// depend on the environment).
function localeSortDiffers(j) {
  let differs = false;
  for (const keys of tupleKeySets(j)) {
    const byDefaultLocale = [...keys].sort((a, b) => a.localeCompare(b));
    const byEnUS = [...keys].sort(enUS.compare);
    const byBytes = [...keys].sort(byteCompare);
    if (!sameOrder(byDefaultLocale, byEnUS)) {
      throw new Error(
        `vectors.mjs: the default locale (${new Intl.Collator().resolvedOptions().locale}) orders tuple keys ` +
          `${JSON.stringify(keys)} differently from en-US; run with LC_ALL=C.UTF-8`,
      );
    }
    if (!sameOrder(byEnUS, byBytes)) differs = true;
  }
  return differs;
}

function serializeChecked(j) {
  const cv = toCV(j);
  const hex = serializeCV(cv);
  assert(typeof hex === 'string' && /^[0-9a-f]*$/.test(hex), 'serializeCV returns lowercase hex');
  const back = deserializeCV(hex);
  assert(serializeCV(back) === hex, `CV re-serialization of ${hex}`);
  assert(
    JSON.stringify(fromCV(back)) === JSON.stringify(canonical(j)),
    `CV round trip of ${JSON.stringify(j)}`,
  );
  return hex;
}

// Typed JSON constructors
const int = (v) => ({ type: 'int', value: BigInt(v).toString() });
const uint = (v) => ({ type: 'uint', value: BigInt(v).toString() });
const bool = (v) => ({ type: 'bool', value: v });
const buff = (hex) => ({ type: 'buffer', value: hex });
const principal = (p) => ({ type: 'principal', value: p });
const none = () => ({ type: 'none' });
const some = (v) => ({ type: 'some', value: v });
const ok = (v) => ({ type: 'ok', value: v });
const err = (v) => ({ type: 'err', value: v });
const list = (vs) => ({ type: 'list', value: vs });
const tuple = (entries) => ({ type: 'tuple', value: Object.fromEntries(entries) });
const ascii = (s) => ({ type: 'string-ascii', value: s });
const utf8 = (s) => ({ type: 'string-utf8', value: s });

// ---------------------------------------------------------------------------
// Keys

const KEY_COUNT = 16;
const UNCOMPRESSED = new Set([2, 7, 11, 14]);

const keys = [];
for (let i = 0; i < KEY_COUNT; i++) {
  const raw = sha256hex(`bithedge-vector-key-${i}`);
  const privateKey = UNCOMPRESSED.has(i) ? raw : `${raw}01`;
  const compressed = privateKeyIsCompressed(privateKey);
  assert(compressed === !UNCOMPRESSED.has(i), `compression flag of key ${i}`);
  const publicKey = privateKeyToPublic(privateKey);
  assert(typeof publicKey === 'string' && publicKey.length === (compressed ? 66 : 130), `public key ${i}`);
  keys.push({
    private_key: privateKey,
    public_key: publicKey,
    compressed,
    testnet_address: getAddressFromPrivateKey(privateKey, 'testnet'),
    mainnet_address: getAddressFromPrivateKey(privateKey, 'mainnet'),
  });
}
assert(keys.filter((k) => !k.compressed).length >= 3, 'at least 3 uncompressed keys');

const addr = (i, network) => (network === 'mainnet' ? keys[i].mainnet_address : keys[i].testnet_address);

// ---------------------------------------------------------------------------
// Addresses

const HASH160S = [
  '00'.repeat(20),
  'ff'.repeat(20),
  '00'.repeat(19) + '01',
  '00' + sha256hex('bithedge-hash160-1').slice(0, 38),
  '0000' + sha256hex('bithedge-hash160-2').slice(0, 36),
  '00'.repeat(10) + 'ff'.repeat(10),
  '01' + '00'.repeat(19),
  sha256hex('bithedge-hash160-3').slice(0, 40),
  c32addressDecode(keys[0].testnet_address)[1],
  c32addressDecode(keys[2].testnet_address)[1],
];
const VERSIONS = [22, 26, 20, 21];

const addresses = [];
for (const hash160 of HASH160S) {
  assert(hash160.length === 40, 'hash160 length');
  for (const version of VERSIONS) {
    const address = c32address(version, hash160);
    const [v2, h2] = c32addressDecode(address);
    assert(v2 === version && h2 === hash160, `c32 round trip ${address}`);
    addresses.push({ version, hash160, address });
  }
}

// Principals used in values and transactions.
const ZERO_TESTNET = c32address(26, '00'.repeat(20));
const ZERO_MAINNET = c32address(22, '00'.repeat(20));
const FF_TESTNET = c32address(26, 'ff'.repeat(20));
const DEPLOYER = { testnet: addr(15, 'testnet'), mainnet: addr(15, 'mainnet') };
const LONG_NAME = 'bithedge-options-vault-v1-long-name-40ch';
assert(LONG_NAME.length === 40, 'long contract name is 40 chars');

// ---------------------------------------------------------------------------
// Clarity values

const QUOTE = tuple([
  ['token', uint(1)],
  ['amount', uint(100000000)],
  ['quote-id', uint(42)],
  ['quote-expiry', uint(912345)],
  ['buyer', principal(addr(1, 'testnet'))],
  ['collateral', uint(2500000000)],
  ['expiration', uint(915000)],
  ['premium', uint(1234567)],
  ['strike', uint(6500000000000)],
  ['tier', uint(2)],
]);

const values = [
  // int
  int(0),
  int(1),
  int(-1),
  int(-5),
  int(127),
  int(-128),
  int(255),
  int(256),
  int(pow2(63) - 1n),
  int(-pow2(63)),
  int(pow2(64)),
  int(-pow2(64)),
  int(pow2(127) - 1n),
  int(-pow2(127)),
  // uint
  uint(0),
  uint(1),
  uint(5),
  uint(255),
  uint(256),
  uint(pow2(32)),
  uint(pow2(53) - 1n),
  uint(pow2(53)),
  uint(pow2(64) - 1n),
  uint(pow2(64)),
  uint(pow2(127) - 1n),
  uint(pow2(128) - 1n),
  // bool
  bool(true),
  bool(false),
  // buffer
  buff(''),
  buff('00'),
  buff('ff'),
  buff('deadbeef'),
  buff(sha256hex('bithedge-buffer-32')),
  buff(sha256hex('sig-a') + sha256hex('sig-b') + '01'),
  buff(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join('')),
  // principal
  principal(addr(0, 'testnet')),
  principal(addr(0, 'mainnet')),
  principal(addr(2, 'testnet')),
  principal(ZERO_TESTNET),
  principal(ZERO_MAINNET),
  principal(FF_TESTNET),
  principal(`${DEPLOYER.testnet}.bithedge-vault`),
  principal(`${DEPLOYER.mainnet}.bithedge-vault`),
  principal(`${ZERO_TESTNET}.a`),
  principal(`${DEPLOYER.testnet}.${LONG_NAME}`),
  principal(`${addr(7, 'mainnet')}.sbtc-token`),
  // optional
  none(),
  some(uint(1)),
  some(none()),
  some(some(int(-1))),
  some(principal(`${DEPLOYER.testnet}.bithedge-vault`)),
  // response
  ok(bool(true)),
  ok(uint(pow2(128) - 1n)),
  err(uint(100)),
  err(ascii('ERR-QUOTE-EXPIRED')),
  err(none()),
  ok(ok(err(int(-42)))),
  ok(tuple([['id', uint(7)], ['owner', principal(addr(3, 'testnet'))]])),
  err(list([uint(1), uint(2)])),
  // list
  list([]),
  list([uint(1)]),
  list(Array.from({ length: 10 }, (_, i) => uint(i))),
  list(Array.from({ length: 50 }, (_, i) => uint(BigInt(i) * 1000003n))),
  list([principal(addr(4, 'testnet')), principal(`${DEPLOYER.testnet}.bithedge-vault`)]),
  list([list([]), list([int(1)]), list([int(-1), int(2)])]),
  list([none(), some(uint(3))]),
  list([ok(uint(1)), err(uint(2))]),
  list([buff(''), buff('01'), buff('0203')]),
  list([tuple([['a', uint(1)]]), tuple([['a', uint(2)]])]),
  list([ascii(''), ascii('x')]),
  // tuple
  tuple([]),
  tuple([['a', uint(1)]]),
  tuple([
    ['token', uint(1)],
    ['amount', uint(2)],
    ['quote-id', uint(3)],
    ['quote-expiry', uint(4)],
    ['buyer', principal(addr(5, 'testnet'))],
    ['z', bool(false)],
    ['a-b', int(-6)],
    ['ab', buff('07')],
  ]),
  QUOTE,
  tuple([
    ['outer', tuple([['inner', tuple([['leaf', some(list([ok(uint(1))]))]])]])],
    ['b', list([tuple([]), tuple([['c', none()]])])],
  ]),
  tuple([
    ['memo', utf8('€🚀')],
    ['name', ascii('bithedge')],
    ['sig', buff('00'.repeat(65))],
    ['flag', bool(true)],
  ]),
  // tuples whose key order under localeCompare differs from byte order
  tuple([
    ['quote-id', uint(1)],
    ['quote_id', uint(2)],
    ['quotea', uint(3)],
  ]),
  tuple([
    ['a', uint(1)],
    ['B', uint(2)],
    ['z', uint(3)],
    ['Z', uint(4)],
  ]),
  tuple([
    ['a!', uint(1)],
    ['a-b', uint(2)],
    ['a1', uint(3)],
    ['a?', uint(4)],
    ['a_b', uint(5)],
    ['ab', uint(6)],
  ]),
  tuple([
    ['+', int(1)],
    ['-', int(2)],
    ['<=', int(3)],
    ['>', int(4)],
    ['x', int(5)],
  ]),
  // string-ascii
  ascii(''),
  ascii('hello'),
  ascii(Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')),
  ascii('a'.repeat(200)),
  // string-utf8
  utf8(''),
  utf8('€'),
  utf8('🚀'),
  utf8('héllo wörld € 🚀'),
  utf8('日本語テキスト'),
  utf8('plain ascii in utf8'),
  // a value with one of everything
  tuple([
    ['i', int(-7)],
    ['u', uint(7)],
    ['t', bool(true)],
    ['f', bool(false)],
    ['b', buff('c0ffee')],
    ['p', principal(addr(6, 'mainnet'))],
    ['c', principal(`${DEPLOYER.mainnet}.bithedge-vault`)],
    ['n', none()],
    ['s', some(utf8('€'))],
    ['o', ok(ascii('yes'))],
    ['e', err(int(-1))],
    ['l', list([uint(1), uint(2), uint(3)])],
    ['sa', ascii('ascii')],
    ['su', utf8('🚀 utf8')],
  ]),
];

const clarityValues = values.map((value) => {
  const entry = { value, hex: serializeChecked(value) };
  if (localeSortDiffers(value)) entry.locale_sort_differs = true;
  return entry;
});

// ---------------------------------------------------------------------------
// Signatures

function signChecked(keyIndex, messageHash) {
  const k = keys[keyIndex];
  const signature = signMessageHashRsv({ messageHash, privateKey: k.private_key });
  assert(/^[0-9a-f]{130}$/.test(signature), 'RSV signature is 65 bytes of hex');
  const recovered = publicKeyFromSignatureRsv(messageHash, signature, k.compressed ? PubKeyEncoding.Compressed : PubKeyEncoding.Uncompressed);
  assert(recovered === k.public_key, `signature by key ${keyIndex} recovers its public key`);
  return signature;
}

const QUOTE_HASH = sha256hex(Buffer.from(serializeCV(toCV(QUOTE)), 'hex'));
const messageHashes = [
  ...Array.from({ length: 12 }, (_, i) => [i, sha256hex(`bithedge-vector-msg-${i}`)]),
  [12, sha256hex('')],
  [13, sha256hex(Buffer.alloc(32))],
  [14, QUOTE_HASH],
  [1, QUOTE_HASH],
];

const signatures = messageHashes.map(([i, messageHash]) => ({
  private_key: keys[i].private_key,
  message_hash: messageHash,
  signature_rsv: signChecked(i, messageHash),
}));

// The (buff 65) signature used as a contract-call argument.
const QUOTE_SIGNATURE = signChecked(1, QUOTE_HASH);

// ---------------------------------------------------------------------------
// Transactions

const NONCES = ['0', '1', '25', (pow2(32) + 7n).toString(), (pow2(53) - 1n).toString(), (pow2(64) - 1n).toString()];
const FEES = ['0', '180', '1000000', '123456789', (pow2(53) + 1n).toString(), (pow2(64) - 1n).toString(), '3000'];
const AMOUNTS = ['0', '1', '1000000', (pow2(64) - 1n).toString(), '123456789012'];
const MEMOS = ['', 'bithedge', '€🚀 memo', 'x'.repeat(34), 'settle quote 42'];
const FT_CONDITIONS = ['eq', 'gt', 'gte', 'lt', 'lte'];
const NFT_CONDITIONS = ['sent', 'not-sent'];
const CONTRACT_NAMES = ['bithedge-vault', 'bithedge-options-v1', 'a', LONG_NAME];

let pcCounter = 0;
function nextPostCondition(network) {
  const c = pcCounter++;
  const type = ['stx', 'ft', 'nft'][c % 3];
  const principalKind = Math.floor(c / 3) % 3;
  const p =
    principalKind === 0
      ? 'origin'
      : principalKind === 1
        ? addr((c * 5) % KEY_COUNT, network)
        : `${DEPLOYER[network]}.bithedge-vault`;
  const codeIndex = Math.floor(c / 9);
  const amounts = ['0', '1', '500', '1000000', (pow2(64) - 1n).toString()];
  const amount = amounts[c % amounts.length];
  const asset = `${DEPLOYER[network]}.${c % 2 ? 'sbtc-token::sbtc' : 'bithedge-token::bh-token'}`;
  if (type === 'stx') {
    return { type, principal: p, condition: FT_CONDITIONS[codeIndex % 5], amount };
  }
  if (type === 'ft') {
    return { type, principal: p, asset, condition: FT_CONDITIONS[codeIndex % 5], amount };
  }
  const nftAsset = `${DEPLOYER[network]}.${c % 2 ? 'option-nft::option' : 'bithedge-nft::position'}`;
  const assetIds = [
    uint(c),
    buff(sha256hex(`nft-${c}`)),
    tuple([['id', uint(c)], ['series', ascii('A')]]),
    ascii(`position-${c}`),
  ];
  return {
    type,
    principal: p,
    asset: nftAsset,
    asset_id: assetIds[c % assetIds.length],
    condition: NFT_CONDITIONS[codeIndex % 2],
  };
}

function pcToLibrary(pc) {
  switch (pc.type) {
    case 'stx':
      return { type: 'stx-postcondition', address: pc.principal, condition: pc.condition, amount: BigInt(pc.amount) };
    case 'ft':
      return {
        type: 'ft-postcondition',
        address: pc.principal,
        condition: pc.condition,
        asset: pc.asset,
        amount: BigInt(pc.amount),
      };
    case 'nft':
      return {
        type: 'nft-postcondition',
        address: pc.principal,
        condition: pc.condition,
        asset: pc.asset,
        assetId: toCV(pc.asset_id),
      };
    default:
      throw new Error(`unknown post-condition type ${pc.type}`);
  }
}

// Contract-call templates: n is the transaction index, net the network.
const CALLS = [
  (n, net) => ['purchase-option', [
    tuple([
      ['amount', uint(100000000n + BigInt(n))],
      ['buyer', principal(addr(n % KEY_COUNT, net))],
      ['collateral', uint(2500000000n * BigInt(n + 1))],
      ['expiration', uint(900000 + n)],
      ['premium', uint(1234567 + n)],
      ['quote-expiry', uint(890000 + n)],
      ['quote-id', uint(n)],
      ['strike', uint(6500000000000n + BigInt(n) * 1000n)],
      ['tier', uint(n % 4)],
      ['token', uint(n % 3)],
    ]),
    buff(QUOTE_SIGNATURE),
  ]],
  (n) => ['set-price', [uint(BigInt(n) * 99991n), int(-n)]],
  (n) => ['batch-settle', [list(Array.from({ length: [0, 1, 7, 50][n % 4] }, (_, i) => uint(BigInt(n) * 1000n + BigInt(i))))]],
  (n, net) => ['register', [
    principal(addr((n + 3) % KEY_COUNT, net)),
    principal(`${DEPLOYER[net]}.${CONTRACT_NAMES[n % CONTRACT_NAMES.length]}`),
    n % 2 ? some(principal(addr((n + 5) % KEY_COUNT, net))) : none(),
  ]],
  (n) => ['set-memo', [ascii(`memo-${n}`), utf8(`€${n}🚀`), buff(sha256hex(`memo-${n}`).slice(0, 2 * (n % 33)))]],
  (n) => ['respond', [ok(uint(n)), err(uint(1000 + n)), bool(true), bool(false)]],
  () => ['get-info', []],
  (n, net) => ['all-types', [
    int(-pow2(127) + BigInt(n)),
    uint(pow2(128) - 1n - BigInt(n)),
    bool(n % 2 === 0),
    buff(''),
    principal(`${DEPLOYER[net]}.bithedge-vault`),
    none(),
    some(int(n)),
    ok(none()),
    err(some(bool(false))),
    list([]),
    tuple([['token', uint(n)], ['amount', uint(1)], ['z', ascii('')], ['a-b', utf8('')]]),
    ascii(''),
    utf8('€ 🚀'),
  ]],
  (n) => ['nested', [
    list([tuple([['k', list([some(ok(uint(n)))])]]), tuple([['k', list([])]])]),
    some(some(some(err(utf8('é'))))),
  ]],
];

// Library post-condition (as returned by wireToPostCondition) -> PC JSON.
function pcFromLibrary(pc) {
  switch (pc.type) {
    case 'stx-postcondition':
      return { type: 'stx', principal: pc.address, condition: pc.condition, amount: BigInt(pc.amount).toString() };
    case 'ft-postcondition':
      return {
        type: 'ft',
        principal: pc.address,
        asset: pc.asset,
        condition: pc.condition,
        amount: BigInt(pc.amount).toString(),
      };
    case 'nft-postcondition':
      return { type: 'nft', principal: pc.address, asset: pc.asset, asset_id: fromCV(pc.assetId), condition: pc.condition };
    default:
      throw new Error(`unexpected post-condition ${pc.type}`);
  }
}

const canonicalPc = (pc) => (pc.type === 'nft' ? { ...pc, asset_id: canonical(pc.asset_id) } : pc);
const MODE_NAMES = { [PostConditionMode.Allow]: 'allow', [PostConditionMode.Deny]: 'deny' };

// Decodes a serialized transaction back into the JSON fields and checks
// them against the entry, so the JSON always describes the hex.
function checkDecoded(n, entry, hex) {
  const decoded = deserializeTransaction(hex);
  const eq = (a, b, what) =>
    assert(JSON.stringify(a) === JSON.stringify(b), `transaction ${n} ${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
  eq(decoded.serialize(), hex, 're-serialization');
  eq(decoded.txid(), entry.txid, 'txid');
  decoded.verifyOrigin();
  const sc = decoded.auth.spendingCondition;
  eq(sc.nonce.toString(), entry.nonce, 'nonce');
  eq(sc.fee.toString(), entry.fee, 'fee');
  eq(decoded.transactionVersion, entry.network === 'mainnet' ? 0 : 0x80, 'version');
  eq(MODE_NAMES[decoded.postConditionMode], entry.post_condition_mode, 'post-condition mode');
  eq(
    decoded.postConditions.values.map((w) => pcFromLibrary(wireToPostCondition(w))),
    entry.post_conditions.map(canonicalPc),
    'post-conditions',
  );
  const p = decoded.payload;
  if (entry.kind === 'contract-call') {
    eq(addressToString(p.contractAddress), entry.contract_address, 'contract address');
    eq(p.contractName.content, entry.contract_name, 'contract name');
    eq(p.functionName.content, entry.function_name, 'function name');
    eq(p.functionArgs.map(fromCV), entry.function_args.map(canonical), 'function args');
  } else {
    eq(fromCV(p.recipient).value, entry.recipient, 'recipient');
    eq(p.amount.toString(), entry.amount, 'amount');
    eq(p.memo.content.replace(/\u0000+$/, ''), entry.memo, 'memo');
  }
}

async function buildTransaction(n) {
  const kind = n % 3 === 2 ? 'stx-transfer' : 'contract-call';
  const keyIndex = n % KEY_COUNT;
  const network = (n >> 1) % 2 === 0 ? 'testnet' : 'mainnet';
  const nonce = NONCES[n % NONCES.length];
  const fee = FEES[n % FEES.length];
  const privateKey = keys[keyIndex].private_key;
  // makeSTXTokenTransfer (7.6.0) takes no postConditionMode/postConditions
  // and always serializes mode "deny" with no post-conditions; every other
  // transfer is built the same way but gets them set before signing.
  const t = Math.floor(n / 3);
  const plainTransfer = kind === 'stx-transfer' && t % 2 === 0;
  const mode = plainTransfer ? 'deny' : (n >> 2) % 2 === 0 ? 'deny' : 'allow';
  const pcCount = plainTransfer ? 0 : (n + (n >> 4)) % 4;
  const postConditions = Array.from({ length: pcCount }, () => nextPostCondition(network));

  const common = {
    nonce: BigInt(nonce),
    fee: BigInt(fee),
    network,
  };

  const entry = {
    kind,
    network,
    private_key: privateKey,
    nonce,
    fee,
    post_condition_mode: mode,
    post_conditions: postConditions,
  };

  let transaction;
  if (kind === 'contract-call') {
    const callIndex = t * 2 + (n % 3);
    const [functionName, args] = CALLS[callIndex % CALLS.length](n, network);
    const contractAddress = n % 5 === 4 ? addr((n + 1) % KEY_COUNT, network) : DEPLOYER[network];
    const contractName = CONTRACT_NAMES[(n >> 1) % CONTRACT_NAMES.length];
    for (const a of args) {
      assert(!localeSortDiffers(a), 'transaction arguments avoid locale-dependent tuple order');
    }
    entry.contract_address = contractAddress;
    entry.contract_name = contractName;
    entry.function_name = functionName;
    entry.function_args = args;
    transaction = await makeContractCall({
      ...common,
      senderKey: privateKey,
      postConditionMode: mode,
      postConditions: postConditions.map(pcToLibrary),
      contractAddress,
      contractName,
      functionName,
      functionArgs: args.map(toCV),
      validateWithAbi: false,
    });
  } else {
    const recipient =
      t % 4 === 3
        ? `${DEPLOYER[network]}.${CONTRACT_NAMES[t % CONTRACT_NAMES.length]}`
        : addr((n + 7) % KEY_COUNT, network);
    const amount = AMOUNTS[t % AMOUNTS.length];
    const memo = MEMOS[t % MEMOS.length];
    entry.recipient = recipient;
    entry.amount = amount;
    entry.memo = memo;
    const transferOptions = { ...common, recipient, amount: BigInt(amount), memo };
    if (plainTransfer) {
      transaction = await makeSTXTokenTransfer({ ...transferOptions, senderKey: privateKey });
    } else {
      // Same steps as makeSTXTokenTransfer, plus post-conditions.
      transaction = await makeUnsignedSTXTokenTransfer({
        ...transferOptions,
        publicKey: privateKeyToPublic(privateKey),
      });
      transaction.postConditionMode = postConditionModeFrom(mode);
      transaction.postConditions = createLPList(postConditions.map((pc) => postConditionToWire(pcToLibrary(pc))));
      new TransactionSigner(transaction).signOrigin(privateKey);
    }
  }

  const hex = transaction.serialize();
  const txid = transaction.txid();
  assert(/^[0-9a-f]+$/.test(hex), 'transaction hex is lowercase');
  assert(/^[0-9a-f]{64}$/.test(txid), 'txid is 32 bytes');
  entry.hex = hex;
  entry.txid = txid;
  checkDecoded(n, entry, hex);
  return entry;
}

const TX_COUNT = 96;
const transactions = [];
for (let n = 0; n < TX_COUNT; n++) {
  transactions.push(await buildTransaction(n));
}

// ---------------------------------------------------------------------------
// SIP-018 structured data
//
// encodeStructuredData gives "SIP018" || sha256(domain) || sha256(message);
// its sha256 is the hash signStructuredData signs (r || s || v). The Python
// side must reproduce the encoding, the hash and the signature bytes.

const domain = (name, version, chainId) =>
  tuple([['name', ascii(name)], ['version', ascii(version)], ['chain-id', uint(chainId)]]);

const CHAIN_ID = { mainnet: 1, testnet: 0x80000000 };
const DOMAINS = [
  domain('bithedge-devnet', '2', CHAIN_ID.testnet),
  domain('bithedge-testnet', '2', CHAIN_ID.testnet),
  domain('bithedge', '2', CHAIN_ID.mainnet),
  domain('Test App', '1.0.0', CHAIN_ID.mainnet),
  domain('', '', 0),
  domain('x'.repeat(64), '2.0.0-rc.1', pow2(128) - 1n),
];

// A v2 quote: v1's fields plus registry, spot and valid-until.
const quoteV2 = (network, n) =>
  tuple([
    ...Object.entries(QUOTE.value),
    ['registry', principal(`${DEPLOYER[network]}.policy-registry`)],
    ['spot', uint(6823456000000n + BigInt(n))],
    ['valid-until', uint(1767225660 + n)],
  ]);

const MESSAGES = [
  quoteV2('testnet', 0),
  quoteV2('mainnet', 1),
  ascii('Hello World'),
  ascii(''),
  uint(0),
  uint(pow2(128) - 1n),
  int(-pow2(127)),
  bool(true),
  principal(addr(3, 'testnet')),
  principal(`${DEPLOYER.mainnet}.${LONG_NAME}`),
  buff(''),
  buff(sha256hex('bithedge-sip018-buffer')),
  none(),
  some(principal(`${DEPLOYER.testnet}.liquidity-pool`)),
  list([]),
  list([uint(1), uint(pow2(128) - 1n), uint(0)]),
  ok(uint(7)),
  err(ascii('nope')),
  tuple([]),
  tuple([
    ['action', ascii('sign-in')],
    ['account', principal(addr(5, 'testnet'))],
    ['nonce', buff(sha256hex('bithedge-sign-in-nonce'))],
    ['issued-at', uint(1767225600)],
    ['expires', some(uint(1767225900))],
  ]),
  tuple([
    ['outer', tuple([['inner', tuple([['leaf', some(list([ok(uint(0)), err(int(-1))]))]])]])],
    ['items', list([tuple([['id', uint(1)], ['owner', principal(addr(6, 'mainnet'))]]), tuple([['id', uint(2)], ['owner', none()]])])],
    ['memo', buff('c0ffee')],
  ]),
];

const structuredData = [];
MESSAGES.forEach((message, n) => {
  assert(!localeSortDiffers(message), `structured message ${n} avoids locale-dependent tuple order`);
  for (const [d, dom] of DOMAINS.entries()) {
    if ((n + d) % 3 !== 0 && n >= 2) continue; // every domain, not every pair
    const k = keys[(n * 5 + d) % KEY_COUNT];
    const domainCV = toCV(dom);
    const messageCV = toCV(message);
    const encoded = encodeStructuredData({ message: messageCV, domain: domainCV });
    assert(
      encoded === '534950303138' + sha256hex(Buffer.from(serializeChecked(dom), 'hex')) + sha256hex(Buffer.from(serializeChecked(message), 'hex')),
      `structured data ${n}/${d} is prefix || sha256(domain) || sha256(message)`,
    );
    const messageHash = sha256hex(Buffer.from(encoded, 'hex'));
    const signature = signStructuredData({ message: messageCV, domain: domainCV, privateKey: k.private_key });
    assert(signature === signChecked((n * 5 + d) % KEY_COUNT, messageHash), `signStructuredData ${n}/${d} signs sha256(encoding)`);
    structuredData.push({
      domain: dom,
      message,
      private_key: k.private_key,
      encoded,
      message_hash: messageHash,
      signature_rsv: signature,
    });
  }
});

// ---------------------------------------------------------------------------
// Output

const out = {
  generator: GENERATOR,
  keys,
  addresses,
  clarity_values: clarityValues,
  signatures,
  transactions,
  structured_data: structuredData,
};

process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
