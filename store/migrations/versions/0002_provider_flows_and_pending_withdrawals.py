"""provider flows and pending withdrawals: the pool's deposits and two-step withdrawals, kept

`GET /v1/providers/{principal}` read these from the chain into memory, so a restart lost them
until the node was read again; the Pool actor now records them as it sees the pool's prints.
Money and share columns are `ExactInt` in store.schema: `sa.String()` here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 22:11:12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXACT_INT = sa.String  # store.schema.ExactInt


def upgrade() -> None:
    op.create_table(
        "pending_withdrawals",
        sa.Column("token", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("shares", EXACT_INT(), nullable=False),
        sa.Column("value", EXACT_INT(), nullable=False),
        sa.Column("ready_at", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token", "tier", "provider"),
    )
    op.create_table(
        "provider_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txid", sa.String(), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("amount", EXACT_INT(), nullable=False),
        sa.Column("shares", EXACT_INT(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("ready_at", sa.BigInteger(), nullable=True),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("burn_height", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("txid", "event_index", name="uq_provider_flows_event"),
    )
    op.create_index("ix_provider_flows_provider", "provider_flows", ["provider"])


def downgrade() -> None:
    op.drop_table("provider_flows")  # its index goes with it
    op.drop_table("pending_withdrawals")
