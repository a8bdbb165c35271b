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


# Where each stored row came from: the file of a load (`load_files`) and the line in it, of the
# load that last inserted or changed the row (an identical re-import leaves them). Not contract
# columns: files never carry them, and reads of the contract select `contract_columns`.
ORIGIN_COLUMNS = ("origin_file", "origin_line")


def _origin_columns() -> list[sa.Column]:
    return [
        sa.Column("origin_file", sa.Integer(),
                  comment="load_files.file_id of the load and file that last wrote the row"),
        sa.Column("origin_line", sa.Integer(),
                  comment="line (text files) or row number of the row in that file"),
    ]


def _contract_table(t: Table) -> sa.Table:
    return sa.Table(t.name, metadata, *(_sa_column(c, t.key) for c in t.columns),
                    *_origin_columns(), comment=t.zh)


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
# the month of reviews behind the 好差评 page (no agency condition): migration 0006
sa.Index("ix_reviews_rated", reviews.c.rated_at)
# open 差评 (bad reviews not yet rectified) for the bulletin and the 好差评 page: migration 0007
sa.Index("ix_reviews_bad_rated", reviews.c.rated_at,
         postgresql_where=reviews.c.level <= 2, sqlite_where=reviews.c.level <= 2,
         postgresql_include=["agency_code", "rectified_at", "appeal_upheld"])

load_runs = sa.Table(
    "load_runs",
    metadata,
    sa.Column("load_id", sa.String(36), primary_key=True),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime()),
    sa.Column("source", sa.Text(), nullable=False, comment="files or URL that were loaded"),
    sa.Column("status", sa.String(16), nullable=False,
              comment="running / ok / failed / interrupted"),
    sa.Column("report", sa.JSON(), comment="per-table read / loaded / quarantined counts"),
    sa.Column("error", sa.Text()),
    sa.Column("holder", sa.String(300),
              comment="host:pid:process start of the process running it (interrupted runs)"),
    sa.Column("extracted_at", sa.DateTime(),
              comment="the extract's data cut-off: declared (mapping, --extracted-at) or the "
                      "latest event time loaded (migration 0009b)"),
    comment="one row per import run",
)

load_files = sa.Table(
    "load_files",
    metadata,
    sa.Column("file_id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("load_id", sa.String(36), nullable=False),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("file", sa.Text(), nullable=False,
              comment="the file (and sheet), frame or query as the load report names it"),
    sa.Column("source", sa.Text(), comment="the source system the mapping declares, if any"),
    comment="each file of each load that wrote rows: the origin of a stored row",
)
sa.Index("ix_load_files_load", load_files.c.load_id)

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
    sa.Column("fingerprint", sa.String(64),
              comment="table, file name, line and raw row hashed: a re-import of the same bad "
                      "row updates this row instead of adding another"),
    sa.Column("times", sa.Integer(), nullable=False, server_default="1",
              comment="how many loads have quarantined this row"),
    comment="rows set aside by the importer with every rule they broke",
)
sa.Index("ix_quarantine_load", quarantine.c.load_id, quarantine.c.table_name)
sa.Index("ux_quarantine_fingerprint", quarantine.c.fingerprint, unique=True)

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


def contract_columns(table: str) -> list[sa.Column]:
    """The contract columns of a contract table, in contract order (without the origin)."""
    t = CONTRACT_TABLES[table]
    return [t.c[name] for name in TABLES[table].names]


# ---------------------------------------------------------------------------------------------
# Fact tables written by the metric jobs (metrics/jobs.py). Every measure is an additive sum at
# the finest grain, so any roll-up is a SUM; ratios are formed only at query time. The measure
# columns are listed explicitly (schema changes go through migrations); a test checks that every
# measure in the metric registry has its column here.

GRAIN = ("month", "agency_code", "item_code", "channel")

