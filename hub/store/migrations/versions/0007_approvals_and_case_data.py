"""why a dispatch waits for a person; a case state's facts (balance covered, instalments);
the step an invoice resumes at after a broken promise; an index of the credit notes

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

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
    with op.batch_alter_table('invoice') as batch:
        batch.add_column(sa.Column('resume_at', sa.Integer(), nullable=True))
    op.create_index('ix_invoice_credit', 'invoice', ['customer_id', 'currency'],
                    sqlite_where=sa.text("kind = 'credit_note'"),
                    postgresql_where=sa.text("kind = 'credit_note'"))


def downgrade() -> None:
    op.drop_index('ix_invoice_credit', table_name='invoice')
    with op.batch_alter_table('invoice') as batch:
        batch.drop_column('resume_at')
    with op.batch_alter_table('case_state') as batch:
        batch.drop_column('data')
    with op.batch_alter_table('dispatch') as batch:
        batch.drop_column('approval_reason')
