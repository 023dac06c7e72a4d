"""case states: dispute, hold, promise, payment plan, collection, legal hold — with who and why

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import hub.store.money

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('amount', hub.store.money.Money(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('opened_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_case_state_invoice_id'), 'case_state', ['invoice_id'], unique=False)
    op.create_index(op.f('ix_case_state_customer_id'), 'case_state', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_state_customer_id'), table_name='case_state')
    op.drop_index(op.f('ix_case_state_invoice_id'), table_name='case_state')
    op.drop_table('case_state')
