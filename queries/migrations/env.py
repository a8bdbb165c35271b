"""Alembic environment: the engine is handed in by `queries.migrate` (or built from DATABASE_URL)."""

from alembic import context

from queries.engine import make_engine
from queries.schema import metadata

config = context.config
engine = config.attributes.get("engine") or make_engine()

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
