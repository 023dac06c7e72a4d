"""why a dispatch waits for a person; a case state's facts (balance covered, instalments);
where each invoice stands in its scenario, in a narrow table of its own; an index of the
credit notes; the customer's type (business or consumer) and the invoice's own rate for the
late-payment law

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import hub.store.money

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatch') as batch:
        batch.add_column(sa.Column('approval_reason', sqlmodel.sql.sqltypes.AutoString(),
                                   nullable=True))
    with op.batch_alter_table('case_state') as batch:
        batch.add_column(sa.Column('data', sa.JSON(), nullable=False, server_default='{}'))
    # where each invoice stands in its scenario, out of the wide invoice row
    op.create_table('dunning',
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('scenario', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=True),
    sa.Column('resume_at', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.PrimaryKeyConstraint('invoice_id')
    )
    op.execute("INSERT INTO dunning (invoice_id, scenario, level, planned_on) SELECT id, "
               "dunning_scenario, dunning_level, dunning_on FROM invoice "
               "WHERE dunning_scenario IS NOT NULL")
    for column in ('dunning_scenario', 'dunning_level', 'dunning_on'):
        op.drop_column('invoice', column)  # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35)
    op.add_column('invoice', sa.Column('late_interest_rate', hub.store.money.Money(),
                                       nullable=True))
    op.add_column('customer', sa.Column('customer_type', sqlmodel.sql.sqltypes.AutoString(),
                                        nullable=False, server_default='business'))
    op.create_index('ix_invoice_credit', 'invoice', ['customer_id', 'currency'],
                    sqlite_where=sa.text("kind = 'credit_note'"),
                    postgresql_where=sa.text("kind = 'credit_note'"))


def downgrade() -> None:
    op.drop_index('ix_invoice_credit', table_name='invoice')
    op.drop_column('customer', 'customer_type')
    op.drop_column('invoice', 'late_interest_rate')
    op.add_column('invoice', sa.Column('dunning_scenario', sqlmodel.sql.sqltypes.AutoString(),
                                       nullable=True))
    op.add_column('invoice', sa.Column('dunning_level', sa.Integer(), nullable=False,
                                       server_default='-1'))
    op.add_column('invoice', sa.Column('dunning_on', sa.Date(), nullable=True))
    op.execute("UPDATE invoice SET dunning_scenario = (SELECT scenario FROM dunning WHERE "
               "invoice_id = invoice.id), dunning_level = COALESCE((SELECT level FROM dunning "
               "WHERE invoice_id = invoice.id), -1), dunning_on = (SELECT planned_on FROM "
               "dunning WHERE invoice_id = invoice.id)")
    op.drop_table('dunning')
    with op.batch_alter_table('case_state') as batch:
        batch.drop_column('data')
    with op.batch_alter_table('dispatch') as batch:
        batch.drop_column('approval_reason')
