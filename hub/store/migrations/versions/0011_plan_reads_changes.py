"""the daily plan reads only what can have changed: `plan_agenda`, the days each invoice is
to be read on (the planner writes the next one after each read), to which the store itself
adds "now" (0001-01-01) whenever anything a plan reads changes — a new invoice, a changed
one, its customer, a case state — so no code path, plugin or hand-written SQL can leave an
invoice unread; and `plan_mark`, the config and day the stored days were computed under
(another config, or an earlier day, and every invoice is read again). `dunning.next_on`
(0010), a column on a table in invoice order, goes: moving it rewrote most of its pages.

Triggers on SQLite, trigger functions on PostgreSQL. A later migration that recreates
`invoice`, `customer` or `case_state` (a batch alter on SQLite) drops their triggers: it
must run `create_triggers` of this revision again (`tests/plan/test_incremental.py`'s
changing-ledger replay fails without them).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

AT_ONCE = "'0001-01-01'"
# what a plan reads of an invoice and of a customer (bookkeeping columns a sync rewrites
# every time — synced_at, seen_generation, source_updated_at, updated_at — are left out)
INVOICE_READ = ("customer_id", "kind", "number", "currency", "total", "amount_due",
                "issue_date", "due_date", "status", "disputed", "promised_until",
                "on_payment_plan", "in_collection", "reference", "online_url",
                "late_interest_rate", "paid_at", "hub_paid_at", "hub_paid_ref")
CUSTOMER_READ = ("name", "code", "email", "cc_emails", "phone", "mobile", "line1", "line2",
                 "city", "postcode", "region", "country", "language", "timezone", "segment",
                 "customer_type", "tags", "tax_id", "scenario", "on_hold", "placeholder")


def _changed(columns, op_: str) -> str:
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns)


LOOK_NOW = "INSERT INTO plan_agenda (day, invoice_id) "
AT_ONCE_SQL = f"DATE {AT_ONCE}"  # PostgreSQL's spelling; SQLite's is the bare string
# SQLite lets the outer statement's conflict policy (a sync's upsert) override a trigger's
# OR IGNORE: its triggers add only the entries not there yet
NOT_THERE = "NOT EXISTS (SELECT 1 FROM plan_agenda AS a WHERE a.day = {d} AND a.invoice_id = {i})"


def _look(where: str, dialect: str) -> str:
    """Add "now" for the invoices `where` selects."""
    if dialect == "postgresql":
        return f"{LOOK_NOW} SELECT {AT_ONCE_SQL}, id FROM invoice WHERE {where} ON CONFLICT DO NOTHING"
    return (f"{LOOK_NOW} SELECT {AT_ONCE}, id FROM invoice WHERE ({where}) AND "
            + NOT_THERE.format(d=AT_ONCE, i="invoice.id"))


def _case(who: str, dialect: str) -> str:  # the invoices a case state row names
    return _look(f"id = {who}.invoice_id OR customer_id = {who}.customer_id", dialect)


SQLITE = [
    f"""CREATE TRIGGER plan_invoice_insert AFTER INSERT ON invoice BEGIN
        {LOOK_NOW} SELECT {AT_ONCE}, NEW.id WHERE {NOT_THERE.format(d=AT_ONCE, i='NEW.id')};
        END""",
    f"""CREATE TRIGGER plan_invoice_update AFTER UPDATE ON invoice
        WHEN {_changed(INVOICE_READ, 'IS NOT')} BEGIN
        {LOOK_NOW} SELECT {AT_ONCE}, NEW.id WHERE {NOT_THERE.format(d=AT_ONCE, i='NEW.id')};
        END""",
    f"""CREATE TRIGGER plan_customer_update AFTER UPDATE ON customer
        WHEN {_changed(CUSTOMER_READ, 'IS NOT')} BEGIN
        {_look('customer_id = NEW.id', 'sqlite')}; END""",
    f"CREATE TRIGGER plan_case_insert AFTER INSERT ON case_state BEGIN "
    f"{_case('NEW', 'sqlite')}; END",
    f"""CREATE TRIGGER plan_case_update AFTER UPDATE ON case_state BEGIN
        {_case('OLD', 'sqlite')}; {_case('NEW', 'sqlite')}; END""",
    f"CREATE TRIGGER plan_case_delete AFTER DELETE ON case_state BEGIN "
    f"{_case('OLD', 'sqlite')}; END",
]
SQLITE_NAMES = ["plan_invoice_insert", "plan_invoice_update", "plan_customer_update",
                "plan_case_insert", "plan_case_update", "plan_case_delete"]


def _pg_function(name: str, body: str) -> str:
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} END $$")


POSTGRESQL = [
    _pg_function("relance_plan_invoice", f"""
        {LOOK_NOW} VALUES ({AT_ONCE_SQL}, NEW.id) ON CONFLICT DO NOTHING; RETURN NULL;"""),
    _pg_function("relance_plan_customer", f"""
        {_look('customer_id = NEW.id', 'postgresql')}; RETURN NULL;"""),
    _pg_function("relance_plan_case", f"""
        IF TG_OP <> 'INSERT' THEN {_case('OLD', 'postgresql')}; END IF;
        IF TG_OP <> 'DELETE' THEN {_case('NEW', 'postgresql')}; END IF; RETURN NULL;"""),
    "CREATE TRIGGER plan_invoice_insert AFTER INSERT ON invoice FOR EACH ROW "
    "EXECUTE FUNCTION relance_plan_invoice()",
    f"CREATE TRIGGER plan_invoice_update AFTER UPDATE ON invoice FOR EACH ROW "
    f"WHEN ({_changed(INVOICE_READ, 'IS DISTINCT FROM')}) "
    f"EXECUTE FUNCTION relance_plan_invoice()",
    f"CREATE TRIGGER plan_customer_update AFTER UPDATE ON customer FOR EACH ROW "
    f"WHEN ({_changed(CUSTOMER_READ, 'IS DISTINCT FROM')}) "
    f"EXECUTE FUNCTION relance_plan_customer()",
    "CREATE TRIGGER plan_case AFTER INSERT OR UPDATE OR DELETE ON case_state FOR EACH ROW "
    "EXECUTE FUNCTION relance_plan_case()",
]
PG_TRIGGERS = [("plan_invoice_insert", "invoice"), ("plan_invoice_update", "invoice"),
               ("plan_customer_update", "customer"), ("plan_case", "case_state")]
PG_FUNCTIONS = ["relance_plan_invoice", "relance_plan_customer", "relance_plan_case"]


def create_triggers() -> None:
    for statement in (POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE):
        op.execute(statement)


def drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.execute("DROP INDEX IF EXISTS ix_dunning_next_on")
    with op.batch_alter_table('dunning') as batch:
        batch.drop_column('next_on')
    # the days each invoice is to be read on, in day order: a day's plan reads one range
    # of pages and writes the next days it finds into a few others (without a rowid, the
    # table is that order)
    op.execute("CREATE TABLE plan_agenda (day DATE NOT NULL, invoice_id INTEGER NOT NULL, "
               "PRIMARY KEY (day, invoice_id))" + ("" if pg else " WITHOUT ROWID"))
    op.execute(f"INSERT INTO plan_agenda (day, invoice_id) SELECT "
               f"{AT_ONCE_SQL if pg else AT_ONCE}, id FROM invoice "
               f"WHERE status = 'open'")  # each read once (a reopened one: its trigger)
    op.create_table('plan_mark',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('config', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
                    sa.Column('day', sa.Date(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_table('plan_mark')
    op.drop_table('plan_agenda')
    with op.batch_alter_table('dunning') as batch:
        batch.add_column(sa.Column('next_on', sa.Date(), nullable=True))
