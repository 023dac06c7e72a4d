"""The migrations build exactly the tables the models describe (a column or index added
to a model without its migration would only fail on a user's database)."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import hub.store.models  # noqa: F401  (registers the tables)
from hub.store.db import make_engine, migrate


def test_migrated_sqlite_schema_equals_the_models(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), SQLModel.metadata)
    # the partial index is declared in the migration only (SQLModel cannot say WHERE)
    partial = {"ix_invoice_hub_paid", "ix_event_invoice", "ix_event_customer"}
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name in partial)]
    assert diff == []


def test_the_dunning_state_moves_out_of_the_invoice_row_and_back(tmp_path):
    """0007 moves each invoice's step and day into `dunning`; its downgrade puts them back."""
    from alembic import command
    from sqlalchemy import text

    from hub.store.db import alembic_config, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0006")
    with engine.begin() as c:
        c.execute(text("INSERT INTO connection (id, name, plugin, state, cursor, sync_generation) "
                       "VALUES (1, 'books', 'csv', 'ok', '{}', 1)"))
        c.execute(text("INSERT INTO customer (id, connection_id, external_id, name, on_hold, "
                       "placeholder, updated_at) VALUES (1, 1, 'C1', 'C1', 0, 0, '2026-11-01')"))
        for i, (scenario, level) in enumerate((("standard", 2), (None, -1)), start=1):
            c.execute(text(
                "INSERT INTO invoice (id, connection_id, external_id, customer_id, kind, number, "
                "currency, total, amount_due, due_date, status, disputed, on_payment_plan, "
                "in_collection, dunning_scenario, dunning_level, dunning_on, seen_generation, "
                "synced_at) VALUES (:i, 1, :e, 1, 'invoice', :e, 'EUR', 1, 1, '2026-10-01', "
                "'open', 0, 0, 0, :s, :l, :d, 1, '2026-11-01')"),
                {"i": i, "e": f"I{i}", "s": scenario, "l": level,
                 "d": "2026-11-20" if scenario else None})
    migrate(engine, "0011")
    with engine.connect() as c:
        assert c.execute(text("SELECT invoice_id, scenario, level, planned_on FROM dunning")
                         ).all() == [(1, "standard", 2, "2026-11-20")]
    command.downgrade(alembic_config(engine), "0006")
    with engine.connect() as c:
        assert c.execute(text("SELECT dunning_scenario, dunning_level FROM invoice ORDER BY id")
                         ).all() == [("standard", 2), (None, -1)]


def test_where_an_invoice_stands_is_read_from_its_links_after_0012_and_back(tmp_path):
    """0012 drops `dunning` (the links say the same) but keeps a step to resume at, by key;
    its downgrade makes `dunning` again from the links."""
    from alembic import command
    from sqlalchemy import text

    from hub.plan.standing import Standing, standing
    from hub.store.db import alembic_config, session

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0011")
    with engine.begin() as c:
        c.execute(text("INSERT INTO connection (id, name, plugin, state, cursor, sync_generation) "
                       "VALUES (1, 'books', 'csv', 'ok', '{}', 1)"))
        c.execute(text("INSERT INTO customer (id, connection_id, external_id, name, on_hold, "
                       "placeholder, updated_at, scenario) VALUES (1, 1, 'C1', 'C1', 0, 0, "
                       "'2026-11-01', 'standard')"))
        for i in (1, 2):
            c.execute(text(
                "INSERT INTO invoice (id, connection_id, external_id, customer_id, kind, number, "
                "currency, total, amount_due, due_date, status, disputed, on_payment_plan, "
                "in_collection, seen_generation, synced_at) VALUES (:i, 1, :e, 1, 'invoice', :e, "
                "'EUR', 1, 1, '2026-10-01', 'open', 0, 0, 0, 1, '2026-11-01')"),
                {"i": i, "e": f"I{i}"})
        c.execute(text("INSERT INTO step_layout (scenario, steps) VALUES ('standard', "
                       "'[\"due+3d\", \"due+15d\", \"due+30d\"]')"))
        for n, (step, index, on) in enumerate((("due+3d", 0, "2026-10-04"),
                                               ("due+15d", 1, "2026-10-16")), start=1):
            c.execute(text(
                "INSERT INTO dispatch (id, idempotency_key, customer_id, scenario, step, "
                "step_index, channel, template, status, planned_on, attempts, invoice_count, "
                "created_at, updated_at) VALUES (:n, :k, 1, 'standard', :s, :x, 'email', 't', "
                "'sent', :on, 0, 2, '2026-10-01', '2026-10-01')"),
                {"n": n, "k": f"k{n}", "s": step, "x": index, "on": on})
            for i in (1, 2):
                c.execute(text("INSERT INTO dispatch_invoice (dispatch_id, invoice_id, scenario, "
                               "step, step_index) VALUES (:n, :i, 'standard', :s, :x)"),
                          {"n": n, "i": i, "s": step, "x": index})
        # invoice 2's promise was broken: its formal notice goes at once
        c.execute(text("INSERT INTO dunning (invoice_id, scenario, level, planned_on, resume_at) "
                       "VALUES (1, 'standard', 1, '2026-10-16', NULL), "
                       "(2, 'standard', 1, NULL, 2)"))
    migrate(engine)
    with session(engine) as s:
        assert standing(s, 1, "standard") == Standing(1, dt.date(2026, 10, 16), None)
        assert standing(s, 2, "standard") == Standing(1, None, 2)
        assert s.execute(text("SELECT invoice_id, step, step_index FROM plan_resume")).all() \
            == [(2, "due+30d", 2)]
    command.downgrade(alembic_config(engine), "0011")
    with engine.connect() as c:
        assert c.execute(text("SELECT invoice_id, scenario, level, planned_on, resume_at FROM "
                              "dunning ORDER BY invoice_id")).all() == [
            (1, "standard", 1, "2026-10-16", None), (2, "standard", 1, None, 2)]
