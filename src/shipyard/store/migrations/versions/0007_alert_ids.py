"""Alert ids are never reused: on SQLite the alerts table gets AUTOINCREMENT, so an id
freed by deleting a rule (with its alerts) is not given to a later alert. PostgreSQL's
sequences never reuse ids; nothing changes there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OPEN = sa.text("state IN ('firing', 'acknowledged')")


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Dropping the old table deletes its deliveries (ON DELETE CASCADE, and foreign keys
    # cannot be switched off inside the migration's transaction): keep them aside.
    op.execute("CREATE TABLE _kept_alert_deliveries AS SELECT * FROM alert_deliveries")
    op.drop_index("uq_alerts_open", table_name="alerts")
    op.drop_index("ix_alerts_state", table_name="alerts")
    with op.batch_alter_table(
        "alerts", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["dedup_key"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.execute("DELETE FROM alert_deliveries")
    op.execute("INSERT INTO alert_deliveries SELECT * FROM _kept_alert_deliveries")
    op.execute("DROP TABLE _kept_alert_deliveries")


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
