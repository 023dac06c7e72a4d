"""where an invoice stands in its scenario is read from its links (`hub.plan.standing`):
`dunning`, a copy kept per invoice, goes — a day's plan rewrote one of its pages per
invoice planned. Its steps to send at once (a broken promise) move to `plan_resume`,
named by key as well as position. Every open invoice is read by the next plan.

Revision ID: 0012
Revises: 0011
"""
import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_resume',
                    sa.Column('invoice_id', sa.Integer(), nullable=False),
                    sa.Column('scenario', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('step_index', sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id']),
                    sa.PrimaryKeyConstraint('invoice_id'))
    bind = op.get_bind()
    layouts = {name: json.loads(steps) if isinstance(steps, str) else steps for name, steps in
               bind.execute(sa.text("SELECT scenario, steps FROM step_layout"))}
    rows = [{"i": i, "s": name, "k": layouts[name][at], "at": at} for i, name, at in bind.execute(
        sa.text("SELECT invoice_id, scenario, resume_at FROM dunning WHERE resume_at IS NOT NULL"))
        if at < len(layouts.get(name, ()))]  # (a position with no key was never planned)
    if rows:
        bind.execute(sa.text("INSERT INTO plan_resume (invoice_id, scenario, step, step_index) "
                             "VALUES (:i, :s, :k, :at)"), rows)
    op.drop_table('dunning')
    op.execute("DELETE FROM plan_mark")  # the next plan reads every open invoice


def downgrade() -> None:
    op.create_table('dunning',
                    sa.Column('invoice_id', sa.Integer(), nullable=False),
                    sa.Column('scenario', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('level', sa.Integer(), nullable=False),
                    sa.Column('planned_on', sa.Date(), nullable=True),
                    sa.Column('resume_at', sa.Integer(), nullable=True),
                    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id']),
                    sa.PrimaryKeyConstraint('invoice_id'))
    # each invoice's latest dispatch names its scenario; the level is the highest step there
    op.execute("INSERT INTO dunning (invoice_id, scenario, level, planned_on) "
               "SELECT di.invoice_id, di.scenario, (SELECT MAX(x.step_index) FROM dispatch_invoice "
               "AS x WHERE x.invoice_id = di.invoice_id AND x.scenario = di.scenario), d.planned_on "
               "FROM dispatch_invoice AS di JOIN dispatch AS d ON d.id = di.dispatch_id "
               "WHERE di.dispatch_id = (SELECT MAX(y.dispatch_id) FROM dispatch_invoice AS y "
               "WHERE y.invoice_id = di.invoice_id)")
    op.execute("DELETE FROM dunning WHERE invoice_id IN (SELECT invoice_id FROM plan_resume)")
    op.execute("INSERT INTO dunning (invoice_id, scenario, level, planned_on, resume_at) "
               "SELECT invoice_id, scenario, step_index - 1, NULL, step_index FROM plan_resume")
    op.drop_table('plan_resume')
    op.execute("DELETE FROM plan_mark")
