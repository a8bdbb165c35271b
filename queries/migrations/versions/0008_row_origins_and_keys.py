"""row origins, source-scoped suspension keys, quarantine fingerprints, run holders

- Every contract table gets `origin_file` / `origin_line`: the file of a load (new table
  `load_files`: load, table, file, declared source) and the line that last wrote the row, so a
  key conflict can name where the stored row came from (issue 18).
- `suspensions` is keyed by (case_id, suspension_key) instead of (case_id, started_at): two
  special procedures that start at the same moment are two suspensions. `suspension_key` is the
  export's `suspension_id` where given, else start (to the second) and reason — built here for
  the stored rows exactly as `queries.contract.suspension_key_of` builds it. The table is
  rebuilt (SQLite cannot change a primary key in place); stored rows keep their values.
- `quarantine.fingerprint` (unique) and `times`: a re-import of the same bad row updates its
  quarantine row instead of adding another.
- `load_runs.holder`, `job_runs.holder`: which process runs it, so a run whose process died
  (kill -9) is shown as `interrupted` at the next start.

Revision ID: 0008
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None

CONTRACT_TABLES = ("regions", "agencies", "items", "cases", "suspensions", "reviews",
                   "work_calendar")


def _origin_columns() -> list[sa.Column]:
    return [
        sa.Column("origin_file", sa.Integer(), nullable=True,
                  comment="load_files.file_id of the load and file that last wrote the row"),
        sa.Column("origin_line", sa.Integer(), nullable=True,
                  comment="line (text files) or row number of the row in that file"),
    ]


def _suspension_key_sql() -> str:
    if op.get_bind().dialect.name == "postgresql":
        start = "to_char(started_at, 'YYYY-MM-DD HH24:MI:SS')"
    else:  # SQLAlchemy stores DateTime on SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff'
        start = "substr(started_at, 1, 19)"
    return f"{start} || '/' || reason"


def upgrade() -> None:
    op.create_table(
        "load_files",
        sa.Column("file_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("load_id", sa.String(length=36), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("file", sa.Text(), nullable=False,
                  comment="the file (and sheet), frame or query as the load report names it"),
        sa.Column("source", sa.Text(), nullable=True,
                  comment="the source system the mapping declares, if any"),
        sa.PrimaryKeyConstraint("file_id"),
        comment="each file of each load that wrote rows: the origin of a stored row",
    )
    op.create_index("ix_load_files_load", "load_files", ["load_id"], unique=False)

    for table in CONTRACT_TABLES:
        if table == "suspensions":
            continue
        with op.batch_alter_table(table) as batch:
            for col in _origin_columns():
                batch.add_column(col)

    op.create_table(
        "suspensions_0008",
        sa.Column("case_id", sa.Text(), nullable=False, comment="办件编号"),
        sa.Column("started_at", sa.DateTime(), nullable=False, comment="挂起开始时间"),
        sa.Column("ended_at", sa.DateTime(), nullable=True, comment="挂起结束时间"),
        sa.Column("reason", sa.String(length=32), nullable=False, comment="挂起原因"),
        sa.Column("approved_days", sa.Integer(), nullable=True, comment="批准天数"),
        sa.Column("suspension_id", sa.Text(), nullable=True, comment="挂起编号"),
        sa.Column("suspension_key", sa.Text(), nullable=False, comment="挂起标识"),
        *_origin_columns(),
        sa.PrimaryKeyConstraint("case_id", "suspension_key"),
        comment="挂起",
    )
    op.execute(
        "INSERT INTO suspensions_0008 (case_id, started_at, ended_at, reason, approved_days, "
        f"suspension_key) SELECT case_id, started_at, ended_at, reason, approved_days, "
        f"{_suspension_key_sql()} FROM suspensions"
    )
    op.drop_table("suspensions")
    op.rename_table("suspensions_0008", "suspensions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX suspensions_0008_pkey RENAME TO suspensions_pkey")

    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column(
            "fingerprint", sa.String(length=64), nullable=True,
            comment="table, file name, line and raw row hashed: a re-import of the same bad "
                    "row updates this row instead of adding another"))
        batch.add_column(sa.Column("times", sa.Integer(), server_default="1", nullable=False,
                                   comment="how many loads have quarantined this row"))
        batch.create_index("ux_quarantine_fingerprint", ["fingerprint"], unique=True)
    for table in ("load_runs", "job_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(
                "holder", sa.String(length=300), nullable=True,
                comment="host:pid:process start of the process running it (interrupted runs)"))
    with op.batch_alter_table("load_runs") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), existing_nullable=False,
                           comment="running / ok / failed / interrupted",
                           existing_comment="running / ok / failed")


def downgrade() -> None:
    with op.batch_alter_table("load_runs") as batch:
        batch.alter_column("status", existing_type=sa.String(length=16), existing_nullable=False,
                           comment="running / ok / failed",
                           existing_comment="running / ok / failed / interrupted")
    for table in ("load_runs", "job_runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("holder")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_index("ux_quarantine_fingerprint")
        batch.drop_column("times")
        batch.drop_column("fingerprint")
    # Back to one suspension per (case, start): of parallel ones the longest is kept.
    op.create_table(
        "suspensions_0007",
        sa.Column("case_id", sa.Text(), nullable=False, comment="办件编号"),
        sa.Column("started_at", sa.DateTime(), nullable=False, comment="挂起开始时间"),
        sa.Column("ended_at", sa.DateTime(), nullable=True, comment="挂起结束时间"),
        sa.Column("reason", sa.String(length=32), nullable=False, comment="挂起原因"),
        sa.Column("approved_days", sa.Integer(), nullable=True, comment="批准天数"),
        sa.PrimaryKeyConstraint("case_id", "started_at"),
        comment="挂起",
    )
    op.execute(
        "INSERT INTO suspensions_0007 (case_id, started_at, ended_at, reason, approved_days) "
        "SELECT case_id, started_at, ended_at, reason, approved_days FROM ("
        " SELECT s.*, row_number() OVER (PARTITION BY case_id, started_at"
        "   ORDER BY ended_at IS NULL DESC, ended_at DESC, suspension_key) AS n"
        " FROM suspensions s) x WHERE n = 1"
    )
    op.drop_table("suspensions")
    op.rename_table("suspensions_0007", "suspensions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX suspensions_0007_pkey RENAME TO suspensions_pkey")
    for table in CONTRACT_TABLES:
        if table == "suspensions":
            continue
        with op.batch_alter_table(table) as batch:
            batch.drop_column("origin_line")
            batch.drop_column("origin_file")
    op.drop_index("ix_load_files_load", table_name="load_files")
    op.drop_table("load_files")
