"""a send task's batch: which task holds a due dispatch, and until when

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatch') as batch:
        batch.add_column(sa.Column('reserved_by', sqlmodel.sql.sqltypes.AutoString(),
                                   nullable=True))
        batch.add_column(sa.Column('reserved_until', sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('dispatch') as batch:
        batch.drop_column('reserved_until')
        batch.drop_column('reserved_by')
