"""Alembic migrations build exactly the declared schema, and init-db is idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import queries.accounts_store  # noqa: F401  (declares the account and audit tables)
import queries.bulletin_store  # noqa: F401  (declares the bulletin tables on the metadata)
from queries.migrate import current_revision, upgrade
from queries.schema import metadata


def test_migrated_database_matches_the_declared_schema(any_engine):
    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrading_twice_changes_nothing(any_engine):
    head = current_revision(any_engine)
    upgrade(any_engine)
    assert current_revision(any_engine) == head == "0011"
