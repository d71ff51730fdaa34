"""initial schema: the tables of store.schema as they stood when migrations began

Money, price and share columns are `ExactInt` in store.schema, whose column is a VARCHAR of
decimal digits: `sa.String()` here.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 13:07:30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXACT_INT = sa.String  # store.schema.ExactInt


def upgrade() -> None:
    op.create_table(
        "prices_raw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("price", EXACT_INT(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("price", EXACT_INT(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prices_asset_ts", "prices", ["asset", "ts"])
    op.create_table(
        "volatility",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("vol", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_volatility_asset_ts", "volatility", ["asset", "ts"])
    op.create_table(
        "quotes",
        sa.Column("quote_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("buyer", sa.String(), nullable=False),
        sa.Column("amount", EXACT_INT(), nullable=False),
        sa.Column("strike", EXACT_INT(), nullable=False),
        sa.Column("expiration", sa.BigInteger(), nullable=False),
        sa.Column("premium", EXACT_INT(), nullable=False),
        sa.Column("collateral", EXACT_INT(), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("quote_expiry", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("quote_id"),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("amount", EXACT_INT(), nullable=False),
        sa.Column("strike", EXACT_INT(), nullable=False),
        sa.Column("expiration", sa.BigInteger(), nullable=False),
        sa.Column("premium", EXACT_INT(), nullable=False),
        sa.Column("collateral", EXACT_INT(), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("payout", EXACT_INT(), nullable=False),
        sa.Column("paid", EXACT_INT(), nullable=False),
        sa.Column("price", EXACT_INT(), nullable=False),
        sa.Column("purchased_block", sa.BigInteger(), nullable=False),
        sa.Column("settled_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policies_expiration", "policies", ["expiration"])
    op.create_index("ix_policies_status", "policies", ["status"])
    op.create_table(
        "provider_shares",
        sa.Column("token", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("shares", EXACT_INT(), nullable=False),
        sa.PrimaryKeyConstraint("token", "tier", "provider"),
    )
    op.create_table(
        "tranche_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("total_assets", EXACT_INT(), nullable=False),
        sa.Column("total_shares", EXACT_INT(), nullable=False),
        sa.Column("locked", EXACT_INT(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_tranche_snapshots_tranche_block", "tranche_snapshots", ["token", "tier", "block"]
    )
    op.create_table(
        "outbox",
        sa.Column("txid", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("raw_hex", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fee", EXACT_INT(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("txid"),
    )
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    for table in (
        "cursors",
        "outbox",
        "tranche_snapshots",
        "provider_shares",
        "policies",
        "quotes",
        "volatility",
        "prices",
        "prices_raw",
    ):
        op.drop_table(table)  # its indexes go with it
