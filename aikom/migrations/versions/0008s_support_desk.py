"""Support desk: requests with requester, assignee, priority and timestamps; their threads of messages,
attachments, what the mail intake has read; threading headers on outbox messages.

- `support_request`: types `ois_access` and `other`; states `in_progress` and `closed`; requester email,
  assignee, priority, channel, link to an earlier request, flag, first response / resolved / closed at;
- `support_message`: the thread (in/out, public reply or internal note, Message-ID, In-Reply-To);
- `support_attachment`: a message's files (bytes in the database, size and SHA-256);
- `support_intake`: each inbound message taken once, by Message-ID (auto-replies and refusals kept raw);
- `support_mailbox_cursor`: how far each mail source has been read;
- `email_outbox.headers`: threading headers of a reply.

Revision ID: 0008s
Revises: 0008d
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008s"
down_revision: str | None = "0008d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = ("question", "kep_trouble", "data_fix", "new_school", "key_regeneration", "ois_access", "other")
OLD_TYPES = TYPES[:5]
STATES = ("new", "info_requested", "accepted", "in_progress", "rejected", "done", "closed")
OLD_STATES = ("new", "info_requested", "accepted", "rejected", "done")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fk(table: str, column: str, target: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    t = "support_request"
    op.drop_constraint(op.f("ck_support_request_support_request_type"), t, type_="check")
    op.create_check_constraint(op.f("ck_support_request_support_request_type"), t, _in("type", TYPES))
    op.drop_constraint(op.f("ck_support_request_support_request_state"), t, type_="check")
    op.create_check_constraint(op.f("ck_support_request_support_request_state"), t, _in("state", STATES))
    op.add_column(t, sa.Column("priority", sa.String(32), nullable=False, server_default="normal"))
    op.create_check_constraint(
        op.f("ck_support_request_support_priority"), t, _in("priority", ("low", "normal", "high", "urgent"))
    )
    op.add_column(t, sa.Column("channel", sa.String(32), nullable=False, server_default="dashboard"))
    op.create_check_constraint(
        op.f("ck_support_request_support_channel"), t, _in("channel", ("dashboard", "email"))
    )
    op.add_column(t, sa.Column("requester_email", sa.String(320), nullable=True))
    op.add_column(t, sa.Column("assignee_id", sa.Integer(), nullable=True))
    op.add_column(t, sa.Column("linked_request_id", sa.Integer(), nullable=True))
    op.add_column(t, sa.Column("flag", sa.String(32), nullable=True))
    for column in ("first_response_at", "resolved_at", "closed_at"):
        op.add_column(t, sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("fk_support_request_assignee_id_person"),
        t,
        "person",
        ["assignee_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("fk_support_request_linked_request_id_support_request"),
        t,
        t,
        ["linked_request_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_check_constraint(
        op.f("ck_support_request_has_requester"),
        t,
        "requester_person_id IS NOT NULL OR requester_email IS NOT NULL",
    )
    op.create_index("ix_support_request_state_created", t, ["state", "created_at"])
    op.create_index("ix_support_request_assignee_id", t, ["assignee_id"])
    op.create_index("ix_support_request_requester_person_id", t, ["requester_person_id"])
    op.create_index("ix_support_request_requester_email", t, [sa.text("lower(requester_email)")])

    op.create_table(
        "support_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("visibility", sa.String(32), nullable=False),
        sa.Column("author_person_id", sa.Integer(), nullable=True),
        sa.Column("author_email", sa.String(320), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("in_reply_to", sa.String(998), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            _in("direction", ("in", "out")), name=op.f("ck_support_message_support_message_direction")
        ),
        sa.CheckConstraint(
            _in("visibility", ("public", "internal")),
            name=op.f("ck_support_message_support_message_visibility"),
        ),
        sa.CheckConstraint(
            "direction = 'out' OR visibility = 'public'", name=op.f("ck_support_message_inbound_is_public")
        ),
        _fk("support_message", "request_id", "support_request"),
        _fk("support_message", "author_person_id", "person"),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["email_outbox.id"],
            name=op.f("fk_support_message_outbox_id_email_outbox"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_message")),
    )
    op.create_index("ix_support_message_request_id", "support_message", ["request_id", "id"])
    op.create_index(
        "uq_support_message_message_id",
        "support_message",
        ["message_id"],
        unique=True,
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )

    op.create_table(
        "support_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "size_bytes = octet_length(content)", name=op.f("ck_support_attachment_size_matches")
        ),
        _fk("support_attachment", "request_id", "support_request"),
        _fk("support_attachment", "message_id", "support_message"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_attachment")),
    )
    op.create_index("ix_support_attachment_request_id", "support_attachment", ["request_id"])

    op.create_table(
        "support_intake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(998), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            _in("outcome", ("opened", "appended", "auto_reply", "rejected")),
            name=op.f("ck_support_intake_support_intake_outcome"),
        ),
        _fk("support_intake", "request_id", "support_request"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_intake")),
        sa.UniqueConstraint("message_key", name=op.f("uq_support_intake_message_key")),
    )
    op.create_table(
        "support_mailbox_cursor",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_support_mailbox_cursor")),
    )
    op.add_column("email_outbox", sa.Column("headers", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("email_outbox", "headers")
    op.drop_table("support_mailbox_cursor")
    op.drop_table("support_intake")
    op.drop_table("support_attachment")
    op.drop_table("support_message")
    t = "support_request"
    for index in (
        "ix_support_request_requester_email",
        "ix_support_request_requester_person_id",
        "ix_support_request_assignee_id",
        "ix_support_request_state_created",
    ):
        op.drop_index(index, table_name=t)
    op.drop_constraint(op.f("ck_support_request_has_requester"), t, type_="check")
    op.drop_constraint(op.f("fk_support_request_linked_request_id_support_request"), t, type_="foreignkey")
    op.drop_constraint(op.f("fk_support_request_assignee_id_person"), t, type_="foreignkey")
    for column in (
        "closed_at",
        "resolved_at",
        "first_response_at",
        "flag",
        "linked_request_id",
        "assignee_id",
        "requester_email",
        "channel",
        "priority",
    ):
        op.drop_column(t, column)
    op.drop_constraint(op.f("ck_support_request_support_request_state"), t, type_="check")
    op.create_check_constraint(op.f("ck_support_request_support_request_state"), t, _in("state", OLD_STATES))
    op.drop_constraint(op.f("ck_support_request_support_request_type"), t, type_="check")
    op.create_check_constraint(op.f("ck_support_request_support_request_type"), t, _in("type", OLD_TYPES))
