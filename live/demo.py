"""`run.py demo`: a devnet's test wallets fund the pool and buy policies through the engine's API.

What a front end and its users do, end to end: ask the API for the unsigned call, sign it as a
wallet does, and broadcast it to the node. Two providers (user-0, user-1) deposit into every
STX tier; two buyers (user-2, user-3) each protect 0.05 BTC at 95% of the current price,
expiring `--blocks` burn blocks on. The wallets are the ones `run.py devnet` wrote next to
its live.toml (keys/user-N.key); the engine's own keys are never read.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chain import transactions as txs
from chain.clarity import Err, deserialize, principal
from chain.keys import PrivateKey
from chain.port import TxStatus
from chain.protocol import BLOCKS_PER_YEAR
from live.commands import ApiDown, _api_call
from settings import ConfigError, check_range

_CONDITIONS = {c.name.lower(): c for c in txs.FungibleCondition}
_MODES = {"deny": txs.PostConditionMode.DENY, "allow": txs.PostConditionMode.ALLOW}
DEPOSIT_USTX = 200_000 * 1_000_000  # per provider and tier
PROTECT_SATS = 5_000_000  # 0.05 BTC per buyer
STRIKE_PCT = 95
FEE = 2000


@dataclass(frozen=True)
class Wallet:
    name: str
    key: PrivateKey

    @property
    def address(self) -> str:
        return self.key.principal().address

    def __repr__(self) -> str:  # never the key
        return f"Wallet({self.name}, {self.address})"


def wallets(config_path: Path) -> list[Wallet]:
    """The devnet's test wallets, written by `run.py devnet` beside its live.toml."""
    keys = config_path.parent / "keys"
    found = []
    for i in range(4):
        path = keys / f"user-{i}.key"
        if not path.is_file():
            raise ConfigError(
                f"--config: {path} is missing; allowed: a live.toml written by `run.py devnet` "
                "with at least 4 users"
            )
        found.append(Wallet(f"user-{i}", PrivateKey.from_hex(path.read_text().strip())))
    return found


def wallet_sign(payload: dict, wallet: Wallet, nonce: int) -> bytes:
    """Signs the API's payload as the user's wallet would, from the JSON alone.

    In Python rather than through @stacks/transactions: a quote is valid for a minute of chain
    time, which on a fast devnet is shorter than starting Node. Only the STX post-conditions the
    demo's calls carry are read; tests/live/test_payloads.py proves the same payloads signed by
    @stacks/transactions are accepted.
    """
    conditions = []
    for pc in payload["postConditions"]:
        if pc["type"] != "stx-postcondition":
            raise RuntimeError(f"the demo signs STX calls only, got a {pc['type']}")
        conditions.append(txs.STXPostCondition(principal(pc["address"]),
                                               _CONDITIONS[pc["condition"]],
                                               int(pc["amount"])))  # fmt: skip
    tx = txs.contract_call(
        wallet.key,
        principal(payload["contract"]),
        payload["functionName"],
        tuple(deserialize(bytes.fromhex(a.removeprefix("0x"))) for a in payload["functionArgs"]),
        nonce=nonce,
        fee=FEE,
        post_conditions=tuple(conditions),
        post_condition_mode=_MODES[payload["postConditionMode"]],
    )
    return tx.serialize()


def _post(config, path: str, body: dict) -> dict:
    code, answer = _api_call(config, "POST", path, body)
    if code != 200:
        raise ApiDown(f"{path} answered {code}: {answer.get('detail', answer)}")
    return answer


def _quote(config, body: dict, timeout: float, blocks: int | None = None) -> dict:
    """A quote. `no-price` is a passing refusal when the token's on-chain price is older than
    the registry's `price-max-age` (protocol v2 refuses such a purchase, u317) or no BTC-USD
    observation is from this or the previous burn block (u333): the Registry has asked the
    oracle for a fresh push, so ask again until `timeout`, with the expiration `blocks` after
    the burn height of each attempt when given."""
    deadline = time.monotonic() + timeout
    while True:
        if blocks is not None:
            height = _api_call(config, "GET", "/v1/status")[1]["burn_height"]
            body = {**body, "expiration": height + blocks}
        code, answer = _api_call(config, "POST", "/v1/quotes", body)
        if code == 200:
            return answer
        if code == 429 and time.monotonic() < deadline:  # asked again too often: slow down
            time.sleep(2)
            continue
        if "no-price" not in str(answer.get("detail", "")) or time.monotonic() > deadline:
            raise ApiDown(f"/v1/quotes answered {code}: {answer.get('detail', answer)}")
        time.sleep(0.5)


def _wait_ready(config, timeout: float) -> dict:
    """The engine's status once both prices are on chain (the first oracle pushes)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            code, body = _api_call(config, "GET", "/v1/status")
        except ApiDown as exc:
            last = str(exc)
        else:
            if code == 200 and all(p["onchain"] for p in body["prices"].values()):
                return body
            last = f"status {code}, prices not yet on chain"
        time.sleep(1)
    raise ApiDown(f"the engine was not ready within {timeout:g} s ({last})")


def _wait_funded(config, assets: int, timeout: float) -> None:
    """Until the engine has followed the deposits: it quotes only against what it has seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, pool = _api_call(config, "GET", "/v1/pool")
        stx = [int(t["assets"]) for t in pool.get("tranches", []) if t["token"] == "stx"]
        if code == 200 and len(stx) == 3 and min(stx) >= assets:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the engine did not see the deposits within {timeout:g} s")


