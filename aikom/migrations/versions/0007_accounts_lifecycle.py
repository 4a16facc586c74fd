"""Accounts lifecycle: what opening, linking, checking and closing accounts keep.

- `org_unit.edebo_mark` (ЄДЕБО's «Опорний / Філія»: hub or branch) and `org_unit.managing_body_name`
  (the register's managing body, verbatim): what linking branches to their hubs matches on;
- `branch_link`: each branch's linking outcome (linked, queued with ranked candidates, no candidate,
  confirmed by a person);
- `account.successor_org_unit_id`: a reorganised unit's successor;
- `person.kep_*`: the certificate of the person's last sign-in (issuer, serial, end of validity) and the
  expiry reminders already sent for it;
- `key_delivery`: a new API key's secret, encrypted, until it is shown once (or expires);
- `email_outbox.secret_*`: a secret a message carries (a base key), encrypted until sent, then erased;
- `rollout_item`: what a national rollout did for each unit (so that a resumed run skips it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("org_unit", sa.Column("edebo_mark", sa.String(10), nullable=True))
    op.add_column("org_unit", sa.Column("managing_body_name", sa.String(500), nullable=True))
    op.create_check_constraint(
        op.f("ck_org_unit_edebo_mark_known"), "org_unit", "edebo_mark IN ('hub', 'branch')"
    )
    op.create_table(
        "branch_link",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("hub_id", sa.Integer(), nullable=True),
        sa.Column("candidates", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('linked', 'queued', 'no_candidate', 'confirmed')",
            name=op.f("ck_branch_link_branch_link_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["org_unit.id"], name=op.f("fk_branch_link_branch_id_org_unit"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["org_unit.id"], name=op.f("fk_branch_link_hub_id_org_unit"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["person.id"],
            name=op.f("fk_branch_link_decided_by_id_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("branch_id", name=op.f("pk_branch_link")),
    )
    op.create_index("ix_branch_link_outcome", "branch_link", ["outcome"])

    op.add_column("account", sa.Column("successor_org_unit_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_account_successor_org_unit_id_org_unit"),
        "account",
        "org_unit",
        ["successor_org_unit_id"],
        ["id"],
        ondelete="RESTRICT",
    )

    op.add_column("person", sa.Column("kep_issuer", sa.String(500), nullable=True))
    op.add_column("person", sa.Column("kep_serial", sa.String(100), nullable=True))
    op.add_column("person", sa.Column("kep_not_after", sa.DateTime(timezone=True), nullable=True))
    op.add_column("person", sa.Column("kep_reminded_30_for", sa.DateTime(timezone=True), nullable=True))
    op.add_column("person", sa.Column("kep_reminded_7_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_person_kep_not_after",
        "person",
        ["kep_not_after"],
        postgresql_where=sa.text("state = 'active' AND kep_not_after IS NOT NULL"),
    )

    op.create_table(
        "key_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_key_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("cipher_key_id", sa.String(32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shown_to_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(ciphertext IS NULL) = (cipher_key_id IS NULL)", name=op.f("ck_key_delivery_cipher_both_or_none")
        ),
        sa.ForeignKeyConstraint(
            ["access_key_id"],
            ["access_key.id"],
            name=op.f("fk_key_delivery_access_key_id_access_key"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_key_delivery_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["shown_to_id"],
            ["person.id"],
            name=op.f("fk_key_delivery_shown_to_id_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_delivery")),
        sa.UniqueConstraint("access_key_id", name=op.f("uq_key_delivery_access_key_id")),
    )
    op.create_index("ix_key_delivery_account_id", "key_delivery", ["account_id"])

    op.add_column("email_outbox", sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True))
    op.add_column("email_outbox", sa.Column("secret_key_id", sa.String(32), nullable=True))

    op.create_table(
        "rollout_item",
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('opened', 'no_email', 'has_account', 'deactivated')",
            name=op.f("ck_rollout_item_rollout_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["process.id"],
            name=op.f("fk_rollout_item_process_id_process"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_unit.id"],
            name=op.f("fk_rollout_item_org_unit_id_org_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("process_id", "org_unit_id", name=op.f("pk_rollout_item")),
    )


def downgrade() -> None:
    op.drop_table("rollout_item")
    op.drop_column("email_outbox", "secret_key_id")
    op.drop_column("email_outbox", "secret_ciphertext")
    op.drop_index("ix_key_delivery_account_id", table_name="key_delivery")
    op.drop_table("key_delivery")
    op.drop_index("ix_person_kep_not_after", table_name="person")
    for column in ("kep_reminded_7_for", "kep_reminded_30_for", "kep_not_after", "kep_serial", "kep_issuer"):
        op.drop_column("person", column)
    op.drop_constraint(op.f("fk_account_successor_org_unit_id_org_unit"), "account", type_="foreignkey")
    op.drop_column("account", "successor_org_unit_id")
    op.drop_index("ix_branch_link_outcome", table_name="branch_link")
    op.drop_table("branch_link")
    op.drop_constraint(op.f("ck_org_unit_edebo_mark_known"), "org_unit", type_="check")
    op.drop_column("org_unit", "managing_body_name")
    op.drop_column("org_unit", "edebo_mark")