CASE_MEASURES: tuple[str, ...] = (
    # intake (month of accepted_at)
    "accepted", "cmp_statutory", "cmp_gap", "online_accepted", "full_online_accepted",
    "mobile_accepted", "visits_known", "no_visit", "max_one_visit", "instant_accepted",
    "cross_region_accepted", "bundles_started",
    # completion (month of completed_at)
    "completed", "spd_statutory", "spd_statutory_gap", "spd_promised", "spd_promised_gap",
    "completed_with_deadline", "completed_on_time", "completed_no_deadline", "completed_same_day",
    "used_wd_sum", "completed_overdue", "e_result_known", "e_result_yes", "completed_reviewed",
    "case_report_known", "case_report_timely",
    # month-end snapshot (as of the month's last moment, or the as-of time)
    "in_progress_eom", "overdue_open_eom", "warnings_eom",
    # completion, added by migration 0009 (new columns go last, where ALTER TABLE puts them)
    "completed_actively_reviewed",
    # completion, migration 0009b: the day unit of the cases in view (工作日 / 自然日 labels)
    "completed_natural",
)
# Measures that are a fact column summed over part of the grain, so they need no column of
# their own: id → (column, grain column, value). Channel is part of the grain, so the cases
# accepted with an unrecorded channel are `accepted` where channel = 'unknown'.
GRAIN_FILTERED_MEASURES: dict[str, tuple[str, str, str]] = {
    "unknown_channel_accepted": ("accepted", "channel", "unknown"),
}
REVIEW_MEASURES: tuple[str, ...] = (
    "reviews_valid", "reviews_void", "good", "neutral", "bad", "score_sum", "active",
    "bad_real_name", "bad_callback_timely", "bad_rect_due", "bad_rect_timely", "bad_open",
    "review_report_known", "review_report_timely",
    # added by migration 0009b
    "bad_callback_due",
)
CARD_MEASURES: tuple[str, ...] = (
    "yellow_cards", "red_cards", "revoked_cards",
    # net of revocations (申诉成立), added by migration 0009b
    "yellow_cards_net", "red_cards_net",
)
CATALOGUE_MEASURES: tuple[str, ...] = (
    "items", "online_capable_items", "full_online_items", "zero_visit_items", "materials_sum",
    "materials_known", "steps_sum", "steps_known", "cat_statutory", "cat_gap",
)


def _grain_columns() -> list[sa.Column]:
    return [
        sa.Column("month", sa.Date(), primary_key=True, comment="first day of the month"),
        sa.Column("agency_code", sa.Text(), primary_key=True),
        sa.Column("item_code", sa.Text(), primary_key=True, comment="'' when not tied to an item"),
        sa.Column("channel", sa.String(32), primary_key=True),
    ]


def _measure_columns(names: tuple[str, ...]) -> list[sa.Column]:
    return [sa.Column(n, sa.BigInteger(), nullable=False, server_default="0") for n in names]


