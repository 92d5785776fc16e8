"""The migrations produce exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from server import migrations
from server.db import db
from server.models import Base
from tests.conftest import postgresql_only


def test_migrations_at_head_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@postgresql_only("column compression is a PostgreSQL setting")
def test_growing_order_and_audit_columns_are_compressed_with_lz4(app, database_url):
    """The server here is built with lz4 (Debian's is): the columns that grow with every note
    compress with it, and the downgrade gives them back the server's default."""
    with app.app_context():
        with db.engine.connect() as connection:
            assert _compression(connection) == {column: "l" for column in GROWING_COLUMNS}
        try:
            migrations.downgrade(database_url, "0005")
            with db.engine.connect() as connection:
                assert _compression(connection) == {column: "" for column in GROWING_COLUMNS}
        finally:
            migrations.upgrade(database_url)


GROWING_COLUMNS = ("orders.field_state", "orders.notes", "orders.description",
                   "audit_events.changes", "audit_events.decision")


def _compression(connection) -> dict[str, str]:
    rows = connection.execute(text(
        "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relname || '.' || a.attname = ANY(:columns)"), {"columns": list(GROWING_COLUMNS)})
    return {name: str(method) for name, method in rows}


def test_an_orders_audit_events_are_found_through_the_unique_order_and_seq_index(app,
                                                                                   database_url):
    """No index on `order_id` alone (0007): the unique `(order_id, seq)` one serves its reads
    and its foreign key; the downgrade puts the old index back."""
    def order_id_indexes() -> list[list[str]]:
        with app.app_context(), db.engine.connect() as connection:
            inspector = inspect(connection)
            unique = [c["column_names"] for c in inspector.get_unique_constraints("audit_events")]
            assert ["order_id", "seq"] in unique
            return [index["column_names"] for index in inspector.get_indexes("audit_events")
                    if index["column_names"][0] == "order_id" and not index["unique"]]

    assert order_id_indexes() == []
    try:
        migrations.downgrade(database_url, "0006")
        assert order_id_indexes() == [["order_id"]]
    finally:
        migrations.upgrade(database_url)
    assert order_id_indexes() == []
