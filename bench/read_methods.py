"""Scratch: read one slice of cases, suspensions and reviews from PostgreSQL three ways."""
import sys, time
import polars as pl
import sqlalchemy as sa
from queries import schema, inputs
from queries.case_sources import DatabaseSource, plan_slices

url = sys.argv[1]
eng = sa.create_engine(url)
src = DatabaseSource(eng)
plan = plan_slices(*src.key_month_bounds(), 6)
c, r, su = schema.cases, schema.reviews, schema.suspensions
in_slice = src._in_slice(c.c, plan[2])
stmts = {
    "cases": sa.select(*c.c).where(in_slice),
    "suspensions": sa.select(*su.c).join(c, c.c.case_id == su.c.case_id).where(in_slice),
    "reviews": sa.select(*r.c).join(c, c.c.case_id == r.c.case_id).where(in_slice),
}
sqls = {k: str(v.compile(eng, compile_kwargs={"literal_binds": True})) for k, v in stmts.items()}
libpq = url.replace("postgresql+psycopg2://", "postgresql://")

def copy_csv(name):
    return inputs.read_select(eng, stmts[name], name)

def adbc(name):
    import adbc_driver_postgresql.dbapi as ad
    with ad.connect(libpq) as conn, conn.cursor() as cur:
        cur.execute(sqls[name])
        return pl.from_arrow(cur.fetch_arrow_table())

def cx(name):
    import connectorx
    return pl.from_arrow(connectorx.read_sql(libpq, sqls[name], return_type="arrow"))

for rep in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2):
    for way, f in (("COPY csv", copy_csv), ("ADBC", adbc), ("connectorx", cx)):
        t = time.perf_counter(); cpu = time.process_time(); n = 0
        for name in stmts:
            n += f(name).height
        print(f"{way:12s} rows {n:,} wall {time.perf_counter() - t:6.2f}s client cpu {time.process_time() - cpu:6.2f}s", flush=True)
