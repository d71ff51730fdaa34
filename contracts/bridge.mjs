// JSON-lines bridge from Python to the Clarinet SDK simnet (the real Clarity VM).
//
// One request per line on stdin, one response per line on stdout, in order. Clarity values
// travel as hex of their consensus serialization, so Python and the VM agree on every byte.
// The SDK echoes contract `print`s through console.log: that goes to stderr, never stdout.
//
// Requests: {"op": ..., ...}; responses: {"ok": <result>} or {"error": "message"}.
//   init {deployer?, parameters?}         -> {accounts: {name: address}, deployer, burn_height, stacks_height, time}
//                                with `deployer`, the contracts are deployed again by that
//                                principal (the simulator's own deployer) and it becomes `.`
//   mint_stx {recipient, amount}                     -> {}
//   stx_balance {address}     -> "amount"
//   var {contract, name}      -> hex of a data var's value
//   map {contract, name, key: hex} -> hex of (some value), or null when absent
//   call {contract, function, args: [hex], sender}
//                             -> {result: hex, events: [...], burn_height, stacks_height, time, costs}
//                                (time: the tip's stacks-block-time, seconds; see tip() below)
//   read {contract, function, args: [hex], sender}   -> {result: hex}
//   mine_burn {n}             -> {burn_height, stacks_height, time}
//   mine {n}                  -> {burn_height, stacks_height, time}   (Stacks blocks only)
//   transfer_stx {amount, recipient, sender}         -> like call
//   deploy {name, source, sender}                    -> {} (Clarity 4; tests' third-party contracts)
//   assets                    -> {asset: {address: "amount"}}  (STX and every token)
//   tip                       -> {burn_height, stacks_height, time}
//   batch {requests: [...]}   -> [response, ...]   (pipelining: one line, many calls)
//   block {calls: [call...]}  -> [call answer, ...]  (all the calls mined in one Stacks block)
//   decode_tx {raw: hex}      -> {txid, nonce, fee, signature_ok, reason}: the reference decoding
//                                and origin-signature check of @stacks/transactions (the devnet's
//                                admission), independent of the Python decoder
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { initSimnet, tx } from "@stacks/clarinet-sdk";
import { deserializeCV, deserializeTransaction, serializeCV } from "@stacks/transactions";

const out = process.stdout;
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.info = console.log;
console.warn = console.log;

// The contracts in dependency order, for deploying them under another principal.
const DEPLOY_ORDER = ["sip-010-trait", "sbtc-token", "parameters", "oracle", "liquidity-pool", "policy-registry"];

// Each contract's Clarity version, as Clarinet.toml declares it (`clarity_version = N` in its
// `[contracts.<name>]` section), so a redeployment runs the same language as initSimnet's.
function clarityVersions(manifest) {
  const versions = {};
  let current = null;
  for (const line of readFileSync(manifest, "utf8").split("\n")) {
    const section = line.match(/^\[contracts\.([^\]]+)\]/);
    if (section) current = section[1];
    else if (line.startsWith("[")) current = null;
    const version = line.match(/^clarity_version\s*=\s*(\d+)/);
    if (current && version) versions[current] = Number(version[1]);
  }
  return versions;
}

let simnet = null;
let deployer = null;

// `stacks-block-time` of the tip, in seconds. The simnet starts its clock from the wall clock
// when the first session is made (`new Date()` inside the SDK) and then advances it itself:
// a new burn block's first Stacks block is at GENESIS + 600 x burn height, and each further
// Stacks block of that tenure (every public call, transfer or deployment) 10 s later. Pinning
// the wall clock during `initSimnet` makes that clock a pure function of the blocks mined, which
// sim/models/clock.py reproduces for the Python executor (byte-identical events).
const PINNED_WALL_CLOCK_MS = 1_700_000_000_000;

async function pinnedInit(manifest, options) {
  const RealDate = globalThis.Date;
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(PINNED_WALL_CLOCK_MS);
      else super(...args);
    }
    static now() {
      return PINNED_WALL_CLOCK_MS;
    }
  };
  try {
    return await initSimnet(manifest, false, options);
  } finally {
    globalThis.Date = RealDate;
  }
}

function tip() {
  return {
    burn_height: simnet.burnBlockHeight,
    stacks_height: simnet.blockHeight,
    time: Number(simnet.getBlockTime()),
  };
}

function contractId(name) {
  return name.includes(".") ? name : `${deployer}.${name}`;
}

function hex(cv) {
  const s = serializeCV(cv);
  return typeof s === "string" ? s : Buffer.from(s).toString("hex");
}

function event(e) {
  const d = e.data;
  switch (e.event) {
    case "print_event":
      return { kind: "print", contract: d.contract_identifier, value: hex(d.value) };
    case "stx_transfer_event":
      return { kind: "stx_transfer", sender: d.sender, recipient: d.recipient, amount: String(d.amount) };
    case "ft_transfer_event":
      return { kind: "ft_transfer", contract: d.asset_identifier, sender: d.sender, recipient: d.recipient, amount: String(d.amount) };
    case "ft_mint_event":
      return { kind: "ft_mint", contract: d.asset_identifier, recipient: d.recipient, amount: String(d.amount) };
    default:
      return { kind: e.event, data: JSON.parse(JSON.stringify(d, (_, v) => (typeof v === "bigint" ? String(v) : v))) };
  }
}

