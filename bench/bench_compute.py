"""Benchmark the metric job, and the same representative subset written other ways.

    .venv/bin/python bench/bench_compute.py --cases 20000000 [--data DIR] [--skip-postgres]
    .venv/bin/python bench/bench_compute.py --cases 20000000 --phase full --stages
    .venv/bin/python bench/bench_compute.py --phase pg-read --database URL [--repeat 3]
    .venv/bin/python bench/bench_compute.py --phase pg-job --database URL [--copy-format binary]

1. Generates the demo city to Parquet (once per size, cached in --data).
2. Full recompute of every metric family (`metrics.jobs.compute_frames`) for all months, in a
   fresh subprocess so that its peak RSS is its own.
3. One month incremental: the case window of that month (the same condition as
   `queries.inputs.case_window`) and `compute_frames` for that month.
4. The representative subset — on-time rate, statutory speed-up rate and online share by
   month × agency — four ways, same data, same run: our Polars clock, SQL in PostgreSQL, SQL in
   DuckDB and pandas. The SQL and pandas versions are what a user would write: a calendar table
   with a cumulative working-day index, suspensions cut and clipped but not merged (overlapping
   suspensions are double-counted there; our clock merges them), so they do slightly less work.
Prints a Markdown table for BENCHMARKS.md.

`--phase full --stages` is the full recompute with wall and CPU time per stage (review
attribution, slice reads, slice computation, the final sums, the 营商环境 read): where the time
goes. CPU time is reported beside wall time because on a shared machine it is the steadier one.

On a PostgreSQL database holding the data set (`--database URL`, loaded by `xiaoneng import`):
`pg-read` reads every slice of the full recompute (the SELECTs of
`queries.case_sources.DatabaseSource`) three ways — COPY … TO STDOUT as CSV parsed by Polars,
ADBC (adbc-driver-postgresql, Arrow) and connectorx (Arrow) — in rotating order, `--repeat`
times; `pg-job` runs the product's job (`metrics.jobs.run_compute(engine, None)`, what
`xiaoneng compute --all` runs) with its stages timed, facts written by CSV COPY or, with
`--copy-format binary`, by binary COPY.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLES = ("regions", "agencies", "items", "cases", "suspensions", "reviews")
AS_OF = dt.datetime(2026, 10, 31, 18, 0)
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2026, 10, 1)
INCREMENTAL_MONTH = dt.date(2026, 9, 1)


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def ensure_data(cases: int, data: Path) -> Path:
    out = data / f"demo_{cases}"
    if not (out / "cases.parquet").exists():
        from xiaoneng.demo import generate, write_parquet

        t = time.perf_counter()
        write_parquet(generate(cases=cases, seed=20241, start=FIRST, end=LAST), out)
        print(f"generated {cases:,} cases in {time.perf_counter() - t:.1f}s → {out}",
              file=sys.stderr)
    return out


def _calendar():
    from metrics.calendar import WorkCalendar
    from queries.calendar import official_calendar

    cal = WorkCalendar.from_frame(official_calendar(2004, 2026))
    return cal.cover(dt.date(2023, 1, 1), dt.date(2028, 1, 1))


# What the subset reads (all four ways): loading every column of 20 M cases into pandas alone
# exhausted the 24 GB machine.
SUBSET_CASE_COLUMNS = ("case_id", "agency_code", "channel", "statutory_days", "promised_days",
                       "limit_unit", "accepted_at", "completed_at", "status")


def _read(path: Path) -> dict[str, pl.DataFrame]:
    return {n: pl.read_parquet(path / f"{n}.parquet",
                               columns=list(SUBSET_CASE_COLUMNS) if n == "cases" else None)
            for n in TABLES}


SUBSETS = {"polars": "subset_polars", "duckdb": "subset_duckdb", "pandas": "subset_pandas",
           "postgres": "subset_postgres"}


def phase_subset(way: str, path: Path, postgres: str) -> dict:
    """One way of the subset, in its own process (its own peak memory; one way's failure
    does not lose the others' results)."""
    tables = _read(path)
    fn = globals()[SUBSETS[way]]
    wall = fn(tables, postgres) if way == "postgres" else fn(tables)
    return {"wall_s": wall, "peak_rss_gb": _rss_gb()}


def phase_full(path: Path) -> dict:
    """Every family for every month, reading the Parquet files slice by slice (the reads are
    inside the timing, as they are when the job reads the database)."""
    from metrics.jobs import (
        FULL_RECOMPUTE_SLICE_MONTHS,
        JOB_CASE_COLUMNS,
        compute_source,
        month_range,
    )
    from metrics.settings import Settings
    from queries.case_sources import ParquetSource

    cal = _calendar()
    t = time.perf_counter()
    frames, rows = compute_source(ParquetSource(path, JOB_CASE_COLUMNS), month_range(FIRST, LAST),
                                  AS_OF, Settings(), cal, FULL_RECOMPUTE_SLICE_MONTHS)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "peak_rss_gb": _rss_gb(), "input_rows": rows,
            "rows": {k: v.height for k, v in frames.items()}}


