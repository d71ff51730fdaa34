// What a wallet does with the engine's unsigned call: sign it with @stacks/transactions.
//
// Reads one JSON object on stdin, {payload, key, nonce, fee}: `payload` as `run.py quote`
// prints it (hex Clarity arguments, post-conditions as @stacks/transactions objects), `key` the
// user's private key in hex (stdin, never argv, so no process listing shows it). Prints the
// signed transaction's hex. Used by the tests to prove that wallet-built bytes are accepted.
import { deserializeCV, makeContractCall } from "@stacks/transactions";

let text = "";
for await (const chunk of process.stdin) text += chunk;
const { payload, key, nonce, fee } = JSON.parse(text);
const tx = await makeContractCall({
  contractAddress: payload.contractAddress,
  contractName: payload.contractName,
  functionName: payload.functionName,
  functionArgs: payload.functionArgs.map((a) => deserializeCV(a)),
  postConditions: payload.postConditions,
  postConditionMode: payload.postConditionMode,
  network: payload.network,
  senderKey: key,
  nonce: BigInt(nonce),
  fee: BigInt(fee),
  validateWithAbi: false,
});
const hex = tx.serialize();
process.stdout.write((typeof hex === "string" ? hex : Buffer.from(hex).toString("hex")) + "\n");
