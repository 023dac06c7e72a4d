"""the dashboard's users (argon2 hashes, role, companies); the audit log indexed by
customer, so a customer's timeline is a seek, not a pass over every event

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('companies', sa.JSON(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_app_user_username'), 'app_user', ['username'], unique=True)
    # partial, like ix_event_invoice: most events (planned, sent) name a dispatch only
    op.create_index('ix_event_customer', 'event', ['customer_id', 'id'],
                    sqlite_where=sa.text('customer_id IS NOT NULL'),
                    postgresql_where=sa.text('customer_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_event_customer', table_name='event')
    op.drop_index(op.f('ix_app_user_username'), table_name='app_user')
    op.drop_table('app_user')
