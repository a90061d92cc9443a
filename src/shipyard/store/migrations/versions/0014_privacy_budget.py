"""Differential-privacy budgets and the ledger of releases.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shipyard.store.tables import JSONType, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_budgets",
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("budget", sa.Float(), nullable=True),
        sa.Column("spent", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_privacy_budgets"),
    )
    op.create_table(
        "privacy_releases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("what", JSONType, nullable=False),
        sa.Column("released_by", sa.String(256), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_releases"),
    )
    op.create_index(
        "ix_privacy_releases_subject_at", "privacy_releases", ["subject", "released_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_privacy_releases_subject_at", table_name="privacy_releases")
    op.drop_table("privacy_releases")
    op.drop_table("privacy_budgets")