def phase_incremental(path: Path) -> dict:
    """One month: the case window of that month (queries.inputs.case_window), scanned from the
    Parquet files with predicates, and the job on it; reads inside the timing."""
    from metrics.jobs import JOB_CASE_COLUMNS, compute_frames, previous_month
    from metrics.settings import Settings

    cal = _calendar()
    t = time.perf_counter()
    start = dt.datetime.combine(previous_month(INCREMENTAL_MONTH), dt.time())
    end = dt.datetime.combine((INCREMENTAL_MONTH + dt.timedelta(days=32)).replace(day=1),
                              dt.time())
    scan = pl.scan_parquet(path / "cases.parquet").select(JOB_CASE_COLUMNS)
    touching = (pl.col("accepted_at") < end) & (
        pl.col("completed_at").is_null() | (pl.col("completed_at") >= start))
    chains = scan.filter(touching).select("bundle_id", "project_code").collect()
    window = scan.filter(
        touching
        | pl.col("bundle_id").is_in(chains["bundle_id"].drop_nulls().unique().implode())
        | pl.col("project_code").is_in(chains["project_code"].drop_nulls().unique().implode())
    ).collect()
    ids = window["case_id"].implode()
    sub = {n: pl.read_parquet(path / f"{n}.parquet") for n in ("regions", "agencies", "items")}
    sub["cases"] = window
    sub["suspensions"] = pl.scan_parquet(path / "suspensions.parquet").filter(
        pl.col("case_id").is_in(ids)).collect()
    # what queries.inputs.read_reviews reads for the window: its reviews, plus the 差评 of the
    # look-back whose rectification cards can fall in it
    lookback = (start - dt.timedelta(days=92)).replace(day=1)
    rated = pl.col("rated_at")
    sub["reviews"] = pl.scan_parquet(path / "reviews.parquet").filter(
        ((rated >= start) & (rated < end))
        | ((pl.col("level") <= 2) & (rated >= lookback) & (rated < end))).collect()
    frames = compute_frames(sub, [INCREMENTAL_MONTH], AS_OF, Settings(), cal)
    return {"wall_s": time.perf_counter() - t, "window_cases": window.height,
            "peak_rss_gb": _rss_gb(), "case_fact_rows": frames["case_facts"].height}