case_facts = sa.Table(
    "case_facts", metadata, *_grain_columns(), *_measure_columns(CASE_MEASURES),
    comment="additive case measures at month × agency × item × channel",
)
review_facts = sa.Table(
    "review_facts", metadata, *_grain_columns(), *_measure_columns(REVIEW_MEASURES),
    comment="additive 好差评 measures; channel is the rating channel, item '' for reviews "
            "not tied to a case",
)
card_facts = sa.Table(
    "card_facts", metadata, *_grain_columns(), *_measure_columns(CARD_MEASURES),
    comment="cards by month of issue; review cards have item '' and channel 'review'",
)
used_days_hist = sa.Table(
    "used_days_hist", metadata, *_grain_columns(),
    sa.Column("used_wd", sa.Integer(), primary_key=True),
    sa.Column("n", sa.BigInteger(), nullable=False),
    comment="histogram of used working days of completed cases (exact medians at any roll-up)",
)
catalogue_facts = sa.Table(
    "catalogue_facts", metadata,
    sa.Column("month", sa.Date(), primary_key=True, comment="snapshot month"),
    sa.Column("item_code", sa.Text(), primary_key=True),
    sa.Column("sector", sa.Text(), nullable=False),
    sa.Column("item_type", sa.String(32), nullable=False),
    *_measure_columns(CATALOGUE_MEASURES),
    comment="事项目录 snapshot measures (减材料、减环节 trend across snapshots)",
)
cards = sa.Table(
    "cards", metadata,
    sa.Column("card_id", sa.Text(), primary_key=True, comment="kind:subject id"),
    sa.Column("kind", sa.String(8), nullable=False, comment="yellow / red"),
    sa.Column("subject", sa.String(8), nullable=False, comment="case / review"),
    sa.Column("case_id", sa.Text()),
    sa.Column("review_id", sa.Text()),
    sa.Column("agency_code", sa.Text(), nullable=False),
    sa.Column("item_code", sa.Text(), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("issued_on", sa.Date(), nullable=False),
    sa.Column("month", sa.Date(), nullable=False, comment="month of issue"),
    sa.Column("rule", sa.Text(), nullable=False, comment="the rule that fired"),
    sa.Column("days_over", sa.Integer(), nullable=False),
    sa.Column("still_open", sa.Boolean(), nullable=False),
    sa.Column("revoked", sa.Boolean(), nullable=False),
    comment="红黄牌 records (metrics.md §6)",
)
sa.Index("ix_cards_agency_month", cards.c.agency_code, cards.c.month)
# 申诉成立: an appeal decision revokes a card (written by queries.revocations, issue 13's 督办
# loop); the metric job marks these cards revoked on every recompute (migration 0009b).
card_revocations = sa.Table(
    "card_revocations", metadata,
    sa.Column("card_id", sa.Text(), primary_key=True,
              comment="the revoked card (ids are stable: case or review and rule)"),
    sa.Column("decided_on", sa.Date(), nullable=False, comment="the day the appeal was upheld"),
    sa.Column("reason", sa.Text(), nullable=False, comment="why the appeal was upheld"),
    sa.Column("decided_by", sa.Text(), nullable=False, comment="who decided (account)"),
    sa.Column("appeal_ref", sa.Text(), comment="the appeal / 督办 record it came from"),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    comment="cards revoked by an upheld appeal (申诉成立): gross and net card counts",
)
# The case lists ask "does this case have a card?" (late, overdue at month end).
sa.Index("ix_cards_case", cards.c.case_id)
warnings = sa.Table(
    "warnings", metadata,
    sa.Column("case_id", sa.Text(), primary_key=True),
    sa.Column("agency_code", sa.Text(), nullable=False),
    sa.Column("item_code", sa.Text(), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("accepted_on", sa.Date(), nullable=False),
    sa.Column("due_date", sa.Date(), nullable=False),
    sa.Column("used_wd", sa.Integer(), nullable=False),
    sa.Column("deadline_days", sa.Integer(), nullable=False),
    sa.Column("remaining_wd", sa.Integer(), nullable=False),
    sa.Column("rule", sa.Text(), nullable=False),
    sa.Column("as_of", sa.DateTime(), nullable=False),
    comment="预警: the live list of in-progress cases near their deadline, as of the last run",
)
be_scores = sa.Table(
    "be_scores", metadata,
    sa.Column("month", sa.Date(), primary_key=True),
    sa.Column("region_code", sa.Text(), primary_key=True),
    sa.Column("indicator", sa.String(48), primary_key=True, comment="sub-indicator id or be_index"),
    sa.Column("pillar", sa.String(32), nullable=False),
    sa.Column("value", sa.Float()),
    sa.Column("n", sa.BigInteger(), comment="bundles / chains / cases behind the value"),
    sa.Column("score", sa.Float(), comment="distance-to-frontier score 0–100"),
    sa.Column("weight", sa.Float()),
    sa.Column("contribution", sa.Float(), comment="weight × score / Σ weights"),
    sa.Column("rank", sa.Integer()),
    sa.Column("change", sa.Float(), comment="score change from the previous month"),
    comment="营商环境 sub-indicators and index per region and month",
)
job_runs = sa.Table(
    "job_runs", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime()),
    sa.Column("as_of", sa.DateTime(), nullable=False),
    sa.Column("months", sa.Text(), nullable=False, comment="first..last month recomputed"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input_rows", sa.JSON()),
    sa.Column("output_rows", sa.JSON()),
    sa.Column("calendar_version", sa.Text()),
    sa.Column("fallback_years", sa.Text()),
    sa.Column("settings_hash", sa.String(64)),
    sa.Column("settings", sa.JSON()),
    sa.Column("duration_s", sa.Float()),
    sa.Column("error", sa.Text()),
    sa.Column("holder", sa.String(300),
              comment="host:pid:process start of the process running it (interrupted runs)"),
    sa.Column("data_cutoff", sa.DateTime(),
              comment="cut-off of the data the run read (latest extracted_at of the loads; "
                      "migration 0009b)"),
    comment="one row per metric job run (provenance of every number)",
)
