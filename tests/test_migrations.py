"""The migrations produce exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

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
