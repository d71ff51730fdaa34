// The Clarinet SDK's own rate on the calls benchmarks/clarity_bridge.py sends through the bridge:
// the same simnet, the same setup and workload requests, called in process with no bridge.
//
//   node benchmarks/clarity_inprocess.mjs <requests.json> [batch]
//
// <requests.json> is {"setup": [call...], "workload": [call...]}, each call
// {contract, function, args: [hex], sender} as sim/clarity_vm.call_request builds them.
// Arguments are decoded to Clarity values before the clock starts (a program calling the SDK
// builds its values beforehand); every result must be `(ok …)`. Modes, each on a fresh simnet:
// one `callPublicFn` per call (twice), and `batch` calls mined together with `mineBlock`.
// Prints one JSON line: {"sequential": {calls, seconds, cpu_seconds}, "sequential_again": …,
// "block=N": …}.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const contracts = join(dirname(fileURLToPath(import.meta.url)), "..", "contracts");
process.chdir(contracts); // initSimnet reads Clarinet.toml and settings/ from here
const require = createRequire(join(contracts, "package.json"));
const { initSimnet, tx } = require("@stacks/clarinet-sdk");
const { deserializeCV } = require("@stacks/transactions");

// the SDK echoes contract prints through console.log: keep stdout for the one answer line
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.info = console.log;
console.warn = console.log;

const [file, batchArg] = process.argv.slice(2);
const batch = Number(batchArg ?? 100);
const { setup, workload } = JSON.parse(readFileSync(file, "utf8"));

function decoded(calls) {
  return calls.map((c) => ({
    id: c.contract.includes(".") ? c.contract : null,
    name: c.contract,
    fn: c.function,
    args: c.args.map((a) => deserializeCV(a)),
    sender: c.sender,
  }));
}

function check(results) {
  const bad = results.filter((r) => r.result.type !== "ok");
  if (bad.length) throw new Error(`${bad.length} calls failed, first ${JSON.stringify(bad[0].result, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
}

async function fresh() {
  const simnet = await initSimnet("Clarinet.toml", false, { trackCosts: false, trackCoverage: false });
  const deployer = simnet.getAccounts().get("deployer");
  const id = (c) => c.id ?? `${deployer}.${c.name}`;
  const one = (s, c) => s.callPublicFn(id(c), c.fn, c.args, c.sender);
  check(decoded(setup).map((c) => one(simnet, c)));
  return { simnet, id, one };
}

// The modes in the bridge benchmark's order, each on a fresh simnet, so that each meets the
// process as warm as its bridge counterpart: one call at a time (against the bridge's one
// request per round trip), again (against its pipelined batches), then whole blocks.
async function oneByOne() {
  const { simnet, one } = await fresh();
  const calls = decoded(workload);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const results = calls.map((c) => one(simnet, c));
  const seconds = (performance.now() - start) / 1000;
  check(results);
  return { calls: calls.length, seconds, cpu_seconds: cpuSince(cpu) };
}

// CPU seconds of this process since `from` (the machine is shared: wall time swings with load)
function cpuSince(from) {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

const answer = {};
answer.sequential = await oneByOne();
answer.sequential_again = await oneByOne();
{
  const { simnet, id } = await fresh();
  const calls = decoded(workload);
  const start = performance.now();
  const cpu = process.cpuUsage();
  const results = [];
  for (let i = 0; i < calls.length; i += batch) {
    const txs = calls.slice(i, i + batch).map((c) => tx.callPublicFn(id(c), c.fn, c.args, c.sender));
    results.push(...simnet.mineBlock(txs));
  }
  const seconds = (performance.now() - start) / 1000;
  answer[`block=${batch}`] = { calls: calls.length, seconds, cpu_seconds: cpuSince(cpu) };
  check(results);
}
process.stdout.write(JSON.stringify(answer) + "\n");
