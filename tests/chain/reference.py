"""Loads the reference vectors written by `contracts/scripts/vectors.mjs` (@stacks/transactions)
and turns their JSON inputs into this package's objects."""

from __future__ import annotations

import json
from pathlib import Path

from chain import clarity
from chain import transactions as tx

VECTORS_PATH = Path(__file__).with_name("vectors.json")
VECTORS = json.loads(VECTORS_PATH.read_text())

CONDITIONS = {
    "eq": tx.FungibleCondition.EQ,
    "gt": tx.FungibleCondition.GT,
    "gte": tx.FungibleCondition.GTE,
    "lt": tx.FungibleCondition.LT,
    "lte": tx.FungibleCondition.LTE,
    "sent": tx.NonFungibleCondition.SENT,
    "not-sent": tx.NonFungibleCondition.NOT_SENT,
}


def pc_principal(text: str) -> tx.PostConditionPrincipal:
    return tx.ORIGIN if text == "origin" else clarity.principal(text)


def asset(text: str) -> tx.Asset:
    contract, name = text.split("::")
    found = clarity.principal(contract)
    assert isinstance(found, clarity.ContractPrincipal)
    return tx.Asset(found, name)


def post_condition(obj: dict) -> tx.PostCondition:
    who, cond = pc_principal(obj["principal"]), CONDITIONS[obj["condition"]]
    if obj["type"] == "stx":
        return tx.STXPostCondition(who, cond, int(obj["amount"]))
    if obj["type"] == "ft":
        return tx.FTPostCondition(who, asset(obj["asset"]), cond, int(obj["amount"]))
    return tx.NFTPostCondition(who, asset(obj["asset"]), clarity.from_json(obj["asset_id"]), cond)