class _Stages:
    """Wall and CPU seconds spent inside named functions (wrapped in place; a benchmark only)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, owner: object, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def timed(*a, **k):
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.wall[label] = self.wall.get(label, 0.0) + time.perf_counter() - t
                self.cpu[label] = self.cpu.get(label, 0.0) + time.process_time() - c

        setattr(owner, name, timed)

    def result(self) -> dict:
        return {"stages_wall_s": {k: round(v, 2) for k, v in self.wall.items()},
                "stages_cpu_s": {k: round(v, 2) for k, v in self.cpu.items()}}


def phase_full_stages(path: Path) -> dict:
    """The full recompute (as `phase_full`) with the time of each stage."""
    from metrics import jobs
    from queries import case_sources

    stages = _Stages()
    stages.wrap(case_sources, "attribute_reviews", "review attribution (once)")
    stages.wrap(case_sources.ParquetSource, "slice", "slice reads (incl. attribution)")
    stages.wrap(jobs, "slice_frames", "slice computation")
    stages.wrap(jobs, "_sum", "sums over slices")
    stages.wrap(case_sources.ParquetSource, "cases_of_items", "营商环境 cases read")
    cpu = time.process_time()
    result = phase_full(path)
    return {**result, "cpu_s": round(time.process_time() - cpu, 2), **stages.result()}


def phase_pg_read(url: str, repeat: int) -> dict:
    """Every slice of the full recompute read from PostgreSQL three ways (see the module doc)."""
    import sqlalchemy as sa

    from metrics.jobs import FULL_RECOMPUTE_SLICE_MONTHS, JOB_CASE_COLUMNS
    from queries import inputs, schema
    from queries.case_sources import REVIEW_JOB_COLUMNS, DatabaseSource, plan_slices

    engine = sa.create_engine(url)
    source = DatabaseSource(engine, JOB_CASE_COLUMNS)
    plan = plan_slices(*source.key_month_bounds(), FULL_RECOMPUTE_SLICE_MONTHS)
    c, r, su = schema.cases, schema.reviews, schema.suspensions
    statements = []
    for s in plan:
        inside = source._in_slice(c.c, s)
        statements += [
            ("cases", sa.select(*(c.c[n] for n in JOB_CASE_COLUMNS)).where(inside)),
            ("suspensions", sa.select(*su.c).join(c, c.c.case_id == su.c.case_id).where(inside)),
            ("reviews", sa.select(*(r.c[n] for n in REVIEW_JOB_COLUMNS))
             .join(c, c.c.case_id == r.c.case_id).where(inside)),
        ]
    libpq = inputs._libpq_url(engine)

    def connectorx(table: str, stmt: sa.Select) -> pl.DataFrame:
        import connectorx as cx

        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        return pl.from_arrow(cx.read_sql(libpq, sql, return_type="arrow"))

    ways = {
        "COPY csv": lambda t, st: inputs.read_select(engine, st, t, method="copy"),
        "ADBC": lambda t, st: inputs.read_select(engine, st, t, method="adbc"),
        "connectorx": connectorx,
    }
    out: dict[str, list] = {w: [] for w in ways}
    names = list(ways)
    for rep in range(repeat):
        for way in names[rep % len(names):] + names[: rep % len(names)]:
            t, cpu, rows = time.perf_counter(), time.process_time(), 0
            try:
                for table, stmt in statements:
                    rows += ways[way](table, stmt).height
            except ImportError as exc:
                out[way].append({"error": str(exc)})
                continue
            out[way].append({"wall_s": round(time.perf_counter() - t, 2),
                             "client_cpu_s": round(time.process_time() - cpu, 2), "rows": rows})
    engine.dispose()
    return {"slices": len(plan), "runs": out}


def phase_pg_job(url: str, copy_format: str) -> dict:
    """`xiaoneng compute --all` on the database, in process, with its stages timed."""
    from metrics import jobs
    from queries import case_sources, facts_store
    from queries.engine import make_engine

    facts_store.COPY_FORMAT = copy_format
    stages = _Stages()
    stages.wrap(case_sources.DatabaseSource, "slice", "slice reads (background thread)")
    stages.wrap(jobs, "slice_frames", "slice computation")
    stages.wrap(case_sources.DatabaseSource, "cases_of_items", "营商环境 cases read")
    stages.wrap(facts_store, "_insert", "fact COPY")
    stages.wrap(facts_store, "analyze", "VACUUM ANALYZE of the facts")
    stages.wrap(facts_store, "replace_months", "write transaction (incl. COPY, ANALYZE)")
    engine = make_engine(url)
    t, cpu = time.perf_counter(), time.process_time()
    result = jobs.run_compute(engine, None, as_of=AS_OF)
    wall = time.perf_counter() - t
    engine.dispose()
    return {"wall_s": round(wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_gb": _rss_gb(), "copy_format": copy_format, "written": result.written,
            **stages.result()}


# --- the representative subset, four ways ------------------------------------------------------

SUBSET_SQL = """
WITH c AS (
  SELECT case_id, agency_code, channel, statutory_days, promised_days, limit_unit,
         CAST(accepted_at AS DATE) AS a, CAST(completed_at AS DATE) AS e,
         CAST(date_trunc('month', accepted_at) AS DATE) AS acc_month,
         CAST(date_trunc('month', completed_at) AS DATE) AS comp_month
  FROM cases WHERE accepted_at IS NOT NULL AND status NOT IN ('not_accepted', 'withdrawn')
),
s AS (
  SELECT su.case_id,
         SUM(GREATEST(0,
             LEAST(CASE WHEN c.limit_unit = 'natural' THEN ct.ord_nat ELSE ct.ord END,
                   CASE WHEN c.limit_unit = 'natural' THEN cs.ord_nat ELSE cs.ord END
                     + COALESCE(su.approved_days, 1000000),
                   CASE WHEN c.limit_unit = 'natural' THEN ce.ord_nat ELSE ce.ord END)
           - GREATEST(CASE WHEN c.limit_unit = 'natural' THEN cs.ord_nat ELSE cs.ord END,
                      CASE WHEN c.limit_unit = 'natural' THEN ca.ord_nat ELSE ca.ord END))) AS susp
  FROM suspensions su
  JOIN c ON c.case_id = su.case_id AND c.e IS NOT NULL
  JOIN cal cs ON cs.date = CAST(su.started_at AS DATE)
  JOIN cal ct ON ct.date = CAST(COALESCE(su.ended_at, c.e) AS DATE)
  JOIN cal ca ON ca.date = c.a
  JOIN cal ce ON ce.date = c.e
  GROUP BY su.case_id
),
done AS (
  SELECT c.comp_month AS month, c.agency_code, c.statutory_days,
         COALESCE(c.promised_days, c.statutory_days) AS deadline,
         (CASE WHEN c.limit_unit = 'natural' THEN ce.ord_nat - ca.ord_nat ELSE ce.ord - ca.ord END)
           - COALESCE(s.susp, 0) AS used
  FROM c JOIN cal ca ON ca.date = c.a JOIN cal ce ON ce.date = c.e
  LEFT JOIN s ON s.case_id = c.case_id
  WHERE c.e IS NOT NULL
),
comp AS (
  SELECT month, agency_code,
         SUM(CASE WHEN deadline IS NOT NULL AND used <= deadline THEN 1 ELSE 0 END) AS on_time,
         SUM(CASE WHEN deadline IS NOT NULL THEN 1 ELSE 0 END) AS with_deadline,
         SUM(CASE WHEN statutory_days > 0 THEN statutory_days - used ELSE 0 END) AS spd_gap,
         SUM(CASE WHEN statutory_days > 0 THEN statutory_days ELSE 0 END) AS spd_stat
  FROM done GROUP BY month, agency_code
),
intake AS (
  SELECT acc_month AS month, agency_code, COUNT(*) AS accepted,
         SUM(CASE WHEN channel IN ('online', 'mobile') THEN 1 ELSE 0 END) AS online
  FROM cases_acc GROUP BY acc_month, agency_code
)
SELECT COALESCE(comp.month, intake.month) AS month,
       COALESCE(comp.agency_code, intake.agency_code) AS agency_code,
       on_time * 1.0 / NULLIF(with_deadline, 0) AS on_time_rate,
       spd_gap * 1.0 / NULLIF(spd_stat, 0) AS statutory_speedup_rate,
       online * 1.0 / NULLIF(accepted, 0) AS online_rate
