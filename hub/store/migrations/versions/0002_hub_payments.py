"""payments the hub learned of, and applied webhook events

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_paid_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('hub_paid_ref', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.create_index('ix_invoice_hub_paid', 'invoice', ['connection_id'],
                    sqlite_where=sa.text('hub_paid_at IS NOT NULL'),
                    postgresql_where=sa.text('hub_paid_at IS NOT NULL'))
    op.create_table('webhook_event',
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'event_id')
    )


def downgrade() -> None:
    op.drop_index('ix_invoice_hub_paid', table_name='invoice')
    op.drop_table('webhook_event')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('hub_paid_ref')
        batch_op.drop_column('hub_paid_at')
