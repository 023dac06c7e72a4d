"""the day an invoice's last step was planned (earned escalation: the gap to the next);
an index for one invoice's history (`explain`, `history --invoice`)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dunning_on', sa.Date(), nullable=True))
    op.create_index(op.f('ix_invoice_number'), 'invoice', ['number'], unique=False)
    # partial: most events (planned, sent) name a dispatch, not an invoice, and cost nothing
    op.create_index('ix_event_invoice', 'event', ['invoice_id'],
                    sqlite_where=sa.text('invoice_id IS NOT NULL'),
                    postgresql_where=sa.text('invoice_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_event_invoice', table_name='event')
    op.drop_index(op.f('ix_invoice_number'), table_name='invoice')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('dunning_on')