function executed(res) {
  return { result: hex(res.result), events: res.events.map(event), costs: res.costs ?? null, ...tip() };
}

// A deployment's own parameter values (sim/genesis.py `parameters`): the seeded
// `(map-set params "<key>" u<value>)` lines of parameters.clar rewritten before deploying, as an
// operator deploying with other starting values would. Queued changes keep their bounds; these
// are the deployment's.
function seeded(source, values) {
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`\\(map-set params "${key}" u[0-9]+\\)`, "g");
    const found = source.match(line);
    if (!found || found.length !== 1) throw new Error(`parameters.clar seeds no parameter ${key}`);
    source = source.replace(line, `(map-set params "${key}" u${BigInt(value)})`);
  }
  return source;
}

async function handle(req) {
  switch (req.op) {
    case "init": {
      simnet = await pinnedInit(req.manifest ?? "Clarinet.toml", {
        trackCosts: Boolean(req.costs),
        trackCoverage: false,
      });
      const accounts = Object.fromEntries(simnet.getAccounts());
      deployer = accounts.deployer;
      if (req.deployer) {
        deployer = req.deployer;
        const versions = clarityVersions(req.manifest ?? "Clarinet.toml");
        for (const name of DEPLOY_ORDER) {
          let source = readFileSync(`contracts/${name}.clar`, "utf8");
          if (name === "parameters") source = seeded(source, req.parameters ?? {});
          const options = { clarityVersion: versions[name] ?? 3 };
          const res = simnet.deployContract(name, source, options, deployer);
          if (res.result && res.result.type && res.result.type !== "ok" && res.result.type !== "true") {
            throw new Error(`deploying ${name} failed`);
          }
        }
      }
      return { accounts, deployer, ...tip() };
    }
    case "mint_stx":
      simnet.mintSTX(req.recipient, BigInt(req.amount));
      return {};
    case "stx_balance": {
      const stx = simnet.getAssetsMap().get("STX");
      return String((stx && stx.get(req.address)) ?? 0n);
    }
    case "call":
      return executed(
        simnet.callPublicFn(contractId(req.contract), req.function, req.args.map((a) => deserializeCV(a)), req.sender),
      );
    case "read":
      return {
        result: hex(
          simnet.callReadOnlyFn(contractId(req.contract), req.function, req.args.map((a) => deserializeCV(a)), req.sender ?? deployer).result,
        ),
      };
    case "mine_burn":
      simnet.mineEmptyBurnBlocks(req.n ?? 1);
      return tip();
    case "mine":
      simnet.mineEmptyStacksBlocks(req.n ?? 1);
      return tip();
    case "transfer_stx":
      return executed(simnet.transferSTX(BigInt(req.amount), req.recipient, req.sender));
    case "deploy": {
      const res = simnet.deployContract(req.name, req.source, { clarityVersion: 4 }, req.sender);
      if (res.result && res.result.type && res.result.type !== "ok" && res.result.type !== "true") {
        throw new Error(`deploying ${req.name} failed`);
      }
      return {};
    }
    case "assets": {
      const assets = {};
      for (const [asset, holders] of simnet.getAssetsMap()) {
        assets[asset] = Object.fromEntries([...holders].map(([who, n]) => [who, String(n)]));
      }
      return assets;
    }
    case "tip":
      return tip();
    case "var":
      return hex(simnet.getDataVar(contractId(req.contract), req.name));
    case "map":
      try {
        return hex(simnet.getMapEntry(contractId(req.contract), req.name, deserializeCV(req.key)));
      } catch (err) {
        if (String(err).includes("value not found")) return null; // STACKS-TOOLING: a miss throws
        throw err;
      }
    case "block": {
      const txs = req.calls.map((c) =>
        tx.callPublicFn(contractId(c.contract), c.function, c.args.map((a) => deserializeCV(a)), c.sender),
      );
      return simnet.mineBlock(txs).map(executed);
    }
    case "decode_tx": {
      const t = deserializeTransaction(req.raw);
      let signature_ok = true;
      let reason = "";
      try {
        t.verifyOrigin();
      } catch (err) {
        signature_ok = false;
        reason = String(err && err.message ? err.message : err);
      }
      const sc = t.auth.spendingCondition;
      return { txid: t.txid(), nonce: String(sc.nonce), fee: String(sc.fee), signature_ok, reason };
    }
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

async function answer(req) {
  if (req.op === "batch") {
    const results = [];
    for (const r of req.requests) results.push(await answer(r));
    return { ok: results };
  }
  try {
    return { ok: await handle(req) };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let response;
  try {
    response = await answer(JSON.parse(line));
  } catch (err) {
    response = { error: `bad request: ${err.message}` };
  }
  out.write(JSON.stringify(response) + "\n");
}
