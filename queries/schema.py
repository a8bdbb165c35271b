"""SQLAlchemy Core tables: the contract tables plus the product's own bookkeeping.

The contract tables are generated from `queries.contract` so that the database, the importer and
the documentation cannot drift apart. Referential integrity between contract tables is enforced
by the importer (a bad reference is quarantined with its reason) rather than by database foreign
keys: a foreign key would fail a whole bulk load instead of setting one row aside, and would
slow the multi-million-row COPY path.

Schema changes are made through Alembic migrations (`queries/migrations`); this module is the
target those migrations are checked against.
"""

from __future__ import annotations

import sqlalchemy as sa

from queries.contract import TABLES, Column, Table

metadata = sa.MetaData()

_SQL_TYPES: dict[str, sa.types.TypeEngine] = {
    "text": sa.Text(),
    "int": sa.Integer(),
    "bool": sa.Boolean(),
    "timestamp": sa.DateTime(),  # naive local (Asia/Shanghai) time, see contract.md
    "date": sa.Date(),
    "enum": sa.String(32),
}


def _sa_column(col: Column, key: tuple[str, ...]) -> sa.Column:
    return sa.Column(
        col.name,
        _SQL_TYPES[col.dtype],
        primary_key=col.name in key,
        nullable=col.nullable and col.name not in key,
        comment=col.zh,
    )


def _contract_table(t: Table) -> sa.Table:
    return sa.Table(t.name, metadata, *(_sa_column(c, t.key) for c in t.columns), comment=t.zh)


regions = _contract_table(TABLES["regions"])
agencies = _contract_table(TABLES["agencies"])
items = _contract_table(TABLES["items"])
cases = _contract_table(TABLES["cases"])
suspensions = _contract_table(TABLES["suspensions"])
reviews = _contract_table(TABLES["reviews"])
work_calendar = _contract_table(TABLES["work_calendar"])

# Access paths of the dashboard and the jobs.
sa.Index("ix_cases_agency_accepted", cases.c.agency_code, cases.c.accepted_at)
sa.Index("ix_cases_agency_completed", cases.c.agency_code, cases.c.completed_at)
sa.Index("ix_cases_item_accepted", cases.c.item_code, cases.c.accepted_at)
sa.Index("ix_cases_status_due", cases.c.status, cases.c.due_at)
sa.Index("ix_regions_parent", regions.c.parent_code)
sa.Index("ix_agencies_region", agencies.c.region_code)
sa.Index("ix_reviews_agency_rated", reviews.c.agency_code, reviews.c.rated_at)
sa.Index("ix_reviews_case", reviews.c.case_id)

load_runs = sa.Table(
    "load_runs",
    metadata,
    sa.Column("load_id", sa.String(36), primary_key=True),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime()),
    sa.Column("source", sa.Text(), nullable=False, comment="files or URL that were loaded"),
    sa.Column("status", sa.String(16), nullable=False, comment="running / ok / failed"),
    sa.Column("report", sa.JSON(), comment="per-table read / loaded / quarantined counts"),
    sa.Column("error", sa.Text()),
    comment="one row per import run",
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("load_id", sa.String(36), nullable=False),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("source_file", sa.Text(), nullable=False),
    sa.Column("source_line", sa.Integer(), comment="1-based line in the file (header = 1)"),
    sa.Column("row_key", sa.Text(), comment="the row's key value(s), when readable"),
    sa.Column("rules", sa.Text(), nullable=False, comment="';'-separated rule ids it broke"),
    sa.Column("reasons", sa.Text(), nullable=False, comment="human-readable messages"),
    sa.Column("raw", sa.JSON(), nullable=False, comment="the original row as read"),
    sa.Column("quarantined_at", sa.DateTime(), nullable=False),
    comment="rows set aside by the importer with every rule they broke",
)
sa.Index("ix_quarantine_load", quarantine.c.load_id, quarantine.c.table_name)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("updated_by", sa.String(64)),
    comment="deployment settings that override the defaults of metrics.md",
)

CONTRACT_TABLES: dict[str, sa.Table] = {
    name: metadata.tables[name] for name in TABLES
}