FROM comp FULL OUTER JOIN intake
  ON comp.month = intake.month AND comp.agency_code = intake.agency_code
"""
CASES_ACC = ("CREATE {temp} VIEW cases_acc AS SELECT agency_code, channel, "
             "CAST(date_trunc('month', accepted_at) AS DATE) AS acc_month FROM cases "
             "WHERE accepted_at IS NOT NULL")


def _cal_frame() -> pl.DataFrame:
    return _calendar().index.select("date", "ord", "ord_nat")


def subset_polars(t: dict[str, pl.DataFrame]) -> float:
    """The subset with our library: the full clock (merged suspensions), no card dates."""
    from metrics.case_measures import month_of
    from metrics.clock import add_clock, clock_rows_for_cases

    cal, online = _calendar(), ["online", "mobile"]
    start = time.perf_counter()
    cases = t["cases"].lazy()
    done = clock_rows_for_cases(cases, AS_OF.date()).filter(
        pl.col("completed_at").is_not_null() & (pl.col("completed_at") <= AS_OF))
    clocked = add_clock(done, t["suspensions"].lazy(), cal, with_card_dates=False)
    stat, has = pl.col("statutory_days"), pl.col("deadline_days").is_not_null()
    comp = clocked.group_by(month_of("completed_at").alias("month"), "agency_code").agg(
        (has & pl.col("on_time")).sum().alias("on_time"), has.sum().alias("with_deadline"),
        pl.when(stat > 0).then(stat - pl.col("used_wd")).otherwise(0).sum().alias("gap"),
        pl.when(stat > 0).then(stat).otherwise(0).sum().alias("stat"))
    intake = cases.filter(pl.col("accepted_at").is_not_null()).group_by(
        month_of("accepted_at").alias("month"), "agency_code").agg(
        pl.len().alias("accepted"), pl.col("channel").is_in(online).sum().alias("online"))
    out = comp.join(intake, on=["month", "agency_code"], how="full", coalesce=True).select(
        "month", "agency_code",
        (pl.col("on_time") / pl.col("with_deadline")).alias("on_time_rate"),
        (pl.col("gap") / pl.col("stat")).alias("statutory_speedup_rate"),
        (pl.col("online") / pl.col("accepted")).alias("online_rate"),
    ).collect()
    assert out.height > 0
    return time.perf_counter() - start


def subset_duckdb(t: dict[str, pl.DataFrame]) -> float:
    import duckdb

    con = duckdb.connect()
    con.register("cases", t["cases"].to_arrow())
    con.register("suspensions", t["suspensions"].to_arrow())
    con.register("cal", _cal_frame().to_arrow())
    con.execute(CASES_ACC.format(temp="TEMP"))
    start = time.perf_counter()
    rows = con.execute(SUBSET_SQL).fetchall()
    assert rows
    return time.perf_counter() - start


def subset_pandas(t: dict[str, pl.DataFrame]) -> float:
    import pandas as pd

    cases = t["cases"].to_pandas()
    susp = t["suspensions"].to_pandas()
    cal = _cal_frame().to_pandas()
    start = time.perf_counter()
    c = cases[cases["accepted_at"].notna() & ~cases["status"].isin(["not_accepted", "withdrawn"])]
    c = c.assign(a=c["accepted_at"].dt.normalize(), e=c["completed_at"].dt.normalize())
    calw = cal.assign(date=pd.to_datetime(cal["date"])).set_index("date")
    nat = c["limit_unit"].eq("natural")

    def ords(col: pd.Series, natural: pd.Series) -> pd.Series:
        looked = calw.reindex(col.values)
        return pd.Series(looked["ord_nat"].where(natural.values, looked["ord"]).values,
                         index=col.index)

    done = c[c["e"].notna()].copy()
    nd = nat[done.index]
    done["oa"], done["oe"] = ords(done["a"], nd), ords(done["e"], nd)
    s = susp.merge(done[["case_id", "e", "oa", "oe", "limit_unit"]], on="case_id")
    sn = s["limit_unit"].eq("natural")
    s["os"] = ords(s["started_at"].dt.normalize(), sn)
    s["ot"] = ords(s["ended_at"].fillna(s["e"]).dt.normalize(), sn)
    hi = s[["ot", "oe"]].min(axis=1)
    hi = hi.where(s["approved_days"].isna(), pd.concat([hi, s["os"] + s["approved_days"]],
                                                       axis=1).min(axis=1))
    s["susp"] = (hi - s[["os", "oa"]].max(axis=1)).clip(lower=0)
    done = done.merge(s.groupby("case_id")["susp"].sum(), left_on="case_id", right_index=True,
                      how="left")
    done["used"] = done["oe"] - done["oa"] - done["susp"].fillna(0)
    done["deadline"] = done["promised_days"].fillna(done["statutory_days"])
    done["month"] = done["completed_at"].dt.to_period("M")
    has = done["deadline"].notna()
    pos = done["statutory_days"] > 0
    done = done.assign(on_time=(has & (done["used"] <= done["deadline"])).astype(int),
                       with_deadline=has.astype(int),
                       gap=(done["statutory_days"] - done["used"]).where(pos, 0),
                       stat=done["statutory_days"].where(pos, 0))
    comp = done.groupby(["month", "agency_code"])[["on_time", "with_deadline", "gap", "stat"]].sum()
    acc = cases[cases["accepted_at"].notna()]
    intake = acc.assign(month=acc["accepted_at"].dt.to_period("M"),
                        online=acc["channel"].isin(["online", "mobile"]).astype(int)).groupby(
        ["month", "agency_code"]).agg(accepted=("case_id", "size"), online=("online", "sum"))
    out = comp.join(intake, how="outer")
    out = out.assign(on_time_rate=out["on_time"] / out["with_deadline"],
                     speedup=out["gap"] / out["stat"], online_rate=out["online"] / out["accepted"])
    assert len(out)
    return time.perf_counter() - start


def subset_postgres(t: dict[str, pl.DataFrame], url: str) -> float:
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = "xiaoneng_bench"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(sa.engine.make_url(url).set(database=name))
    try:
        raw = engine.raw_connection()
        with raw.cursor() as cur:
            # the cases table with only the subset's columns (the rest of the contract's
            # NOT NULL columns are not read by the subset, nor loaded)
            cases_ddl = ("case_id text PRIMARY KEY, agency_code text, channel text, "
                         "statutory_days int, promised_days int, limit_unit text, "
                         "accepted_at timestamp, completed_at timestamp, status text")
            for table, df, ddl in (
                ("cases", t["cases"].select(SUBSET_CASE_COLUMNS), cases_ddl),
                ("suspensions", t["suspensions"], None),
                ("cal", _cal_frame(), "date date, ord int, ord_nat int"),
            ):
                if ddl is None:
                    from queries.schema import metadata

                    metadata.tables[table].create(engine)
                else:
                    cur.execute(f"CREATE TABLE {table} ({ddl})")
                buf = io.BytesIO()
                df.write_csv(buf, include_header=False, null_value="\\N")
                buf.seek(0)
                cur.copy_expert(f"COPY {table} ({', '.join(df.columns)}) FROM STDIN "
                                "WITH (FORMAT csv, NULL '\\N')", buf)
            cur.execute("CREATE INDEX ON cal (date)")
            cur.execute(CASES_ACC.format(temp=""))
            cur.execute("ANALYZE")
        raw.commit()
        start = time.perf_counter()
        with raw.cursor() as cur:
            cur.execute(SUBSET_SQL)
            assert cur.fetchall()
        wall = time.perf_counter() - start
        raw.close()
        return wall
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


def _in_subprocess(phase: str, path: Path, postgres: str = "") -> dict | None:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--path", str(path),
                          "--postgres", postgres], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{phase}: failed (exit {out.returncode}): {out.stderr.strip()[-300:]}",
              file=sys.stderr, flush=True)
        return None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{phase}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=20_000_000)
    p.add_argument("--data", type=Path, default=ROOT / "data" / "bench")
    p.add_argument("--postgres", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--phase", choices=["full", "incremental", "pg-read", "pg-job",
                                        *(f"subset-{w}" for w in SUBSETS)])
    p.add_argument("--path", type=Path)
    p.add_argument("--stages", action="store_true", help="--phase full: time each stage")
    p.add_argument("--database", help="pg-read / pg-job: SQLAlchemy URL of a PostgreSQL "
                   "database holding the data set")
    p.add_argument("--repeat", type=int, default=3, help="pg-read: repetitions per way")
    p.add_argument("--copy-format", choices=["binary", "csv"], default="csv")
    args = p.parse_args()
    if args.phase in ("pg-read", "pg-job"):
        if not args.database:
            p.error(f"--phase {args.phase} needs --database URL")
        result = phase_pg_read(args.database, args.repeat) if args.phase == "pg-read" else \
            phase_pg_job(args.database, args.copy_format)
        print(json.dumps(result, ensure_ascii=False))
        return
    if args.phase == "full" and args.stages:
        print(json.dumps(phase_full_stages(args.path or ensure_data(args.cases, args.data)),
                         ensure_ascii=False))
        return
    if args.phase:
        if args.phase.startswith("subset-"):
            result = phase_subset(args.phase.removeprefix("subset-"), args.path, args.postgres)
        else:
            result = phase_full(args.path) if args.phase == "full" else \
                phase_incremental(args.path)
        print(json.dumps(result))
        return
    path = ensure_data(args.cases, args.data)
    counts = {n: pl.scan_parquet(path / f"{n}.parquet").select(pl.len()).collect().item()
              for n in ("suspensions", "reviews")}
    full = _in_subprocess("full", path)
    inc = _in_subprocess("incremental", path)
    ways = [w for w in SUBSETS if not (w == "postgres" and args.skip_postgres)]
    sub = {w: _in_subprocess(f"subset-{w}", path, args.postgres) for w in ways}
    ours = (sub.get("polars") or {}).get("wall_s")
    def wall(r: dict | None) -> str:
        return f"{r['wall_s']:.1f} s" if r else "failed"

    def rss(r: dict | None) -> str:
        return f"{r['peak_rss_gb']:.1f} GB" if r else "—"

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; {args.cases:,} cases, "
          f"{counts['suspensions']:,} suspensions, {counts['reviews']:,} reviews")
    print("\n| what | wall | peak RSS | note |\n|---|---|---|---|")
    print(f"| full recompute, all families, {FIRST:%Y-%m}..{LAST:%Y-%m} | {wall(full)} "
          f"| {rss(full)} | target < 30 s, < 6 GB (20M) |")
    window = f"{inc['window_cases']:,}" if inc else "?"
    print(f"| one month incremental ({INCREMENTAL_MONTH:%Y-%m}, {window} cases in "
          f"window) | {wall(inc)} | {rss(inc)} | target < 3 s |")
    print("\n| subset: on-time, speed-up, online share by month × agency | wall | peak RSS "
          "| ours is |\n|---|---|---|---|")
    names = {"polars": "xiaoneng (Polars, library clock, merged suspensions)",
             "duckdb": "DuckDB SQL", "pandas": "pandas", "postgres": "PostgreSQL SQL"}
    for w in ways:
        r = sub[w]
        ratio = "—" if w == "polars" or not (r and ours) else f"{r['wall_s'] / ours:.1f}× faster"
        print(f"| {names[w]} | {r['wall_s']:.2f} s | {rss(r)} | {ratio} |" if r
              else f"| {names[w]} | failed | — | — |")


if __name__ == "__main__":
    main()
