"""incremental planning: the earliest day a step can next be due for an invoice; the
step layout each scenario's positions were stored under

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dunning') as batch:
        batch.add_column(sa.Column('next_on', sa.Date(), nullable=True))
    op.create_table('step_layout',
                    sa.Column('scenario', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('steps', sa.JSON(), nullable=False),
                    sa.PrimaryKeyConstraint('scenario'))


def downgrade() -> None:
    op.drop_table('step_layout')
    op.execute("DROP INDEX IF EXISTS ix_dunning_next_on")  # a simulator's copy has one
    with op.batch_alter_table('dunning') as batch:
        batch.drop_column('next_on')