def _confirm(chain, txids: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(txids)
    while waiting and time.monotonic() < deadline:
        for what, txid in list(waiting.items()):
            receipt = chain.status(txid)
            if receipt.status is TxStatus.PENDING:
                continue
            if receipt.status is not TxStatus.SUCCESS:
                raise RuntimeError(f"{what}: {receipt.status} ({receipt.result})")
            print(f"confirmed: {what}", file=sys.stderr)
            del waiting[what]
        time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"not confirmed within {timeout:g} s: {', '.join(waiting)}")


# purchase-policy's refusals of a quote that went stale before its transaction was mined
# (contracts/README.md): past quote-expiry (u304) or valid-until (u331), no observation in this
# or the previous burn block (u333), spot moved past quote-slippage-bps (u334). A wallet asks
# for a new quote.
STALE_QUOTE = (304, 331, 333, 334)


def _strike(config) -> int:
    """STRIKE_PCT of the on-chain BTC-USD price, in whole dollars."""
    price = int(_api_call(config, "GET", "/v1/status")[1]["prices"]["BTC-USD"]["onchain"])
    return price * STRIKE_PCT // 100 // 10**8 * 10**8


def _buy(config, chain, buyer: Wallet, args, send) -> None:
    """One purchase: a quote for `args.blocks` burn blocks from now, signed and sent at once.
    A v2 quote is good for a minute of chain time (a devnet's fast burn blocks each add ten),
    so one that went stale before it was mined is asked for again until `--wait`."""
    deadline = time.monotonic() + args.wait
    while True:
        strike = _strike(config)  # of the price now: a retry may come after a move
        body = {"buyer": buyer.address, "amount_sats": PROTECT_SATS, "strike": strike,
                "token": "stx"}  # fmt: skip
        answer = _quote(config, body, max(1.0, deadline - time.monotonic()), args.blocks)
        q = answer["quote"]
        what = (f"{buyer.name} buys quote {q['quote_id']}: 0.05 BTC at strike "
                f"{strike // 10**8} USD, premium {q['premium']} uSTX, expires at burn block "
                f"{q['expiration']}")  # fmt: skip
        txid = send(buyer, answer["payload"])
        receipt = chain.status(txid)
        while receipt.status is TxStatus.PENDING and time.monotonic() < deadline:
            time.sleep(0.2)
            receipt = chain.status(txid)
        result = receipt.result
        stale = isinstance(result, Err) and getattr(result.value, "value", None) in STALE_QUOTE
        if not stale or time.monotonic() > deadline:
            _confirm(chain, {what: txid}, 0.5)  # prints the confirmation or raises the failure
            return
        print(f"stale quote, asking again: {what}: {result}", file=sys.stderr)


def demo(args) -> int:
    from chain.node import NodeClient
    from chain.stacks import StacksChain
    from live.config import load

    path = Path(args.config)
    config = load(path)
    users = wallets(path)
    check_range("--wait", args.wait, 1, 3600)  # seconds
    check_range("--blocks", args.blocks, 1, BLOCKS_PER_YEAR)
    _wait_ready(config, args.wait)
    client = NodeClient(config.node_url)
    chain = StacksChain(client, config.contracts)
    try:
        nonces = {w.name: chain.nonce(w.key.principal()) for w in users}

        def send(wallet: Wallet, payload: dict) -> str:
            raw = wallet_sign(payload, wallet, nonces[wallet.name])
            nonces[wallet.name] += 1
            return client.broadcast(raw)

        deposits = {}
        for provider in users[:2]:
            for tier in (0, 1, 2):
                body = {"sender": provider.address, "token": "stx", "tier": tier,
                        "amount": DEPOSIT_USTX}  # fmt: skip
                answer = _post(config, "/v1/payloads/deposit", body)
                what = f"{provider.name} deposits {DEPOSIT_USTX // 10**6} STX in tier {tier}"
                deposits[what] = send(provider, answer["payload"])
        _confirm(chain, deposits, args.wait)
        _wait_funded(config, 2 * DEPOSIT_USTX, args.wait)

        _wait_ready(config, args.wait)
        for buyer in users[2:4]:
            _buy(config, chain, buyer, args, send)
    finally:
        client.close()
    for p in _policies(config, users[2:4], args.wait):
        print(f"policy {p['id']} owner {p['owner']} {p['status']} strike "
              f"{int(p['strike']) // 10**8} USD expiration {p['expiration']}")  # fmt: skip
    return 0


def _policies(config, buyers: list[Wallet], timeout: float) -> list[dict]:
    """The buyers' policies once the engine has followed their purchases into its store."""
    deadline = time.monotonic() + timeout
    while True:
        found = [_api_call(config, "GET", f"/v1/policies?owner={b.address}")[1]["policies"]
                 for b in buyers]  # fmt: skip
        if all(found) or time.monotonic() > deadline:
            return [p for ps in found for p in ps]
        time.sleep(0.5)
