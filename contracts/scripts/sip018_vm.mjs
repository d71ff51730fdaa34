// SIP-018 in the Clarity VM: signatures made by @stacks/transactions' signStructuredData,
// checked with secp256k1-verify / secp256k1-recover? over a hash the VM computes itself.
//
// Usage (from contracts/): node scripts/sip018_vm.mjs < request.json > answer.json
// Driven by tests/chain/test_sip018_vm.py. Nothing in contracts/contracts/ is changed: each case
// deploys a throw-away Clarity 4 contract into the simnet's memory holding the domain and the
// message as constants (written as Clarity literals, so the VM serializes them with its own
// rules, tuple key order included) and these read-only functions:
//   (message-hash)            sha256("SIP018" || sha256(domain) || sha256(message))
//   (verify sig key)          secp256k1-verify over (message-hash)
//   (recover sig)             secp256k1-recover? and principal-of? of the recovered key
//
// Request: {"cases": [{
//   "label": str,
//   "domain": hex,            consensus bytes of the domain tuple
//   "domain_chain_id": bool,  optional: write the domain's chain-id as the VM's `chain-id`
//   "message": hex,           consensus bytes of the message
//   "private_key": hex        sign in Node with signStructuredData, or instead
//   "signature": hex, "public_key": hex    a given signature and key
//   "flip": [int],            signature byte positions to flip (xor 1), each verified
//   "others": [{"label", "domain", "message"}]   the same signature checked against these
// }]}
// Answer: {"chain_id": "<the VM's chain-id>", "cases": [{"label", "node_hash", "signature",
//   "public_key", "vm_hash", "verify", "recover", "flipped": [{"position", "verify"}],
//   "others": [{"label", "vm_hash", "verify"}]}]}
// Every VM result is the hex of its consensus serialization, so Python decodes it.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { initSimnet } from "@stacks/clarinet-sdk";
import {
  Cl,
  deserializeCV,
  encodeStructuredData,
  privateKeyToPublic,
  serializeCV,
  signStructuredData,
} from "@stacks/transactions";

console.log = (...args) => process.stderr.write(args.join(" ") + "\n");
console.info = console.log;
console.warn = console.log;

const request = JSON.parse(readFileSync(0, "utf8"));
const simnet = await initSimnet("Clarinet.toml");
const deployer = simnet.getAccounts().get("deployer");

const hex = (cv) => {
  const s = serializeCV(cv);
  return typeof s === "string" ? s : Buffer.from(s).toString("hex");
};
const sha256hex = (h) => createHash("sha256").update(Buffer.from(h, "hex")).digest("hex");

function domainLiteral(domainHex, useChainId) {
  const cv = deserializeCV(domainHex);
  if (!useChainId) return Cl.prettyPrint(cv);
  const { name, version } = cv.value;
  return `{chain-id: chain-id, name: ${Cl.prettyPrint(name)}, version: ${Cl.prettyPrint(version)}}`;
}

let deployed = 0;
// Deploys a contract holding one (domain, message) pair; returns its name.
function deployPair(domainHex, useChainId, messageHex) {
  const name = `sip018-check-${deployed++}`;
  const source = `
(define-constant DOMAIN ${domainLiteral(domainHex, useChainId)})
(define-constant MESSAGE ${Cl.prettyPrint(deserializeCV(messageHex))})
(define-read-only (message-hash)
  (sha256 (concat 0x534950303138 (concat (sha256 (unwrap-panic (to-consensus-buff? DOMAIN)))
                                         (sha256 (unwrap-panic (to-consensus-buff? MESSAGE)))))))
(define-read-only (verify (signature (buff 65)) (public-key (buff 33)))
  (secp256k1-verify (message-hash) signature public-key))
(define-read-only (recover (signature (buff 65)))
  (match (secp256k1-recover? (message-hash) signature)
    key (ok {key: key, signer: (principal-of? key)})
    code (err code)))
`;
  const res = simnet.deployContract(name, source, { clarityVersion: 4 }, deployer);
  if (res.result.type !== "true" && res.result.type !== "ok") {
    throw new Error(`sip018_vm.mjs: deploying ${name} gave ${Cl.prettyPrint(res.result)}`);
  }
  return name;
}

const read = (contract, fn, args) => hex(simnet.callReadOnlyFn(`${deployer}.${contract}`, fn, args, deployer).result);
const flipped = (sigHex, position) => {
  const b = Buffer.from(sigHex, "hex");
  b[position] ^= 1;
  return b.toString("hex");
};

const cases = request.cases.map((c) => {
  const domainCV = deserializeCV(c.domain);
  const messageCV = deserializeCV(c.message);
  const signature = c.private_key
    ? signStructuredData({ message: messageCV, domain: domainCV, privateKey: c.private_key })
    : c.signature;
  const publicKey = c.private_key ? privateKeyToPublic(c.private_key) : c.public_key;
  const contract = deployPair(c.domain, Boolean(c.domain_chain_id), c.message);
  const verify = (sig) => read(contract, "verify", [Cl.bufferFromHex(sig), Cl.bufferFromHex(publicKey)]);
  return {
    label: c.label,
    node_hash: sha256hex(encodeStructuredData({ message: messageCV, domain: domainCV })),
    signature,
    public_key: publicKey,
    vm_hash: read(contract, "message-hash", []),
    verify: verify(signature),
    recover: read(contract, "recover", [Cl.bufferFromHex(signature)]),
    flipped: (c.flip ?? []).map((position) => ({ position, verify: verify(flipped(signature, position)) })),
    others: (c.others ?? []).map((o) => {
      const other = deployPair(o.domain, false, o.message);
      return {
        label: o.label,
        vm_hash: read(other, "message-hash", []),
        verify: read(other, "verify", [Cl.bufferFromHex(signature), Cl.bufferFromHex(publicKey)]),
      };
    }),
  };
});

const chainId = simnet.execute("chain-id").result;
process.stdout.write(`${JSON.stringify({ chain_id: chainId.value.toString(), cases })}\n`);
