"""User tasks carry what the task APIs show and filter; Camunda forms are deployed.

``user_tasks`` gains the task's process (id, version key and number), business key, linked
form (its id and the version bound at creation), external form reference, owner and
delegation state (Camunda 7 delegation) and when it last changed; ``forms`` keeps every
deployed version of a Camunda form (a form-js ``.form`` file).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
"""``schema._TIMESTAMP`` as stored: integer microseconds on SQLite, timestamptz elsewhere."""


def upgrade() -> None:
    with op.batch_alter_table("user_tasks") as batch:
        batch.add_column(sa.Column("process_id", sa.String(255), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("definition_key", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("process_version", sa.Integer, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("business_key", sa.String(255)))
        batch.add_column(sa.Column("form_id", sa.String(255)))
        batch.add_column(sa.Column("linked_form_key", sa.BigInteger))
        batch.add_column(sa.Column("external_form_reference", sa.Text))
        batch.add_column(sa.Column("owner", sa.String(255)))
        batch.add_column(sa.Column("delegation_state", sa.String(16)))
        batch.add_column(sa.Column("updated_at", _TIMESTAMP))
        batch.create_index("ix_user_tasks_process_state", ["process_id", "state"])
        batch.create_index("ix_user_tasks_state_due", ["state", "due_at"])
    # Tasks created before this revision: their process, from their instance.
    op.execute(
        "UPDATE user_tasks SET process_id = (SELECT i.process_id FROM instances i"
        " WHERE i.instance_key = user_tasks.instance_key),"
        " definition_key = (SELECT i.definition_key FROM instances i"
        " WHERE i.instance_key = user_tasks.instance_key),"
        " process_version = (SELECT i.version FROM instances i"
        " WHERE i.instance_key = user_tasks.instance_key),"
        " business_key = (SELECT i.business_key FROM instances i"
        " WHERE i.instance_key = user_tasks.instance_key)"
    )
    op.create_table(
        "forms",
        sa.Column("form_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("form_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("resource_name", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("deployed_at", _TIMESTAMP, nullable=False),
        sa.Column("version_tag", sa.String(255)),
        sa.PrimaryKeyConstraint("form_key", name=op.f("pk_forms")),
    )
    op.create_index("ux_forms_form_version", "forms", ["form_id", "version"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_forms_form_version", table_name="forms")
    op.drop_table("forms")
    with op.batch_alter_table("user_tasks") as batch:
        batch.drop_index("ix_user_tasks_state_due")
        batch.drop_index("ix_user_tasks_process_state")
        for name in (
            "updated_at",
            "delegation_state",
            "owner",
            "external_form_reference",
            "linked_form_key",
            "form_id",
            "business_key",
            "process_version",
            "definition_key",
            "process_id",
        ):
            batch.drop_column(name)
