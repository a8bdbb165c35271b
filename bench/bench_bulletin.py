"""Benchmark the monthly bulletin: building it from the facts, then rendering each format.

A script, not a test. Runs against DATABASE_URL (facts must be computed for the month):

    DATABASE_URL=postgresql+psycopg2://… .venv/bin/python bench/bench_bulletin.py --month 2026-09

Prints the wall time of `build_bulletin` (all the queries and the ranking, with the 统计检验 of
the criticism unless `--no-stats`) and of each renderer separately, best of `--repeat` runs (the
first run includes imports, chart drawing and cold caches, also shown; a one-shot `xiaoneng
report` pays the first-run figures), the statistics check alone, the size of the data and the
load average before and after — the machine is shared, so a figure means little without it.
The target (issue 5) is under 10 s for the city bulletin of one month of 20 million cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--scope", default="city")
    parser.add_argument("--period", default="month", choices=("month", "quarter", "year"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="docx,xlsx,pdf")
    parser.add_argument("--no-stats", action="store_true",
                        help="build without the 统计检验 of the criticism (BulletinRules)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    import sqlalchemy as sa

    from metrics.bulletin import BulletinRules, build_bulletin, parse_scope, period_bounds
    from metrics.bulletin.build import _region_units
    from metrics.bulletin.stats_check import check
    from metrics.settings import Settings
    from queries import extracts
    from queries.engine import check_connection, make_engine
    from queries.extracts import add_months
    from reports import render

    engine = make_engine()
    check_connection(engine)
    month = dt.datetime.strptime(args.month, "%Y-%m").date()
    scope = parse_scope(engine, args.scope)
    rules = dataclasses.replace(BulletinRules.from_settings(Settings()),
                                stats_check=not args.no_stats)
    formats = [f for f in args.formats.split(",") if f]
    times: dict[str, list[float]] = {"build": [], **{f: [] for f in formats}, "stats": []}
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        b = build_bulletin(engine, month, scope, rules=rules, period=args.period)
        times["build"].append(time.perf_counter() - t0)
        for fmt in formats:
            t0 = time.perf_counter()
            render(b, [fmt])
            times[fmt].append(time.perf_counter() - t0)
        t0 = time.perf_counter()  # the statistics check alone (inside build when enabled):
        # this period and the one before (for the 约谈 rule), one read of the fact cells
        check(engine, [period_bounds(month, args.period),
                       period_bounds(add_months(period_bounds(month, args.period)[0], -1),
                                     args.period)],
              _region_units(extracts.load_regions(engine), scope))
        times["stats"].append(time.perf_counter() - t0)
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        cases = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
        facts = conn.execute(sa.text("SELECT count(*) FROM case_facts WHERE month = :m"),
                             {"m": month}).scalar_one()
    print(f"bulletin {scope.key} {args.month} ({args.period}) on {url}: {cases:,} cases, "
          f"{facts:,} case_facts rows in the month; 统计检验 {'off' if args.no_stats else 'on'}; "
          f"{len(b.tables)} tables, {b.content_hash[:12]}")
    print(f"  step   best of {len(times['build'])}  (first run)")
    total_best = total_first = 0.0
    for step, ts in times.items():
        if step == "stats":
            continue
        print(f"  {step:<6} {min(ts):6.2f} s   ({ts[0]:.2f} s)")
        total_best += min(ts)
        total_first += ts[0]
    print(f"  total  {total_best:6.2f} s   ({total_first:.2f} s)")
    print(f"  of which 统计检验 alone {min(times['stats']):.2f} s ({times['stats'][0]:.2f} s), "
          "run concurrently with the build's other reads")
    after = os.getloadavg()
    print(f"  load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
