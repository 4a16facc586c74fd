"""ОІС: operators as companies, applications with a signed accession agreement, conformity reviews and
the Institute's conclusions, dated capability phases, and grants that bind a school's API key.

- `org_unit.level` accepts `ois_company`: an ОІС operator's company (its ЄДРПОУ), hung under the
  national unit so that the institute's scope covers it; it ranks below every education level;
- `ois`: states `returned` (a review failed: the operator fixes and resubmits) and `disconnected`;
  the operator's company, the client id the gateway names it by, the reason of its last state change;
- `agreement`: its КЕП signature (CMS) and signer, its number and date once approved, its state, the
  signed decision approving it;
- `ois_review`: each conformity review (round `connection` or `extended`), item by item;
- `ois_conclusion`: the Institute's conformity conclusion (number, date, findings) with its signature;
- `ois_phase`: capability in force from a date (the one in force is the latest already effective);
- `ois_grant`: the agreement and capability it was given under, the data sets, the school's contract
  with the operator, who revoked it and why.

Revision ID: 0009o
Revises: 0008s
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009o"
down_revision: str | None = "0008s"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("national", "oblast", "rayon", "hromada", "district", "school", "branch")
LEVELS_WITH_COMPANY = (*LEVELS, "ois_company")
OIS_STATES = ("applied", "in_review", "connected", "rejected", "suspended")
OIS_STATES_NEW = (*OIS_STATES, "returned", "disconnected")
CAPABILITIES = ("none", "receive", "receive_transmit")


def _rank_function(levels: Sequence[str]) -> str:
    cases = " ".join(f"WHEN '{level}' THEN {rank}" for rank, level in enumerate(levels))
    return (
        "CREATE OR REPLACE FUNCTION aikom_level_rank(level text) RETURNS integer\n"
        f"LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT CASE level {cases} END $$;"
    )


def _check(table: str, name: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    allowed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, f"{column} IN ({allowed})")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    _check("org_unit", "org_level", "level", LEVELS_WITH_COMPANY)
    op.execute(_rank_function(LEVELS_WITH_COMPANY))
    _check("ois", "ois_state", "state", OIS_STATES_NEW)

    op.add_column("ois", sa.Column("operator_org_unit_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_ois_operator_org_unit_id_org_unit"),
        "ois",
        "org_unit",
        ["operator_org_unit_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index("ix_ois_operator_org_unit_id", "ois", ["operator_org_unit_id"])
    op.add_column("ois", sa.Column("client_id", sa.String(64), nullable=True))
    op.create_index("uq_ois_client_id", "ois", ["client_id"], unique=True)
    op.add_column("ois", sa.Column("state_reason", sa.String(1000), nullable=True))
    op.add_column("ois", sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("ois", sa.Column("submission_count", sa.Integer(), nullable=False, server_default="0"))

    op.add_column("agreement", sa.Column("signature", sa.LargeBinary(), nullable=True))
    op.add_column("agreement", sa.Column("signer_edrpou", sa.String(8), nullable=True))
    op.add_column("agreement", sa.Column("signer_name", sa.String(300), nullable=True))
    op.add_column("agreement", sa.Column("signer_serial", sa.String(100), nullable=True))
    op.add_column("agreement", sa.Column("number", sa.String(50), nullable=True))
    op.add_column("agreement", sa.Column("agreement_date", sa.Date(), nullable=True))
    op.add_column(
        "agreement",
        sa.Column(
            "state",
            _enum("agreement_state", "submitted", "approved", "rejected", "superseded"),
            nullable=False,
            server_default="submitted",
        ),
    )
    op.add_column("agreement", sa.Column("decision_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_agreement_decision_id_signed_decision"),
        "agreement",
        "signed_decision",
        ["decision_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index("uq_agreement_number", "agreement", ["number"], unique=True)
    op.create_index("ix_agreement_ois_id", "agreement", ["ois_id"])

    op.create_table(
        "ois_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ois_id", sa.Integer(), nullable=False),
        sa.Column("round", _enum("ois_review_round", "connection", "extended"), nullable=False),
        sa.Column("submission_no", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", _enum("ois_review_outcome", "passed", "failed"), nullable=False),
        sa.Column("comment", sa.String(5000), nullable=True),
        sa.Column("process_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ois_id"], ["ois.id"], name=op.f("fk_ois_review_ois_id_ois"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["person.id"], name=op.f("fk_ois_review_reviewer_id_person"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["process_id"], ["process.id"], name=op.f("fk_ois_review_process_id_process"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ois_review")),
    )
    op.create_index("ix_ois_review_ois_id", "ois_review", ["ois_id", "created_at"])

    op.create_table(
        "ois_conclusion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ois_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(50), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ois_id"], ["ois.id"], name=op.f("fk_ois_conclusion_ois_id_ois"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["ois_review.id"],
            name=op.f("fk_ois_conclusion_review_id_ois_review"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["signer_id"], ["person.id"], name=op.f("fk_ois_conclusion_signer_id_person"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ois_conclusion")),
        sa.UniqueConstraint("number", name=op.f("uq_ois_conclusion_number")),
        sa.UniqueConstraint("review_id", name=op.f("uq_ois_conclusion_review_id")),
    )

    op.create_table(
        "ois_phase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ois_id", sa.Integer(), nullable=False),
        sa.Column("capability", _enum("ois_phase_capability", *CAPABILITIES), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ois_id"], ["ois.id"], name=op.f("fk_ois_phase_ois_id_ois"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["ois_review.id"],
            name=op.f("fk_ois_phase_review_id_ois_review"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["signed_decision.id"],
            name=op.f("fk_ois_phase_decision_id_signed_decision"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["person.id"],
            name=op.f("fk_ois_phase_created_by_id_person"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ois_phase")),
    )
    op.create_index("ix_ois_phase_ois_effective", "ois_phase", ["ois_id", "effective_from"])

    op.add_column("ois_grant", sa.Column("agreement_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_ois_grant_agreement_id_agreement"),
        "ois_grant",
        "agreement",
        ["agreement_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.add_column(
        "ois_grant", sa.Column("capability", _enum("ois_grant_capability", *CAPABILITIES), nullable=True)
    )
    op.add_column(
        "ois_grant",
        sa.Column("data_sets", postgresql.ARRAY(sa.String(64)), nullable=False, server_default="{}"),
    )
    op.add_column("ois_grant", sa.Column("contract_number", sa.String(100), nullable=True))
    op.add_column("ois_grant", sa.Column("contract_date", sa.Date(), nullable=True))
    op.add_column("ois_grant", sa.Column("revoked_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_ois_grant_revoked_by_id_person"),
        "ois_grant",
        "person",
        ["revoked_by_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.add_column("ois_grant", sa.Column("revoke_reason", sa.String(500), nullable=True))
    op.add_column("ois_grant", sa.Column("process_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_ois_grant_process_id_process"),
        "ois_grant",
        "process",
        ["process_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index("ix_ois_grant_api_key_id", "ois_grant", ["api_key_id"])
    op.create_index("ix_ois_grant_school", "ois_grant", ["school_org_unit_id"])


def downgrade() -> None:
    op.drop_index("ix_ois_grant_school", table_name="ois_grant")
    op.drop_index("ix_ois_grant_api_key_id", table_name="ois_grant")
    for fk in (
        "fk_ois_grant_process_id_process",
        "fk_ois_grant_revoked_by_id_person",
        "fk_ois_grant_agreement_id_agreement",
    ):
        op.drop_constraint(op.f(fk), "ois_grant", type_="foreignkey")
    for column in (
        "process_id",
        "revoke_reason",
        "revoked_by_id",
        "contract_date",
        "contract_number",
        "data_sets",
        "capability",
        "agreement_id",
    ):
        op.drop_column("ois_grant", column)
    op.drop_table("ois_phase")
    op.drop_table("ois_conclusion")
    op.drop_table("ois_review")
    op.drop_index("ix_agreement_ois_id", table_name="agreement")
    op.drop_index("uq_agreement_number", table_name="agreement")
    op.drop_constraint(op.f("fk_agreement_decision_id_signed_decision"), "agreement", type_="foreignkey")
    for column in (
        "decision_id",
        "state",
        "agreement_date",
        "number",
        "signer_serial",
        "signer_name",
        "signer_edrpou",
        "signature",
    ):
        op.drop_column("agreement", column)
    for column in ("submission_count", "state_changed_at", "state_reason"):
        op.drop_column("ois", column)
    op.drop_index("uq_ois_client_id", table_name="ois")
    op.drop_column("ois", "client_id")
    op.drop_index("ix_ois_operator_org_unit_id", table_name="ois")
    op.drop_constraint(op.f("fk_ois_operator_org_unit_id_org_unit"), "ois", type_="foreignkey")
    op.drop_column("ois", "operator_org_unit_id")
    _check("ois", "ois_state", "state", OIS_STATES)
    op.execute(_rank_function(LEVELS))
    _check("org_unit", "org_level", "level", LEVELS)
